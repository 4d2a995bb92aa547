//! The offline engine on the phone (DESIGN.md §2, §6): a synchronous API over a local SQLite
//! database. Every user action is one transaction that writes the change and its outbox
//! operation together, so an app killed at any moment loses nothing and sends nothing twice.
//!
//! The phone calls it from a background thread; it is `Send + Sync`.

mod alerts;
mod jobs;
mod outbox;
mod patrol;
mod photos;
mod reference;
pub mod store;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiff::Timestamp;
use rusqlite::{OptionalExtension, Transaction, params};

pub use self::jobs::JobsScope;
pub use self::outbox::{PendingCounts, PendingOp, Rejection};
pub use self::patrol::{Progress, ReportDraft, RouteToday, ScanResult, VisitChecklist};
use self::store::Store;
pub use crate::error::FlowError;
use crate::error::{Error, Result};
use crate::ids::DeviceId;
use crate::user::Actor;
use crate::wire::{Op, OpBody, SessionUser};

/// Where the engine gets the time; tests and the field simulator supply their own.
pub trait Clock: Send + Sync {
    /// Now, by the device's clock.
    fn now(&self) -> Timestamp;
}

/// The device's own clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// How to open the engine; the default is what the apps use.
#[derive(Clone)]
pub struct EngineOptions {
    /// Where the engine gets the time.
    pub clock: Arc<dyn Clock>,
    /// The registered name of the SQLite VFS to keep the database on; `None` is the platform's
    /// own. The fault-injection tests give one that fails writes on purpose.
    pub vfs: Option<String>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            clock: Arc::new(SystemClock),
            vfs: None,
        }
    }
}

impl std::fmt::Debug for EngineOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineOptions")
            .field("vfs", &self.vfs)
            .finish_non_exhaustive()
    }
}

/// The device engine.
pub struct Engine {
    store: Store,
    photo_dir: PathBuf,
    photo_lock: std::sync::Mutex<()>,
    clock: Arc<dyn Clock>,
    device_id: DeviceId,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("photo_dir", &self.photo_dir)
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

const META_DEVICE_ID: &str = "device_id";
const META_SESSION: &str = "session";
const META_CURSOR: &str = "pull_cursor";
const META_ACCESS: &str = "access_token";
const META_REFRESH: &str = "refresh_token";
const META_LAST_USER: &str = "last_user";

impl Engine {
    /// Open the engine on a database file; photos live in a `photos` folder beside it.
    pub fn open(db_path: &Path) -> Result<Engine> {
        Engine::open_with_clock(db_path, Arc::new(SystemClock))
    }

    /// Open with a given clock.
    pub fn open_with_clock(db_path: &Path, clock: Arc<dyn Clock>) -> Result<Engine> {
        Engine::open_with(
            db_path,
            EngineOptions {
                clock,
                ..EngineOptions::default()
            },
        )
    }

    /// Open with the given options.
    pub fn open_with(db_path: &Path, options: EngineOptions) -> Result<Engine> {
        let EngineOptions { clock, vfs } = options;
        let store = Store::open_on(db_path, vfs.as_deref())?;
        let photo_dir = db_path
            .parent()
            .unwrap_or_else(|| Path::new("."))
            .join("photos");
        std::fs::create_dir_all(&photo_dir)?;
        crate::photo::clean_temp_files(&photo_dir)?;
        let device_id = store.write(|tx| {
            if let Some(id) = get_meta(tx, META_DEVICE_ID)? {
                return id.parse().map_err(|_| Error::Corrupt("device id"));
            }
            let id = DeviceId::new();
            set_meta(tx, META_DEVICE_ID, &id.to_string())?;
            Ok(id)
        })?;
        Ok(Engine {
            store,
            photo_dir,
            photo_lock: std::sync::Mutex::new(()),
            clock,
            device_id,
        })
    }

    /// This installation's id, made on first open.
    pub fn device_id(&self) -> DeviceId {
        self.device_id
    }

    /// The folder photos are kept in.
    pub fn photo_dir(&self) -> &Path {
        &self.photo_dir
    }

    /// Now, by the engine's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Remember who is signed in (after a login, or a switch of user on a shared phone). A new
    /// person pulls from the start: what the server sends depends on who asks, so the previous
    /// person's cursor would skip the new person's sites.
    pub fn set_session(&self, user: &SessionUser) -> Result<()> {
        let json = serde_json::to_string(user)?;
        let id = user.id.to_string();
        self.store.write(|tx| {
            // The last person survives a sign-out, so a switch of person is seen either way.
            if get_meta(tx, META_LAST_USER)?.is_some_and(|last| last != id) {
                tx.execute("DELETE FROM meta WHERE key = ?1", [META_CURSOR])?;
            }
            set_meta(tx, META_LAST_USER, &id)?;
            set_meta(tx, META_SESSION, &json)
        })
    }

    /// Forget the signed-in user and their tokens. Their queued work stays queued.
    pub fn clear_session(&self) -> Result<()> {
        self.store.write(|tx| {
            for key in [META_SESSION, META_ACCESS, META_REFRESH] {
                tx.execute("DELETE FROM meta WHERE key = ?1", [key])?;
            }
            Ok(())
        })
    }

    /// Who is signed in.
    pub fn session(&self) -> Result<Option<SessionUser>> {
        self.store.read(session_in)
    }

    fn actor(&self) -> Result<Actor> {
        self.store.read(actor_in)
    }

    /// Keep the tokens of a sign-in (the phone's sandbox protects the database).
    pub fn set_tokens(&self, access: &str, refresh: &str) -> Result<()> {
        self.store.write(|tx| {
            set_meta(tx, META_ACCESS, access)?;
            set_meta(tx, META_REFRESH, refresh)
        })
    }

    /// The access and refresh tokens of the current sign-in.
    pub fn tokens(&self) -> Result<Option<(String, String)>> {
        self.store
            .read(|c| Ok(get_meta(c, META_ACCESS)?.zip(get_meta(c, META_REFRESH)?)))
    }

    /// The cursor of the last pull.
    pub fn pull_cursor(&self) -> Result<Option<String>> {
        self.store.read(|c| get_meta(c, META_CURSOR))
    }
}

fn get_meta(conn: &rusqlite::Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

fn session_in(conn: &rusqlite::Connection) -> Result<Option<SessionUser>> {
    let Some(json) = get_meta(conn, META_SESSION)? else {
        return Ok(None);
    };
    Ok(Some(serde_json::from_str(&json)?))
}

/// Who is signed in, read on `conn` (a write transaction's, for its checks).
fn actor_in(conn: &rusqlite::Connection) -> Result<Actor> {
    let user = session_in(conn)?.ok_or(Error::NotSignedIn)?;
    Ok(Actor {
        user_id: user.id,
        role: user.role,
        team: user.team,
        site_ids: user.sites,
    })
}

fn set_meta(tx: &Transaction<'_>, key: &str, value: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// Milliseconds since the epoch, for columns that order by time.
fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

/// Append an operation to the outbox inside the caller's transaction. `seq` is the next number
/// after the highest ever used, so it has no gaps. An op past the bounds the server enforces is
/// refused here, so the phone never queues what the server would reject for its size.
fn enqueue(tx: &Transaction<'_>, at: Timestamp, body: &OpBody) -> Result<Op> {
    crate::bounds::check_op(body)?;
    let seq: i64 = tx
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) + 1 FROM outbox")?
        .query_row([], |r| r.get(0))?;
    let op = Op::new(crate::ids::OpId::new(), seq as u64, at, body);
    tx.prepare_cached(
        "INSERT INTO outbox (seq, op_id, kind, at, body) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        seq,
        op.op_id.to_string(),
        op.kind,
        op.at.to_string(),
        serde_json::to_string(&op.body)?
    ])?;
    Ok(op)
}

#[cfg(test)]
mod tests;
