//! The monthly report of a site (DESIGN.md §7–8; 004 §4.9–4.10): the month's patrol archive, its
//! issues with their times, and the figures per person that staff reviews read. Everything here
//! is arithmetic on records already stored — which instants a month holds in the site's time
//! zone, whether a round started at its route's scheduled time, whether a job closed within its
//! three days (core's SLA), and whom each figure counts to — and who may read a report. The
//! server queries the records and writes the files.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::audit::{AuditEntry, AuditKind};
use crate::ids::{RouteId, SiteId, UserId};
use crate::issue::{EscalationReason, Issue, Status};
use crate::patrol::{ItemResult, PatrolRun, Visit};
use crate::route::{Route, Schedule};
use crate::site::Site;
use crate::time::TimeError;
use crate::user::{Actor, Role};

/// How far from its scheduled time a round may start and still be on time (DESIGN §11: a
/// round not started within 30 minutes is an alert).
pub const ROUND_GRACE: SignedDuration = SignedDuration::from_mins(30);

/// A calendar month in a site's time zone, written `YYYY-MM` (reports and archives are kept by
/// month, 004 §4.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i16,
    month: i8,
}

/// Why a month cannot be reported. Shown to people: Chinese, then English.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MonthError {
    /// Not `YYYY-MM`, or no such month.
    #[error(
        "月份格式应为 YYYY-MM，例如 2026-11（收到「{given}」）/ the month must be YYYY-MM, e.g. 2026-11 (got `{given}`)"
    )]
    Malformed {
        /// What was given (at most a few characters of it).
        given: String,
    },
    /// The month has not begun in the site's time zone.
    #[error("{month} 还没有开始 / {month} has not begun yet")]
    InFuture {
        /// The month asked for.
        month: Month,
    },
    /// Its instants cannot be computed (an unknown zone, a year at the end of time).
    #[error(transparent)]
    Time(#[from] TimeError),
}

impl MonthError {
    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            MonthError::Malformed { .. } => "bad_month",
            MonthError::InFuture { .. } => "future_month",
            MonthError::Time(e) => e.code(),
        }
    }
}

impl Month {
    /// The month `month` (1–12) of `year` (1–9999).
    pub fn new(year: i16, month: i8) -> Option<Month> {
        ((1..=9999).contains(&year) && (1..=12).contains(&month)).then_some(Month { year, month })
    }

    /// The year.
    pub fn year(self) -> i16 {
        self.year
    }

    /// The month of the year, 1–12.
    pub fn month(self) -> i8 {
        self.month
    }

    /// The month an instant falls in, in `tz`.
    pub fn of(t: Timestamp, tz: &TimeZone) -> Month {
        let d = t.to_zoned(tz.clone()).date();
        Month {
            year: d.year(),
            month: d.month(),
        }
    }

    /// The month after this one.
    pub fn next(self) -> Option<Month> {
        if self.month == 12 {
            Month::new(self.year.checked_add(1)?, 1)
        } else {
            Month::new(self.year, self.month + 1)
        }
    }

    /// The month before this one.
    pub fn prev(self) -> Option<Month> {
        if self.month == 1 {
            Month::new(self.year.checked_sub(1)?, 12)
        } else {
            Month::new(self.year, self.month - 1)
        }
    }

    fn first_day(self) -> Result<Date, TimeError> {
        Date::new(self.year, self.month, 1).map_err(|_| TimeError::OutOfRange)
    }

    /// The first instant of the month in `tz` (midnight of the 1st; where a change of clocks
    /// skips midnight, the first instant after the gap).
    pub fn start(self, tz: &TimeZone) -> Result<Timestamp, TimeError> {
        self.first_day()?
            .at(0, 0, 0, 0)
            .to_zoned(tz.clone())
            .map(|z| z.timestamp())
            .map_err(|_| TimeError::OutOfRange)
    }

    /// The instants of the month in `tz`: from its start to the next month's start.
    pub fn range(self, tz: &TimeZone) -> Result<(Timestamp, Timestamp), TimeError> {
        let end = self.next().ok_or(TimeError::OutOfRange)?.start(tz)?;
        Ok((self.start(tz)?, end))
    }

    /// Whether a report of this month can be made at `now`: it has begun in `tz` (the month under
    /// way is reported as far as it goes).
    pub fn check_reportable(self, tz: &TimeZone, now: Timestamp) -> Result<(), MonthError> {
        if self.start(tz)? > now {
            return Err(MonthError::InFuture { month: self });
        }
        Ok(())
    }

    /// Whether the month is over at `now` in `tz`, so that its archive can be written.
    pub fn is_over(self, tz: &TimeZone, now: Timestamp) -> Result<bool, TimeError> {
        Ok(self.range(tz)?.1 <= now)
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for Month {
    type Err = MonthError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let malformed = || MonthError::Malformed {
            given: s.chars().take(16).collect(),
        };
        let b = s.as_bytes();
        let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
        if b.len() != 7 || b[4] != b'-' || !digits(0..4) || !digits(5..7) {
            return Err(malformed());
        }
        let year = s[..4].parse().map_err(|_| malformed())?;
        let month = s[5..].parse().map_err(|_| malformed())?;
        Month::new(year, month).ok_or_else(malformed)
    }
}

impl Serialize for Month {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Why a person may not read a site's report. Shown to people: Chinese, then English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReportAccess {
    /// Patrol staff and technicians do not read reports.
    #[error(
        "只有物业助理、管理处主任和管理员可以查看报表 / only supervisors, managers and admins read reports"
    )]
    RoleNotAllowed,
    /// The site is not one of theirs: for them it does not exist.
    #[error("找不到该小区 / no such site")]
    OtherSite,
}

/// Whether `actor` may read the reports and archive of `site`: supervisors, managers and admins
/// of that site.
pub fn may_read(actor: &Actor, site: SiteId) -> Result<(), ReportAccess> {
    if !matches!(actor.role, Role::Supervisor | Role::Manager | Role::Admin) {
        return Err(ReportAccess::RoleNotAllowed);
    }
    if !actor.works_on(site) {
        return Err(ReportAccess::OtherSite);
    }
    Ok(())
}

/// How a round's start stands against its route's schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Punctuality {
    /// Started within [`ROUND_GRACE`] of its scheduled time.
    OnTime {
        /// The scheduled start.
        scheduled: Timestamp,
    },
    /// Started more than the grace before its scheduled time.
    Early {
        /// The scheduled start.
        scheduled: Timestamp,
        /// How much earlier.
        by: SignedDuration,
    },
    /// Started more than the grace after its scheduled time.
    Late {
        /// The scheduled start.
        scheduled: Timestamp,
        /// How much later.
        by: SignedDuration,
    },
    /// The route has no scheduled time on the days around the start.
    Unscheduled,
}

impl Punctuality {
    /// The scheduled start the round was held to, if any.
    pub fn scheduled(self) -> Option<Timestamp> {
        match self {
            Punctuality::OnTime { scheduled }
            | Punctuality::Early { scheduled, .. }
            | Punctuality::Late { scheduled, .. } => Some(scheduled),
            Punctuality::Unscheduled => None,
        }
    }

    /// On time: `Some(true)`; early or late: `Some(false)`; no schedule to judge by: `None`.
    pub fn on_time(self) -> Option<bool> {
        match self {
            Punctuality::OnTime { .. } => Some(true),
            Punctuality::Early { .. } | Punctuality::Late { .. } => Some(false),
            Punctuality::Unscheduled => None,
        }
    }
}

/// A round started at `started` held to the scheduled time nearest to it (the day before, the
/// day itself and the day after, in `tz`, on the days the route runs); on a tie, the earlier.
pub fn punctuality(schedule: &Schedule, started: Timestamp, tz: &TimeZone) -> Punctuality {
    let day = started.to_zoned(tz.clone()).date();
    let days = [day.yesterday().ok(), Some(day), day.tomorrow().ok()];
    let off = |slot: Timestamp| started.duration_since(slot).abs();
    let mut nearest: Option<Timestamp> = None;
    for d in days.into_iter().flatten() {
        // Earliest first, so that a tie keeps the earlier.
        for slot in schedule.slots(d, tz) {
            if nearest.is_none_or(|n| off(slot) < off(n)) {
                nearest = Some(slot);
            }
        }
    }
    let Some(scheduled) = nearest else {
        return Punctuality::Unscheduled;
    };
    let after = started.duration_since(scheduled);
    if after > ROUND_GRACE {
        Punctuality::Late {
            scheduled,
            by: after,
        }
    } else if -after > ROUND_GRACE {
        Punctuality::Early {
            scheduled,
            by: -after,
        }
    } else {
        Punctuality::OnTime { scheduled }
    }
}

/// A round of the month, judged.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundLine {
    /// The round as walked.
    pub run: PatrolRun,
    /// Its start against its route's schedule (`Unscheduled` when the route is unknown).
    pub punctuality: Punctuality,
    /// Checkpoint visits recorded in it.
    pub visits: u32,
}

/// An extension asked for, with its outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Extension {
    /// When it was asked for.
    pub requested_at: Timestamp,
    /// Who asked.
    pub requested_by: Option<UserId>,
    /// Why.
    pub reason: Option<String>,
    /// The due time asked for.
    pub due_asked: Option<Timestamp>,
    /// When the manager decided; `None` while waiting.
    pub decided_at: Option<Timestamp>,
    /// Approved or denied; `None` while waiting.
    pub approved: Option<bool>,
}

/// A fix rejected on site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejection {
    /// When.
    pub at: Timestamp,
    /// Who rejected it.
    pub verifier: Option<UserId>,
    /// Who had made the fix (the last resolution before it): the figure counts to them.
    pub resolver: Option<UserId>,
}

/// An issue of the month with the times its audit trail gives.
#[derive(Debug, Clone, PartialEq)]
pub struct IssueLine {
    /// The issue as it is now.
    pub issue: Issue,
    /// When the fix was last reported done (for a fix on the spot, when it was reported).
    pub resolved_at: Option<Timestamp>,
    /// When the fix was accepted on site.
    pub verified_at: Option<Timestamp>,
    /// When it was closed.
    pub closed_at: Option<Timestamp>,
    /// The end of its time from when it was found (three days, or its severity's hours),
    /// before any extension.
    pub sla_due: Timestamp,
    /// Closed by `sla_due`: `None` while still open with time left.
    pub within_sla: Option<bool>,
    /// Escalations, with when each was made.
    pub escalations: Vec<(EscalationReason, Timestamp)>,
    /// Extensions asked for.
    pub extensions: Vec<Extension>,
    /// Fixes rejected on site.
    pub rejections: Vec<Rejection>,
}

/// What the audit trail of `issue` (oldest first) says of its times, judged at `now` against
/// the site's SLA in its time zone.
pub fn issue_line(
    issue: Issue,
    audit: &[AuditEntry],
    site: &Site,
    tz: &TimeZone,
    now: Timestamp,
) -> Result<IssueLine, TimeError> {
    let sla_due = crate::sla::due_at(issue.observed_at, issue.severity, &site.sla_hours, tz)?;
    let mut line = IssueLine {
        resolved_at: None,
        verified_at: None,
        closed_at: None,
        sla_due,
        within_sla: None,
        escalations: Vec::new(),
        extensions: Vec::new(),
        rejections: Vec::new(),
        issue,
    };
    let mut resolver = None;
    for a in audit {
        match a.kind {
            AuditKind::Resolve => {
                line.resolved_at = Some(a.at);
                resolver = a.actor_id;
            }
            AuditKind::Verify if a.accepted == Some(true) => line.verified_at = Some(a.at),
            AuditKind::Verify => line.rejections.push(Rejection {
                at: a.at,
                verifier: a.actor_id,
                resolver,
            }),
            AuditKind::Escalate => {
                if let Some(reason) = a.escalation {
                    line.escalations.push((reason, a.at));
                }
            }
            AuditKind::RequestExtension => line.extensions.push(Extension {
                requested_at: a.at,
                requested_by: a.actor_id,
                reason: a.note.clone(),
                due_asked: a.due_after,
                decided_at: None,
                approved: None,
            }),
            AuditKind::DecideExtension => {
                if let Some(waiting) = line
                    .extensions
                    .iter_mut()
                    .rev()
                    .find(|e| e.decided_at.is_none())
                {
                    waiting.decided_at = Some(a.at);
                    waiting.approved = a.accepted;
                }
            }
            AuditKind::Report
            | AuditKind::Assign
            | AuditKind::Start
            | AuditKind::Comment
            | AuditKind::FollowUp => {}
        }
        if a.to_status == Status::Closed && a.from_status != Some(Status::Closed) {
            line.closed_at = Some(a.at);
        }
    }
    if line.issue.status != Status::Closed {
        line.closed_at = None;
    } else if line.closed_at.is_none() {
        // A closed issue whose trail does not say when (never written so): the report's time.
        line.closed_at = Some(line.issue.observed_at);
    }
    if line.issue.fixed_on_spot && line.resolved_at.is_none() {
        line.resolved_at = line.closed_at;
    }
    line.within_sla = match line.closed_at {
        Some(closed) => Some(closed <= sla_due),
        None => (now > sla_due).then_some(false),
    };
    Ok(line)
}

/// The figures of one person for the month (004 §4.10: they feed staff reviews).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersonFigures {
    /// Who.
    pub user_id: UserId,
    /// Rounds they walked to the end.
    pub rounds_done: u32,
    /// Of those, started on time for their route's schedule.
    pub rounds_on_time: u32,
    /// Checkpoints left out of those rounds.
    pub checkpoints_missed: u32,
    /// Problems they reported (found on patrol or taken at the desk).
    pub findings: u32,
    /// Jobs closed within their three days, counted to who made the accepted fix.
    pub jobs_closed_in_time: u32,
    /// Their fixes rejected on site.
    pub fixes_rejected: u32,
    /// Residents they called back about their reports (回访).
    pub calls_back: u32,
}

/// Figures by person, in the order people were first named.
struct Tally {
    figures: Vec<PersonFigures>,
    index: HashMap<UserId, usize>,
}

impl Tally {
    fn of(&mut self, user_id: UserId) -> &mut PersonFigures {
        let i = *self.index.entry(user_id).or_insert_with(|| {
            self.figures.push(PersonFigures {
                user_id,
                rounds_done: 0,
                rounds_on_time: 0,
                checkpoints_missed: 0,
                findings: 0,
                jobs_closed_in_time: 0,
                fixes_rejected: 0,
                calls_back: 0,
            });
            self.figures.len() - 1
        });
        &mut self.figures[i]
    }
}

/// The figures of each person: everyone in `staff` in that order (those who did nothing show
/// zeros), then anyone else the records name, in the order they appear.
pub fn people(staff: &[UserId], rounds: &[RoundLine], issues: &[IssueLine]) -> Vec<PersonFigures> {
    let mut t = Tally {
        figures: Vec::new(),
        index: HashMap::new(),
    };
    for u in staff {
        t.of(*u);
    }
    for r in rounds.iter().filter(|r| r.run.finished_at.is_some()) {
        let f = t.of(r.run.patroller_id);
        f.rounds_done += 1;
        f.rounds_on_time += u32::from(r.punctuality.on_time() == Some(true));
        f.checkpoints_missed += u32::try_from(r.run.missed.len()).unwrap_or(u32::MAX);
    }
    for line in issues {
        t.of(line.issue.reported_by).findings += 1;
        if line.within_sla == Some(true)
            && let Some(fixer) = line.issue.resolved_by
        {
            t.of(fixer).jobs_closed_in_time += 1;
        }
        for fixer in line.rejections.iter().filter_map(|r| r.resolver) {
            t.of(fixer).fixes_rejected += 1;
        }
        if let Some(call) = &line.issue.follow_up {
            t.of(call.by).calls_back += 1;
        }
    }
    t.figures
}

/// A month's records as the store holds them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Records {
    /// Rounds started in the month, in the order they started.
    pub runs: Vec<PatrolRun>,
    /// Their visits, in the order they were made.
    pub visits: Vec<Visit>,
    /// The answers given at those visits.
    pub results: Vec<ItemResult>,
    /// Issues found in the month, each with its audit trail (oldest first).
    pub issues: Vec<(Issue, Vec<AuditEntry>)>,
}

/// A site's month, judged: what the report's sheets show.
#[derive(Debug, Clone, PartialEq)]
pub struct MonthReport {
    /// The month.
    pub month: Month,
    /// Its rounds.
    pub rounds: Vec<RoundLine>,
    /// Their visits.
    pub visits: Vec<Visit>,
    /// Their answers.
    pub results: Vec<ItemResult>,
    /// Its issues.
    pub issues: Vec<IssueLine>,
    /// The figures per person.
    pub people: Vec<PersonFigures>,
}

/// Judge a site's month at `now`: each round against its route's schedule (`routes`), each
/// issue against the site's SLA, and the figures of `staff` and anyone else the records name.
pub fn build(
    site: &Site,
    month: Month,
    records: Records,
    routes: &HashMap<RouteId, Route>,
    staff: &[UserId],
    now: Timestamp,
) -> Result<MonthReport, TimeError> {
    let tz = site.tz()?;
    let mut visits_of: HashMap<_, u32> = HashMap::new();
    for v in &records.visits {
        *visits_of.entry(v.run_id).or_default() += 1;
    }
    let rounds: Vec<RoundLine> = records
        .runs
        .into_iter()
        .map(|run| RoundLine {
            punctuality: routes
                .get(&run.route_id)
                .map_or(Punctuality::Unscheduled, |r| {
                    punctuality(&r.schedule, run.started_at, &tz)
                }),
            visits: visits_of.get(&run.id).copied().unwrap_or(0),
            run,
        })
        .collect();
    let issues = records
        .issues
        .into_iter()
        .map(|(issue, audit)| issue_line(issue, &audit, site, &tz, now))
        .collect::<Result<Vec<_>, _>>()?;
    let people = people(staff, &rounds, &issues);
    Ok(MonthReport {
        month,
        rounds,
        visits: records.visits,
        results: records.results,
        issues,
        people,
    })
}

#[cfg(test)]
mod tests;
