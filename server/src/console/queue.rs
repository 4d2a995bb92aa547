//! The queue (DESIGN §10): open issues in due-time order with the time left until `due_at` —
//! overdue ones red and marked 逾期, due-soon ones amber — filtered by site, team, status,
//! severity and assignee, in pages.

use std::collections::HashMap;

use axum::extract::{Query, State};
use jiff::Timestamp;
use maud::{Markup, html};
use patrol_core::ids::{SiteId, UserId};
use patrol_core::issue::{Issue, Severity, Status};
use patrol_core::lifecycle::Visibility;
use patrol_core::sla::{self, SlaState};
use patrol_core::team::Team;
use patrol_core::user::User;
use patrol_core::wire::QueueCursor;
use serde::Deserialize;

use super::{Console, ConsoleError, DESK_ROLES, Lang, layout, local, time_left};
use crate::AppState;
use crate::store::IssueFilter;

/// Issues a page shows.
const PAGE: u32 = 50;

/// The queue's filters, as the form sends them (empty means any).
#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    site: Option<String>,
    team: Option<String>,
    status: Option<String>,
    severity: Option<String>,
    assignee: Option<String>,
    cursor: Option<String>,
}

/// A wire name chosen in a form, as its enum; empty or unknown is none.
pub(super) fn pick<T: serde::de::DeserializeOwned>(v: &Option<String>) -> Option<T> {
    let v = v.as_deref().filter(|s| !s.is_empty())?;
    serde_json::from_value(serde_json::Value::String(v.to_owned())).ok()
}

/// A status's name for people.
pub fn status_label(lang: Lang, s: Status) -> String {
    lang.of(&s.label())
}

/// A severity's name for people.
pub fn severity_label(lang: Lang, s: Severity) -> String {
    lang.of(&s.label())
}

/// A team's name for people.
pub fn team_label(lang: Lang, t: Team) -> String {
    lang.of(&t.label())
}

/// The class and words of an issue against its due time now.
pub fn due_cell(lang: Lang, issue: &Issue, now: Timestamp) -> (Option<&'static str>, String) {
    match sla::issue_state(issue, now) {
        None => (None, lang.t("已关闭", "closed").to_owned()),
        Some(SlaState::Overdue) => (Some("overdue"), time_left(lang, issue.due_at, now)),
        Some(SlaState::DueSoon) => (Some("due-soon"), time_left(lang, issue.due_at, now)),
        Some(SlaState::OnTrack) => (None, time_left(lang, issue.due_at, now)),
    }
}

/// `GET /console`.
pub async fn page(
    State(state): State<AppState>,
    c: Console,
    Query(f): Query<Filters>,
) -> Result<Markup, ConsoleError> {
    c.require(DESK_ROLES)?;
    let l = c.lang;
    let site: Option<SiteId> = f
        .site
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|s| s.parse().ok());
    if let Some(s) = site
        && c.site(s).is_none()
    {
        return Err(ConsoleError::NotFound(l));
    }
    // No status chosen: everything not yet closed.
    let filter = IssueFilter {
        site,
        status: pick(&f.status),
        team: pick(&f.team),
        severity: pick(&f.severity),
        assignee: f.assignee.as_deref().and_then(|a| a.parse().ok()),
        active: f.status.as_deref().is_none_or(str::is_empty),
        ..IssueFilter::all(Visibility::of(&c.actor))
    };
    let after = f.cursor.as_deref().and_then(QueueCursor::decode);
    let mut issues = state.store.issues(&filter, after, PAGE + 1).await?;
    let more = issues.len() > PAGE as usize;
    issues.truncate(PAGE as usize);
    let next = more
        .then(|| issues.last().map(|i| QueueCursor::after(i).encode()))
        .flatten();
    let now = Timestamp::now();
    // Counts of what is open, by team, over the same sites: every open issue, however many.
    let mut by_team = state
        .store
        .open_counts(
            &IssueFilter {
                site,
                ..IssueFilter::all(Visibility::of(&c.actor))
            },
            now,
        )
        .await?;
    by_team.sort_by_key(|c| c.team);
    let mut people: HashMap<UserId, User> = HashMap::new();
    for s in &c.sites {
        for u in state.store.site_users(s.id).await? {
            people.insert(u.id, u);
        }
    }
    let name = |id: Option<UserId>| {
        id.and_then(|i| people.get(&i))
            .map_or_else(|| "—".to_owned(), |u| u.display_name.clone())
    };
    let mut assignees: Vec<&User> = people
        .values()
        .filter(|u| u.role != patrol_core::user::Role::Admin)
        .collect();
    assignees.sort_by(|a, b| a.display_name.cmp(&b.display_name));
    let chosen = |v: &Option<String>, x: &str| v.as_deref() == Some(x);
    let link_with = |cursor: &str| {
        let mut q: Vec<String> = Vec::new();
        for (k, v) in [
            ("site", &f.site),
            ("team", &f.team),
            ("status", &f.status),
            ("severity", &f.severity),
            ("assignee", &f.assignee),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                q.push(format!("{k}={}", super::urlencode(v)));
            }
        }
        q.push(format!("cursor={}", super::urlencode(cursor)));
        format!("/console?{}", q.join("&"))
    };
    let content = html! {
        h1 { (l.t("问题队列", "Queue")) }
        section.teams {
            @for count in &by_team {
                a.team href={ "/console?team=" (count.team.as_str()) } {
                    strong { (team_label(l, count.team)) }
                    span { (count.open) " " (l.t("件待办", "open")) }
                    @if count.overdue > 0 { span.overdue { (count.overdue) " " (l.t("件逾期", "overdue")) } }
                }
            }
            @if by_team.is_empty() { p { (l.t("没有待办的问题。", "Nothing is open.")) } }
        }
        form.filters method="get" action="/console" {
            @if c.sites.len() > 1 {
                label { (l.t("小区", "Site"))
                    select name="site" {
                        option value="" { (l.t("全部", "All")) }
                        @for s in &c.sites {
                            option value=(s.id) selected[chosen(&f.site, &s.id.to_string())] { (s.name) }
                        }
                    }
                }
            }
            label { (l.t("班组", "Team"))
                select name="team" {
                    option value="" { (l.t("全部", "All")) }
                    @for t in Team::ALL {
                        option value=(t.as_str()) selected[chosen(&f.team, t.as_str())] { (team_label(l, t)) }
                    }
                }
            }
            label { (l.t("状态", "Status"))
                select name="status" {
                    option value="" { (l.t("未关闭", "Not closed")) }
                    @for s in [Status::Open, Status::Assigned, Status::InProgress, Status::Resolved, Status::Closed] {
                        option value=(s.as_str()) selected[chosen(&f.status, s.as_str())] { (status_label(l, s)) }
                    }
                }
            }
            label { (l.t("严重程度", "Severity"))
                select name="severity" {
                    option value="" { (l.t("全部", "All")) }
                    @for s in Severity::ALL {
                        option value=(s.as_str()) selected[chosen(&f.severity, s.as_str())] { (severity_label(l, s)) }
                    }
                }
            }
            label { (l.t("处理人", "Assignee"))
                select name="assignee" {
                    option value="" { (l.t("全部", "Anyone")) }
                    @for u in &assignees {
                        option value=(u.id) selected[chosen(&f.assignee, &u.id.to_string())] { (u.display_name) }
                    }
                }
            }
            button type="submit" { (l.t("筛选", "Filter")) }
        }
        @if issues.is_empty() {
            p.empty { (l.t("没有符合条件的问题。", "No issue matches.")) }
        } @else {
            table.queue {
                thead { tr {
                    th { (l.t("问题", "Issue")) }
                    th { (l.t("班组", "Team")) }
                    th { (l.t("严重程度", "Severity")) }
                    th { (l.t("状态", "Status")) }
                    th { (l.t("处理人", "Assignee")) }
                    th { (l.t("期限", "Due")) }
                    th { (l.t("剩余时间", "Time left")) }
                } }
                tbody {
                    @for i in &issues {
                        @let (class, left) = due_cell(l, i, now);
                        tr class=[class] {
                            td.title {
                                a href={ "/console/issues/" (i.id) } { (i.title) }
                                @if i.escalated() { " " span.tag.escalated { (l.t("已升级", "escalated")) } }
                                @if i.extension.is_some() { " " span.tag { (l.t("延期待批", "extension asked")) } }
                            }
                            td { (team_label(l, i.team)) }
                            td class={ "sev-" (i.severity.as_str()) } { (severity_label(l, i.severity)) }
                            td { (status_label(l, i.status)) }
                            td { (name(i.assignee_id)) }
                            td.when { (local(i.due_at, c.site(i.site_id))) }
                            td.left { (left) }
                        }
                    }
                }
            }
            @if let Some(cursor) = &next {
                p.more { a href=(link_with(cursor)) { (l.t("下一页 →", "Next page →")) } }
            }
        }
    };
    Ok(layout(&c, l.t("问题队列", "Queue"), "/console", content))
}
