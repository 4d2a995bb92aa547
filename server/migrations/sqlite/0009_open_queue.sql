-- The queue reads open issues only (overdue, due soon, a team's or a technician's jobs), in
-- due order; after years almost every issue of a site is closed. A partial index over the
-- open ones keeps those queries to the open issues whatever the history holds (issue 14:
-- queue queries over 10 million issues).
CREATE INDEX issues_open_queue ON issues (site_id, due_at_ms, id) WHERE status <> 'closed';
