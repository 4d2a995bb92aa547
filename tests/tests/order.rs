//! One device's ops are processed strictly in `seq` order (DESIGN.md §6): ops that arrive before
//! an earlier op of their device change nothing and are answered `409 out_of_order`; the sync
//! client recovers by itself, and nothing is rejected or lost — not even when the server forgot
//! ops it had answered (a database restored from a backup).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::Path;
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};
use patrol_core::checklist::{Answer, ItemKind};
use patrol_core::engine::{Clock, Engine, ReportDraft};
use patrol_core::issue::Source;
use patrol_core::patrol::Outcome;
use patrol_core::sync::{CancelToken, SyncClient, SyncOptions, SyncReport};
use patrol_e2e::{ChaosProxy, Http, Server};
use serde_json::Value;

/// A phone clock that moves a minute and a half on each reading, like a walk.
struct Walk(Mutex<Timestamp>);

impl Clock for Walk {
    fn now(&self) -> Timestamp {
        let mut t = self.0.lock().unwrap();
        *t += SignedDuration::from_secs(90);
        *t
    }
}

fn phone(dir: &Path, name: &str) -> Engine {
    std::fs::create_dir_all(dir.join(name)).unwrap();
    let start = Timestamp::now() - SignedDuration::from_hours(3);
    Engine::open_with_clock(
        &dir.join(name).join("patrol.db"),
        Arc::new(Walk(Mutex::new(start))),
    )
    .unwrap()
}

/// Walk the building round on the phone, answering everything, and report one problem: a few
/// dozen ops in the outbox.
fn walk(engine: &Engine) {
    let route = engine
        .routes()
        .unwrap()
        .into_iter()
        .find(|r| r.name.contains("Building"))
        .unwrap();
    let run = engine.start_round(route.id).unwrap();
    for cp in &route.checkpoint_ids {
        let token = engine.checkpoint(*cp).unwrap().unwrap().qr_token;
        let scan = engine.scan(run, &token).unwrap();
        for item in &scan.template.items {
            let answer = match &item.kind {
                ItemKind::Reading { normal_min, .. } => Answer {
                    reading: Some(normal_min.unwrap_or(0.0)),
                    ..Answer::default()
                },
                _ => Answer {
                    outcome: Some(Outcome::Ok),
                    note: Some("正常".into()),
                    ..Answer::default()
                },
            };
            engine.answer(scan.visit_id, &item.key, answer).unwrap();
        }
    }
    engine.finish_round(run, vec![]).unwrap();
    engine
        .report(ReportDraft {
            site_id: Some(route.site_id),
            visit_id: None,
            item_key: None,
            zone_id: None,
            category: None,
            severity: None,
            title: "东门道闸抬杆缓慢".into(),
            note: None,
            photos: vec![],
            fixed_on_spot: false,
            source: Source::Patrol,
        })
        .unwrap();
}

fn sync(client: &SyncClient, engine: &Engine) -> SyncReport {
    client.sync(engine, &|_| {}, &CancelToken::new()).unwrap()
}

/// The ops the server recorded for a device, as `(seq, status)` in `seq` order.
fn recorded(data: &Path, device: &str) -> Vec<(i64, String)> {
    let conn = rusqlite::Connection::open(data.join("patrol.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT seq, status FROM ops WHERE device_id = ?1 ORDER BY seq")
        .unwrap();
    stmt.query_map([device], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn all_applied(n: usize) -> Vec<(i64, String)> {
    (1..=n as i64).map(|s| (s, "applied".to_owned())).collect()
}

#[test]
fn the_later_half_first_changes_nothing_and_then_everything_arrives_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_demo(dir.path());
    let client = SyncClient::new(&server.base_url);
    let engine = phone(dir.path(), "p");
    client.login(&engine, "demo-patrol", "demo").unwrap();
    sync(&client, &engine);
    walk(&engine);
    let ops: Vec<Value> = engine
        .pending_ops(10_000)
        .unwrap()
        .iter()
        .map(|o| serde_json::to_value(o).unwrap())
        .collect();
    assert!(ops.len() > 40, "{} ops", ops.len());
    let http = Http::new(&server.base_url);
    let token = http.token("demo-patrol", "demo");
    let device = engine.device_id().to_string();
    let (status, queue_before) = http.get("/api/v1/issues?limit=1000", Some(&token));
    assert_eq!(status, 200);

    let half = ops.len() / 2;
    let (status, body) = http.push(&token, &device, &ops[half..]);
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "out_of_order");
    assert_eq!(body["error"]["expected_seq"], 1);
    assert!(recorded(dir.path(), &device).is_empty(), "nothing was done");
    let (_, queue_now) = http.get("/api/v1/issues?limit=1000", Some(&token));
    assert_eq!(queue_now["issues"], queue_before["issues"]);

    let (status, body) = http.push(&token, &device, &ops[..half]);
    assert_eq!(status, 200, "{body}");
    let (status, body) = http.push(&token, &device, &ops[half..]);
    assert_eq!(status, 200, "{body}");
    assert!(
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "applied"),
        "{body}"
    );
    assert_eq!(recorded(dir.path(), &device), all_applied(ops.len()));
    // Everything again, in one push: each op once.
    let (_, body) = http.push(&token, &device, &ops);
    assert!(
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "duplicate"),
        "{body}"
    );
    let (_, queue_after) = http.get("/api/v1/issues?limit=1000", Some(&token));
    let titles: Vec<&str> = queue_after["issues"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["title"].as_str())
        .collect();
    assert_eq!(
        titles.iter().filter(|t| **t == "东门道闸抬杆缓慢").count(),
        1
    );
}

#[test]
fn the_sync_client_recovers_from_out_of_order_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_demo(dir.path());
    let proxy = ChaosProxy::later_half_first(&server.base_url);
    let options = SyncOptions {
        batch: 15,
        ..SyncOptions::default()
    };
    let client = SyncClient::with_options(&proxy.base_url, options);
    let engine = phone(dir.path(), "p");
    client.login(&engine, "demo-patrol", "demo").unwrap();
    sync(&client, &engine);
    walk(&engine);
    let n = engine.pending_counts().unwrap().ops as usize;
    let report = sync(&client, &engine);
    assert_eq!(
        (report.applied as usize, report.rejected),
        (n, 0),
        "{report:?}"
    );
    assert_eq!(engine.pending_counts().unwrap().ops, 0);
    assert_eq!(
        recorded(dir.path(), &engine.device_id().to_string()),
        all_applied(n)
    );
    let metrics = ureq::get(&Http::new(&server.base_url).url("/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let reordered: f64 = metrics
        .lines()
        .find(|l| l.starts_with("patrol_push_out_of_order_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(reordered >= 1.0, "the proxy did put batches out of order");
}

/// Copy a stopped server's SQLite files.
fn copy_db(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for name in ["patrol.db", "patrol.db-wal", "patrol.db-shm"] {
        let src = from.join(name);
        let dst = to.join(name);
        let _ = std::fs::remove_file(&dst);
        if src.exists() {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

#[test]
fn a_server_restored_from_a_backup_gets_back_what_it_lost() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let backup = dir.path().join("backup");
    let engine = phone(dir.path(), "p");

    let server = Server::start_demo(&data);
    let client = SyncClient::new(&server.base_url);
    client.login(&engine, "demo-patrol", "demo").unwrap();
    sync(&client, &engine);
    walk(&engine);
    let first = sync(&client, &engine).applied;
    drop(server);
    copy_db(&data, &backup);

    // A second round reaches the server; then the server is restored to the backup.
    let server = Server::start_demo(&data);
    let client = SyncClient::new(&server.base_url);
    walk(&engine);
    let second = sync(&client, &engine).applied;
    drop(server);
    copy_db(&backup, &data);

    let server = Server::start_demo(&data);
    let client = SyncClient::new(&server.base_url);
    client.login(&engine, "demo-patrol", "demo").unwrap();
    walk(&engine);
    let third = engine.pending_counts().unwrap().ops;
    let report = sync(&client, &engine);
    assert_eq!(report.rejected, 0, "{:?}", engine.rejections().unwrap());
    assert_eq!(
        report.applied,
        second + third,
        "the ops the restored server had lost came again, with the new ones"
    );
    let total = (first + second + third) as usize;
    drop(server);
    assert_eq!(
        recorded(&data, &engine.device_id().to_string()),
        all_applied(total)
    );
}
