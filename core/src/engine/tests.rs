use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::checklist::{Answer, ChecklistItem, ItemKind};
use crate::demo::{self, Estate};
use crate::issue::{Category, Source, Status};
use crate::labels::{LabelError, SiteKey};
use crate::patrol::{Missed, Outcome};
use crate::site::ZoneKind;
use crate::sla::SlaState;
use crate::team::Team;
use crate::wire::{Change, Entity, OpBody, OpResult, OpStatus};

/// A clock the test moves by hand.
pub(crate) struct TestClock(Mutex<Timestamp>);

impl TestClock {
    pub(crate) fn at(s: &str) -> Arc<TestClock> {
        Arc::new(TestClock(Mutex::new(s.parse().unwrap())))
    }

    pub(crate) fn advance(&self, secs: i64) {
        *self.0.lock().unwrap() += SignedDuration::from_secs(secs);
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

pub(crate) fn sign_in(engine: &Engine, e: &Estate, username: &str) {
    engine
        .set_session(&e.user(username).unwrap().into())
        .unwrap();
}

/// A camera-style JPEG: a gradient with a block in one corner.
pub(crate) fn camera_jpeg(w: u32, h: u32, seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        if x < w / 4 && y < h / 4 {
            image::Rgb([200, 30, seed])
        } else {
            image::Rgb([(x * 255 / w) as u8, (y * 255 / h) as u8, 120])
        }
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// An honest answer to an item: ok, a reading inside its range, or a short text.
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
        } => {
            let v = match (normal_min, normal_max) {
                (Some(lo), Some(hi)) => (lo + hi) / 2.0,
                (Some(lo), None) => *lo,
                (None, Some(hi)) => *hi,
                (None, None) => 0.0,
            };
            Answer {
                reading: Some(v),
                ..Answer::default()
            }
        }
        ItemKind::Text => Answer {
            note: Some("正常".into()),
            ..Answer::default()
        },
    }
}

fn setup() -> (tempfile::TempDir, Engine, Arc<TestClock>, Estate) {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::at("2026-11-23T09:00:00+08:00");
    let engine = Engine::open_with_clock(&dir.path().join("patrol.db"), clock.clone()).unwrap();
    let key = SiteKey::generate().unwrap();
    let e = demo::estate("demo", "阳光花园", &key);
    engine.apply_pull(&e.reference_changes(), "c1").unwrap();
    (dir, engine, clock, e)
}

#[test]
fn a_full_round_leaves_every_row_and_its_op() {
    let (_dir, engine, clock, e) = setup();
    sign_in(&engine, &e, "demo-patrol");
    let today = engine.routes_today().unwrap();
    assert_eq!(today.len(), 2);
    assert_eq!(
        today[0].route.name, "楼栋巡查 / Building round",
        "ordered by first round time"
    );
    let route = today[0].route.clone();
    let run = engine.start_round(route.id).unwrap();
    assert!(matches!(
        engine.start_round(route.id),
        Err(Error::Flow(FlowError::RoundUnderWay { run_id })) if run_id == run
    ));

    // The 2栋 rooftop is skipped: its door is being repaired.
    let skipped = route.checkpoint_ids[9];
    assert_eq!(e.zone_of(skipped).unwrap().kind, ZoneKind::Rooftop);

    let mut photos = Vec::new();
    let mut expected_results = 0;
    let mut reports = Vec::new();
    let mut reading_fault_seen = false;
    for (n, cp_id) in route.checkpoint_ids.iter().enumerate() {
        if *cp_id == skipped {
            continue;
        }
        clock.advance(95);
        let cp = e.checkpoints.iter().find(|c| c.id == *cp_id).unwrap();
        let scan = engine.scan(run, &cp.qr_token).unwrap();
        assert_eq!(scan.checkpoint.id, *cp_id);
        assert!(
            scan.flags.is_empty(),
            "an honest walk raises no flags: {:?}",
            scan.flags
        );
        assert_eq!(scan.template.zone_kind, scan.zone.kind);
        for item in &scan.template.items {
            let mut answer = ok_answer(item);
            let first_photo_check = scan.zone.kind == ZoneKind::Stairwell
                && n == 3
                && matches!(item.kind, ItemKind::Check)
                && item.photo_on_fault
                && !reports.iter().any(|(v, _)| *v == scan.visit_id);
            if first_photo_check {
                // A fault that needs a photo is refused without one, then saved with it.
                answer = Answer {
                    outcome: Some(Outcome::Fault),
                    ..Answer::default()
                };
                let refused = engine.answer(scan.visit_id, &item.key, answer.clone());
                assert!(matches!(
                    refused,
                    Err(Error::Answer(crate::checklist::AnswerError::PhotoRequired))
                ));
                let photo = engine.add_photo(&camera_jpeg(1200, 900, n as u8)).unwrap();
                photos.push(photo.clone());
                answer.photos = vec![photo.clone()];
                answer.note = Some("灯管不亮".into());
                let r = engine.answer(scan.visit_id, &item.key, answer).unwrap();
                assert_eq!(r.outcome, Outcome::Fault);
                reports.push((scan.visit_id, item.key.clone()));
                let issue = engine
                    .report(ReportDraft {
                        site_id: None,
                        visit_id: Some(scan.visit_id),
                        item_key: Some(item.key.clone()),
                        zone_id: None,
                        category: None,
                        severity: None,
                        title: format!("{}：{}", cp.name, item.text.zh),
                        note: Some("灯管不亮".into()),
                        photos: vec![photo],
                        fixed_on_spot: false,
                        source: Source::Patrol,
                    })
                    .unwrap();
                assert_eq!(issue.category, item.fault.category);
                assert_eq!(issue.status, Status::Open);
                assert_eq!(issue.checkpoint_id, Some(*cp_id));
                assert_eq!(issue.due_at, clock.now() + SignedDuration::from_hours(72));
                expected_results += 1;
                continue;
            }
            if let ItemKind::Reading {
                normal_max: Some(max),
                ..
            } = item.kind
                && scan.zone.kind == ZoneKind::Meter
                && !reading_fault_seen
            {
                // A reading above the range is a fault whatever was ticked.
                reading_fault_seen = true;
                answer = Answer {
                    reading: Some(max + 1.5),
                    outcome: Some(Outcome::Ok),
                    ..Answer::default()
                };
                if item.photo_on_fault {
                    let photo = engine.add_photo(&camera_jpeg(1600, 1200, 7)).unwrap();
                    photos.push(photo.clone());
                    answer.photos = vec![photo];
                }
                let r = engine.answer(scan.visit_id, &item.key, answer).unwrap();
                assert_eq!(r.outcome, Outcome::Fault);
                assert_eq!(r.reading, Some(max + 1.5));
                engine
                    .report(ReportDraft {
                        site_id: None,
                        visit_id: Some(scan.visit_id),
                        item_key: Some(item.key.clone()),
                        zone_id: None,
                        category: None,
                        severity: None,
                        title: format!("{}读数异常", cp.name),
                        note: Some(format!("读数 {}", max + 1.5)),
                        photos: r.photos.clone(),
                        fixed_on_spot: false,
                        source: Source::Patrol,
                    })
                    .unwrap();
                expected_results += 1;
                continue;
            }
            engine.answer(scan.visit_id, &item.key, answer).unwrap();
            expected_results += 1;
        }
        if scan.zone.kind == ZoneKind::Lobby && n == 0 {
            // A blocked doorway, cleared by the guard on the spot.
            let issue = engine
                .report(ReportDraft {
                    site_id: None,
                    visit_id: Some(scan.visit_id),
                    item_key: None,
                    zone_id: None,
                    category: Some(Category::Cleaning),
                    severity: None,
                    title: "大堂门口纸箱堆放，已清理".into(),
                    note: None,
                    photos: vec![],
                    fixed_on_spot: true,
                    source: Source::Patrol,
                })
                .unwrap();
            assert_eq!(issue.status, Status::Closed);
        }
    }
    assert!(reading_fault_seen, "the meter room has a reading item");
    assert_eq!(reports.len(), 1);

    let progress = engine.progress(run).unwrap();
    assert_eq!((progress.visited, progress.total), (11, 12));
    assert_eq!(
        progress.remaining.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![skipped]
    );
    assert_eq!(progress.answered as usize, expected_results);
    assert_eq!(progress.faults, 2);

    // Finishing needs a reason for the skipped rooftop.
    let err = engine.finish_round(run, vec![]).unwrap_err();
    assert!(err.to_string().contains("2栋逃生天台"), "{err}");
    let reason = "天台门维修中，工程部已封闭";
    let finished = engine
        .finish_round(
            run,
            vec![Missed {
                checkpoint_id: skipped,
                reason: reason.into(),
            }],
        )
        .unwrap();
    assert_eq!(finished.missed.len(), 1);
    assert!(finished.flags.is_empty(), "the round took long enough");
    assert!(matches!(
        engine.scan(run, &e.checkpoints[0].qr_token),
        Err(Error::Round(crate::round::RoundError::RoundFinished))
    ));

    // The outbox holds every action, in order, with seq 1..=n and no gaps.
    let ops = engine.pending_ops(10_000).unwrap();
    let seqs: Vec<u64> = ops.iter().map(|o| o.seq).collect();
    assert_eq!(seqs, (1..=ops.len() as u64).collect::<Vec<_>>());
    let count = |kind: &str| ops.iter().filter(|o| o.kind == kind).count();
    assert_eq!(count("patrol.start"), 1);
    assert_eq!(count("patrol.visit"), 11);
    assert_eq!(count("patrol.result"), expected_results);
    assert_eq!(count("issue.report"), 3);
    assert_eq!(count("patrol.finish"), 1);
    assert_eq!(ops.len(), 1 + 11 + expected_results + 3 + 1);
    assert_eq!(ops[0].kind, "patrol.start");
    assert_eq!(ops.last().unwrap().kind, "patrol.finish");
    let OpBody::PatrolFinish(f) = ops.last().unwrap().decode().unwrap() else {
        panic!()
    };
    assert_eq!(
        f.missed,
        vec![Missed {
            checkpoint_id: skipped,
            reason: reason.into()
        }]
    );
    // Every op names only photos that are queued for upload.
    let queued: BTreeSet<String> = engine.pending_photos(100).unwrap().into_iter().collect();
    for op in &ops {
        for blob in op.decode().unwrap().blobs() {
            assert!(queued.contains(blob), "{} names an unqueued photo", op.kind);
            assert!(engine.photo_path(blob).exists());
            assert!(engine.thumbnail_path(blob).exists());
            assert_eq!(
                engine.photo_file(blob, false).unwrap(),
                engine.photo_path(blob)
            );
            assert_eq!(
                engine.photo_file(blob, true).unwrap(),
                engine.thumbnail_path(blob)
            );
        }
    }
    // A string that is not a photo id never becomes a path (the app hands these over).
    for bad in ["../patrol.db", "", &"A".repeat(64)] {
        assert!(matches!(
            engine.photo_file(bad, true),
            Err(Error::Flow(FlowError::NotAPhoto))
        ));
    }
    let counts = engine.pending_counts().unwrap();
    assert_eq!(counts.ops, ops.len() as u64);
    assert_eq!(counts.photos, photos.len() as u64);

    // Rows match: every result row has its op, and the issues are as reported.
    let issues = engine.jobs(JobsScope::All).unwrap();
    assert_eq!(issues.len(), 3);
    assert_eq!(
        issues
            .iter()
            .filter(|i| i.fixed_on_spot && i.status == Status::Closed)
            .count(),
        1
    );

    // The server answers: everything applied but one rejected op, which stays visible.
    let mut results: Vec<OpResult> = ops
        .iter()
        .map(|o| OpResult {
            op_id: o.op_id,
            status: OpStatus::Applied,
            code: None,
            message: None,
        })
        .collect();
    results[5].status = OpStatus::Rejected;
    results[5].code = Some("bad_signature".into());
    results[5].message = Some("标签签名无效 / invalid label".into());
    engine.acknowledge(&results).unwrap();
    assert!(engine.pending_ops(100).unwrap().is_empty());
    let counts = engine.pending_counts().unwrap();
    assert_eq!((counts.ops, counts.rejected), (0, 1));
    let rejected = engine.rejections().unwrap();
    assert_eq!(rejected[0].code, "bad_signature");
    engine.dismiss_rejection(rejected[0].seq).unwrap();
    assert_eq!(engine.pending_counts().unwrap().rejected, 0);
}

#[test]
fn labels_that_are_not_this_sites_are_refused_offline() {
    let (_dir, engine, clock, e) = setup();
    sign_in(&engine, &e, "demo-patrol");
    let route = &e.routes[0];
    let run = engine.start_round(route.id).unwrap();
    clock.advance(60);
    // Another estate's genuine label: named when the patroller works there too (the server
    // knows the same sites of theirs), a bad signature when only the phone has it cached.
    let other_key = SiteKey::generate().unwrap();
    let other = demo::estate("other", "翠湖苑", &other_key);
    engine
        .apply_pull(&[Change::of(&Entity::Site(other.site.clone()))], "c2")
        .unwrap();
    assert!(matches!(
        engine.scan(run, &other.checkpoints[0].qr_token),
        Err(Error::Label(LabelError::BadSignature))
    ));
    let mut both: crate::wire::SessionUser = e.user("demo-patrol").unwrap().into();
    both.sites.push(other.site.id);
    engine.set_session(&both).unwrap();
    let err = engine
        .scan(run, &other.checkpoints[0].qr_token)
        .unwrap_err();
    assert!(
        matches!(&err, Error::Label(LabelError::OtherSite { site }) if site == "翠湖苑"),
        "{err}"
    );
    // A label signed with a key that is not the site's.
    let forged = crate::labels::sign(e.site.id, route.checkpoint_ids[0], &other_key);
    assert!(matches!(
        engine.scan(run, &forged),
        Err(Error::Label(LabelError::BadSignature))
    ));
    assert!(matches!(
        engine.scan(run, "https://example.com/"),
        Err(Error::Label(LabelError::NotPatrolLabel))
    ));
    // A genuine label of this site that is not on this route.
    let off_route = e.routes[1].checkpoint_ids[0];
    let token = &e
        .checkpoints
        .iter()
        .find(|c| c.id == off_route)
        .unwrap()
        .qr_token;
    assert!(matches!(
        engine.scan(run, token),
        Err(Error::Round(crate::round::RoundError::NotOnRoute { .. }))
    ));
    // Nothing refused reached the outbox.
    let kinds: Vec<String> = engine
        .pending_ops(100)
        .unwrap()
        .into_iter()
        .map(|o| o.kind)
        .collect();
    assert_eq!(kinds, ["patrol.start"]);
}

#[test]
fn scans_too_fast_or_twice_are_flagged_but_never_blocked() {
    let (_dir, engine, clock, e) = setup();
    sign_in(&engine, &e, "demo-patrol");
    let route = &e.routes[0];
    let token = |i: usize| {
        e.checkpoints
            .iter()
            .find(|c| c.id == route.checkpoint_ids[i])
            .unwrap()
            .qr_token
            .clone()
    };
    let run = engine.start_round(route.id).unwrap();
    clock.advance(60);
    let first = engine.scan(run, &token(0)).unwrap();
    assert!(first.flags.is_empty());
    assert_eq!(first.method, crate::patrol::VisitMethod::Qr);
    clock.advance(3);
    let fast = engine.scan(run, &token(1)).unwrap();
    assert!(
        matches!(
            fast.flags.as_slice(),
            [crate::plausibility::ScanFlag::TooFast { .. }]
        ),
        "{:?}",
        fast.flags
    );
    clock.advance(10);
    let again = engine.scan(run, &token(1)).unwrap();
    assert!(
        again
            .flags
            .iter()
            .any(|f| matches!(f, crate::plausibility::ScanFlag::RepeatScan { .. }))
    );
    let visit_ops = engine
        .pending_ops(100)
        .unwrap()
        .into_iter()
        .filter(|o| o.kind == "patrol.visit")
        .count();
    assert_eq!(visit_ops, 3);
    // A manual visit needs a reason.
    let cp = route.checkpoint_ids[2];
    assert!(matches!(
        engine.visit_manually(run, cp, " "),
        Err(Error::Round(crate::round::RoundError::ReasonRequired))
    ));
    clock.advance(120);
    let manual = engine.visit_manually(run, cp, "二维码被撕毁").unwrap();
    assert_eq!(manual.checkpoint.id, cp);
    assert_eq!(manual.method, crate::patrol::VisitMethod::Manual);
}

#[test]
fn the_sla_state_of_an_issue_runs_on_the_engines_clock() {
    let (_dir, engine, clock, e) = setup();
    sign_in(&engine, &e, "demo-patrol");
    let zone = e.zones.iter().find(|z| z.kind == ZoneKind::Lobby).unwrap();
    let report = |fixed_on_spot| {
        engine
            .report(ReportDraft {
                site_id: Some(e.site.id),
                visit_id: None,
                item_key: None,
                zone_id: Some(zone.id),
                category: Some(Category::Cleaning),
                severity: None,
                title: "大堂地面有积水".into(),
                note: None,
                photos: vec![],
                fixed_on_spot,
                source: Source::Patrol,
            })
            .unwrap()
    };
    let issue = report(false);
    // A routine issue has three days; the test clock, not the machine's, says how many are left.
    assert_eq!(engine.sla_state(&issue), Some(SlaState::OnTrack));
    clock.advance(49 * 3600);
    assert_eq!(engine.sla_state(&issue), Some(SlaState::DueSoon));
    clock.advance(23 * 3600);
    assert_eq!(engine.sla_state(&issue), Some(SlaState::Overdue));
    // Fixed on the spot arrives closed: no clock runs for it.
    assert_eq!(engine.sla_state(&report(true)), None);
}

#[test]
fn people_are_the_sites_users_or_one_teams() {
    let (_dir, engine, _clock, e) = setup();
    sign_in(&engine, &e, "demo-super");
    let everyone = engine.people(None).unwrap();
    assert_eq!(everyone.len(), e.users.len());
    let engineers: Vec<String> = engine
        .people(Some(Team::Engineering))
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(engineers, ["demo-tech"]);
    assert!(engine.people(Some(Team::Landscaping)).unwrap().is_empty());
}

#[test]
fn technicians_and_supervisors_work_the_queue_from_cached_data() {
    let (_dir, engine, clock, e) = setup();
    sign_in(&engine, &e, "demo-patrol");
    let zone = e.zones.iter().find(|z| z.kind == ZoneKind::Garage).unwrap();
    let draft = |title: &str, category| ReportDraft {
        site_id: Some(e.site.id),
        visit_id: None,
        item_key: None,
        zone_id: Some(zone.id),
        category: Some(category),
        severity: None,
        title: title.into(),
        note: None,
        photos: vec![],
        fixed_on_spot: false,
        source: Source::Desk,
    };
    let light = engine
        .report(draft("车库照明灯不亮", Category::Facility))
        .unwrap();
    clock.advance(3600);
    let lamp2 = engine
        .report(draft("车库出口道闸异响", Category::Facility))
        .unwrap();
    engine
        .report(draft("车库地面油污", Category::Cleaning))
        .unwrap();

    sign_in(&engine, &e, "demo-super");
    let tech = e.user("demo-tech").unwrap();
    let cleaner = e.user("demo-cleaner").unwrap();
    assert!(matches!(
        engine.assign(light.id, cleaner.id),
        Err(Error::Rule(crate::lifecycle::RuleError::AssigneeNotInTeam))
    ));
    engine.assign(light.id, tech.id).unwrap();
    engine.assign(lamp2.id, tech.id).unwrap();

    sign_in(&engine, &e, "demo-tech");
    let mine = engine.jobs(JobsScope::Mine).unwrap();
    assert_eq!(
        mine.iter().map(|i| i.id).collect::<Vec<_>>(),
        [light.id, lamp2.id],
        "engineering's jobs by due time"
    );
    engine.start_job(light.id).unwrap();
    let fixed = engine.add_photo(&camera_jpeg(800, 600, 1)).unwrap();
    engine
        .resolve_job(light.id, Some("更换LED灯管".into()), vec![fixed])
        .unwrap();
    // The technician cannot sign off their own fix; nothing is queued for the attempt.
    let before = engine.pending_counts().unwrap().ops;
    let sig = engine.add_photo(&camera_jpeg(400, 200, 9)).unwrap();
    assert!(matches!(
        engine.verify(light.id, true, None, Some(sig.clone()), vec![]),
        Err(Error::Rule(
            crate::lifecycle::RuleError::RoleNotAllowed { .. }
        ))
    ));
    assert_eq!(engine.pending_counts().unwrap().ops, before);
    let later = lamp2.due_at + SignedDuration::from_hours(48);
    engine
        .request_extension(lamp2.id, "道闸电机需厂家更换".into(), later)
        .unwrap();

    sign_in(&engine, &e, "demo-super");
    assert!(matches!(
        engine.decide_extension(lamp2.id, true, None),
        Err(Error::Rule(
            crate::lifecycle::RuleError::RoleNotAllowed { .. }
        ))
    ));
    let closed = engine
        .verify(
            light.id,
            true,
            Some("现场确认已亮".into()),
            Some(sig),
            vec![],
        )
        .unwrap();
    assert_eq!(closed.status, Status::Closed);

    sign_in(&engine, &e, "demo-manager");
    let moved = engine
        .decide_extension(lamp2.id, true, Some("同意".into()))
        .unwrap();
    assert_eq!(moved.due_at, later);

    let kinds: Vec<String> = engine
        .pending_ops(100)
        .unwrap()
        .into_iter()
        .map(|o| o.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "issue.report",
            "issue.report",
            "issue.report",
            "issue.assign",
            "issue.assign",
            "issue.start",
            "issue.resolve",
            "issue.extension.request",
            "issue.verify",
            "issue.extension.decide"
        ]
    );
}

#[test]
fn pulled_issues_do_not_overwrite_unsent_local_changes() {
    let (_dir, engine, _clock, e) = setup();
    sign_in(&engine, &e, "demo-patrol");
    let issue = engine
        .report(ReportDraft {
            site_id: Some(e.site.id),
            visit_id: None,
            item_key: None,
            zone_id: None,
            category: Some(Category::Facility),
            severity: None,
            title: "路灯不亮".into(),
            note: None,
            photos: vec![],
            fixed_on_spot: false,
            source: Source::Patrol,
        })
        .unwrap();
    let mut stale = issue.clone();
    stale.title = "旧标题".into();
    engine
        .apply_pull(&[Change::of(&Entity::Issue(stale.clone()))], "c2")
        .unwrap();
    assert_eq!(engine.issue(issue.id).unwrap().unwrap().title, "路灯不亮");
    // Once the report is acknowledged the server's copy wins.
    let ops = engine.pending_ops(10).unwrap();
    engine
        .acknowledge(&[OpResult {
            op_id: ops[0].op_id,
            status: OpStatus::Applied,
            code: None,
            message: None,
        }])
        .unwrap();
    engine
        .apply_pull(&[Change::of(&Entity::Issue(stale))], "c3")
        .unwrap();
    assert_eq!(engine.issue(issue.id).unwrap().unwrap().title, "旧标题");
    assert_eq!(engine.pull_cursor().unwrap().as_deref(), Some("c3"));
    engine
        .apply_pull(&[Change::gone("issue", issue.id)], "c4")
        .unwrap();
    assert_eq!(engine.issue(issue.id).unwrap(), None);
}

#[test]
fn nothing_works_signed_out_and_the_device_id_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    let id = {
        let engine = Engine::open(&path).unwrap();
        assert!(matches!(engine.routes_today(), Err(Error::NotSignedIn)));
        engine.device_id()
    };
    assert_eq!(Engine::open(&path).unwrap().device_id(), id);
}

#[test]
fn another_person_on_the_phone_pulls_from_the_start() {
    let (_dir, engine, _clock, e) = setup();
    sign_in(&engine, &e, "demo-patrol");
    engine.apply_pull(&[], "42").unwrap();
    sign_in(&engine, &e, "demo-patrol");
    assert_eq!(
        engine.pull_cursor().unwrap().as_deref(),
        Some("42"),
        "the same person goes on"
    );
    engine.clear_session().unwrap();
    sign_in(&engine, &e, "demo-super");
    assert_eq!(
        engine.pull_cursor().unwrap(),
        None,
        "what the server sends depends on who asks"
    );
}

#[test]
fn pulled_alerts_are_listed_for_who_may_see_them_and_acknowledged_once_offline() {
    let (_dir, engine, clock, e) = setup();
    let now = engine.now();
    let missed = crate::alert::missed_rounds(
        &e.site.tz().unwrap(),
        &e.routes,
        &[],
        now + SignedDuration::from_mins(24 * 60 + 31),
    );
    assert!(
        !missed.is_empty(),
        "the 09:00 round of the next day, not started by 09:31"
    );
    let alert = missed[0].clone();
    engine
        .apply_pull(&[Change::of(&Entity::Alert(alert.clone()))], "a1")
        .unwrap();
    sign_in(&engine, &e, "demo-tech");
    assert!(
        engine.alerts().unwrap().is_empty(),
        "a round's alert is the desk's"
    );
    assert_eq!(
        engine.ack_alert(alert.id, "看过").unwrap_err().rule_code(),
        Some("unknown_alert")
    );
    sign_in(&engine, &e, "demo-super");
    assert_eq!(engine.alerts().unwrap(), std::slice::from_ref(&alert));
    assert_eq!(
        engine.ack_alert(alert.id, " ").unwrap_err().rule_code(),
        Some("note_required")
    );
    clock.advance(60);
    let acked = engine.ack_alert(alert.id, "已安排补巡").unwrap();
    let me = e.user("demo-super").unwrap().id;
    assert_eq!(acked.acked_by, Some(me));
    assert_eq!(acked.acked_at, Some(engine.now()));
    assert!(engine.alerts().unwrap().is_empty());
    assert_eq!(
        engine.ack_alert(alert.id, "再来").unwrap_err().rule_code(),
        Some("already_acked")
    );
    let ops = engine.pending_ops(10).unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].kind, "alert.ack");
    assert_eq!(ops[0].body["alert_id"], alert.id.to_string());
    assert_eq!(ops[0].body["note"], "已安排补巡");
    // The server's open copy does not undo an acknowledgement waiting to go; once it went, the
    // server's copy is the one kept.
    engine
        .apply_pull(&[Change::of(&Entity::Alert(alert.clone()))], "a2")
        .unwrap();
    assert!(engine.alerts().unwrap().is_empty());
    engine
        .acknowledge(&[OpResult {
            op_id: ops[0].op_id,
            status: OpStatus::Applied,
            code: None,
            message: None,
        }])
        .unwrap();
    engine
        .apply_pull(&[Change::of(&Entity::Alert(acked.clone()))], "a3")
        .unwrap();
    assert_eq!(engine.alert(alert.id).unwrap(), Some(acked));
    engine
        .apply_pull(&[Change::gone("alert", alert.id)], "a4")
        .unwrap();
    assert_eq!(engine.alert(alert.id).unwrap(), None);
}
