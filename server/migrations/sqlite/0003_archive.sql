-- Server schema v3 (SQLite): the monthly archive (DESIGN.md §8). Each month of a site whose
-- report files were written to the blob store, with how much of its patrol records those files
-- hold and how much was purged since: records are purged only while the month's stored records
-- plus the purged ones are what the archive holds. Rounds are found by site and start time.

CREATE TABLE archive_months (
    site_id        TEXT NOT NULL REFERENCES sites (id),
    month          TEXT NOT NULL,             -- YYYY-MM in the site's time zone
    from_ms        INTEGER NOT NULL,          -- its first instant
    to_ms          INTEGER NOT NULL,          -- the first instant after it
    version        INTEGER NOT NULL,
    runs           INTEGER NOT NULL,          -- what the latest version's files hold
    visits         INTEGER NOT NULL,
    results        INTEGER NOT NULL,
    chars          INTEGER NOT NULL,
    purged_runs    INTEGER NOT NULL DEFAULT 0, -- purged since that version was written
    purged_visits  INTEGER NOT NULL DEFAULT 0,
    purged_results INTEGER NOT NULL DEFAULT 0,
    purged_chars   INTEGER NOT NULL DEFAULT 0,
    archived_at_ms INTEGER NOT NULL,
    PRIMARY KEY (site_id, month)
) STRICT;

CREATE TABLE archive_files (
    site_id       TEXT NOT NULL,
    month         TEXT NOT NULL,
    name          TEXT NOT NULL,              -- under archive/<SITE CODE>/<YYYY-MM>/
    bytes         INTEGER NOT NULL,
    sha256        TEXT NOT NULL,
    written_at_ms INTEGER NOT NULL,
    PRIMARY KEY (site_id, month, name),
    FOREIGN KEY (site_id, month) REFERENCES archive_months (site_id, month)
) STRICT;

CREATE INDEX runs_by_site_start ON runs (site_id, started_at_ms);
