-- Evidence that holds in a dispute (DESIGN.md §12). Each audit entry's `data` becomes its
-- canonical JSON with `prev` and `hash`; `hash` is also a column, for the chain's head. The
-- entries already stored are linked by the server after this migration (a JSON canonical form
-- and SHA-256 are not SQL), as are sign-offs and seals for what was accepted or finished before.
ALTER TABLE audit ADD COLUMN hash TEXT;

-- The server's Ed25519 evidence keys. Only the current key keeps its secret; a rotated key
-- keeps its public half so that what it signed still verifies.
CREATE TABLE evidence_keys (
    key_id     TEXT PRIMARY KEY,
    public_key TEXT NOT NULL,
    secret     TEXT,
    created_ms BIGINT NOT NULL,
    retired_ms BIGINT
);

-- A supervisor's acceptance of a fix, signed over the trail's head at that moment.
CREATE TABLE signoffs (
    seq       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    issue_id  TEXT NOT NULL REFERENCES issues (id),
    audit_id  TEXT NOT NULL UNIQUE,
    signed    TEXT NOT NULL,            -- the signed claim, canonical JSON
    signature TEXT NOT NULL,
    key_id    TEXT NOT NULL
);
CREATE INDEX signoffs_by_issue ON signoffs (issue_id, seq);

-- A finished round, sealed: the hash of each of its records and a signature over their list.
CREATE TABLE seals (
    sealed_seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id     TEXT NOT NULL UNIQUE,
    site_id    TEXT NOT NULL,
    signed     TEXT NOT NULL,           -- the signed claim, canonical JSON
    signature  TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    records    TEXT NOT NULL            -- [{table, id, hash}], whose JCS hash the claim carries
);
