//! The device's SQLite database: one writer and one reader connection in WAL mode, migrations
//! keyed on `PRAGMA user_version`, and `read` / `write` closures (a write is one transaction).

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::error::{Error, Result};

/// Numbered migrations; the index + 1 is the schema version they produce.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/001_records.sql"),
    include_str!("migrations/002_photos_and_rejections.sql"),
    include_str!("migrations/003_alerts.sql"),
    include_str!("migrations/004_results_by_visit.sql"),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// The two connections to the device database.
pub struct Store {
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    // Every action reads and writes through a dozen statements; keep them all prepared.
    conn.set_prepared_statement_cache_capacity(64);
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // FULL: a committed action survives power loss, not only an app kill.
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

impl Store {
    /// Open (creating if needed) and bring the schema up to date.
    pub fn open(path: &Path) -> Result<Store> {
        Store::open_on(path, None)
    }

    /// Open on a named SQLite VFS (`None`: the default one).
    pub fn open_on(path: &Path, vfs: Option<&str>) -> Result<Store> {
        let open = |flags: OpenFlags| match vfs {
            Some(vfs) => Connection::open_with_flags_and_vfs(path, flags, vfs),
            None => Connection::open_with_flags(path, flags),
        };
        let writer = open(OpenFlags::default())?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        configure(&writer)?;
        migrate(&writer, SCHEMA_VERSION)?;
        let reader = open(OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        configure(&reader)?;
        Ok(Store {
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
        })
    }

    /// Run read-only queries.
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.reader.lock().map_err(|_| Error::Poisoned)?;
        f(&conn)
    }

    /// Run a change as one transaction: committed if `f` returns `Ok`, rolled back otherwise.
    pub fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.writer.lock().map_err(|_| Error::Poisoned)?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }
}

/// Apply the migrations the database has not seen, up to `target`, each in its own transaction.
pub fn migrate(conn: &Connection, target: u32) -> Result<()> {
    let current: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    for version in current..target.min(SCHEMA_VERSION) {
        let sql = MIGRATIONS[version as usize];
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {};\nCOMMIT;",
            version + 1
        ))
        .inspect_err(|_| {
            let _ = conn.execute_batch("ROLLBACK");
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(conn: &Connection) -> Vec<(String, String)> {
        let mut stmt = conn
            .prepare("SELECT name, sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY name")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn upgrading_from_the_first_schema_matches_a_fresh_one_and_keeps_data() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old.db");
        {
            let conn = Connection::open(&old).unwrap();
            migrate(&conn, 1).unwrap();
            conn.execute(
                "INSERT INTO outbox (seq, op_id, kind, at, body) VALUES (1, 'op-1', 'patrol.start', 't', '{}')",
                [],
            )
            .unwrap();
        }
        let upgraded = Store::open(&old).unwrap();
        let fresh = Store::open(&dir.path().join("fresh.db")).unwrap();
        let a = upgraded.read(|c| Ok(schema(c))).unwrap();
        let b = fresh.read(|c| Ok(schema(c))).unwrap();
        assert_eq!(a, b);
        let version: u32 = upgraded
            .read(|c| Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let kept: (String, String) = upgraded
            .read(|c| {
                Ok(
                    c.query_row("SELECT op_id, state FROM outbox WHERE seq = 1", [], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })?,
                )
            })
            .unwrap();
        assert_eq!(kept, ("op-1".to_owned(), "pending".to_owned()));
    }

    #[test]
    fn answers_keep_the_order_they_were_given_through_the_v4_rebuild() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v3.db");
        {
            let conn = Connection::open(&path).unwrap();
            migrate(&conn, 3).unwrap();
            conn.execute_batch(
                "INSERT INTO runs (id, route_id, site_id, patroller_id, started_at_ms, finished, data)
                     VALUES ('run', 'route', 'site', 'me', 0, 0, '{}');
                 INSERT INTO visits (id, run_id, checkpoint_id, at_ms, data)
                     VALUES ('v', 'run', 'cp', 0, '{}');",
            )
            .unwrap();
            // Given b, then a, then c: the rowid order, which v4 keeps as `answered`.
            for (id, key) in [("r1", "b"), ("r2", "a"), ("r3", "c")] {
                conn.execute(
                    "INSERT INTO results (id, visit_id, item_key, outcome, data) VALUES (?1, 'v', ?2, 'ok', ?1)",
                    [id, key],
                )
                .unwrap();
            }
        }
        let store = Store::open(&path).unwrap();
        let order: Vec<String> = store
            .read(|c| {
                let mut stmt =
                    c.prepare("SELECT data FROM results WHERE visit_id = 'v' ORDER BY answered")?;
                let rows = stmt.query_map([], |r| r.get(0))?;
                Ok(rows.collect::<rusqlite::Result<_>>()?)
            })
            .unwrap();
        assert_eq!(order, ["r1", "r2", "r3"]);
    }

    #[test]
    fn a_database_from_a_newer_app_is_refused_not_damaged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let err = Store::open(&path).err().unwrap();
        assert!(matches!(err, Error::SchemaTooNew { .. }), "{err}");
    }

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("d.db")).unwrap();
        let r: Result<()> = store.write(|tx| {
            tx.execute("INSERT INTO meta (key, value) VALUES ('a', '1')", [])?;
            Err(Error::Poisoned)
        });
        assert!(r.is_err());
        let n: i64 = store
            .read(|c| Ok(c.query_row("SELECT count(*) FROM meta", [], |r| r.get(0))?))
            .unwrap();
        assert_eq!(n, 0);
    }
}
