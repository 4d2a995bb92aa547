//! What the store keeps of alert delivery (DESIGN.md §11), written once for both databases: the
//! sites' channels and the outbox. A delivery per (alert, channel) is enqueued by
//! `enqueue_deliveries` inside the transaction that raises the alert, so an alert is never
//! raised without its deliveries nor delivered without being raised. Senders lease a channel
//! (a conditional UPDATE) so that, across server processes, one delivery of a channel is in
//! flight at a time, oldest first; each attempt is written when it starts and completed with
//! its outcome. The sending itself is [`crate::notify::delivery`]'s.

use async_trait::async_trait;
use jiff::Timestamp;
use patrol_core::alert::Alert;
use patrol_core::ids::{AlertId, SiteId};
use uuid::Uuid;

use super::Result;
use crate::notify::{AttemptResult, Channel, Delivery, DeliveryRecord, NextStep};

/// Channel and outbox storage, part of every [`super::Store`].
#[async_trait]
pub trait NotifyStore: Send + Sync {
    /// Keep a new channel.
    async fn add_channel(&self, channel: &Channel) -> Result<()>;
    /// A channel not removed.
    async fn channel(&self, id: Uuid) -> Result<Option<Channel>>;
    /// A site's channels not removed, oldest first.
    async fn site_channels(&self, site: SiteId) -> Result<Vec<Channel>>;
    /// Remove a channel: it carries nothing more, its pending deliveries are cancelled, its
    /// history stays. False when there is no such channel (or it was removed before).
    async fn remove_channel(&self, id: Uuid, now: Timestamp) -> Result<bool>;
    /// The deliveries of these alerts, in the order they were enqueued, with their attempts.
    async fn alert_deliveries(&self, alerts: &[AlertId]) -> Result<Vec<DeliveryRecord>>;
    /// The channels not leased at `now` whose oldest pending delivery is due at `now`.
    async fn due_channels(&self, now: Timestamp) -> Result<Vec<Channel>>;
    /// Lease a channel for `owner` until `until`, unless another lease on it runs past `now`.
    /// Whether it is `owner`'s now.
    async fn claim_channel(
        &self,
        channel: Uuid,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool>;
    /// End `owner`'s lease on a channel.
    async fn release_channel(&self, channel: Uuid, owner: &str) -> Result<()>;
    /// A channel's oldest pending delivery, with its alert.
    async fn next_delivery(&self, channel: Uuid) -> Result<Option<(Delivery, Alert)>>;
    /// When attempts were made at or after `since` to any channel at this address (the
    /// robots' rate limits are per robot, whichever site's channel it is).
    async fn attempts_since(&self, url: &str, since: Timestamp) -> Result<Vec<Timestamp>>;
    /// Start an attempt of a pending delivery while `owner` holds its channel's lease at `now`
    /// (renewed until `until`): the attempt is recorded as `sending`. Its number, or `None`
    /// when the lease was lost or the delivery is no longer pending (nothing is to be sent).
    async fn begin_attempt(
        &self,
        delivery: Uuid,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Option<u32>>;
    /// Record an attempt's outcome and what follows it, in one transaction.
    async fn finish_attempt(
        &self,
        delivery: Uuid,
        attempt: u32,
        result: &AttemptResult,
        next: NextStep,
    ) -> Result<()>;
    /// Give a pending delivery up without another attempt.
    async fn give_up_delivery(&self, delivery: Uuid, now: Timestamp) -> Result<()>;
    /// Poked after a commit that enqueued deliveries, so that the sender starts at once.
    fn outbox(&self) -> &tokio::sync::Notify;
}

/// A stored channel row.
pub(crate) type ChannelRow = (String, String, String, String, Option<String>, String, i64);

/// The channel of a stored row; one this code cannot read is left out.
pub(crate) fn channel_of(row: ChannelRow) -> Option<Channel> {
    let (id, site, kind, url, secret, events, created) = row;
    Some(Channel {
        id: id.parse().ok()?,
        site_id: site.parse().ok()?,
        kind: kind.parse().ok()?,
        url,
        secret,
        events: events.split(',').filter_map(|e| e.parse().ok()).collect(),
        created_at: time(created),
    })
}

/// A time from stored milliseconds.
pub(crate) fn time(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A stored delivery row.
pub(crate) type DeliveryRow = (String, String, String, String, i64, i64, i64, Option<i64>);

/// The delivery of a stored row.
pub(crate) fn delivery_of(row: DeliveryRow) -> Option<Delivery> {
    let (id, alert, channel, status, attempts, next, created, done) = row;
    Some(Delivery {
        id: id.parse().ok()?,
        alert_id: alert.parse().ok()?,
        channel_id: channel.parse().ok()?,
        status: crate::notify::DeliveryStatus::parse(&status),
        attempts: u32::try_from(attempts).unwrap_or(0),
        next_at: time(next),
        created_at: time(created),
        done_at: done.map(time),
    })
}

macro_rules! notify_sql {
    ($store:ident, $db:ty, $conn:ty) => {
/// Enqueue the alert's deliveries to its site's channels that carry its kind, in the
/// transaction that raises it. How many were enqueued.
async fn enqueue_deliveries(conn: &mut $conn, a: &patrol_core::alert::Alert) -> Result<usize> {
    let channels: Vec<(String, String)> = sqlx::query_as(
        "SELECT id, events FROM channels WHERE site_id = $1 AND removed_at_ms IS NULL
         ORDER BY created_at_ms, id",
    )
    .bind(a.site_id.to_string())
    .fetch_all(&mut *conn)
    .await?;
    let now = ms(Timestamp::now());
    let mut made = 0;
    for (channel, events) in channels {
        if !events.split(',').any(|e| e == a.kind.as_str()) {
            continue;
        }
        let done = sqlx::query(
            "INSERT INTO deliveries (id, alert_id, channel_id, status, attempts, next_at_ms,
               created_at_ms)
             VALUES ($1, $2, $3, 'pending', 0, $4, $4)
             ON CONFLICT DO NOTHING",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(a.id.to_string())
        .bind(&channel)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        made += done.rows_affected() as usize;
    }
    Ok(made)
}

#[async_trait]
impl super::notify::NotifyStore for $store {
    async fn add_channel(&self, c: &crate::notify::Channel) -> Result<()> {
        let (_guard, mut tx) = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO channels (id, site_id, kind, url, secret, events, created_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(c.id.to_string())
        .bind(c.site_id.to_string())
        .bind(c.kind.as_str())
        .bind(&c.url)
        .bind(c.secret.as_deref())
        .bind(c.events_text())
        .bind(ms(c.created_at))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn channel(&self, id: uuid::Uuid) -> Result<Option<crate::notify::Channel>> {
        let row: Option<super::notify::ChannelRow> = sqlx::query_as(
            "SELECT id, site_id, kind, url, secret, events, created_at_ms FROM channels
             WHERE id = $1 AND removed_at_ms IS NULL",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.and_then(super::notify::channel_of))
    }

    async fn site_channels(&self, site: SiteId) -> Result<Vec<crate::notify::Channel>> {
        let rows: Vec<super::notify::ChannelRow> = sqlx::query_as(
            "SELECT id, site_id, kind, url, secret, events, created_at_ms FROM channels
             WHERE site_id = $1 AND removed_at_ms IS NULL ORDER BY created_at_ms, id",
        )
        .bind(site.to_string())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().filter_map(super::notify::channel_of).collect())
    }

    async fn remove_channel(&self, id: uuid::Uuid, now: Timestamp) -> Result<bool> {
        let (_guard, mut tx) = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE channels SET removed_at_ms = $2, lease_owner = NULL, lease_until_ms = NULL
             WHERE id = $1 AND removed_at_ms IS NULL",
        )
        .bind(id.to_string())
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE deliveries SET status = 'cancelled', done_at_ms = $2
             WHERE channel_id = $1 AND status = 'pending'",
        )
        .bind(id.to_string())
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn alert_deliveries(
        &self,
        alerts: &[patrol_core::ids::AlertId],
    ) -> Result<Vec<crate::notify::DeliveryRecord>> {
        let mut out: Vec<crate::notify::DeliveryRecord> = Vec::new();
        for chunk in alerts.chunks(200) {
            let mut q = QueryBuilder::<$db>::new(
                "SELECT d.id, d.alert_id, d.channel_id, d.status, d.attempts, d.next_at_ms,
                   d.created_at_ms, d.done_at_ms, c.kind, c.url
                 FROM deliveries d JOIN channels c ON c.id = d.channel_id
                 WHERE d.alert_id IN (",
            );
            let mut list = q.separated(", ");
            for a in chunk {
                list.push_bind(a.to_string());
            }
            q.push(") ORDER BY d.seq");
            type Row = (String, String, String, String, i64, i64, i64, Option<i64>, String, String);
            let rows: Vec<Row> = q.build_query_as().fetch_all(&self.pool).await?;
            let mut q = QueryBuilder::<$db>::new(
                "SELECT x.delivery_id, x.attempt, x.at_ms, x.outcome, x.http_status, x.latency_ms,
                   x.error
                 FROM delivery_attempts x JOIN deliveries d ON d.id = x.delivery_id
                 WHERE d.alert_id IN (",
            );
            let mut list = q.separated(", ");
            for a in chunk {
                list.push_bind(a.to_string());
            }
            q.push(") ORDER BY x.delivery_id, x.attempt");
            type AttemptRow = (String, i64, i64, String, Option<i64>, Option<i64>, Option<String>);
            let attempts: Vec<AttemptRow> = q.build_query_as().fetch_all(&self.pool).await?;
            for (id, alert, channel, status, n, next, created, done, kind, url) in rows {
                let Some(delivery) = super::notify::delivery_of((
                    id.clone(), alert, channel, status, n, next, created, done,
                )) else {
                    continue;
                };
                let Ok(kind) = kind.parse() else { continue };
                let tried = attempts
                    .iter()
                    .filter(|a| a.0 == id)
                    .map(|(_, n, at, outcome, status, latency, error)| crate::notify::Attempt {
                        attempt: u32::try_from(*n).unwrap_or(0),
                        at: super::notify::time(*at),
                        outcome: crate::notify::AttemptOutcome::parse(outcome),
                        http_status: status.and_then(|s| u16::try_from(s).ok()),
                        latency_ms: *latency,
                        error: error.clone(),
                    })
                    .collect();
                out.push(crate::notify::DeliveryRecord {
                    delivery,
                    kind,
                    url,
                    attempts: tried,
                });
            }
        }
        Ok(out)
    }

    async fn due_channels(&self, now: Timestamp) -> Result<Vec<crate::notify::Channel>> {
        let rows: Vec<super::notify::ChannelRow> = sqlx::query_as(
            "SELECT c.id, c.site_id, c.kind, c.url, c.secret, c.events, c.created_at_ms
             FROM channels c
             WHERE c.removed_at_ms IS NULL
               AND (c.lease_until_ms IS NULL OR c.lease_until_ms < $1)
               AND EXISTS (
                 SELECT 1 FROM deliveries d
                 WHERE d.channel_id = c.id AND d.status = 'pending' AND d.next_at_ms <= $1
                   AND d.seq = (SELECT MIN(h.seq) FROM deliveries h
                                WHERE h.channel_id = c.id AND h.status = 'pending'))
             ORDER BY c.created_at_ms, c.id",
        )
        .bind(ms(now))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().filter_map(super::notify::channel_of).collect())
    }

    async fn claim_channel(
        &self,
        channel: uuid::Uuid,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool> {
        let (_guard, mut tx) = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE channels SET lease_owner = $2, lease_until_ms = $3
             WHERE id = $1 AND removed_at_ms IS NULL
               AND (lease_until_ms IS NULL OR lease_until_ms < $4)",
        )
        .bind(channel.to_string())
        .bind(owner)
        .bind(ms(until))
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_channel(&self, channel: uuid::Uuid, owner: &str) -> Result<()> {
        let (_guard, mut tx) = self.begin_write().await?;
        sqlx::query(
            "UPDATE channels SET lease_owner = NULL, lease_until_ms = NULL
             WHERE id = $1 AND lease_owner = $2",
        )
        .bind(channel.to_string())
        .bind(owner)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn next_delivery(
        &self,
        channel: uuid::Uuid,
    ) -> Result<Option<(crate::notify::Delivery, patrol_core::alert::Alert)>> {
        type Row = (String, String, String, String, i64, i64, i64, Option<i64>, String);
        let row: Option<Row> = sqlx::query_as(
            "SELECT d.id, d.alert_id, d.channel_id, d.status, d.attempts, d.next_at_ms,
               d.created_at_ms, d.done_at_ms, a.data
             FROM deliveries d JOIN alerts a ON a.id = d.alert_id
             WHERE d.channel_id = $1 AND d.status = 'pending'
             ORDER BY d.seq LIMIT 1",
        )
        .bind(channel.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some((id, alert, channel, status, n, next, created, done, data)) = row else {
            return Ok(None);
        };
        let alert_data: patrol_core::alert::Alert = parse(&data)?;
        Ok(super::notify::delivery_of((id, alert, channel, status, n, next, created, done))
            .map(|d| (d, alert_data)))
    }

    async fn attempts_since(&self, url: &str, since: Timestamp) -> Result<Vec<Timestamp>> {
        let rows: Vec<(i64,)> = sqlx::query_as(
            "SELECT x.at_ms FROM delivery_attempts x JOIN channels c ON c.id = x.channel_id
             WHERE c.url = $1 AND x.at_ms >= $2 ORDER BY x.at_ms",
        )
        .bind(url)
        .bind(ms(since))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(t,)| super::notify::time(t)).collect())
    }

    async fn begin_attempt(
        &self,
        delivery: uuid::Uuid,
        owner: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<Option<u32>> {
        let (_guard, mut tx) = self.begin_write().await?;
        let id = delivery.to_string();
        // Still ours: a sender that stalled past its lease sends nothing.
        let renewed = sqlx::query(
            "UPDATE channels SET lease_until_ms = $3
             WHERE id = (SELECT channel_id FROM deliveries WHERE id = $1)
               AND lease_owner = $2 AND lease_until_ms >= $4 AND removed_at_ms IS NULL",
        )
        .bind(&id)
        .bind(owner)
        .bind(ms(until))
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        if renewed.rows_affected() != 1 {
            return Ok(None);
        }
        let counted = sqlx::query(
            "UPDATE deliveries SET attempts = attempts + 1 WHERE id = $1 AND status = 'pending'",
        )
        .bind(&id)
        .execute(&mut *tx)
        .await?;
        if counted.rows_affected() != 1 {
            return Ok(None);
        }
        let (attempt, channel): (i64, String) =
            sqlx::query_as("SELECT attempts, channel_id FROM deliveries WHERE id = $1")
                .bind(&id)
                .fetch_one(&mut *tx)
                .await?;
        sqlx::query(
            "INSERT INTO delivery_attempts (delivery_id, attempt, channel_id, at_ms, outcome)
             VALUES ($1, $2, $3, $4, 'sending')",
        )
        .bind(&id)
        .bind(attempt)
        .bind(&channel)
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(u32::try_from(attempt).unwrap_or(u32::MAX)))
    }

    async fn finish_attempt(
        &self,
        delivery: uuid::Uuid,
        attempt: u32,
        result: &crate::notify::AttemptResult,
        next: crate::notify::NextStep,
    ) -> Result<()> {
        let (_guard, mut tx) = self.begin_write().await?;
        let id = delivery.to_string();
        sqlx::query(
            "UPDATE delivery_attempts SET outcome = $3, http_status = $4, latency_ms = $5,
               error = $6
             WHERE delivery_id = $1 AND attempt = $2",
        )
        .bind(&id)
        .bind(i64::from(attempt))
        .bind(result.outcome.as_str())
        .bind(result.http_status.map(i64::from))
        .bind(result.latency_ms)
        .bind(result.error.as_deref())
        .execute(&mut *tx)
        .await?;
        let (sql, at) = match next {
            crate::notify::NextStep::Delivered(t) => (
                "UPDATE deliveries SET status = 'delivered', done_at_ms = $2
                 WHERE id = $1 AND status = 'pending'",
                t,
            ),
            crate::notify::NextStep::Retry(t) => (
                "UPDATE deliveries SET next_at_ms = $2 WHERE id = $1 AND status = 'pending'",
                t,
            ),
            crate::notify::NextStep::GiveUp(t) => (
                "UPDATE deliveries SET status = 'failed', done_at_ms = $2
                 WHERE id = $1 AND status = 'pending'",
                t,
            ),
        };
        sqlx::query(sql)
            .bind(&id)
            .bind(ms(at))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn give_up_delivery(&self, delivery: uuid::Uuid, now: Timestamp) -> Result<()> {
        let (_guard, mut tx) = self.begin_write().await?;
        sqlx::query(
            "UPDATE deliveries SET status = 'failed', done_at_ms = $2
             WHERE id = $1 AND status = 'pending'",
        )
        .bind(delivery.to_string())
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    fn outbox(&self) -> &tokio::sync::Notify {
        &self.outbox
    }
}
    };
}

pub(crate) use notify_sql;
