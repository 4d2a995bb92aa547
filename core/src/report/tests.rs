use jiff::civil::Time;

use super::*;
use crate::ids::{CheckpointId, IssueId, RunId};
use crate::issue::{Category, Severity, Source};
use crate::patrol::Missed;
use crate::route::Day;
use crate::sla::SlaHours;
use crate::team::Team;

fn tz(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

/// An instant given as local wall-clock time in `zone`.
fn local(s: &str, zone: &str) -> Timestamp {
    s.parse::<jiff::civil::DateTime>()
        .unwrap()
        .to_zoned(tz(zone))
        .unwrap()
        .timestamp()
}

fn site(zone: &str) -> Site {
    Site {
        id: SiteId::new(),
        code: "t".into(),
        name: "测试小区".into(),
        time_zone: zone.into(),
        public_key: String::new(),
        sla_hours: SlaHours::default(),
        routing: Default::default(),
        retention_days: 730,
    }
}

fn schedule(times: &[&str], days: &[Day]) -> Schedule {
    Schedule {
        times: times.iter().map(|t| t.parse::<Time>().unwrap()).collect(),
        days: days.to_vec(),
    }
}

fn issue(site: &Site, observed_at: Timestamp, reporter: UserId) -> Issue {
    let due_at = crate::sla::due_at(
        observed_at,
        Severity::Routine,
        &site.sla_hours,
        &site.tz().unwrap(),
    )
    .unwrap();
    Issue {
        id: IssueId::new(),
        site_id: site.id,
        zone_id: None,
        checkpoint_id: None,
        visit_id: None,
        category: Category::Facility,
        severity: Severity::Routine,
        team: Team::Engineering,
        title: "楼梯灯不亮".into(),
        note: None,
        photos: vec![],
        source: Source::Patrol,
        observed_at,
        due_at,
        status: Status::Open,
        reported_by: reporter,
        assignee_id: None,
        resolved_by: None,
        verified_by: None,
        fixed_on_spot: false,
        extension: None,
        escalations: vec![],
        follow_up: None,
    }
}

/// One step of a trail: what, by whom, when, and the status it leaves.
fn entry(
    issue: &Issue,
    kind: AuditKind,
    who: Option<UserId>,
    at: Timestamp,
    to: Status,
) -> AuditEntry {
    AuditEntry::new(issue.id, kind, who, at, None, to)
}

/// The trail of a job reported, fixed by `fixer` and accepted at `closed`; the issue as it ends.
fn closed_job(
    site: &Site,
    observed: Timestamp,
    closed: Timestamp,
    fixer: UserId,
) -> (Issue, Vec<AuditEntry>) {
    let reporter = UserId::new();
    let mut i = issue(site, observed, reporter);
    let boss = UserId::new();
    let trail = vec![
        entry(
            &i,
            AuditKind::Report,
            Some(reporter),
            observed,
            Status::Open,
        ),
        entry(
            &i,
            AuditKind::Resolve,
            Some(fixer),
            closed,
            Status::Resolved,
        ),
        {
            let mut v = entry(&i, AuditKind::Verify, Some(boss), closed, Status::Closed);
            v.accepted = Some(true);
            v
        },
    ];
    i.status = Status::Closed;
    i.resolved_by = Some(fixer);
    i.verified_by = Some(boss);
    (i, trail)
}

#[test]
fn a_month_is_written_yyyy_mm_and_nothing_else() {
    let m: Month = "2026-11".parse().unwrap();
    assert_eq!((m.year(), m.month()), (2026, 11));
    assert_eq!(m.to_string(), "2026-11");
    assert_eq!(serde_json::to_value(m).unwrap(), "2026-11");
    assert_eq!(
        serde_json::from_value::<Month>("0001-01".into()).unwrap(),
        Month::new(1, 1).unwrap()
    );
    for bad in [
        "2026-13",
        "2026-00",
        "2026-1",
        "26-11",
        "2026-11-01",
        "2026/11",
        "0000-05",
        "２０２６-11",
        "2026-1x",
        "",
        "-2026-1",
    ] {
        let err = bad.parse::<Month>().unwrap_err();
        assert_eq!(err.code(), "bad_month", "{bad}");
        assert!(err.to_string().contains("YYYY-MM"), "{err}");
    }
    assert!(serde_json::from_value::<Month>("2026-13".into()).is_err());
    assert_eq!(m.next().unwrap().to_string(), "2026-12");
    assert_eq!(m.next().unwrap().next().unwrap().to_string(), "2027-01");
    assert_eq!(
        Month::new(2027, 1).unwrap().prev().unwrap().to_string(),
        "2026-12"
    );
    assert!(Month::new(9999, 12).unwrap().next().is_none());
    assert!(Month::new(1, 1).unwrap().prev().is_none());
}

#[test]
fn a_month_runs_from_local_midnight_to_local_midnight() {
    let m: Month = "2026-11".parse().unwrap();
    let (from, to) = m.range(&tz("Asia/Shanghai")).unwrap();
    assert_eq!(from.to_string(), "2026-10-31T16:00:00Z");
    assert_eq!(to.to_string(), "2026-11-30T16:00:00Z");
    // 00:30 on the 1st of December in Shanghai is still November in UTC, and December here.
    let just_after = "2026-11-30T16:30:00Z".parse::<Timestamp>().unwrap();
    assert_eq!(
        Month::of(just_after, &tz("Asia/Shanghai")).to_string(),
        "2026-12"
    );
    assert_eq!(Month::of(just_after, &TimeZone::UTC).to_string(), "2026-11");
    // March in New York loses an hour to daylight saving time.
    let (from, to) = "2026-03"
        .parse::<Month>()
        .unwrap()
        .range(&tz("America/New_York"))
        .unwrap();
    assert_eq!(
        from.duration_until(to),
        SignedDuration::from_hours(31 * 24 - 1)
    );
    // The year 9999 has no month after December to end it.
    assert_eq!(
        Month::new(9999, 12).unwrap().range(&TimeZone::UTC),
        Err(TimeError::OutOfRange)
    );
}

#[test]
fn a_month_that_has_not_begun_cannot_be_reported_and_one_under_way_can() {
    let shanghai = tz("Asia/Shanghai");
    let now = local("2026-11-30T23:59", "Asia/Shanghai");
    let nov: Month = "2026-11".parse().unwrap();
    let dec = nov.next().unwrap();
    assert_eq!(nov.check_reportable(&shanghai, now), Ok(()));
    let err = dec.check_reportable(&shanghai, now).unwrap_err();
    assert_eq!(err.code(), "future_month");
    assert!(err.to_string().contains("2026-12"), "{err}");
    assert!(!nov.is_over(&shanghai, now).unwrap());
    let midnight = local("2026-12-01T00:00", "Asia/Shanghai");
    assert!(nov.is_over(&shanghai, midnight).unwrap());
    assert_eq!(dec.check_reportable(&shanghai, midnight), Ok(()));
    assert!(nov.prev().unwrap().is_over(&shanghai, now).unwrap());
}

#[test]
fn a_round_is_late_more_than_half_an_hour_after_its_scheduled_time() {
    let zone = "Asia/Shanghai";
    let s = schedule(&["08:30", "14:30", "20:30"], &[]);
    let at = |t: &str| local(&format!("2026-11-20T{t}"), zone);
    let judge = |t: &str| punctuality(&s, at(t), &tz(zone));
    assert_eq!(
        judge("08:59"),
        Punctuality::OnTime {
            scheduled: at("08:30")
        }
    );
    assert_eq!(
        judge("09:00"),
        Punctuality::OnTime {
            scheduled: at("08:30")
        },
        "exactly the grace is still on time"
    );
    assert_eq!(
        judge("09:01"),
        Punctuality::Late {
            scheduled: at("08:30"),
            by: SignedDuration::from_mins(31)
        }
    );
    assert_eq!(
        judge("08:05"),
        Punctuality::OnTime {
            scheduled: at("08:30")
        },
        "a little early is on time"
    );
    assert_eq!(
        judge("07:30"),
        Punctuality::Early {
            scheduled: at("08:30"),
            by: SignedDuration::from_hours(1)
        }
    );
    // Midway between two rounds it is held to the earlier one: 3 h late, not 3 h early.
    assert_eq!(
        judge("11:30"),
        Punctuality::Late {
            scheduled: at("08:30"),
            by: SignedDuration::from_hours(3)
        }
    );
    assert_eq!(judge("13:00").scheduled(), Some(at("14:30")));
    assert_eq!(judge("13:00").on_time(), Some(false));
}

#[test]
fn the_nearest_scheduled_time_may_be_on_the_day_before_and_only_on_days_the_route_runs() {
    let zone = "Asia/Shanghai";
    let late_night = schedule(&["23:30"], &[]);
    let started = local("2026-11-21T00:10", zone);
    assert_eq!(
        punctuality(&late_night, started, &tz(zone)),
        Punctuality::Late {
            scheduled: local("2026-11-20T23:30", zone),
            by: SignedDuration::from_mins(40)
        }
    );
    // 2026-11-21 is a Saturday; a weekday route has nothing then but Friday's and Monday's.
    let weekdays = schedule(
        &["09:00"],
        &[Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri],
    );
    assert_eq!(
        punctuality(&weekdays, local("2026-11-21T09:00", zone), &tz(zone)),
        Punctuality::Late {
            scheduled: local("2026-11-20T09:00", zone),
            by: SignedDuration::from_hours(24)
        }
    );
    assert_eq!(
        punctuality(&weekdays, local("2026-11-22T09:00", zone), &tz(zone)),
        Punctuality::Early {
            scheduled: local("2026-11-23T09:00", zone),
            by: SignedDuration::from_hours(24)
        }
    );
    let only_mondays = schedule(&["09:00"], &[Day::Mon]);
    assert_eq!(
        punctuality(&only_mondays, local("2026-11-19T09:00", zone), &tz(zone)),
        Punctuality::Unscheduled
    );
    assert_eq!(
        punctuality(&schedule(&[], &[]), started, &tz(zone)).on_time(),
        None
    );
}

#[test]
fn a_scheduled_time_is_wall_clock_time_across_daylight_saving() {
    // New York springs forward on 2026-03-08: 09:00 that day is 13:00 UTC, not 14:00.
    let zone = "America/New_York";
    let s = schedule(&["09:00"], &[]);
    let started = "2026-03-08T13:20:00Z".parse::<Timestamp>().unwrap();
    assert_eq!(
        punctuality(&s, started, &tz(zone)),
        Punctuality::OnTime {
            scheduled: local("2026-03-08T09:00", zone)
        }
    );
    // A round at 02:30 does not exist that day; it starts at 03:30, the first instant after.
    let gap = schedule(&["02:30"], &[]);
    let started = local("2026-03-08T03:40", zone);
    assert_eq!(
        punctuality(&gap, started, &tz(zone)).scheduled(),
        Some("2026-03-08T07:30:00Z".parse().unwrap())
    );
}

#[test]
fn a_job_closed_in_71_hours_is_late_where_the_clocks_went_forward() {
    // New York springs forward on 2026-03-08: three days from 10:00 on the 6th are 71 real
    // hours. Closed at 71 h it is in time; a minute later it is not, though under 72 h.
    let s = site("America/New_York");
    let zone = s.tz().unwrap();
    let observed = local("2026-03-06T10:00", "America/New_York");
    let now = observed + SignedDuration::from_hours(24 * 30);
    let fixer = UserId::new();
    let (i, trail) = closed_job(
        &s,
        observed,
        observed + SignedDuration::from_hours(71),
        fixer,
    );
    let line = issue_line(i, &trail, &s, &zone, now).unwrap();
    assert_eq!(line.sla_due, observed + SignedDuration::from_hours(71));
    assert_eq!(line.within_sla, Some(true));
    let (i, trail) = closed_job(
        &s,
        observed,
        observed + SignedDuration::from_mins(71 * 60 + 1),
        fixer,
    );
    let line = issue_line(i, &trail, &s, &zone, now).unwrap();
    assert_eq!(line.within_sla, Some(false));
    assert_eq!(
        line.closed_at,
        Some(observed + SignedDuration::from_mins(71 * 60 + 1))
    );
}

#[test]
fn a_job_closed_in_73_hours_is_in_time_where_the_clocks_went_back() {
    // London falls back on 2026-10-25: three days from 09:00 on the 23rd are 73 real hours.
    let s = site("Europe/London");
    let zone = s.tz().unwrap();
    let observed = local("2026-10-23T09:00", "Europe/London");
    let now = observed + SignedDuration::from_hours(24 * 30);
    let fixer = UserId::new();
    let (i, trail) = closed_job(
        &s,
        observed,
        observed + SignedDuration::from_hours(73),
        fixer,
    );
    let line = issue_line(i, &trail, &s, &zone, now).unwrap();
    assert_eq!(line.within_sla, Some(true), "73 h are the three days here");
    let (i, trail) = closed_job(
        &s,
        observed,
        observed + SignedDuration::from_mins(73 * 60 + 1),
        fixer,
    );
    let late = issue_line(i, &trail, &s, &zone, now).unwrap();
    assert_eq!(late.within_sla, Some(false));
    // The figure counts to the person whose fix was accepted, in time only.
    let figures = people(&[fixer], &[], &[line, late]);
    assert_eq!(figures[0].jobs_closed_in_time, 1);
}

#[test]
fn an_open_job_is_undecided_until_its_three_days_are_over() {
    let s = site("Asia/Shanghai");
    let zone = s.tz().unwrap();
    let observed = local("2026-11-20T10:00", "Asia/Shanghai");
    let open = issue(&s, observed, UserId::new());
    let trail = [entry(
        &open,
        AuditKind::Report,
        Some(open.reported_by),
        observed,
        Status::Open,
    )];
    let at = |h| observed + SignedDuration::from_hours(h);
    let line = issue_line(open.clone(), &trail, &s, &zone, at(71)).unwrap();
    assert_eq!((line.within_sla, line.closed_at), (None, None));
    let line = issue_line(open, &trail, &s, &zone, at(73)).unwrap();
    assert_eq!(line.within_sla, Some(false), "overdue and still open");
}

#[test]
fn a_rejected_fix_counts_to_whoever_made_it_not_to_who_fixed_it_last() {
    let s = site("Asia/Shanghai");
    let zone = s.tz().unwrap();
    let observed = local("2026-11-20T10:00", "Asia/Shanghai");
    let (patroller, first, second, boss) =
        (UserId::new(), UserId::new(), UserId::new(), UserId::new());
    let mut i = issue(&s, observed, patroller);
    let at = |h| observed + SignedDuration::from_hours(h);
    let verify = |accepted: bool, h, to| {
        let mut v = entry(&i, AuditKind::Verify, Some(boss), at(h), to);
        v.accepted = Some(accepted);
        v
    };
    let trail = vec![
        entry(&i, AuditKind::Report, Some(patroller), at(0), Status::Open),
        entry(&i, AuditKind::Assign, Some(boss), at(1), Status::Assigned),
        entry(&i, AuditKind::Start, Some(first), at(2), Status::InProgress),
        entry(&i, AuditKind::Resolve, Some(first), at(5), Status::Resolved),
        verify(false, 6, Status::InProgress),
        entry(
            &i,
            AuditKind::Resolve,
            Some(second),
            at(20),
            Status::Resolved,
        ),
        verify(true, 30, Status::Closed),
    ];
    i.status = Status::Closed;
    i.resolved_by = Some(second);
    i.verified_by = Some(boss);
    let line = issue_line(i, &trail, &s, &zone, at(100)).unwrap();
    assert_eq!(line.resolved_at, Some(at(20)));
    assert_eq!(line.verified_at, Some(at(30)));
    assert_eq!(line.closed_at, Some(at(30)));
    assert_eq!(line.within_sla, Some(true));
    assert_eq!(
        line.rejections,
        [Rejection {
            at: at(6),
            verifier: Some(boss),
            resolver: Some(first)
        }]
    );
    let figures = people(&[patroller, first, second, boss], &[], &[line]);
    let of = |u| *figures.iter().find(|f| f.user_id == u).unwrap();
    assert_eq!(
        (of(first).fixes_rejected, of(first).jobs_closed_in_time),
        (1, 0)
    );
    assert_eq!(
        (of(second).fixes_rejected, of(second).jobs_closed_in_time),
        (0, 1)
    );
    assert_eq!(of(patroller).findings, 1);
    assert_eq!(of(boss).findings + of(boss).fixes_rejected, 0);
}

#[test]
fn escalations_extensions_and_a_fix_on_the_spot_come_from_the_trail() {
    let s = site("Asia/Shanghai");
    let zone = s.tz().unwrap();
    let observed = local("2026-11-20T10:00", "Asia/Shanghai");
    let at = |h| observed + SignedDuration::from_hours(h);
    let (tech, manager) = (UserId::new(), UserId::new());
    let i = issue(&s, observed, UserId::new());
    let mut ask = entry(
        &i,
        AuditKind::RequestExtension,
        Some(tech),
        at(40),
        Status::InProgress,
    );
    ask.note = Some("等配件".into());
    ask.due_after = Some(at(120));
    let mut decide = entry(
        &i,
        AuditKind::DecideExtension,
        Some(manager),
        at(41),
        Status::InProgress,
    );
    decide.accepted = Some(true);
    let mut overdue = entry(&i, AuditKind::Escalate, None, at(73), Status::InProgress);
    overdue.escalation = Some(EscalationReason::Overdue);
    let line = issue_line(i, &[ask, decide, overdue], &s, &zone, at(80)).unwrap();
    assert_eq!(line.escalations, [(EscalationReason::Overdue, at(73))]);
    assert_eq!(
        line.extensions,
        [Extension {
            requested_at: at(40),
            requested_by: Some(tech),
            reason: Some("等配件".into()),
            due_asked: Some(at(120)),
            decided_at: Some(at(41)),
            approved: Some(true),
        }]
    );
    assert_eq!(
        line.within_sla,
        Some(false),
        "an extension does not make three days longer"
    );

    let reporter = UserId::new();
    let mut spot = issue(&s, observed, reporter);
    spot.fixed_on_spot = true;
    spot.status = Status::Closed;
    spot.resolved_by = Some(reporter);
    let trail = [entry(
        &spot,
        AuditKind::Report,
        Some(reporter),
        observed,
        Status::Closed,
    )];
    let line = issue_line(spot, &trail, &s, &zone, at(1)).unwrap();
    assert_eq!(
        (line.closed_at, line.resolved_at),
        (Some(observed), Some(observed))
    );
    assert_eq!(line.within_sla, Some(true));
    let figures = people(&[], &[], &[line]);
    assert_eq!(
        (figures[0].findings, figures[0].jobs_closed_in_time),
        (1, 1),
        "found and fixed by the same person"
    );
}

#[test]
fn the_month_is_judged_round_by_round_and_person_by_person() {
    let s = site("Asia/Shanghai");
    let route = Route {
        id: RouteId::new(),
        site_id: s.id,
        name: "1栋巡查".into(),
        checkpoint_ids: vec![CheckpointId::new(), CheckpointId::new()],
        schedule: schedule(&["09:00"], &[]),
        min_walk_secs: 20,
        min_round_secs: 0,
    };
    let (walker, idle) = (UserId::new(), UserId::new());
    let run = |start: &str, finished: bool, missed: usize| PatrolRun {
        id: RunId::new(),
        site_id: s.id,
        route_id: route.id,
        patroller_id: walker,
        started_at: local(start, "Asia/Shanghai"),
        finished_at: finished
            .then(|| local(start, "Asia/Shanghai") + SignedDuration::from_mins(40)),
        missed: route.checkpoint_ids[..missed]
            .iter()
            .map(|c| Missed {
                checkpoint_id: *c,
                reason: "门锁坏".into(),
            })
            .collect(),
        flags: vec![],
    };
    let on_time = run("2026-11-03T09:10", true, 1);
    let late = run("2026-11-04T10:00", true, 2);
    let unfinished = run("2026-11-05T09:00", false, 0);
    let visit = crate::patrol::Visit {
        id: crate::ids::VisitId::new(),
        run_id: on_time.id,
        checkpoint_id: route.checkpoint_ids[1],
        method: crate::patrol::VisitMethod::Qr,
        token: None,
        reason: None,
        at: on_time.started_at,
        flags: vec![],
    };
    let records = Records {
        runs: vec![on_time.clone(), late.clone(), unfinished],
        visits: vec![visit],
        results: vec![],
        issues: vec![],
    };
    let routes = HashMap::from([(route.id, route.clone())]);
    let month = "2026-11".parse().unwrap();
    let now = local("2026-12-01T08:00", "Asia/Shanghai");
    let report = build(&s, month, records, &routes, &[idle, walker], now).unwrap();
    assert_eq!(report.rounds.len(), 3);
    assert_eq!(report.rounds[0].punctuality.on_time(), Some(true));
    assert_eq!(report.rounds[0].visits, 1);
    assert_eq!(
        report.rounds[1].punctuality,
        Punctuality::Late {
            scheduled: local("2026-11-04T09:00", "Asia/Shanghai"),
            by: SignedDuration::from_hours(1)
        }
    );
    assert_eq!(
        report.people.iter().map(|p| p.user_id).collect::<Vec<_>>(),
        [idle, walker],
        "the site's people in order, the idle too"
    );
    let w = report.people[1];
    assert_eq!(
        (w.rounds_done, w.rounds_on_time, w.checkpoints_missed),
        (2, 1, 3),
        "an unfinished round is not done"
    );
    assert_eq!(report.people[0].rounds_done, 0);
    // A round whose route is gone is judged by nothing.
    let orphan = Records {
        runs: vec![on_time],
        ..Records::default()
    };
    let report = build(&s, month, orphan, &HashMap::new(), &[], now).unwrap();
    assert_eq!(report.rounds[0].punctuality, Punctuality::Unscheduled);
    assert_eq!(report.people[0].rounds_on_time, 0);
}

#[test]
fn reports_are_for_supervisors_managers_and_admins_of_the_site() {
    let own = SiteId::new();
    let actor = |role| Actor {
        user_id: UserId::new(),
        role,
        team: None,
        site_ids: vec![own],
    };
    for role in [Role::Supervisor, Role::Manager, Role::Admin] {
        assert_eq!(may_read(&actor(role), own), Ok(()));
        assert_eq!(
            may_read(&actor(role), SiteId::new()),
            Err(ReportAccess::OtherSite)
        );
    }
    for role in [Role::Patrol, Role::Technician] {
        assert_eq!(
            may_read(&actor(role), own),
            Err(ReportAccess::RoleNotAllowed)
        );
        assert_eq!(
            may_read(&actor(role), SiteId::new()),
            Err(ReportAccess::RoleNotAllowed)
        );
    }
    assert!(ReportAccess::RoleNotAllowed.to_string().starts_with("只有"));
}
