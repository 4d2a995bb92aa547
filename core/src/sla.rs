//! The resolution clock: when an issue is due, and what that means now (DESIGN.md §3).
//!
//! Whole days of an SLA are calendar days in the site's time zone, so a problem seen at 10:00
//! is due at 10:00 three days later even across a daylight-saving change; the rest are elapsed
//! hours (an urgent issue's 4 h are 4 real hours).

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Span, Timestamp};
use serde::{Deserialize, Serialize};

use crate::issue::{EscalationReason, Issue, Severity};

/// Resolution time by severity, in hours.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaHours {
    /// Routine problems: three days (004 §4.8.2).
    pub routine: u32,
    /// Major problems: three days, the manager told at once.
    pub major: u32,
    /// Urgent problems: security told at once.
    pub urgent: u32,
}

impl Default for SlaHours {
    fn default() -> Self {
        SlaHours {
            routine: 72,
            major: 72,
            urgent: 4,
        }
    }
}

impl SlaHours {
    /// Hours allowed for a severity.
    pub fn hours(&self, severity: Severity) -> u32 {
        match severity {
            Severity::Routine => self.routine,
            Severity::Major => self.major,
            Severity::Urgent => self.urgent,
        }
    }
}

/// How long before the due time an issue counts as due soon.
pub const DUE_SOON: SignedDuration = SignedDuration::from_hours(24);

/// When an issue seen at `observed_at` must be resolved by.
pub fn due_at(
    observed_at: Timestamp,
    severity: Severity,
    sla: &SlaHours,
    tz: &TimeZone,
) -> Result<Timestamp, crate::time::TimeError> {
    let hours = sla.hours(severity);
    let span = Span::new()
        .days(i64::from(hours / 24))
        .hours(i64::from(hours % 24));
    observed_at
        .to_zoned(tz.clone())
        .checked_add(span)
        .map(|z| z.timestamp())
        .map_err(|_| crate::time::TimeError::OutOfRange)
}

/// Where an active issue stands against its due time.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaState {
    /// More than a day left.
    OnTrack,
    /// Less than a day left.
    DueSoon,
    /// Past due.
    Overdue,
}

/// The SLA state of a due time at `now`.
pub fn state(due_at: Timestamp, now: Timestamp) -> SlaState {
    let left = now.duration_until(due_at);
    if left <= SignedDuration::ZERO {
        SlaState::Overdue
    } else if left < DUE_SOON {
        SlaState::DueSoon
    } else {
        SlaState::OnTrack
    }
}

/// The SLA state of an issue at `now`; `None` once it is closed.
pub fn issue_state(issue: &Issue, now: Timestamp) -> Option<SlaState> {
    issue.status.is_active().then(|| state(issue.due_at, now))
}

/// Escalations an issue should have by `now` and does not have yet, in the order they fire.
pub fn escalations_due(issue: &Issue, now: Timestamp) -> Vec<EscalationReason> {
    if !issue.status.is_active() || issue.fixed_on_spot {
        return Vec::new();
    }
    let mut due = Vec::new();
    match issue.severity {
        Severity::Urgent => due.push(EscalationReason::Urgent),
        Severity::Major => due.push(EscalationReason::Major),
        Severity::Routine => {}
    }
    if state(issue.due_at, now) == SlaState::Overdue {
        due.push(EscalationReason::Overdue);
    }
    due.retain(|r| !issue.escalations.contains(r));
    due
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    fn tz(name: &str) -> TimeZone {
        TimeZone::get(name).unwrap()
    }

    fn due(local: &str, zone: &str, severity: Severity, sla: &SlaHours) -> jiff::Zoned {
        let observed = local
            .parse::<jiff::civil::DateTime>()
            .unwrap()
            .to_zoned(tz(zone))
            .unwrap();
        due_at(observed.timestamp(), severity, sla, &tz(zone))
            .unwrap()
            .to_zoned(tz(zone))
    }

    #[test]
    fn a_report_at_half_past_eleven_is_due_three_local_days_later() {
        let d = due(
            "2026-11-22T23:30",
            "Asia/Shanghai",
            Severity::Routine,
            &SlaHours::default(),
        );
        assert_eq!(d.datetime(), date(2026, 11, 25).at(23, 30, 0, 0));
        // In UTC that is still the 25th at 15:30: the local date is what staff see.
        assert_eq!(d.timestamp().to_string(), "2026-11-25T15:30:00Z");
        let major = due(
            "2026-11-22T23:30",
            "Asia/Shanghai",
            Severity::Major,
            &SlaHours::default(),
        );
        assert_eq!(major, d);
        let urgent = due(
            "2026-11-22T23:30",
            "Asia/Shanghai",
            Severity::Urgent,
            &SlaHours::default(),
        );
        assert_eq!(urgent.datetime(), date(2026, 11, 23).at(3, 30, 0, 0));
    }

    #[test]
    fn three_days_keep_the_wall_clock_across_daylight_saving() {
        let sla = SlaHours::default();
        // New York springs forward on 2026-03-08: three days are 71 real hours.
        let d = due(
            "2026-03-06T10:00",
            "America/New_York",
            Severity::Routine,
            &sla,
        );
        assert_eq!(d.datetime(), date(2026, 3, 9).at(10, 0, 0, 0));
        assert_eq!(d.offset().seconds(), -4 * 3600);
        let observed = "2026-03-06T10:00-05:00".parse::<Timestamp>().unwrap();
        assert_eq!(
            observed.duration_until(d.timestamp()),
            SignedDuration::from_hours(71)
        );
        // London falls back on 2026-10-25: three days are 73 real hours.
        let d = due("2026-10-23T09:00", "Europe/London", Severity::Routine, &sla);
        assert_eq!(d.datetime(), date(2026, 10, 26).at(9, 0, 0, 0));
        let observed = "2026-10-23T09:00+01:00".parse::<Timestamp>().unwrap();
        assert_eq!(
            observed.duration_until(d.timestamp()),
            SignedDuration::from_hours(73)
        );
    }

    #[test]
    fn a_due_time_in_the_spring_gap_moves_forward_not_back() {
        // 02:30 on 2026-03-08 does not exist in New York; the due time is the first real
        // instant after the gap's wall-clock time, never earlier than three days.
        let d = due(
            "2026-03-05T02:30",
            "America/New_York",
            Severity::Routine,
            &SlaHours::default(),
        );
        assert_eq!(d.datetime(), date(2026, 3, 8).at(3, 30, 0, 0));
    }

    #[test]
    fn urgent_hours_are_real_hours_even_overnight_into_dst() {
        let d = due(
            "2026-03-08T00:30",
            "America/New_York",
            Severity::Urgent,
            &SlaHours::default(),
        );
        assert_eq!(d.datetime(), date(2026, 3, 8).at(5, 30, 0, 0));
    }

    #[test]
    fn a_site_sets_its_own_hours() {
        let sla = SlaHours {
            routine: 30,
            major: 48,
            urgent: 1,
        };
        let d = due("2026-11-22T10:00", "Asia/Shanghai", Severity::Routine, &sla);
        assert_eq!(d.datetime(), date(2026, 11, 23).at(16, 0, 0, 0));
        let d = due("2026-11-22T10:00", "Asia/Shanghai", Severity::Major, &sla);
        assert_eq!(d.datetime(), date(2026, 11, 24).at(10, 0, 0, 0));
        let json = serde_json::to_value(sla).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"routine": 30, "major": 48, "urgent": 1})
        );
    }

    #[test]
    fn due_soon_and_overdue_come_from_now() {
        let due: Timestamp = "2026-11-25T15:30:00Z".parse().unwrap();
        let at = |h: i64| due - SignedDuration::from_hours(h);
        assert_eq!(state(due, at(48)), SlaState::OnTrack);
        assert_eq!(state(due, at(24)), SlaState::OnTrack);
        assert_eq!(state(due, at(23)), SlaState::DueSoon);
        assert_eq!(
            state(due, due - SignedDuration::from_secs(1)),
            SlaState::DueSoon
        );
        assert_eq!(state(due, due), SlaState::Overdue);
        assert_eq!(state(due, at(-5)), SlaState::Overdue);
    }

    #[test]
    fn an_unknown_zone_is_an_error_not_utc() {
        let site = crate::site::Site {
            id: crate::ids::SiteId::new(),
            code: "x".into(),
            name: "x".into(),
            time_zone: "Mars/Olympus_Mons".into(),
            public_key: String::new(),
            sla_hours: SlaHours::default(),
            routing: Default::default(),
            retention_days: 730,
        };
        let err = site.tz().unwrap_err();
        assert!(err.to_string().contains("Mars/Olympus_Mons"));
    }
}
