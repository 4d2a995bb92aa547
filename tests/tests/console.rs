//! The web console as each role of the demo site meets it, and as a forged form or another
//! site's person would: every page and form of DESIGN §10 against the table below, written out
//! by hand. An issue's page opens for whoever may see the issue (core's one visibility rule);
//! another site's issue or site is not found for anyone; forms without their `csrf` field refused; another site's issue, queue, reports and
//! archive never shown.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use patrol_e2e::{ConsoleClient, Http, OTHER_SITE_PASSWORD, Server, add_other_site, op, pulled_id};
use serde_json::json;

/// The callers, in the order of the table's columns.
const CALLERS: [&str; 7] = [
    "patrol",     // demo-patrol
    "tech",       // demo-tech, engineering
    "tech-other", // demo-cleaner, a technician of another team
    "super",      // demo-super
    "manager",    // demo-manager
    "admin",      // demo-admin
    "none",       // not signed in
];

/// What each caller gets: the status, and for a redirect where it leads.
#[rustfmt::skip]
const TABLE: &[(&str, [&str; 7])] = &[
    //                                        patrol  tech   other  super  manager admin  none
    ("GET /",                                 ["303",  "303", "303",  "303", "303",  "303", "303"]),
    ("GET /console",                          ["403",  "403", "403",  "200", "200",  "200", "303:login"]),
    ("GET /console/issues/own",               ["200",  "200", "404",  "200", "200",  "200", "303:login"]),
    ("GET /console/issues/own?print=1",       ["200",  "200", "404",  "200", "200",  "200", "303:login"]),
    ("GET /console/issues/other",             ["404",  "404", "404",  "404", "404",  "404", "303:login"]),
    ("GET /console?site=other",               ["403",  "403", "403",  "404", "404",  "404", "303:login"]),
    ("GET /console/reports",                  ["403",  "403", "403",  "200", "200",  "200", "303:login"]),
    ("GET /console/reports?site=other",       ["404",  "404", "404",  "404", "404",  "404", "303:login"]),
    ("GET /console/reports/download own",     ["403",  "403", "403",  "200", "200",  "200", "303:login"]),
    ("GET /console/reports/download other",   ["404",  "404", "404",  "404", "404",  "404", "303:login"]),
    ("GET /console/reports?month=2999-01",    ["403",  "403", "403",  "400", "400",  "400", "303:login"]),
    ("GET /console/sites/own/labels",         ["403",  "403", "403",  "200", "200",  "200", "303:login"]),
    ("GET /console/sites/other/labels",       ["403",  "403", "403",  "404", "404",  "404", "303:login"]),
    ("GET /console/sites/other/labels.pdf",   ["403",  "403", "403",  "404", "404",  "404", "303:login"]),
    ("GET /console/coverage",                 ["403",  "403", "403",  "200", "200",  "200", "303:login"]),
    ("GET /console/coverage?site=other",      ["403",  "403", "403",  "404", "404",  "404", "303:login"]),
    ("GET /console/admin",                    ["403",  "403", "403",  "403", "403",  "200", "303:login"]),
    ("GET /console/desk/new",                 ["200",  "403", "403",  "200", "200",  "403", "303:login"]),
    ("POST /console/issues/own/assign",       ["403",  "403", "403",  "303", "303",  "403", "303:login"]),
    ("POST /console/issues/own/assign nocsrf",["403",  "403", "403",  "403", "403",  "403", "303:login"]),
    ("POST /console/issues/other/assign",     ["403",  "403", "403",  "404", "404",  "403", "303:login"]),
    ("POST /console/issues/own/extension",    ["403",  "403", "403",  "403", "303",  "403", "303:login"]),
    ("POST /console/logout nocsrf",           ["403",  "403", "403",  "403", "403",  "403", "303:login"]),
    ("GET /console/alerts",                   ["403",  "403", "403",  "200", "200",  "200", "303:login"]),
    ("POST /console/alerts/own/ack nocsrf",   ["403",  "403", "403",  "403", "403",  "403", "303:login"]),
    ("POST /console/alerts/other/ack",        ["403",  "403", "403",  "404", "404",  "404", "303:login"]),
];

struct World {
    _dir: tempfile::TempDir,
    server: Server,
    own_site: String,
    other_site: String,
    own_issue: String,
    other_issue: String,
    technician: String,
    own_alert: String,
    other_alert: String,
}

/// Report an urgent issue as `token`'s phone; the id of the alert it raised, as `viewer` pulls it.
fn urgent_alert(http: &Http, token: &str, site: &str, viewer: &str) -> String {
    let issue = uuid::Uuid::now_v7().to_string();
    let report = op(
        1,
        "issue.report",
        json!({"issue_id": issue, "site_id": site, "category": "security",
               "severity": "urgent", "title": "车库有燃气味",
               "observed_at": jiff::Timestamp::now(), "source": "patrol"}),
    );
    let (_, body) = http.push(token, &uuid::Uuid::now_v7().to_string(), &[report]);
    assert_eq!(body["results"][0]["status"], "applied", "{body}");
    let (_, pulled) = http.get("/api/v1/sync/pull?limit=2000", Some(viewer));
    pulled_id(&pulled, "alert", |a| a["issue_id"] == issue.as_str())
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    add_other_site(dir.path());
    let server = Server::start_demo(dir.path());
    let http = Http::new(&server.base_url);
    let theirs = http.token("cuihu-patrol", OTHER_SITE_PASSWORD);
    let (_, pulled) = http.get("/api/v1/sync/pull?limit=2000", Some(&theirs));
    let other_site = pulled_id(&pulled, "site", |_| true);
    let other_issue = uuid::Uuid::now_v7().to_string();
    let report = op(
        1,
        "issue.report",
        json!({"issue_id": other_issue, "site_id": other_site, "category": "facility",
               "severity": "routine", "title": "翠湖苑5栋A梯按钮失灵",
               "observed_at": jiff::Timestamp::now(), "source": "patrol"}),
    );
    let (_, body) = http.push(&theirs, &uuid::Uuid::now_v7().to_string(), &[report]);
    assert_eq!(body["results"][0]["status"], "applied", "{body}");
    let ours = http.token("demo-super", "demo");
    let (_, pulled) = http.get("/api/v1/sync/pull?limit=2000", Some(&ours));
    let own_site = pulled_id(&pulled, "site", |_| true);
    // An open engineering job of the demo, waiting for a decision on its extension.
    let own_issue = pulled_id(&pulled, "issue", |i| {
        i["team"] == "engineering" && i["extension"].is_object()
    });
    let technician = pulled_id(&pulled, "user", |u| u["username"] == "demo-tech");
    let own_alert = urgent_alert(&http, &http.token("demo-patrol", "demo"), &own_site, &ours);
    let other_alert = urgent_alert(
        &http,
        &theirs,
        &other_site,
        &http.token("cuihu-super", OTHER_SITE_PASSWORD),
    );
    World {
        _dir: dir,
        server,
        own_site,
        other_site,
        own_issue,
        other_issue,
        technician,
        own_alert,
        other_alert,
    }
}

impl World {
    fn client(&self, caller: &str) -> ConsoleClient {
        let user = match caller {
            "patrol" => "demo-patrol",
            "tech" => "demo-tech",
            "tech-other" => "demo-cleaner",
            "super" => "demo-super",
            "manager" => "demo-manager",
            "admin" => "demo-admin",
            "none" => return ConsoleClient::new(&self.server.base_url),
            other => panic!("{other}"),
        };
        ConsoleClient::sign_in(&self.server.base_url, user, "demo")
    }

    fn month(&self) -> String {
        jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap())
            .strftime("%Y-%m")
            .to_string()
    }

    fn call(&self, c: &mut ConsoleClient, row: &str) -> String {
        let path = |p: &str| {
            p.replace("own", &self.own_issue)
                .replace("other", &self.other_issue)
        };
        let page = match row {
            "GET /console?site=other" => c.get(&format!("/console?site={}", self.other_site)),
            "GET /console/coverage?site=other" => {
                c.get(&format!("/console/coverage?site={}", self.other_site))
            }
            "GET /console/sites/own/labels" => {
                c.get(&format!("/console/sites/{}/labels", self.own_site))
            }
            "GET /console/sites/other/labels" => {
                c.get(&format!("/console/sites/{}/labels", self.other_site))
            }
            "GET /console/sites/other/labels.pdf" => {
                c.get(&format!("/console/sites/{}/labels.pdf", self.other_site))
            }
            "GET /console/reports?site=other" => {
                c.get(&format!("/console/reports?site={}", self.other_site))
            }
            "GET /console/reports/download own" | "GET /console/reports/download other" => {
                let site = if row.ends_with("own") {
                    &self.own_site
                } else {
                    &self.other_site
                };
                c.get(&format!(
                    "/console/reports/download?site={site}&month={}&format=csv",
                    self.month()
                ))
            }
            "POST /console/issues/own/assign" | "POST /console/issues/other/assign" => {
                let p = path(row.trim_start_matches("POST "));
                c.post(&p, &[("assignee_id", &self.technician)])
            }
            "POST /console/issues/own/assign nocsrf" => c.post_raw(
                &path("/console/issues/own/assign"),
                &[("assignee_id", &self.technician)],
            ),
            "POST /console/issues/own/extension" => c.post(
                &path("/console/issues/own/extension"),
                &[("approved", "false"), ("note", "配件已到，按原期限完成")],
            ),
            "POST /console/logout nocsrf" => c.post_raw("/console/logout", &[]),
            "POST /console/alerts/own/ack nocsrf" => c.post_raw(
                &format!("/console/alerts/{}/ack", self.own_alert),
                &[("note", "已到场")],
            ),
            "POST /console/alerts/other/ack" => c.post(
                &format!("/console/alerts/{}/ack", self.other_alert),
                &[("note", "已到场")],
            ),
            get => c.get(&path(get.trim_start_matches("GET "))),
        };
        match (page.status, page.location.as_deref()) {
            (303, Some(l)) if l.starts_with("/console/login") => "303:login".into(),
            (s, _) => s.to_string(),
        }
    }
}

#[test]
fn every_role_meets_the_console_as_the_table_says() {
    let w = world();
    let mut wrong = Vec::new();
    for (n, caller) in CALLERS.iter().enumerate() {
        let mut c = w.client(caller);
        for (row, expected) in TABLE {
            let got = w.call(&mut c, row);
            if got != expected[n] {
                wrong.push(format!(
                    "{row} as {caller}: {got}, expected {}",
                    expected[n]
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn another_sites_issues_never_show_and_a_signed_out_session_is_gone() {
    let w = world();
    let mut c = w.client("super");
    let queue = c.get("/console?status=");
    assert_eq!(queue.status, 200);
    assert!(
        !queue.body.contains("翠湖苑5栋A梯按钮失灵"),
        "another site's issue in the queue"
    );
    assert!(!queue.body.contains(&w.other_site), "another site offered");
    let all = c.get("/console?status=closed");
    assert!(!all.body.contains(&w.other_issue));
    let reports = c.get("/console/reports");
    assert!(
        !reports.body.contains("翠湖苑"),
        "another site among the reports"
    );
    let labels = c.get("/console/labels");
    assert_eq!(labels.status, 303, "to the person's one site");
    let labels = c.get(&labels.location.unwrap());
    assert_eq!(labels.status, 200);
    assert!(labels.body.contains("labels.pdf"), "the sheet to print");
    assert!(!labels.body.contains(&w.other_site) && !labels.body.contains("翠湖苑"));

    // Signed out, the same cookie opens nothing.
    let out = c.post("/console/logout", &[]);
    assert_eq!(out.status, 303, "{out:?}");
    let after = c.get("/console");
    assert_eq!(after.status, 303);
    assert!(after.location.unwrap().starts_with("/console/login"));
}

#[test]
fn the_report_page_shows_the_figures_the_workbook_holds() {
    let w = world();
    let mut c = w.client("super");
    let page = c.get(&format!("/console/reports?site={}", w.own_site));
    assert_eq!(page.status, 200);
    for words in [
        "完成巡查",
        "三天内关闭率",
        "人员考核数据",
        "<svg",
        "巡查员 小李",
    ] {
        assert!(page.body.contains(words), "{words} missing");
    }
    let link = format!(
        "/console/reports/download?site={}&amp;month={}&amp;format=xlsx",
        w.own_site,
        w.month()
    );
    assert!(page.body.contains(&link), "no XLSX link {link}");
    let (status, content_type, bytes) = c.bytes(&link.replace("&amp;", "&"));
    assert_eq!(status, 200);
    assert_eq!(
        content_type,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert!(bytes.starts_with(b"PK"), "a zip container");
    // In English on request.
    let en = c.get(&format!("/console/reports?site={}&lang=en", w.own_site));
    assert!(en.body.contains("Figures per person"), "English");
}
