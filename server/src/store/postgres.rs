//! PostgreSQL, for an estate group that outgrows one machine: several stateless server processes
//! on one database. Every write transaction takes one advisory lock, so the change feed's order
//! is the commit order across processes and a pull never skips a change.

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
}

/// One lock for every write transaction, across server processes.
const WRITE_LOCK: i64 = 0x5041_5452_4f4c; // "PATROL"

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
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(PgStore {
            pool,
            outbox: tokio::sync::Notify::new(),
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

    /// A write transaction holding the advisory write lock until it ends (no process-local
    /// guard is needed).
    async fn begin_write(&self) -> Result<(Option<MutexGuard<'_, ()>>, Transaction<'_, Postgres>)> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(WRITE_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok((None, tx))
    }
}

sql_store!(PgStore, Postgres, PgConnection, "migrations/postgres");
super::alerts::alerts_sql!(PgStore, Postgres, PgConnection);
super::notify::notify_sql!(PgStore, Postgres, PgConnection);
