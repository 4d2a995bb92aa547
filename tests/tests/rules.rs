//! One rulebook, two places: for every rule of the round state machine (and the rules of what
//! a report names), an op that breaks it, pushed by hand over raw HTTP, is refused by the server
//! with the same code that the phone's engine gives offline for the same step. The codes live
//! once, in core; this test only compares them.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};
use patrol_core::checklist::{Answer, Catalogue, ItemKind};
use patrol_core::engine::{Clock, Engine, ReportDraft};
use patrol_core::ids::{CheckpointId, IssueId, RouteId, RunId, VisitId};
use patrol_core::issue::{Category, Severity, Source};
use patrol_core::patrol::{Missed, Outcome};
use patrol_core::round::RoundError;
use patrol_core::route::Route;
use patrol_core::site::{Checkpoint, Site, ZoneKind};
use patrol_core::sync::{CancelToken, SyncClient};
use patrol_e2e::{Http, OTHER_SITE_PASSWORD, Server, add_other_site, op};
use serde_json::{Value, json};

/// A phone clock the test moves, so that scans are spaced like a walk.
struct Walk(Mutex<Timestamp>);

impl Clock for Walk {
    fn now(&self) -> Timestamp {
        let mut t = self.0.lock().unwrap();
        *t += SignedDuration::from_secs(90);
        *t
    }
}

struct World {
    _dir: tempfile::TempDir,
    server: Server,
    http: Http,
    client: SyncClient,
    /// A shared phone: used by cuihu-patrol first, so it holds the other site's data too.
    phone: Engine,
    tech_phone: Engine,
    /// The demo building round and the grounds round; the other site's round.
    route: Route,
    grounds: Route,
    theirs: Route,
    site: Site,
    checkpoints: Vec<Checkpoint>,
    their_checkpoints: Vec<Checkpoint>,
    patrol: String,
    tech: String,
    boss: String,
}

fn engine(dir: &std::path::Path, name: &str) -> Engine {
    std::fs::create_dir_all(dir.join(name)).unwrap();
    let clock = Arc::new(Walk(Mutex::new(
        Timestamp::now() - SignedDuration::from_hours(2),
    )));
    Engine::open_with_clock(&dir.join(name).join("patrol.db"), clock).unwrap()
}

fn sync(client: &SyncClient, engine: &Engine) {
    client.sync(engine, &|_| {}, &CancelToken::new()).unwrap();
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    add_other_site(dir.path());
    let server = Server::start_demo(dir.path());
    let http = Http::new(&server.base_url);
    let client = SyncClient::new(&server.base_url);
    let phone = engine(dir.path(), "shared");
    client
        .login(&phone, "cuihu-patrol", OTHER_SITE_PASSWORD)
        .unwrap();
    sync(&client, &phone);
    let their_site = phone.sites().unwrap()[0].clone();
    let theirs = phone.routes().unwrap()[0].clone();
    let their_checkpoints = phone.checkpoints(their_site.id).unwrap();
    client.login(&phone, "demo-patrol", "demo").unwrap();
    sync(&client, &phone);
    let site = phone
        .sites()
        .unwrap()
        .into_iter()
        .find(|s| s.code == "demo")
        .unwrap();
    let mut routes: Vec<Route> = phone
        .routes()
        .unwrap()
        .into_iter()
        .filter(|r| r.site_id == site.id)
        .collect();
    routes.sort_by(|a, b| a.name.cmp(&b.name));
    let grounds = routes.remove(0);
    let route = routes.remove(0);
    assert!(route.name.contains("Building"), "{}", route.name);
    let checkpoints = phone.checkpoints(site.id).unwrap();
    let tech_phone = engine(dir.path(), "tech");
    client.login(&tech_phone, "demo-tech", "demo").unwrap();
    sync(&client, &tech_phone);
    World {
        patrol: http.token("demo-patrol", "demo"),
        tech: http.token("demo-tech", "demo"),
        boss: http.token("demo-super", "demo"),
        _dir: dir,
        server,
        http,
        client,
        phone,
        tech_phone,
        route,
        grounds,
        theirs,
        site,
        checkpoints,
        their_checkpoints,
    }
}

/// The code of an engine refusal.
fn offline<T: std::fmt::Debug>(r: patrol_core::Result<T>) -> &'static str {
    let e = r.unwrap_err();
    e.rule_code()
        .unwrap_or_else(|| panic!("not a rule's refusal: {e}"))
}

impl World {
    fn cp(&self, id: CheckpointId) -> &Checkpoint {
        self.checkpoints.iter().find(|c| c.id == id).unwrap()
    }

    fn at(&self, n: usize) -> &Checkpoint {
        self.cp(self.route.checkpoint_ids[n])
    }

    /// Push ops as a fresh device; every op but the last must be applied; the last one's code.
    fn online(&self, token: &str, ops: &[Value]) -> String {
        let ops: Vec<Value> = ops
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let mut o = o.clone();
                o["seq"] = json!(i + 1);
                o
            })
            .collect();
        let device = uuid::Uuid::now_v7().to_string();
        let (status, body) = self.http.push(token, &device, &ops);
        assert_eq!(status, 200, "{body}");
        let results = body["results"].as_array().unwrap();
        for (r, o) in results.iter().zip(&ops).take(ops.len() - 1) {
            assert_eq!(r["status"], "applied", "{} {r}", o["kind"]);
        }
        let last = results.last().unwrap();
        assert_eq!(last["status"], "rejected", "{last}");
        last["code"].as_str().unwrap().to_owned()
    }

    /// A round of the building route begun on the phone, and its id.
    fn round(&self) -> RunId {
        match self.phone.start_round(self.route.id) {
            Ok(run) => run,
            Err(patrol_core::Error::Flow(patrol_core::engine::FlowError::RoundUnderWay {
                run_id,
            })) => run_id,
            Err(e) => panic!("{e}"),
        }
    }

    fn template_of(&self, cp: &Checkpoint) -> &'static patrol_core::checklist::Template {
        let zone = self.phone.zone(cp.zone_id).unwrap().unwrap();
        Catalogue::standard().for_zone(zone.kind).unwrap()
    }

    fn zone_kind(&self, cp: &Checkpoint) -> ZoneKind {
        self.phone.zone(cp.zone_id).unwrap().unwrap().kind
    }

    /// Ops of a new round of the building route: its start, then what `then` adds.
    fn in_round(&self, then: impl FnOnce(&Value) -> Vec<Value>) -> Vec<Value> {
        let r = id();
        let mut ops = vec![start(r.clone(), self.route.id)];
        ops.extend(then(&r));
        ops
    }

    /// Ops of a new round with a scan of `cp`, then what `then` adds for the visit.
    fn at_visit(&self, cp: &Checkpoint, then: impl FnOnce(&Value) -> Vec<Value>) -> Vec<Value> {
        self.in_round(|r| {
            let v = id();
            let mut ops = vec![scan(v.clone(), r, cp, &cp.qr_token)];
            ops.extend(then(&v));
            ops
        })
    }
}

fn start(run: Value, route: RouteId) -> Value {
    op(0, "patrol.start", json!({"run_id": run, "route_id": route}))
}

fn scan(visit: Value, run: &Value, cp: &Checkpoint, token: &str) -> Value {
    op(
        0,
        "patrol.visit",
        json!({"visit_id": visit, "run_id": run, "checkpoint_id": cp.id, "method": "qr", "token": token}),
    )
}

fn by_hand(visit: Value, run: &Value, cp: CheckpointId, reason: &str) -> Value {
    op(
        0,
        "patrol.visit",
        json!({"visit_id": visit, "run_id": run, "checkpoint_id": cp, "method": "manual", "reason": reason}),
    )
}

fn answer(visit: &Value, key: &str, body: Value) -> Value {
    let mut b = json!({"result_id": uuid::Uuid::now_v7(), "visit_id": visit, "item_key": key});
    for (k, v) in body.as_object().unwrap() {
        b[k] = v.clone();
    }
    op(0, "patrol.result", b)
}

fn id() -> Value {
    json!(uuid::Uuid::now_v7())
}

#[test]
fn every_round_rule_refuses_the_same_on_the_phone_and_the_server() {
    let w = world();
    let mut seen = std::collections::BTreeSet::new();
    let mut same = |rule: &str, phone: &str, server: String| {
        assert_eq!(
            phone, server,
            "{rule}: the phone says {phone}, the server {server}"
        );
        seen.insert(phone.to_owned());
    };

    // Who walks, and where.
    same(
        "technicians do not walk rounds",
        offline(w.tech_phone.start_round(w.route.id)),
        w.online(&w.tech, &[start(id(), w.route.id)]),
    );
    same(
        "a route of a site the person does not work on",
        offline(w.phone.start_round(w.theirs.id)),
        w.online(&w.patrol, &[start(id(), w.theirs.id)]),
    );
    same(
        "a route that does not exist",
        offline(w.phone.start_round(RouteId::new())),
        w.online(&w.patrol, &[start(id(), RouteId::new())]),
    );
    same(
        "a round that does not exist",
        offline(w.phone.scan(RunId::new(), &w.at(0).qr_token)),
        w.online(&w.patrol, &[scan(id(), &id(), w.at(0), &w.at(0).qr_token)]),
    );

    // What a visit must be.
    let run = w.round();
    let manual =
        |cp: CheckpointId, reason: &str| w.in_round(|r| vec![by_hand(id(), r, cp, reason)]);
    same(
        "a checkpoint that does not exist",
        offline(w.phone.visit_manually(run, CheckpointId::new(), "标签被撕")),
        w.online(&w.patrol, &manual(CheckpointId::new(), "标签被撕")),
    );
    same(
        "a checkpoint of another site",
        offline(
            w.phone
                .visit_manually(run, w.their_checkpoints[0].id, "标签被撕"),
        ),
        w.online(&w.patrol, &manual(w.their_checkpoints[0].id, "标签被撕")),
    );
    let off = w.cp(w.grounds.checkpoint_ids[0]);
    same(
        "a checkpoint of the site that is not on the route",
        offline(w.phone.scan(run, &off.qr_token)),
        w.online(
            &w.patrol,
            &w.in_round(|r| vec![scan(id(), r, off, &off.qr_token)]),
        ),
    );
    same(
        "a visit by hand without a reason",
        offline(w.phone.visit_manually(run, w.at(0).id, "  ")),
        w.online(&w.patrol, &manual(w.at(0).id, "  ")),
    );
    let long = "长".repeat(1001);
    same(
        "a reason longer than 1,000 characters",
        offline(w.phone.visit_manually(run, w.at(0).id, &long)),
        w.online(&w.patrol, &manual(w.at(0).id, &long)),
    );
    let mut forged = w.at(0).qr_token.clone().into_bytes();
    let k = forged.len() - 20;
    forged[k] = if forged[k] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    for (rule, token) in [
        (
            "a code that is not a label",
            "https://example.com/".to_owned(),
        ),
        ("a damaged label", "PTRL1.0192-broken".to_owned()),
        ("a forged label", forged),
        (
            "another estate's label the person does not work at",
            w.their_checkpoints[0].qr_token.clone(),
        ),
    ] {
        same(
            rule,
            offline(w.phone.scan(run, &token)),
            w.online(
                &w.patrol,
                &w.in_round(|r| vec![scan(id(), r, w.at(0), &token)]),
            ),
        );
    }

    // What an answer must be.
    let visit = w.phone.scan(run, &w.at(0).qr_token).unwrap().visit_id;
    let with = |key: &str, body: Value| w.at_visit(w.at(0), |v| vec![answer(v, key, body)]);
    same(
        "an answer to a visit that does not exist",
        offline(w.phone.answer(VisitId::new(), "x", Answer::default())),
        w.online(&w.patrol, &[answer(&id(), "x", json!({"outcome": "ok"}))]),
    );
    same(
        "an item that is not on the checkpoint's checklist",
        offline(w.phone.answer(visit, "no.such.item", Answer::default())),
        w.online(&w.patrol, &with("no.such.item", json!({"outcome": "ok"}))),
    );
    let photographed = w
        .template_of(w.at(0))
        .items
        .iter()
        .find(|i| i.photo_on_fault && matches!(i.kind, ItemKind::Check))
        .unwrap();
    let fault = Answer {
        outcome: Some(Outcome::Fault),
        ..Answer::default()
    };
    same(
        "a fault that needs a photo, without one",
        offline(w.phone.answer(visit, &photographed.key, fault)),
        w.online(
            &w.patrol,
            &with(&photographed.key, json!({"outcome": "fault"})),
        ),
    );
    let bad_photo = Answer {
        outcome: Some(Outcome::Ok),
        photos: vec!["../../etc/passwd".into()],
        ..Answer::default()
    };
    same(
        "a photo id that is not a hash",
        offline(w.phone.answer(visit, &photographed.key, bad_photo)),
        w.online(
            &w.patrol,
            &with(
                &photographed.key,
                json!({"outcome": "ok", "photos": ["../../etc/passwd"]}),
            ),
        ),
    );
    // Eleven photos, every one uploaded, are still too many for one answer.
    let photos: Vec<String> = (0..11u8)
        .map(|n| {
            let img = image::RgbImage::from_pixel(32, 32, image::Rgb([n * 20, 90, 200]));
            let mut out = std::io::Cursor::new(Vec::new());
            img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
            let bytes = out.into_inner();
            let sha = patrol_core::blob::sha256_hex(&bytes);
            let (status, body) =
                w.http
                    .put(&format!("/api/v1/blobs/{sha}"), Some(&w.patrol), &bytes);
            assert!(status == 201 || status == 200, "{body}");
            sha
        })
        .collect();
    let many = Answer {
        outcome: Some(Outcome::Ok),
        photos: photos.clone(),
        ..Answer::default()
    };
    same(
        "more than ten photos",
        offline(w.phone.answer(visit, &photographed.key, many)),
        w.online(
            &w.patrol,
            &with(
                &photographed.key,
                json!({"outcome": "ok", "photos": photos}),
            ),
        ),
    );
    let long_note = Answer {
        outcome: Some(Outcome::Ok),
        note: Some("字".repeat(4001)),
        ..Answer::default()
    };
    same(
        "a note longer than 4,000 characters",
        offline(w.phone.answer(visit, &photographed.key, long_note)),
        w.online(
            &w.patrol,
            &with(
                &photographed.key,
                json!({"outcome": "ok", "note": "字".repeat(4001)}),
            ),
        ),
    );
    // A reading item (the meter room is on the building round) without its reading.
    let meter = w
        .route
        .checkpoint_ids
        .iter()
        .map(|c| w.cp(*c))
        .find(|c| w.zone_kind(c) == ZoneKind::Meter)
        .unwrap();
    let reading = w
        .template_of(meter)
        .items
        .iter()
        .find(|i| matches!(i.kind, ItemKind::Reading { .. }))
        .unwrap();
    let meter_visit = w.phone.scan(run, &meter.qr_token).unwrap().visit_id;
    let tick_only = Answer {
        outcome: Some(Outcome::Ok),
        ..Answer::default()
    };
    same(
        "a reading item answered without the reading",
        offline(w.phone.answer(meter_visit, &reading.key, tick_only)),
        w.online(
            &w.patrol,
            &w.at_visit(meter, |v| {
                vec![answer(v, &reading.key, json!({"outcome": "ok"}))]
            }),
        ),
    );

    // What finishing needs.
    same(
        "a finished round with a checkpoint missed and no reason",
        offline(w.phone.finish_round(run, vec![])),
        w.online(
            &w.patrol,
            &w.in_round(|r| vec![op(0, "patrol.finish", json!({"run_id": r, "missed": []}))]),
        ),
    );
    let reasons: Vec<Missed> = w
        .route
        .checkpoint_ids
        .iter()
        .map(|c| Missed {
            checkpoint_id: *c,
            reason: "门禁故障".into(),
        })
        .collect();
    w.phone.finish_round(run, reasons.clone()).unwrap();
    same(
        "a visit to a finished round",
        offline(w.phone.scan(run, &w.at(1).qr_token)),
        w.online(
            &w.patrol,
            &w.in_round(|r| {
                vec![
                    op(0, "patrol.finish", json!({"run_id": r, "missed": reasons})),
                    scan(id(), r, w.at(1), &w.at(1).qr_token),
                ]
            }),
        ),
    );

    // Someone else's round, on a phone handed over between shifts.
    let theirs = w.round();
    sync(&w.client, &w.phone);
    w.client.login(&w.phone, "demo-super", "demo").unwrap();
    sync(&w.client, &w.phone);
    let theirs_json = json!(theirs);
    same(
        "a visit to another person's round",
        offline(w.phone.scan(theirs, &w.at(0).qr_token)),
        w.online(
            &w.boss,
            &[scan(id(), &theirs_json, w.at(0), &w.at(0).qr_token)],
        ),
    );

    // Rules the phone cannot break, because it makes the ids or reads the label itself: the
    // server still refuses them, with core's codes.
    let twice = id();
    assert_eq!(
        w.online(
            &w.patrol,
            &[start(twice.clone(), w.route.id), start(twice, w.route.id)]
        ),
        RoundError::RunExists.code()
    );
    let again = w.in_round(|r| {
        let v = id();
        vec![
            scan(v.clone(), r, w.at(0), &w.at(0).qr_token),
            scan(v, r, w.at(1), &w.at(1).qr_token),
        ]
    });
    assert_eq!(w.online(&w.patrol, &again), RoundError::VisitExists.code());
    assert_eq!(
        w.online(
            &w.patrol,
            &w.in_round(|r| vec![scan(id(), r, w.at(1), &w.at(0).qr_token)])
        ),
        RoundError::LabelMismatch.code(),
        "a genuine label of one checkpoint presented for another"
    );
    // What JSON cannot say is refused as a body that does not fit its kind: an answer without
    // an outcome, a reading that is not a number.
    for body in [json!({}), json!({"outcome": "ok", "reading": "NaN"})] {
        assert_eq!(
            w.online(&w.patrol, &with(&photographed.key, body)),
            "invalid_op"
        );
    }

    for code in [
        "not_a_patrol_role",
        "other_site",
        "unknown_route",
        "unknown_run",
        "unknown_checkpoint",
        "not_on_route",
        "reason_missing",
        "too_long",
        "not_a_label",
        "damaged_label",
        "bad_signature",
        "unknown_visit",
        "unknown_item",
        "photo_required",
        "bad_photo_id",
        "too_many_photos",
        "reading_missing",
        "missed_without_reason",
        "round_finished",
        "not_your_round",
    ] {
        assert!(seen.contains(code), "{code} was compared: {seen:?}");
    }
    drop(w.server);
}

#[test]
fn what_a_report_names_is_checked_the_same_on_both_sides() {
    let w = world();
    let report = |zone, checkpoint, visit, item: Option<&str>, severity: &str| {
        op(
            0,
            "issue.report",
            json!({
                "issue_id": IssueId::new(), "site_id": w.site.id, "zone_id": zone,
                "checkpoint_id": checkpoint, "visit_id": visit, "item_key": item,
                "category": "facility", "severity": severity, "title": "门坏了",
                "observed_at": Timestamp::now(), "source": "patrol",
            }),
        )
    };
    let draft = |zone_id| ReportDraft {
        site_id: Some(w.site.id),
        visit_id: None,
        item_key: None,
        zone_id,
        category: Some(Category::Facility),
        severity: None,
        title: "门坏了".into(),
        note: None,
        photos: vec![],
        fixed_on_spot: false,
        source: Source::Patrol,
    };
    let their_zone = w.their_checkpoints[0].zone_id;
    assert_eq!(
        offline(w.phone.report(draft(Some(their_zone)))),
        w.online(
            &w.patrol,
            &[report(
                json!(their_zone),
                Value::Null,
                Value::Null,
                None,
                "routine"
            )]
        ),
        "a zone of another site"
    );
    let title = ReportDraft {
        title: "标".repeat(201),
        ..draft(None)
    };
    assert_eq!(offline(w.phone.report(title)), "too_long");
    // The server also checks what the phone fills in itself.
    let cp = w.at(0);
    let elsewhere = w.at(1).zone_id;
    assert_eq!(
        w.online(
            &w.patrol,
            &[report(
                json!(elsewhere),
                json!(cp.id),
                Value::Null,
                None,
                "routine"
            )]
        ),
        "place_mismatch"
    );
    assert_eq!(
        w.online(
            &w.patrol,
            &[report(
                Value::Null,
                json!(CheckpointId::new()),
                Value::Null,
                None,
                "routine"
            )]
        ),
        "unknown_checkpoint"
    );
    assert_eq!(
        w.online(
            &w.patrol,
            &[report(
                Value::Null,
                Value::Null,
                json!(VisitId::new()),
                None,
                "routine"
            )]
        ),
        "unknown_visit"
    );
    // A fault of an item whose rule says major, reported as routine.
    let (cp, major) = w
        .route
        .checkpoint_ids
        .iter()
        .map(|c| w.cp(*c))
        .find_map(|c| {
            let item = w
                .template_of(c)
                .items
                .iter()
                .find(|i| i.fault.severity >= Severity::Major)?;
            Some((c, item))
        })
        .unwrap();
    let lowered = w.at_visit(cp, |v| {
        vec![report(
            Value::Null,
            json!(cp.id),
            v.clone(),
            Some(&major.key),
            "routine",
        )]
    });
    assert_eq!(w.online(&w.patrol, &lowered), "severity_lowered");
}

#[test]
fn issue_rules_refuse_the_same_on_the_phone_and_the_server() {
    let w = world();
    // An issue of the cleaning team, reported by the patroller and synced.
    let issue = w
        .phone
        .report(ReportDraft {
            site_id: Some(w.site.id),
            visit_id: None,
            item_key: None,
            zone_id: None,
            category: Some(Category::Cleaning),
            severity: None,
            title: "大堂地面有污渍".into(),
            note: None,
            photos: vec![],
            fixed_on_spot: false,
            source: Source::Patrol,
        })
        .unwrap();
    sync(&w.client, &w.phone);
    sync(&w.client, &w.tech_phone);
    let comment = op(
        0,
        "issue.comment",
        json!({"issue_id": issue.id, "text": "我看看"}),
    );
    assert_eq!(
        offline(w.tech_phone.comment(issue.id, "我看看".into())),
        w.online(&w.tech, &[comment]),
        "a technician commenting on another team's job"
    );
    // A manager decides extensions and does not ask for them.
    let manager_phone = engine(w._dir.path(), "manager");
    w.client
        .login(&manager_phone, "demo-manager", "demo")
        .unwrap();
    sync(&w.client, &manager_phone);
    let later = issue.due_at + SignedDuration::from_hours(24);
    let ask = op(
        0,
        "issue.extension.request",
        json!({"issue_id": issue.id, "reason": "等配件", "due_at": later}),
    );
    let manager = w.http.token("demo-manager", "demo");
    assert_eq!(
        offline(manager_phone.request_extension(issue.id, "等配件".into(), later)),
        w.online(&manager, &[ask]),
    );
    let unknown = op(0, "issue.start", json!({"issue_id": IssueId::new()}));
    assert_eq!(
        offline(w.tech_phone.start_job(IssueId::new())),
        w.online(&w.tech, &[unknown]),
    );
}
