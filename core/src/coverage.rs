//! Patrol coverage of a site's day (DESIGN.md §8, §10; 004 §4): each route's scheduled rounds —
//! done on time, early or late, under way, not started yet, missed —, the rounds walked besides
//! them, and every checkpoint of the route visited, missed (with the reasons given) or flagged
//! (with the plausibility flags); and for a month, the checkpoints most often left out, so that a
//! supervisor sees which routes are unrealistic. Arithmetic on stored records only.
//!
//! A round is held to a scheduled time exactly as the monthly report holds it
//! ([`report::punctuality`]: the nearest scheduled time on the day before, the day itself or the
//! day after, the earlier on a tie; on time within [`ROUND_GRACE`]), so the page and the report
//! never disagree about a round. On that:
//!
//! - A round **claims** the slot it is held to when that slot is at most [`MAX_SLOT_DISTANCE`]
//!   from its start; the round then belongs to the slot's day, even when it started just across
//!   midnight. A round farther from every slot was not meant for any of them: it is an extra
//!   round of the day it started.
//! - When several rounds claim one slot, the first started keeps it and the others are extra
//!   rounds of that day.
//! - A slot no round claimed is **missed** once its grace is over, and **not started yet**
//!   before.

use std::collections::{HashMap, HashSet};

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::ids::{CheckpointId, RouteId, RunId};
use crate::patrol::{PatrolRun, Visit};
use crate::plausibility::ScanFlag;
use crate::report::{self, Month, Punctuality, ROUND_GRACE};
use crate::route::Route;
use crate::text::Text;
use crate::time::TimeError;

/// The farthest a round's start may be from a scheduled time and still be that slot's round.
pub const MAX_SLOT_DISTANCE: SignedDuration = SignedDuration::from_hours(12);

/// Why a date cannot be shown. Shown to people: Chinese, then English.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// Not `YYYY-MM-DD`, or no such day.
    #[error(
        "日期格式应为 YYYY-MM-DD，例如 2026-11-22（收到「{given}」）/ the date must be YYYY-MM-DD, e.g. 2026-11-22 (got `{given}`)"
    )]
    Malformed {
        /// What was given (at most a few characters of it).
        given: String,
    },
}

/// A local date written `YYYY-MM-DD` and nothing else.
pub fn parse_date(s: &str) -> Result<Date, DateError> {
    let malformed = || DateError::Malformed {
        given: s.chars().take(16).collect(),
    };
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !digits(0..4) || !digits(5..7) {
        return Err(malformed());
    }
    if !digits(8..10) {
        return Err(malformed());
    }
    let year = s[..4].parse().map_err(|_| malformed())?;
    let month = s[5..7].parse().map_err(|_| malformed())?;
    let day = s[8..].parse().map_err(|_| malformed())?;
    if year == 0 {
        return Err(malformed());
    }
    Date::new(year, month, day).map_err(|_| malformed())
}

/// The instants of a local date in `tz`: from its first instant to the next day's (23 or 25
/// hours where the clocks change).
pub fn day_range(date: Date, tz: &TimeZone) -> Result<(Timestamp, Timestamp), TimeError> {
    let start = |d: Date| {
        tz.to_zoned(d.to_datetime(jiff::civil::Time::midnight()))
            .map(|z| z.timestamp())
            .map_err(|_| TimeError::OutOfRange)
    };
    let next = date.tomorrow().map_err(|_| TimeError::OutOfRange)?;
    Ok((start(date)?, start(next)?))
}

/// The instants whose rounds can belong to a local date: from the day before to the day after,
/// since a round is held to a slot at most a day away. What [`day`] needs of the records.
pub fn records_window(date: Date, tz: &TimeZone) -> Result<(Timestamp, Timestamp), TimeError> {
    let before = date.yesterday().map_err(|_| TimeError::OutOfRange)?;
    let after = date.tomorrow().map_err(|_| TimeError::OutOfRange)?;
    Ok((day_range(before, tz)?.0, day_range(after, tz)?.1))
}

/// Where a scheduled round stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotState {
    /// Walked to the end, started within the grace.
    OnTime,
    /// Walked to the end, started more than the grace before its time.
    Early,
    /// Walked to the end, started more than the grace after its time.
    Late,
    /// Started and not finished yet.
    UnderWay,
    /// Not started, and its grace is not over.
    NotStarted,
    /// Not started, and its grace is over.
    Missed,
}

impl SlotState {
    /// The words for people.
    pub fn label(self) -> Text {
        match self {
            SlotState::OnTime => Text::new("按时完成", "done on time"),
            SlotState::Early => Text::new("提前完成", "done early"),
            SlotState::Late => Text::new("迟到完成", "done late"),
            SlotState::UnderWay => Text::new("进行中", "under way"),
            SlotState::NotStarted => Text::new("未开始", "not started yet"),
            SlotState::Missed => Text::new("漏巡", "missed"),
        }
    }

    /// A short machine name (also the page's style class).
    pub fn as_str(self) -> &'static str {
        match self {
            SlotState::OnTime => "on_time",
            SlotState::Early => "early",
            SlotState::Late => "late",
            SlotState::UnderWay => "under_way",
            SlotState::NotStarted => "not_started",
            SlotState::Missed => "missed",
        }
    }
}

/// A round of the day with what it covered.
#[derive(Debug, Clone, PartialEq)]
pub struct DayRound {
    /// The round as walked.
    pub run: PatrolRun,
    /// Its start against the schedule, as the monthly report judges it.
    pub punctuality: Punctuality,
    /// Checkpoints of the route it visited.
    pub visited: u32,
    /// Checkpoints it left out with a reason.
    pub missed: u32,
}

/// One scheduled round of the day.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    /// When it is due.
    pub scheduled: Timestamp,
    /// Where it stands.
    pub state: SlotState,
    /// The round that claimed it.
    pub round: Option<DayRound>,
}

/// A visit to a checkpoint on the day.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointVisit {
    /// The visit (how, when, why by hand, its flags).
    pub visit: Visit,
    /// Its round.
    pub run_id: RunId,
}

/// A checkpoint left out of a round, with the reason given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointMiss {
    /// The round.
    pub run_id: RunId,
    /// Why.
    pub reason: String,
}

/// What the day's rounds did at one checkpoint of the route.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointDay {
    /// The checkpoint.
    pub checkpoint_id: CheckpointId,
    /// Its visits, in the order they were made.
    pub visits: Vec<CheckpointVisit>,
    /// The rounds that left it out.
    pub missed: Vec<CheckpointMiss>,
}

/// How a checkpoint stands on the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointState {
    /// Visited, and no visit flagged.
    Visited,
    /// Visited, and a visit was flagged as implausible.
    Flagged,
    /// Visited by some rounds and left out of others.
    PartlyMissed,
    /// Left out of every round that finished, none visiting it.
    Missed,
    /// No round has been there (none finished, or none walked).
    NotYet,
}

impl CheckpointState {
    /// The words for people.
    pub fn label(self) -> Text {
        match self {
            CheckpointState::Visited => Text::new("已巡", "visited"),
            CheckpointState::Flagged => Text::new("存疑", "flagged"),
            CheckpointState::PartlyMissed => Text::new("部分漏巡", "missed by some rounds"),
            CheckpointState::Missed => Text::new("漏巡", "missed"),
            CheckpointState::NotYet => Text::new("未巡", "not visited"),
        }
    }
}

impl CheckpointDay {
    /// Flagged first (a doubtful visit matters most), then missed by some rounds, visited,
    /// missed, not visited.
    pub fn state(&self) -> CheckpointState {
        if self.visits.iter().any(|v| !v.visit.flags.is_empty()) {
            CheckpointState::Flagged
        } else if !self.visits.is_empty() && !self.missed.is_empty() {
            CheckpointState::PartlyMissed
        } else if !self.visits.is_empty() {
            CheckpointState::Visited
        } else if !self.missed.is_empty() {
            CheckpointState::Missed
        } else {
            CheckpointState::NotYet
        }
    }

    /// Every plausibility flag raised at its visits.
    pub fn flags(&self) -> impl Iterator<Item = &ScanFlag> {
        self.visits.iter().flat_map(|v| v.visit.flags.iter())
    }
}

/// One route's day.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteDay {
    /// The route.
    pub route_id: RouteId,
    /// Whether the route is walked on this day at all.
    pub scheduled_today: bool,
    /// Its scheduled rounds, earliest first.
    pub slots: Vec<Slot>,
    /// Rounds walked besides them, in the order they started.
    pub extra: Vec<DayRound>,
    /// Its checkpoints in walking order.
    pub checkpoints: Vec<CheckpointDay>,
}

impl RouteDay {
    /// Every round of the day, scheduled or not, in the order they started.
    pub fn rounds(&self) -> Vec<&DayRound> {
        let mut all: Vec<&DayRound> = self
            .slots
            .iter()
            .filter_map(|s| s.round.as_ref())
            .chain(&self.extra)
            .collect();
        all.sort_by_key(|r| (r.run.started_at, r.run.id));
        all
    }
}

/// The slot a round is held to, if it is near enough to claim it.
fn claimed_slot(p: Punctuality, started: Timestamp) -> Option<Timestamp> {
    p.scheduled()
        .filter(|s| started.duration_since(*s).abs() <= MAX_SLOT_DISTANCE)
}

/// Whether the grace of a round due at `scheduled` is over at `now`.
fn past_grace(scheduled: Timestamp, now: Timestamp) -> bool {
    scheduled
        .checked_add(ROUND_GRACE)
        .is_ok_and(|end| now > end)
}

fn local_date(t: Timestamp, tz: &TimeZone) -> Date {
    t.to_zoned(tz.clone()).date()
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The coverage of each route on a local date in `tz` at `now`. `runs` are the site's rounds
/// started in [`records_window`] of the date (others are ignored), `visits` theirs.
pub fn day(
    tz: &TimeZone,
    date: Date,
    routes: &[Route],
    runs: &[PatrolRun],
    visits: &[Visit],
    now: Timestamp,
) -> Vec<RouteDay> {
    let mut visits_of: HashMap<RunId, Vec<&Visit>> = HashMap::new();
    for v in visits {
        visits_of.entry(v.run_id).or_default().push(v);
    }
    routes
        .iter()
        .map(|route| route_day(tz, date, route, runs, &visits_of, now))
        .collect()
}

fn route_day(
    tz: &TimeZone,
    date: Date,
    route: &Route,
    runs: &[PatrolRun],
    visits_of: &HashMap<RunId, Vec<&Visit>>,
    now: Timestamp,
) -> RouteDay {
    let on_route: HashSet<CheckpointId> = route.checkpoint_ids.iter().copied().collect();
    let judged = |run: &PatrolRun, p: Punctuality| {
        let visited: HashSet<CheckpointId> = visits_of
            .get(&run.id)
            .into_iter()
            .flatten()
            .map(|v| v.checkpoint_id)
            .filter(|c| on_route.contains(c))
            .collect();
        DayRound {
            run: run.clone(),
            punctuality: p,
            visited: count(visited.len()),
            missed: count(run.missed.len()),
        }
    };
    let mut mine: Vec<&PatrolRun> = runs.iter().filter(|r| r.route_id == route.id).collect();
    mine.sort_by_key(|r| (r.started_at, r.id));
    let times = route.schedule.slots(date, tz);
    let mut slots: Vec<Slot> = times
        .iter()
        .map(|t| Slot {
            scheduled: *t,
            state: SlotState::NotStarted,
            round: None,
        })
        .collect();
    let mut extra = Vec::new();
    for run in mine {
        let p = report::punctuality(&route.schedule, run.started_at, tz);
        match claimed_slot(p, run.started_at) {
            Some(s) if local_date(s, tz) == date => {
                match slots.iter_mut().find(|x| x.scheduled == s) {
                    Some(slot) if slot.round.is_none() => slot.round = Some(judged(run, p)),
                    _ => extra.push(judged(run, p)),
                }
            }
            // Another day's slot: that day's round.
            Some(_) => {}
            None if local_date(run.started_at, tz) == date => extra.push(judged(run, p)),
            None => {}
        }
    }
    for slot in &mut slots {
        slot.state = match &slot.round {
            Some(r) if r.run.finished_at.is_none() => SlotState::UnderWay,
            Some(r) => match r.punctuality {
                Punctuality::Early { .. } => SlotState::Early,
                Punctuality::Late { .. } => SlotState::Late,
                Punctuality::OnTime { .. } | Punctuality::Unscheduled => SlotState::OnTime,
            },
            None if past_grace(slot.scheduled, now) => SlotState::Missed,
            None => SlotState::NotStarted,
        };
    }
    let mut day = RouteDay {
        route_id: route.id,
        scheduled_today: !times.is_empty(),
        slots,
        extra,
        checkpoints: route
            .checkpoint_ids
            .iter()
            .map(|c| CheckpointDay {
                checkpoint_id: *c,
                visits: Vec::new(),
                missed: Vec::new(),
            })
            .collect(),
    };
    let rounds: Vec<(RunId, Vec<crate::patrol::Missed>)> = day
        .rounds()
        .into_iter()
        .map(|r| (r.run.id, r.run.missed.clone()))
        .collect();
    for (run_id, missed) in rounds {
        for cp in &mut day.checkpoints {
            cp.visits.extend(
                visits_of
                    .get(&run_id)
                    .into_iter()
                    .flatten()
                    .filter(|v| v.checkpoint_id == cp.checkpoint_id)
                    .map(|v| CheckpointVisit {
                        visit: (*v).clone(),
                        run_id,
                    }),
            );
            cp.missed.extend(
                missed
                    .iter()
                    .filter(|m| m.checkpoint_id == cp.checkpoint_id)
                    .map(|m| CheckpointMiss {
                        run_id,
                        reason: m.reason.clone(),
                    }),
            );
        }
    }
    for cp in &mut day.checkpoints {
        cp.visits.sort_by_key(|v| (v.visit.at, v.visit.id));
    }
    day
}

/// How often a checkpoint was left out over a month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissedCount {
    /// The checkpoint.
    pub checkpoint_id: CheckpointId,
    /// Finished rounds that did not visit it.
    pub missed: u32,
    /// Finished rounds of routes it is on: those that should have visited it.
    pub rounds: u32,
    /// The reasons given, each with how often, most given first.
    pub reasons: Vec<(String, u32)>,
}

impl MissedCount {
    /// The share of rounds that left it out, in per cent (0–100, rounded down).
    pub fn percent(&self) -> u32 {
        if self.rounds == 0 {
            0
        } else {
            let p = u64::from(self.missed) * 100 / u64::from(self.rounds);
            u32::try_from(p).unwrap_or(100)
        }
    }
}

/// The `top` checkpoints most often left out of the finished rounds in `runs` (a month's), most
/// missed first; on equal counts the higher share, then the checkpoint id. A round counts for
/// every checkpoint of its route as the route is now; one that did not visit a checkpoint missed
/// it, with the reason given if any. Checkpoints never missed are not listed; rounds of routes
/// no longer known are not counted.
pub fn most_missed(
    routes: &[Route],
    runs: &[PatrolRun],
    visits: &[Visit],
    top: usize,
) -> Vec<MissedCount> {
    let routes: HashMap<RouteId, &Route> = routes.iter().map(|r| (r.id, r)).collect();
    let mut visited: HashMap<RunId, HashSet<CheckpointId>> = HashMap::new();
    for v in visits {
        visited.entry(v.run_id).or_default().insert(v.checkpoint_id);
    }
    let mut counts: HashMap<CheckpointId, MissedCount> = HashMap::new();
    let mut reasons: HashMap<CheckpointId, Vec<(String, u32)>> = HashMap::new();
    for run in runs.iter().filter(|r| r.finished_at.is_some()) {
        let Some(route) = routes.get(&run.route_id) else {
            continue;
        };
        let seen = visited.get(&run.id);
        for cp in &route.checkpoint_ids {
            let c = counts.entry(*cp).or_insert_with(|| MissedCount {
                checkpoint_id: *cp,
                missed: 0,
                rounds: 0,
                reasons: Vec::new(),
            });
            c.rounds += 1;
            if seen.is_some_and(|s| s.contains(cp)) {
                continue;
            }
            c.missed += 1;
            if let Some(m) = run.missed.iter().find(|m| m.checkpoint_id == *cp) {
                let list = reasons.entry(*cp).or_default();
                match list.iter_mut().find(|(r, _)| *r == m.reason) {
                    Some((_, n)) => *n += 1,
                    None => list.push((m.reason.clone(), 1)),
                }
            }
        }
    }
    let mut out: Vec<MissedCount> = counts
        .into_values()
        .filter(|c| c.missed > 0)
        .map(|mut c| {
            let mut r = reasons.remove(&c.checkpoint_id).unwrap_or_default();
            // Stable: equal counts keep the order they were first given in.
            r.sort_by_key(|b| std::cmp::Reverse(b.1));
            c.reasons = r;
            c
        })
        .collect();
    out.sort_by(|a, b| {
        b.missed
            .cmp(&a.missed)
            .then_with(|| {
                (u64::from(b.missed) * u64::from(a.rounds))
                    .cmp(&(u64::from(a.missed) * u64::from(b.rounds)))
            })
            .then_with(|| a.checkpoint_id.cmp(&b.checkpoint_id))
    });
    out.truncate(top);
    out
}

/// The instants of the month a date falls in, up to `now` if it is under way.
pub fn month_so_far(
    date: Date,
    tz: &TimeZone,
    now: Timestamp,
) -> Result<(Month, Timestamp, Timestamp), TimeError> {
    let month = Month::new(date.year(), date.month()).ok_or(TimeError::OutOfRange)?;
    let (from, to) = month.range(tz)?;
    Ok((month, from, to.min(now.max(from))))
}

#[cfg(test)]
mod tests;
