//! Statements run on the calling thread, straight on the handle of an open sqlx SQLite
//! connection, inside whatever transaction that connection is in.
//!
//! sqlx runs every SQLite statement on the connection's worker thread: the statement goes over
//! a channel, and its answer and each row it returns come back over another — at least two
//! thread wake-ups a statement, which on a small machine cost more than the statement itself.
//! The sync server's push writes hundreds of rows a transaction, so those go through here.
//!
//! This crate is the one place the server's code reaches below safe Rust (the server itself
//! forbids `unsafe`): it hands sqlx's `sqlite3*` to rusqlite for the length of one closure.

use rusqlite::Connection;
use sqlx::SqliteConnection;

/// Run `f` on this thread with a rusqlite connection on `conn`'s own SQLite handle: its
/// statements are part of `conn`'s open transaction, if any. The outer error is sqlx's (its
/// worker could not be reached), the inner one `f`'s. `f` must not wait on anything but
/// SQLite: `conn`'s worker thread is parked on the handle's lock until it returns.
pub async fn on_handle<T>(
    conn: &mut SqliteConnection,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> Result<rusqlite::Result<T>, sqlx::Error> {
    let mut locked = conn.lock_handle().await?;
    let handle = locked.as_raw_handle();
    // SAFETY: `handle` is sqlx's open connection, and while `locked` lives sqlx guarantees that
    // its worker thread makes no call on it or on any of its statements. `db` is dropped before
    // `locked`: a connection made from a handle it does not own finalises the statements it
    // prepared and leaves the handle open. rusqlite and sqlx link the same libsqlite3-sys (the
    // workspace has one version of it; another would not compile here, as the handle's type
    // would differ), so both drive one SQLite library.
    #[allow(unsafe_code)]
    let db = match unsafe { Connection::from_handle(handle.as_ptr()) } {
        Ok(db) => db,
        Err(e) => return Ok(Err(e)),
    };
    let out = f(&db);
    drop(db);
    drop(locked);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::{Connection as _, Row};

    async fn open(dir: &tempfile::TempDir) -> SqliteConnection {
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let mut conn = SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)")
            .execute(&mut conn)
            .await
            .unwrap();
        conn
    }

    async fn names(conn: &mut SqliteConnection) -> Vec<String> {
        sqlx::query("SELECT name FROM t ORDER BY id")
            .fetch_all(conn)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    #[tokio::test]
    async fn statements_on_the_handle_are_part_of_the_open_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(&dir).await;

        let mut tx = conn.begin().await.unwrap();
        sqlx::query("INSERT INTO t (name) VALUES ('甲')")
            .execute(&mut *tx)
            .await
            .unwrap();
        let seen = on_handle(&mut tx, |db| {
            db.execute("INSERT INTO t (name) VALUES (?1)", ["乙"])?;
            db.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(seen, 2, "the handle sees the transaction's own rows");
        tx.rollback().await.unwrap();
        assert!(names(&mut conn).await.is_empty(), "rolled back together");

        let mut tx = conn.begin().await.unwrap();
        on_handle(&mut tx, |db| {
            db.execute("INSERT INTO t (name) VALUES ('丙')", [])
        })
        .await
        .unwrap()
        .unwrap();
        sqlx::query("INSERT INTO t (name) VALUES ('丁')")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(names(&mut conn).await, ["丙", "丁"], "committed together");
    }

    #[tokio::test]
    async fn a_failed_statement_is_the_closures_error_and_the_connection_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(&dir).await;
        let twice = on_handle(&mut conn, |db| {
            db.execute("INSERT INTO t (name) VALUES ('甲')", [])?;
            db.execute("INSERT INTO t (name) VALUES ('甲')", [])
        })
        .await
        .unwrap();
        match twice {
            Err(rusqlite::Error::SqliteFailure(e, _)) => {
                assert_eq!(e.extended_code, rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(names(&mut conn).await, ["甲"], "sqlx goes on after it");
    }
}
