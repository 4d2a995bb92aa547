//! The monthly report of a site (DESIGN.md §7) as the files people open, and the archive of past
//! months (§8). Core judges the month (`patrol_core::report`), the store reads it; this module
//! names what the records refer to and lays the parts out: an XLSX workbook with a sheet per part
//! (Rounds, Visits, Results, Issues, People: typed cells, times in the site's local time), or one
//! CSV with every part as a section, or one part alone as a plain CSV.

use std::collections::{HashMap, HashSet};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use patrol_core::checklist::{Catalogue, ChecklistItem, ItemKind};
use patrol_core::ids::{CheckpointId, RouteId, SiteId, UserId, ZoneId};
use patrol_core::issue::Issue;
use patrol_core::report::{self, Month, MonthError, MonthReport, Punctuality, ReportAccess};
use patrol_core::route::Route;
use patrol_core::site::{Checkpoint, Site, Zone, ZoneKind};
use patrol_core::text::Text;
use patrol_core::user::{Role, User};
use patrol_core::wire::ErrorBody;
use rust_xlsxwriter::{
    Color, DocProperties, Format, FormatAlign, FormatBorder, Workbook, XlsxError,
};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::extract::{Json, Path, Query};
use crate::store::{ArchivedMonth, Store, StoreError};

/// The media type of an XLSX workbook.
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
/// The media type of the CSV files.
pub const CSV: &str = "text/csv; charset=utf-8";
/// What starts a UTF-8 file so that Excel (as set up in China) reads it as UTF-8.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The report's and the archive's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/reports/monthly", get(monthly))
        .route("/api/v1/sites/{id}/archive", get(archive_list))
        .route(
            "/api/v1/sites/{id}/archive/{month}/{file}",
            get(archive_file),
        )
}

/// A part of the report: a sheet of the workbook, a section of the CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// The rounds walked.
    Rounds,
    /// The checkpoint visits.
    Visits,
    /// The checklist answers.
    Results,
    /// The issues found, with their times.
    Issues,
    /// The figures per person.
    People,
}

impl Part {
    /// The sheet's name and the section's title, Chinese first.
    pub fn title(self) -> &'static str {
        match self {
            Part::Rounds => "巡查 Rounds",
            Part::Visits => "到点 Visits",
            Part::Results => "检查结果 Results",
            Part::Issues => "问题 Issues",
            Part::People => "人员 People",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Part::Rounds => "rounds",
            Part::Visits => "visits",
            Part::Results => "results",
            Part::Issues => "issues",
            Part::People => "people",
        }
    }
}

/// The file format asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    /// One CSV file (UTF-8 with a BOM).
    Csv,
    /// An Excel workbook.
    Xlsx,
}

/// One value of a table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text.
    Text(String),
    /// A whole number.
    Int(i64),
    /// A number.
    Number(f64),
    /// Yes or no: 是 / 否.
    Yes(bool),
    /// A time in the site's local time (to the minute).
    Time(DateTime),
    /// A time in the site's local time, to the second.
    Second(DateTime),
    /// Nothing.
    Empty,
}

impl Cell {
    fn text(s: impl Into<String>) -> Cell {
        let s = s.into();
        if s.is_empty() {
            Cell::Empty
        } else {
            Cell::Text(s)
        }
    }

    /// The value as a CSV field.
    fn csv(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Number(n) => n.to_string(),
            Cell::Yes(b) => yes(*b).to_owned(),
            Cell::Time(t) => t.strftime("%Y-%m-%d %H:%M").to_string(),
            Cell::Second(t) => t.strftime("%Y-%m-%d %H:%M:%S").to_string(),
            Cell::Empty => String::new(),
        }
    }

    /// About how many narrow characters wide it shows.
    fn width(&self) -> usize {
        match self {
            Cell::Time(_) => 16,
            Cell::Second(_) => 19,
            Cell::Yes(_) => 2,
            Cell::Empty => 0,
            other => display_width(&other.csv()),
        }
    }
}

fn yes(b: bool) -> &'static str {
    if b { "是" } else { "否" }
}

/// Columns wide enough for Chinese: a wide character takes two narrow ones.
fn display_width(s: &str) -> usize {
    s.chars()
        .map(|c| if c.len_utf8() > 1 { 2 } else { 1 })
        .sum()
}

/// One part laid out: headers (Chinese first) and rows.
#[derive(Debug, Clone)]
pub struct Table {
    /// Which part.
    pub part: Part,
    /// Column headers.
    pub headers: Vec<String>,
    /// Rows of cells, as many as headers.
    pub rows: Vec<Vec<Cell>>,
}

/// A site's month laid out, part by part, with what names it.
#[derive(Debug, Clone)]
pub struct Sheets {
    /// The site.
    pub site: Site,
    /// The month.
    pub month: Month,
    /// When it was made.
    pub made_at: Timestamp,
    /// Its parts, in order.
    pub tables: Vec<Table>,
}

/// Why a report could not be made: a stored record or a time that does not work out.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A time could not be computed.
    #[error(transparent)]
    Time(#[from] patrol_core::time::TimeError),
    /// The workbook could not be written.
    #[error("xlsx: {0}")]
    Xlsx(#[from] XlsxError),
    /// The CSV could not be written.
    #[error("csv: {0}")]
    Csv(#[from] csv::Error),
}

impl From<ReportError> for ApiError {
    fn from(e: ReportError) -> Self {
        match e {
            ReportError::Store(s) => s.into(),
            other => ApiError::internal(&other),
        }
    }
}

/// What the records name, looked up once.
struct Names {
    tz: TimeZone,
    users: HashMap<UserId, User>,
    routes: HashMap<RouteId, Route>,
    checkpoints: HashMap<CheckpointId, Checkpoint>,
    zones: HashMap<ZoneId, Zone>,
    items: HashMap<String, (usize, ChecklistItem)>,
}

impl Names {
    fn local(&self, t: Timestamp) -> DateTime {
        t.to_zoned(self.tz.clone()).datetime()
    }

    fn time(&self, t: Option<Timestamp>) -> Cell {
        t.map_or(Cell::Empty, |t| Cell::Time(self.local(t)))
    }

    fn person(&self, id: Option<UserId>) -> Cell {
        match id {
            None => Cell::Empty,
            Some(id) => Cell::text(
                self.users
                    .get(&id)
                    .map_or_else(|| id.to_string(), |u| u.display_name.clone()),
            ),
        }
    }

    fn route(&self, id: RouteId) -> String {
        self.routes
            .get(&id)
            .map_or_else(|| id.to_string(), |r| r.name.clone())
    }

    fn checkpoint(&self, id: CheckpointId) -> String {
        match self.checkpoints.get(&id) {
            Some(c) => match &c.name_en {
                Some(en) => format!("{} / {en}", c.name),
                None => c.name.clone(),
            },
            None => id.to_string(),
        }
    }

    fn place(&self, issue: &Issue) -> String {
        match (issue.checkpoint_id, issue.zone_id) {
            (Some(c), _) => self.checkpoint(c),
            (None, Some(z)) => self
                .zones
                .get(&z)
                .map_or_else(|| z.to_string(), |z| z.name.clone()),
            (None, None) => String::new(),
        }
    }
}

fn both(t: Text) -> Cell {
    Cell::Text(t.both())
}

fn headers(h: &[&str]) -> Vec<String> {
    h.iter().map(|s| (*s).to_owned()).collect()
}

fn count(n: usize) -> Cell {
    Cell::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// Read a site's month from the store and lay it out, judged at `now`.
pub async fn sheets(
    store: &dyn Store,
    site: &Site,
    month: Month,
    now: Timestamp,
) -> Result<Sheets, ReportError> {
    let judged = judge(store, site, month, now).await?;
    Ok(Sheets {
        site: site.clone(),
        month,
        made_at: now,
        tables: lay_out(&judged.report, &judged.names),
    })
}

/// A site's month judged at `now`, with the names its records need: what the sheets and the
/// console's report page both show.
pub struct Judged {
    /// The month, judged.
    pub report: MonthReport,
    names: Names,
}

impl Judged {
    /// A person's name as the report gives it.
    pub fn person(&self, id: UserId) -> String {
        self.names
            .users
            .get(&id)
            .map_or_else(|| id.to_string(), |u| u.display_name.clone())
    }

    /// A person's username, when known.
    pub fn username(&self, id: UserId) -> Option<&str> {
        self.names.users.get(&id).map(|u| u.username.as_str())
    }

    /// A time in the site's zone.
    pub fn local(&self, t: Timestamp) -> DateTime {
        self.names.local(t)
    }
}

/// Read a site's month from the store and judge it at `now`.
pub async fn judge(
    store: &dyn Store,
    site: &Site,
    month: Month,
    now: Timestamp,
) -> Result<Judged, ReportError> {
    let tz = site.tz()?;
    let (from, to) = month.range(&tz)?;
    let patrol = store.patrol_records(site.id, from, to).await?;
    let issues = store.issues_found(site.id, from, to).await?;
    let staff_users = store.site_users(site.id).await?;
    let mut users: HashMap<UserId, User> = staff_users.iter().map(|u| (u.id, u.clone())).collect();
    // People named by the records who no longer work on the site are still named.
    let named: HashSet<UserId> = patrol
        .runs
        .iter()
        .map(|r| r.patroller_id)
        .chain(issues.iter().flat_map(|(i, audit)| {
            [Some(i.reported_by), i.resolved_by, i.verified_by]
                .into_iter()
                .flatten()
                .chain(audit.iter().filter_map(|a| a.actor_id))
        }))
        .collect();
    for id in named {
        if !users.contains_key(&id)
            && let Some(u) = store.user(id).await?
        {
            users.insert(id, u);
        }
    }
    let mut routes = HashMap::new();
    for id in patrol
        .runs
        .iter()
        .map(|r| r.route_id)
        .collect::<HashSet<_>>()
    {
        if let Some(r) = store.route(id).await? {
            routes.insert(id, r);
        }
    }
    let checkpoints: HashMap<CheckpointId, Checkpoint> = store
        .checkpoints(site.id)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let mut zones = HashMap::new();
    for id in issues
        .iter()
        .filter_map(|(i, _)| i.zone_id)
        .collect::<HashSet<_>>()
    {
        if let Some(z) = store.zone(id).await? {
            zones.insert(id, z);
        }
    }
    // Items by key, in checklist order: the server's newest templates, else the catalogue's.
    let mut items = HashMap::new();
    for kind in ZoneKind::ALL {
        let template = match store.template_for(kind).await? {
            Some(t) => Some(t),
            None => Catalogue::standard().for_zone(kind).cloned(),
        };
        for (n, item) in template.into_iter().flat_map(|t| t.items).enumerate() {
            items.entry(item.key.clone()).or_insert((n, item));
        }
    }
    let staff: Vec<UserId> = staff_users
        .iter()
        .filter(|u| u.role != Role::Admin)
        .map(|u| u.id)
        .collect();
    let records = report::Records {
        runs: patrol.runs,
        visits: patrol.visits,
        results: patrol.results,
        issues,
    };
    let report = report::build(site, month, records, &routes, &staff, now)?;
    let names = Names {
        tz,
        users,
        routes,
        checkpoints,
        zones,
        items,
    };
    Ok(Judged { report, names })
}

fn lay_out(r: &MonthReport, n: &Names) -> Vec<Table> {
    vec![
        rounds(r, n),
        visits(r, n),
        results(r, n),
        issues(r, n),
        people(r, n),
    ]
}

fn flags(f: &[patrol_core::plausibility::ScanFlag]) -> Cell {
    Cell::text(
        f.iter()
            .map(|f| f.label().both())
            .collect::<Vec<_>>()
            .join("；"),
    )
}

fn rounds(r: &MonthReport, n: &Names) -> Table {
    let rows = r
        .rounds
        .iter()
        .map(|line| {
            let run = &line.run;
            let (on_time, off) = match line.punctuality {
                Punctuality::Unscheduled => (Cell::text("无计划 / unscheduled"), Cell::Empty),
                p => {
                    let off = p
                        .scheduled()
                        .map_or(0, |s| s.duration_until(run.started_at).as_mins());
                    (p.on_time().map_or(Cell::Empty, Cell::Yes), Cell::Int(off))
                }
            };
            let missed = run
                .missed
                .iter()
                .map(|m| format!("{}：{}", n.checkpoint(m.checkpoint_id), m.reason))
                .collect::<Vec<_>>()
                .join("；");
            vec![
                Cell::text(n.route(run.route_id)),
                n.person(Some(run.patroller_id)),
                n.time(line.punctuality.scheduled()),
                n.time(Some(run.started_at)),
                n.time(run.finished_at),
                on_time,
                off,
                Cell::Int(i64::from(line.visits)),
                count(run.missed.len()),
                Cell::text(missed),
                flags(&run.flags),
                Cell::Text(run.id.to_string()),
            ]
        })
        .collect();
    Table {
        part: Part::Rounds,
        headers: headers(&[
            "路线 Route",
            "巡查员 Patroller",
            "计划开始 Scheduled",
            "开始 Started",
            "结束 Finished",
            "准时 On time",
            "晚于计划（分钟）Minutes after schedule",
            "已到点 Checkpoints visited",
            "漏检 Checkpoints missed",
            "漏检点及原因 Missed, with reasons",
            "异常标记 Round flags",
            "巡查编号 Round id",
        ]),
        rows,
    }
}

fn visits(r: &MonthReport, n: &Names) -> Table {
    let runs: HashMap<_, _> = r.rounds.iter().map(|l| (l.run.id, &l.run)).collect();
    let rows = r
        .visits
        .iter()
        .map(|v| {
            let run = runs.get(&v.run_id);
            vec![
                Cell::Second(n.local(v.at)),
                run.map_or(Cell::Empty, |run| Cell::text(n.route(run.route_id))),
                n.person(run.map(|run| run.patroller_id)),
                Cell::text(n.checkpoint(v.checkpoint_id)),
                both(v.method.label()),
                Cell::text(v.reason.clone().unwrap_or_default()),
                flags(&v.flags),
                Cell::Text(v.run_id.to_string()),
                Cell::Text(v.id.to_string()),
            ]
        })
        .collect();
    Table {
        part: Part::Visits,
        headers: headers(&[
            "时间 Time",
            "路线 Route",
            "巡查员 Patroller",
            "巡查点 Checkpoint",
            "方式 How",
            "手动登记原因 Reason (by hand)",
            "异常标记 Plausibility flags",
            "巡查编号 Round id",
            "到点编号 Visit id",
        ]),
        rows,
    }
}

fn results(r: &MonthReport, n: &Names) -> Table {
    let visits: HashMap<_, _> = r.visits.iter().map(|v| (v.id, v)).collect();
    let order: HashMap<_, _> = r
        .visits
        .iter()
        .enumerate()
        .map(|(i, v)| (v.id, i))
        .collect();
    let mut answers: Vec<_> = r.results.iter().collect();
    // Visit by visit, each in its checklist's order.
    answers.sort_by_key(|x| {
        (
            order.get(&x.visit_id).copied().unwrap_or(usize::MAX),
            n.items.get(&x.item_key).map_or(usize::MAX, |(i, _)| *i),
        )
    });
    let rows = answers
        .into_iter()
        .map(|x| {
            let visit = visits.get(&x.visit_id);
            let item = n.items.get(&x.item_key).map(|(_, item)| item);
            let unit = match item.map(|i| &i.kind) {
                Some(ItemKind::Reading { unit, .. }) => Cell::text(unit.clone()),
                _ => Cell::Empty,
            };
            vec![
                visit.map_or(Cell::Empty, |v| Cell::Second(n.local(v.at))),
                visit.map_or(Cell::Empty, |v| Cell::text(n.checkpoint(v.checkpoint_id))),
                Cell::text(item.map_or_else(|| x.item_key.clone(), |i| i.text.both())),
                both(x.outcome.label()),
                x.reading
                    .filter(|v| v.is_finite())
                    .map_or(Cell::Empty, Cell::Number),
                unit,
                Cell::text(x.note.clone().unwrap_or_default()),
                count(x.photos.len()),
                Cell::Text(x.visit_id.to_string()),
            ]
        })
        .collect();
    Table {
        part: Part::Results,
        headers: headers(&[
            "时间 Time",
            "巡查点 Checkpoint",
            "检查项 Item",
            "结果 Outcome",
            "读数 Reading",
            "单位 Unit",
            "备注 Note",
            "照片数 Photos",
            "到点编号 Visit id",
        ]),
        rows,
    }
}

fn issues(r: &MonthReport, n: &Names) -> Table {
    let rows = r
        .issues
        .iter()
        .map(|line| {
            let i = &line.issue;
            let within = match line.within_sla {
                Some(b) => Cell::Yes(b),
                None => Cell::text("未到期 / not yet due"),
            };
            let escalations = line
                .escalations
                .iter()
                .map(|(reason, at)| {
                    format!(
                        "{} {}",
                        reason.label().both(),
                        n.local(*at).strftime("%Y-%m-%d %H:%M")
                    )
                })
                .collect::<Vec<_>>()
                .join("；");
            let extensions = line
                .extensions
                .iter()
                .map(|e| {
                    let asked = e.due_asked.map_or_else(String::new, |d| {
                        format!(" → {}", n.local(d).strftime("%Y-%m-%d %H:%M"))
                    });
                    let outcome = match e.approved {
                        Some(true) => "批准 / approved",
                        Some(false) => "不批准 / denied",
                        None => "待审批 / waiting",
                    };
                    format!(
                        "{}{asked}：{} — {outcome}",
                        n.local(e.requested_at).strftime("%Y-%m-%d %H:%M"),
                        e.reason.as_deref().unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
                .join("；");
            vec![
                Cell::text(i.title.clone()),
                both(i.category.label()),
                both(i.team.label()),
                both(i.severity.label()),
                both(i.source.label()),
                both(i.status.label()),
                Cell::text(n.place(i)),
                n.time(Some(i.observed_at)),
                n.time(Some(i.due_at)),
                n.time(line.resolved_at),
                n.time(line.verified_at),
                within,
                n.person(Some(i.reported_by)),
                n.person(i.resolved_by),
                n.person(i.verified_by),
                Cell::text(escalations),
                Cell::text(extensions),
                count(line.rejections.len()),
                Cell::Yes(i.fixed_on_spot),
                i.follow_up.map_or(Cell::Empty, |f| {
                    Cell::text(if f.satisfied {
                        "满意 satisfied"
                    } else {
                        "不满意 not satisfied"
                    })
                }),
                Cell::Text(i.id.to_string()),
            ]
        })
        .collect();
    Table {
        part: Part::Issues,
        headers: headers(&[
            "标题 Title",
            "类别 Category",
            "班组 Team",
            "严重程度 Severity",
            "来源 Source",
            "状态 Status",
            "地点 Place",
            "发现 Found",
            "期限 Due",
            "完成维修 Resolved",
            "验收 Verified",
            "三天内关闭 Closed within 3 days",
            "上报人 Reported by",
            "维修人 Resolved by",
            "验收人 Verified by",
            "升级上报 Escalations",
            "延期 Extensions",
            "维修被退回 Fixes rejected",
            "现场处理 Fixed on the spot",
            "回访 Called back",
            "问题编号 Issue id",
        ]),
        rows,
    }
}

fn people(r: &MonthReport, n: &Names) -> Table {
    let rows = r
        .people
        .iter()
        .map(|p| {
            let user = n.users.get(&p.user_id);
            vec![
                n.person(Some(p.user_id)),
                Cell::text(user.map_or_else(String::new, |u| u.username.clone())),
                user.map_or(Cell::Empty, |u| both(u.role.label())),
                user.and_then(|u| u.team)
                    .map_or(Cell::Empty, |t| both(t.label())),
                Cell::Int(i64::from(p.rounds_done)),
                Cell::Int(i64::from(p.rounds_on_time)),
                Cell::Int(i64::from(p.checkpoints_missed)),
                Cell::Int(i64::from(p.findings)),
                Cell::Int(i64::from(p.jobs_closed_in_time)),
                Cell::Int(i64::from(p.fixes_rejected)),
                Cell::Int(i64::from(p.calls_back)),
            ]
        })
        .collect();
    Table {
        part: Part::People,
        headers: headers(&[
            "姓名 Name",
            "账号 Username",
            "岗位 Role",
            "班组 Team",
            "完成巡查 Rounds done",
            "准时巡查 Rounds on time",
            "漏检点 Checkpoints missed",
            "发现问题 Findings",
            "三天内关闭工单 Jobs closed within 3 days",
            "维修被退回 Fixes rejected",
            "回访住户 Residents called back",
        ]),
        rows,
    }
}

impl Sheets {
    fn title(&self) -> String {
        format!(
            "{} {} 月度巡查报告 / monthly patrol report",
            self.site.name, self.month
        )
    }

    /// The workbook: a sheet per part, header row frozen, times as Excel dates.
    pub fn xlsx(&self) -> Result<Vec<u8>, ReportError> {
        let mut book = Workbook::new();
        book.set_properties(
            &DocProperties::new()
                .set_title(self.title())
                .set_company(self.site.name.clone())
                .set_comment(format!(
                    "时间均为小区当地时间（{}）；生成于 {} / times are the site's local time ({}); made {}",
                    self.site.time_zone,
                    self.made_at,
                    self.site.time_zone,
                    self.made_at
                )),
        );
        let header = Format::new()
            .set_bold()
            .set_text_wrap()
            .set_align(FormatAlign::VerticalCenter)
            .set_background_color(Color::RGB(0xDDEBF7))
            .set_border(FormatBorder::Thin);
        // Every cell at the top, so that a row made tall by wrapped text still reads across.
        let top = Format::new().set_align(FormatAlign::Top);
        let minute = top
            .clone()
            .set_num_format("yyyy-mm-dd hh:mm")
            .set_align(FormatAlign::Left);
        let second = top
            .clone()
            .set_num_format("yyyy-mm-dd hh:mm:ss")
            .set_align(FormatAlign::Left);
        let centred = top.clone().set_align(FormatAlign::Center);
        let wrapped = top.clone().set_text_wrap();
        for table in &self.tables {
            let sheet = book.add_worksheet();
            sheet.set_name(table.part.title())?;
            sheet.set_row_height(0, 32)?;
            // Widths from the headers (two lines: Chinese, then English) and the cells.
            let mut widths: Vec<usize> = table
                .headers
                .iter()
                .map(|h| {
                    let (zh, en) = h.split_once(' ').unwrap_or((h, ""));
                    display_width(zh).max(display_width(en))
                })
                .collect();
            for row in &table.rows {
                for (w, cell) in widths.iter_mut().zip(row) {
                    *w = (*w).max(cell.width());
                }
            }
            for w in &mut widths {
                *w = (*w).clamp(MIN_WIDTH, MAX_WIDTH);
            }
            for (c, h) in table.headers.iter().enumerate() {
                let (zh, en) = h.split_once(' ').unwrap_or((h, ""));
                sheet.write_string_with_format(0, col(c), format!("{zh}\n{en}"), &header)?;
                let w = widths[c] + 2;
                sheet.set_column_width(col(c), u16::try_from(w).unwrap_or(u16::MAX))?;
            }
            for (r, row) in table.rows.iter().enumerate() {
                let r = u32::try_from(r + 1).unwrap_or(u32::MAX);
                // Long text wraps; the row is made tall enough for it, as not every program
                // sizes rows when it opens a file.
                let mut lines = 1;
                for (c, cell) in row.iter().enumerate() {
                    let at = col(c);
                    let fits = widths.get(c).copied().unwrap_or(MAX_WIDTH);
                    match cell {
                        Cell::Text(s) if cell.width() > fits => {
                            // Two narrow characters a wide one is a little more than it takes.
                            lines = lines.max((cell.width() * 9 / 10).div_ceil(fits));
                            sheet.write_string_with_format(r, at, s, &wrapped)?;
                        }
                        Cell::Text(s) => {
                            sheet.write_string_with_format(r, at, s, &top)?;
                        }
                        Cell::Int(n) => {
                            // Counts and minutes are far inside what a double holds exactly.
                            sheet.write_number_with_format(r, at, *n as f64, &centred)?;
                        }
                        Cell::Number(n) => {
                            sheet.write_number_with_format(r, at, *n, &top)?;
                        }
                        Cell::Yes(b) => {
                            sheet.write_string_with_format(r, at, yes(*b), &centred)?;
                        }
                        Cell::Time(t) => {
                            sheet.write_datetime_with_format(r, at, t, &minute)?;
                        }
                        Cell::Second(t) => {
                            sheet.write_datetime_with_format(r, at, t, &second)?;
                        }
                        Cell::Empty => {}
                    }
                }
                if lines > 1 {
                    sheet.set_row_height(r, 15.0 * lines.min(20) as f64)?;
                }
            }
            sheet.set_freeze_panes(1, 0)?;
            // Printed for the office's files: A4 across, one page wide (two for the widest
            // parts, the first column on each), the header row on each page.
            let wide = table.headers.len() > 12;
            if wide {
                sheet.set_repeat_columns(0, 0)?;
            }
            sheet
                .set_paper_size(9)
                .set_landscape()
                .set_print_fit_to_pages(if wide { 2 } else { 1 }, 0)
                .set_print_gridlines(true)
                .set_header(format!(
                    "&L{}&R{}",
                    header_text(&self.title()),
                    header_text(table.part.title())
                ))
                .set_footer("&C第 &P 页，共 &N 页 / page &P of &N");
            sheet.set_repeat_rows(0, 0)?;
            let last_row = u32::try_from(table.rows.len()).unwrap_or(u32::MAX);
            let last_col = col(table.headers.len().saturating_sub(1));
            sheet.autofilter(0, 0, last_row, last_col)?;
        }
        Ok(book.save_to_buffer()?)
    }

    /// Every part as a section of one CSV: a title line, the header, the rows; a blank line
    /// between sections. UTF-8 with a BOM; fields quoted as RFC 4180 says.
    pub fn csv(&self) -> Result<Vec<u8>, ReportError> {
        let mut out = BOM.to_vec();
        for (n, table) in self.tables.iter().enumerate() {
            if n > 0 {
                out.extend_from_slice(b"\r\n");
            }
            let mut w = csv_writer();
            w.write_record([table.part.title()])?;
            write_table(&mut w, table)?;
            out.extend(finish(w)?);
        }
        Ok(out)
    }

    /// One part alone as a plain CSV: the header and the rows (UTF-8 with a BOM).
    pub fn csv_part(&self, part: Part) -> Result<Vec<u8>, ReportError> {
        let mut out = BOM.to_vec();
        let mut w = csv_writer();
        if let Some(table) = self.tables.iter().find(|t| t.part == part) {
            write_table(&mut w, table)?;
        }
        out.extend(finish(w)?);
        Ok(out)
    }

    /// The file name a download suggests: `<code>-<YYYY-MM>[-part].<ext>`.
    pub fn file_name(&self, part: Option<Part>, ext: &str) -> String {
        let part = part.map_or_else(String::new, |p| format!("-{}", p.name()));
        format!("{}-{}{part}.{ext}", self.site.code, self.month)
    }
}

/// Text for a printed page header: `&` starts a field code there.
fn header_text(s: &str) -> String {
    s.replace('&', "&&")
}

const MIN_WIDTH: usize = 6;
const MAX_WIDTH: usize = 48;

fn col(c: usize) -> u16 {
    u16::try_from(c).unwrap_or(u16::MAX)
}

fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .flexible(true)
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new())
}

fn write_table(w: &mut csv::Writer<Vec<u8>>, table: &Table) -> Result<(), ReportError> {
    w.write_record(&table.headers)?;
    for row in &table.rows {
        w.write_record(row.iter().map(Cell::csv))?;
    }
    Ok(())
}

fn finish(w: csv::Writer<Vec<u8>>) -> Result<Vec<u8>, ReportError> {
    w.into_inner()
        .map_err(|e| ReportError::Csv(csv::Error::from(e.into_error())))
}

/// The site a caller asks about, if they may read its reports: 403 for a role that does not,
/// 404 for a site that is not theirs (or does not exist).
async fn readable_site(state: &AppState, caller: &Caller, id: SiteId) -> Result<Site, ApiError> {
    report::may_read(&caller.actor, id).map_err(|e| match e {
        ReportAccess::RoleNotAllowed => ApiError::forbidden(e.to_string()),
        ReportAccess::OtherSite => ApiError::not_found("site"),
    })?;
    state
        .store
        .site(id)
        .await?
        .ok_or_else(|| ApiError::not_found("site"))
}

fn month_error(e: &MonthError) -> ApiError {
    match e {
        MonthError::Malformed { .. } => {
            ApiError::new(StatusCode::BAD_REQUEST, "bad_month", e.to_string())
        }
        MonthError::InFuture { .. } => {
            ApiError::new(StatusCode::BAD_REQUEST, "future_month", e.to_string())
        }
        MonthError::Time(t) => ApiError::new(StatusCode::BAD_REQUEST, t.code(), t.to_string()),
    }
}

/// `GET /api/v1/reports/monthly` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MonthlyQuery {
    /// The site (one of the caller's).
    #[param(value_type = String, format = Uuid)]
    site: SiteId,
    /// The month, `YYYY-MM`, in the site's time zone; the month under way or an earlier one.
    #[param(example = "2026-11", pattern = r"^[0-9]{4}-[0-9]{2}$")]
    month: String,
    /// `xlsx` (the default) or `csv`.
    #[param(inline)]
    format: Option<FileFormat>,
    /// One part alone, as a plain CSV (with `format=csv` or no format).
    #[param(inline)]
    part: Option<Part>,
}

pub(crate) fn download(bytes: Vec<u8>, content_type: &'static str, name: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

/// Run blocking file writing off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ReportError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(ApiError::from)
}

#[utoipa::path(get, path = "/api/v1/reports/monthly", tag = "reports", security(("bearer" = [])), params(MonthlyQuery),
    responses(
        (status = 200, description = "The month's report: an XLSX workbook (sheets 巡查 Rounds, 到点 Visits, 检查结果 Results, 问题 Issues, 人员 People), or a CSV with each part as a section, or one part alone (`part`)",
            content((Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), (String = "text/csv"))),
        (status = 400, description = "A malformed query, a month that is not `YYYY-MM` or has not begun, or `part` with `format=xlsx`", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Patrol staff and technicians do not read reports", body = ErrorBody),
        (status = 404, description = "No such site among the caller's", body = ErrorBody)))]
pub(crate) async fn monthly(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<MonthlyQuery>,
) -> Result<Response, ApiError> {
    let site = readable_site(&state, &caller, q.site).await?;
    let tz = site.tz().map_err(|e| ApiError::internal(&e))?;
    let now = Timestamp::now();
    let month: Month = q.month.parse().map_err(|e| month_error(&e))?;
    month
        .check_reportable(&tz, now)
        .map_err(|e| month_error(&e))?;
    let format = match (q.format, q.part) {
        (Some(FileFormat::Xlsx), Some(_)) => {
            return Err(ApiError::bad_request(
                "单独导出一部分只能是 CSV / a part alone comes as CSV only: leave out format or use format=csv",
            ));
        }
        (Some(f), _) => f,
        (None, Some(_)) => FileFormat::Csv,
        (None, None) => FileFormat::Xlsx,
    };
    let sheets = sheets(state.store.as_ref(), &site, month, now).await?;
    Ok(match (format, q.part) {
        (FileFormat::Xlsx, _) => {
            let name = sheets.file_name(None, "xlsx");
            download(blocking(move || sheets.xlsx()).await?, XLSX, &name)
        }
        (FileFormat::Csv, None) => {
            let name = sheets.file_name(None, "csv");
            download(blocking(move || sheets.csv()).await?, CSV, &name)
        }
        (FileFormat::Csv, Some(part)) => {
            let name = sheets.file_name(Some(part), "csv");
            download(blocking(move || sheets.csv_part(part)).await?, CSV, &name)
        }
    })
}

/// A site's archive: each month written to the blob store, with its files.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ArchiveList {
    /// The site.
    #[schema(value_type = String, format = Uuid)]
    site_id: SiteId,
    /// Its code (the folder under `archive/`).
    code: String,
    /// Days its patrol records are kept; older ones are purged once archived.
    retention_days: u32,
    /// The months, oldest first.
    months: Vec<ArchiveMonthView>,
}

/// One archived month.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ArchiveMonthView {
    /// `YYYY-MM`, in the site's time zone.
    month: String,
    /// 1, or more when records arrived after the month was first written.
    version: u32,
    /// When its latest version was written.
    #[schema(value_type = String, format = DateTime)]
    archived_at: Timestamp,
    /// Rounds the latest version holds.
    rounds: i64,
    /// Visits it holds.
    visits: i64,
    /// Checklist answers it holds.
    results: i64,
    /// Rounds of the month purged since (older than the retention).
    purged_rounds: i64,
    /// The files, every version's.
    files: Vec<ArchiveFileView>,
}

/// One file of an archived month.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ArchiveFileView {
    /// Its name, e.g. `report.xlsx`.
    name: String,
    /// Its size in bytes.
    bytes: u64,
    /// SHA-256 of its bytes, lowercase hex.
    sha256: String,
    /// When it was written.
    #[schema(value_type = String, format = DateTime)]
    written_at: Timestamp,
    /// Where to download it.
    url: String,
}

impl ArchiveMonthView {
    fn of(site: SiteId, m: ArchivedMonth) -> ArchiveMonthView {
        let month = m.month.to_string();
        ArchiveMonthView {
            files: m
                .files
                .into_iter()
                .map(|f| ArchiveFileView {
                    url: format!("/api/v1/sites/{site}/archive/{month}/{}", f.name),
                    name: f.name,
                    bytes: f.bytes,
                    sha256: f.sha256,
                    written_at: f.written_at,
                })
                .collect(),
            version: m.version,
            archived_at: m.archived_at,
            rounds: m.archived.runs,
            visits: m.archived.visits,
            results: m.archived.results,
            purged_rounds: m.purged.runs,
            month,
        }
    }
}

#[utoipa::path(get, path = "/api/v1/sites/{id}/archive", tag = "reports", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "The site")),
    responses(
        (status = 200, description = "The months archived, oldest first, with their files", body = ArchiveList),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Patrol staff and technicians do not read the archive", body = ErrorBody),
        (status = 404, description = "No such site among the caller's", body = ErrorBody)))]
pub(crate) async fn archive_list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<SiteId>,
) -> Result<Json<ArchiveList>, ApiError> {
    let site = readable_site(&state, &caller, id).await?;
    let months = state.store.archive(site.id).await?;
    Ok(Json(ArchiveList {
        site_id: site.id,
        code: site.code,
        retention_days: site.retention_days,
        months: months
            .into_iter()
            .map(|m| ArchiveMonthView::of(site.id, m))
            .collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/sites/{id}/archive/{month}/{file}", tag = "reports", security(("bearer" = [])),
    params(
        ("id" = String, Path, format = Uuid, description = "The site"),
        ("month" = String, Path, description = "`YYYY-MM`", example = "2026-11"),
        ("file" = String, Path, description = "A file of the month, e.g. `report.xlsx`")),
    responses(
        (status = 200, description = "The file as archived",
            content((Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), (String = "text/csv"))),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Patrol staff and technicians do not read the archive", body = ErrorBody),
        (status = 404, description = "No such site among the caller's, or no such file in its archive", body = ErrorBody)))]
pub(crate) async fn archive_file(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, month, file)): Path<(SiteId, String, String)>,
) -> Result<Response, ApiError> {
    let site = readable_site(&state, &caller, id).await?;
    let month: Month = month.parse().map_err(|e| month_error(&e))?;
    archived_file(&state, &site, month, &file).await
}

/// A file of a site's archive as a download; 404 unless the archive recorded it.
pub(crate) async fn archived_file(
    state: &AppState,
    site: &Site,
    month: Month,
    file: &str,
) -> Result<Response, ApiError> {
    // Only a file the archive recorded is served: a name never reaches the blob store unchecked.
    let recorded = state
        .store
        .archive(site.id)
        .await?
        .into_iter()
        .find(|m| m.month == month)
        .and_then(|m| m.files.into_iter().find(|f| f.name == file))
        .ok_or_else(|| ApiError::not_found("archive file"))?;
    let bytes = state
        .blobs
        .get_archive(&site.code, month, &recorded.name)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let content_type = if recorded.name.ends_with(".xlsx") {
        XLSX
    } else if recorded.name.ends_with(".json") {
        "application/json"
    } else {
        CSV
    };
    let name = format!("{}-{month}-{}", site.code, recorded.name);
    Ok(download(bytes, content_type, &name))
}
