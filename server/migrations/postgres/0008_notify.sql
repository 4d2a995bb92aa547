-- Alert delivery (DESIGN.md §11): each site's channels (a generic webhook or a WeCom, DingTalk or
-- Feishu group robot) and a durable outbox. A delivery is one alert to one channel, made in the
-- transaction that raises the alert, for the channels whose `events` (comma-separated alert
-- kinds) include it. Its `id` is the delivery id receivers see on every retry; `seq` is the
-- commit order (writers are serialised), the order a channel's deliveries go out in.
--
-- A channel is leased by the process sending on it (`lease_owner` until `lease_until_ms`), so
-- that one delivery of a channel is in flight at a time across server processes, in order; a
-- process killed mid-delivery leaves a lease that runs out. A removed channel is kept (its
-- deliveries' history refers to it), its pending deliveries cancelled.
CREATE TABLE channels (
    id             TEXT PRIMARY KEY,
    site_id        TEXT NOT NULL REFERENCES sites (id),
    kind           TEXT NOT NULL,
    url            TEXT NOT NULL,
    secret         TEXT,
    events         TEXT NOT NULL,
    created_at_ms  BIGINT NOT NULL,
    removed_at_ms  BIGINT,
    lease_owner    TEXT,
    lease_until_ms BIGINT
);
CREATE INDEX channels_site ON channels (site_id, removed_at_ms);
CREATE INDEX channels_url ON channels (url);

-- status: pending | delivered | failed (given up) | cancelled (channel removed).
CREATE TABLE deliveries (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    alert_id      TEXT NOT NULL REFERENCES alerts (id),
    channel_id    TEXT NOT NULL REFERENCES channels (id),
    status        TEXT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    next_at_ms    BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    done_at_ms    BIGINT,
    UNIQUE (alert_id, channel_id)
);
CREATE INDEX deliveries_pending ON deliveries (channel_id, status, seq);

-- One row per attempt, written when it starts (`sending`) and completed with its outcome
-- (delivered | failed | rate_limited): the robots' rate limits are kept from these rows, so they
-- hold across restarts, and an attempt cut off by a crash stays visible.
CREATE TABLE delivery_attempts (
    delivery_id TEXT NOT NULL REFERENCES deliveries (id),
    attempt     BIGINT NOT NULL,
    channel_id  TEXT NOT NULL REFERENCES channels (id),
    at_ms       BIGINT NOT NULL,
    outcome     TEXT NOT NULL,
    http_status BIGINT,
    latency_ms  BIGINT,
    error       TEXT,
    PRIMARY KEY (delivery_id, attempt)
);
CREATE INDEX delivery_attempts_channel ON delivery_attempts (channel_id, at_ms);
