//! What the store keeps of alerts (DESIGN.md §11), written once for both databases: each alert
//! raised once — its `once_key` is unique, and a raise meets an existing key by doing nothing —
//! and fed to pull as entity `alert` in the transaction that raises or acknowledges it. The rules
//! (when an alert is due, who sees it, how it is acknowledged) are core's
//! ([`patrol_core::alert`]).

use async_trait::async_trait;
use jiff::Timestamp;
use patrol_core::alert::Alert;
use patrol_core::ids::{AlertId, SiteId};
use patrol_core::patrol::PatrolRun;

use super::Result;

/// Alert storage, part of every [`super::Store`].
#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Keep the alerts not raised before (by [`Alert::once_key`]), each with its change for
    /// pull, in one transaction; those already raised are left as they are. Returns the alerts
    /// raised now.
    async fn raise_alerts(&self, alerts: &[Alert]) -> Result<Vec<Alert>>;
    /// An alert.
    async fn alert(&self, id: AlertId) -> Result<Option<Alert>>;
    /// A site's alerts, newest first; only those not acknowledged yet with `open_only`.
    async fn site_alerts(&self, site: SiteId, open_only: bool) -> Result<Vec<Alert>>;
    /// A site's acknowledged alerts, the latest acknowledged first, at most `limit`.
    async fn acked_alerts(&self, site: SiteId, limit: u32) -> Result<Vec<Alert>>;
    /// A site's rounds started in `[from, to)`, without their visits (what the missed-round
    /// pass judges slots by).
    async fn runs_started(
        &self,
        site: SiteId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<PatrolRun>>;
}

/// Store an alert: an open one is a new alert, kept unless one with its once key was raised
/// before; an acknowledged one records the acknowledgement of the stored alert of its id,
/// unless that was acknowledged already. A row that changed is fed to pull; a new alert's
/// deliveries are enqueued with it. Whether one did.
macro_rules! alerts_sql {
    ($store:ident, $db:ty, $conn:ty) => {
async fn put_alert(conn: &mut $conn, a: &patrol_core::alert::Alert) -> Result<bool> {
    let data = json(a)?;
    let done = if a.is_open() {
        sqlx::query(
            "INSERT INTO alerts (id, once_key, site_id, kind, issue_id, route_id, run_id,
               raised_at_ms, data)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT DO NOTHING",
        )
        .bind(a.id.to_string())
        .bind(a.once_key())
        .bind(a.site_id.to_string())
        .bind(a.kind.as_str())
        .bind(a.issue_id.map(|i| i.to_string()))
        .bind(a.route_id.map(|r| r.to_string()))
        .bind(a.run_id.map(|r| r.to_string()))
        .bind(ms(a.raised_at))
        .bind(&data)
        .execute(&mut *conn)
        .await?
    } else {
        sqlx::query(
            "UPDATE alerts SET acked_by = $2, acked_at_ms = $3, data = $4
             WHERE id = $1 AND acked_at_ms IS NULL",
        )
        .bind(a.id.to_string())
        .bind(a.acked_by.map(|u| u.to_string()))
        .bind(a.acked_at.map(ms))
        .bind(&data)
        .execute(&mut *conn)
        .await?
    };
    let changed = done.rows_affected() == 1;
    if changed && a.is_open() {
        // Its deliveries go with it: never an alert raised and not sent, or sent and not raised.
        enqueue_deliveries(conn, a).await?;
    }
    if changed {
        feed(
            conn,
            "alert",
            &a.id.to_string(),
            Some(a.site_id),
            a.team.map(|t| t.as_str()),
        )
        .await?;
    }
    Ok(changed)
}

#[async_trait]
impl super::alerts::AlertStore for $store {
    async fn raise_alerts(
        &self,
        alerts: &[patrol_core::alert::Alert],
    ) -> Result<Vec<patrol_core::alert::Alert>> {
        // Only new alerts: an acknowledgement goes through its op, never through here. Those
        // raised before are left out first without the write lock (a pass judges every overdue
        // issue again); the insert still meets any raised in between by doing nothing.
        let mut fresh: Vec<&patrol_core::alert::Alert> =
            alerts.iter().filter(|a| a.is_open()).collect();
        let mut known = std::collections::HashSet::new();
        for chunk in fresh.chunks(500) {
            let mut q = QueryBuilder::<$db>::new("SELECT once_key FROM alerts WHERE once_key IN (");
            let mut list = q.separated(", ");
            for a in chunk {
                list.push_bind(a.once_key());
            }
            q.push(")");
            let rows: Vec<(String,)> = q.build_query_as().fetch_all(&self.pool).await?;
            known.extend(rows.into_iter().map(|(k,)| k));
        }
        fresh.retain(|a| !known.contains(&a.once_key()));
        if fresh.is_empty() {
            return Ok(Vec::new());
        }
        let (_guard, mut tx) = self.begin_write().await?;
        let mut raised = Vec::new();
        for a in fresh {
            if put_alert(&mut tx, a).await? {
                raised.push(a.clone());
            }
        }
        tx.commit().await?;
        if !raised.is_empty() {
            self.outbox.notify_one();
        }
        Ok(raised)
    }

    async fn alert(
        &self,
        id: patrol_core::ids::AlertId,
    ) -> Result<Option<patrol_core::alert::Alert>> {
        self.one("SELECT data FROM alerts WHERE id = $1", &id.to_string())
            .await
    }

    async fn site_alerts(
        &self,
        site: SiteId,
        open_only: bool,
    ) -> Result<Vec<patrol_core::alert::Alert>> {
        let sql = if open_only {
            "SELECT data FROM alerts WHERE site_id = $1 AND acked_at_ms IS NULL
             ORDER BY raised_at_ms DESC, id DESC"
        } else {
            "SELECT data FROM alerts WHERE site_id = $1 ORDER BY raised_at_ms DESC, id DESC"
        };
        let rows: Vec<(String,)> = sqlx::query_as(sql)
            .bind(site.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|(d,)| parse(d)).collect()
    }

    async fn acked_alerts(
        &self,
        site: SiteId,
        limit: u32,
    ) -> Result<Vec<patrol_core::alert::Alert>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT data FROM alerts WHERE site_id = $1 AND acked_at_ms IS NOT NULL
             ORDER BY acked_at_ms DESC, id DESC LIMIT $2",
        )
        .bind(site.to_string())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|(d,)| parse(d)).collect()
    }

    async fn runs_started(
        &self,
        site: SiteId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<PatrolRun>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT data FROM runs WHERE site_id = $1 AND started_at_ms >= $2 AND started_at_ms < $3
             ORDER BY started_at_ms, id",
        )
        .bind(site.to_string())
        .bind(ms(from))
        .bind(ms(to))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|(d,)| parse(d)).collect()
    }
}
    };
}

pub(crate) use alerts_sql;
