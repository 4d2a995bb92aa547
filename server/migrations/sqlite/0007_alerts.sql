-- Alerts (DESIGN.md §11): facts that need a person — an urgent or a major issue, an issue past
-- its due time, a scheduled round not started within its grace, a round finished with
-- checkpoints missed or flagged. Each is raised once: `once_key` (the kind with its issue, its
-- route and scheduled instant, or its round) is unique, so a pass repeated, run again after a
-- restart or by a second server process on the same database raises nothing twice. Each keeps
-- its `id` for good, for the deliveries to channels that will refer to it. `data` is the alert
-- as pulled; the columns beside it are what the console and the passes search by.
CREATE TABLE alerts (
    id           TEXT PRIMARY KEY,
    once_key     TEXT NOT NULL UNIQUE,
    site_id      TEXT NOT NULL REFERENCES sites (id),
    kind         TEXT NOT NULL,
    issue_id     TEXT,
    route_id     TEXT,
    run_id       TEXT,
    raised_at_ms INTEGER NOT NULL,
    acked_by     TEXT,
    acked_at_ms  INTEGER,
    data         TEXT NOT NULL
) STRICT;
CREATE INDEX alerts_open ON alerts (site_id, acked_at_ms, raised_at_ms);
