//! A phone app can be killed at any instant. A child process walks rounds on the device engine
//! — answers, faults with one or two photos, reports with the fault's photos and more, problems
//! reported on their own with photos — and is killed with SIGKILL at random moments, again and
//! again. After every kill the phone must hold each action whole with its outbox op or not at
//! all, `seq` must have no gaps, every photo a record or an op names must be queued and whole on
//! disk (its hash is its name) with its thumbnail, the photos a record names must be those its
//! op sends, no temp file may survive the next start, and nothing there before the kill may be
//! gone after it.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use patrol_core::engine::Engine;
use patrol_core::labels::SiteKey;
use patrol_e2e::device_state::DeviceState;
use rusqlite::Connection;

const KILLS: u32 = 200;

fn count(db: &Path, sql: &str) -> i64 {
    Connection::open(db)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

/// Every rule a killed app must leave unbroken, and nothing of `before` lost.
fn check(db: &Path, photo_dir: &Path, kill: u32, before: &DeviceState) -> DeviceState {
    // Reopening is what the app does next; it also sweeps temp files a kill left.
    drop(Engine::open(db).unwrap());
    let state = DeviceState::read(db, photo_dir);
    state.assert_sound(&format!("after kill {kill}"));
    assert!(
        state.temp_files.is_empty(),
        "temp files {:?} left after reopening, kill {kill}",
        state.temp_files
    );
    let lost = state.keeps(before);
    assert!(lost.is_empty(), "kill {kill} lost {lost:?}");
    state
}

#[test]
fn killing_the_app_at_any_moment_loses_nothing_and_halves_nothing() {
    // On a tmpfs: a photo's four fsyncs on a busy disk would take most of a worker's life.
    let dir = tempfile::tempdir_in(patrol_e2e::in_memory_temp_root()).unwrap();
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
    let mut state = DeviceState::default();
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
        state = check(&db, &photo_dir, round, &state);
    }
    let ops = state.op_ids.len();
    let on_their_own = count(
        &db,
        "SELECT count(*) FROM outbox WHERE kind = 'issue.report'
         AND json_extract(body, '$.visit_id') IS NULL
         AND json_array_length(json_extract(body, '$.photos')) > 0",
    );
    let with_more_photos = count(
        &db,
        "SELECT count(*) FROM outbox WHERE json_array_length(json_extract(body, '$.photos')) > 1",
    );
    eprintln!(
        "{KILLS} kills in {:?}; {ops} ops survived in order, {} photos, {} issues ({on_their_own} \
         reported on their own with photos), {with_more_photos} ops with several photos",
        started.elapsed(),
        state.photos.len(),
        state.issues.len(),
    );
    assert!(
        ops > KILLS as usize,
        "the worker made progress between kills ({ops} ops)"
    );
    assert!(
        on_their_own > 0 && with_more_photos > 0 && state.photos.len() > 10,
        "the worker took photos and reported with them"
    );
}
