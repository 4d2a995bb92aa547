-- Device schema v4: a visit's answers kept in one B-tree keyed by (visit, item), as they are
-- read and replaced, instead of a rowid table with two indexes beside it. Recording an answer
-- then writes one tree where it wrote three (issue 14: a recorded answer against a bare
-- insert). `answered` keeps the order the answers were given (it was the rowid).
CREATE TABLE results_v4 (
    visit_id TEXT NOT NULL REFERENCES visits (id),
    item_key TEXT NOT NULL,
    id       TEXT NOT NULL,
    answered INTEGER NOT NULL,
    outcome  TEXT NOT NULL,
    data     TEXT NOT NULL,
    PRIMARY KEY (visit_id, item_key)
) STRICT, WITHOUT ROWID;
INSERT INTO results_v4 (visit_id, item_key, id, answered, outcome, data)
    SELECT visit_id, item_key, id, rowid, outcome, data FROM results;
DROP TABLE results;
ALTER TABLE results_v4 RENAME TO results;
