//! A phone whose storage fills up during a round. The engine's database and photo folder sit
//! on a small tmpfs the test mounts and fills; answers and photos are recorded until the disk
//! refuses them. Every refused step says the storage is full (in the apps' error too), every
//! step acknowledged before is kept with its op, nothing half-written is left, an app started
//! again on the full phone opens and shows it all, and once space is freed the same engine and
//! a reopened one record again with `seq` running on without a gap.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};
use std::time::Instant;

use patrol_core::checklist::{Answer, ChecklistItem, ItemKind};
use patrol_core::engine::{Engine, FlowError, ReportDraft, ScanResult};
use patrol_core::ids::RunId;
use patrol_core::issue::Source;
use patrol_core::labels::SiteKey;
use patrol_core::patrol::{Missed, Outcome};
use patrol_e2e::device_state::{DeviceState, Saved};
use patrol_e2e::small_disk::{SmallDisk, on_small_disk};

/// A camera picture of noise, which JPEG cannot shrink much: some 400 KB with its thumbnail
/// once normalised. The noise is made once; `seed` is drawn along the top edge, so
/// that each picture is a photo of its own.
fn noisy_jpeg(seed: u64) -> Vec<u8> {
    static NOISE: std::sync::OnceLock<image::RgbImage> = std::sync::OnceLock::new();
    let mut img = NOISE
        .get_or_init(|| {
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
            image::RgbImage::from_fn(640, 480, |_, _| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                image::Rgb([x as u8, (x >> 8) as u8, (x >> 16) as u8])
            })
        })
        .clone();
    // The seed's low 16 bits as black and white squares along the top, which no JPEG blurs.
    for (x, y) in (0..640).flat_map(|x| (0..40).map(move |y| (x, y))) {
        let bit = seed >> (x / 40) & 1;
        img.put_pixel(x, y, image::Rgb([if bit == 1 { 255 } else { 0 }; 3]));
    }
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

fn answer_for(item: &ChecklistItem, fault: bool, photos: Vec<String>) -> Answer {
    match &item.kind {
        ItemKind::Check => Answer {
            outcome: Some(if fault { Outcome::Fault } else { Outcome::Ok }),
            note: fault.then(|| "松动".to_owned()),
            photos,
            ..Answer::default()
        },
        ItemKind::Reading { normal_min, .. } => Answer {
            reading: Some(normal_min.unwrap_or(0.0)),
            photos,
            ..Answer::default()
        },
        ItemKind::Text => Answer {
            note: Some("正常".into()),
            photos,
            ..Answer::default()
        },
    }
}

/// A full disk's refusal, as core gives it and as the apps get it.
fn assert_storage_full(err: patrol_core::Error, what: &str) {
    let text = err.to_string();
    assert!(
        matches!(err, patrol_core::Error::StorageFull),
        "{what} on a full disk gave {err:?}"
    );
    assert!(
        text.contains("手机存储空间已满") && text.contains("the phone's storage is full"),
        "{what}: {text}"
    );
    match patrol_mobile::PatrolError::from(err) {
        patrol_mobile::PatrolError::StorageFull(message) => assert_eq!(message, text),
        other => panic!("{what} crosses to the apps as {other:?}"),
    }
}

/// The phone as it is after a step failed or succeeded: sound, and holding what was saved.
fn assert_holds(db: &Path, photo_dir: &Path, saved: &[Saved], when: &str) -> DeviceState {
    let state = DeviceState::read(db, photo_dir);
    state.assert_sound(when);
    let misses = state.misses(saved);
    assert!(misses.is_empty(), "{when}: {misses:?}");
    assert!(
        state.temp_files.is_empty(),
        "{when}: temp files {:?} take space on a full disk",
        state.temp_files
    );
    assert!(
        state.unqueued_photo_files.is_empty() && state.stray_thumbnails.is_empty(),
        "{when}: photo files {:?} and thumbnails {:?} without a row take space on a full disk",
        state.unqueued_photo_files,
        state.stray_thumbnails
    );
    state
}

/// A round under way: its checkpoints' labels, scanned in turn.
struct Round {
    run: RunId,
    tokens: Vec<String>,
    next: usize,
}

fn start(engine: &Engine, saved: &mut Vec<Saved>) -> Round {
    let route = engine.routes().unwrap().into_iter().next().unwrap();
    let run = engine.start_round(route.id).unwrap();
    saved.push(Saved::Run(run.to_string()));
    let tokens = route
        .checkpoint_ids
        .iter()
        .map(|id| engine.checkpoint(*id).unwrap().unwrap().qr_token)
        .collect();
    Round {
        run,
        tokens,
        next: 0,
    }
}

fn scan_next(engine: &Engine, round: &mut Round) -> patrol_core::Result<ScanResult> {
    let token = &round.tokens[round.next % round.tokens.len()];
    let scan = engine.scan(round.run, token)?;
    round.next += 1;
    Ok(scan)
}

/// Record answers, with a photo for every check item, until the disk refuses a step; that step
/// and its error.
fn record_until_full(
    engine: &Engine,
    round: &mut Round,
    saved: &mut Vec<Saved>,
    seed: &mut u64,
) -> (&'static str, patrol_core::Error) {
    for _ in 0..100 {
        let scan = match scan_next(engine, round) {
            Ok(scan) => scan,
            Err(e) => return ("a scan", e),
        };
        saved.push(Saved::Visit(scan.visit_id.to_string()));
        for item in &scan.template.items {
            let mut photos = Vec::new();
            if matches!(item.kind, ItemKind::Check) {
                *seed += 1;
                match engine.add_photo(&noisy_jpeg(*seed)) {
                    Ok(id) => {
                        saved.push(Saved::Photo(id.clone()));
                        photos.push(id);
                    }
                    Err(e) => return ("a photo", e),
                }
            }
            let fault = !photos.is_empty();
            match engine.answer(scan.visit_id, &item.key, answer_for(item, fault, photos)) {
                Ok(r) => saved.push(Saved::Result(r.id.to_string())),
                Err(e) => return ("an answer", e),
            }
        }
    }
    panic!("a hundred checkpoints with photos and the disk never filled");
}

/// Answer a check item as a fault and report it, both with `photos`.
fn report(
    engine: &Engine,
    scan: &ScanResult,
    photos: Vec<String>,
) -> patrol_core::Result<[Saved; 2]> {
    let item = scan
        .template
        .items
        .iter()
        .find(|i| matches!(i.kind, ItemKind::Check))
        .unwrap();
    let result = engine.answer(
        scan.visit_id,
        &item.key,
        answer_for(item, true, photos.clone()),
    )?;
    let issue = engine.report(ReportDraft {
        site_id: None,
        visit_id: Some(scan.visit_id),
        item_key: Some(item.key.clone()),
        zone_id: None,
        category: None,
        severity: None,
        title: "墙面渗水".into(),
        note: Some("发现时间在巡查中".into()),
        photos,
        fixed_on_spot: false,
        source: Source::Patrol,
    })?;
    Ok([
        Saved::Result(result.id.to_string()),
        Saved::Issue(issue.id.to_string()),
    ])
}

/// A reason for each checkpoint of the round not visited.
fn missed_of(engine: &Engine, run: RunId) -> Vec<Missed> {
    engine
        .progress(run)
        .unwrap()
        .remaining
        .iter()
        .map(|c| Missed {
            checkpoint_id: c.id,
            reason: "手机存储已满，未能记录".into(),
        })
        .collect()
}

fn prepared_phone(dir: &Path) -> (PathBuf, Engine) {
    std::fs::create_dir_all(dir).unwrap();
    let db = dir.join("patrol.db");
    let engine = Engine::open(&db).unwrap();
    let estate = patrol_core::demo::estate("demo", "阳光花园", &SiteKey::generate().unwrap());
    engine.apply_pull(&estate.reference_changes(), "1").unwrap();
    engine
        .set_session(&estate.user("demo-patrol").unwrap().into())
        .unwrap();
    (db, engine)
}

fn a_full_phone(disk: &SmallDisk) {
    let started = Instant::now();
    let (db, engine) = prepared_phone(&disk.path().join("phone"));
    let photo_dir = engine.photo_dir().to_owned();
    let mut saved = Vec::new();
    let mut seed = 0;

    // A few photos' worth of space: the first refusal is a photo's file or the database's.
    let filler = disk.fill_leaving(1600 * 1024).unwrap();
    let mut round = start(&engine, &mut saved);
    let (what, err) = record_until_full(&engine, &mut round, &mut saved, &mut seed);
    assert_storage_full(err, what);
    assert_holds(
        &db,
        &photo_dir,
        &saved,
        &format!("after {what} was refused"),
    );
    let recorded = saved.len();
    let photos = saved.iter().filter(|s| !s.has_op()).count();
    assert!(
        photos >= 2 && recorded > photos + 2,
        "the disk filled after {recorded} steps, {photos} of them photos"
    );

    // Not a byte left: every kind of step is refused, each for the full disk, none half-done.
    disk.fill().unwrap();
    assert_storage_full(scan_next(&engine, &mut round).unwrap_err(), "a scan");
    assert_holds(&db, &photo_dir, &saved, "after a scan was refused");
    seed += 1;
    assert_storage_full(engine.add_photo(&noisy_jpeg(seed)).unwrap_err(), "a photo");
    assert_holds(&db, &photo_dir, &saved, "after a photo was refused");
    let visit = saved
        .iter()
        .rev()
        .find_map(|s| match s {
            Saved::Visit(id) => Some(id.parse().unwrap()),
            _ => None,
        })
        .unwrap();
    let sheet = engine.checklist(visit).unwrap();
    let item = &sheet.template.items[0];
    assert_storage_full(
        engine
            .answer(visit, &item.key, answer_for(item, false, Vec::new()))
            .unwrap_err(),
        "an answer",
    );
    assert_storage_full(
        engine
            .finish_round(round.run, missed_of(&engine, round.run))
            .unwrap_err(),
        "finishing",
    );
    let before_restart = assert_holds(&db, &photo_dir, &saved, "after every step was refused");

    // The app started again on the full phone opens and has everything.
    {
        let again = Engine::open(&db).unwrap();
        assert_eq!(
            again.pending_counts().unwrap().ops as usize,
            before_restart.op_ids.len()
        );
        assert!(matches!(
            again.start_round(again.routes().unwrap()[0].id),
            Err(patrol_core::Error::Flow(FlowError::RoundUnderWay { .. }))
        ));
    }
    assert_holds(&db, &photo_dir, &saved, "after a restart on the full phone");

    // Space returns: the same engine records again, photos and a report included.
    std::fs::remove_file(&filler).unwrap();
    let scan = scan_next(&engine, &mut round).unwrap();
    saved.push(Saved::Visit(scan.visit_id.to_string()));
    seed += 1;
    let photo = engine.add_photo(&noisy_jpeg(seed)).unwrap();
    saved.push(Saved::Photo(photo.clone()));
    saved.extend(report(&engine, &scan, vec![photo]).unwrap());
    engine
        .finish_round(round.run, missed_of(&engine, round.run))
        .unwrap();
    saved.push(Saved::Finished(round.run.to_string()));
    let state = assert_holds(&db, &photo_dir, &saved, "after space returned");
    assert!(state.op_ids.len() > before_restart.op_ids.len());
    drop(engine);

    // And so does a reopened one, its ops numbered on from the last.
    let engine = Engine::open(&db).unwrap();
    let mut round = start(&engine, &mut saved);
    let scan = scan_next(&engine, &mut round).unwrap();
    saved.push(Saved::Visit(scan.visit_id.to_string()));
    seed += 1;
    let photo = engine.add_photo(&noisy_jpeg(seed)).unwrap();
    saved.push(Saved::Photo(photo.clone()));
    saved.extend(report(&engine, &scan, vec![photo]).unwrap());
    let ops = engine.pending_ops(10_000).unwrap();
    let seqs: Vec<u64> = ops.iter().map(|op| op.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    drop(engine);
    assert_holds(&db, &photo_dir, &saved, "reopened after space returned");
    eprintln!(
        "{what} refused after {recorded} steps ({photos} photos); {} steps saved in {:?}",
        saved.len(),
        started.elapsed()
    );
}

#[test]
fn a_full_phone_says_so_keeps_what_it_saved_and_works_again_once_space_is_freed() {
    on_small_disk(
        "a_full_phone_says_so_keeps_what_it_saved_and_works_again_once_space_is_freed",
        "6m",
        a_full_phone,
    );
}
