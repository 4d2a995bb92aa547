-- The open-queue index, now also holding what the queue's filters and counts read besides the
-- due order: the team, the assignee, the source and the status. The console's counts by team
-- and a technician's jobs (their team's, or assigned to them) then read the index alone (an
-- index-only scan where the table's pages are all-visible), not a table row per open issue: at
-- 10 million issues with about two thousand open at a site, the counts took 11 ms (p50, SQLite)
-- reading the rows (issue 14).
DROP INDEX IF EXISTS issues_open_queue;
CREATE INDEX issues_open_queue ON issues (site_id, due_at_ms, id) INCLUDE (team, assignee_id, source, status)
    WHERE status <> 'closed';
