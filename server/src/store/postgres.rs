//! PostgreSQL, for an estate group that outgrows one machine: several stateless server processes
//! on one database. Writers of different sites never wait for each other: an op locks only
//! the records it is decided on (its device, issue, round or alert, with transaction-level
//! advisory locks), so one issue's hash chain stays linear and one device's ops stay in order.
//! Transactions then commit out of `seq` order, so the change feed is read in the order of
//! transaction ids up to a horizon below every writer still running: a change is handed out
//! only once every transaction that could still commit before it has ended, and a pull never
//! skips one.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use std::collections::HashMap;

use async_trait::async_trait;
use jiff::Timestamp;
use patrol_core::audit::AuditEntry;
use patrol_core::blob::{BlobInfo, BlobKind};
use patrol_core::checklist::Template;
use patrol_core::ids::{
    CheckpointId, DeviceId, IssueId, RouteId, RunId, SiteId, UserId, VisitId, ZoneId,
};
use patrol_core::issue::Issue;
use patrol_core::lifecycle::Visibility;
use patrol_core::patrol::{PatrolRun, Visit};
use patrol_core::route::Route;
use patrol_core::site::{Checkpoint, Site, Zone, ZoneKind};
use patrol_core::user::User;
use patrol_core::wire::{Change, Entity, QueueCursor};
use serde::de::DeserializeOwned;
use sqlx::{AssertSqlSafe, QueryBuilder, Row};
use tokio::sync::MutexGuard;

use super::sql::sql_store;
use super::{
    Account, ChangePage, ConsoleSession, Decide, Decision, IssueFilter, Keys, OpMeta, OpOutcome,
    Refusal, Result, Snapshot, Store, StoreError, Write, json, ms, parse,
};

/// PostgreSQL storage.
pub struct PgStore {
    pool: PgPool,
    /// Poked after a commit that enqueued alert deliveries (other processes' deliveries are
    /// found by polling).
    outbox: tokio::sync::Notify,
    /// Open op batches at most ([`BATCH_SLOTS`]).
    batches: tokio::sync::Semaphore,
    reference: super::ReferenceCache,
}

/// Connections of the pool.
const POOL_SIZE: u32 = 16;

/// Op batches (pushes) open at once: half the pool. A batch holds its transaction's connection
/// while its ops read reference data on another one (`sync::Batch`); were every connection held
/// by a batch, each would wait for a second until the pool's acquire timeout (seen with 1,000
/// devices pushing at once: `loadbench devices`). With half the pool for batches, the other
/// half always comes free for their reads, which hold nothing while they wait.
const BATCH_SLOTS: usize = POOL_SIZE as usize / 2;

/// Every write transaction holds an advisory lock shared — this number with its schema's
/// (`hashtext(current_schema())`), so that stores in other schemas of the database are not
/// theirs — and the rare maintenance that must see no write arrive under it (purging archived
/// rounds) holds it exclusively. Pulls read who holds it to know which transactions still
/// running are writers of this feed.
const WRITE_LOCK: i32 = 0x5041; // "PA"

/// The first half of every background job's session lock (the second: its name and schema).
const JOB_LOCK: i32 = 0x4a4f; // "JO"
impl PgStore {
    /// Connect to `url`, using `schema` (created if missing) when given: tests give each run
    /// its own schema.
    pub async fn connect(url: &str, schema: Option<&str>) -> Result<PgStore> {
        let mut options = PgConnectOptions::from_str(url)?;
        if let Some(schema) = schema {
            let admin = PgPoolOptions::new()
                .max_connections(1)
                .connect_with(options.clone())
                .await?;
            sqlx::query(AssertSqlSafe(format!(
                "CREATE SCHEMA IF NOT EXISTS \"{schema}\""
            )))
            .execute(&admin)
            .await?;
            admin.close().await;
            options = options.options([("search_path", schema)]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(PgStore {
            pool,
            outbox: tokio::sync::Notify::new(),
            batches: tokio::sync::Semaphore::new(BATCH_SLOTS),
            reference: super::ReferenceCache::default(),
        })
    }

    /// Drop a schema made by [`PgStore::connect`] (tests clean up after themselves).
    #[cfg(test)]
    pub async fn drop_schema(&self, schema: &str) -> Result<()> {
        sqlx::query(AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
        )))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A slot for an op batch ([`BATCH_SLOTS`]), held until the batch ends.
    async fn batch_slot(&self) -> Result<Option<tokio::sync::SemaphorePermit<'_>>> {
        Ok(self.batches.acquire().await.ok())
    }

    /// A write transaction beside other writes (it holds the write lock shared until it
    /// ends; no process-local guard is needed).
    async fn begin_write(&self) -> Result<(Option<MutexGuard<'_, ()>>, Transaction<'_, Postgres>)> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock_shared($1, hashtext(current_schema()))")
            .bind(WRITE_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok((None, tx))
    }

    /// How far the change feed may be read: below the id of the oldest transaction that may
    /// still add changes — one of this store's writers running when the pull began (they hold
    /// the write lock, so `pg_locks` names them), or one running at the first look's snapshot
    /// that has ended since and wrote changes (found by a second look, whose snapshot sees
    /// what it committed; the others running then were not this store's writers). A transaction
    /// that commits later has an id at or above it, so its changes come after the cursor of
    /// any pull before, and none is skipped; other databases' and schemas' transactions, long
    /// or not, do not hold the feed back.
    async fn feed_horizon(&self) -> Result<Option<String>> {
        let (running, ended): (String, Vec<String>) = sqlx::query_as(
            "WITH snap AS (SELECT pg_current_snapshot() AS s),
             writers AS (
               SELECT x.transactionid FROM pg_locks w JOIN pg_locks x ON x.pid = w.pid
               WHERE w.locktype = 'advisory' AND w.granted AND w.objsubid = 2
                 AND w.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                 AND w.classid = CAST($1 AS oid) AND w.objid = CAST(hashtext(current_schema()) AS oid)
                 AND x.locktype = 'transactionid' AND x.granted AND x.mode = 'ExclusiveLock'),
             running AS (
               SELECT COALESCE(
                 (SELECT MIN(x) FROM pg_snapshot_xip(s) x
                  WHERE CAST(x AS xid) IN (SELECT transactionid FROM writers)),
                 pg_snapshot_xmax(s)) AS h
               FROM snap)
             SELECT CAST(running.h AS text),
               COALESCE((SELECT array_agg(CAST(x AS text)) FROM snap, pg_snapshot_xip(snap.s) x
                         WHERE x < running.h), '{}')
             FROM running",
        )
        .bind(WRITE_LOCK)
        .fetch_one(&self.pool)
        .await?;
        if ended.is_empty() {
            return Ok(Some(running));
        }
        let (horizon,): (String,) = sqlx::query_as(
            "SELECT CAST(LEAST(CAST($1 AS xid8),
               (SELECT MIN(tx) FROM changes WHERE tx = ANY(CAST($2 AS xid8[])))) AS text)",
        )
        .bind(running)
        .bind(ended)
        .fetch_one(&self.pool)
        .await?;
        Ok(Some(horizon))
    }

    /// A job's session advisory lock, tried once: on a connection of its own, closed when the
    /// lock is dropped, so the lock never outlives the job (nor returns to the pool held).
    async fn try_job(&self, job: super::Job) -> Result<Option<super::JobLock>> {
        let mut session = self.pool.acquire().await?;
        let (held,): (bool,) = sqlx::query_as(
            "SELECT pg_try_advisory_lock($1, hashtext($2 || ':' || current_schema()))",
        )
        .bind(JOB_LOCK)
        .bind(job.name())
        .fetch_one(&mut *session)
        .await?;
        if !held {
            return Ok(None);
        }
        session.close_on_drop();
        Ok(Some(super::JobLock {
            _session: Some(session),
        }))
    }

    /// An op batch's write transaction. PostgreSQL commits each on its own: commits waiting
    /// at once already share one flush of its WAL.
    async fn begin_batch(&self) -> Result<BatchTx<'_>> {
        Ok(BatchTx(self.begin_write().await?.1))
    }

    /// A push's batch, its device heard from ([`touch`]); its last `seq`.
    async fn begin_push_batch(&self, heard: &super::Heard) -> Result<(BatchTx<'_>, i64)> {
        let mut tx = self.begin_batch().await?;
        let last_seq = touch(&mut tx.0, heard).await?;
        Ok((tx, last_seq))
    }

    /// A write transaction no other write runs beside, across server processes.
    async fn begin_exclusive(
        &self,
    ) -> Result<(Option<MutexGuard<'_, ()>>, Transaction<'_, Postgres>)> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))")
            .bind(WRITE_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok((None, tx))
    }
}

/// An op batch's transaction ([`PgStore::begin_batch`]).
pub struct BatchTx<'a>(Transaction<'a, Postgres>);

impl std::ops::Deref for BatchTx<'_> {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.0
    }
}

impl std::ops::DerefMut for BatchTx<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.0
    }
}

/// An op batch's reads of what its ops name are not kept for deciding them
/// ([`super::OpBatch::run`]): a round is read again once the op holds its lock, as another
/// process may change it until then.
const KEEP_BATCH_READS: bool = false;

/// Before an op batch's commit: [`finish_rows`].
async fn finish_batch(tx: &mut BatchTx<'_>, rows: &mut super::sql::TxRows) -> Result<()> {
    finish_rows(&mut tx.0, rows).await
}

/// Commit an op batch; its alert deliveries' sender is told when it enqueued some.
async fn commit_batch(
    tx: BatchTx<'_>,
    raised_alert: bool,
    outbox: &tokio::sync::Notify,
) -> Result<()> {
    tx.0.commit().await?;
    if raised_alert {
        outbox.notify_one();
    }
    Ok(())
}

/// Take turns on one record (a device, an issue, a round) with other writers until the
/// transaction ends. Locks are taken in the order an op names its records (device, round,
/// issue, alert); two pushes that lock the same two records the other way round make
/// PostgreSQL abort one of them, which answers 503 and is pushed again.
async fn lock_key(conn: &mut PgConnection, kind: &str, id: &str) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("{kind}:{id}"))
        .execute(conn)
        .await?;
    Ok(())
}

/// The change feed after a cursor, each entity once at its latest change, in the order of
/// (transaction id, `seq`), and only below `horizon` ([`PgStore::feed_horizon`]). The cursor
/// stays the `seq` of the last change handed out; its transaction id is looked up (0,
/// everything again, for a `seq` not in the feed). The caller adds the visibility filters,
/// then [`FEED_TAIL`] and the limit.
fn feed_after(cursor: i64, horizon: Option<String>) -> QueryBuilder<Postgres> {
    let mut q = QueryBuilder::new(
        "SELECT entity, entity_id, last FROM (
           SELECT DISTINCT ON (entity, entity_id) entity, entity_id, seq AS last, tx
           FROM changes
           WHERE (tx, seq) > (COALESCE((SELECT tx FROM changes WHERE seq = ",
    );
    q.push_bind(cursor)
        .push("), '0'::xid8), ")
        .push_bind(cursor)
        .push(") AND tx < CAST(")
        .push_bind(horizon.unwrap_or_default())
        .push(" AS xid8)");
    q
}

/// The end of [`feed_after`]'s query, before the limit.
const FEED_TAIL: &str =
    " ORDER BY entity, entity_id, tx DESC, seq DESC) latest ORDER BY tx, last LIMIT ";

/// Insert a push's held-back rows: multi-row inserts of at most
/// [`ROWS_PER_INSERT`](super::sql::ROWS_PER_INSERT) rows, a few statements for the whole push.
async fn insert_held(tx: &mut PgConnection, pending: &super::sql::Pending) -> Result<()> {
    use super::sql::ROWS_PER_INSERT;
    for chunk in pending.replaced.chunks(ROWS_PER_INSERT) {
        let mut q =
            QueryBuilder::<Postgres>::new("DELETE FROM results WHERE (visit_id, item_key) IN (");
        q.push_values(chunk, |mut b, (visit, item)| {
            b.push_bind(visit.clone()).push_bind(item.clone());
        });
        q.push(")");
        q.build().execute(&mut *tx).await?;
    }
    for chunk in pending.visits.chunks(ROWS_PER_INSERT) {
        let mut q = QueryBuilder::<Postgres>::new(
            "INSERT INTO visits (id, run_id, checkpoint_id, at_ms, data) ",
        );
        q.push_values(chunk, |mut b, (v, data)| {
            b.push_bind(v.id.to_string())
                .push_bind(v.run_id.to_string())
                .push_bind(v.checkpoint_id.to_string())
                .push_bind(ms(v.at))
                .push_bind(data.clone());
        });
        q.build().execute(&mut *tx).await?;
    }
    for chunk in pending.results.chunks(ROWS_PER_INSERT) {
        let mut q =
            QueryBuilder::<Postgres>::new("INSERT INTO results (id, visit_id, item_key, data) ");
        q.push_values(chunk, |mut b, r| {
            b.push_bind(r.id.clone())
                .push_bind(r.visit_id.clone())
                .push_bind(r.item_key.clone())
                .push_bind(r.data.clone());
        });
        q.build().execute(&mut *tx).await?;
    }
    for chunk in pending.ops.chunks(ROWS_PER_INSERT) {
        let mut q = QueryBuilder::<Postgres>::new(
            "INSERT INTO ops (op_id, device_id, seq, kind, user_id, device_at, server_at_ms, status, code, message) ",
        );
        q.push_values(chunk, |mut b, o| {
            b.push_bind(o.op_id.clone())
                .push_bind(o.device_id.clone())
                .push_bind(o.seq)
                .push_bind(o.kind.clone())
                .push_bind(o.user_id.clone())
                .push_bind(o.device_at.clone())
                .push_bind(o.server_at_ms)
                .push_bind(o.status)
                .push_bind(o.code.clone())
                .push_bind(o.message.clone());
        });
        q.build().execute(&mut *tx).await?;
    }
    Ok(())
}

/// A round's stored rows, as its seal covers them.
async fn read_round(conn: &mut PgConnection, run: &str) -> Result<super::evidence::RoundRecords> {
    use super::evidence::{ROUND_RESULTS, ROUND_RUN, ROUND_VISITS};
    Ok(super::evidence::RoundRecords {
        runs: sqlx::query_as(ROUND_RUN)
            .bind(run)
            .fetch_all(&mut *conn)
            .await?,
        visits: sqlx::query_as(ROUND_VISITS)
            .bind(run)
            .fetch_all(&mut *conn)
            .await?,
        results: sqlx::query_as(ROUND_RESULTS)
            .bind(run)
            .fetch_all(&mut *conn)
            .await?,
    })
}

sql_store!(PgStore, Postgres, PgConnection, "migrations/postgres");
super::alerts::alerts_sql!(PgStore, Postgres, PgConnection);
super::notify::notify_sql!(PgStore, Postgres, PgConnection);
