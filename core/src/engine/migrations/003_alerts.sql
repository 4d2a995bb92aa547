-- Device schema v3: alerts pulled from the server (DESIGN.md §11), kept so that the person sees
-- and acknowledges them offline; an acknowledgement waits in the outbox as an `alert.ack` op.

CREATE TABLE alerts (
    id           TEXT PRIMARY KEY,
    site_id      TEXT NOT NULL,
    raised_at_ms INTEGER NOT NULL,
    open         INTEGER NOT NULL,
    data         TEXT NOT NULL
) STRICT;
CREATE INDEX alerts_open ON alerts (open, raised_at_ms);
