-- Server schema v2 (SQLite): what an uploaded blob is, from its header (a photo must be a JPEG of
-- at most 1600 px, a signature a PNG or JPEG of at most 2000 px; blobs stored before this know
-- neither), and who an issue was assigned to when it changed (technicians see their team's jobs
-- and those assigned to them). Results are looked up by visit.

ALTER TABLE blobs ADD COLUMN kind TEXT;
ALTER TABLE blobs ADD COLUMN width INTEGER;
ALTER TABLE blobs ADD COLUMN height INTEGER;

ALTER TABLE changes ADD COLUMN assignee_id TEXT;

CREATE INDEX visits_by_run ON visits (run_id, at_ms);
CREATE INDEX results_by_visit ON results (visit_id, item_key);
CREATE INDEX issues_by_due ON issues (due_at_ms, id);
