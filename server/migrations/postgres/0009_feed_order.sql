-- Writers of different sites commit concurrently, so `seq` is no longer the commit order: each
-- change carries the id of the transaction that wrote it, and pulls hand changes out in the
-- order of (tx, seq), only once every older transaction has ended (`pg_snapshot_xmin`).
ALTER TABLE changes ADD COLUMN tx xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX changes_feed ON changes (tx, seq);
