//! A phone's storage can fail under the engine: a write that errors, a disk that fills up in
//! the middle of a write, an fsync that fails, a read that errors. The engine's database sits on
//! a VFS that fails on purpose, and the injection point is swept across every write, fsync and
//! read of a round walked with photos and a report. At each point the step that meets the
//! failure returns an error (never a panic, and a full disk says so), the database is not
//! damaged, every step acknowledged before is there with its op, the failed step left nothing
//! of itself, and once the storage is sound again the same engine takes that step and the rest.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Instant;

use patrol_core::checklist::{Answer, ChecklistItem, ItemKind};
use patrol_core::engine::{Engine, EngineOptions, ReportDraft, ScanResult};
use patrol_core::ids::RunId;
use patrol_core::issue::Source;
use patrol_core::labels::SiteKey;
use patrol_core::patrol::{Missed, Outcome};
use patrol_core::route::Route;
use patrol_e2e::device_state::{DeviceState, Saved};
use patrol_e2e::sqlite_faults::{Fault, FaultyVfs, Io};

/// The steps of the walk, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Start,
    Scan,
    AnswerOk,
    Photo,
    AnswerFault,
    SecondPhoto,
    Report,
    VisitByHand,
    AnswerThere,
    Finish,
}

const WALK: [Step; 10] = [
    Step::Start,
    Step::Scan,
    Step::AnswerOk,
    Step::Photo,
    Step::AnswerFault,
    Step::SecondPhoto,
    Step::Report,
    Step::VisitByHand,
    Step::AnswerThere,
    Step::Finish,
];

/// A small camera picture; `seed` makes each one a different photo.
fn camera_jpeg(seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(96, 72, |x, y| {
        image::Rgb([(x as u8).wrapping_mul(seed), (y * 3) as u8, seed])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

fn ok_answer(item: &ChecklistItem) -> Answer {
    match &item.kind {
        ItemKind::Check => Answer {
            outcome: Some(Outcome::Ok),
            ..Answer::default()
        },
        ItemKind::Reading {
            normal_min,
            normal_max,
            ..
        } => Answer {
            reading: Some(normal_min.or(*normal_max).unwrap_or(0.0)),
            ..Answer::default()
        },
        ItemKind::Text => Answer {
            note: Some("正常".into()),
            ..Answer::default()
        },
    }
}

/// A round walked step by step, remembering what the steps gave back.
struct Walk {
    route: Route,
    tokens: Vec<String>,
    run: Option<RunId>,
    first: Option<ScanResult>,
    second: Option<ScanResult>,
    photos: Vec<String>,
}

impl Walk {
    fn new(engine: &Engine) -> Walk {
        let route = engine
            .routes()
            .unwrap()
            .into_iter()
            .find(|r| r.checkpoint_ids.len() >= 3)
            .unwrap();
        let tokens = route
            .checkpoint_ids
            .iter()
            .map(|id| engine.checkpoint(*id).unwrap().unwrap().qr_token)
            .collect();
        Walk {
            route,
            tokens,
            run: None,
            first: None,
            second: None,
            photos: Vec::new(),
        }
    }

    fn fault_item(scan: &ScanResult) -> &ChecklistItem {
        let items = &scan.template.items;
        items
            .iter()
            .find(|i| matches!(i.kind, ItemKind::Check) && i.photo_on_fault)
            .or_else(|| items.iter().find(|i| matches!(i.kind, ItemKind::Check)))
            .unwrap()
    }

    fn take(&mut self, engine: &Engine, step: Step) -> patrol_core::Result<Saved> {
        let run = || self.run.unwrap();
        Ok(match step {
            Step::Start => {
                let id = engine.start_round(self.route.id)?;
                self.run = Some(id);
                Saved::Run(id.to_string())
            }
            Step::Scan => {
                let scan = engine.scan(run(), &self.tokens[0])?;
                let id = scan.visit_id.to_string();
                self.first = Some(scan);
                Saved::Visit(id)
            }
            Step::AnswerOk | Step::AnswerThere => {
                let scan = if step == Step::AnswerOk {
                    self.first.as_ref()
                } else {
                    self.second.as_ref()
                };
                let scan = scan.unwrap();
                let fault_key = &Walk::fault_item(scan).key;
                let item = scan
                    .template
                    .items
                    .iter()
                    .find(|i| &i.key != fault_key)
                    .unwrap();
                let r = engine.answer(scan.visit_id, &item.key, ok_answer(item))?;
                Saved::Result(r.id.to_string())
            }
            Step::Photo | Step::SecondPhoto => {
                let id = engine.add_photo(&camera_jpeg(self.photos.len() as u8 + 1))?;
                self.photos.push(id.clone());
                Saved::Photo(id)
            }
            Step::AnswerFault => {
                let scan = self.first.as_ref().unwrap();
                let item = Walk::fault_item(scan);
                let answer = Answer {
                    outcome: Some(Outcome::Fault),
                    note: Some("门闭合器损坏".into()),
                    photos: self.photos[..1].to_vec(),
                    ..Answer::default()
                };
                let r = engine.answer(scan.visit_id, &item.key, answer)?;
                Saved::Result(r.id.to_string())
            }
            Step::Report => {
                let scan = self.first.as_ref().unwrap();
                let issue = engine.report(ReportDraft {
                    site_id: None,
                    visit_id: Some(scan.visit_id),
                    item_key: Some(Walk::fault_item(scan).key.clone()),
                    zone_id: None,
                    category: None,
                    severity: None,
                    title: "防火门闭门器损坏".into(),
                    note: None,
                    photos: self.photos.clone(),
                    fixed_on_spot: false,
                    source: Source::Patrol,
                })?;
                Saved::Issue(issue.id.to_string())
            }
            Step::VisitByHand => {
                let scan = engine.visit_manually(
                    run(),
                    self.route.checkpoint_ids[1],
                    "标签污损无法扫描",
                )?;
                let id = scan.visit_id.to_string();
                self.second = Some(scan);
                Saved::Visit(id)
            }
            Step::Finish => {
                let missed = self.route.checkpoint_ids[2..]
                    .iter()
                    .map(|id| Missed {
                        checkpoint_id: *id,
                        reason: "电梯停运，无法到达".into(),
                    })
                    .collect();
                engine.finish_round(run(), missed)?;
                Saved::Finished(run().to_string())
            }
        })
    }
}

/// A signed-in phone with the demo estate pulled, closed: the copy every sweep point starts from.
fn prepared_phone(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let db = dir.join("patrol.db");
    let engine = Engine::open(&db).unwrap();
    let estate = patrol_core::demo::estate("demo", "阳光花园", &SiteKey::generate().unwrap());
    engine.apply_pull(&estate.reference_changes(), "1").unwrap();
    engine
        .set_session(&estate.user("demo-patrol").unwrap().into())
        .unwrap();
    db
}

fn copy_phone(from: &Path, to: &Path) -> PathBuf {
    std::fs::create_dir_all(to).unwrap();
    let db = to.join("patrol.db");
    std::fs::copy(from, &db).unwrap();
    // A closed engine may leave its last commits in the WAL (its reader closes last, read-only).
    let wal = from.with_extension("db-wal");
    if wal.exists() {
        std::fs::copy(wal, db.with_extension("db-wal")).unwrap();
    }
    db
}

/// Copy a phone's database, WAL and photos as they are on disk this instant: what a crash
/// would leave (the WAL index in shared memory is rebuilt from the WAL by the next opener).
fn crash_copy(db: &Path, photo_dir: &Path, to: &Path) -> PathBuf {
    let copy = copy_phone(db, to);
    std::fs::create_dir_all(to.join("photos")).unwrap();
    for entry in std::fs::read_dir(photo_dir).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join("photos").join(entry.file_name())).unwrap();
    }
    copy
}

fn open_on(db: &Path, vfs: &FaultyVfs) -> Engine {
    Engine::open_with(
        db,
        EngineOptions {
            vfs: Some(vfs.name().to_owned()),
            ..EngineOptions::default()
        },
    )
    .unwrap()
}

/// The error a step gave: the one a person is shown for that failure.
fn assert_clear(err: &patrol_core::Error, fault: Fault, at: &str) {
    let text = err.to_string();
    match fault {
        Fault::DiskFull => {
            assert!(
                matches!(err, patrol_core::Error::StorageFull),
                "{at}: a full disk gave {err:?}"
            );
            assert!(
                matches!(
                    patrol_mobile::PatrolError::from(patrol_core::Error::StorageFull),
                    patrol_mobile::PatrolError::StorageFull(_)
                ),
                "{at}: a full disk crosses to the apps as StorageFull"
            );
        }
        _ => assert!(
            matches!(err, patrol_core::Error::Store(_)) && text.contains("本机数据库错误"),
            "{at}: an I/O error gave {err:?}"
        ),
    }
}

/// Walk the round with `fault` injected at the `nth` call of its kind; check everything the
/// module's doc says. Returns the step that met the fault.
fn walk_with_fault(base: &Path, dir: &Path, vfs: &FaultyVfs, fault: Fault, nth: u64) -> Step {
    let at = format!("{fault:?} at {:?} call {nth}", fault.io());
    let db = copy_phone(base, dir);
    let photo_dir = dir.join("photos");
    let engine = open_on(&db, vfs);
    let mut walk = Walk::new(&engine);
    let mut saved: Vec<Saved> = Vec::new();
    vfs.fail(fault, nth);
    let mut failed = None;
    for (i, step) in WALK.iter().enumerate() {
        let outcome = catch_unwind(AssertUnwindSafe(|| walk.take(&engine, *step)))
            .unwrap_or_else(|_| panic!("{at}: {step:?} panicked"));
        match outcome {
            Ok(s) => saved.push(s),
            Err(e) => {
                assert_clear(&e, fault, &format!("{at}, {step:?}"));
                failed = Some(i);
                break;
            }
        }
    }
    let failed = failed
        .unwrap_or_else(|| panic!("{at}: every step succeeded ({} calls failed)", vfs.failed()));
    let step = WALK[failed];

    // What the failure left, read beside the still-open engine.
    let state = DeviceState::read(&db, &photo_dir);
    state.assert_sound(&format!("{at}, after {step:?} failed"));
    let misses = state.misses(&saved);
    assert!(misses.is_empty(), "{at}, after {step:?} failed: {misses:?}");
    // After a failed fsync the photo's row may yet come back from the WAL (below), so its
    // files stay; any other failure takes back what the step wrote.
    let kept_for_the_wal =
        fault == Fault::FsyncError && matches!(step, Step::Photo | Step::SecondPhoto);
    assert!(
        (state.unqueued_photo_files.is_empty() || kept_for_the_wal)
            && state.stray_thumbnails.is_empty()
            && state.temp_files.is_empty(),
        "{at}: the failed {step:?} left photo files {:?} {:?} {:?}",
        state.unqueued_photo_files,
        state.stray_thumbnails,
        state.temp_files
    );

    // What a crash at this moment would leave: the files as they are now, opened afresh (the
    // WAL is recovered from the file; nothing in memory survives).
    let crashed = crash_copy(&db, &photo_dir, &dir.join("crashed"));
    drop(Engine::open(&crashed).unwrap());
    let after_crash = DeviceState::read(&crashed, &dir.join("crashed/photos"));
    after_crash.assert_sound(&format!("{at}, crashed after {step:?} failed"));
    let lost = after_crash.lost(&saved);
    assert!(lost.is_empty(), "{at}: a crash lost acknowledged {lost:?}");
    // Only a failed fsync may leave the step committed after all, and then whole.
    let extra = after_crash.op_ids.len() + after_crash.photos.len()
        - state.op_ids.len()
        - state.photos.len();
    assert!(
        extra == 0 || (extra == 1 && fault == Fault::FsyncError),
        "{at}: after a crash the failed {step:?} is there ({extra} more ops and photos)"
    );

    // Sound storage again: the same engine takes the failed step and the rest.
    vfs.heal();
    for step in &WALK[failed..] {
        match walk.take(&engine, *step) {
            Ok(s) => saved.push(s),
            Err(e) => panic!("{at}: {step:?} fails after the storage healed: {e}"),
        }
    }
    drop(engine);
    drop(Engine::open(&db).unwrap());
    let state = DeviceState::read(&db, &photo_dir);
    state.assert_sound(&format!("{at}, reopened after the walk"));
    let misses = state.misses(&saved);
    assert!(
        misses.is_empty(),
        "{at}, reopened after the walk: {misses:?}"
    );
    step
}

#[test]
fn every_failed_write_fsync_or_read_fails_one_step_cleanly_and_the_engine_recovers() {
    let started = Instant::now();
    // The walk is taken some four hundred times; on a tmpfs a photo's fsyncs cost nothing.
    let root = tempfile::tempdir_in(patrol_e2e::in_memory_temp_root()).unwrap();
    let base = prepared_phone(&root.path().join("base"));
    let vfs = FaultyVfs::register();

    // A walk without faults: how many calls of each kind it makes.
    let db = copy_phone(&base, &root.path().join("dry"));
    let engine = open_on(&db, &vfs);
    let mut walk = Walk::new(&engine);
    let before = [Io::Read, Io::Write, Io::Sync].map(|io| vfs.calls(io));
    for step in WALK {
        walk.take(&engine, step).unwrap();
    }
    let calls = [Io::Read, Io::Write, Io::Sync].map(|io| vfs.calls(io) - before[io as usize]);
    drop(engine);
    DeviceState::read(&db, &root.path().join("dry/photos")).assert_sound("the dry walk");
    assert!(
        calls.iter().all(|&n| n > 0),
        "the walk reads, writes and syncs: {calls:?}"
    );

    let mut points = 0;
    for fault in Fault::ALL {
        let mut met = std::collections::BTreeMap::<String, u64>::new();
        for nth in 1..=calls[fault.io() as usize] {
            let dir = root.path().join(format!("{fault:?}-{nth}"));
            let step = walk_with_fault(&base, &dir, &vfs, fault, nth);
            *met.entry(format!("{step:?}")).or_default() += 1;
            std::fs::remove_dir_all(&dir).unwrap();
            points += 1;
        }
        eprintln!("{fault:?}: the failure met {met:?}");
    }
    eprintln!(
        "{points} injection points ({calls:?} reads, writes, syncs per walk) in {:?}",
        started.elapsed()
    );
}
