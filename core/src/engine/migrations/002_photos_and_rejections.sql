-- Device schema v2: the photo upload queue, and ops the server refused for good (shown to the
-- person, never retried).

CREATE TABLE photos (
    id            TEXT PRIMARY KEY,          -- SHA-256 hex of the normalised JPEG
    bytes         INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL,
    uploaded      INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX photos_pending ON photos (uploaded, created_at_ms);

-- SQLite cannot alter a CHECK constraint; rebuild the outbox with the 'rejected' state.
CREATE TABLE outbox_v2 (
    seq     INTEGER PRIMARY KEY,
    op_id   TEXT NOT NULL UNIQUE,
    kind    TEXT NOT NULL,
    at      TEXT NOT NULL,
    body    TEXT NOT NULL,
    state   TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'acked', 'rejected')),
    code    TEXT,
    message TEXT
) STRICT;
INSERT INTO outbox_v2 (seq, op_id, kind, at, body, state)
    SELECT seq, op_id, kind, at, body, state FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v2 RENAME TO outbox;
CREATE INDEX outbox_pending ON outbox (state, seq);
