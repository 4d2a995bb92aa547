//! Alert delivery end to end against the real server binary (DESIGN.md §11, issue 13's first
//! "done when"): a local HTTP receiver stands in for each kind of channel (the channel's URL
//! points at it, as a robot's settings give one), an urgent issue is reported through the sync
//! API, and each receiver gets its message — our signed JSON, WeCom's markdown, DingTalk's
//! signed URL, Feishu's signed body — within seconds. A receiver that is down and comes back
//! gets every delivery, once per delivery id, in order; a server killed with SIGKILL while
//! deliveries are pending delivers them after its restart, with the same delivery ids. On
//! SQLite and, when `PATROL_TEST_DATABASE_URL` is set, PostgreSQL.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use jiff::Timestamp;
use patrol_e2e::{Backend, ConsoleClient, Http, Server, SharedDatabase, admin, op};
use serde_json::{Value, json};
use sha2::Sha256;

const PASSWORD: &str = "notify-password";

const SITE: &str = r#"
code: bell
name: 铃兰苑
time_zone: Asia/Shanghai
zones:
  - kind: garage
    building: 2栋
    floor: B2
    name: 2栋地下车库
    checkpoints:
      - { key: b2-ramp, name: 车库坡道, name_en: Garage ramp }
"#;

/// The backends to run on: SQLite, and PostgreSQL when the test database is set.
fn backends() -> Vec<Backend> {
    let mut all = vec![Backend::Sqlite];
    all.extend(Backend::postgres());
    all
}

/// A data folder (and a database of its own on PostgreSQL) with the site and its people.
struct Estate {
    _dir: tempfile::TempDir,
    data: PathBuf,
    db: Option<SharedDatabase>,
}

impl Estate {
    fn new(backend: &Backend) -> Estate {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let db = match backend {
            Backend::Sqlite => None,
            Backend::Postgres(url) => Some(SharedDatabase::create(url)),
        };
        let estate = Estate {
            _dir: dir,
            data,
            db,
        };
        let file = estate.data.join("bell.yaml");
        std::fs::write(&file, SITE).unwrap();
        estate.ok(&["site", "import", file.to_str().unwrap()], "");
        for (name, role, team) in [
            ("bell-guard", "patrol", Some("security")),
            ("bell-super", "supervisor", None),
            ("bell-admin", "admin", None),
        ] {
            let mut args = vec!["user", "add", "--username", name, "--role", role];
            args.extend(["--site", "bell"]);
            if let Some(team) = team {
                args.extend(["--team", team]);
            }
            estate.ok(&args, PASSWORD);
        }
        estate
    }

    /// An admin command on this estate's data and database.
    fn admin(&self, args: &[&str], stdin: &str) -> (bool, String) {
        let url = self.db.as_ref().map(SharedDatabase::url);
        let mut all: Vec<&str> = Vec::new();
        if let Some(url) = url.as_deref() {
            all.extend(["--database-url", url]);
        }
        all.extend_from_slice(args);
        admin(&self.data, &all, stdin)
    }

    fn ok(&self, args: &[&str], stdin: &str) -> String {
        let (ok, out) = self.admin(args, stdin);
        assert!(ok, "{args:?}: {out}");
        out
    }

    /// `notify add`: the new channel's id.
    fn add_channel(&self, kind: &str, url: &str, secret: Option<&str>) -> String {
        let mut args = vec![
            "notify", "add", "--site", "bell", "--kind", kind, "--url", url,
        ];
        if let Some(s) = secret {
            args.extend(["--secret", s]);
        }
        let out = self.ok(&args, "");
        let id = out.trim().to_owned();
        assert!(
            uuid::Uuid::parse_str(&id).is_ok(),
            "prints the channel id: {out}"
        );
        id
    }

    /// The server, with retries fast enough for a test.
    fn serve(&self) -> Server {
        let url = self.db.as_ref().map(SharedDatabase::url);
        let mut args = vec![
            "--public-url",
            "https://patrol.example.cn/",
            "--notify-retry-base",
            "100ms",
            "--notify-retry-cap",
            "500ms",
            "--notify-timeout",
            "3s",
        ];
        if let Some(url) = url.as_deref() {
            args.extend(["--database-url", url]);
        }
        Server::start(&self.data, &args)
    }
}

/// One request as a receiver got it.
#[derive(Clone)]
struct Got {
    /// Path and query.
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Whether it was answered as taken (the receiver was up).
    taken: bool,
}

impl std::fmt::Debug for Got {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} taken={} {}",
            self.target,
            self.taken,
            String::from_utf8_lossy(&self.body)
        )
    }
}

impl Got {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    fn query(&self, name: &str) -> Option<String> {
        let (_, q) = self.target.split_once('?')?;
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| form_decode(v))
    }
}

fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// A local HTTP receiver answering as a channel of `kind` does when it takes a message, or 503
/// while it is "down"; it records every request.
struct Receiver {
    port: u16,
    up: Arc<AtomicBool>,
    got: Arc<Mutex<Vec<Got>>>,
}

impl Receiver {
    fn start(kind: &'static str) -> Receiver {
        Self::on(TcpListener::bind("127.0.0.1:0").unwrap(), kind, true)
    }

    fn on(listener: TcpListener, kind: &'static str, up: bool) -> Receiver {
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(up));
        let got: Arc<Mutex<Vec<Got>>> = Arc::default();
        let (up2, got2) = (up.clone(), got.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (up, got) = (up2.clone(), got2.clone());
                std::thread::spawn(move || answer(conn, kind, &up, &got));
            }
        });
        Receiver { port, up, got }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn taken(&self) -> Vec<Got> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|g| g.taken)
            .cloned()
            .collect()
    }

    fn all(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }
}

fn answer(conn: TcpStream, kind: &str, up: &AtomicBool, got: &Mutex<Vec<Got>>) {
    let mut out = conn.try_clone().unwrap();
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let target = line.split_whitespace().nth(1).unwrap_or("").to_owned();
    let mut headers = Vec::new();
    let mut length = 0;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap();
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_owned());
        if k == "content-length" {
            length = v.parse().unwrap();
        }
        headers.push((k, v));
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let taken = up.load(Ordering::SeqCst);
    got.lock().unwrap().push(Got {
        target,
        headers,
        body,
        taken,
    });
    let (status, reply) = match (taken, kind) {
        (false, _) => ("503 Service Unavailable", "down for maintenance"),
        (true, "wecom" | "dingtalk") => ("200 OK", r#"{"errcode":0,"errmsg":"ok"}"#),
        (true, "feishu") => ("200 OK", r#"{"code":0,"msg":"success","data":{}}"#),
        (true, _) => ("200 OK", "ok"),
    };
    let _ = write!(
        out,
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
        reply.len()
    );
}

fn hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Wait up to `secs` for `f` to hold.
fn eventually(secs: u64, what: &str, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < until, "not within {secs} s: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The guard's phone: signed in, pushing ops numbered from 1.
struct Guard {
    http: Http,
    token: String,
    site: String,
    device: String,
    seq: u64,
}

impl Guard {
    fn sign_in(server: &Server) -> Guard {
        let http = Http::new(&server.base_url);
        let (status, body) = http.login("bell-guard", PASSWORD);
        assert_eq!(status, 200, "{body}");
        Guard {
            token: body["access_token"].as_str().unwrap().to_owned(),
            site: body["user"]["sites"][0].as_str().unwrap().to_owned(),
            http,
            device: uuid::Uuid::now_v7().to_string(),
            seq: 0,
        }
    }

    /// Report an urgent issue; its id.
    fn report_urgent(&mut self, title: &str) -> String {
        self.seq += 1;
        let issue = uuid::Uuid::now_v7().to_string();
        let body = json!({
            "issue_id": issue, "site_id": self.site, "category": "security", "severity": "urgent",
            "title": title, "observed_at": Timestamp::now(), "source": "patrol",
        });
        let (status, answer) = self.http.push(
            &self.token,
            &self.device,
            &[op(self.seq, "issue.report", body)],
        );
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["results"][0]["status"], "applied", "{answer}");
        issue
    }
}

fn each_kind_gets_an_urgent_report_with_the_right_body_and_signature(backend: &Backend) {
    let estate = Estate::new(backend);
    let hook = Receiver::start("webhook");
    let wecom = Receiver::start("wecom");
    let ding = Receiver::start("dingtalk");
    let feishu = Receiver::start("feishu");
    let hook_id = estate.add_channel("webhook", &hook.url("/patrol/in"), Some("hook-secret-1"));
    let wecom_url = wecom.url("/cgi-bin/webhook/send?key=wecom-key-42");
    estate.add_channel("wecom", &wecom_url, None);
    let ding_url = ding.url("/robot/send?access_token=ding-token-7");
    estate.add_channel("dingtalk", &ding_url, Some("SECding-secret-9"));
    let fs_url = feishu.url("/open-apis/bot/v2/hook/fs-token-3");
    estate.add_channel("feishu", &fs_url, Some("fs-secret-5"));

    // Listed, each with whether it signs; no secret ever printed.
    let listed = estate.ok(&["notify", "list", "--site", "bell"], "");
    assert_eq!(listed.lines().count(), 4, "{listed}");
    assert!(listed.contains(&hook_id) && listed.contains("dingtalk") && listed.contains("feishu"));
    assert!(
        listed.contains("secret set") && listed.contains("no secret"),
        "{listed}"
    );
    for secret in ["hook-secret-1", "SECding-secret-9", "fs-secret-5"] {
        assert!(!listed.contains(secret), "{listed}");
    }
    // Refusals say why, in Chinese then English.
    for (args, why) in [
        (
            vec![
                "--site",
                "nowhere",
                "--kind",
                "webhook",
                "--url",
                "https://x.example/",
            ],
            "no site with code `nowhere`",
        ),
        (
            vec![
                "--site",
                "bell",
                "--kind",
                "sms",
                "--url",
                "https://x.example/",
            ],
            "unknown channel kind `sms`",
        ),
        (
            vec![
                "--site",
                "bell",
                "--kind",
                "webhook",
                "--url",
                "ftp://x.example/",
            ],
            "http:// or https://",
        ),
        (
            vec![
                "--site",
                "bell",
                "--kind",
                "webhook",
                "--url",
                "https://x.example/",
                "--events",
                "urgent,fire",
            ],
            "unknown event `fire`",
        ),
        (
            vec![
                "--site",
                "bell",
                "--kind",
                "wecom",
                "--url",
                "https://x.example/?key=k",
                "--secret",
                "s",
            ],
            "WeCom group robots are not signed",
        ),
    ] {
        let all: Vec<&str> = ["notify", "add"].into_iter().chain(args).collect();
        let (ok, out) = estate.admin(&all, "");
        assert!(!ok, "{all:?}: {out}");
        assert!(out.contains(why), "{all:?}: {out}");
        let zh = out
            .find(|c: char| ('\u{4e00}'..='\u{9fff}').contains(&c))
            .unwrap();
        assert!(zh < out.find(why).unwrap(), "Chinese first: {out}");
    }

    let server = estate.serve();
    let mut guard = Guard::sign_in(&server);
    let title = "B2车库有燃气味";
    let reported = Instant::now();
    let issue = guard.report_urgent(title);
    eventually(10, "every receiver gets the urgent alert", || {
        [&hook, &wecom, &ding, &feishu]
            .iter()
            .all(|r| !r.taken().is_empty())
    });
    assert!(
        reported.elapsed() < Duration::from_secs(5),
        "{:?}",
        reported.elapsed()
    );
    let link = format!("https://patrol.example.cn/console/issues/{issue}");

    // The webhook: our JSON, its HMAC over the exact body, the delivery id twice.
    let got = &hook.taken()[0];
    assert_eq!(got.target, "/patrol/in");
    assert_eq!(got.header("content-type"), Some("application/json"));
    let body = got.json();
    let delivery = body["delivery_id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(delivery).is_ok());
    assert_eq!(got.header("x-patrol-delivery"), Some(delivery));
    assert_eq!(
        got.header("x-patrol-signature").unwrap(),
        format!("sha256={}", hex(&hmac(b"hook-secret-1", &got.body)))
    );
    assert_eq!(body["event"], "urgent");
    assert_eq!(body["site"]["code"], "bell");
    assert_eq!(body["site"]["name"], "铃兰苑");
    assert_eq!(body["site"]["id"], guard.site.as_str());
    assert_eq!(body["alert"]["kind"], "urgent");
    assert_eq!(body["alert"]["issue_id"], issue.as_str());
    assert_eq!(body["issue"]["id"], issue.as_str());
    assert_eq!(body["issue"]["title"], title);
    assert_eq!(body["issue"]["severity"], "urgent");
    assert_eq!(
        body["issue"]["escalated"], true,
        "the issue as phones pull it"
    );
    assert_eq!(body["url"], link.as_str());
    let (zh, en) = (
        body["text_zh"].as_str().unwrap(),
        body["text_en"].as_str().unwrap(),
    );
    assert!(zh.contains(title) && zh.contains("紧急"), "{zh}");
    assert!(en.contains("Urgent"), "{en}");

    // WeCom: its markdown, Chinese first, the link kept, within 4,096 bytes.
    let got = &wecom.taken()[0];
    assert_eq!(got.target, "/cgi-bin/webhook/send?key=wecom-key-42");
    let body = got.json();
    assert_eq!(body["msgtype"], "markdown");
    let content = body["markdown"]["content"].as_str().unwrap();
    assert!(content.len() <= 4096);
    assert!(
        content.contains(title) && content.contains(&format!("({link})")),
        "{content}"
    );
    assert!(content.find("紧急问题").unwrap() < content.find("Urgent issue").unwrap());

    // DingTalk: markdown, signed in the URL.
    let got = &ding.taken()[0];
    assert_eq!(got.query("access_token").as_deref(), Some("ding-token-7"));
    let timestamp = got.query("timestamp").unwrap();
    let ms: i64 = timestamp.parse().unwrap();
    assert!(
        (Timestamp::now().as_millisecond() - ms).abs() < 60_000,
        "{timestamp}"
    );
    let to_sign = format!("{timestamp}\nSECding-secret-9");
    assert_eq!(
        got.query("sign").unwrap(),
        b64(&hmac(b"SECding-secret-9", to_sign.as_bytes()))
    );
    let body = got.json();
    assert_eq!(body["msgtype"], "markdown");
    assert!(
        body["markdown"]["title"]
            .as_str()
            .unwrap()
            .contains("紧急问题")
    );
    let text = body["markdown"]["text"].as_str().unwrap();
    assert!(text.contains(title) && text.contains(&link), "{text}");

    // Feishu: a post, signed in the body.
    let got = &feishu.taken()[0];
    assert_eq!(got.target, "/open-apis/bot/v2/hook/fs-token-3");
    let body = got.json();
    let timestamp = body["timestamp"].as_str().unwrap();
    let secs: i64 = timestamp.parse().unwrap();
    assert!(
        (Timestamp::now().as_second() - secs).abs() < 60,
        "{timestamp}"
    );
    let key = format!("{timestamp}\nfs-secret-5");
    assert_eq!(body["sign"], b64(&hmac(key.as_bytes(), b"")));
    assert_eq!(body["msg_type"], "post");
    let post = body["content"]["post"]["zh_cn"].to_string();
    assert!(post.contains(title) && post.contains(&link), "{post}");

    // Once each, counted.
    std::thread::sleep(Duration::from_millis(500));
    for r in [&hook, &wecom, &ding, &feishu] {
        assert_eq!(r.all().len(), 1);
    }
    let metrics = ureq::get(format!("{}/metrics", server.base_url))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let delivered: Vec<&str> = metrics
        .lines()
        .filter(|l| {
            l.starts_with("patrol_notify_deliveries_total") && l.contains("outcome=\"delivered\"")
        })
        .collect();
    assert_eq!(delivered.len(), 4, "{metrics}");

    // The console: the admin sees the channels (keys masked, secrets never), adds and removes
    // one; the supervisor sees each alert's deliveries.
    let mut console = ConsoleClient::sign_in(&server.base_url, "bell-admin", PASSWORD);
    let page = console.get("/console/admin");
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("通知渠道") && page.body.contains(&hook_id),
        "{}",
        page.body
    );
    assert!(page.body.contains("key=***") && page.body.contains("access_token=***"));
    assert!(page.body.contains("/hook/***"));
    for hidden in [
        "wecom-key-42",
        "ding-token-7",
        "fs-token-3",
        "hook-secret-1",
        "SECding-secret-9",
        "fs-secret-5",
    ] {
        assert!(!page.body.contains(hidden), "{hidden} shown");
    }
    let site = guard.site.clone();
    let add = format!("/console/admin/sites/{site}/channels");
    let extra = hook.url("/second");
    let form = [
        ("kind", "webhook"),
        ("url", extra.as_str()),
        ("secret", "console-secret"),
        ("ev_overdue", "on"),
    ];
    assert_eq!(console.post_raw(&add, &form).status, 403, "no form token");
    let bad = console.post(
        &add,
        &[("kind", "webhook"), ("url", "ftp://x"), ("ev_urgent", "on")],
    );
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("http://"), "{}", bad.body);
    let done = console.post(&add, &form);
    assert_eq!(done.status, 303, "{}", done.body);
    let listed = estate.ok(&["notify", "list", "--site", "bell"], "");
    let added = listed.lines().find(|l| l.contains("/second")).unwrap();
    assert!(
        added.contains("events=overdue") && added.contains("secret set"),
        "{added}"
    );
    let added_id = added.split_whitespace().next().unwrap().to_owned();
    let remove = format!("/console/admin/channels/{added_id}/remove");
    let done = console.post(&remove, &[]);
    assert_eq!(done.status, 303);
    assert!(
        !estate
            .ok(&["notify", "list", "--site", "bell"], "")
            .contains(&added_id)
    );
    assert_eq!(console.post(&remove, &[]).status, 404, "removed once");
    let mut sup = ConsoleClient::sign_in(&server.base_url, "bell-super", PASSWORD);
    assert_eq!(sup.get("/console/admin").status, 403);
    let page = sup.get("/console/alerts");
    assert!(
        page.body.contains(delivery) && page.body.contains("已送达"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("wecom-key-42") && !page.body.contains("hook-secret-1"));
    drop(server);
}

fn a_receiver_down_then_up_gets_every_delivery_once_in_order(backend: &Backend) {
    let estate = Estate::new(backend);
    // Nothing listens on the port yet: the receiver is down.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/in");
    estate.add_channel("webhook", &url, Some("order-secret"));
    let server = estate.serve();
    let mut guard = Guard::sign_in(&server);
    let issues: Vec<String> = (1..=3)
        .map(|n| guard.report_urgent(&format!("{n}号楼配电房有焦糊味")))
        .collect();
    // A few attempts fail meanwhile (recorded, shown in the console).
    std::thread::sleep(Duration::from_millis(1500));
    let mut sup = ConsoleClient::sign_in(&server.base_url, "bell-super", PASSWORD);
    let page = sup.get("/console/alerts");
    assert!(
        page.body.contains("待发送") && page.body.contains("失败"),
        "{}",
        page.body
    );

    let receiver = Receiver::on(
        TcpListener::bind(("127.0.0.1", port)).unwrap(),
        "webhook",
        true,
    );
    eventually(15, "three deliveries once the receiver is back", || {
        receiver.taken().len() >= 3
    });
    std::thread::sleep(Duration::from_millis(700));
    let got = receiver.taken();
    assert_eq!(got.len(), 3, "once each: {got:?}");
    let ids: std::collections::HashSet<String> = got
        .iter()
        .map(|g| g.json()["delivery_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 3);
    let order: Vec<String> = got
        .iter()
        .map(|g| g.json()["alert"]["issue_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(order, issues, "in the order they were raised");
    for g in &got {
        assert_eq!(
            g.header("x-patrol-signature").unwrap(),
            format!("sha256={}", hex(&hmac(b"order-secret", &g.body)))
        );
    }
}

fn a_server_killed_with_deliveries_pending_delivers_them_after_restart(backend: &Backend) {
    let estate = Estate::new(backend);
    let receiver = Receiver::start("webhook");
    receiver.up.store(false, Ordering::SeqCst);
    estate.add_channel("webhook", &receiver.url("/in"), None);
    let mut server = estate.serve();
    let mut guard = Guard::sign_in(&server);
    let issues: Vec<String> = ["车库积水", "电梯困人"]
        .iter()
        .map(|t| guard.report_urgent(t))
        .collect();
    eventually(
        10,
        "the first delivery is tried while the receiver is down",
        || receiver.all().len() >= 2,
    );
    let refused: Vec<String> = receiver
        .all()
        .iter()
        .map(|g| g.json()["delivery_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        refused.windows(2).all(|w| w[0] == w[1]),
        "a retry keeps its delivery id: {refused:?}"
    );
    server.kill();
    receiver.up.store(true, Ordering::SeqCst);
    server.restart();
    eventually(20, "both deliveries after the restart", || {
        receiver.taken().len() >= 2
    });
    std::thread::sleep(Duration::from_millis(700));
    let taken = receiver.taken();
    assert_eq!(taken.len(), 2, "once each: {taken:?}");
    let ids: Vec<String> = taken
        .iter()
        .map(|g| g.json()["delivery_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids[0], refused[0],
        "the same delivery id as before the kill"
    );
    assert_ne!(ids[0], ids[1]);
    let order: Vec<String> = taken
        .iter()
        .map(|g| g.json()["alert"]["issue_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(order, issues);
    // The ids are the stored ones, as the console shows them.
    let mut sup = ConsoleClient::sign_in(&server.base_url, "bell-super", PASSWORD);
    let page = sup.get("/console/alerts");
    for id in &ids {
        assert!(page.body.contains(id.as_str()), "{id}");
    }
}

#[test]
fn each_kind_of_channel_gets_an_urgent_report_signed_within_seconds() {
    for backend in backends() {
        each_kind_gets_an_urgent_report_with_the_right_body_and_signature(&backend);
    }
}

#[test]
fn a_receiver_that_is_down_gets_every_delivery_once_in_order_when_it_is_back() {
    for backend in backends() {
        a_receiver_down_then_up_gets_every_delivery_once_in_order(&backend);
    }
}

#[test]
fn a_server_killed_mid_delivery_delivers_after_its_restart_with_the_same_ids() {
    for backend in backends() {
        a_server_killed_with_deliveries_pending_delivers_them_after_restart(&backend);
    }
}
