-- Server schema v4 (PostgreSQL): web console sessions. The browser holds a random token in an
-- HttpOnly cookie; the server keeps its SHA-256, the form token that every POST must carry, the
-- device the session's actions are ops of, and when it ends (an idle limit, an absolute limit, or
-- a sign-out).

CREATE TABLE console_sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id),
    csrf        TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    seen_ms     BIGINT NOT NULL,
    expires_ms  BIGINT NOT NULL,
    ended       BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX console_sessions_user ON console_sessions (user_id);

-- The queue filters by severity; issues stored before kept it in their JSON only.
ALTER TABLE issues ADD COLUMN severity TEXT;
UPDATE issues SET severity = CAST(data AS JSON) ->> 'severity';

-- Customer service sees every front-desk report, to call the resident back.
ALTER TABLE issues ADD COLUMN source TEXT;
UPDATE issues SET source = CAST(data AS JSON) ->> 'source';
ALTER TABLE changes ADD COLUMN source TEXT;
