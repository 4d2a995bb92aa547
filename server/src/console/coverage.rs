//! Patrol coverage of a site's day (DESIGN §10 `GET /console/coverage?site=&date=YYYY-MM-DD`):
//! each route's scheduled rounds with their state, the rounds walked besides them, every
//! checkpoint visited, missed (with the reasons given) or flagged (with the flags), and the
//! month's most-missed checkpoints, so a supervisor sees which routes are unrealistic. The
//! judging is core's ([`patrol_core::coverage`]); this page fetches and draws.

use std::collections::HashMap;

use axum::extract::{Query, State};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use maud::{Markup, html};
use patrol_core::coverage::{self, CheckpointDay, DayRound, MissedCount, RouteDay, SlotState};
use patrol_core::ids::{CheckpointId, RouteId, RunId, SiteId, UserId};
use patrol_core::patrol::VisitMethod;
use patrol_core::report::Punctuality;
use patrol_core::route::Route;
use patrol_core::site::{Checkpoint, Site};
use patrol_core::user::User;
use serde::Deserialize;

use super::{Console, ConsoleError, DESK_ROLES, Lang, layout, local};
use crate::AppState;

/// How many of the month's most-missed checkpoints the page lists.
pub const TOP_MISSED: usize = 10;

/// The page's query.
#[derive(Debug, Default, Deserialize)]
pub struct CoverageQuery {
    site: Option<String>,
    date: Option<String>,
}

/// Names of the people and places the page mentions.
struct Names<'a> {
    lang: Lang,
    site: &'a Site,
    tz: TimeZone,
    checkpoints: HashMap<CheckpointId, Checkpoint>,
    people: HashMap<UserId, User>,
}

impl Names<'_> {
    fn checkpoint(&self, id: CheckpointId) -> String {
        match self.checkpoints.get(&id) {
            Some(c) => match (self.lang, &c.name_en) {
                (Lang::En, Some(en)) => en.clone(),
                _ => c.name.clone(),
            },
            None => self
                .lang
                .t("（已删除的巡查点）", "(removed checkpoint)")
                .to_owned(),
        }
    }

    fn person(&self, id: UserId) -> String {
        self.people
            .get(&id)
            .map_or_else(|| "—".to_owned(), |u| u.display_name.clone())
    }

    fn when(&self, t: Timestamp) -> String {
        local(t, Some(self.site))
    }

    /// Hours and minutes only, for times on the page's own day.
    fn hm(&self, t: Timestamp) -> String {
        t.to_zoned(self.tz.clone()).strftime("%H:%M").to_string()
    }
}

fn link(site: SiteId, date: Date) -> String {
    format!("/console/coverage?site={site}&date={date}")
}

fn badge(l: Lang, state: SlotState) -> Markup {
    html! { span class={ "badge " (state.as_str()) } { (l.of(&state.label())) } }
}

fn punctuality_words(l: Lang, p: Punctuality, n: &Names<'_>) -> String {
    let mins = |d: jiff::SignedDuration| d.as_secs() / 60;
    match p {
        Punctuality::OnTime { scheduled } => match l {
            Lang::Zh => format!("按计划 {}", n.hm(scheduled)),
            Lang::En => format!("for {}", n.hm(scheduled)),
        },
        Punctuality::Late { scheduled, by } => match l {
            Lang::Zh => format!("比计划 {} 晚 {} 分钟", n.hm(scheduled), mins(by)),
            Lang::En => format!("{} min after {}", mins(by), n.hm(scheduled)),
        },
        Punctuality::Early { scheduled, by } => match l {
            Lang::Zh => format!("比计划 {} 早 {} 分钟", n.hm(scheduled), mins(by)),
            Lang::En => format!("{} min before {}", mins(by), n.hm(scheduled)),
        },
        Punctuality::Unscheduled => l.t("无计划时间", "no scheduled time").to_owned(),
    }
}

/// `GET /console/coverage`.
pub async fn page(
    State(state): State<AppState>,
    c: Console,
    Query(q): Query<CoverageQuery>,
) -> Result<Markup, ConsoleError> {
    c.require(DESK_ROLES)?;
    let l = c.lang;
    let site = match q.site.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => s
            .parse::<SiteId>()
            .ok()
            .and_then(|id| c.site(id))
            .ok_or(ConsoleError::NotFound(l))?,
        None => c.sites.first().ok_or(ConsoleError::NotFound(l))?,
    };
    let tz = site.tz().map_err(|e| ConsoleError::internal(l, &e))?;
    let now = Timestamp::now();
    let date = match q.date.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => {
            coverage::parse_date(s).map_err(|e| ConsoleError::BadRequest(l, e.to_string()))?
        }
        None => now.to_zoned(tz.clone()).date(),
    };
    let out_of_range = |e: patrol_core::time::TimeError| ConsoleError::BadRequest(l, e.to_string());
    let (from, to) = coverage::records_window(date, &tz).map_err(out_of_range)?;
    let (month, month_from, month_to) =
        coverage::month_so_far(date, &tz, now).map_err(out_of_range)?;

    let routes = state.store.routes(site.id).await?;
    let day_records = state.store.patrol_records(site.id, from, to).await?;
    let days = coverage::day(
        &tz,
        date,
        &routes,
        &day_records.runs,
        &day_records.visits,
        now,
    );
    let month_records = if month_from < month_to {
        state
            .store
            .patrol_records(site.id, month_from, month_to)
            .await?
    } else {
        Default::default()
    };
    let most = coverage::most_missed(
        &routes,
        &month_records.runs,
        &month_records.visits,
        TOP_MISSED,
    );

    let mut people: HashMap<UserId, User> = state
        .store
        .site_users(site.id)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    // Someone who has left the site still walked their rounds.
    for d in &days {
        for r in d.rounds() {
            let id = r.run.patroller_id;
            if !people.contains_key(&id)
                && let Some(u) = state.store.user(id).await?
            {
                people.insert(id, u);
            }
        }
    }
    let names = Names {
        lang: l,
        site,
        tz: tz.clone(),
        checkpoints: state
            .store
            .checkpoints(site.id)
            .await?
            .into_iter()
            .map(|cp| (cp.id, cp))
            .collect(),
        people,
    };
    let route_of: HashMap<RouteId, &Route> = routes.iter().map(|r| (r.id, r)).collect();
    let title = l.t("巡查覆盖", "Coverage");
    let content = html! {
        h1 { (title) " · " (site.name) " · " (date) }
        form.filters method="get" action="/console/coverage" {
            label { (l.t("小区", "Site"))
                select name="site" {
                    @for s in &c.sites {
                        option value=(s.id) selected[s.id == site.id] { (s.name) }
                    }
                }
            }
            label { (l.t("日期", "Date"))
                input type="date" name="date" value=(date);
            }
            button type="submit" { (l.t("查看", "Show")) }
            span.days {
                @if let Ok(d) = date.yesterday() {
                    a href=(link(site.id, d)) { (l.t("← 前一天", "← Previous day")) }
                }
                " "
                @if let Ok(d) = date.tomorrow() {
                    a href=(link(site.id, d)) { (l.t("后一天 →", "Next day →")) }
                }
            }
        }
        @if days.is_empty() {
            p.empty { (l.t("本小区还没有巡查路线。", "This site has no patrol routes yet.")) }
        }
        @for d in &days {
            @if let Some(route) = route_of.get(&d.route_id) {
                (route_section(l, route, d, &names))
            }
        }
        section.coverage {
            h2 { (l.t("本月漏巡最多的巡查点", "Most-missed checkpoints this month")) " · " (month) }
            @if most.is_empty() {
                p.empty { (l.t("本月已完成的巡查没有漏掉巡查点。", "No finished round this month left a checkpoint out.")) }
            } @else {
                (missed_chart(l, &most, &names))
                table.missed {
                    thead { tr {
                        th { (l.t("巡查点", "Checkpoint")) }
                        th { (l.t("漏巡次数", "Rounds missing it")) }
                        th { (l.t("应巡次数", "Rounds that should have visited it")) }
                        th { (l.t("比例", "Share")) }
                        th { (l.t("原因", "Reasons given")) }
                    } }
                    tbody {
                        @for m in &most {
                            tr {
                                td { (names.checkpoint(m.checkpoint_id)) }
                                td { (m.missed) }
                                td { (m.rounds) }
                                td { (m.percent()) "%" }
                                td.reasons {
                                    @for (reason, n) in &m.reasons {
                                        span.reason { (reason) " ×" (n) }
                                    }
                                    @if m.reasons.is_empty() { "—" }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout(&c, title, "/console/coverage", content))
}

fn round_cells(l: Lang, n: &Names<'_>, r: &DayRound, number: usize, of: usize) -> Markup {
    html! {
        td { (l.t("第", "#")) (number) (l.t(" 轮", "")) " · " (n.when(r.run.started_at)) }
        td {
            @match r.run.finished_at {
                Some(t) => { (n.when(t)) }
                None => { span.muted { (l.t("未结束", "not finished")) } }
            }
        }
        td { (n.person(r.run.patroller_id)) }
        td { (r.visited) " / " (of) }
        td class=[(r.missed > 0).then_some("missed-count")] { (r.missed) }
        td {
            (punctuality_words(l, r.punctuality, n))
            @for f in &r.run.flags { " " span.tag.flag { (l.of(&f.label())) } }
        }
    }
}

fn route_section(l: Lang, route: &Route, d: &RouteDay, n: &Names<'_>) -> Markup {
    let rounds = d.rounds();
    let number_of = |id: RunId| {
        rounds
            .iter()
            .position(|r| r.run.id == id)
            .map_or(0, |i| i + 1)
    };
    let of = route.checkpoint_ids.len();
    html! {
        section.coverage.route {
            h2 { (route.name) }
            @if !d.scheduled_today {
                p.empty { (l.t("这条路线今天没有计划巡查。", "This route is not scheduled on this day.")) }
            }
            @if !d.slots.is_empty() || !d.extra.is_empty() {
                table.rounds {
                    thead { tr {
                        th { (l.t("计划时间", "Scheduled")) }
                        th { (l.t("状态", "State")) }
                        th { (l.t("开始", "Started")) }
                        th { (l.t("结束", "Finished")) }
                        th { (l.t("巡查人", "Patroller")) }
                        th { (l.t("已巡", "Visited")) }
                        th { (l.t("漏巡", "Missed")) }
                        th { (l.t("说明", "Notes")) }
                    } }
                    tbody {
                        @for s in &d.slots {
                            tr class={ "slot " (s.state.as_str()) } {
                                td.when { (n.hm(s.scheduled)) }
                                td { (badge(l, s.state)) }
                                @match &s.round {
                                    Some(r) => { (round_cells(l, n, r, number_of(r.run.id), of)) }
                                    None => { td colspan="6" { span.muted { "—" } } }
                                }
                            }
                        }
                        @for r in &d.extra {
                            tr.slot.extra {
                                td.when { "—" }
                                td { span.badge.extra { (l.t("计划外", "unscheduled")) } }
                                (round_cells(l, n, r, number_of(r.run.id), of))
                            }
                        }
                    }
                }
            }
            table.checkpoints {
                thead { tr {
                    th { (l.t("巡查点", "Checkpoint")) }
                    th { (l.t("情况", "Coverage")) }
                    th { (l.t("到点记录", "Visits")) }
                    th { (l.t("存疑标记", "Flags")) }
                    th { (l.t("漏巡原因", "Missed: reasons")) }
                } }
                tbody {
                    @for cp in &d.checkpoints {
                        (checkpoint_row(l, cp, n, &number_of))
                    }
                }
            }
        }
    }
}

fn checkpoint_row(
    l: Lang,
    cp: &CheckpointDay,
    n: &Names<'_>,
    number_of: &dyn Fn(RunId) -> usize,
) -> Markup {
    use patrol_core::coverage::CheckpointState;
    let state = cp.state();
    let class = match state {
        CheckpointState::Visited => "on_time",
        CheckpointState::Flagged => "late",
        CheckpointState::PartlyMissed => "late",
        CheckpointState::Missed => "missed",
        CheckpointState::NotYet => "not_started",
    };
    html! {
        tr {
            td { (n.checkpoint(cp.checkpoint_id)) }
            td { span class={ "badge " (class) } { (l.of(&state.label())) } }
            td {
                @for v in &cp.visits {
                    div {
                        (l.t("第", "#")) (number_of(v.run_id)) (l.t(" 轮", "")) " · "
                        (n.hm(v.visit.at)) " · " (l.of(&v.visit.method.label()))
                        @if v.visit.method == VisitMethod::Manual {
                            @if let Some(reason) = &v.visit.reason { "（" (reason) "）" }
                        }
                    }
                }
                @if cp.visits.is_empty() { "—" }
            }
            td {
                @for f in cp.flags() { span.tag.flag { (l.of(&f.label())) } " " }
            }
            td {
                @for m in &cp.missed {
                    div { (l.t("第", "#")) (number_of(m.run_id)) (l.t(" 轮", "")) "：" (m.reason) }
                }
            }
        }
    }
}

/// A horizontal bar per checkpoint, its length the share of rounds that left it out, drawn on
/// the server (no script).
fn missed_chart(l: Lang, most: &[MissedCount], n: &Names<'_>) -> Markup {
    const ROW: usize = 26;
    const LABEL: usize = 220;
    const BAR: usize = 360;
    let height = most.len() * ROW + 8;
    let width = LABEL + BAR + 120;
    html! {
        svg.chart xmlns="http://www.w3.org/2000/svg" width=(width) height=(height)
            viewBox={ "0 0 " (width) " " (height) } role="img"
            aria-label=(l.t("本月漏巡最多的巡查点", "Most-missed checkpoints this month")) {
            @for (i, m) in most.iter().enumerate() {
                @let y = i * ROW + 4;
                @let len = (BAR * m.percent() as usize / 100).max(2);
                text x=(LABEL - 8) y=(y + 16) text-anchor="end" { (n.checkpoint(m.checkpoint_id)) }
                rect x=(LABEL) y=(y + 3) width=(BAR) height="16" class="track" {}
                rect x=(LABEL) y=(y + 3) width=(len) height="16" class="bar" {}
                text x=(LABEL + BAR + 8) y=(y + 16) {
                    (m.missed) " / " (m.rounds) " · " (m.percent()) "%"
                }
            }
        }
    }
}
