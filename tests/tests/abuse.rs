//! What a hostile client did to the release server, each once more, with the fixed behaviour
//! asserted (issue "trust-nothing", abuse 1–10). Bounds here are correctness bounds — "answers
//! within a second while under attack" — not benchmarks.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use patrol_core::blob::sha256_hex;
use patrol_e2e::{Http, Server, op};
use serde_json::{Value, json};

fn start() -> (tempfile::TempDir, Server, Http) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_demo(dir.path());
    let http = Http::new(&server.base_url);
    (dir, server, http)
}

/// Poll `/healthz` with a one-second client timeout until stopped; how many polls were slow or
/// failed, and how many were made.
struct Watch {
    stop: Arc<AtomicBool>,
    slow: Arc<AtomicU32>,
    polls: Arc<AtomicU32>,
    thread: std::thread::JoinHandle<()>,
}

impl Watch {
    fn start(base: &str) -> Watch {
        let stop = Arc::new(AtomicBool::new(false));
        let slow = Arc::new(AtomicU32::new(0));
        let polls = Arc::new(AtomicU32::new(0));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .max_idle_age(patrol_core::sync::POOLED_IDLE)
            .timeout_global(Some(Duration::from_secs(1)))
            .build()
            .into();
        let url = format!("{base}/healthz");
        let (s, l, p) = (stop.clone(), slow.clone(), polls.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if agent.get(&url).call().is_err() {
                    l.fetch_add(1, Ordering::Relaxed);
                }
                p.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Watch {
            stop,
            slow,
            polls,
            thread,
        }
    }

    fn finish(self) -> (u32, u32) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap();
        (
            self.slow.load(Ordering::Relaxed),
            self.polls.load(Ordering::Relaxed),
        )
    }
}

fn jpeg(w: u32, h: u32, seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8 ^ seed, y as u8, seed]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// A small real JPEG whose frame header claims `w`×`h`: 50 MP of pixels for a few hundred bytes.
fn bomb(w: u16, h: u16, seed: u8) -> Vec<u8> {
    let mut b = jpeg(16, 16, seed);
    let sof = b
        .windows(2)
        .position(|m| m[0] == 0xFF && matches!(m[1], 0xC0 | 0xC2))
        .unwrap();
    b[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    b[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    b
}

/// Abuse 1: twenty header-only picture bombs at once are each refused 422, and the server keeps
/// answering throughout.
#[test]
fn picture_bombs_are_refused_from_their_header_and_the_server_keeps_answering() {
    let (_dir, server, http) = start();
    let token = http.token("demo-patrol", "demo");
    let watch = Watch::start(&server.base_url);
    std::thread::sleep(Duration::from_millis(200));
    let http = Arc::new(http);
    let uploads: Vec<_> = (0..20u8)
        .map(|n| {
            let http = http.clone();
            let token = token.clone();
            std::thread::spawn(move || {
                let b = bomb(7000, 7000, n);
                assert!(b.len() < 1000, "{} bytes", b.len());
                http.put(
                    &format!("/api/v1/blobs/{}", sha256_hex(&b)),
                    Some(&token),
                    &b,
                )
            })
        })
        .collect();
    for u in uploads {
        let (status, body) = u.join().unwrap();
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["code"], "bad_blob");
        assert!(
            body["error"]["message"].as_str().unwrap().contains("7000"),
            "{body}"
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    let (slow, polls) = watch.finish();
    assert!(polls >= 5, "{polls} polls");
    assert_eq!(
        slow, 0,
        "/healthz missed its one-second answer {slow} of {polls} times"
    );
    // What a phone makes is still taken, and a photo larger than it makes is refused.
    let fine = jpeg(1600, 1200, 1);
    let (status, _) = http.put(
        &format!("/api/v1/blobs/{}", sha256_hex(&fine)),
        Some(&token),
        &fine,
    );
    assert_eq!(status, 201);
    let big = jpeg(2400, 1000, 2);
    let (status, _) = http.put(
        &format!("/api/v1/blobs/{}", sha256_hex(&big)),
        Some(&token),
        &big,
    );
    assert_eq!(status, 422);
}

/// Abuse 2: a client's op kinds never become metrics labels.
#[test]
fn made_up_op_kinds_do_not_grow_the_metrics_page() {
    let (_dir, server, http) = start();
    let token = http.token("demo-patrol", "demo");
    let metrics = || {
        ureq::get(&format!("{}/metrics", server.base_url))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap()
    };
    let device = uuid::Uuid::now_v7().to_string();
    let push = |from: u64, n: u64| {
        let ops: Vec<Value> = (from..from + n)
            .map(|seq| {
                op(
                    seq,
                    &format!("evil.kind.{seq}.{}", "x".repeat(50)),
                    json!({}),
                )
            })
            .collect();
        let (status, body) = http.push(&token, &device, &ops);
        assert_eq!(status, 200, "{body}");
        assert!(
            body["results"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["code"] == "invalid_op")
        );
    };
    push(1, 10);
    let before = metrics().len();
    for batch in 0..3 {
        push(11 + batch * 500, 500);
    }
    let after = metrics();
    assert!(
        !after.contains("evil.kind"),
        "a client's text became a label"
    );
    assert!(after.contains(r#"kind="unknown""#));
    assert!(
        after.len() < before + 4096,
        "1,500 rejected ops grew /metrics from {before} to {} bytes",
        after.len()
    );
}

/// `/metrics` can leave the public listener for one of its own.
#[test]
fn metrics_can_be_served_on_their_own_address() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--demo", "--metrics-listen", "127.0.0.1:0"]);
    let http = Http::new(&server.base_url);
    let (status, body) = http.get("/metrics", None);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let url = server.metrics_url.clone().unwrap();
    let text = ureq::get(&url)
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(text.contains("patrol_http_requests_total"), "{text}");
}

/// Abuse 3: what a person types is bounded, and the queue comes in pages.
#[test]
fn texts_are_bounded_and_the_queue_is_paged() {
    let (_dir, _server, http) = start();
    let token = http.token("demo-patrol", "demo");
    let site = {
        let (_, me) = http.login("demo-patrol", "demo");
        me["user"]["sites"][0].as_str().unwrap().to_owned()
    };
    let report = |seq, title: String, note: String| {
        op(
            seq,
            "issue.report",
            json!({"issue_id": uuid::Uuid::now_v7(), "site_id": site, "category": "cleaning",
                   "severity": "routine", "title": title, "note": note,
                   "observed_at": jiff::Timestamp::now(), "source": "patrol"}),
        )
    };
    let device = uuid::Uuid::now_v7().to_string();
    let huge = vec![
        report(1, "标".repeat(201), String::new()),
        report(2, "楼道杂物".into(), "字".repeat(4001)),
    ];
    let (_, body) = http.push(&token, &device, &huge);
    for r in body["results"].as_array().unwrap() {
        assert_eq!(
            (r["status"].as_str(), r["code"].as_str()),
            (Some("rejected"), Some("too_long"))
        );
    }
    // The largest allowed reports, 250 of them: the queue answers in pages of its limit.
    let ops: Vec<Value> = (3..253)
        .map(|seq| report(seq, "标".repeat(200), "字".repeat(4000)))
        .collect();
    let (status, body) = http.push(&token, &device, &ops);
    assert_eq!(status, 200, "{body}");
    let (status, page) = http.get("/api/v1/issues", Some(&token));
    assert_eq!(status, 200);
    let first = page["issues"].as_array().unwrap();
    assert_eq!(first.len(), 200, "the default page");
    assert_eq!(page["more"], true);
    let mut seen: Vec<String> = first
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    let mut cursor = page["cursor"].as_str().unwrap().to_owned();
    loop {
        let (status, page) = http.get(
            &format!("/api/v1/issues?limit=37&cursor={cursor}"),
            Some(&token),
        );
        assert_eq!(status, 200, "{page}");
        let issues = page["issues"].as_array().unwrap();
        assert!(issues.len() <= 37);
        seen.extend(issues.iter().map(|i| i["id"].as_str().unwrap().to_owned()));
        cursor = page["cursor"].as_str().unwrap().to_owned();
        if page["more"] == false {
            break;
        }
    }
    let unique: std::collections::BTreeSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no issue twice");
    assert!(seen.len() >= 250, "{} issues", seen.len());
    let (status, big) = http.get("/api/v1/issues?limit=1000", Some(&token));
    assert_eq!(status, 200);
    assert!(big["issues"].as_array().unwrap().len() <= 1000);
    for limit in ["0", "1001", "-1"] {
        let (status, body) = http.get(&format!("/api/v1/issues?limit={limit}"), Some(&token));
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("bad_query")),
            "{limit}"
        );
    }
    let (status, body) = http.get("/api/v1/issues?cursor=not-a-cursor", Some(&token));
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("bad_request"))
    );
}

/// Send one sign-in from a given local address, raw; the status.
fn login_from(base: &str, local: &str, username: &str, password: &str) -> u16 {
    let addr: std::net::SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let body = json!({"username": username, "password": password}).to_string();
    rt.block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(format!("{local}:0").parse().unwrap()).unwrap();
        let mut stream = socket.connect(addr).await.unwrap();
        let req = format!(
            "POST /api/v1/auth/login HTTP/1.1\r\nHost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(req.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        stream.read_to_end(&mut out).await.unwrap();
        String::from_utf8_lossy(&out)
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap()
    })
}

/// Abuse 4: forty parallel guesses are counted before any is checked; the guesser waits, and
/// the account's owner signs in from another address.
#[test]
fn parallel_guesses_are_refused_before_hashing_and_nobody_is_locked_out() {
    let (_dir, server, http) = start();
    let http = Arc::new(http);
    let guesses: Vec<_> = (0..40)
        .map(|n| {
            let http = http.clone();
            std::thread::spawn(move || http.login("demo-manager", &format!("guess-{n}")))
        })
        .collect();
    let mut checked = 0;
    let mut waited = 0;
    for g in guesses {
        let (status, body) = g.join().unwrap();
        match status {
            401 => checked += 1,
            429 => {
                waited += 1;
                assert_eq!(body["error"]["code"], "too_many_attempts");
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert!(
        checked <= 10,
        "{checked} of 40 guesses were checked against the password"
    );
    assert_eq!(checked + waited, 40);
    // The guesser's address waits and is told how long.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_idle_age(patrol_core::sync::POOLED_IDLE)
        .http_status_as_error(false)
        .build()
        .into();
    let resp = agent
        .post(http.url("/api/v1/auth/login"))
        .send_json(json!({"username": "demo-manager", "password": "demo"}))
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    let wait: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "Retry-After: {wait}");
    // The manager, elsewhere, is not locked out.
    assert_eq!(
        login_from(&server.base_url, "127.0.0.2", "demo-manager", "demo"),
        200
    );
    // And after the wait, the guesser's address gets a try again.
    std::thread::sleep(Duration::from_secs(wait));
    let (status, _) = http.login("demo-manager", "demo");
    assert_eq!(status, 200);
}

/// Abuse 5: password hashing runs off the async workers: forty-eight sign-ins at once do not
/// stall the server.
#[test]
fn many_sign_ins_at_once_do_not_stall_the_server() {
    let (_dir, server, http) = start();
    let watch = Watch::start(&server.base_url);
    std::thread::sleep(Duration::from_millis(200));
    let http = Arc::new(http);
    let users = [
        "demo-patrol",
        "demo-tech",
        "demo-super",
        "demo-manager",
        "demo-cleaner",
        "demo-admin",
    ];
    let started = Instant::now();
    let logins: Vec<_> = (0..48)
        .map(|n| {
            let http = http.clone();
            std::thread::spawn(move || http.login(users[n % users.len()], "demo").0)
        })
        .collect();
    for l in logins {
        assert_eq!(l.join().unwrap(), 200);
    }
    let took = started.elapsed();
    std::thread::sleep(Duration::from_millis(300));
    let (slow, polls) = watch.finish();
    assert!(polls >= 3, "{polls} polls in {took:?}");
    assert_eq!(
        slow, 0,
        "/healthz missed its one-second answer {slow} of {polls} times"
    );
}

/// Abuse 6: a time out of range is a refused op, not a dropped connection; observed times are
/// bounded.
#[test]
fn times_out_of_range_are_refused_ops() {
    let (_dir, _server, http) = start();
    let token = http.token("demo-patrol", "demo");
    let (_, me) = http.login("demo-patrol", "demo");
    let site = me["user"]["sites"][0].as_str().unwrap().to_owned();
    let report = |seq, observed: &str| {
        op(
            seq,
            "issue.report",
            json!({"issue_id": uuid::Uuid::now_v7(), "site_id": site, "category": "cleaning",
                   "severity": "routine", "title": "楼道杂物",
                   "observed_at": observed, "source": "patrol"}),
        )
    };
    let mut late = report(2, "2026-01-01T00:00:00Z");
    late["at"] = json!("9999-12-30T00:00:00Z");
    let push = json!({
        "device_id": uuid::Uuid::now_v7(),
        "device_time": "0001-01-01T00:00:00Z",
        "ops": [report(1, &jiff::Timestamp::now().to_string()), late],
    });
    let (status, body) = http.post("/api/v1/sync/push", Some(&token), &push);
    assert_eq!(status, 200, "{body}");
    let results = body["results"].as_array().unwrap();
    assert_eq!(results[1]["status"], "rejected");
    assert_eq!(results[1]["code"], "time_out_of_range");
    // The first op's device clock reading, corrected from year 1, is out of range too; either
    // way both ops have their answer and the device moves on.
    assert_eq!(results.len(), 2);
    let device = uuid::Uuid::now_v7().to_string();
    let ops = [
        report(1, "2999-01-01T00:00:00Z"),
        report(2, "1971-01-01T00:00:00Z"),
        report(3, &jiff::Timestamp::now().to_string()),
    ];
    let (_, body) = http.push(&token, &device, &ops);
    let results = body["results"].as_array().unwrap();
    assert_eq!(results[0]["code"], "time_out_of_range", "{body}");
    assert_eq!(results[1]["code"], "time_out_of_range", "{body}");
    assert_eq!(results[2]["status"], "applied", "{body}");
}

/// Abuse 7: a reused id is that op's refusal, never a 500 the device would retry forever.
#[test]
fn a_reused_result_id_is_a_refused_op() {
    let (_dir, _server, http) = start();
    let token = http.token("demo-patrol", "demo");
    let (_, pulled) = http.get("/api/v1/sync/pull?limit=2000", Some(&token));
    let changes = pulled["changes"].as_array().unwrap();
    let route = changes
        .iter()
        .find(|c| c["entity"] == "route")
        .map(|c| c["data"].clone())
        .unwrap();
    let cps: Vec<String> = route["checkpoint_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    let run = uuid::Uuid::now_v7();
    let (v1, v2, result) = (
        uuid::Uuid::now_v7(),
        uuid::Uuid::now_v7(),
        uuid::Uuid::now_v7(),
    );
    let visit = |seq, v, cp: &str| manual_visit(seq, run, v, cp);
    let template_item = |cp: &str| {
        let zone = changes
            .iter()
            .find(|c| c["entity"] == "checkpoint" && c["id"] == cp)
            .map(|c| c["data"]["zone_id"].clone())
            .unwrap();
        let kind = changes
            .iter()
            .find(|c| c["entity"] == "zone" && c["id"] == zone)
            .map(|c| c["data"]["kind"].as_str().unwrap().to_owned())
            .unwrap();
        let template = changes
            .iter()
            .find(|c| c["entity"] == "template" && c["data"]["zone_kind"] == kind.as_str())
            .unwrap();
        let check = template["data"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["kind"] == "check")
            .unwrap();
        check["key"].as_str().unwrap().to_owned()
    };
    let answer = |seq, v, cp: &str| {
        op(
            seq,
            "patrol.result",
            json!({"result_id": result, "visit_id": v,
                                         "item_key": template_item(cp), "outcome": "ok"}),
        )
    };
    let ops = [
        op(
            1,
            "patrol.start",
            json!({"run_id": run, "route_id": route["id"]}),
        ),
        visit(2, v1, &cps[0]),
        visit(3, v2, &cps[1]),
        answer(4, v1, &cps[0]),
        answer(5, v2, &cps[1]),
        op(
            6,
            "patrol.finish",
            json!({"run_id": run, "missed": cps.iter().map(|c| json!({"checkpoint_id": c, "reason": "门禁故障"})).collect::<Vec<_>>()}),
        ),
    ];
    let (status, body) = http.push(&token, &uuid::Uuid::now_v7().to_string(), &ops);
    assert_eq!(status, 200, "{body}");
    let results = body["results"].as_array().unwrap();
    let statuses: Vec<(&str, Option<&str>)> = results
        .iter()
        .map(|r| (r["status"].as_str().unwrap(), r["code"].as_str()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("applied", None),
            ("applied", None),
            ("applied", None),
            ("applied", None),
            ("rejected", Some("conflict")),
            ("applied", None),
        ]
    );
}

/// A visit by hand (the label fell off) to checkpoint `cp` in round `run`.
fn manual_visit(seq: u64, run: uuid::Uuid, visit: uuid::Uuid, cp: &str) -> Value {
    op(
        seq,
        "patrol.visit",
        json!({"visit_id": visit, "run_id": run, "checkpoint_id": cp,
               "method": "manual", "reason": "标签脱落"}),
    )
}

/// The first route a patroller's pull brings, as pulled.
fn first_route(http: &Http, token: &str) -> Value {
    let (_, pulled) = http.get("/api/v1/sync/pull?limit=2000", Some(token));
    pulled["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["entity"] == "route")
        .map(|c| c["data"].clone())
        .unwrap()
}

/// Abuse 7 again: an op id reused under a new `seq` is a repeat of the op first sent with it,
/// never a second op — in the same push (a push's op records are inserted together at its end,
/// where the reuse meets their key and the push is applied again op by op) or in a later one.
#[test]
fn a_reused_op_id_is_a_repeat() {
    let (_dir, _server, http) = start();
    let token = http.token("demo-patrol", "demo");
    let route = first_route(&http, &token)["id"].clone();
    let run = uuid::Uuid::now_v7();
    let first = op(1, "patrol.start", json!({"run_id": run, "route_id": route}));
    let reused = |seq| {
        let mut o = op(
            seq,
            "patrol.start",
            json!({"run_id": uuid::Uuid::now_v7(), "route_id": route}),
        );
        o["op_id"] = first["op_id"].clone();
        o
    };
    let device = uuid::Uuid::now_v7().to_string();
    let statuses = |body: &Value| -> Vec<String> {
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["status"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, body) = http.push(&token, &device, &[first.clone(), reused(2)]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(statuses(&body), ["applied", "duplicate"], "{body}");
    // The repeat took no seq: 2 is still the next, and a later reuse under it is a repeat too.
    let (status, body) = http.push(&token, &device, &[reused(2)]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(statuses(&body), ["duplicate"], "{body}");
    let finish = op(2, "patrol.finish", json!({"run_id": run, "missed": []}));
    let (status, body) = http.push(&token, &device, &[finish]);
    assert_eq!(status, 200, "{body}");
    assert_ne!(statuses(&body)[0], "duplicate", "{body}");
}

/// Abuse 7 once more: a visit id reused from an earlier push is that op's refusal
/// (`visit_exists`), and the rest of the push is applied. A push's new visits are not looked
/// up one by one; the reuse meets the visits' key when they are inserted, and the push is
/// applied again op by op.
#[test]
fn a_visit_id_reused_from_an_earlier_push_is_refused() {
    let (_dir, _server, http) = start();
    let token = http.token("demo-patrol", "demo");
    let route = first_route(&http, &token);
    let cps: Vec<&str> = route["checkpoint_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let run = uuid::Uuid::now_v7();
    let visit = |seq, v, cp: &str| manual_visit(seq, run, v, cp);
    let (v1, v2) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let device = uuid::Uuid::now_v7().to_string();
    let first = [
        op(
            1,
            "patrol.start",
            json!({"run_id": run, "route_id": route["id"]}),
        ),
        visit(2, v1, cps[0]),
    ];
    let (status, body) = http.push(&token, &device, &first);
    assert_eq!(status, 200, "{body}");
    let (status, body) = http.push(
        &token,
        &device,
        &[visit(3, v1, cps[1]), visit(4, v2, cps[1])],
    );
    assert_eq!(status, 200, "{body}");
    let results: Vec<(&str, Option<&str>)> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["status"].as_str().unwrap(), r["code"].as_str()))
        .collect();
    assert_eq!(
        results,
        [("rejected", Some("visit_exists")), ("applied", None)],
        "{body}"
    );
}

/// Read from a raw connection until it closes or `limit` passes; what it said and whether it
/// was closed by the server.
fn read_until_closed(mut conn: TcpStream, limit: Duration) -> (String, bool) {
    conn.set_read_timeout(Some(limit)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&out).into_owned(), true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::ConnectionReset) => {
                return (String::from_utf8_lossy(&out).into_owned(), true);
            }
            Err(_) => return (String::from_utf8_lossy(&out).into_owned(), false),
        }
    }
}

/// Abuse 8: a client that stalls in its headers or its body does not hold a connection for good.
#[test]
fn a_client_that_stalls_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        dir.path(),
        &["--demo", "--header-timeout", "2", "--request-timeout", "3"],
    );
    let addr = server.base_url.trim_start_matches("http://").to_owned();
    // Five bytes of a request, then nothing.
    let started = Instant::now();
    let mut conn = TcpStream::connect(&addr).unwrap();
    conn.write_all(b"POST ").unwrap();
    let (_, closed) = read_until_closed(conn, Duration::from_secs(10));
    assert!(closed, "the server kept a stalled connection open");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(8),
        "{took:?}"
    );
    // An idle connection that never sends a byte.
    let conn = TcpStream::connect(&addr).unwrap();
    let (_, closed) = read_until_closed(conn, Duration::from_secs(10));
    assert!(closed, "the server kept an idle connection open");
    // Headers, then a body that stops halfway.
    let mut conn = TcpStream::connect(&addr).unwrap();
    write!(
        conn,
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: {addr}\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{{\"username\":"
    )
    .unwrap();
    let (said, closed) = read_until_closed(conn, Duration::from_secs(10));
    assert!(closed, "the server kept a stalled upload open");
    assert!(said.starts_with("HTTP/1.1 408"), "{said}");
    assert!(said.contains(r#""code":"timeout""#), "{said}");
    // The server still serves.
    let (status, _) = Http::new(&server.base_url).get("/healthz", None);
    assert_eq!(status, 200);
}

/// Abuse 9: every rejection is JSON, the framework's own included.
#[test]
fn every_error_is_json() {
    let (_dir, server, http) = start();
    let token = http.token("demo-patrol", "demo");
    // A connection per request: a refusal before the body is read closes the connection.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_idle_age(patrol_core::sync::POOLED_IDLE)
        .http_status_as_error(false)
        .max_idle_connections(0)
        .build()
        .into();
    let url = |p: &str| format!("{}{p}", server.base_url);
    let check = |what: &str, resp: ureq::http::Response<ureq::Body>, status: u16, code: &str| {
        let mut resp = resp;
        assert_eq!(resp.status().as_u16(), status, "{what}");
        let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with("application/json"), "{what}: {ct}");
        let body: Value = resp.body_mut().read_json().unwrap();
        assert_eq!(body["error"]["code"], code, "{what}: {body}");
        assert!(
            !body["error"]["message"].as_str().unwrap().is_empty(),
            "{what}"
        );
    };
    let login = url("/api/v1/auth/login");
    check(
        "not JSON",
        agent
            .post(&login)
            .header("content-type", "application/json")
            .send("{not json")
            .unwrap(),
        400,
        "bad_request",
    );
    check(
        "no content type",
        agent
            .post(&login)
            .send(r#"{"username":"a","password":"b"}"#)
            .unwrap(),
        415,
        "unsupported_media_type",
    );
    check(
        "JSON that does not fit",
        agent
            .post(&login)
            .send_json(json!({"username": 5}))
            .unwrap(),
        422,
        "invalid_request",
    );
    // A body over 4 MiB, announced: refused before it is sent (a careful client waits for
    // `100 Continue`; sending regardless would race the server closing the connection).
    let (status, said) = announce(
        &server.base_url,
        &format!(
            "POST /api/v1/sync/push HTTP/1.1\r\nauthorization: Bearer {token}\r\ncontent-type: application/json"
        ),
        5 * 1024 * 1024,
    );
    assert_eq!(status, 413, "{said}");
    assert!(
        said.contains("application/json") && said.contains(r#""code":"too_large""#),
        "{said}"
    );
    check(
        "an unknown path",
        agent.get(url("/nothing/here")).call().unwrap(),
        404,
        "not_found",
    );
    check(
        "a wrong method",
        agent.delete(url("/api/v1/sync/pull")).call().unwrap(),
        405,
        "method_not_allowed",
    );
    check(
        "a bad query",
        agent
            .get(url("/api/v1/issues?status=lost"))
            .header("authorization", format!("Bearer {token}"))
            .call()
            .unwrap(),
        400,
        "bad_query",
    );
    check(
        "a bad path parameter",
        agent
            .get(url("/api/v1/issues/not-a-uuid"))
            .header("authorization", format!("Bearer {token}"))
            .call()
            .unwrap(),
        400,
        "bad_path",
    );
    check(
        "no token",
        agent.get(url("/api/v1/issues")).call().unwrap(),
        401,
        "unauthorized",
    );
}

/// Send a request head announcing `len` bytes with `Expect: 100-continue`, and read the final
/// answer without sending a byte of the body: its status and everything it said.
fn announce(base: &str, head: &str, len: usize) -> (u16, String) {
    let addr = base.trim_start_matches("http://");
    let mut conn = TcpStream::connect(addr).unwrap();
    write!(
        conn,
        "{head}\r\nHost: {addr}\r\ncontent-length: {len}\r\nexpect: 100-continue\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let (said, _) = read_until_closed(conn, Duration::from_secs(10));
    // Skip an interim `100 Continue`.
    let last = said
        .split("HTTP/1.1 ")
        .filter(|p| !p.is_empty())
        .find(|p| !p.starts_with("100"))
        .unwrap_or("")
        .to_owned();
    let status = last
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, last)
}

/// Abuse 10: a client that follows DESIGN signs off with a PNG signature.
#[test]
fn a_png_signature_signs_off_a_fix() {
    let (_dir, _server, http) = start();
    let (patrol, tech, boss) = (
        http.token("demo-patrol", "demo"),
        http.token("demo-tech", "demo"),
        http.token("demo-super", "demo"),
    );
    let (_, me) = http.login("demo-patrol", "demo");
    let site = me["user"]["sites"][0].as_str().unwrap().to_owned();
    let (_, tech_me) = http.login("demo-tech", "demo");
    let tech_id = tech_me["user"]["id"].as_str().unwrap().to_owned();
    let issue = uuid::Uuid::now_v7();
    let push = |token: &str, ops: &[Value]| {
        let (status, body) = http.push(token, &uuid::Uuid::now_v7().to_string(), ops);
        assert_eq!(status, 200, "{body}");
        for r in body["results"].as_array().unwrap() {
            assert_eq!(r["status"], "applied", "{r}");
        }
    };
    push(
        &patrol,
        &[op(
            1,
            "issue.report",
            json!({"issue_id": issue, "site_id": site, "category": "facility",
            "severity": "routine", "title": "3栋1楼信箱门脱落", "observed_at": jiff::Timestamp::now(),
            "source": "patrol"}),
        )],
    );
    push(
        &boss,
        &[op(
            1,
            "issue.assign",
            json!({"issue_id": issue, "assignee_id": tech_id}),
        )],
    );
    let photo = jpeg(800, 600, 7);
    let photo_id = sha256_hex(&photo);
    assert_eq!(
        http.put(&format!("/api/v1/blobs/{photo_id}"), Some(&tech), &photo)
            .0,
        201
    );
    push(
        &tech,
        &[
            op(1, "issue.start", json!({"issue_id": issue})),
            op(
                2,
                "issue.resolve",
                json!({"issue_id": issue, "note": "已重新安装", "photos": [photo_id]}),
            ),
        ],
    );
    // A signature as a signature pad draws it: black strokes on white, PNG.
    let pad = image::GrayImage::from_fn(1200, 400, |x, y| {
        let on_stroke = (y as i64 - 200 - ((x as f64 / 60.0).sin() * 80.0) as i64).abs() < 4;
        image::Luma([if on_stroke { 0 } else { 255 }])
    });
    let mut png = std::io::Cursor::new(Vec::new());
    pad.write_to(&mut png, image::ImageFormat::Png).unwrap();
    let png = png.into_inner();
    let sig = sha256_hex(&png);
    let (status, body) = http.put(&format!("/api/v1/blobs/{sig}"), Some(&boss), &png);
    assert_eq!(status, 201, "{body}");
    // A PNG is a signature, not a photo.
    let (_, body) = http.push(
        &boss,
        &uuid::Uuid::now_v7().to_string(),
        &[op(
            1,
            "issue.verify",
            json!({"issue_id": issue, "accepted": true, "photos": [sig], "signature": sig}),
        )],
    );
    assert_eq!(body["results"][0]["code"], "not_a_photo", "{body}");
    push(
        &boss,
        &[op(
            1,
            "issue.verify",
            json!({"issue_id": issue, "accepted": true, "signature": sig, "note": "现场验收合格"}),
        )],
    );
    let (_, detail) = http.get(&format!("/api/v1/issues/{issue}"), Some(&boss));
    assert_eq!(detail["issue"]["status"], "closed");
    let last = detail["audit"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["signature"], sig);
}

/// An item answered twice in one push keeps its last answer only — also when an op between
/// the two wrote at once (a report), so that the first answer had already been inserted. On
/// both stores (PostgreSQL when `PATROL_TEST_DATABASE_URL` is set).
#[test]
fn an_item_answered_twice_in_one_push_keeps_its_last_answer() {
    let backends = [
        Some(patrol_e2e::Backend::Sqlite),
        patrol_e2e::Backend::postgres(),
    ];
    for backend in backends.iter().flatten() {
        answered_twice_on(backend);
    }
}

fn answered_twice_on(backend: &patrol_e2e::Backend) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_demo_on(backend, dir.path());
    let http = Http::new(&server.base_url);
    let token = http.token("demo-patrol", "demo");
    let route = first_route(&http, &token);
    let stops = patrol_e2e::rounds::routes(&patrol_e2e::rounds::pull_all(&http, &token, 2000));
    let stop = stops
        .iter()
        .find(|r| r.id == route["id"])
        .map(|r| &r.stops[0])
        .unwrap();
    let item = stop.items[0]["key"].as_str().unwrap().to_owned();
    let (run, visit) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let answer = |seq, note: &str| {
        op(
            seq,
            "patrol.result",
            json!({"result_id": uuid::Uuid::now_v7(), "visit_id": visit, "item_key": item,
                   "outcome": "ok", "reading": null, "note": note, "photos": []}),
        )
    };
    let ops = [
        op(
            1,
            "patrol.start",
            json!({"run_id": run, "route_id": route["id"]}),
        ),
        op(
            2,
            "patrol.visit",
            json!({"visit_id": visit, "run_id": run, "checkpoint_id": stop.id,
                   "method": "qr", "token": stop.qr_token, "flags": []}),
        ),
        answer(3, "第一次"),
        op(
            4,
            "issue.report",
            json!({"issue_id": uuid::Uuid::now_v7(), "site_id": route["site_id"],
                   "category": "cleaning", "severity": "routine", "title": "楼道杂物",
                   "observed_at": jiff::Timestamp::now(), "source": "patrol"}),
        ),
        answer(5, "第二次"),
        answer(6, "第三次"),
    ];
    let device = uuid::Uuid::now_v7().to_string();
    let (status, body) = http.push(&token, &device, &ops);
    assert_eq!(status, 200, "{body}");
    assert!(
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "applied"),
        "{body}"
    );
    let sql = "SELECT data FROM results WHERE visit_id = $1 AND item_key = $2";
    let stored: Vec<String> = match server.database_url() {
        None => {
            let db = rusqlite::Connection::open(dir.path().join("patrol.db")).unwrap();
            let mut query = db.prepare(sql).unwrap();
            query
                .query_map(rusqlite::params![visit.to_string(), item], |row| row.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        }
        Some(url) => tokio::runtime::Runtime::new().unwrap().block_on(async {
            use sqlx::Connection as _;
            let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query_scalar(sql)
                .bind(visit.to_string())
                .bind(&item)
                .fetch_all(&mut db)
                .await
                .unwrap()
        }),
    };
    let notes: Vec<Value> = stored
        .iter()
        .map(|d| serde_json::from_str::<Value>(d).unwrap()["note"].clone())
        .collect();
    assert_eq!(notes, [json!("第三次")], "{backend:?}");
}
