//! Alerts end to end against the real server binary (DESIGN.md §11): with the background clock
//! set by a test clock file, a round scheduled at 08:00 and not started by 08:30 raises exactly
//! one `round_missed` alert — pass after pass, across a restart, and with two server processes
//! on one PostgreSQL database; an urgent issue reported through the sync API reaches the
//! supervisor's pull at once, is acknowledged in the console (who, when, the note) and is then
//! open nowhere; a phone acknowledges another through the uniffi facade.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::Path;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use jiff::civil::Date;
use patrol_e2e::{Backend, ConsoleClient, Http, Server, SharedDatabase, admin, op};
use patrol_mobile::{AlertKind, PatrolApp, PatrolError, SyncCancel, SyncListener, SyncPhase};
use serde_json::{Value, json};

const PASSWORD: &str = "alarm-password";

/// A site whose one route is walked at 08:00 every day, in Shanghai.
const SITE: &str = r#"
code: alarm
name: 警报苑
time_zone: Asia/Shanghai
zones:
  - kind: lobby
    building: 1栋
    floor: 1F
    name: 1栋大堂
    checkpoints:
      - { key: b1-lobby, name: 1栋大堂前台, name_en: Building 1 lobby desk }
      - { key: b1-mail, name: 1栋信报箱, name_en: Building 1 mailboxes }
routes:
  - name: 早班巡查 / Morning round
    times: ["08:00"]
    checkpoints: [b1-lobby, b1-mail]
"#;

/// The site and its people, in a data folder (and a database, when given) before the server.
fn import_site(data: &Path, database_url: Option<&str>) {
    let file = data.join("alarm.yaml");
    std::fs::write(&file, SITE).unwrap();
    let db: Vec<&str> = database_url.map_or(vec![], |u| vec!["--database-url", u]);
    let run = |args: &[&str], stdin: &str| {
        let all: Vec<&str> = db.iter().copied().chain(args.iter().copied()).collect();
        let (ok, out) = admin(data, &all, stdin);
        assert!(ok, "{args:?}: {out}");
    };
    run(&["site", "import", file.to_str().unwrap()], "");
    for (name, role, team) in [
        ("alarm-super", "supervisor", None),
        ("alarm-guard", "patrol", Some("security")),
        ("alarm-tech", "technician", Some("engineering")),
    ] {
        let mut args = vec![
            "user",
            "add",
            "--username",
            name,
            "--role",
            role,
            "--site",
            "alarm",
        ];
        if let Some(team) = team {
            args.extend(["--team", team]);
        }
        run(&args, PASSWORD);
    }
}

fn shanghai() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get("Asia/Shanghai").unwrap()
}

/// Today in Shanghai.
fn today() -> Date {
    Timestamp::now().to_zoned(shanghai()).date()
}

/// An instant of today in Shanghai, `hh:mm:ss`.
fn at(time: &str) -> Timestamp {
    format!("{}T{time}", today())
        .parse::<jiff::civil::DateTime>()
        .unwrap()
        .to_zoned(shanghai())
        .unwrap()
        .timestamp()
}

/// Tell the server's background work that it is `time` today in Shanghai.
fn set_clock(file: &Path, time: &str) {
    let instant = at(time).to_zoned(shanghai());
    std::fs::write(file, instant.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()).unwrap();
}

/// Every alert a person pulls from the start of the feed, by id (the latest of each).
fn pulled_alerts(http: &Http, token: &str) -> Vec<Value> {
    let mut cursor = String::new();
    let mut found: Vec<Value> = Vec::new();
    loop {
        let (status, page) = http.get(
            &format!("/api/v1/sync/pull?since={cursor}&limit=2000"),
            Some(token),
        );
        assert_eq!(status, 200, "{page}");
        for c in page["changes"].as_array().unwrap() {
            if c["entity"] != "alert" {
                continue;
            }
            found.retain(|a| a["id"] != c["id"]);
            if c["data"].is_object() {
                found.push(c["data"].clone());
            }
        }
        cursor = page["cursor"].as_str().unwrap().to_owned();
        if page["more"] != true {
            return found;
        }
    }
}

/// The pulled `round_missed` alerts of the morning round.
fn missed_rounds(http: &Http, token: &str) -> Vec<Value> {
    pulled_alerts(http, token)
        .into_iter()
        .filter(|a| a["kind"] == "round_missed")
        .collect()
}

/// Wait up to `secs` for `f` to hold.
fn eventually(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < until, "not within {secs} s: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Two alert passes of `--alert-interval 1`, and a little more.
fn two_passes() {
    std::thread::sleep(Duration::from_millis(2500));
}

#[test]
fn a_round_not_started_by_0830_raises_one_alert_across_passes_restarts_and_processes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    import_site(&data, None);
    let clock = dir.path().join("now");
    set_clock(&clock, "08:20:00");
    let clock_arg = clock.to_str().unwrap();
    let args = ["--test-clock", clock_arg, "--alert-interval", "1"];
    let mut server = Server::start(&data, &args);
    let http = Http::new(&server.base_url);
    let token = http.token("alarm-super", PASSWORD);
    assert!(
        missed_rounds(&http, &token).is_empty(),
        "08:20: not due yet"
    );

    // The grace is 30 minutes: 08:30:00 is still in time.
    set_clock(&clock, "08:30:00");
    two_passes();
    assert!(missed_rounds(&http, &token).is_empty(), "08:30:00: in time");

    set_clock(&clock, "08:31:00");
    eventually(10, "a round_missed alert at 08:31", || {
        !missed_rounds(&http, &token).is_empty()
    });
    let first = missed_rounds(&http, &token);
    assert_eq!(first.len(), 1, "{first:?}");
    let alert = &first[0];
    assert_eq!(
        alert["slot_at"]
            .as_str()
            .unwrap()
            .parse::<Timestamp>()
            .unwrap(),
        at("08:00:00")
    );
    assert_eq!(
        alert["raised_at"]
            .as_str()
            .unwrap()
            .parse::<Timestamp>()
            .unwrap(),
        at("08:31:00"),
        "raised by the test clock"
    );
    assert!(alert["route_id"].is_string() && alert["issue_id"].is_null());
    assert!(alert["acked_by"].is_null() && alert["acked_at"].is_null() && alert["note"].is_null());
    let text = alert["text_zh"].as_str().unwrap();
    assert!(
        text.contains("早班巡查") && text.contains("08:00"),
        "{text}"
    );

    // More passes, then a restart on the same data: still that one alert.
    two_passes();
    assert_eq!(missed_rounds(&http, &token), first);
    server.kill();
    let server = Server::start(&data, &args);
    let http = Http::new(&server.base_url);
    let token = http.token("alarm-super", PASSWORD);
    two_passes();
    assert_eq!(missed_rounds(&http, &token), first, "after the restart");

    // Two processes on one PostgreSQL database, both passing from the start.
    let Some(Backend::Postgres(admin_url)) = Backend::postgres() else {
        eprintln!(
            "PATROL_TEST_DATABASE_URL is not set: two processes on PostgreSQL are left to CI"
        );
        return;
    };
    let db = SharedDatabase::create(&admin_url);
    let url = db.url();
    let pg_data = dir.path().join("pg");
    for d in ["a", "b"] {
        std::fs::create_dir_all(pg_data.join(d)).unwrap();
    }
    import_site(&pg_data, Some(&url));
    let pg_args = [
        "--database-url",
        url.as_str(),
        "--test-clock",
        clock_arg,
        "--alert-interval",
        "1",
    ];
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| Server::start(&pg_data.join("a"), &pg_args));
        let b = s.spawn(|| Server::start(&pg_data.join("b"), &pg_args));
        (a.join().unwrap(), b.join().unwrap())
    });
    two_passes();
    let mut ids = Vec::new();
    for server in [&a, &b] {
        let http = Http::new(&server.base_url);
        let token = http.token("alarm-super", PASSWORD);
        let seen = missed_rounds(&http, &token);
        assert_eq!(seen.len(), 1, "{seen:?}");
        ids.push(seen[0]["id"].clone());
    }
    assert_eq!(ids[0], ids[1], "both processes show the one alert");
    drop((a, b));
    drop(db);
}

/// Sign in: the token and the user's id and site.
fn sign_in(http: &Http, username: &str) -> (String, String, String) {
    let (status, body) = http.login(username, PASSWORD);
    assert_eq!(status, 200, "{body}");
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["user"]["id"].as_str().unwrap().to_owned(),
        body["user"]["sites"][0].as_str().unwrap().to_owned(),
    )
}

/// The guard reports an urgent issue from their phone; the op's result.
fn report_urgent(
    http: &Http,
    token: &str,
    device: &str,
    seq: u64,
    site: &str,
    title: &str,
) -> (String, Value) {
    let issue = uuid::Uuid::now_v7().to_string();
    let body = json!({
        "issue_id": issue, "site_id": site, "category": "security", "severity": "urgent",
        "title": title, "observed_at": Timestamp::now(), "source": "patrol",
    });
    let (status, answer) = http.push(token, device, &[op(seq, "issue.report", body)]);
    assert_eq!(status, 200, "{answer}");
    (issue, answer["results"][0].clone())
}

fn urgent_alert_of(http: &Http, token: &str, issue: &str) -> Option<Value> {
    pulled_alerts(http, token)
        .into_iter()
        .find(|a| a["kind"] == "urgent" && a["issue_id"] == issue)
}

struct Quiet;

impl SyncListener for Quiet {
    fn on_progress(&self, _phase: SyncPhase, _done: u64, _total: u64) {}
}

#[test]
fn an_urgent_report_reaches_the_supervisor_and_is_acknowledged_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    import_site(&data, None);
    patrol_e2e::add_other_site(&data);
    let server = Server::start(&data, &[]);
    let http = Http::new(&server.base_url);
    let (guard, _, site) = sign_in(&http, "alarm-guard");
    let (sup, sup_id, _) = sign_in(&http, "alarm-super");
    let (tech, _, _) = sign_in(&http, "alarm-tech");
    let device = uuid::Uuid::now_v7().to_string();

    let reported = Instant::now();
    let (issue, result) = report_urgent(&http, &guard, &device, 1, &site, "B2车库有燃气味");
    assert_eq!(result["status"], "applied", "{result}");
    let mut alert = Value::Null;
    eventually(5, "the urgent alert on the supervisor's pull", || {
        alert = urgent_alert_of(&http, &sup, &issue).unwrap_or(Value::Null);
        alert.is_object()
    });
    assert!(reported.elapsed() < Duration::from_secs(5));
    let id = alert["id"].as_str().unwrap().to_owned();
    assert_eq!(alert["site_id"], site.as_str());
    assert!(alert["acked_by"].is_null() && alert["acked_at"].is_null());
    assert!(
        alert["text_zh"]
            .as_str()
            .unwrap()
            .contains("B2车库有燃气味")
    );
    // Security (the guard's team) is told of every urgent issue; engineering is not.
    assert!(urgent_alert_of(&http, &guard, &issue).is_some());
    assert!(urgent_alert_of(&http, &tech, &issue).is_none());

    // Another site's supervisor: not on their page, not theirs to acknowledge.
    let mut other = ConsoleClient::sign_in(
        &server.base_url,
        "cuihu-super",
        patrol_e2e::OTHER_SITE_PASSWORD,
    );
    let page = other.get("/console/alerts");
    assert_eq!(page.status, 200);
    assert!(!page.body.contains(&id));
    let ack = format!("/console/alerts/{id}/ack");
    assert_eq!(other.post(&ack, &[("note", "不是我们的")]).status, 404);
    // A technician does not use the console's alert page.
    let mut engineer = ConsoleClient::sign_in(&server.base_url, "alarm-tech", PASSWORD);
    assert_eq!(engineer.get("/console/alerts").status, 403);

    let mut console = ConsoleClient::sign_in(&server.base_url, "alarm-super", PASSWORD);
    let page = console.get("/console/alerts");
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(&id) && page.body.contains("B2车库有燃气味"),
        "{}",
        page.body
    );
    assert!(page.body.contains("提醒"), "the nav names the page");
    let note = "保安王师傅 08:40 到场，关闭燃气总阀，已通知燃气公司";
    assert_eq!(
        console.post_raw(&ack, &[("note", note)]).status,
        403,
        "no form token"
    );
    assert_eq!(
        console.post(&ack, &[("note", "  ")]).status,
        422,
        "a note is needed"
    );
    let before = Timestamp::now();
    let done = console.post(&ack, &[("note", note)]);
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location.as_deref(), Some("/console/alerts"));
    let after = Timestamp::now();
    let page = console.get("/console/alerts");
    assert!(!page.body.contains(&id), "no longer open in the console");
    // It is listed with the alerts acknowledged lately: who, and what they wrote.
    let lately = console.get("/console/alerts?view=acked");
    assert_eq!(lately.status, 200);
    assert!(
        lately.body.contains(&format!("alert-{id}")),
        "{}",
        lately.body
    );
    assert!(lately.body.contains(note), "the note is shown");
    assert!(
        !lately.body.contains(&format!("/console/alerts/{id}/ack")),
        "not acknowledged again"
    );

    let acked = urgent_alert_of(&http, &sup, &issue).unwrap();
    assert_eq!(acked["id"], id.as_str());
    assert_eq!(acked["acked_by"], sup_id.as_str());
    let when: Timestamp = acked["acked_at"].as_str().unwrap().parse().unwrap();
    assert!(before <= when && when <= after, "{when}");
    assert_eq!(acked["note"], note);
    // A second acknowledgement, from the guard's phone: refused, the first one stays.
    let (status, answer) = http.push(
        &guard,
        &device,
        &[op(
            2,
            "alert.ack",
            json!({"alert_id": id, "note": "我也到了"}),
        )],
    );
    assert_eq!(status, 200);
    assert_eq!(answer["results"][0]["code"], "already_acked", "{answer}");
    assert_eq!(urgent_alert_of(&http, &sup, &issue).unwrap(), acked);

    // A phone (the uniffi facade) sees a second urgent alert, acknowledges it offline, and
    // the acknowledgement reaches the server on the next sync.
    let (second, _) = report_urgent(&http, &guard, &device, 3, &site, "3栋配电房有焦糊味");
    std::fs::create_dir_all(dir.path().join("phone")).unwrap();
    let db = dir.path().join("phone").join("patrol.db");
    let phone =
        PatrolApp::open(db.to_string_lossy().into_owned(), server.base_url.clone()).unwrap();
    phone.login("alarm-super".into(), PASSWORD.into()).unwrap();
    phone.sync_now(Box::new(Quiet), SyncCancel::new()).unwrap();
    let open = phone.alerts().unwrap();
    let on_phone = open
        .iter()
        .find(|a| a.issue_id.as_deref() == Some(second.as_str()))
        .unwrap();
    assert_eq!(on_phone.kind, AlertKind::Urgent);
    assert!(
        open.iter().all(|a| a.id != id),
        "the acknowledged one is not open"
    );
    assert!(matches!(
        phone.ack_alert(on_phone.id.clone(), " ".into()),
        Err(PatrolError::Refused(_))
    ));
    let done = phone
        .ack_alert(on_phone.id.clone(), "已派电工李师傅前往".into())
        .unwrap();
    assert_eq!(done.acked_by.as_deref(), Some(sup_id.as_str()));
    assert!(phone.alerts().unwrap().iter().all(|a| a.id != on_phone.id));
    assert!(matches!(
        phone.ack_alert(on_phone.id.clone(), "again".into()),
        Err(PatrolError::Refused(_))
    ));
    let synced = phone.sync_now(Box::new(Quiet), SyncCancel::new()).unwrap();
    assert_eq!((synced.applied, synced.rejected), (1, 0));
    let on_server = urgent_alert_of(&http, &sup, &second).unwrap();
    assert_eq!(on_server["acked_by"], sup_id.as_str());
    assert_eq!(on_server["note"], "已派电工李师傅前往");
}
