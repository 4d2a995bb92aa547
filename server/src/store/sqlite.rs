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
        })
    }

    /// A write transaction holding the write lock until it ends.
    async fn begin_write(&self) -> Result<(Option<MutexGuard<'_, ()>>, Transaction<'_, Sqlite>)> {
        let guard = self.write_lock.lock().await;
        Ok((Some(guard), self.pool.begin().await?))
    }
}

sql_store!(SqliteStore, Sqlite, SqliteConnection, "migrations/sqlite");
super::alerts::alerts_sql!(SqliteStore, Sqlite, SqliteConnection);
super::notify::notify_sql!(SqliteStore, Sqlite, SqliteConnection);
