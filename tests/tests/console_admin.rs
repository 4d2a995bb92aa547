//! The console's admin page (DESIGN §10 `GET /console/admin`) against the real server: an admin
//! adds people and they sign in on the phone's API; a disabled account cannot sign in and its
//! refresh tokens and console sessions end; a reset password replaces the old one; a site file
//! imports or shows every problem; a rotated label key re-signs every checkpoint. Nobody else
//! gets in, and no form works without its token.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeSet;

use patrol_core::ids::CheckpointId;
use patrol_core::labels::{LabelError, verify_for_site};
use patrol_core::site::Site;
use patrol_e2e::{Http, Server};
use serde_json::Value;

/// A browser: its cookies, no redirects followed.
struct Browser {
    base: String,
    agent: ureq::Agent,
    cookies: Vec<(String, String)>,
}

/// Status, `Location`, body.
type Page = (u16, String, String);

impl Browser {
    fn new(base: &str) -> Browser {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .max_idle_age(patrol_core::sync::POOLED_IDLE)
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(std::time::Duration::from_secs(60)))
            .build()
            .into();
        Browser {
            base: base.to_owned(),
            agent,
            cookies: Vec::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn take(&mut self, resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Page {
        let mut resp = resp.unwrap_or_else(|e| panic!("request failed: {e}"));
        for c in resp.headers().get_all("set-cookie") {
            let c = c.to_str().unwrap_or_default();
            let pair = c.split(';').next().unwrap_or_default();
            if let Some((k, v)) = pair.split_once('=') {
                self.cookies.retain(|(n, _)| n != k);
                if !v.is_empty() {
                    self.cookies.push((k.to_owned(), v.to_owned()));
                }
            }
        }
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        (status, location, body)
    }

    fn get(&mut self, path: &str) -> Page {
        let req = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header());
        self.take(req.call())
    }

    fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header());
        self.take(req.send_form(form.iter().copied()))
    }

    /// A multipart form: text fields and one file.
    fn post_multipart(&mut self, path: &str, fields: &[(&str, &str)], file: (&str, &[u8])) -> Page {
        let boundary = "patrol-test-boundary-7d1f";
        let mut body = Vec::new();
        for (k, v) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\ncontent-disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\ncontent-disposition: form-data; name=\"{}\"; filename=\"site.yaml\"\r\ncontent-type: application/yaml\r\n\r\n",
                file.0
            )
            .as_bytes(),
        );
        body.extend_from_slice(file.1);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let req = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            );
        self.take(req.send(&body[..]))
    }

    /// Sign in to the console; the answer to the sign-in form.
    fn sign_in(&mut self, username: &str, password: &str) -> Page {
        let (status, _, page) = self.get("/console/login");
        assert_eq!(status, 200);
        let token = csrf(&page);
        self.post(
            "/console/login",
            &[
                ("username", username),
                ("password", password),
                ("csrf", &token),
                ("next", "/console/admin"),
            ],
        )
    }

    /// Signed in as an admin, with the admin page's form token.
    fn admin(base: &str, username: &str, password: &str) -> (Browser, String) {
        let mut b = Browser::new(base);
        let (status, location, _) = b.sign_in(username, password);
        assert_eq!((status, location.as_str()), (303, "/console/admin"));
        let (status, _, page) = b.get("/console/admin");
        assert_eq!(status, 200, "{page}");
        let token = csrf(&page);
        (b, token)
    }
}

/// The form token of a page.
fn csrf(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .unwrap_or_else(|| panic!("no form token in {page}"))
        + "name=\"csrf\" value=\"".len();
    page[at..].split('"').next().unwrap_or_default().to_owned()
}

/// Sign-in on the phones' API: status and body.
fn api_login(http: &Http, username: &str, password: &str) -> (u16, Value) {
    http.login(username, password)
}

fn demo_site_id(http: &Http) -> String {
    let (status, body) = api_login(http, "demo-admin", "demo");
    assert_eq!(status, 200, "{body}");
    body["user"]["sites"][0].as_str().unwrap().to_owned()
}

#[test]
fn an_admin_adds_disables_enables_and_resets_a_user() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_demo(dir.path());
    let http = Http::new(&server.base_url);
    let site = demo_site_id(&http);
    let (mut admin, token) = Browser::admin(&server.base_url, "demo-admin", "demo");

    let (_, _, page) = admin.get("/console/admin");
    assert!(
        page.contains("demo-patrol") && page.contains("demo-tech"),
        "{page}"
    );
    assert!(
        page.contains("href=\"/console/admin\""),
        "the nav links the page"
    );

    // Refusals name the rule, and nothing is added.
    let user = |name: &'static str, role: &'static str, team: &'static str, pw: &'static str| {
        vec![
            ("csrf", token.clone()),
            ("site_id", site.clone()),
            ("username", name.to_owned()),
            ("display_name", "巡查员 小林".to_owned()),
            ("role", role.to_owned()),
            ("team", team.to_owned()),
            ("password", pw.to_owned()),
        ]
    };
    let send = |b: &mut Browser, form: Vec<(&str, String)>| {
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        b.post("/console/admin/users", &form)
    };
    let (status, _, page) = send(&mut admin, user("lin", "patrol", "", "short"));
    assert_eq!(status, 422);
    assert!(page.contains("密码至少 8 个字符"), "{page}");
    assert!(!page.contains("short"), "a password is never shown again");
    let (status, _, page) = send(&mut admin, user("wang", "technician", "", "long-enough-1"));
    assert_eq!(status, 422);
    assert!(page.contains("a technician needs a team"), "{page}");
    assert_eq!(api_login(&http, "wang", "long-enough-1").0, 401);
    let (status, _, page) = send(
        &mut admin,
        user("demo-patrol", "patrol", "", "long-enough-1"),
    );
    assert_eq!(status, 422);
    assert!(page.contains("已被使用"), "{page}");

    let (status, location, _) = send(&mut admin, user("lin", "patrol", "", "lin-password-1"));
    assert_eq!(
        (status, location.as_str()),
        (303, "/console/admin?done=user")
    );
    let (status, body) = api_login(&http, "lin", "lin-password-1");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["role"], "patrol");
    assert_eq!(body["user"]["sites"][0], site.as_str());
    let lin = body["user"]["id"].as_str().unwrap().to_owned();
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    let (_, _, page) = admin.get("/console/admin");
    assert!(page.contains("巡查员 小林"), "the new user is listed");

    // lin at the front desk in the console too.
    let mut lins_browser = Browser::new(&server.base_url);
    assert_eq!(lins_browser.sign_in("lin", "lin-password-1").0, 303);
    assert_eq!(lins_browser.get("/console/desk/new").0, 200);

    // Disabled: no sign-in anywhere, the refresh token and the console session are over.
    let (status, location, _) = admin.post(
        &format!("/console/admin/users/{lin}/disable"),
        &[("csrf", &token)],
    );
    assert_eq!(
        (status, location.as_str()),
        (303, "/console/admin?done=disabled")
    );
    let (status, body) = api_login(&http, "lin", "lin-password-1");
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "account_disabled");
    let (status, _) = http.post(
        "/api/v1/auth/refresh",
        None,
        &serde_json::json!({"refresh_token": refresh}),
    );
    assert!(
        status == 401 || status == 403,
        "refresh after disabling: {status}"
    );
    let (status, location, _) = lins_browser.get("/console/desk/new");
    assert_eq!(status, 303);
    assert!(location.starts_with("/console/login"), "{location}");
    assert_eq!(
        Browser::new(&server.base_url)
            .sign_in("lin", "lin-password-1")
            .0,
        403
    );
    let (_, _, page) = admin.get("/console/admin");
    assert!(page.contains("已停用"), "the page says so");

    // An admin cannot lock themselves out.
    let (status, body) = api_login(&http, "demo-admin", "demo");
    assert_eq!(status, 200);
    let me = body["user"]["id"].as_str().unwrap().to_owned();
    let (status, _, page) = admin.post(
        &format!("/console/admin/users/{me}/disable"),
        &[("csrf", &token)],
    );
    assert_eq!(status, 422);
    assert!(page.contains("不能停用你自己的账号"), "{page}");
    assert_eq!(api_login(&http, "demo-admin", "demo").0, 200);

    // Enabled again: signs in.
    let (status, location, _) = admin.post(
        &format!("/console/admin/users/{lin}/enable"),
        &[("csrf", &token)],
    );
    assert_eq!(
        (status, location.as_str()),
        (303, "/console/admin?done=enabled")
    );
    let (status, body) = api_login(&http, "lin", "lin-password-1");
    assert_eq!(status, 200, "{body}");
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();

    // A new password: the old one and the old sign-ins stop working.
    let path = format!("/console/admin/users/{lin}/password");
    let (status, _, page) = admin.post(&path, &[("csrf", &token), ("password", "short")]);
    assert_eq!(status, 422);
    assert!(page.contains("密码至少 8 个字符"), "{page}");
    let (status, location, _) =
        admin.post(&path, &[("csrf", &token), ("password", "lin-password-2")]);
    assert_eq!(
        (status, location.as_str()),
        (303, "/console/admin?done=password")
    );
    assert_eq!(api_login(&http, "lin", "lin-password-1").0, 401);
    assert_eq!(api_login(&http, "lin", "lin-password-2").0, 200);
    let (status, _) = http.post(
        "/api/v1/auth/refresh",
        None,
        &serde_json::json!({"refresh_token": refresh}),
    );
    assert_eq!(status, 401, "a refresh token from before the reset");
}

#[test]
fn only_admins_with_the_form_token_use_the_admin_page() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_demo(dir.path());
    let http = Http::new(&server.base_url);
    let site = demo_site_id(&http);
    let (_, body) = api_login(&http, "demo-patrol", "demo");
    let patrol = body["user"]["id"].as_str().unwrap().to_owned();
    let posts = [
        "/console/admin/sites/import".to_owned(),
        "/console/admin/users".to_owned(),
        format!("/console/admin/users/{patrol}/disable"),
        format!("/console/admin/users/{patrol}/enable"),
        format!("/console/admin/users/{patrol}/password"),
        format!("/console/admin/sites/{site}/rotate-key"),
    ];
    let form = |token: &str| {
        vec![
            ("csrf", token.to_owned()),
            ("site_id", site.clone()),
            ("username", "mallory".to_owned()),
            ("role", "admin".to_owned()),
            ("password", "mallory-password".to_owned()),
            ("confirm", "yes".to_owned()),
            ("yaml", "code: x\nname: x\nzones: []\n".to_owned()),
        ]
    };
    let pairs = |f: &[(&'static str, String)]| -> Vec<(&'static str, String)> { f.to_vec() };

    // A supervisor, signed in with a good form token, is refused everywhere.
    let mut sup = Browser::new(&server.base_url);
    assert_eq!(sup.sign_in("demo-super", "demo").0, 303);
    let (status, _, queue) = sup.get("/console");
    assert_eq!(status, 200);
    assert!(
        !queue.contains("href=\"/console/admin\""),
        "no nav entry for a supervisor"
    );
    let token = csrf(&queue);
    assert_eq!(sup.get("/console/admin").0, 403);
    for path in &posts {
        let f = pairs(&form(&token));
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(sup.post(path, &f).0, 403, "supervisor POST {path}");
    }

    // The admin without the token, or with another session's, is refused everywhere.
    let (mut admin, _) = Browser::admin(&server.base_url, "demo-admin", "demo");
    for bad in ["", token.as_str()] {
        for path in &posts {
            let mut f = pairs(&form(bad));
            if bad.is_empty() {
                f.retain(|(k, _)| *k != "csrf");
            }
            let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            assert_eq!(
                admin.post(path, &f).0,
                403,
                "admin POST {path} with token `{bad}`"
            );
        }
    }
    // Nothing happened.
    assert_eq!(api_login(&http, "mallory", "mallory-password").0, 401);
    assert_eq!(api_login(&http, "demo-patrol", "demo").0, 200);
}

#[test]
fn a_site_file_imports_or_shows_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_demo(dir.path());
    let (mut admin, token) = Browser::admin(&server.base_url, "demo-admin", "demo");
    let example = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../server/examples/site.yaml"
    ))
    .unwrap();

    let (status, location, page) = admin.post_multipart(
        "/console/admin/sites/import",
        &[("csrf", &token), ("yaml", "")],
        ("file", &example),
    );
    assert_eq!(
        (status, location.as_str()),
        (303, "/console/admin?done=import"),
        "{page}"
    );
    let (_, _, page) = admin.get("/console/admin");
    assert!(
        page.contains("翠湖苑") && page.contains("id=\"site-cuihu\""),
        "{page}"
    );
    let cuihu = &page[page.find("id=\"site-cuihu\"").unwrap()..];
    assert!(
        cuihu.contains("<dd class=\"checkpoints\">6</dd>"),
        "six checkpoints: {cuihu}"
    );
    assert!(cuihu.contains("Asia/Shanghai"));
    // The importing admin works on it now, on the phone too.
    let http = Http::new(&server.base_url);
    let (_, body) = api_login(&http, "demo-admin", "demo");
    assert_eq!(
        body["user"]["sites"].as_array().map(Vec::len),
        Some(2),
        "{body}"
    );

    // Again: refused, said plainly.
    let (status, _, page) = admin.post_multipart(
        "/console/admin/sites/import",
        &[("csrf", &token)],
        ("file", &example),
    );
    assert_eq!(status, 422);
    assert!(page.contains("小区代码 `cuihu` 已存在"), "{page}");

    // Every problem, with where it is, and nothing stored (pasted text, no file).
    let broken = "code: 翠湖 苑\nname: 翠湖苑\ntime_zone: Asia/Atlantis\nzones:\n  - { kind: garage, name: 车库, checkpoints: [] }\n  - kind: lobby\n    name: 大堂\n    checkpoints:\n      - { key: lobby, name: 大堂 }\n      - { key: lobby, name: 大堂侧门 }\nroutes:\n  - { name: 夜巡, times: [], checkpoints: [lobby, lobby, roof] }\n";
    let (status, _, page) = admin.post(
        "/console/admin/sites/import",
        &[("csrf", &token), ("yaml", broken)],
    );
    assert_eq!(status, 422);
    assert!(page.contains("站点文件有以下问题"), "{page}");
    for problem in [
        "code `翠湖 苑`",
        "Asia/Atlantis",
        "zone `车库` has no checkpoints",
        "checkpoint key `lobby` is used twice",
        "route `夜巡` lists `lobby` twice",
        "unknown checkpoint `roof`",
        "route `夜巡` has no start times",
    ] {
        assert!(page.contains(problem), "{problem} missing from {page}");
    }
    assert!(
        page.contains("Asia/Atlantis\n"),
        "the pasted text comes back to be fixed"
    );
    // Not YAML of the right shape: serde's line and column.
    let (status, _, page) = admin.post(
        "/console/admin/sites/import",
        &[
            ("csrf", &token),
            ("yaml", "code: x\nname: y\nzones:\n  - kind: moon\n"),
        ],
    );
    assert_eq!(status, 422);
    assert!(page.contains("moon") && page.contains("line 4"), "{page}");
    let (_, _, page) = admin.get("/console/admin?lang=en");
    assert!(
        !page.contains("site-x\""),
        "nothing of a broken file is stored"
    );
    assert!(page.contains("Import a site"), "English on ?lang=en");

    // A file over the bound (1 MiB) is refused unread.
    let huge = vec![b'#'; 1_200_000];
    let (status, _, _) = admin.post_multipart(
        "/console/admin/sites/import",
        &[("csrf", &token)],
        ("file", &huge),
    );
    assert_eq!(status, 400, "a 1.2 MB site file");
}

/// The demo site and its checkpoints as the admin's phone pulls them from `cursor`, and the
/// cursor after.
fn pulled(
    http: &Http,
    token: &str,
    cursor: &str,
) -> (Option<Site>, Vec<(CheckpointId, String)>, String) {
    let mut cursor = cursor.to_owned();
    let mut site = None;
    let mut checkpoints = Vec::new();
    loop {
        let path = if cursor.is_empty() {
            "/api/v1/sync/pull?limit=1000".to_owned()
        } else {
            format!("/api/v1/sync/pull?limit=1000&since={cursor}")
        };
        let (status, page) = http.get(&path, Some(token));
        assert_eq!(status, 200, "{page}");
        for c in page["changes"].as_array().unwrap() {
            match c["entity"].as_str() {
                Some("site") => site = Some(serde_json::from_value(c["data"].clone()).unwrap()),
                Some("checkpoint") => checkpoints.push((
                    c["id"].as_str().unwrap().parse().unwrap(),
                    c["data"]["qr_token"].as_str().unwrap().to_owned(),
                )),
                _ => {}
            }
        }
        cursor = page["cursor"].as_str().unwrap_or_default().to_owned();
        if page["more"] != true {
            return (site, checkpoints, cursor);
        }
    }
}

#[test]
fn rotating_a_label_key_resigns_every_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_demo(dir.path());
    let http = Http::new(&server.base_url);
    let phone = http.token("demo-admin", "demo");
    let (before, old_tokens, cursor) = pulled(&http, &phone, "");
    let before = before.unwrap();
    assert!(!old_tokens.is_empty());
    let known: BTreeSet<CheckpointId> = old_tokens.iter().map(|(id, _)| *id).collect();
    let (mut admin, token) = Browser::admin(&server.base_url, "demo-admin", "demo");
    let path = format!("/console/admin/sites/{}/rotate-key", before.id);

    let (_, _, page) = admin.get("/console/admin");
    assert!(page.contains("必须全部重新打印"), "the page warns: {page}");
    // Without the confirmation nothing changes.
    let (status, _, page) = admin.post(&path, &[("csrf", &token)]);
    assert_eq!(status, 422);
    assert!(page.contains("请勾选确认"), "{page}");
    let (_, unchanged, _) = pulled(&http, &phone, &cursor);
    assert!(unchanged.is_empty(), "no label changed");

    let (status, location, _) = admin.post(&path, &[("csrf", &token), ("confirm", "yes")]);
    assert_eq!(
        (status, location.as_str()),
        (303, "/console/admin?done=rekey")
    );

    // The phone's next pull brings the new key and every re-signed label.
    let (after, new_tokens, _) = pulled(&http, &phone, &cursor);
    let after = after.expect("the site comes with the next pull");
    assert_ne!(after.public_key, before.public_key);
    assert_eq!(
        new_tokens.len(),
        old_tokens.len(),
        "every checkpoint re-signed"
    );
    for (id, new) in &new_tokens {
        let (_, old) = old_tokens.iter().find(|(o, _)| o == id).unwrap();
        assert_ne!(old, new);
        assert_eq!(verify_for_site(new, &after, &[], &known), Ok(*id));
        assert_eq!(
            verify_for_site(old, &after, &[], &known),
            Err(LabelError::BadSignature),
            "a printed label of the old key"
        );
        assert_eq!(verify_for_site(old, &before, &[], &known), Ok(*id));
    }
    let (_, _, page) = admin.get("/console/admin");
    assert!(
        page.contains(&after.public_key),
        "the page shows the new public key"
    );
}
