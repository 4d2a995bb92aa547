//! The coverage page of the web console (DESIGN.md §10 `GET /console/coverage`) against the real
//! demo server, read as the supervisor's browser gets it: signed in through the sign-in form with
//! its cookie and form token, today's building rounds show done on time, done late and missed
//! with the reason a checkpoint was left out; a technician may not open the page, another
//! site's id is not found, and a date that is no date is a clear 400 in both languages.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use patrol_e2e::{ConsoleClient, Http, OTHER_SITE_PASSWORD, Server, add_other_site};

/// A console page as the tests read it: status and body.
fn get(b: &mut ConsoleClient, path: &str) -> (u16, String) {
    let page = ConsoleClient::get(b, path);
    (page.status, page.body)
}

fn first_site(http: &Http, username: &str, password: &str) -> String {
    let (status, body) = http.login(username, password);
    assert_eq!(status, 200, "{body}");
    body["user"]["sites"][0].as_str().unwrap().to_owned()
}

/// How many times `needle` occurs in `page`.
fn count(page: &str, needle: &str) -> usize {
    page.matches(needle).count()
}

#[test]
fn a_supervisor_reads_today_s_coverage_and_others_may_not() {
    let data = tempfile::tempdir().unwrap();
    add_other_site(data.path());
    let server = Server::start_demo(data.path());
    let http = Http::new(&server.base_url);
    let demo = first_site(&http, "demo-super", "demo");
    let other = first_site(&http, "cuihu-super", OTHER_SITE_PASSWORD);
    assert_ne!(demo, other);

    // The demo walks today's building round at now−5 h (on time), now−3 h (late, the rooftop
    // of building 2 left out) and leaves now−1 h unwalked — as many of them as today holds.
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
    let local = jiff::Timestamp::now().to_zoned(tz);
    let (today, hour) = (local.date(), local.hour());

    let mut sup = ConsoleClient::sign_in(&server.base_url, "demo-super", "demo");
    let (status, page) = get(
        &mut sup,
        &format!("/console/coverage?site={demo}&date={today}"),
    );
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("巡查覆盖"), "the page's title");
    assert!(page.contains("楼栋巡查 / Building round"), "{page}");
    assert!(page.contains("公共设施巡查 / Grounds round"), "{page}");
    assert!(page.contains("本月漏巡最多的巡查点"), "the month's section");
    let reason = "天台门维修中，工程部已封闭";
    if hour >= 1 {
        assert!(page.contains("按时完成"), "a round done on time: {page}");
    }
    if hour >= 3 {
        assert!(page.contains("迟到完成"), "a round done late: {page}");
        // In the checkpoint table of the day, and among the month's most missed.
        assert!(page.contains(&format!("{reason} ×1")), "{page}");
        assert!(count(&page, reason) >= 2, "{page}");
        assert!(
            page.contains("2栋逃生天台"),
            "the checkpoint left out: {page}"
        );
    }
    if hour >= 5 {
        // The slot at now−1 h is past its half hour of grace with no round.
        assert!(
            page.contains("class=\"slot missed\""),
            "a missed slot: {page}"
        );
    }
    // The same page in English, and the date by default today in the site's zone.
    let (status, en) = get(&mut sup, "/console/coverage?lang=en");
    assert_eq!(status, 200);
    assert!(
        en.contains(&format!("value=\"{today}\"")),
        "today by default"
    );
    if hour >= 3 {
        assert!(
            en.contains("done late") && en.contains("done on time"),
            "{en}"
        );
    }
    // Previous and next day are links to the same page.
    let yesterday = today.yesterday().unwrap();
    assert!(
        page.contains(&format!("date={yesterday}")),
        "a link to the day before"
    );

    let (status, page) = get(
        &mut sup,
        &format!("/console/coverage?site={demo}&date=2026-13-01"),
    );
    assert_eq!(status, 400);
    assert!(
        page.contains("日期格式应为 YYYY-MM-DD") && page.contains("the date must be YYYY-MM-DD"),
        "{page}"
    );
    let (status, _) = get(
        &mut sup,
        &format!("/console/coverage?site={other}&date={today}"),
    );
    assert_eq!(status, 404, "another site is not theirs to know of");

    for who in ["demo-tech", "demo-patrol"] {
        let mut b = ConsoleClient::sign_in(&server.base_url, who, "demo");
        let (status, _) = get(
            &mut b,
            &format!("/console/coverage?site={demo}&date={today}"),
        );
        assert_eq!(status, 403, "{who}");
    }
}
