//! Who may call what: every endpoint, as every role of the demo site, without a token and with
//! an expired one, against resources of the caller's own site and of another site — checked
//! against the table below, written out by hand.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use patrol_core::blob::sha256_hex;
use patrol_e2e::{Http, OTHER_SITE_PASSWORD, Server, add_other_site, op, pulled_id};
use serde_json::{Value, json};

/// The callers, in the order of the table's columns.
const CALLERS: [&str; 8] = [
    "patrol",     // demo-patrol
    "tech",       // demo-tech, engineering
    "tech-other", // demo-cleaner, a technician of another team
    "super",      // demo-super
    "manager",    // demo-manager
    "admin",      // demo-admin
    "none",       // no token
    "expired",    // demo-super's claims, signed with the server's key, expired
];

/// What each caller gets. A push answers 200 with the op's own fate after the colon. "own" is
/// the demo site, "other" the second site; the issue is an engineering job.
#[rustfmt::skip]
const TABLE: &[(&str, [&str; 8])] = &[
    //                                    patrol        tech          tech-other              super         manager       admin                        none   expired
    ("GET /healthz",                     ["200",        "200",        "200",                  "200",        "200",        "200",                       "200", "200"]),
    ("GET /metrics",                     ["200",        "200",        "200",                  "200",        "200",        "200",                       "200", "200"]),
    ("GET /api/openapi.json",            ["200",        "200",        "200",                  "200",        "200",        "200",                       "200", "200"]),
    ("GET /api/v1/sync/pull",            ["200",        "200",        "200",                  "200",        "200",        "200",                       "401", "401"]),
    ("GET /api/v1/issues",               ["200",        "200",        "200",                  "200",        "200",        "200",                       "401", "401"]),
    ("GET /api/v1/issues?site=own",      ["200",        "200",        "200",                  "200",        "200",        "200",                       "401", "401"]),
    ("GET /api/v1/issues?site=other",    ["403",        "403",        "403",                  "403",        "403",        "403",                       "401", "401"]),
    ("GET /api/v1/issues/own",           ["200",        "200",        "404",                  "200",        "200",        "200",                       "401", "401"]),
    ("GET /api/v1/issues/other",         ["404",        "404",        "404",                  "404",        "404",        "404",                       "401", "401"]),
    ("GET /api/v1/issues/own/blobs",     ["200",        "200",        "404",                  "200",        "200",        "200",                       "401", "401"]),
    ("GET /api/v1/issues/other/blobs",   ["404",        "404",        "404",                  "404",        "404",        "404",                       "401", "401"]),
    ("POST push comment own",            ["200:applied","200:applied","200:unknown_issue",    "200:applied","200:applied","200:role_not_allowed",      "401", "401"]),
    ("POST push comment other",          ["200:unknown_issue","200:unknown_issue","200:unknown_issue","200:unknown_issue","200:unknown_issue","200:unknown_issue","401", "401"]),
    ("POST push report own",             ["200:applied","200:applied","200:applied",          "200:applied","200:applied","200:role_not_allowed",      "401", "401"]),
    ("POST push report other",           ["200:other_site","200:other_site","200:other_site", "200:other_site","200:other_site","200:other_site",       "401", "401"]),
    ("POST push start own",              ["200:applied","200:not_a_patrol_role","200:not_a_patrol_role","200:applied","200:applied","200:not_a_patrol_role","401", "401"]),
    ("POST push start other",            ["200:other_site","200:not_a_patrol_role","200:not_a_patrol_role","200:other_site","200:other_site","200:not_a_patrol_role","401", "401"]),
    ("HEAD /api/v1/blobs",               ["404",        "404",        "404",                  "404",        "404",        "404",                       "401", "401"]),
    ("PUT /api/v1/blobs",                ["201",        "201",        "201",                  "201",        "201",        "201",                       "401", "401"]),
    ("POST /api/v1/auth/refresh",        ["200",        "200",        "200",                  "200",        "200",        "200",                       "401", "401"]),
    ("GET /api/v1/reports/monthly own",  ["403",        "403",        "403",                  "200",        "200",        "200",                       "401", "401"]),
    ("GET /api/v1/reports/monthly other",["403",        "403",        "403",                  "404",        "404",        "404",                       "401", "401"]),
    ("GET /api/v1/sites/own/archive",    ["403",        "403",        "403",                  "200",        "200",        "200",                       "401", "401"]),
    ("GET /api/v1/sites/other/archive",  ["403",        "403",        "403",                  "404",        "404",        "404",                       "401", "401"]),
];

struct World {
    _dir: tempfile::TempDir,
    server: Server,
    http: Http,
    own_site: String,
    other_site: String,
    own_issue: String,
    other_issue: String,
    /// An engineering job of the demo site with a photo, and the photo.
    own_photo: (String, String),
    own_route: String,
    other_route: String,
}

fn jwt_secret(dir: &std::path::Path) -> String {
    let conn = rusqlite::Connection::open(dir.join("patrol.db")).unwrap();
    conn.query_row(
        "SELECT value FROM server_secrets WHERE name = 'jwt'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    add_other_site(dir.path());
    let server = Server::start_demo(dir.path());
    let http = Http::new(&server.base_url);
    let theirs = http.token("cuihu-patrol", OTHER_SITE_PASSWORD);
    let (_, pulled) = http.get("/api/v1/sync/pull?limit=2000", Some(&theirs));
    let other_site = pulled_id(&pulled, "site", |_| true);
    let other_route = pulled_id(&pulled, "route", |_| true);
    // An engineering job on the other site.
    let other_issue = uuid::Uuid::now_v7().to_string();
    let report = op(
        1,
        "issue.report",
        json!({"issue_id": other_issue, "site_id": other_site, "category": "facility",
               "severity": "routine", "title": "5栋A梯按钮失灵",
               "observed_at": jiff::Timestamp::now(), "source": "patrol"}),
    );
    let (_, body) = http.push(&theirs, &uuid::Uuid::now_v7().to_string(), &[report]);
    assert_eq!(body["results"][0]["status"], "applied", "{body}");
    let ours = http.token("demo-super", "demo");
    let (_, pulled) = http.get("/api/v1/sync/pull?limit=2000", Some(&ours));
    let own_site = pulled_id(&pulled, "site", |_| true);
    let own_route = pulled_id(&pulled, "route", |_| true);
    let own_issue = pulled_id(&pulled, "issue", |i| i["team"] == "engineering");
    let (_, queue) = http.get("/api/v1/issues?limit=1000", Some(&ours));
    let own_photo = queue["issues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["team"] == "engineering" && i["photos"][0].is_string())
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_owned(),
                i["photos"][0].as_str().unwrap().to_owned(),
            )
        })
        .expect("the demo has an engineering job with a photo");
    World {
        _dir: dir,
        server,
        http,
        own_site,
        other_site,
        own_issue,
        other_issue,
        own_photo,
        own_route,
        other_route,
    }
}

impl World {
    /// The access and refresh tokens of a caller (none for "none").
    fn tokens(&self, caller: &str) -> Option<(String, String)> {
        let user = match caller {
            "patrol" => "demo-patrol",
            "tech" => "demo-tech",
            "tech-other" => "demo-cleaner",
            "super" => "demo-super",
            "manager" => "demo-manager",
            "admin" => "demo-admin",
            "none" => return None,
            "expired" => {
                let (_, body) = self.http.login("demo-super", "demo");
                let payload = body["access_token"]
                    .as_str()
                    .unwrap()
                    .split('.')
                    .nth(1)
                    .unwrap()
                    .to_owned();
                use base64::Engine as _;
                let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(payload)
                    .unwrap();
                let mut claims: Value = serde_json::from_slice(&raw).unwrap();
                claims["exp"] = json!(jiff::Timestamp::now().as_second() - 60);
                let token = jsonwebtoken::encode(
                    &Header::new(Algorithm::HS256),
                    &claims,
                    &EncodingKey::from_secret(jwt_secret(self._dir.path()).as_bytes()),
                )
                .unwrap();
                return Some((token, "expired-refresh-token".into()));
            }
            other => panic!("{other}"),
        };
        let (status, body) = self.http.login(user, "demo");
        assert_eq!(status, 200, "{user}: {body}");
        Some((
            body["access_token"].as_str().unwrap().to_owned(),
            body["refresh_token"].as_str().unwrap().to_owned(),
        ))
    }

    fn push_one(&self, token: Option<&str>, op: Value) -> String {
        let push = json!({"device_id": uuid::Uuid::now_v7(), "device_time": jiff::Timestamp::now(), "ops": [op]});
        let (status, body) = self.http.post("/api/v1/sync/push", token, &push);
        if status != 200 {
            return status.to_string();
        }
        let r = &body["results"][0];
        match r["status"].as_str().unwrap() {
            "applied" => "200:applied".into(),
            _ => format!("200:{}", r["code"].as_str().unwrap()),
        }
    }

    /// What a caller gets from one row's request.
    fn call(&self, endpoint: &str, token: Option<&str>, refresh: Option<&str>, n: usize) -> String {
        let t = token;
        let status = |(s, _): (u16, Value)| s.to_string();
        let report = |site: &str| {
            op(
                1,
                "issue.report",
                json!({"issue_id": uuid::Uuid::now_v7(), "site_id": site,
                "category": "cleaning", "severity": "routine", "title": "楼道杂物",
                "observed_at": jiff::Timestamp::now(), "source": "patrol"}),
            )
        };
        let start = |route: &str| {
            op(
                1,
                "patrol.start",
                json!({"run_id": uuid::Uuid::now_v7(), "route_id": route}),
            )
        };
        let comment = |issue: &str| {
            op(
                1,
                "issue.comment",
                json!({"issue_id": issue, "text": "已知悉"}),
            )
        };
        match endpoint {
            "GET /healthz" => status(self.http.get("/healthz", t)),
            "GET /metrics" => status(self.http.get("/metrics", t)),
            "GET /api/openapi.json" => status(self.http.get("/api/openapi.json", t)),
            "GET /api/v1/sync/pull" => {
                let (s, body) = self.http.get("/api/v1/sync/pull?limit=2000", t);
                assert!(
                    !body.to_string().contains(&self.other_site)
                        && !body.to_string().contains(&self.other_issue),
                    "a pull shows nothing of the other site"
                );
                s.to_string()
            }
            "GET /api/v1/issues" => {
                let (s, body) = self.http.get("/api/v1/issues?limit=1000", t);
                assert!(
                    !body.to_string().contains(&self.other_site),
                    "the queue shows nothing of the other site"
                );
                s.to_string()
            }
            "GET /api/v1/issues?site=own" => status(
                self.http
                    .get(&format!("/api/v1/issues?site={}", self.own_site), t),
            ),
            "GET /api/v1/issues?site=other" => status(
                self.http
                    .get(&format!("/api/v1/issues?site={}", self.other_site), t),
            ),
            "GET /api/v1/issues/own" => status(
                self.http
                    .get(&format!("/api/v1/issues/{}", self.own_issue), t),
            ),
            "GET /api/v1/issues/other" => status(
                self.http
                    .get(&format!("/api/v1/issues/{}", self.other_issue), t),
            ),
            "GET /api/v1/issues/own/blobs" => status(self.http.get(
                &format!(
                    "/api/v1/issues/{}/blobs/{}",
                    self.own_photo.0, self.own_photo.1
                ),
                t,
            )),
            // Another site's issue does not name the photo, and is not the caller's to see.
            "GET /api/v1/issues/other/blobs" => status(self.http.get(
                &format!(
                    "/api/v1/issues/{}/blobs/{}",
                    self.other_issue, self.own_photo.1
                ),
                t,
            )),
            "POST push comment own" => self.push_one(t, comment(&self.own_issue)),
            "POST push comment other" => self.push_one(t, comment(&self.other_issue)),
            "POST push report own" => self.push_one(t, report(&self.own_site)),
            "POST push report other" => self.push_one(t, report(&self.other_site)),
            "POST push start own" => self.push_one(t, start(&self.own_route)),
            "POST push start other" => self.push_one(t, start(&self.other_route)),
            "HEAD /api/v1/blobs" => {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .max_idle_age(patrol_core::sync::POOLED_IDLE)
                    .http_status_as_error(false)
                    .build()
                    .into();
                let mut req = agent.head(
                    self.http
                        .url(&format!("/api/v1/blobs/{}", sha256_hex(b"nothing"))),
                );
                if let Some(t) = t {
                    req = req.header("authorization", format!("Bearer {t}"));
                }
                req.call().unwrap().status().as_u16().to_string()
            }
            "PUT /api/v1/blobs" => {
                let img = image::RgbImage::from_pixel(40, 30, image::Rgb([n as u8 * 30, 100, 50]));
                let mut out = std::io::Cursor::new(Vec::new());
                img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
                let bytes = out.into_inner();
                status(
                    self.http
                        .put(&format!("/api/v1/blobs/{}", sha256_hex(&bytes)), t, &bytes),
                )
            }
            "GET /api/v1/reports/monthly own" | "GET /api/v1/reports/monthly other" => {
                let site = if endpoint.ends_with("own") {
                    &self.own_site
                } else {
                    &self.other_site
                };
                let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
                let month = patrol_core::report::Month::of(jiff::Timestamp::now(), &tz);
                status(self.http.get(
                    &format!("/api/v1/reports/monthly?site={site}&month={month}&format=csv"),
                    t,
                ))
            }
            "GET /api/v1/sites/own/archive" => status(
                self.http
                    .get(&format!("/api/v1/sites/{}/archive", self.own_site), t),
            ),
            "GET /api/v1/sites/other/archive" => status(
                self.http
                    .get(&format!("/api/v1/sites/{}/archive", self.other_site), t),
            ),
            "POST /api/v1/auth/refresh" => status(self.http.post(
                "/api/v1/auth/refresh",
                None,
                &json!({"refresh_token": refresh.unwrap_or("")}),
            )),
            other => panic!("no request for {other}"),
        }
    }
}

#[test]
fn every_endpoint_answers_every_caller_as_the_table_says() {
    let w = world();
    let mut wrong = Vec::new();
    for (column, caller) in CALLERS.iter().enumerate() {
        let tokens = w.tokens(caller);
        for (endpoint, expected) in TABLE {
            // Each caller's refresh token is used once, in its own row: sign in again for it.
            let tokens = if *endpoint == "POST /api/v1/auth/refresh"
                && tokens.is_some()
                && *caller != "expired"
            {
                w.tokens(caller)
            } else {
                tokens.clone()
            };
            let got = w.call(
                endpoint,
                tokens.as_ref().map(|t| t.0.as_str()),
                tokens.as_ref().map(|t| t.1.as_str()),
                column,
            );
            if got != expected[column] {
                wrong.push(format!(
                    "{endpoint} as {caller}: expected {}, got {got}",
                    expected[column]
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    drop(w.server);
}
