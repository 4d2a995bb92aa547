//! The phone apps' API (patrol-mobile, the uniffi facade) driven the way the apps drive it,
//! against the real server: a patroller walks a round by scanning label tokens and reports a
//! fault with a photo, the technician resolves it, the supervisor signs it off.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use patrol_e2e::Server;
use patrol_mobile::{
    IssueStatus, ItemKind, Outcome, PatrolApp, PatrolError, ReportInput, Role, SlaState,
    SyncCancel, SyncListener, SyncPhase, Team, VisitMethod,
};

struct Counter(Arc<AtomicU64>);

impl SyncListener for Counter {
    fn on_progress(&self, _phase: SyncPhase, _done: u64, _total: u64) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

fn app(dir: &std::path::Path, name: &str, server: &Server) -> Arc<PatrolApp> {
    std::fs::create_dir_all(dir.join(name)).unwrap();
    let db = dir.join(name).join("patrol.db");
    PatrolApp::open(db.to_string_lossy().into_owned(), server.base_url.clone()).unwrap()
}

fn sync(app: &PatrolApp) -> u64 {
    let heard = Arc::new(AtomicU64::new(0));
    let s = app
        .sync_now(Box::new(Counter(heard.clone())), SyncCancel::new())
        .unwrap();
    assert_eq!(s.rejected, 0);
    assert!(
        heard.load(Ordering::Relaxed) > 0,
        "progress reaches the listener"
    );
    s.applied
}

fn jpeg() -> Vec<u8> {
    jpeg_tinted(77)
}

/// A camera picture; another tint is another photo.
fn jpeg_tinted(tint: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(800, 600, |x, y| image::Rgb([x as u8, y as u8, tint]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// The label tokens printed on site (what a camera would read).
fn labels(server: &Server) -> HashMap<String, String> {
    let mut login = ureq::post(&format!("{}/api/v1/auth/login", server.base_url))
        .send_json(serde_json::json!({"username": "demo-super", "password": "demo"}))
        .unwrap();
    let t: serde_json::Value = login.body_mut().read_json().unwrap();
    let mut pull = ureq::get(&format!("{}/api/v1/sync/pull", server.base_url))
        .header(
            "authorization",
            format!("Bearer {}", t["access_token"].as_str().unwrap()),
        )
        .call()
        .unwrap();
    let page: serde_json::Value = pull.body_mut().read_json().unwrap();
    page["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["entity"] == "checkpoint")
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["data"]["qr_token"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn the_apps_walk_a_round_and_close_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_demo(&dir.path().join("server"));
    let tokens = labels(&server);

    let patrol = app(dir.path(), "patrol", &server);
    assert!(matches!(
        patrol.login("demo-patrol".into(), "wrong".into()),
        Err(PatrolError::SignedOut(_))
    ));
    let me = patrol.login("demo-patrol".into(), "demo".into()).unwrap();
    assert_eq!((me.role, me.team), (Role::Patrol, None));
    // A cancelled sync stops, and the next one picks up from where it was.
    let cancel = SyncCancel::new();
    cancel.cancel();
    let heard = Arc::new(AtomicU64::new(0));
    assert!(matches!(
        patrol.sync_now(Box::new(Counter(heard)), cancel),
        Err(PatrolError::Cancelled(_))
    ));
    sync(&patrol);

    let route = patrol
        .routes_today()
        .unwrap()
        .into_iter()
        .find(|r| r.name.contains("Building"))
        .expect("the demo's building round runs today");
    let run = patrol.start_round(route.route_id.clone()).unwrap();
    // A label with one character of its signature changed.
    let mut forged: Vec<char> = tokens[&route.checkpoints[0]].chars().collect();
    let i = forged.len() - 20;
    forged[i] = if forged[i] == 'A' { 'B' } else { 'A' };
    match patrol.scan(run.clone(), forged.into_iter().collect()) {
        Err(PatrolError::Label(message)) => {
            assert!(
                message.contains("签名无效") && message.contains("forged"),
                "{message}"
            );
        }
        other => panic!("a forged label must be refused, got {other:?}"),
    }
    let mut issue = None;
    for cp in &route.checkpoints {
        let scan = patrol.scan(run.clone(), tokens[cp].clone()).unwrap();
        assert_eq!(scan.method, VisitMethod::Qr);
        for item in &scan.items {
            if issue.is_none() && item.key == "stairwell.lights" {
                let photo = patrol.add_photo(jpeg()).unwrap();
                let outcome = patrol
                    .answer(
                        scan.visit_id.clone(),
                        item.key.clone(),
                        Some(Outcome::Fault),
                        None,
                        None,
                        vec![photo.clone()],
                    )
                    .unwrap();
                assert_eq!(outcome, Outcome::Fault);
                issue = Some(
                    patrol
                        .report(ReportInput {
                            site_id: None,
                            visit_id: Some(scan.visit_id.clone()),
                            item_key: Some(item.key.clone()),
                            category: None,
                            severity: None,
                            title: format!("{}灯不亮", scan.checkpoint_name),
                            note: None,
                            photos: vec![photo],
                            fixed_on_spot: false,
                        })
                        .unwrap(),
                );
                continue;
            }
            let (outcome, reading, note) = match item.kind {
                ItemKind::Reading => (None, item.normal_min.or(item.normal_max), None),
                ItemKind::Text => (None, None, Some("正常".to_owned())),
                ItemKind::Check => (Some(Outcome::Ok), None, None),
            };
            // A note past the limit is refused, in words for the patroller.
            let long = patrol.answer(
                scan.visit_id.clone(),
                item.key.clone(),
                Some(Outcome::Ok),
                reading,
                Some("字".repeat(4001)),
                vec![],
            );
            assert!(
                matches!(&long, Err(PatrolError::Refused(m)) if m.contains("4000")),
                "{long:?}"
            );
            patrol
                .answer(
                    scan.visit_id.clone(),
                    item.key.clone(),
                    outcome,
                    reading,
                    note,
                    vec![],
                )
                .unwrap();
        }
    }
    patrol.finish_round(run, vec![]).unwrap();
    let issue = issue.unwrap();
    assert_eq!(
        (issue.status, issue.team),
        (IssueStatus::Open, Team::Engineering)
    );
    // Just found, with three days to go.
    assert_eq!(issue.sla, Some(SlaState::OnTrack));
    // A photo is named by its id only, never by a path the app made up.
    assert!(matches!(
        patrol.photo_path("../patrol.db".into(), true),
        Err(PatrolError::Refused(_))
    ));
    assert!(patrol.pending().unwrap().ops > 10);
    sync(&patrol);
    assert_eq!(patrol.pending().unwrap().ops, 0);

    let tech = app(dir.path(), "tech", &server);
    let tech_user = tech.login("demo-tech".into(), "demo".into()).unwrap();
    let boss = app(dir.path(), "boss", &server);
    boss.login("demo-super".into(), "demo".into()).unwrap();
    sync(&boss);
    assert!(boss.jobs().unwrap().iter().any(|j| j.id == issue.id));
    let engineers = boss.people(Some(Team::Engineering)).unwrap();
    assert!(!engineers.is_empty());
    assert!(engineers.iter().all(|p| p.team == Some(Team::Engineering)));
    assert!(engineers.iter().any(|p| p.user_id == tech_user.user_id));
    assert!(boss.people(None).unwrap().len() > engineers.len());
    boss.assign(issue.id.clone(), tech_user.user_id.clone())
        .unwrap();
    sync(&boss);

    sync(&tech);
    tech.start_job(issue.id.clone()).unwrap();
    let fixed = tech.add_photo(jpeg()).unwrap();
    assert_eq!(
        tech.resolve_job(issue.id.clone(), Some("换灯管".into()), vec![fixed])
            .unwrap()
            .status,
        IssueStatus::Resolved
    );
    sync(&tech);

    sync(&boss);
    let signature = boss.add_photo(jpeg()).unwrap();
    let on_site = boss.add_photo(jpeg_tinted(200)).unwrap();
    let closed = boss
        .verify(
            issue.id.clone(),
            true,
            None,
            Some(signature.clone()),
            vec![on_site.clone()],
        )
        .unwrap();
    assert_eq!((closed.status, closed.sla), (IssueStatus::Closed, None));
    assert_eq!(sync(&boss), 1);

    // The server's queue shows it closed.
    let mut login = ureq::post(&format!("{}/api/v1/auth/login", server.base_url))
        .send_json(serde_json::json!({"username": "demo-manager", "password": "demo"}))
        .unwrap();
    let t: serde_json::Value = login.body_mut().read_json().unwrap();
    let mut q = ureq::get(&format!("{}/api/v1/issues?status=closed", server.base_url))
        .header(
            "authorization",
            format!("Bearer {}", t["access_token"].as_str().unwrap()),
        )
        .call()
        .unwrap();
    let queue: serde_json::Value = q.body_mut().read_json().unwrap();
    assert!(
        queue["issues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == issue.id)
    );
    // The sign-off on the server carries the photos taken on site and the signature.
    let mut one = ureq::get(&format!("{}/api/v1/issues/{}", server.base_url, issue.id))
        .header(
            "authorization",
            format!("Bearer {}", t["access_token"].as_str().unwrap()),
        )
        .call()
        .unwrap();
    let detail: serde_json::Value = one.body_mut().read_json().unwrap();
    let verified = detail["audit"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "issue.verify")
        .unwrap_or_else(|| panic!("no sign-off in {detail}"));
    assert_eq!(verified["photos"], serde_json::json!([on_site]));
    assert_eq!(verified["signature"], signature);
}
