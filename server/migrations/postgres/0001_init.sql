-- Server schema v1 (PostgreSQL), the same tables as the SQLite schema. Entities keep their JSON whole in `data`; columns exist for
-- lookups, filters and the queue's ordering. Times used for ordering are Unix milliseconds.

CREATE TABLE server_secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE sites (
    id         TEXT PRIMARY KEY,
    code       TEXT NOT NULL UNIQUE,
    signing_key TEXT NOT NULL,              -- label secret, base64url; never leaves the server
    data       TEXT NOT NULL
);

CREATE TABLE zones (
    id      TEXT PRIMARY KEY,
    site_id TEXT NOT NULL REFERENCES sites (id),
    data    TEXT NOT NULL
);

CREATE TABLE checkpoints (
    id      TEXT PRIMARY KEY,
    site_id TEXT NOT NULL REFERENCES sites (id),
    zone_id TEXT NOT NULL REFERENCES zones (id),
    data    TEXT NOT NULL
);

CREATE TABLE routes (
    id      TEXT PRIMARY KEY,
    site_id TEXT NOT NULL REFERENCES sites (id),
    data    TEXT NOT NULL
);

CREATE TABLE templates (
    id        TEXT PRIMARY KEY,
    zone_kind TEXT NOT NULL,
    version   BIGINT NOT NULL,
    data      TEXT NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL,
    team          TEXT,
    data          TEXT NOT NULL
);

CREATE TABLE user_sites (
    user_id TEXT NOT NULL REFERENCES users (id),
    site_id TEXT NOT NULL REFERENCES sites (id),
    PRIMARY KEY (user_id, site_id)
);

-- Opaque refresh tokens, stored as SHA-256; `used_at` set when rotated.
CREATE TABLE refresh_tokens (
    token_hash    TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id),
    expires_at_ms BIGINT NOT NULL,
    used_at_ms    BIGINT,
    revoked       BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE devices (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL,
    last_seq        BIGINT NOT NULL DEFAULT 0,
    clock_offset_ms BIGINT NOT NULL DEFAULT 0,
    last_seen_ms    BIGINT NOT NULL
);

-- Every op ever applied (or refused for good), so a repeat is answered without effect.
CREATE TABLE ops (
    op_id         TEXT PRIMARY KEY,
    device_id     TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    kind          TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    device_at     TEXT NOT NULL,
    server_at_ms  BIGINT NOT NULL,
    status        TEXT NOT NULL,
    code          TEXT,
    message       TEXT
);

CREATE TABLE issues (
    id           TEXT PRIMARY KEY,
    site_id      TEXT NOT NULL REFERENCES sites (id),
    team         TEXT NOT NULL,
    status       TEXT NOT NULL,
    assignee_id  TEXT,
    due_at_ms    BIGINT NOT NULL,
    data         TEXT NOT NULL
);
CREATE INDEX issues_queue ON issues (site_id, status, due_at_ms);

CREATE TABLE audit (
    seq      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id       TEXT NOT NULL UNIQUE,
    issue_id TEXT NOT NULL REFERENCES issues (id),
    data     TEXT NOT NULL
);
CREATE INDEX audit_by_issue ON audit (issue_id, seq);

CREATE TABLE runs (
    id            TEXT PRIMARY KEY,
    site_id       TEXT NOT NULL,
    route_id      TEXT NOT NULL,
    patroller_id  TEXT NOT NULL,
    started_at_ms BIGINT NOT NULL,
    data          TEXT NOT NULL
);

CREATE TABLE visits (
    id            TEXT PRIMARY KEY,
    run_id        TEXT NOT NULL REFERENCES runs (id),
    checkpoint_id TEXT NOT NULL,
    at_ms         BIGINT NOT NULL,
    data          TEXT NOT NULL
);

CREATE TABLE results (
    id       TEXT PRIMARY KEY,
    visit_id TEXT NOT NULL REFERENCES visits (id),
    item_key TEXT NOT NULL,
    data     TEXT NOT NULL
);

CREATE TABLE blobs (
    sha256     TEXT PRIMARY KEY,
    bytes      BIGINT NOT NULL,
    created_ms BIGINT NOT NULL
);

-- The change feed devices pull: one row per write of a visible entity, in commit order.
CREATE TABLE changes (
    seq       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity    TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    site_id   TEXT,
    team      TEXT
);
CREATE INDEX changes_entity ON changes (entity, entity_id);
