//! A phone app can be killed at any instant. A child process walks rounds on the device engine
//! and is killed with SIGKILL at random moments, again and again; after every kill the database
//! must hold each action whole with its outbox op or not at all, `seq` must have no gaps, and no
//! half-written photo may exist.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use patrol_core::blob::sha256_hex;
use patrol_core::engine::Engine;
use patrol_core::labels::SiteKey;
use rusqlite::Connection;

const KILLS: u32 = 200;

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Every invariant a killed app must leave behind.
fn check(db: &Path, photo_dir: &Path, round: u32) -> i64 {
    // Reopening is what the app does next; it also sweeps temp files a kill left.
    drop(Engine::open(db).unwrap());
    let conn = Connection::open(db).unwrap();

    let seqs: Vec<i64> = conn
        .prepare("SELECT seq FROM outbox ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "seq gap after kill {round}"
    );

    // Each record and its op exist together or not at all.
    let pairs = [
        (
            "SELECT count(*) FROM runs",
            "patrol.start",
            "run_id",
            "runs",
        ),
        (
            "SELECT count(*) FROM visits",
            "patrol.visit",
            "visit_id",
            "visits",
        ),
        (
            "SELECT count(*) FROM results",
            "patrol.result",
            "result_id",
            "results",
        ),
        (
            "SELECT count(*) FROM issues",
            "issue.report",
            "issue_id",
            "issues",
        ),
    ];
    for (rows_sql, kind, field, table) in pairs {
        let rows = count(&conn, rows_sql);
        let ops = count(
            &conn,
            &format!("SELECT count(*) FROM outbox WHERE kind = '{kind}'"),
        );
        assert_eq!(rows, ops, "{table} rows vs {kind} ops after kill {round}");
        let orphans = count(
            &conn,
            &format!(
                "SELECT count(*) FROM outbox o WHERE o.kind = '{kind}'
                 AND NOT EXISTS (SELECT 1 FROM {table} t WHERE t.id = json_extract(o.body, '$.{field}'))"
            ),
        );
        assert_eq!(orphans, 0, "{kind} op without its row after kill {round}");
    }
    let finished = count(&conn, "SELECT count(*) FROM runs WHERE finished = 1");
    let finishes = count(
        &conn,
        "SELECT count(*) FROM outbox WHERE kind = 'patrol.finish'",
    );
    assert_eq!(
        finished, finishes,
        "finished rounds vs patrol.finish ops after kill {round}"
    );
    let open_rounds = count(&conn, "SELECT count(*) FROM runs WHERE finished = 0");
    assert!(open_rounds <= 1, "one round at a time");

    // Every photo row has its whole file; every file is whole; no temp file survives.
    let photos: BTreeSet<String> = conn
        .prepare("SELECT id FROM photos")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for id in &photos {
        let bytes = std::fs::read(photo_dir.join(format!("{id}.jpg")))
            .unwrap_or_else(|e| panic!("photo {id} has a row but no file after kill {round}: {e}"));
        assert_eq!(
            &sha256_hex(&bytes),
            id,
            "half-written photo after kill {round}"
        );
        assert!(photo_dir.join(format!("{id}.thumb.jpg")).exists());
    }
    for entry in std::fs::read_dir(photo_dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            !name.starts_with(".tmp-"),
            "temp file {name} left after reopening"
        );
        if let Some(id) = name.strip_suffix(".jpg").filter(|n| !n.ends_with(".thumb")) {
            // A file without a row (killed between file and commit) is harmless, but whole.
            if !photos.contains(id) {
                let bytes = std::fs::read(photo_dir.join(&name)).unwrap();
                assert_eq!(
                    sha256_hex(&bytes),
                    id,
                    "half-written photo file after kill {round}"
                );
            }
        }
    }
    // Every photo an op names is queued.
    let named: Vec<String> = conn
        .prepare(
            "SELECT DISTINCT p.value FROM outbox o, json_each(json_extract(o.body, '$.photos')) p",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for id in named {
        assert!(
            photos.contains(&id),
            "an op names photo {id} that is not queued"
        );
    }
    seqs.len() as i64
}

#[test]
fn killing_the_app_at_any_moment_loses_nothing_and_halves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("patrol.db");
    {
        let engine = Engine::open(&db).unwrap();
        let estate = patrol_core::demo::estate("demo", "阳光花园", &SiteKey::generate().unwrap());
        engine.apply_pull(&estate.reference_changes(), "1").unwrap();
        let u = estate.user("demo-patrol").unwrap();
        engine.set_session(&u.into()).unwrap();
    }
    let photo_dir = dir.path().join("photos");
    let child = env!("CARGO_BIN_EXE_patrol-crash-child");
    let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
    let started = Instant::now();
    let mut ops = 0;
    for round in 0..KILLS {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let mut worker = Command::new(child)
            .arg(&db)
            .arg((rng | 1).to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Let it open the database and get going, then kill it mid-stride.
        std::thread::sleep(Duration::from_millis(15 + rng % 120));
        if let Ok(Some(status)) = worker.try_wait() {
            let out = worker.wait_with_output().unwrap();
            panic!(
                "the worker stopped by itself ({status}) before kill {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        worker.kill().unwrap(); // SIGKILL
        worker.wait().unwrap();
        ops = check(&db, &photo_dir, round);
    }
    eprintln!(
        "{KILLS} kills in {:?}; {ops} ops survived in order",
        started.elapsed()
    );
    assert!(
        ops > i64::from(KILLS),
        "the worker made progress between kills ({ops} ops)"
    );
}
