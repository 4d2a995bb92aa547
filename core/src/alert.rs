//! Alerts (DESIGN.md §11): server-side facts that need a person — an urgent issue (security at
//! once), a major one (the manager at once), an issue past its due time, a scheduled round not
//! started within its grace, a round finished with checkpoints missed or flagged (004 §4.8: 重大
//! 问题应立即上报，紧急情况立即通知). The rules here say when each is raised, who sees it and how it is
//! acknowledged; the server calls them with its clock and stores what they return, once each.
//!
//! Once each: every alert has a [`Alert::once_key`] — the kind with the issue, the route and the
//! scheduled instant, or the round — and the server keeps one alert per key, so a pass repeated,
//! run after a restart or by two processes at once raises nothing twice.
//!
//! A round is held to its slot exactly as the coverage page holds it ([`coverage::day`]): a slot
//! is missed when no round claimed it by the end of its grace ([`ROUND_GRACE`]: 08:30:00 is still
//! in time for 08:00, 08:30:01 is not), or when the round that claimed it started after the
//! grace. Either way the answer does not depend on when the server looked.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::bounds::{self, BoundError, Field};
use crate::coverage;
use crate::ids::{AlertId, IssueId, RouteId, RunId, SiteId, UserId};
use crate::issue::{Issue, Severity};
use crate::patrol::{PatrolRun, Visit};
use crate::report::{Punctuality, ROUND_GRACE};
use crate::route::Route;
use crate::sla::{self, SlaState};
use crate::team::Team;
use crate::text::Text;
use crate::time::TimeError;
use crate::user::{Actor, Role};

/// How far back a pass looks for missed rounds: a server that was down overnight still raises
/// the night's missed rounds when it comes back, and one started on a new route does not raise
/// the rounds of days before.
pub const MISSED_LOOKBACK: SignedDuration = SignedDuration::from_hours(12);

/// What an alert is about.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// An urgent issue was reported: security, at once.
    Urgent,
    /// A major issue was reported: the manager, at once.
    Major,
    /// An active issue is past its due time.
    Overdue,
    /// A scheduled round was not started within its grace.
    RoundMissed,
    /// A round finished with checkpoints missed or flagged.
    RoundIncomplete,
}

impl AlertKind {
    /// Every kind.
    pub const ALL: [AlertKind; 5] = [
        AlertKind::Urgent,
        AlertKind::Major,
        AlertKind::Overdue,
        AlertKind::RoundMissed,
        AlertKind::RoundIncomplete,
    ];

    /// The wire name (also the event name of DESIGN §11's channels).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Urgent => "urgent",
            AlertKind::Major => "major",
            AlertKind::Overdue => "overdue",
            AlertKind::RoundMissed => "round_missed",
            AlertKind::RoundIncomplete => "round_incomplete",
        }
    }

    /// The name for people.
    pub fn label(self) -> Text {
        match self {
            AlertKind::Urgent => Text::new("紧急问题", "Urgent issue"),
            AlertKind::Major => Text::new("重大问题", "Major issue"),
            AlertKind::Overdue => Text::new("问题逾期", "Issue overdue"),
            AlertKind::RoundMissed => Text::new("漏巡", "Round not started"),
            AlertKind::RoundIncomplete => Text::new("巡查不完整", "Round incomplete"),
        }
    }
}

impl std::str::FromStr for AlertKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AlertKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown alert kind `{s}`"))
    }
}

/// One alert, as stored and pulled (entity `alert`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Id, made when it is raised; stable for everything that follows (deliveries).
    pub id: AlertId,
    /// Site.
    pub site_id: SiteId,
    /// What it is about.
    pub kind: AlertKind,
    /// The issue, for `urgent`, `major` and `overdue`.
    #[serde(default)]
    pub issue_id: Option<IssueId>,
    /// The route, for `round_missed` and `round_incomplete`.
    #[serde(default)]
    pub route_id: Option<RouteId>,
    /// The round, for `round_incomplete`.
    #[serde(default)]
    pub run_id: Option<RunId>,
    /// The scheduled start, for `round_missed`.
    #[serde(default)]
    pub slot_at: Option<Timestamp>,
    /// The team concerned (an issue alert's issue team); none for round alerts.
    #[serde(default)]
    pub team: Option<Team>,
    /// When it was raised, by the server's clock.
    pub raised_at: Timestamp,
    /// Who acknowledged it.
    #[serde(default)]
    pub acked_by: Option<UserId>,
    /// When they did.
    #[serde(default)]
    pub acked_at: Option<Timestamp>,
    /// What they wrote: who attended, what was done.
    #[serde(default)]
    pub note: Option<String>,
    /// What it says, Chinese.
    pub text_zh: String,
    /// What it says, English.
    pub text_en: String,
}

impl Alert {
    fn new(kind: AlertKind, site_id: SiteId, raised_at: Timestamp, text: Text) -> Alert {
        Alert {
            id: AlertId::new(),
            site_id,
            kind,
            issue_id: None,
            route_id: None,
            run_id: None,
            slot_at: None,
            team: None,
            raised_at,
            acked_by: None,
            acked_at: None,
            note: None,
            text_zh: text.zh,
            text_en: text.en,
        }
    }

    fn of_issue(kind: AlertKind, issue: &Issue, now: Timestamp, text: Text) -> Alert {
        Alert {
            issue_id: Some(issue.id),
            team: Some(issue.team),
            ..Alert::new(kind, issue.site_id, now, text)
        }
    }

    /// What makes it the same alert however often it is raised: the kind with its issue, its
    /// route and scheduled instant, or its round.
    pub fn once_key(&self) -> String {
        let kind = self.kind.as_str();
        let or_id = |v: Option<String>| v.unwrap_or_else(|| format!("alert-{}", self.id));
        match self.kind {
            AlertKind::Urgent | AlertKind::Major | AlertKind::Overdue => {
                format!("{kind}:{}", or_id(self.issue_id.map(|i| i.to_string())))
            }
            AlertKind::RoundMissed => match self.route_id.zip(self.slot_at) {
                Some((route, slot)) => round_missed_key(route, slot),
                None => format!("{kind}:{}", or_id(None)),
            },
            AlertKind::RoundIncomplete => {
                format!("{kind}:{}", or_id(self.run_id.map(|r| r.to_string())))
            }
        }
    }

    /// Not acknowledged yet.
    pub fn is_open(&self) -> bool {
        self.acked_at.is_none()
    }

    /// What it says, both languages.
    pub fn text(&self) -> Text {
        Text::new(self.text_zh.clone(), self.text_en.clone())
    }
}

fn local(t: Timestamp, tz: &TimeZone, format: &str) -> String {
    t.to_zoned(tz.clone()).strftime(format).to_string()
}

/// The alert an issue raises the moment it is reported: `urgent` (security, at once) or `major`
/// (the manager, at once); none for a routine one or one fixed on the spot.
pub fn on_report(issue: &Issue, now: Timestamp) -> Option<Alert> {
    if !issue.status.is_active() || issue.fixed_on_spot {
        return None;
    }
    let what = issue.category.label();
    let (kind, text) = match issue.severity {
        Severity::Urgent => (
            AlertKind::Urgent,
            Text::new(
                format!("紧急问题，请保安队立即到场：{}（{}）", issue.title, what.zh),
                format!(
                    "Urgent issue, security to attend at once: {} ({})",
                    issue.title, what.en
                ),
            ),
        ),
        Severity::Major => (
            AlertKind::Major,
            Text::new(
                format!(
                    "重大问题，请管理处主任立即处理：{}（{}）",
                    issue.title, what.zh
                ),
                format!(
                    "Major issue for the manager at once: {} ({})",
                    issue.title, what.en
                ),
            ),
        ),
        Severity::Routine => return None,
    };
    Some(Alert::of_issue(kind, issue, now, text))
}

/// The `overdue` alert of an active issue past its due time at `now` (due times in `tz`).
pub fn overdue(issue: &Issue, tz: &TimeZone, now: Timestamp) -> Option<Alert> {
    if sla::issue_state(issue, now) != Some(SlaState::Overdue) {
        return None;
    }
    let due = local(issue.due_at, tz, "%Y-%m-%d %H:%M");
    let text = Text::new(
        format!("问题已逾期：{}（应于 {due} 前解决）", issue.title),
        format!("Issue overdue: {} (due {due})", issue.title),
    );
    Some(Alert::of_issue(AlertKind::Overdue, issue, now, text))
}

/// The rounds [`missed_rounds`] needs to judge `now` in `tz`: those started in this window.
pub fn missed_rounds_window(
    tz: &TimeZone,
    now: Timestamp,
) -> Result<(Timestamp, Timestamp), TimeError> {
    let today = now.to_zoned(tz.clone()).date();
    let yesterday = today.yesterday().map_err(|_| TimeError::OutOfRange)?;
    Ok((
        coverage::records_window(yesterday, tz)?.0,
        coverage::records_window(today, tz)?.1,
    ))
}

/// The `round_missed` alerts of a site at `now` in its zone `tz`: every scheduled round of
/// `routes` whose grace ended within [`MISSED_LOOKBACK`] before `now` and that no round started
/// within its grace. `runs` are the site's rounds started in [`missed_rounds_window`] (more are
/// ignored).
pub fn missed_rounds(
    tz: &TimeZone,
    routes: &[Route],
    runs: &[PatrolRun],
    now: Timestamp,
) -> Vec<Alert> {
    let today = now.to_zoned(tz.clone()).date();
    let days = [today.yesterday().ok(), Some(today)];
    let mut out = Vec::new();
    for date in days.into_iter().flatten() {
        for day in coverage::day(tz, date, routes, runs, &[], now) {
            let Some(route) = routes.iter().find(|r| r.id == day.route_id) else {
                continue;
            };
            for slot in &day.slots {
                let Ok(grace_end) = slot.scheduled.checked_add(ROUND_GRACE) else {
                    continue;
                };
                // A round started after the grace claims the slot on the coverage page (done
                // late); it was still not started in time.
                let missed = match &slot.round {
                    None => slot.state == coverage::SlotState::Missed,
                    Some(r) => matches!(r.punctuality, Punctuality::Late { .. }) && now > grace_end,
                };
                if !missed || grace_end.duration_until(now) > MISSED_LOOKBACK {
                    continue;
                }
                out.push(round_missed(route, slot.scheduled, tz, now));
            }
        }
    }
    out
}

fn round_missed(route: &Route, slot: Timestamp, tz: &TimeZone, now: Timestamp) -> Alert {
    let at = local(slot, tz, "%Y-%m-%d %H:%M");
    let mins = ROUND_GRACE.as_mins();
    let text = Text::new(
        format!("漏巡：{} {at} 的巡查未在 {mins} 分钟内开始", route.name),
        format!(
            "Round not started: {} due {at} was not started within {mins} minutes",
            route.name
        ),
    );
    Alert {
        route_id: Some(route.id),
        slot_at: Some(slot),
        ..Alert::new(AlertKind::RoundMissed, route.site_id, now, text)
    }
}

/// The once key of the `round_missed` alert of `route`'s round scheduled at `slot`.
pub fn round_missed_key(route: RouteId, slot: Timestamp) -> String {
    format!(
        "{}:{route}@{}",
        AlertKind::RoundMissed.as_str(),
        slot.as_millisecond()
    )
}

/// A `round_missed` alert answered by a round the server learnt of only after raising it: one
/// recorded offline that had in fact started within its grace (a phone out of signal syncs
/// late). The alert as that round answers it — acknowledged by the patroller at `at`, with a
/// note saying when the round started — or none when the round does not claim the alert's slot
/// on time, as the coverage page judges it.
pub fn answered_by_round(
    alert: &Alert,
    route: &Route,
    run: &PatrolRun,
    tz: &TimeZone,
    at: Timestamp,
) -> Option<Alert> {
    let slot_at = alert.slot_at?;
    if alert.kind != AlertKind::RoundMissed
        || !alert.is_open()
        || alert.route_id != Some(run.route_id)
        || route.id != run.route_id
    {
        return None;
    }
    let date = slot_at.to_zoned(tz.clone()).date();
    let day = coverage::day(
        tz,
        date,
        std::slice::from_ref(route),
        std::slice::from_ref(run),
        &[],
        at,
    );
    let claimed = day
        .iter()
        .flat_map(|d| &d.slots)
        .find(|s| s.scheduled == slot_at)?
        .round
        .as_ref()
        .filter(|r| r.run.id == run.id && !matches!(r.punctuality, Punctuality::Late { .. }))?;
    let started = local(claimed.run.started_at, tz, "%H:%M");
    Some(Alert {
        acked_by: Some(run.patroller_id),
        acked_at: Some(at),
        note: Some(format!(
            "巡查已于 {started} 按时开始（离线记录，稍后同步）/ the round started on time at {started} (recorded offline, synced later)"
        )),
        ..alert.clone()
    })
}

/// The `round_incomplete` alert of a round as it finishes (with the visits it made): raised when
/// it left checkpoints out or a visit or the round itself was flagged as implausible.
pub fn on_finish(
    run: &PatrolRun,
    route: &Route,
    visits: &[Visit],
    tz: &TimeZone,
    now: Timestamp,
) -> Option<Alert> {
    run.finished_at?;
    let missed = run.missed.len();
    let flagged = visits
        .iter()
        .filter(|v| v.run_id == run.id && !v.flags.is_empty())
        .count()
        + usize::from(!run.flags.is_empty());
    if missed == 0 && flagged == 0 {
        return None;
    }
    let at = local(run.started_at, tz, "%Y-%m-%d %H:%M");
    let text = Text::new(
        format!(
            "巡查不完整：{} {at} 开始的巡查漏巡 {missed} 个点，{flagged} 处存疑",
            route.name
        ),
        format!(
            "Round incomplete: {} started {at} left {missed} checkpoints out, {flagged} flagged",
            route.name
        ),
    );
    Some(Alert {
        route_id: Some(route.id),
        run_id: Some(run.id),
        ..Alert::new(AlertKind::RoundIncomplete, run.site_id, now, text)
    })
}

/// Whether a person sees an alert: supervisors, managers and admins of its site see all of
/// them; others the alerts of their team's issues, and the security team every urgent one.
pub fn may_see(actor: &Actor, alert: &Alert) -> bool {
    actor.works_on(alert.site_id)
        && match actor.role {
            Role::Supervisor | Role::Manager | Role::Admin => true,
            Role::Patrol | Role::Technician => actor.team.is_some_and(|t| {
                alert.team == Some(t) || (t == Team::Security && alert.kind == AlertKind::Urgent)
            }),
        }
}

/// Why an acknowledgement is refused. Shown to staff: Chinese, then English.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertError {
    /// No such alert, or one the person may not see.
    #[error("找不到该提醒 / unknown alert")]
    UnknownAlert,
    /// Someone acknowledged it already; a second acknowledgement would overwrite their note.
    #[error("该提醒已有人确认处理 / this alert was already acknowledged")]
    AlreadyAcked,
    /// An acknowledgement says who attended and what was done.
    #[error("请填写处理说明（谁到场、做了什么）/ write a note: who attended and what was done")]
    NoteRequired,
    /// A limit of DESIGN §7 was passed.
    #[error(transparent)]
    Bound(#[from] BoundError),
}

impl AlertError {
    /// The machine-readable code, the same on the phone and on the server.
    pub fn code(&self) -> &'static str {
        match self {
            AlertError::UnknownAlert => "unknown_alert",
            AlertError::AlreadyAcked => "already_acked",
            AlertError::NoteRequired => "note_required",
            AlertError::Bound(e) => e.code(),
        }
    }
}

/// `actor` acknowledges `alert` at `at` with a note: the alert as it is then. Anyone who sees
/// an alert may acknowledge it, once.
pub fn ack(
    actor: &Actor,
    alert: &Alert,
    note: Option<&str>,
    at: Timestamp,
) -> Result<Alert, AlertError> {
    if !may_see(actor, alert) {
        return Err(AlertError::UnknownAlert);
    }
    if !alert.is_open() {
        return Err(AlertError::AlreadyAcked);
    }
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    let Some(note) = note else {
        return Err(AlertError::NoteRequired);
    };
    bounds::check_len(Field::Note, note, bounds::MAX_TEXT_CHARS)?;
    Ok(Alert {
        acked_by: Some(actor.user_id),
        acked_at: Some(at),
        note: Some(note.to_owned()),
        ..alert.clone()
    })
}

#[cfg(test)]
mod tests;
