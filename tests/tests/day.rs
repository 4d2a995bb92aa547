//! A whole day against the real server: a patroller walks a round offline and reports a fault
//! with photos, syncs once; the issue lands in engineering's queue due three days after it was
//! seen; the technician resolves it, the supervisor rejects the fix, the technician resolves
//! again and the supervisor signs it off on site. Three devices, three engines, one server.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use jiff::{SignedDuration, Timestamp};
use patrol_core::checklist::{Answer, ItemKind};
use patrol_core::engine::{Clock, Engine, JobsScope, ReportDraft};
use patrol_core::issue::{Category, Source, Status};
use patrol_core::patrol::{Missed, Outcome};
use patrol_core::sync::{CancelToken, SyncClient, SyncReport, SyncStage};
use patrol_e2e::{Backend, ChaosProxy, Server, building_round};

/// A device clock that runs `skew` ahead of the real one.
struct Skewed(SignedDuration);

impl Clock for Skewed {
    fn now(&self) -> Timestamp {
        Timestamp::now() + self.0
    }
}

fn device(dir: &std::path::Path, name: &str, skew: SignedDuration) -> Engine {
    std::fs::create_dir_all(dir.join(name)).unwrap();
    Engine::open_with_clock(&dir.join(name).join("patrol.db"), Arc::new(Skewed(skew))).unwrap()
}

fn jpeg(seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(1200, 900, |x, y| {
        image::Rgb([(x / 5) as u8 ^ seed, (y / 4) as u8, seed])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

fn sync(client: &SyncClient, engine: &Engine) -> SyncReport {
    let steps = AtomicU64::new(0);
    let report = client
        .sync(
            engine,
            &|_: SyncStage| {
                steps.fetch_add(1, Ordering::Relaxed);
            },
            &CancelToken::new(),
        )
        .unwrap();
    assert!(steps.load(Ordering::Relaxed) >= 3, "progress is reported");
    assert_eq!(
        report.rejected,
        0,
        "{report:?}: {:?}",
        engine.rejections().unwrap()
    );
    report
}

fn get(server: &Server, engine: &Engine, path: &str) -> serde_json::Value {
    let (token, _) = engine.tokens().unwrap().unwrap();
    let mut resp = ureq::get(&format!("{}{path}", server.base_url))
        .header("authorization", format!("Bearer {token}"))
        .call()
        .unwrap();
    resp.body_mut().read_json().unwrap()
}

#[test]
fn a_day_from_patrol_to_sign_off_on_sqlite() {
    a_day_from_patrol_to_sign_off(&Backend::Sqlite, false);
}

#[test]
fn a_day_from_patrol_to_sign_off_on_postgres() {
    let Some(backend) = Backend::postgres() else {
        eprintln!("PATROL_TEST_DATABASE_URL is not set: the PostgreSQL day is left to CI");
        return;
    };
    a_day_from_patrol_to_sign_off(&backend, false);
}

/// The same day with every push delivered twice, the first time with its ops reversed, leaves
/// the server exactly as the plain day does.
#[test]
fn pushes_sent_twice_and_out_of_order_change_nothing() {
    let plain = a_day_from_patrol_to_sign_off(&Backend::Sqlite, false);
    let chaos = a_day_from_patrol_to_sign_off(&Backend::Sqlite, true);
    assert!(plain.issues.len() >= 5, "{plain:?}");
    assert!(
        plain
            .issues
            .iter()
            .any(|i| i.contains("\"closed\"") && i.contains("issue.verify"))
    );
    assert!(
        plain
            .records
            .iter()
            .all(|(q, n)| *n > 0 || q.contains("rejected")),
        "{plain:?}"
    );
    assert_eq!(plain, chaos);
}

/// What the server holds at the end of the day, without ids and clock readings.
#[derive(Debug, PartialEq)]
struct Fingerprint {
    issues: Vec<String>,
    records: Vec<(String, i64)>,
}

fn fingerprint(server: &Server, db: &std::path::Path, boss: &Engine) -> Fingerprint {
    let names: std::collections::HashMap<String, String> = boss
        .users()
        .unwrap()
        .into_iter()
        .map(|u| (u.id.to_string(), u.username))
        .collect();
    let who = |v: &serde_json::Value| {
        v.as_str()
            .and_then(|id| names.get(id))
            .cloned()
            .unwrap_or("-".into())
    };
    let list = get(server, boss, "/api/v1/issues");
    let mut issues = Vec::new();
    for i in list["issues"].as_array().unwrap() {
        let detail = get(
            server,
            boss,
            &format!("/api/v1/issues/{}", i["id"].as_str().unwrap()),
        );
        let trail: Vec<String> = detail["audit"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                format!(
                    "{} by {} ({} -> {}, {})",
                    a["kind"],
                    who(&a["actor_id"]),
                    a["from_status"],
                    a["to_status"],
                    a["accepted"]
                )
            })
            .collect();
        let d = &detail["issue"];
        issues.push(format!(
            "{} [{} {} {} {}] assignee {} resolved {} verified {}: {}",
            d["title"],
            d["status"],
            d["team"],
            d["severity"],
            d["category"],
            who(&d["assignee_id"]),
            who(&d["resolved_by"]),
            who(&d["verified_by"]),
            trail.join("; ")
        ));
    }
    issues.sort();
    let conn = rusqlite::Connection::open(db).unwrap();
    let records = [
        "SELECT count(*) FROM runs",
        "SELECT count(*) FROM runs WHERE json_extract(data, '$.finished_at') IS NOT NULL",
        "SELECT count(*) FROM visits",
        "SELECT count(*) FROM results",
        "SELECT count(*) FROM results WHERE json_extract(data, '$.outcome') = 'fault'",
        "SELECT count(*) FROM ops WHERE status = 'applied'",
        "SELECT count(*) FROM ops WHERE status = 'rejected'",
        "SELECT count(*) FROM audit",
        "SELECT count(*) FROM blobs",
    ]
    .iter()
    .map(|q| (q.to_string(), conn.query_row(q, [], |r| r.get(0)).unwrap()))
    .collect();
    Fingerprint { issues, records }
}

fn a_day_from_patrol_to_sign_off(backend: &Backend, chaos: bool) -> Fingerprint {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_demo_on(backend, &dir.path().join("server"));
    let proxy = chaos.then(|| ChaosProxy::start(&server.base_url));
    let client = SyncClient::new(proxy.as_ref().map_or(&server.base_url, |p| &p.base_url));

    // Morning: the patroller signs in, takes the estate offline and walks the building round.
    let patrol = device(dir.path(), "patrol", SignedDuration::ZERO);
    client.login(&patrol, "demo-patrol", "demo").unwrap();
    let first = sync(&client, &patrol);
    assert!(first.pulled >= 17, "the estate arrives: {first:?}");
    // The building round, whatever the hour: the demo schedules it around the time it starts.
    let route = building_round(&patrol);
    let run = patrol.start_round(route.id).unwrap();
    let skipped = *route.checkpoint_ids.last().unwrap();
    let mut reported = None;
    for cp_id in &route.checkpoint_ids {
        if *cp_id == skipped {
            continue;
        }
        let cp = patrol.checkpoint(*cp_id).unwrap().unwrap();
        let scan = patrol.scan(run, &cp.qr_token).unwrap();
        for item in &scan.template.items {
            let fault_here = reported.is_none() && item.key == "stairwell.lights";
            let mut answer = match &item.kind {
                ItemKind::Reading { normal_min, .. } => Answer {
                    reading: *normal_min,
                    ..Answer::default()
                },
                ItemKind::Text => Answer {
                    note: Some("正常".into()),
                    ..Answer::default()
                },
                ItemKind::Check => Answer {
                    outcome: Some(Outcome::Ok),
                    ..Answer::default()
                },
            };
            if fault_here {
                let photo = patrol.add_photo(&jpeg(1)).unwrap();
                answer = Answer {
                    outcome: Some(Outcome::Fault),
                    photos: vec![photo.clone()],
                    ..Answer::default()
                };
                patrol.answer(scan.visit_id, &item.key, answer).unwrap();
                let issue = patrol
                    .report(ReportDraft {
                        site_id: None,
                        visit_id: Some(scan.visit_id),
                        item_key: Some(item.key.clone()),
                        zone_id: None,
                        category: None,
                        severity: None,
                        title: format!("{}楼梯灯不亮", cp.name),
                        note: Some("两盏灯管不亮".into()),
                        photos: vec![photo],
                        fixed_on_spot: false,
                        source: Source::Patrol,
                    })
                    .unwrap();
                reported = Some(issue);
                continue;
            }
            patrol.answer(scan.visit_id, &item.key, answer).unwrap();
        }
    }
    patrol
        .finish_round(
            run,
            vec![Missed {
                checkpoint_id: skipped,
                reason: "水电表房门锁坏".into(),
            }],
        )
        .unwrap();
    let issue = reported.expect("the stairwell had a lights item");
    let queued = patrol.pending_counts().unwrap();
    let pushed = sync(&client, &patrol);
    assert_eq!(
        pushed.applied + pushed.duplicates,
        queued.ops,
        "every op of the round answered"
    );
    if !chaos {
        assert_eq!(
            pushed.applied, queued.ops,
            "every op of the round applied once"
        );
    }
    assert_eq!(pushed.photos, 1);
    assert_eq!(patrol.pending_counts().unwrap().ops, 0);

    // The supervisor sees it in engineering's queue, due three days after it was seen.
    let boss = device(dir.path(), "super", SignedDuration::ZERO);
    client.login(&boss, "demo-super", "demo").unwrap();
    sync(&client, &boss);
    let queue = get(
        &server,
        &boss,
        "/api/v1/issues?team=engineering&status=open",
    );
    let row = queue["issues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == issue.id.to_string())
        .unwrap()
        .clone();
    let observed: Timestamp = row["observed_at"].as_str().unwrap().parse().unwrap();
    let due: Timestamp = row["due_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(due, observed + SignedDuration::from_hours(72));
    assert!(observed.duration_until(Timestamp::now()).abs() < SignedDuration::from_mins(5));
    assert_eq!(row["team"], "engineering");
    assert_eq!(row["sla"], "on_track");

    let tech = device(dir.path(), "tech", SignedDuration::ZERO);
    let tech_user = client.login(&tech, "demo-tech", "demo").unwrap();
    boss.assign(issue.id, tech_user.id).unwrap();
    sync(&client, &boss);

    // The technician fixes it; the supervisor is not satisfied; the technician fixes it again.
    sync(&client, &tech);
    let jobs = tech.jobs(JobsScope::Mine).unwrap();
    assert!(
        jobs.iter()
            .any(|j| j.id == issue.id && j.status == Status::Assigned)
    );
    tech.start_job(issue.id).unwrap();
    let fix = tech.add_photo(&jpeg(2)).unwrap();
    tech.resolve_job(issue.id, Some("更换灯管".into()), vec![fix])
        .unwrap();
    sync(&client, &tech);

    sync(&client, &boss);
    assert_eq!(
        boss.issue(issue.id).unwrap().unwrap().status,
        Status::Resolved
    );
    boss.verify(
        issue.id,
        false,
        Some("12楼还有一盏不亮".into()),
        None,
        vec![],
    )
    .unwrap();
    sync(&client, &boss);

    sync(&client, &tech);
    assert_eq!(
        tech.issue(issue.id).unwrap().unwrap().status,
        Status::InProgress
    );
    let fix2 = tech.add_photo(&jpeg(3)).unwrap();
    tech.resolve_job(issue.id, Some("12楼灯管及镇流器已换".into()), vec![fix2])
        .unwrap();
    sync(&client, &tech);

    sync(&client, &boss);
    let signature = boss.add_photo(&jpeg(9)).unwrap();
    boss.verify(
        issue.id,
        true,
        Some("现场验收合格".into()),
        Some(signature),
        vec![],
    )
    .unwrap();
    sync(&client, &boss);

    // The server's record: closed, and the whole story in order.
    let detail = get(&server, &boss, &format!("/api/v1/issues/{}", issue.id));
    assert_eq!(detail["issue"]["status"], "closed");
    let kinds: Vec<&str> = detail["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "issue.report",
            "issue.assign",
            "issue.start",
            "issue.resolve",
            "issue.verify",
            "issue.resolve",
            "issue.verify"
        ]
    );
    let audit = detail["audit"].as_array().unwrap();
    assert_eq!(audit[4]["accepted"], false);
    assert_eq!(audit[6]["accepted"], true);
    assert_eq!(
        audit[6]["actor_id"],
        boss.session().unwrap().unwrap().id.to_string()
    );
    assert_eq!(audit[3]["actor_id"], tech_user.id.to_string());
    for a in audit {
        assert!(
            a["server_at"].is_string() && a["device_id"].is_string(),
            "{a}"
        );
    }
    // The evidence: the chain links the seven entries, the acceptance is signed over its head
    // and names the fault's and the fix's photos and the signature image.
    let evidence: patrol_core::evidence::Evidence = serde_json::from_value(get(
        &server,
        &boss,
        &format!("/api/v1/issues/{}/evidence.json", issue.id),
    ))
    .unwrap();
    let verified = patrol_core::evidence::verify_evidence(&evidence).unwrap();
    assert_eq!((verified.entries, verified.signoffs), (7, 1));
    assert_eq!(evidence.audit[6]["hash"], verified.head.as_str());
    let signed = &evidence.signoffs[0].signed;
    assert_eq!(signed["chain_head"], verified.head.as_str());
    assert_eq!(signed["signature"], audit[6]["signature"]);
    let photos: Vec<&str> = signed["photos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    for a in &audit[..6] {
        for p in a["photos"].as_array().unwrap() {
            assert!(photos.contains(&p.as_str().unwrap()), "{p} is signed");
        }
    }
    // Everyone's phone agrees after a last sync.
    sync(&client, &patrol);
    assert_eq!(
        patrol.issue(issue.id).unwrap().unwrap().status,
        Status::Closed
    );
    match backend {
        Backend::Sqlite => {
            fingerprint(&server, &dir.path().join("server").join("patrol.db"), &boss)
        }
        Backend::Postgres(_) => Fingerprint {
            issues: vec![],
            records: vec![],
        },
    }
}

#[test]
fn a_phone_a_day_fast_still_gets_the_right_due_time() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::postgres().unwrap_or(Backend::Sqlite);
    let server = Server::start_demo_on(&backend, &dir.path().join("server"));
    let client = SyncClient::new(&server.base_url);
    let fast = device(dir.path(), "fast", SignedDuration::from_hours(24));
    client.login(&fast, "demo-patrol", "demo").unwrap();
    sync(&client, &fast);
    let site = fast.sites().unwrap().remove(0);
    let issue = fast
        .report(ReportDraft {
            site_id: Some(site.id),
            visit_id: None,
            item_key: None,
            zone_id: None,
            category: Some(Category::Facility),
            severity: None,
            title: "东门道闸不抬杆".into(),
            note: None,
            photos: vec![],
            fixed_on_spot: false,
            source: Source::Desk,
        })
        .unwrap();
    // The phone thinks it is due four days from now…
    assert!(issue.due_at > Timestamp::now() + SignedDuration::from_hours(95));
    sync(&client, &fast);
    // …the server corrects by the phone's clock offset: three days from the real moment.
    let detail = get(&server, &fast, &format!("/api/v1/issues/{}", issue.id));
    let due: Timestamp = detail["issue"]["due_at"].as_str().unwrap().parse().unwrap();
    let expected = Timestamp::now() + SignedDuration::from_hours(72);
    assert!(
        due.duration_until(expected).abs() < SignedDuration::from_mins(2),
        "due {due}, expected about {expected}"
    );
    // The phone takes the server's word on its next pull.
    sync(&client, &fast);
    assert_eq!(fast.issue(issue.id).unwrap().unwrap().due_at, due);
}

#[test]
fn an_unreachable_server_is_retried_then_reported_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_demo(&dir.path().join("server"));
    let phone = device(dir.path(), "phone", SignedDuration::ZERO);
    SyncClient::new(&server.base_url)
        .login(&phone, "demo-patrol", "demo")
        .unwrap();
    sync(&SyncClient::new(&server.base_url), &phone);
    let site = phone.sites().unwrap().remove(0);
    phone
        .report(ReportDraft {
            site_id: Some(site.id),
            visit_id: None,
            item_key: None,
            zone_id: None,
            category: Some(Category::Cleaning),
            severity: None,
            title: "车库入口积水".into(),
            note: None,
            photos: vec![],
            fixed_on_spot: false,
            source: Source::Patrol,
        })
        .unwrap();
    // Nothing listens on the port of a stopped server.
    let gone = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", probe.local_addr().unwrap())
    };
    let options = patrol_core::sync::SyncOptions {
        attempts: 3,
        backoff: std::time::Duration::from_millis(20),
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let err = SyncClient::with_options(&gone, options)
        .sync(&phone, &|_| {}, &CancelToken::new())
        .unwrap_err();
    assert!(err.to_string().contains("无法连接服务器"), "{err}");
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(40),
        "it backed off between tries"
    );
    assert_eq!(
        phone.pending_counts().unwrap().ops,
        1,
        "the report waits for the next sync"
    );
    // A sync cancelled before it starts sends nothing; the next one sends the report once.
    let cancel = CancelToken::new();
    cancel.cancel();
    let client = SyncClient::new(&server.base_url);
    assert!(
        client
            .sync(&phone, &|_| {}, &cancel)
            .unwrap_err()
            .to_string()
            .contains("取消")
    );
    assert_eq!(phone.pending_counts().unwrap().ops, 1);
    let report = sync(&client, &phone);
    assert_eq!((report.applied, report.duplicates), (1, 0));
}
