//! The monthly report and the archive (DESIGN.md §7–8) against the real server, read back as a
//! person's spreadsheet program would: a patroller walks a round with a real phone engine and
//! reports a fault, a technician resolves it, a supervisor rejects the fix once and then signs
//! it off; the month's XLSX opens with an independent reader (calamine) and says so, sheet by
//! sheet, and the CSV parses with its sections. Then retention: rounds walked months ago on a
//! site that keeps records 60 days are archived to the blob store and purged by
//! `patrol-server archive run`, a purge stopped half-way finishes on the next run as if it had
//! never stopped, and what is inside the retention is untouched.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::io::Cursor;
use std::path::Path;
use std::sync::{Arc, Mutex};

use calamine::{Data, Reader, Xlsx};
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use patrol_core::checklist::{Answer, ItemKind};
use patrol_core::engine::{Clock, Engine, ReportDraft};
use patrol_core::issue::{Issue, Source, Status};
use patrol_core::patrol::{Missed, Outcome, PatrolRun};
use patrol_core::report::Month;
use patrol_core::sync::{CancelToken, SyncClient};
use patrol_e2e::{Http, OTHER_SITE_PASSWORD, Server, add_other_site, admin, building_round};
use serde_json::Value;

const SHEETS: [&str; 5] = [
    "巡查 Rounds",
    "到点 Visits",
    "检查结果 Results",
    "问题 Issues",
    "人员 People",
];

/// A phone clock that can be set back, as on a phone that was offline for weeks.
struct Shifted(Mutex<SignedDuration>);

impl Clock for Shifted {
    fn now(&self) -> Timestamp {
        Timestamp::now() + *self.0.lock().unwrap()
    }
}

fn phone(dir: &Path, name: &str) -> (Engine, Arc<Shifted>) {
    std::fs::create_dir_all(dir.join(name)).unwrap();
    let clock = Arc::new(Shifted(Mutex::new(SignedDuration::ZERO)));
    let engine = Engine::open_with_clock(&dir.join(name).join("patrol.db"), clock.clone()).unwrap();
    (engine, clock)
}

fn sync(client: &SyncClient, engine: &Engine) {
    let report = client.sync(engine, &|_| {}, &CancelToken::new()).unwrap();
    assert_eq!(
        report.rejected,
        0,
        "{report:?}: {:?}",
        engine.rejections().unwrap()
    );
}

fn jpeg(seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(800, 600, |x, y| {
        image::Rgb([(x / 5) as u8 ^ seed, (y / 4) as u8, seed])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// Walk the building round of today: scan each checkpoint but the last (left out with a
/// reason), answer every item as normal — except, when `fault` is given, the first stairwell
/// light, which is a fault with a photo, reported with that title.
fn walk(engine: &Engine, fault: Option<&str>) -> (PatrolRun, Option<Issue>) {
    let route = building_round(engine);
    let run = engine.start_round(route.id).unwrap();
    let skipped = *route.checkpoint_ids.last().unwrap();
    let mut reported = None;
    for cp_id in &route.checkpoint_ids {
        if *cp_id == skipped {
            continue;
        }
        let cp = engine.checkpoint(*cp_id).unwrap().unwrap();
        let scan = engine.scan(run, &cp.qr_token).unwrap();
        for item in &scan.template.items {
            if let Some(title) =
                fault.filter(|_| reported.is_none() && item.key == "stairwell.lights")
            {
                let photo = engine.add_photo(&jpeg(1)).unwrap();
                let answer = Answer {
                    outcome: Some(Outcome::Fault),
                    photos: vec![photo.clone()],
                    ..Answer::default()
                };
                engine.answer(scan.visit_id, &item.key, answer).unwrap();
                reported = Some(
                    engine
                        .report(ReportDraft {
                            site_id: None,
                            visit_id: Some(scan.visit_id),
                            item_key: Some(item.key.clone()),
                            zone_id: None,
                            category: None,
                            severity: None,
                            title: title.to_owned(),
                            note: Some("两盏灯管不亮".into()),
                            photos: vec![photo],
                            fixed_on_spot: false,
                            source: Source::Patrol,
                        })
                        .unwrap(),
                );
                continue;
            }
            let answer = match &item.kind {
                ItemKind::Reading { normal_min, .. } => Answer {
                    reading: Some(normal_min.unwrap_or(0.0)),
                    ..Answer::default()
                },
                ItemKind::Text => Answer {
                    note: Some("正常".into()),
                    ..Answer::default()
                },
                ItemKind::Check => Answer {
                    outcome: Some(Outcome::Ok),
                    ..Answer::default()
                },
            };
            engine.answer(scan.visit_id, &item.key, answer).unwrap();
        }
    }
    let run = engine
        .finish_round(
            run,
            vec![Missed {
                checkpoint_id: skipped,
                reason: "水电表房门锁坏".into(),
            }],
        )
        .unwrap();
    (run, reported)
}

/// A GET as a browser downloads a file: status, content type, bytes.
fn download(server: &Server, path: &str, token: &str) -> (u16, String, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_idle_age(patrol_core::sync::POOLED_IDLE)
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = agent
        .get(format!("{}{path}", server.base_url))
        .header("authorization", format!("Bearer {token}"))
        .call()
        .unwrap();
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .unwrap();
    (status, content_type, bytes)
}

/// Keep what a test downloaded where `PATROL_E2E_SAVE_DIR` says, for a person to open.
fn keep(name: &str, bytes: &[u8]) {
    if let Some(dir) = std::env::var_os("PATROL_E2E_SAVE_DIR") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(Path::new(&dir).join(name), bytes).unwrap();
    }
}

/// Every sheet of a workbook, as rows of cells.
fn sheets(xlsx: &[u8]) -> Vec<(String, Vec<Vec<Data>>)> {
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(xlsx.to_vec())).unwrap();
    book.sheet_names()
        .into_iter()
        .map(|name| {
            let range = book.worksheet_range(&name).unwrap();
            let rows = range.rows().map(<[Data]>::to_vec).collect();
            (name, rows)
        })
        .collect()
}

/// A sheet's rows as maps from header to cell.
fn table(sheets: &[(String, Vec<Vec<Data>>)], name: &str) -> Vec<Vec<(String, Data)>> {
    let (_, rows) = sheets.iter().find(|(n, _)| n == name).unwrap();
    // A header shows on two lines, Chinese over English.
    let header: Vec<String> = rows[0]
        .iter()
        .map(|h| {
            let h = h.to_string();
            assert!(h.contains('\n'), "{h}");
            h.replace('\n', " ")
        })
        .collect();
    rows[1..]
        .iter()
        .map(|row| header.iter().cloned().zip(row.iter().cloned()).collect())
        .collect()
}

fn cell<'a>(row: &'a [(String, Data)], header: &str) -> &'a Data {
    &row.iter()
        .find(|(h, _)| h == header)
        .unwrap_or_else(|| panic!("no column {header}"))
        .1
}

fn text(row: &[(String, Data)], header: &str) -> String {
    cell(row, header).to_string()
}

fn number(row: &[(String, Data)], header: &str) -> f64 {
    match cell(row, header) {
        Data::Float(f) => *f,
        Data::Int(n) => *n as f64,
        other => panic!("{header}: {other:?} is not a number"),
    }
}

/// An Excel date cell as the wall-clock time it shows.
fn date(row: &[(String, Data)], header: &str) -> DateTime {
    let Data::DateTime(t) = cell(row, header) else {
        panic!("{header}: {:?} is not a date", cell(row, header));
    };
    let ms = (t.as_f64() * 86_400_000.0).round() as i64;
    jiff::civil::date(1899, 12, 30)
        .at(0, 0, 0, 0)
        .checked_add(SignedDuration::from_millis(ms))
        .unwrap()
}

fn shanghai() -> TimeZone {
    TimeZone::get("Asia/Shanghai").unwrap()
}

/// The same instant to the second, as the site's clock shows it.
fn same_time(shown: DateTime, t: Timestamp) {
    let local = t.to_zoned(shanghai()).datetime();
    let off = shown.duration_until(local).abs();
    assert!(off < SignedDuration::from_secs(1), "{shown} is not {local}");
}

fn error_code(bytes: &[u8]) -> String {
    let v: Value = serde_json::from_slice(bytes).unwrap();
    v["error"]["code"].as_str().unwrap().to_owned()
}

#[test]
fn a_month_from_patrol_to_sign_off_reads_back_from_the_xlsx_and_the_csv() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    add_other_site(&data);
    let server = Server::start_demo(&data);
    let client = SyncClient::new(&server.base_url);

    let (patrol, _) = phone(dir.path(), "patrol");
    client.login(&patrol, "demo-patrol", "demo").unwrap();
    sync(&client, &patrol);
    let (run, issue) = walk(&patrol, Some("1栋楼梯灯不亮（报表）"));
    let issue = issue.expect("the round has a stairwell light");
    sync(&client, &patrol);

    let (boss, _) = phone(dir.path(), "super");
    client.login(&boss, "demo-super", "demo").unwrap();
    let (tech, _) = phone(dir.path(), "tech");
    let tech_user = client.login(&tech, "demo-tech", "demo").unwrap();
    sync(&client, &boss);
    boss.assign(issue.id, tech_user.id).unwrap();
    sync(&client, &boss);
    sync(&client, &tech);
    tech.start_job(issue.id).unwrap();
    let fix = tech.add_photo(&jpeg(2)).unwrap();
    tech.resolve_job(issue.id, Some("更换灯管".into()), vec![fix])
        .unwrap();
    sync(&client, &tech);
    sync(&client, &boss);
    boss.verify(issue.id, false, Some("还有一盏不亮".into()), None, vec![])
        .unwrap();
    sync(&client, &boss);
    sync(&client, &tech);
    let fix = tech.add_photo(&jpeg(3)).unwrap();
    tech.resolve_job(issue.id, Some("灯管及镇流器已换".into()), vec![fix])
        .unwrap();
    sync(&client, &tech);
    sync(&client, &boss);
    let signature = boss.add_photo(&jpeg(9)).unwrap();
    boss.verify(
        issue.id,
        true,
        Some("现场验收合格".into()),
        Some(signature),
        vec![],
    )
    .unwrap();
    sync(&client, &boss);

    let http = Http::new(&server.base_url);
    let token = http.token("demo-super", "demo");
    let site = run.site_id;
    let month = Month::of(run.started_at, &shanghai()).to_string();
    let (_, detail) = http.get(&format!("/api/v1/issues/{}", issue.id), Some(&token));
    assert_eq!(detail["issue"]["status"], "closed");
    let audit_at = |kind: &str, nth: usize| -> Timestamp {
        detail["audit"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["kind"] == kind)
            .nth(nth)
            .unwrap()["at"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };

    // The workbook.
    let path = format!("/api/v1/reports/monthly?site={site}&month={month}&format=xlsx");
    let (status, content_type, xlsx) = download(&server, &path, &token);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&xlsx));
    assert_eq!(
        content_type,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    keep("report.xlsx", &xlsx);
    let book = sheets(&xlsx);
    assert_eq!(
        book.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        SHEETS
    );

    let rounds = table(&book, "巡查 Rounds");
    let round = rounds
        .iter()
        .find(|r| text(r, "巡查编号 Round id") == run.id.to_string())
        .expect("the round is in the archive");
    let route = patrol.route(run.route_id).unwrap().unwrap();
    assert_eq!(text(round, "路线 Route"), route.name);
    assert_eq!(text(round, "巡查员 Patroller"), "巡查员 小李");
    same_time(date(round, "开始 Started"), run.started_at);
    same_time(date(round, "结束 Finished"), run.finished_at.unwrap());
    assert!(matches!(text(round, "准时 On time").as_str(), "是" | "否"));
    assert_eq!(
        number(round, "已到点 Checkpoints visited") as usize,
        route.checkpoint_ids.len() - 1
    );
    assert_eq!(number(round, "漏检 Checkpoints missed"), 1.0);
    assert!(
        text(round, "漏检点及原因 Missed, with reasons").contains("水电表房门锁坏"),
        "{round:?}"
    );

    let visits = table(&book, "到点 Visits");
    let ours: Vec<_> = visits
        .iter()
        .filter(|v| text(v, "巡查编号 Round id") == run.id.to_string())
        .collect();
    assert_eq!(ours.len(), route.checkpoint_ids.len() - 1);
    assert!(ours.iter().all(|v| text(v, "方式 How") == "扫码 / QR scan"));
    assert!(matches!(cell(ours[0], "时间 Time"), Data::DateTime(_)));

    let ours_visits: Vec<String> = ours.iter().map(|v| text(v, "到点编号 Visit id")).collect();
    let results = table(&book, "检查结果 Results");
    let faults: Vec<_> = results
        .iter()
        .filter(|r| ours_visits.contains(&text(r, "到点编号 Visit id")))
        .filter(|r| text(r, "结果 Outcome") == "故障 / fault")
        .collect();
    assert_eq!(faults.len(), 1, "one fault in the round");
    assert_eq!(number(faults[0], "照片数 Photos"), 1.0);
    assert!(
        text(faults[0], "检查项 Item").contains(" / "),
        "both languages"
    );
    assert!(results.len() > ours.len(), "several items per checkpoint");

    let issues = table(&book, "问题 Issues");
    let row = issues
        .iter()
        .find(|r| text(r, "问题编号 Issue id") == issue.id.to_string())
        .expect("the issue is in the report");
    assert_eq!(text(row, "标题 Title"), "1栋楼梯灯不亮（报表）");
    assert_eq!(text(row, "状态 Status"), "已关闭 / closed");
    assert_eq!(text(row, "班组 Team"), "工程部 / Engineering");
    assert_eq!(text(row, "来源 Source"), "巡查 / patrol");
    let observed: Timestamp = detail["issue"]["observed_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    same_time(date(row, "发现 Found"), observed);
    same_time(
        date(row, "期限 Due"),
        observed + SignedDuration::from_hours(72),
    );
    same_time(date(row, "完成维修 Resolved"), audit_at("issue.resolve", 1));
    same_time(date(row, "验收 Verified"), audit_at("issue.verify", 1));
    assert_eq!(text(row, "三天内关闭 Closed within 3 days"), "是");
    assert_eq!(text(row, "维修人 Resolved by"), "维修工 老王");
    assert_eq!(text(row, "验收人 Verified by"), "物业助理 陈主管");
    assert_eq!(number(row, "维修被退回 Fixes rejected"), 1.0);
    assert_eq!(text(row, "现场处理 Fixed on the spot"), "否");

    let people = table(&book, "人员 People");
    let person = |username: &str| {
        people
            .iter()
            .find(|p| text(p, "账号 Username") == username)
            .unwrap_or_else(|| panic!("{username} is not in the figures"))
    };
    let found_by_patrol = issues
        .iter()
        .filter(|r| text(r, "上报人 Reported by") == "巡查员 小李")
        .count();
    // The figures agree with the sheets they sum up (the demo's own month is in them too).
    let patrols: Vec<_> = rounds
        .iter()
        .filter(|r| text(r, "巡查员 Patroller") == "巡查员 小李")
        .filter(|r| !text(r, "结束 Finished").is_empty())
        .collect();
    let p = person("demo-patrol");
    assert_eq!(number(p, "完成巡查 Rounds done") as usize, patrols.len());
    assert_eq!(
        number(p, "准时巡查 Rounds on time") as usize,
        patrols
            .iter()
            .filter(|r| text(r, "准时 On time") == "是")
            .count()
    );
    assert_eq!(
        number(p, "漏检点 Checkpoints missed"),
        patrols
            .iter()
            .map(|r| number(r, "漏检 Checkpoints missed"))
            .sum::<f64>()
    );
    assert_eq!(number(p, "发现问题 Findings") as usize, found_by_patrol);
    assert!(found_by_patrol >= 1);
    let fixed: Vec<_> = issues
        .iter()
        .filter(|r| text(r, "维修人 Resolved by") == "维修工 老王")
        .collect();
    let t = person("demo-tech");
    assert_eq!(
        number(t, "三天内关闭工单 Jobs closed within 3 days") as usize,
        fixed
            .iter()
            .filter(|r| text(r, "三天内关闭 Closed within 3 days") == "是")
            .count()
    );
    assert!(number(t, "三天内关闭工单 Jobs closed within 3 days") >= 1.0);
    assert_eq!(
        number(t, "维修被退回 Fixes rejected"),
        fixed
            .iter()
            .map(|r| number(r, "维修被退回 Fixes rejected"))
            .sum::<f64>()
    );
    assert_eq!(number(t, "完成巡查 Rounds done"), 0.0);
    assert_eq!(text(t, "岗位 Role"), "维修技术员 / technician");
    assert_eq!(number(person("demo-manager"), "发现问题 Findings"), 0.0);

    // The CSV: every part a section, UTF-8 with a BOM.
    let path = format!("/api/v1/reports/monthly?site={site}&month={month}&format=csv");
    let (status, content_type, csv_bytes) = download(&server, &path, &token);
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    assert!(csv_bytes.starts_with(b"\xEF\xBB\xBF"), "a BOM for Excel");
    keep("report.csv", &csv_bytes);
    let csv_text = String::from_utf8(csv_bytes[3..].to_vec()).unwrap();
    for title in &SHEETS[1..] {
        assert!(
            csv_text.contains(&format!("\r\n\r\n{title}\r\n")),
            "a blank line, then the section {title}"
        );
    }
    let records: Vec<csv::StringRecord> = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(csv_text.as_bytes())
        .records()
        .map(Result::unwrap)
        .collect();
    let titles: Vec<&str> = records
        .iter()
        .filter(|r| r.len() == 1 && SHEETS.contains(&&r[0]))
        .map(|r| r.get(0).unwrap())
        .collect();
    assert_eq!(titles, SHEETS);
    let at = |title: &str| {
        records
            .iter()
            .position(|r| r.len() == 1 && &r[0] == title)
            .unwrap()
    };
    let issue_header = &records[at("问题 Issues") + 1];
    assert_eq!(&issue_header[0], "标题 Title");
    let col = |name: &str| issue_header.iter().position(|h| h == name).unwrap();
    let issue_row = records[at("问题 Issues") + 2..at("人员 People")]
        .iter()
        .find(|r| r.get(col("问题编号 Issue id")) == Some(&issue.id.to_string()))
        .unwrap();
    assert_eq!(&issue_row[col("三天内关闭 Closed within 3 days")], "是");
    let found_local = observed
        .to_zoned(shanghai())
        .strftime("%Y-%m-%d %H:%M")
        .to_string();
    assert_eq!(&issue_row[col("发现 Found")], found_local);
    let round_header = &records[at("巡查 Rounds") + 1];
    assert_eq!(round_header.len(), rounds[0].len());
    assert_eq!(at("到点 Visits") - at("巡查 Rounds") - 2, rounds.len());

    // One part alone: a plain CSV of the header and the rows.
    let path = format!("/api/v1/reports/monthly?site={site}&month={month}&part=issues");
    let (status, content_type, part) = download(&server, &path, &token);
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/csv"));
    let mut reader = csv::ReaderBuilder::new().from_reader(&part[..]);
    let header = reader.headers().unwrap().clone();
    assert_eq!(
        &header[0], "标题 Title",
        "the BOM is not part of the first header"
    );
    assert_eq!(header.len(), issues[0].len());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), issues.len());
    assert!(rows.iter().any(|r| r[0] == *"1栋楼梯灯不亮（报表）"));

    // Who may read it, and what is refused.
    let tech_token = http.token("demo-tech", "demo");
    let path = format!("/api/v1/reports/monthly?site={site}&month={month}&format=xlsx");
    let (status, content_type, body) = download(&server, &path, &tech_token);
    assert_eq!((status, content_type.as_str()), (403, "application/json"));
    assert_eq!(error_code(&body), "forbidden");
    let (status, _, _) = download(&server, &path, &http.token("demo-patrol", "demo"));
    assert_eq!(status, 403);
    for who in ["demo-manager", "demo-admin"] {
        assert_eq!(
            download(&server, &path, &http.token(who, "demo")).0,
            200,
            "{who}"
        );
    }
    let theirs = http.token("cuihu-super", OTHER_SITE_PASSWORD);
    let (status, _, body) = download(&server, &path, &theirs);
    assert_eq!(
        status, 404,
        "another site's supervisor does not see this site"
    );
    assert_eq!(error_code(&body), "not_found");
    for (bad, code) in [
        ("2026-13", "bad_month"),
        ("2026-1", "bad_month"),
        ("november", "bad_month"),
        ("9000-01", "future_month"),
    ] {
        let path = format!("/api/v1/reports/monthly?site={site}&month={bad}");
        let (status, content_type, body) = download(&server, &path, &token);
        assert_eq!(
            (status, content_type.as_str()),
            (400, "application/json"),
            "{bad}"
        );
        assert_eq!(error_code(&body), code, "{bad}");
    }
    let next = Month::of(Timestamp::now(), &shanghai()).next().unwrap();
    let path = format!("/api/v1/reports/monthly?site={site}&month={next}");
    assert_eq!(download(&server, &path, &token).0, 400, "next month");
    let path = format!("/api/v1/reports/monthly?site={site}&month={month}&format=xlsx&part=issues");
    assert_eq!(download(&server, &path, &token).0, 400);
    let path = format!("/api/v1/reports/monthly?site=not-a-site&month={month}");
    assert_eq!(download(&server, &path, &token).0, 400);
}

/// How many of a site's rounds, visits and answers the server's database holds, split at
/// `cutoff`: `(older, newer)`.
fn stored(data: &Path, cutoff: Timestamp) -> ((i64, i64, i64), (i64, i64, i64)) {
    let conn = rusqlite::Connection::open(data.join("patrol.db")).unwrap();
    let count = |op: &str| -> (i64, i64, i64) {
        let q = |sql: &str| -> i64 {
            conn.query_row(&sql.replace("{op}", op), [cutoff.as_millisecond()], |r| {
                r.get(0)
            })
            .unwrap()
        };
        (
            q("SELECT count(*) FROM runs WHERE started_at_ms {op} ?1"),
            q(
                "SELECT count(*) FROM visits v JOIN runs r ON r.id = v.run_id WHERE r.started_at_ms {op} ?1",
            ),
            q(
                "SELECT count(*) FROM results x JOIN visits v ON v.id = x.visit_id JOIN runs r ON r.id = v.run_id WHERE r.started_at_ms {op} ?1",
            ),
        )
    };
    (count("<"), count(">="))
}

/// Everything the archive and its purge leave behind, without the files' write times: the
/// patrol records left, the archive's bookkeeping and the issues.
fn archive_state(data: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(data.join("patrol.db")).unwrap();
    let rows = |sql: &str| -> Vec<String> {
        let mut stmt = conn.prepare(sql).unwrap();
        let n = stmt.column_count();
        stmt.query_map([], |r| {
            Ok((0..n)
                .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                .collect::<Vec<_>>()
                .join("|"))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    };
    [
        "SELECT id, data FROM runs ORDER BY id",
        "SELECT id, data FROM visits ORDER BY id",
        "SELECT id, data FROM results ORDER BY id",
        "SELECT site_id, month, from_ms, to_ms, version, runs, visits, results, chars, purged_runs, purged_visits, purged_results, purged_chars FROM archive_months ORDER BY month",
        "SELECT site_id, month, name FROM archive_files ORDER BY month, name",
        "SELECT id, data FROM issues ORDER BY id",
    ]
    .iter()
    .flat_map(|q| rows(q))
    .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn rounds_past_the_retention_are_archived_then_purged_and_a_stopped_purge_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let server = Server::start_demo(&data);
    // The demo's own history: this month's and last month's rounds, all inside the retention.
    let cutoff = Timestamp::now() - SignedDuration::from_hours(24 * 60);
    let (before, demo) = stored(&data, cutoff);
    assert_eq!(before.0, 0, "the demo walks nothing older than last month");
    let client = SyncClient::new(&server.base_url);
    let (patrol, clock) = phone(dir.path(), "patrol");
    client.login(&patrol, "demo-patrol", "demo").unwrap();
    sync(&client, &patrol);
    // Offline for weeks: three rounds 75 days ago and one 40 days ago, synced today.
    let days_ago = |d: i64| *clock.0.lock().unwrap() = -SignedDuration::from_hours(24 * d);
    days_ago(75);
    let (first, old_issue) = walk(&patrol, Some("1栋楼梯灯不亮（旧）"));
    let old_issue = old_issue.unwrap();
    for _ in 0..2 {
        walk(&patrol, None);
    }
    days_ago(40);
    let (recent, _) = walk(&patrol, None);
    days_ago(0);
    sync(&client, &patrol);
    drop(server);

    // The estate keeps patrol records 60 days.
    let now = Timestamp::now();
    let conn = rusqlite::Connection::open(data.join("patrol.db")).unwrap();
    conn.execute(
        "UPDATE sites SET data = json_set(data, '$.retention_days', 60) WHERE code = 'demo'",
        [],
    )
    .unwrap();
    drop(conn);
    let cutoff = now - SignedDuration::from_hours(24 * 60);
    let (old, kept) = stored(&data, cutoff);
    assert_eq!(old.0, 3, "three rounds past the retention");
    assert_eq!(
        kept.0,
        demo.0 + 1,
        "the round of 40 days ago and the demo's"
    );
    assert!(
        old.1 > 0 && old.2 > old.1 && kept.2 > kept.1,
        "{old:?} {kept:?}"
    );
    let twin = dir.path().join("twin");
    copy_dir(&data, &twin);

    // A run stopped after one batch of one round.
    let (ok, out) = admin(
        &data,
        &["archive", "run", "--batch-size", "1", "--max-batches", "1"],
        "",
    );
    assert!(ok, "{out}");
    let old_month = Month::of(first.started_at, &shanghai());
    let recent_month = Month::of(recent.started_at, &shanghai());
    assert!(
        out.contains(&format!(
            "archived demo {old_month} (version 1): report.xlsx, report.csv, seals.json"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("archived demo {recent_month}")),
        "{out}"
    );
    assert!(out.contains("run again"), "{out}");
    let (left, untouched) = stored(&data, cutoff);
    assert_eq!(left.0, 2, "one round purged, oldest first: {out}");
    assert_eq!(untouched, kept, "nothing inside the retention is touched");
    assert!(
        data.join(format!("blobs/archive/demo/{old_month}/report.xlsx"))
            .is_file()
    );
    assert!(
        data.join(format!("blobs/archive/demo/{recent_month}/report.csv"))
            .is_file()
    );

    // Run again: it finishes, and ends where one uninterrupted run ends.
    let (ok, out) = admin(&data, &["archive", "run"], "");
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("purged demo {old_month}: 2 rounds")),
        "{out}"
    );
    assert!(!out.contains("archived"), "nothing to write again: {out}");
    let (ok, straight) = admin(&twin, &["archive", "run"], "");
    assert!(ok, "{straight}");
    assert!(
        straight.contains(&format!("purged demo {old_month}: 3 rounds")),
        "{straight}"
    );
    assert_eq!(stored(&data, cutoff), ((0, 0, 0), kept));
    assert_eq!(archive_state(&data), archive_state(&twin));
    let (ok, out) = admin(&data, &["archive", "run"], "");
    assert!(ok && out.contains("nothing to archive or purge"), "{out}");

    // The purged rounds' seals live on in the archive and still verify; what is left in the
    // database verifies too.
    let seals_file = data.join(format!("blobs/archive/demo/{old_month}/seals.json"));
    let seals: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&seals_file).unwrap()).unwrap();
    let sealed: Vec<&str> = seals["seals"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["run_id"].as_str())
        .collect();
    assert!(sealed.contains(&first.id.to_string().as_str()), "{seals}");
    let (ok, out) = admin(
        &data,
        &["verify-audit", "--file", seals_file.to_str().unwrap()],
        "",
    );
    assert!(ok && out.contains("sealed rounds"), "{out}");
    let (ok, out) = admin(&data, &["verify-audit"], "");
    assert!(ok, "{out}");

    // The archive lists and downloads; the issue found on the purged round is still there.
    let server = Server::start_demo(&data);
    let http = Http::new(&server.base_url);
    let token = http.token("demo-super", "demo");
    let site = first.site_id;
    let (status, list) = http.get(&format!("/api/v1/sites/{site}/archive"), Some(&token));
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["retention_days"], 60);
    let months = list["months"].as_array().unwrap();
    let entry = months
        .iter()
        .find(|m| m["month"] == old_month.to_string())
        .unwrap();
    assert_eq!(entry["rounds"], 3);
    assert_eq!(entry["purged_rounds"], 3);
    let names: Vec<&str> = entry["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["report.csv", "report.xlsx", "seals.json"]);
    assert!(
        months
            .iter()
            .any(|m| m["month"] == recent_month.to_string() && m["purged_rounds"] == 0)
    );
    let url = entry["files"][1]["url"].as_str().unwrap();
    let (status, content_type, xlsx) = download(&server, url, &token);
    assert_eq!(status, 200);
    assert!(content_type.starts_with("application/vnd.openxmlformats"));
    assert_eq!(
        patrol_core::blob::sha256_hex(&xlsx),
        entry["files"][1]["sha256"].as_str().unwrap()
    );
    keep("archive.xlsx", &xlsx);
    let book = sheets(&xlsx);
    let rounds = table(&book, "巡查 Rounds");
    assert_eq!(rounds.len(), 3, "the purged rounds live on in the archive");
    assert!(
        rounds
            .iter()
            .any(|r| text(r, "巡查编号 Round id") == first.id.to_string())
    );
    assert!(
        table(&book, "问题 Issues")
            .iter()
            .any(|r| text(r, "标题 Title") == "1栋楼梯灯不亮（旧）")
    );
    let (status, content_type, csv_bytes) =
        download(&server, entry["files"][0]["url"].as_str().unwrap(), &token);
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/csv"));
    assert!(csv_bytes.starts_with(b"\xEF\xBB\xBF"));
    let (status, issue) = http.get(&format!("/api/v1/issues/{}", old_issue.id), Some(&token));
    assert_eq!(status, 200, "issues are not patrol records: {issue}");
    assert_eq!(issue["issue"]["status"], Status::Open.as_str());
    // Only what the archive recorded downloads; the others' supervisor sees nothing of it.
    let missing = format!("/api/v1/sites/{site}/archive/{old_month}/patrol.db");
    assert_eq!(download(&server, &missing, &token).0, 404);
    let traversal = format!("/api/v1/sites/{site}/archive/{old_month}/..%2F..%2Fpatrol.db");
    assert_eq!(download(&server, &traversal, &token).0, 404);
    let tech = http.token("demo-tech", "demo");
    assert_eq!(download(&server, url, &tech).0, 403);
}
