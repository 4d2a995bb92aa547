//! Every endpoint checks who is asking: bad tokens get 401, valid users reaching beyond their
//! site or role get 403, uploads are bounded (413) and checked against their hash (422).
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use patrol_core::blob::sha256_hex;
use patrol_core::ids::SiteId;
use patrol_e2e::Server;
use serde_json::{Value, json};

struct Api {
    server: Server,
    dir: tempfile::TempDir,
}

impl Api {
    fn start() -> Api {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start_demo(dir.path());
        Api { server, dir }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url)
    }

    fn login(&self, user: &str) -> Value {
        let mut r = ureq::post(&self.url("/api/v1/auth/login"))
            .send_json(json!({"username": user, "password": "demo"}))
            .unwrap();
        r.body_mut().read_json().unwrap()
    }

    fn token(&self, user: &str) -> String {
        self.login(user)["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Status of a GET with this bearer token (or none).
    fn get_status(&self, path: &str, token: Option<&str>) -> u16 {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .max_idle_age(patrol_core::sync::POOLED_IDLE)
            .http_status_as_error(false)
            .build()
            .into();
        let mut req = agent.get(&self.url(path));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        req.call().unwrap().status().as_u16()
    }

    fn jwt_secret(&self) -> String {
        let conn = rusqlite::Connection::open(self.dir.path().join("patrol.db")).unwrap();
        conn.query_row(
            "SELECT value FROM server_secrets WHERE name = 'jwt'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .max_idle_age(patrol_core::sync::POOLED_IDLE)
        .http_status_as_error(false)
        .build()
        .into()
}

#[test]
fn bad_tokens_are_401() {
    let api = Api::start();
    let good = api.token("demo-patrol");
    assert_eq!(api.get_status("/api/v1/issues", Some(&good)), 200);
    assert_eq!(api.get_status("/api/v1/issues", None), 401, "missing");
    assert_eq!(
        api.get_status("/api/v1/issues", Some("not-a-jwt")),
        401,
        "garbage"
    );

    let claims: Value = {
        let payload = good.split('.').nth(1).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    };
    let secret = api.jwt_secret();
    let sign = |claims: &Value, key: &str| {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(key.as_bytes()),
        )
        .unwrap()
    };
    // Re-signed with the real key the claims are accepted: the tests below fail for their one reason.
    assert_eq!(
        api.get_status("/api/v1/issues", Some(&sign(&claims, &secret))),
        200
    );

    let mut expired = claims.clone();
    expired["exp"] = json!(jiff::Timestamp::now().as_second() - 600);
    assert_eq!(
        api.get_status("/api/v1/issues", Some(&sign(&expired, &secret))),
        401,
        "expired"
    );

    assert_eq!(
        api.get_status("/api/v1/issues", Some(&sign(&claims, "someone-elses-key"))),
        401,
        "wrong key"
    );

    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    let mut forged = claims.clone();
    forged["role"] = json!("manager");
    parts[1] = URL_SAFE_NO_PAD.encode(forged.to_string());
    assert_eq!(
        api.get_status("/api/v1/issues", Some(&parts.join("."))),
        401,
        "tampered"
    );

    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    assert_eq!(
        api.get_status("/api/v1/issues", Some(&none)),
        401,
        "alg none"
    );

    let mut no_exp = claims.clone();
    no_exp.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        api.get_status("/api/v1/issues", Some(&sign(&no_exp, &secret))),
        401,
        "no exp"
    );

    let resp = agent().get(&api.url("/api/v1/sync/pull")).call().unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let mut resp = resp;
    let body: Value = resp.body_mut().read_json().unwrap();
    assert_eq!(
        body["error"]["code"], "unauthorized",
        "errors have the documented shape"
    );
}

#[test]
fn users_reaching_beyond_their_site_or_role_are_403() {
    let api = Api::start();
    let patrol = api.token("demo-patrol");
    let other_site = SiteId::new();
    assert_eq!(
        api.get_status(&format!("/api/v1/issues?site={other_site}"), Some(&patrol)),
        403
    );
    let tech = api.token("demo-tech");
    assert_eq!(
        api.get_status("/api/v1/issues?team=cleaning", Some(&tech)),
        403
    );
    assert_eq!(
        api.get_status("/api/v1/issues?team=engineering", Some(&tech)),
        200
    );
}

#[test]
fn wrong_passwords_are_401_and_then_wait() {
    let api = Api::start();
    let attempt = |pw: &str| {
        agent()
            .post(&api.url("/api/v1/auth/login"))
            .send_json(json!({"username": "demo-manager", "password": pw}))
            .unwrap()
            .status()
            .as_u16()
    };
    for _ in 0..10 {
        assert_eq!(attempt("guess"), 401);
    }
    assert_eq!(
        attempt("demo"),
        429,
        "from this address, even the right password waits its turn after ten tries"
    );
}

#[test]
fn refresh_tokens_rotate_and_a_replay_revokes_them() {
    let api = Api::start();
    let first = api.login("demo-patrol");
    let refresh = |t: &str| {
        let mut r = agent()
            .post(&api.url("/api/v1/auth/refresh"))
            .send_json(json!({"refresh_token": t}))
            .unwrap();
        let status = r.status().as_u16();
        (status, r.body_mut().read_json::<Value>().unwrap())
    };
    let (status, second) = refresh(first["refresh_token"].as_str().unwrap());
    assert_eq!(status, 200);
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    // The old token again: refused, and the new one stops working too (a stolen token).
    assert_eq!(refresh(first["refresh_token"].as_str().unwrap()).0, 401);
    assert_eq!(refresh(second["refresh_token"].as_str().unwrap()).0, 401);
}

/// Announce an upload of `len` bytes and read the answer before sending any of them, as a
/// careful client does (`Expect: 100-continue`). Sending the bytes regardless would race the
/// server closing the connection after its 413.
fn put_announcing(api: &Api, token: &str, len: usize) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let addr = api.server.base_url.trim_start_matches("http://").to_owned();
    let mut conn = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        conn,
        "PUT /api/v1/blobs/{} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: image/jpeg\r\nContent-Length: {len}\r\nExpect: 100-continue\r\n\r\n",
        "ab".repeat(32)
    )
    .unwrap();
    let mut reader = BufReader::new(conn);
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let status: u16 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        if status != 100 {
            return status;
        }
        // Skip the blank line after an interim 100 Continue.
        let mut blank = String::new();
        reader.read_line(&mut blank).unwrap();
    }
}

#[test]
fn uploads_are_bounded_and_checked() {
    let api = Api::start();
    let token = api.token("demo-patrol");
    let put = |sha: &str, bytes: &[u8]| {
        agent()
            .put(&api.url(&format!("/api/v1/blobs/{sha}")))
            .header("authorization", format!("Bearer {token}"))
            .send(bytes)
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(put_announcing(&api, &token, 9 * 1024 * 1024), 413);
    let img = image::RgbImage::from_pixel(64, 64, image::Rgb([10, 20, 30]));
    let mut jpeg = std::io::Cursor::new(Vec::new());
    img.write_to(&mut jpeg, image::ImageFormat::Jpeg).unwrap();
    let jpeg = jpeg.into_inner();
    assert_eq!(
        put(&sha256_hex(b"other bytes"), &jpeg),
        422,
        "bytes that do not match the hash"
    );
    let text = b"not a photo at all";
    assert_eq!(put(&sha256_hex(text), text), 422, "not a photo");
    let sha = sha256_hex(&jpeg);
    assert_eq!(put(&sha, &jpeg), 201);
    assert_eq!(put(&sha, &jpeg), 200, "already there");
    let head = |sha: &str| {
        agent()
            .head(&api.url(&format!("/api/v1/blobs/{sha}")))
            .header("authorization", format!("Bearer {token}"))
            .call()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(head(&sha), 200);
    assert_eq!(head(&sha256_hex(b"missing")), 404);
    assert_eq!(
        agent()
            .put(&api.url(&format!("/api/v1/blobs/{sha}")))
            .send(&jpeg[..])
            .unwrap()
            .status()
            .as_u16(),
        401,
        "uploads need a signed-in user"
    );
}

#[test]
fn a_newer_client_gets_426_and_an_op_naming_a_missing_photo_gets_409() {
    let api = Api::start();
    let token = api.token("demo-patrol");
    let pull = agent()
        .get(&api.url("/api/v1/sync/pull"))
        .header("authorization", format!("Bearer {token}"))
        .header("patrol-protocol", "2")
        .call()
        .unwrap();
    assert_eq!(pull.status().as_u16(), 426);
    let op = json!({
        "op_id": patrol_core::ids::OpId::new(), "seq": 1, "kind": "issue.resolve",
        "at": jiff::Timestamp::now(),
        "body": {"issue_id": patrol_core::ids::IssueId::new(), "photos": [sha256_hex(b"never uploaded")]}
    });
    let push = agent()
        .post(&api.url("/api/v1/sync/push"))
        .header("authorization", format!("Bearer {token}"))
        .send_json(json!({"device_id": patrol_core::ids::DeviceId::new(), "device_time": jiff::Timestamp::now(), "ops": [op]}))
        .unwrap();
    assert_eq!(push.status().as_u16(), 409);
}

#[test]
fn health_and_prometheus_metrics_are_served() {
    let api = Api::start();
    assert_eq!(api.get_status("/healthz", None), 200);
    api.token("demo-patrol");
    assert_eq!(api.get_status("/api/v1/issues", None), 401);
    let text = agent()
        .get(&api.url("/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(text.contains("patrol_http_requests_total"), "{text}");
    assert!(text.contains(r#"route="/api/v1/auth/login""#), "{text}");
    assert!(text.contains(r#"status="401""#), "{text}");
    assert!(
        text.contains("patrol_escalations_total"),
        "the demo's major issues were escalated: {text}"
    );
}

#[test]
fn an_op_naming_a_photo_that_is_not_a_hash_is_rejected_for_good() {
    let api = Api::start();
    let token = api.token("demo-patrol");
    let op_id = patrol_core::ids::OpId::new();
    let op = json!({
        "op_id": op_id, "seq": 1, "kind": "issue.resolve", "at": jiff::Timestamp::now(),
        "body": {"issue_id": patrol_core::ids::IssueId::new(), "photos": ["../../etc/passwd"]}
    });
    let mut push = agent()
        .post(&api.url("/api/v1/sync/push"))
        .header("authorization", format!("Bearer {token}"))
        .send_json(json!({"device_id": patrol_core::ids::DeviceId::new(), "device_time": jiff::Timestamp::now(), "ops": [op]}))
        .unwrap();
    assert_eq!(push.status().as_u16(), 200);
    let body: Value = push.body_mut().read_json().unwrap();
    assert_eq!(body["results"][0]["status"], "rejected");
    assert_eq!(body["results"][0]["code"], "bad_photo_id");
}
