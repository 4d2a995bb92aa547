//! The monthly report page (DESIGN §10 `GET /console/reports?site=&month=`): a site's month at
//! a glance — figures, charts drawn on the server as SVG, each person's figures for staff
//! reviews (004 §4.10) — with the CSV and XLSX downloads and the archive of earlier months.
//! The page reads the same judged month the files are written from, so they never disagree.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use jiff::Timestamp;
use maud::{Markup, PreEscaped, html};
use patrol_core::ids::SiteId;
use patrol_core::issue::Status;
use patrol_core::report::{self, Month, MonthError, MonthReport, Punctuality, ReportAccess};
use patrol_core::site::Site;
use patrol_core::team::Team;
use serde::Deserialize;

use super::queue::team_label;
use super::{Console, ConsoleError, Lang, layout, urlencode};
use crate::AppState;
use crate::reports::{self, CSV, Judged, XLSX};

/// What the page is asked for.
#[derive(Debug, Default, Deserialize)]
pub struct Pick {
    site: Option<String>,
    month: Option<String>,
    format: Option<String>,
}

/// The site asked for (the person's first when none is), if they may read its reports.
fn readable<'a>(c: &'a Console, site: Option<&str>) -> Result<&'a Site, ConsoleError> {
    let l = c.lang;
    let site = match site.filter(|s| !s.is_empty()) {
        Some(s) => {
            let id: SiteId = s.parse().map_err(|_| ConsoleError::NotFound(l))?;
            c.site(id).ok_or(ConsoleError::NotFound(l))?
        }
        None => c.sites.first().ok_or(ConsoleError::NotFound(l))?,
    };
    report::may_read(&c.actor, site.id).map_err(|e| match e {
        ReportAccess::RoleNotAllowed => ConsoleError::Forbidden(l),
        ReportAccess::OtherSite => ConsoleError::NotFound(l),
    })?;
    Ok(site)
}

/// The month asked for (this month in the site's zone when none is), if it can be reported.
fn month_of(c: &Console, site: &Site, month: Option<&str>) -> Result<Month, ConsoleError> {
    let l = c.lang;
    let tz = site.tz().map_err(|e| ConsoleError::internal(l, &e))?;
    let now = Timestamp::now();
    let month = match month.filter(|m| !m.is_empty()) {
        Some(m) => m
            .parse::<Month>()
            .map_err(|e| ConsoleError::BadRequest(l, e.to_string()))?,
        None => Month::of(now, &tz),
    };
    month.check_reportable(&tz, now).map_err(|e| match e {
        MonthError::Malformed { .. } | MonthError::InFuture { .. } | MonthError::Time(_) => {
            ConsoleError::BadRequest(l, e.to_string())
        }
    })?;
    Ok(month)
}

fn report_error(l: Lang, e: &reports::ReportError) -> ConsoleError {
    ConsoleError::internal(l, e)
}

/// `GET /console/reports`.
pub async fn page(
    State(state): State<AppState>,
    c: Console,
    Query(q): Query<Pick>,
) -> Result<Markup, ConsoleError> {
    let l = c.lang;
    let site = readable(&c, q.site.as_deref())?;
    let month = month_of(&c, site, q.month.as_deref())?;
    let now = Timestamp::now();
    let judged = reports::judge(state.store.as_ref(), site, month, now)
        .await
        .map_err(|e| report_error(l, &e))?;
    let archive = state.store.archive(site.id).await?;
    let tz = site.tz().map_err(|e| ConsoleError::internal(l, &e))?;
    let this_month = Month::of(now, &tz);
    let r = &judged.report;
    let query = |m: Month| format!("?site={}&month={m}", site.id);
    let file = |format: &str| {
        format!(
            "/console/reports/download?site={}&month={month}&format={format}",
            site.id
        )
    };
    let sums = Sums::of(r);
    let content = html! {
        h1 { (l.t("月度报表", "Monthly report")) " · " (site.name) " · " (month) }
        form.filters method="get" action="/console/reports" {
            label { (l.t("小区", "Site"))
                select name="site" {
                    @for s in &c.sites {
                        option value=(s.id) selected[s.id == site.id] { (s.name) }
                    }
                }
            }
            label { (l.t("月份", "Month"))
                input type="month" name="month" value=(month) max=(this_month);
            }
            button type="submit" { (l.t("查看", "Show")) }
            span.pager {
                @if let Some(prev) = month.prev() {
                    a href=(query(prev)) { "‹ " (prev) }
                }
                @if let Some(next) = month.next().filter(|n| *n <= this_month) {
                    " " a href=(query(next)) { (next) " ›" }
                }
            }
        }
        section.downloads {
            a.button href=(file("xlsx")) download { (l.t("下载 Excel（XLSX）", "Download Excel (XLSX)")) }
            a.button.secondary href=(file("csv")) download { (l.t("下载 CSV", "Download CSV")) }
            @if month == this_month {
                span.note { (l.t("本月尚未结束：数字截至此刻。", "The month is not over: figures as of now.")) }
            }
        }
        section.figures {
            (figure(l.t("完成巡查", "Rounds done"), sums.rounds_done.to_string(), None))
            (figure(l.t("准时率", "On time"), percent(sums.on_time, sums.judged_rounds), Some(format!("{}/{}", sums.on_time, sums.judged_rounds))))
            (figure(l.t("漏检点次", "Checkpoints missed"), sums.missed.to_string(), None))
            (figure(l.t("发现问题", "Issues found"), r.issues.len().to_string(), None))
            (figure(l.t("三天内关闭率", "Closed within 3 days"), percent(sums.in_time, sums.judged_issues), Some(format!("{}/{}", sums.in_time, sums.judged_issues))))
            (figure(l.t("维修被退回", "Fixes rejected"), sums.rejected.to_string(), None))
        }
        section.charts {
            figure.chart {
                figcaption { (l.t("每日巡查（准时 / 不准时 / 无排班）", "Rounds per day (on time / off schedule / unscheduled)")) }
                (rounds_chart(l, r, &judged, month, site))
            }
            figure.chart {
                figcaption { (l.t("各班组问题处理（三天内）", "Issues by team (within three days)")) }
                (teams_chart(l, r))
            }
        }
        h2 { (l.t("人员考核数据", "Figures per person")) }
        (people_table(l, &judged))
        h2 { (l.t("月度档案", "Archive")) }
        p.note {
            (l.t("每月结束后，当月档案写入存储；巡查记录保存 ", "At each month's end its archive is written to storage; patrol records are kept "))
            (site.retention_days)
            (l.t(" 天，超过期限且已归档的记录才会清除。", " days, and only records already archived are purged after that."))
        }
        @if archive.is_empty() {
            p.empty { (l.t("还没有归档的月份。", "No month archived yet.")) }
        } @else {
            table.archive {
                thead { tr {
                    th { (l.t("月份", "Month")) }
                    th { (l.t("版本", "Version")) }
                    th { (l.t("归档时间", "Archived")) }
                    th { (l.t("巡查", "Rounds")) }
                    th { (l.t("已清除", "Purged")) }
                    th { (l.t("文件", "Files")) }
                } }
                tbody {
                    @for m in archive.iter().rev() {
                        tr {
                            td { a href=(query(m.month)) { (m.month) } }
                            td { (m.version) }
                            td.when { (super::local(m.archived_at, Some(site))) }
                            td { (m.archived.runs) }
                            td { (m.purged.runs) }
                            td {
                                @for f in &m.files {
                                    a href={ "/console/reports/archive/" (site.id) "/" (m.month) "/" (urlencode(&f.name)) } { (f.name) }
                                    small.muted title={ "SHA-256 " (f.sha256) } { " " (kib(f.bytes)) " · " (&f.sha256[..f.sha256.len().min(12)]) }
                                    br;
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout(
        &c,
        l.t("月度报表", "Monthly report"),
        "/console/reports",
        content,
    ))
}

/// `GET /console/reports/download`: the month as XLSX or CSV, as the API gives it.
pub async fn download(
    State(state): State<AppState>,
    c: Console,
    Query(q): Query<Pick>,
) -> Result<Response, ConsoleError> {
    let l = c.lang;
    let site = readable(&c, q.site.as_deref())?;
    let month = month_of(&c, site, q.month.as_deref())?;
    let sheets = reports::sheets(state.store.as_ref(), site, month, Timestamp::now())
        .await
        .map_err(|e| report_error(l, &e))?;
    let failed = |e: crate::error::ApiError| ConsoleError::internal(l, &e.code());
    Ok(match q.format.as_deref() {
        Some("csv") => {
            let name = sheets.file_name(None, "csv");
            reports::download(
                reports::blocking(move || sheets.csv())
                    .await
                    .map_err(failed)?,
                CSV,
                &name,
            )
        }
        None | Some("" | "xlsx") => {
            let name = sheets.file_name(None, "xlsx");
            reports::download(
                reports::blocking(move || sheets.xlsx())
                    .await
                    .map_err(failed)?,
                XLSX,
                &name,
            )
        }
        Some(_) => {
            return Err(ConsoleError::BadRequest(
                l,
                l.t("格式只能是 xlsx 或 csv。", "The format is xlsx or csv.")
                    .to_owned(),
            ));
        }
    })
}

/// `GET /console/reports/archive/{site}/{month}/{file}`: a file of the archive.
pub async fn archived(
    State(state): State<AppState>,
    c: Console,
    Path((site, month, file)): Path<(String, String, String)>,
) -> Result<Response, ConsoleError> {
    let l = c.lang;
    let site = readable(&c, Some(&site))?;
    let month: Month = month.parse().map_err(|_| ConsoleError::NotFound(l))?;
    reports::archived_file(&state, site, month, &file)
        .await
        .map_err(|e| {
            if e.status() == axum::http::StatusCode::NOT_FOUND {
                ConsoleError::NotFound(l)
            } else {
                ConsoleError::internal(l, &e.code())
            }
        })
}

/// The month's totals.
#[derive(Debug, Default)]
struct Sums {
    rounds_done: usize,
    /// Finished rounds a schedule judges.
    judged_rounds: usize,
    on_time: usize,
    missed: usize,
    /// Issues closed, or open past their three days: those the three days judge.
    judged_issues: usize,
    in_time: usize,
    rejected: usize,
}

impl Sums {
    fn of(r: &MonthReport) -> Sums {
        let mut s = Sums::default();
        for round in r.rounds.iter().filter(|r| r.run.finished_at.is_some()) {
            s.rounds_done += 1;
            s.missed += round.run.missed.len();
            if let Some(on_time) = round.punctuality.on_time() {
                s.judged_rounds += 1;
                s.on_time += usize::from(on_time);
            }
        }
        for i in &r.issues {
            if let Some(ok) = i.within_sla {
                s.judged_issues += 1;
                s.in_time += usize::from(ok);
            }
            s.rejected += i.rejections.len();
        }
        s
    }
}

fn percent(n: usize, of: usize) -> String {
    // Rounded to a whole per cent: the figure a review quotes.
    (n * 100 + of / 2)
        .checked_div(of)
        .map_or_else(|| "—".to_owned(), |p| format!("{p}%"))
}

fn kib(bytes: u64) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}

fn figure(name: &str, value: String, detail: Option<String>) -> Markup {
    html! {
        div.figure {
            span.value { (value) }
            span.name { (name) }
            @if let Some(d) = detail { small { (d) } }
        }
    }
}

/// Bars per day of the month, stacked: on time, off schedule (early or late), unscheduled.
fn rounds_chart(l: Lang, r: &MonthReport, j: &Judged, month: Month, site: &Site) -> Markup {
    let Ok(tz) = site.tz() else {
        return html! {};
    };
    let days = month
        .start(&tz)
        .ok()
        .map(|start| start.to_zoned(tz.clone()).date().days_in_month())
        .unwrap_or(31);
    let mut per_day: BTreeMap<i8, [u32; 3]> = BTreeMap::new();
    for round in r.rounds.iter().filter(|r| r.run.finished_at.is_some()) {
        let day = j.local(round.run.started_at).day();
        let slot = match round.punctuality {
            Punctuality::OnTime { .. } => 0,
            Punctuality::Early { .. } | Punctuality::Late { .. } => 1,
            Punctuality::Unscheduled => 2,
        };
        per_day.entry(day).or_default()[slot] += 1;
    }
    let top = per_day
        .values()
        .map(|c| c.iter().sum::<u32>())
        .max()
        .unwrap_or(0)
        .max(1);
    let (w, h, left, bottom) = (720.0_f64, 200.0_f64, 28.0_f64, 22.0_f64);
    let bar = (w - left) / f64::from(days);
    let scale = (h - bottom - 8.0) / f64::from(top);
    let classes = ["on-time", "off-schedule", "unscheduled"];
    let names = [
        l.t("准时", "on time"),
        l.t("不准时", "off schedule"),
        l.t("无排班", "unscheduled"),
    ];
    let mut rects = Vec::new();
    for (day, counts) in &per_day {
        let x = left + f64::from(day - 1) * bar + 1.0;
        let mut y = h - bottom;
        for (i, n) in counts.iter().enumerate().filter(|(_, n)| **n > 0) {
            let height = f64::from(*n) * scale;
            y -= height;
            let tip = format!("{month}-{day:02} {}: {n}", names[i]);
            rects.push((x, y, height, classes[i], tip));
        }
    }
    html! {
        svg.chart viewBox={ "0 0 " (w) " " (h) } role="img" aria-label=(l.t("每日巡查", "Rounds per day")) {
            line x1=(left) y1=(h - bottom) x2=(w) y2=(h - bottom) class="axis" {}
            text x="2" y="14" class="tick" { (top) }
            text x="2" y=(h - bottom) class="tick" { "0" }
            @for (x, y, height, class, tip) in &rects {
                rect x=(fmt(*x)) y=(fmt(*y)) width=(fmt(bar - 2.0)) height=(fmt(*height)) class=(class) {
                    title { (tip) }
                }
            }
            @for day in (1..=days).filter(|d| *d == 1 || d % 5 == 0) {
                text x=(fmt(left + (f64::from(day) - 0.5) * bar)) y=(h - 6.0) class="tick" text-anchor="middle" { (day) }
            }
        }
        p.legend {
            @for (i, name) in names.iter().enumerate() {
                span class={ "key " (classes[i]) } {} (name) " "
            }
        }
    }
}

/// Per team: closed within three days, closed late, open past the three days, open in time.
fn teams_chart(l: Lang, r: &MonthReport) -> Markup {
    let mut per_team: BTreeMap<Team, [u32; 4]> = BTreeMap::new();
    for i in &r.issues {
        let closed = i.issue.status == Status::Closed;
        let slot = match (closed, i.within_sla) {
            (true, Some(true)) => 0,
            (true, _) => 1,
            (false, Some(false)) => 2,
            (false, _) => 3,
        };
        per_team.entry(i.issue.team).or_default()[slot] += 1;
    }
    if per_team.is_empty() {
        return html! { p.empty { (l.t("本月没有问题记录。", "No issues this month.")) } };
    }
    let classes = ["in-time", "late", "overdue", "open"];
    let names = [
        l.t("三天内关闭", "closed in time"),
        l.t("超期关闭", "closed late"),
        l.t("逾期未关闭", "open, overdue"),
        l.t("处理中", "open"),
    ];
    let top = per_team
        .values()
        .map(|c| c.iter().sum::<u32>())
        .max()
        .unwrap_or(1)
        .max(1);
    let (w, row, label) = (720.0_f64, 28.0_f64, 150.0_f64);
    let h = row * per_team.len() as f64 + 4.0;
    let scale = (w - label - 40.0) / f64::from(top);
    let rows: Vec<_> = per_team
        .iter()
        .enumerate()
        .map(|(n, (team, counts))| {
            let y = n as f64 * row + 4.0;
            let mut x = label;
            let mut bars = Vec::new();
            for (i, c) in counts.iter().enumerate().filter(|(_, c)| **c > 0) {
                let width = f64::from(*c) * scale;
                bars.push((x, width, i, *c));
                x += width;
            }
            (y, *team, bars, x, counts.iter().sum::<u32>())
        })
        .collect();
    html! {
        svg.chart viewBox={ "0 0 " (w) " " (fmt(h)) } role="img" aria-label=(l.t("各班组问题", "Issues by team")) {
            @for (y, team, bars, end, total) in &rows {
                text x="0" y=(fmt(y + 15.0)) class="label" { (team_label(l, *team)) }
                @for (x, width, i, c) in bars {
                    rect x=(fmt(*x)) y=(fmt(*y)) width=(fmt(*width)) height=(fmt(row - 8.0)) class=(classes[*i]) {
                        title { (team_label(l, *team)) " " (names[*i]) ": " (c) }
                    }
                }
                text x=(fmt(end + 6.0)) y=(fmt(y + 15.0)) class="tick" { (total) }
            }
        }
        p.legend {
            @for (i, name) in names.iter().enumerate() {
                span class={ "key " (classes[i]) } {} (name) " "
            }
        }
    }
}

/// Coordinates with one decimal: enough for a chart, short in the page.
fn fmt(v: f64) -> PreEscaped<String> {
    PreEscaped(format!("{v:.1}"))
}

fn people_table(l: Lang, j: &Judged) -> Markup {
    let r = &j.report;
    let max = r
        .people
        .iter()
        .map(|p| p.rounds_done.max(p.findings).max(p.jobs_closed_in_time))
        .max()
        .unwrap_or(0)
        .max(1);
    let bar = |n: u32, class: &str| {
        let width = f64::from(n) / f64::from(max) * 80.0;
        html! {
            span.cell-bar {
                @if n > 0 {
                    span class={ "fill " (class) } style={ "width:" (fmt(width)) "px" } {}
                }
                span.n { (n) }
            }
        }
    };
    html! {
        @if r.people.is_empty() {
            p.empty { (l.t("没有人员。", "Nobody.")) }
        } @else {
            table.people {
                thead { tr {
                    th { (l.t("姓名", "Name")) }
                    th { (l.t("完成巡查", "Rounds done")) }
                    th { (l.t("准时", "On time")) }
                    th { (l.t("漏检点", "Checkpoints missed")) }
                    th { (l.t("发现问题", "Findings")) }
                    th { (l.t("三天内关闭工单", "Jobs closed in 3 days")) }
                    th { (l.t("维修被退回", "Fixes rejected")) }
                    th { (l.t("回访", "Called back")) }
                } }
                tbody {
                    @for p in &r.people {
                        tr {
                            td { (j.person(p.user_id)) @if let Some(u) = j.username(p.user_id) { br; small.muted { (u) } } }
                            td { (bar(p.rounds_done, "on-time")) }
                            td { (p.rounds_on_time) }
                            td class=[(p.checkpoints_missed > 0).then_some("warn")] { (p.checkpoints_missed) }
                            td { (bar(p.findings, "open")) }
                            td { (bar(p.jobs_closed_in_time, "in-time")) }
                            td class=[(p.fixes_rejected > 0).then_some("warn")] { (p.fixes_rejected) }
                            td { (p.calls_back) }
                        }
                    }
                }
            }
        }
    }
}
