//! Open alerts of the person's sites and their acknowledgement, and those acknowledged lately
//! with who did and the notifications each alert sent (DESIGN §10–11:
//! `GET /console/alerts`, `POST /console/alerts/{id}/ack` with `note` and `csrf`). An
//! acknowledgement is an `alert.ack` op of the session's device, decided by core's rule
//! ([`patrol_core::alert::ack`]) exactly as a phone's; once acknowledged an alert is no longer
//! open anywhere.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use patrol_core::alert::{self, Alert, AlertKind};
use patrol_core::ids::{AlertId, SiteId, UserId};
use patrol_core::wire::{AlertAck, OpBody};
use serde::Deserialize;

use super::{Console, ConsoleError, DESK_ROLES, Lang, layout, local};
use crate::AppState;
use crate::notify::{DeliveryRecord, DeliveryStatus, masked_url};

/// The page's query: one of the person's sites, or all of them.
#[derive(Debug, Default, Deserialize)]
pub struct AlertsQuery {
    site: Option<String>,
    /// `acked`: the alerts acknowledged lately instead of the open ones.
    view: Option<String>,
}

/// The acknowledgement as posted.
#[derive(Debug, Deserialize)]
pub struct AckForm {
    csrf: Option<String>,
    note: Option<String>,
}

/// `GET /console/alerts`.
pub async fn page(
    State(state): State<AppState>,
    c: Console,
    Query(q): Query<AlertsQuery>,
) -> Result<Response, ConsoleError> {
    c.require(DESK_ROLES)?;
    let only = match q.site.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(
            s.parse::<SiteId>()
                .ok()
                .and_then(|id| c.site(id))
                .ok_or(ConsoleError::NotFound(c.lang))?
                .id,
        ),
        None => None,
    };
    if q.view.as_deref() == Some("acked") {
        return render_acked(&state, &c, only).await;
    }
    render(&state, &c, only, None, StatusCode::OK).await
}

/// The open alerts the person sees, newest first.
async fn open_alerts(
    state: &AppState,
    c: &Console,
    only: Option<SiteId>,
) -> Result<Vec<Alert>, ConsoleError> {
    let mut open = Vec::new();
    for site in c.sites.iter().filter(|s| only.is_none_or(|o| o == s.id)) {
        open.extend(state.store.site_alerts(site.id, true).await?);
    }
    open.retain(|a| alert::may_see(&c.actor, a));
    open.sort_by_key(|a| std::cmp::Reverse((a.raised_at, a.id)));
    Ok(open)
}

/// How many acknowledged alerts the page shows per site, latest first.
const RECENT_ACKED: u32 = 20;

/// The alerts of the person's sites acknowledged lately, the latest first, with the names of
/// the people who acknowledged them.
async fn acked_alerts(
    state: &AppState,
    c: &Console,
    only: Option<SiteId>,
) -> Result<(Vec<Alert>, HashMap<UserId, String>), ConsoleError> {
    let mut acked = Vec::new();
    let mut names = HashMap::new();
    for site in c.sites.iter().filter(|s| only.is_none_or(|o| o == s.id)) {
        let of_site = state.store.acked_alerts(site.id, RECENT_ACKED).await?;
        if of_site.is_empty() {
            continue;
        }
        acked.extend(of_site);
        for u in state.store.site_users(site.id).await? {
            names.insert(u.id, u.display_name);
        }
    }
    acked.retain(|a| alert::may_see(&c.actor, a));
    acked.sort_by_key(|a| std::cmp::Reverse((a.acked_at, a.id)));
    acked.truncate(RECENT_ACKED as usize);
    Ok((acked, names))
}

async fn render(
    state: &AppState,
    c: &Console,
    only: Option<SiteId>,
    problem: Option<(AlertId, String)>,
    status: StatusCode,
) -> Result<Response, ConsoleError> {
    let l = c.lang;
    let open = open_alerts(state, c, only).await?;
    let ids: Vec<AlertId> = open.iter().map(|a| a.id).collect();
    let deliveries = state.store.alert_deliveries(&ids).await?;
    let title = l.t("待处理提醒", "Open alerts");
    let content = html! {
        h1 { (title) " " small.muted { "(" (open.len()) ")" } }
        @if c.sites.len() > 1 {
            form.filters method="get" action="/console/alerts" {
                label { (l.t("小区", "Site"))
                    select name="site" {
                        option value="" { (l.t("全部", "All")) }
                        @for s in &c.sites {
                            option value=(s.id) selected[only == Some(s.id)] { (s.name) }
                        }
                    }
                }
                button type="submit" { (l.t("筛选", "Filter")) }
            }
        }
        @if let Some((_, why)) = &problem {
            p.error role="alert" { (why) }
        }
        @if open.is_empty() {
            p.empty { (l.t("没有待处理的提醒。", "No open alerts.")) }
        } @else {
            table.alerts {
                thead { tr {
                    th { (l.t("类型", "Kind")) }
                    th { (l.t("时间", "Raised")) }
                    th { (l.t("内容", "What")) }
                    th { (l.t("确认处理", "Acknowledge")) }
                } }
                tbody {
                    @for a in &open {
                        (row(c, a, &deliveries, problem.as_ref().filter(|(id, _)| *id == a.id).is_some()))
                    }
                }
            }
        }
        p { a href=(alerts_href(true, only)) { (l.t("最近已确认的提醒及其通知 →", "Alerts acknowledged lately, with their notifications →")) } }
    };
    let page = layout(c, title, "/console/alerts", content);
    Ok((status, page).into_response())
}

fn kind_class(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::Urgent | AlertKind::Overdue | AlertKind::RoundMissed => "sev-urgent",
        AlertKind::Major | AlertKind::RoundIncomplete => "sev-major",
    }
}

/// Where an alert's notifications stand: each channel's delivery with its attempts.
fn deliveries_of(c: &Console, a: &Alert, all: &[DeliveryRecord]) -> Markup {
    let l = c.lang;
    let mine: Vec<&DeliveryRecord> = all.iter().filter(|d| d.delivery.alert_id == a.id).collect();
    let site = c.site(a.site_id);
    html! {
        @if !mine.is_empty() {
            details.deliveries open[mine.iter().any(|d| d.delivery.status != DeliveryStatus::Delivered)] {
                summary { (l.t("通知", "Notifications")) " "
                    @for d in &mine {
                        span class={ "tag delivery " (d.delivery.status.as_str()) } {
                            (l.of(&d.kind.label())) "：" (l.of(&d.delivery.status.label()))
                        } " "
                    }
                }
                @for d in &mine {
                    div.delivery id={ "delivery-" (d.delivery.id) } {
                        p {
                            strong { (l.of(&d.kind.label())) } " " code { (masked_url(&d.url)) } " · "
                            (l.of(&d.delivery.status.label()))
                            @if d.delivery.status == DeliveryStatus::Pending && d.delivery.attempts > 0 {
                                " · " (l.t("下次尝试", "next try")) " " (local(d.delivery.next_at, site))
                            }
                            br; small.muted { (l.t("投递编号", "Delivery id")) " " (d.delivery.id) }
                        }
                        @if !d.attempts.is_empty() {
                            table.attempts {
                                thead { tr {
                                    th { "#" }
                                    th { (l.t("时间", "At")) }
                                    th { (l.t("结果", "Outcome")) }
                                    th { "HTTP" }
                                    th { (l.t("耗时", "Latency")) }
                                    th { (l.t("错误", "Error")) }
                                } }
                                tbody {
                                    @for t in &d.attempts {
                                        tr class={ "attempt " (t.outcome.as_str()) } {
                                            td { (t.attempt) }
                                            td { (local(t.at, site)) }
                                            td { (l.of(&t.outcome.label())) }
                                            td { @if let Some(s) = t.http_status { (s) } }
                                            td { @if let Some(ms) = t.latency_ms { (ms) " ms" } }
                                            td.error { @if let Some(e) = &t.error { (e) } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The alerts page (open ones, or with `acked` those acknowledged lately), of one site or all.
fn alerts_href(acked: bool, only: Option<SiteId>) -> String {
    let mut query: Vec<String> = Vec::new();
    if acked {
        query.push("view=acked".to_owned());
    }
    if let Some(site) = only {
        query.push(format!("site={site}"));
    }
    if query.is_empty() {
        "/console/alerts".to_owned()
    } else {
        format!("/console/alerts?{}", query.join("&"))
    }
}

/// `GET /console/alerts?view=acked`: the alerts acknowledged lately, with who attended, when,
/// their note and the notifications each sent (open alerts are on the main page only).
async fn render_acked(
    state: &AppState,
    c: &Console,
    only: Option<SiteId>,
) -> Result<Response, ConsoleError> {
    let l = c.lang;
    let (acked, names) = acked_alerts(state, c, only).await?;
    let ids: Vec<AlertId> = acked.iter().map(|a| a.id).collect();
    let deliveries = state.store.alert_deliveries(&ids).await?;
    let title = l.t("最近已确认的提醒", "Alerts acknowledged lately");
    let content = html! {
        h1 { (title) }
        p { a href=(alerts_href(false, only)) { (l.t("← 待处理提醒", "← Open alerts")) } }
        @if acked.is_empty() {
            p.empty { (l.t("还没有确认处理过的提醒。", "No alert has been acknowledged yet.")) }
        } @else {
            table.alerts.acked {
                thead { tr {
                    th { (l.t("类型", "Kind")) }
                    th { (l.t("时间", "Raised")) }
                    th { (l.t("内容", "What")) }
                    th { (l.t("处理", "Acknowledged")) }
                } }
                tbody {
                    @for a in &acked {
                        (acked_row(c, a, &deliveries, &names))
                    }
                }
            }
        }
    };
    Ok((StatusCode::OK, layout(c, title, "/console/alerts", content)).into_response())
}

/// An acknowledged alert: who attended, when, what they wrote, and its notifications.
fn acked_row(
    c: &Console,
    a: &Alert,
    deliveries: &[DeliveryRecord],
    names: &HashMap<UserId, String>,
) -> Markup {
    let l = c.lang;
    let site = c.site(a.site_id);
    let text = match l {
        Lang::Zh => &a.text_zh,
        Lang::En => &a.text_en,
    };
    let who = a
        .acked_by
        .map(|u| names.get(&u).cloned().unwrap_or_else(|| u.to_string()));
    html! {
        tr id={ "alert-" (a.id) } class="acked" {
            td { span class=(kind_class(a.kind)) { (l.of(&a.kind.label())) } }
            td.when { (local(a.raised_at, site)) }
            td.title {
                (text)
                @if let Some(issue) = a.issue_id {
                    br; a href={ "/console/issues/" (issue) } { (l.t("查看问题", "Open the issue")) }
                }
                (deliveries_of(c, a, deliveries))
            }
            td {
                @if let Some(who) = &who { strong { (who) } " · " }
                @if let Some(at) = a.acked_at { (local(at, site)) }
                @if let Some(note) = &a.note { br; (note) }
            }
        }
    }
}

fn row(c: &Console, a: &Alert, deliveries: &[DeliveryRecord], failed: bool) -> Markup {
    let l = c.lang;
    let site = c.site(a.site_id);
    let text = match l {
        Lang::Zh => &a.text_zh,
        Lang::En => &a.text_en,
    };
    let link = if let Some(issue) = a.issue_id {
        Some((
            format!("/console/issues/{issue}"),
            l.t("查看问题", "Open the issue"),
        ))
    } else {
        // A round's alert opens the coverage of the round's day.
        let at = a.slot_at.unwrap_or(a.raised_at);
        site.and_then(|s| s.tz().ok()).map(|tz| {
            (
                format!(
                    "/console/coverage?site={}&date={}",
                    a.site_id,
                    at.to_zoned(tz).date()
                ),
                l.t("查看巡查覆盖", "Open the coverage"),
            )
        })
    };
    html! {
        tr id={ "alert-" (a.id) } class=[failed.then_some("due-soon")] {
            td { span class=(kind_class(a.kind)) { (l.of(&a.kind.label())) } }
            td.when {
                (local(a.raised_at, site))
                @if c.sites.len() > 1 { br; small.muted { (site.map_or("", |s| s.name.as_str())) } }
            }
            td.title {
                (text)
                @if let Some((href, words)) = link { br; a href=(href) { (words) } }
                (deliveries_of(c, a, deliveries))
            }
            td {
                form method="post" action={ "/console/alerts/" (a.id) "/ack" } {
                    (c.csrf_field())
                    label { (l.t("处理说明（谁到场、做了什么）", "Note: who attended, what was done"))
                        textarea name="note" rows="2" cols="32" maxlength=(patrol_core::bounds::MAX_TEXT_CHARS) required {}
                    }
                    button type="submit" { (l.t("确认处理", "Acknowledge")) }
                }
            }
        }
    }
}

/// `POST /console/alerts/{id}/ack`.
pub async fn ack(
    State(state): State<AppState>,
    c: Console,
    Path(id): Path<AlertId>,
    axum::Form(f): axum::Form<AckForm>,
) -> Result<Response, ConsoleError> {
    c.check_form(f.csrf.as_deref())?;
    c.require(DESK_ROLES)?;
    // Another site's alert, or one the person may not see, is not theirs to know of.
    state
        .store
        .alert(id)
        .await?
        .filter(|a| c.site(a.site_id).is_some() && alert::may_see(&c.actor, a))
        .ok_or(ConsoleError::NotFound(c.lang))?;
    let result = c
        .act(
            &state,
            OpBody::AlertAck(AlertAck {
                alert_id: id,
                note: f.note,
            }),
        )
        .await?;
    match Console::refusal(&result) {
        None => Ok(Redirect::to("/console/alerts").into_response()),
        Some(why) => {
            render(
                &state,
                &c,
                None,
                Some((id, why)),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}
