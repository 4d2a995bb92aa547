-- Device schema v1: reference data pulled from the server, the patrol records made here, and
-- the outbox of operations waiting to be pushed. Reference rows keep the server's JSON whole
-- (`data`) so fields added by a newer server survive; columns exist only for lookups.
-- Times used for ordering are integer milliseconds since the Unix epoch.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE sites (
    id   TEXT PRIMARY KEY,
    data TEXT NOT NULL
) STRICT;

CREATE TABLE zones (
    id      TEXT PRIMARY KEY,
    site_id TEXT NOT NULL,
    data    TEXT NOT NULL
) STRICT;

CREATE TABLE checkpoints (
    id      TEXT PRIMARY KEY,
    site_id TEXT NOT NULL,
    zone_id TEXT NOT NULL,
    data    TEXT NOT NULL
) STRICT;

CREATE TABLE templates (
    id        TEXT PRIMARY KEY,
    zone_kind TEXT NOT NULL,
    version   INTEGER NOT NULL,
    data      TEXT NOT NULL
) STRICT;
CREATE INDEX templates_by_kind ON templates (zone_kind, version);

CREATE TABLE routes (
    id      TEXT PRIMARY KEY,
    site_id TEXT NOT NULL,
    data    TEXT NOT NULL
) STRICT;

CREATE TABLE users (
    id   TEXT PRIMARY KEY,
    data TEXT NOT NULL
) STRICT;

CREATE TABLE issues (
    id        TEXT PRIMARY KEY,
    site_id   TEXT NOT NULL,
    team      TEXT NOT NULL,
    status    TEXT NOT NULL,
    due_at_ms INTEGER NOT NULL,
    data      TEXT NOT NULL
) STRICT;
CREATE INDEX issues_queue ON issues (team, status, due_at_ms);

CREATE TABLE runs (
    id            TEXT PRIMARY KEY,
    route_id      TEXT NOT NULL,
    site_id       TEXT NOT NULL,
    patroller_id  TEXT NOT NULL,
    started_at_ms INTEGER NOT NULL,
    finished      INTEGER NOT NULL DEFAULT 0,
    data          TEXT NOT NULL
) STRICT;

CREATE TABLE visits (
    id            TEXT PRIMARY KEY,
    run_id        TEXT NOT NULL REFERENCES runs (id),
    checkpoint_id TEXT NOT NULL,
    at_ms         INTEGER NOT NULL,
    data          TEXT NOT NULL
) STRICT;
CREATE INDEX visits_by_run ON visits (run_id, at_ms);

CREATE TABLE results (
    id       TEXT PRIMARY KEY,
    visit_id TEXT NOT NULL REFERENCES visits (id),
    item_key TEXT NOT NULL,
    outcome  TEXT NOT NULL,
    data     TEXT NOT NULL,
    UNIQUE (visit_id, item_key)
) STRICT;

-- One row per operation, in the same transaction as the change it records. `seq` has no gaps.
CREATE TABLE outbox (
    seq    INTEGER PRIMARY KEY,
    op_id  TEXT NOT NULL UNIQUE,
    kind   TEXT NOT NULL,
    at     TEXT NOT NULL,
    body   TEXT NOT NULL,
    state  TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'acked'))
) STRICT;
