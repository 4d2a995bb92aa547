//! The embedded default: one SQLite file under the data directory. Writers are serialised by a
//! lock, so the change feed's order is the commit order and SQLite never answers "busy"; pushes
//! that wait for the lock share one commit ([`Group`]).

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

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
    /// The one writer's turn, and the write transaction pushes share ([`Group`]).
    write_lock: Mutex<Group>,
    /// Writers waiting for [`SqliteStore::write_lock`]: a push that ends while one waits
    /// leaves its commit to the writers after it.
    waiting: AtomicUsize,
    /// Poked after a commit that enqueued alert deliveries.
    outbox: tokio::sync::Notify,
    reference: super::ReferenceCache,
    /// Moves the log's pages into the database file beside the writer ([`checkpoints`]).
    checkpointer: tokio::task::JoinHandle<()>,
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.checkpointer.abort();
    }
}

/// How often the log's new pages are moved into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// Move the write-ahead log's committed pages into the database file, every
/// [`CHECKPOINT_EVERY`], on a connection of its own. SQLite would otherwise do it in the commit
/// that takes the log past 1,000 pages, inside the one write lock: copying the pages and the
/// database file's fsync stalled the writer and every push queued behind it. A passive
/// checkpoint waits for no reader or writer and takes nothing from them; the writer starts the
/// log again from its beginning once all of it is in the file. Nothing is less durable: a
/// commit is on disk when its log frames are.
async fn checkpoints(options: SqliteConnectOptions) {
    use sqlx::Connection as _;
    let mut conn = None;
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if conn.is_none() {
            match SqliteConnection::connect_with(&options).await {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    tracing::warn!(error = %e, "the checkpoint's connection could not be opened");
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut *c)
            .await
        {
            // Tried again on the next tick, on a new connection; the log meanwhile only grows.
            tracing::warn!(error = %e, "a checkpoint of the log failed");
            conn = None;
        }
    }
}

impl SqliteStore {
    /// Open (creating if needed) a database file.
    pub async fn open(path: &std::path::Path) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // Checkpoints run beside the writer instead ([`checkpoints`]).
            .pragma("wal_autocheckpoint", "0");
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.clone())
            .await?;
        Ok(SqliteStore {
            checkpointer: tokio::spawn(checkpoints(options)),
            pool,
            write_lock: Mutex::new(Group::default()),
            waiting: AtomicUsize::new(0),
            outbox: tokio::sync::Notify::new(),
            reference: super::ReferenceCache::default(),
        })
    }

    /// No slot for an op batch: the write lock already lets one batch at a time hold a
    /// connection, the pool's others free for its reads.
    async fn batch_slot(&self) -> Result<Option<tokio::sync::SemaphorePermit<'_>>> {
        Ok(None)
    }

    /// Writers waiting for the write lock now.
    #[cfg(test)]
    pub fn writers_waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// The write lock, counted among the writers waiting for it meanwhile.
    async fn write_turn(&self) -> MutexGuard<'_, Group> {
        let _waiting = Waiting::new(&self.waiting);
        self.write_lock.lock().await
    }

    /// A write transaction holding the write lock until it ends. The pushes waiting for a
    /// shared commit are committed first.
    async fn begin_write(
        &self,
    ) -> Result<(Option<MutexGuard<'_, Group>>, Transaction<'static, Sqlite>)> {
        let mut group = self.write_turn().await;
        // Their commit failing fails them (they are told), not this write.
        if let Err(e) = self.settle(&mut group).await {
            tracing::warn!(error = %e, "a shared commit of pushes failed");
        }
        Ok((Some(group), self.pool.begin().await?))
    }

    /// An op batch's write transaction. A push's is a savepoint in the write transaction
    /// pushes share ([`Group`]); any other batch's is a transaction of its own.
    async fn begin_batch(&self) -> Result<BatchTx<'_>> {
        let (group, tx) = self.begin_write().await?;
        let mut group = group.expect("SQLite's writes hold the write lock");
        group.tx = Some(tx);
        Ok(BatchTx {
            group,
            store: self,
            shared: false,
            ended: false,
            released: false,
        })
    }

    /// A push's batch: a savepoint in the write transaction pushes share ([`Group`]), made in
    /// one turn on the connection's handle with the push's device heard from ([`TOUCH`];
    /// one hand-off to sqlx's worker thread and back instead of two, under the write lock).
    /// Its device's last `seq` with it.
    async fn begin_push_batch(&self, heard: &super::Heard) -> Result<(BatchTx<'_>, i64)> {
        let mut group = self.write_turn().await;
        if group.undo {
            // Failing, it ends the shared transaction (its pushes are told): this push
            // begins a new one.
            if let Err(e) = self.undo_push(&mut group).await {
                tracing::warn!(error = %e, "a push's savepoint could not be rolled back");
            }
        }
        if group.tx.is_none() {
            group.tx = Some(self.pool.begin().await?);
            group.opened = Some(Instant::now());
        }
        let Some(tx) = group.tx.as_mut() else {
            unreachable!("the shared transaction was opened above");
        };
        let touch = (
            heard.device.to_string(),
            heard.user.to_string(),
            heard.offset_ms,
            ms(heard.at),
        );
        let made = patrol_sqlite_handle::on_handle(tx, |db| {
            db.execute_batch("SAVEPOINT push")?;
            // The savepoint is made: what fails after it is this push's alone.
            Ok(db.query_row(super::sql::TOUCH, touch, |r| r.get::<_, i64>(0)))
        })
        .await;
        let touched = match made {
            Ok(Ok(touched)) => touched,
            Ok(Err(e)) => {
                self.fail_group(&mut group, &e.to_string());
                return Err(e.into());
            }
            Err(e) => {
                self.fail_group(&mut group, &e.to_string());
                return Err(e.into());
            }
        };
        let batch = BatchTx {
            group,
            store: self,
            shared: true,
            ended: false,
            released: false,
        };
        // On an error the batch is dropped, and its savepoint rolled back by the next writer.
        Ok((batch, touched?))
    }

    /// Roll back what a push left in the shared transaction when it ended without its
    /// commit (an error, a push out of order, a dropped request). Were the savepoint gone
    /// (SQLite rolls a whole transaction back on some errors, a full disk among them), the
    /// pushes waiting on the shared commit are told it failed.
    async fn undo_push(&self, group: &mut Group) -> Result<()> {
        group.undo = false;
        let Some(tx) = group.tx.as_mut() else {
            return Ok(());
        };
        let undone = sqlx::raw_sql("ROLLBACK TO push; RELEASE push")
            .execute(&mut **tx)
            .await;
        if let Err(e) = undone {
            self.fail_group(group, &e.to_string());
            return Err(e.into());
        }
        if group.pushes == 0 {
            // Nothing else is in it: no transaction is left open.
            if let Some(tx) = group.tx.take() {
                tx.rollback().await?;
            }
        }
        Ok(())
    }

    /// Commit the shared transaction, if one is open, and tell the pushes waiting on it.
    async fn settle(&self, group: &mut Group) -> Result<()> {
        if group.undo {
            self.undo_push(group).await?;
        }
        let Some(tx) = group.tx.take() else {
            return Ok(());
        };
        let done = Telling(group.reset());
        let committed = tx.commit().await;
        match committed {
            Ok(()) => {
                if done.0.raised_alert.load(Ordering::SeqCst) {
                    self.outbox.notify_one();
                }
                done.0.finish(Ok(()));
                Ok(())
            }
            Err(e) => {
                done.0.finish(Err(e.to_string()));
                Err(e.into())
            }
        }
    }

    /// End the shared transaction unsaved, telling the pushes waiting on it why.
    fn fail_group(&self, group: &mut Group, why: &str) {
        group.undo = false;
        group.tx = None;
        group.reset().finish(Err(why.to_owned()));
    }

    /// Wait for the shared commit a push joined. Should no writer come to make it (the one
    /// that waited gave up), the push makes it itself.
    async fn wait_commit(&self, done: Arc<Done>) -> Result<()> {
        loop {
            let notified = done.told.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(outcome) = done.outcome.get() {
                return outcome.clone().map_err(StoreError::SharedCommit);
            }
            if tokio::time::timeout(GROUP_WAIT, notified).await.is_err() {
                let mut group = self.write_turn().await;
                if Arc::ptr_eq(&group.done, &done) {
                    self.settle(&mut group).await?;
                }
            }
        }
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
    ) -> Result<(Option<MutexGuard<'_, Group>>, Transaction<'static, Sqlite>)> {
        self.begin_write().await
    }
}

/// Pushes in one shared transaction at most before it is committed.
const GROUP_PUSHES: usize = 64;
/// How long a shared transaction takes in more pushes, from its first.
const GROUP_AGE: Duration = Duration::from_millis(10);
/// How long a push waits for the writer after it to make the shared commit before it makes
/// it itself (that writer gave up).
const GROUP_WAIT: Duration = Duration::from_millis(50);

/// The write transaction pushes share (group commit). SQLite has one writer, and a commit is
/// an fsync that other writers wait behind: a push that ends while another writer waits for
/// its turn leaves the transaction open to it, under the push's savepoint released, and waits
/// for the commit; the writer that finds nobody waiting after it — or the group full, or old
/// — commits it and tells them all. A push is answered only after the commit that holds it,
/// as before; one that fails rolls back to its savepoint and the others stay.
#[derive(Default)]
pub struct Group {
    /// The shared transaction, open while pushes in it wait for its commit.
    tx: Option<Transaction<'static, Sqlite>>,
    /// A push ended without its commit: its savepoint is rolled back before anything else.
    undo: bool,
    /// Pushes released into `tx`, waiting for its commit.
    pushes: usize,
    /// When `tx` began.
    opened: Option<Instant>,
    /// The commit's outcome, for the pushes waiting on it.
    done: Arc<Done>,
}

impl Group {
    /// A new group's outcome in place of this one's, which is returned to be told.
    fn reset(&mut self) -> Arc<Done> {
        self.pushes = 0;
        self.opened = None;
        std::mem::take(&mut self.done)
    }
}

/// A shared commit's outcome, told to the pushes that wait on it.
#[derive(Default)]
pub struct Done {
    outcome: std::sync::OnceLock<std::result::Result<(), String>>,
    told: tokio::sync::Notify,
    /// An op in the group raised an alert: its sender is told after the commit.
    raised_alert: std::sync::atomic::AtomicBool,
}

impl Done {
    fn finish(&self, outcome: std::result::Result<(), String>) {
        let _ = self.outcome.set(outcome);
        self.told.notify_waiters();
    }
}

/// A shared commit being made: were it given up half-way (its request dropped), the pushes
/// waiting on it are told it failed, not left waiting. (They answer an error, the phones push
/// again, and ops the commit did store are answered as duplicates.)
struct Telling(Arc<Done>);

impl Drop for Telling {
    fn drop(&mut self) {
        self.0
            .finish(Err("the shared commit was interrupted".to_owned()));
    }
}

/// One writer waiting for the write lock, for as long as it waits.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An op batch's transaction ([`SqliteStore::begin_batch`]), holding the write lock.
pub struct BatchTx<'a> {
    group: MutexGuard<'a, Group>,
    store: &'a SqliteStore,
    /// A push's savepoint in the shared transaction, not a transaction of its own.
    shared: bool,
    /// Committed, or its end handled.
    ended: bool,
    /// A push's savepoint released already ([`finish_batch`]): its rows can no longer be
    /// undone alone, so were it dropped now, the next writer's undo would fail the group.
    released: bool,
}

impl std::ops::Deref for BatchTx<'_> {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        self.group
            .tx
            .as_deref()
            .expect("a batch's transaction is open while it lasts")
    }
}

impl std::ops::DerefMut for BatchTx<'_> {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.group
            .tx
            .as_deref_mut()
            .expect("a batch's transaction is open while it lasts")
    }
}

impl Drop for BatchTx<'_> {
    /// Ended without its commit: a transaction of its own is rolled back (sqlx rolls back a
    /// dropped one); a push's savepoint is rolled back by the next writer, or by a push of
    /// the group that stops waiting.
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        if self.shared {
            self.group.undo = true;
        } else {
            self.group.tx = None;
        }
    }
}

/// Commit an op batch: its own transaction at once; a push's savepoint released into the
/// shared transaction, committed now or by the writers after it ([`Group`]), and answered
/// once that commit is made.
async fn commit_batch(
    mut tx: BatchTx<'_>,
    raised_alert: bool,
    outbox: &tokio::sync::Notify,
) -> Result<()> {
    if !tx.shared {
        tx.ended = true;
        if let Some(own) = tx.group.tx.take() {
            own.commit().await?;
        }
        if raised_alert {
            outbox.notify_one();
        }
        return Ok(());
    }
    if !tx.released {
        sqlx::query("RELEASE push").execute(&mut *tx).await?;
    }
    tx.ended = true;
    let store = tx.store;
    let group = &mut *tx.group;
    group.pushes += 1;
    if raised_alert {
        group.done.raised_alert.store(true, Ordering::SeqCst);
    }
    let young = group.opened.is_some_and(|t| t.elapsed() < GROUP_AGE);
    if store.waiting.load(Ordering::SeqCst) > 0 && group.pushes < GROUP_PUSHES && young {
        let done = group.done.clone();
        drop(tx);
        return store.wait_commit(done).await;
    }
    store.settle(group).await
}

/// An op batch keeps the rounds and visits read to look up what its ops name
/// ([`super::OpBatch::run`]), and its ops are decided on them: the one writer's transaction
/// holds the write lock, so nobody changes them meanwhile, and it sees every push of its group.
const KEEP_BATCH_READS: bool = true;

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
    if pending.is_empty() {
        return Ok(());
    }
    on_handle(tx, |db| write_held(db, pending)).await
}

/// Before an op batch's commit, in one turn on the connection's handle: the rows held back,
/// each device's `seq` moved on, and a push's savepoint released into the shared transaction
/// — three hand-offs to sqlx's worker thread and back made one, each of which, under load,
/// waits for that thread to be scheduled while the write lock is held.
async fn finish_batch(tx: &mut BatchTx<'_>, rows: &mut super::sql::TxRows) -> Result<()> {
    let pending = std::mem::take(&mut rows.pending);
    let seqs = rows.moved_seqs();
    let release = tx.shared;
    on_handle(&mut *tx, |db| {
        write_held(db, &pending)?;
        if !seqs.is_empty() {
            let mut update = db.prepare("UPDATE devices SET last_seq = ?2 WHERE id = ?1")?;
            for (device, seq) in &seqs {
                update.execute((device, seq))?;
            }
        }
        if release {
            db.execute_batch("RELEASE push")?;
        }
        Ok(())
    })
    .await?;
    tx.released = release;
    rows.inserted(&pending);
    Ok(())
}

/// [`insert_held`]'s statements.
fn write_held(db: &rusqlite::Connection, pending: &super::sql::Pending) -> rusqlite::Result<()> {
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
        let mut insert = db.prepare(
            "INSERT INTO results (id, visit_id, item_key, data) VALUES (?1, ?2, ?3, ?4)",
        )?;
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
