//! The embedded default: one SQLite file under the data directory. Writers are serialised by a
//! lock, so the change feed's order is the commit order and SQLite never answers "busy".

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};

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
use tokio::sync::{Mutex, MutexGuard};

use super::sql::sql_store;
use super::{
    Account, ChangePage, ConsoleSession, Decide, Decision, IssueFilter, Keys, OpMeta, OpOutcome,
    Refusal, Result, Snapshot, Store, StoreError, Write, json, ms, parse,
};

/// SQLite storage.
pub struct SqliteStore {
    pool: SqlitePool,
    write_lock: Mutex<()>,
    /// Poked after a commit that enqueued alert deliveries.
    outbox: tokio::sync::Notify,
    reference: super::ReferenceCache,
}

impl SqliteStore {
    /// Open (creating if needed) a database file.
    pub async fn open(path: &std::path::Path) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        Ok(SqliteStore {
            pool,
            write_lock: Mutex::new(()),
            outbox: tokio::sync::Notify::new(),
            reference: super::ReferenceCache::default(),
        })
    }

    /// No slot for an op batch: the write lock already lets one batch at a time hold a
    /// connection, the pool's others free for its reads.
    async fn batch_slot(&self) -> Result<Option<tokio::sync::SemaphorePermit<'_>>> {
        Ok(None)
    }

    /// A write transaction holding the write lock until it ends.
    async fn begin_write(&self) -> Result<(Option<MutexGuard<'_, ()>>, Transaction<'_, Sqlite>)> {
        let guard = self.write_lock.lock().await;
        Ok((Some(guard), self.pool.begin().await?))
    }

    /// The change feed is read to its end: `seq` is the commit order.
    async fn feed_horizon(&self) -> Result<Option<String>> {
        Ok(None)
    }

    /// One server process works on a SQLite file: every job's lock is its own.
    async fn try_job(&self, _job: super::Job) -> Result<Option<super::JobLock>> {
        Ok(Some(super::JobLock { _session: None }))
    }

    /// A write transaction no other write runs beside: every write already is one here.
    async fn begin_exclusive(
        &self,
    ) -> Result<(Option<MutexGuard<'_, ()>>, Transaction<'_, Sqlite>)> {
        self.begin_write().await
    }
}

/// Take turns on one record with other writers: the write lock already serialises them all.
async fn lock_key(_conn: &mut SqliteConnection, _kind: &str, _id: &str) -> Result<()> {
    Ok(())
}

/// The change feed after a cursor, each entity once at its latest change, in commit order
/// (the write lock makes the order of `seq` the commit order). The caller adds the
/// visibility filters, then [`FEED_TAIL`] and the limit.
fn feed_after(cursor: i64, _horizon: Option<String>) -> QueryBuilder<Sqlite> {
    let mut q =
        QueryBuilder::new("SELECT entity, entity_id, MAX(seq) AS last FROM changes WHERE seq > ");
    q.push_bind(cursor);
    q
}

/// The end of [`feed_after`]'s query, before the limit.
const FEED_TAIL: &str = " GROUP BY entity, entity_id ORDER BY last LIMIT ";

/// Run `f` on this thread straight on the connection's SQLite handle, inside its transaction
/// ([`patrol_sqlite_handle::on_handle`]): a push's held-back rows and a seal's reads are most
/// of a push's statements and rows, and sqlx would hand each to its worker thread and back.
async fn on_handle<T>(
    conn: &mut SqliteConnection,
    f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
) -> Result<T> {
    Ok(patrol_sqlite_handle::on_handle(conn, f).await??)
}

/// Insert a push's held-back rows, one prepared statement a table, on this thread.
async fn insert_held(tx: &mut SqliteConnection, pending: &super::sql::Pending) -> Result<()> {
    if pending.replaced.is_empty()
        && pending.visits.is_empty()
        && pending.results.is_empty()
        && pending.ops.is_empty()
    {
        return Ok(());
    }
    on_handle(tx, |db| {
        if !pending.replaced.is_empty() {
            let mut delete = db.prepare("DELETE FROM results WHERE visit_id = ?1 AND item_key = ?2")?;
            for (visit, item) in &pending.replaced {
                delete.execute((visit, item))?;
            }
        }
        if !pending.visits.is_empty() {
            let mut insert = db.prepare(
                "INSERT INTO visits (id, run_id, checkpoint_id, at_ms, data) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for (v, data) in &pending.visits {
                insert.execute((
                    v.id.to_string(),
                    v.run_id.to_string(),
                    v.checkpoint_id.to_string(),
                    ms(v.at),
                    data,
                ))?;
            }
        }
        if !pending.results.is_empty() {
            let mut insert =
                db.prepare("INSERT INTO results (id, visit_id, item_key, data) VALUES (?1, ?2, ?3, ?4)")?;
            for r in &pending.results {
                insert.execute((&r.id, &r.visit_id, &r.item_key, &r.data))?;
            }
        }
        if !pending.ops.is_empty() {
            let mut insert = db.prepare(
                "INSERT INTO ops (op_id, device_id, seq, kind, user_id, device_at, server_at_ms, status, code, message)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            for o in &pending.ops {
                insert.execute(rusqlite::params![
                    o.op_id,
                    o.device_id,
                    o.seq,
                    o.kind,
                    o.user_id,
                    o.device_at,
                    o.server_at_ms,
                    o.status,
                    o.code,
                    o.message,
                ])?;
            }
        }
        Ok(())
    })
    .await
}

/// A round's stored rows, as its seal covers them, read on this thread.
async fn read_round(
    conn: &mut SqliteConnection,
    run: &str,
) -> Result<super::evidence::RoundRecords> {
    use super::evidence::{ROUND_RESULTS, ROUND_RUN, ROUND_VISITS};
    on_handle(conn, |db| {
        let runs = db
            .prepare(ROUND_RUN)?
            .query_map([run], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let visits = db
            .prepare(ROUND_VISITS)?
            .query_map([run], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let results = db
            .prepare(ROUND_RESULTS)?
            .query_map([run], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(super::evidence::RoundRecords {
            runs,
            visits,
            results,
        })
    })
    .await
}

sql_store!(SqliteStore, Sqlite, SqliteConnection, "migrations/sqlite");
super::alerts::alerts_sql!(SqliteStore, Sqlite, SqliteConnection);
super::notify::notify_sql!(SqliteStore, Sqlite, SqliteConnection);
