use jiff::civil::Time;

use super::*;
use crate::ids::{CheckpointId, VisitId};
use crate::issue::{Category, Source, Status};
use crate::patrol::{Missed, VisitMethod};
use crate::plausibility::ScanFlag;
use crate::route::{Day, Schedule};

const SH: &str = "Asia/Shanghai";
const NY: &str = "America/New_York";

fn tz(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

/// An instant given as local wall-clock time in `zone`.
fn at(s: &str, zone: &str) -> Timestamp {
    s.parse::<jiff::civil::DateTime>()
        .unwrap()
        .to_zoned(tz(zone))
        .unwrap()
        .timestamp()
}

fn route(site: SiteId, times: &[&str], days: &[Day]) -> Route {
    Route {
        id: RouteId::new(),
        site_id: site,
        name: "5栋巡查".into(),
        checkpoint_ids: (0..3).map(|_| CheckpointId::new()).collect(),
        schedule: Schedule {
            times: times.iter().map(|t| t.parse::<Time>().unwrap()).collect(),
            days: days.to_vec(),
        },
        min_walk_secs: 30,
        min_round_secs: 0,
    }
}

fn run(route: &Route, start: Timestamp) -> PatrolRun {
    PatrolRun {
        id: RunId::new(),
        site_id: route.site_id,
        route_id: route.id,
        patroller_id: UserId::new(),
        started_at: start,
        finished_at: None,
        missed: Vec::new(),
        flags: Vec::new(),
    }
}

fn missed_at(zone: &str, routes: &[Route], runs: &[PatrolRun], now: &str) -> Vec<Alert> {
    missed_rounds(&tz(zone), routes, runs, at(now, zone))
}

#[test]
fn a_round_not_started_is_missed_one_second_after_its_grace_in_shanghai() {
    let r = route(SiteId::new(), &["08:00"], &[]);
    let routes = [r.clone()];
    assert!(missed_at(SH, &routes, &[], "2026-12-01T08:29:59").is_empty());
    assert!(
        missed_at(SH, &routes, &[], "2026-12-01T08:30:00").is_empty(),
        "08:30:00 is still within the grace"
    );
    let raised = missed_at(SH, &routes, &[], "2026-12-01T08:30:01");
    assert_eq!(raised.len(), 1);
    let a = &raised[0];
    assert_eq!(a.kind, AlertKind::RoundMissed);
    assert_eq!(a.site_id, r.site_id);
    assert_eq!(a.route_id, Some(r.id));
    assert_eq!(a.slot_at, Some(at("2026-12-01T08:00:00", SH)));
    assert_eq!(a.raised_at, at("2026-12-01T08:30:01", SH));
    assert_eq!(a.issue_id, None);
    assert!(a.is_open());
    assert!(a.text_zh.contains("2026-12-01 08:00"), "{}", a.text_zh);
    assert!(a.text_en.contains("30 minutes"), "{}", a.text_en);
}

#[test]
fn a_missed_round_is_the_same_alert_however_often_and_whenever_it_is_judged() {
    let r = route(SiteId::new(), &["08:00", "14:00"], &[]);
    let routes = [r];
    let keys = |now: &str| -> Vec<String> {
        missed_at(SH, &routes, &[], now)
            .iter()
            .map(Alert::once_key)
            .collect()
    };
    let first = keys("2026-12-01T08:31:00");
    assert_eq!(first.len(), 1);
    // Judged again a minute later, or by another process: the same key, another id.
    assert_eq!(keys("2026-12-01T08:32:00"), first);
    let again = missed_at(SH, &routes, &[], "2026-12-01T08:31:00");
    assert_ne!(
        again[0].id,
        missed_at(SH, &routes, &[], "2026-12-01T08:31:00")[0].id
    );
    // Later in the day the afternoon round joins it; the morning one keeps its key.
    let evening = keys("2026-12-01T14:31:00");
    assert_eq!(evening.len(), 2);
    assert!(evening.contains(&first[0]));
}

#[test]
fn a_round_started_late_but_within_its_grace_raises_nothing() {
    let r = route(SiteId::new(), &["08:00"], &[]);
    for start in ["2026-12-01T08:25:00", "2026-12-01T08:30:00"] {
        let walked = run(&r, at(start, SH));
        let routes = [r.clone()];
        assert!(
            missed_at(SH, &routes, &[walked], "2026-12-01T09:00:00").is_empty(),
            "started {start}"
        );
    }
    // Started early (more than the grace before): started, so not missed either.
    let early = run(&r, at("2026-12-01T07:20:00", SH));
    assert!(missed_at(SH, &[r], &[early], "2026-12-01T09:00:00").is_empty());
}

#[test]
fn a_round_started_after_its_grace_was_still_not_started_in_time() {
    let r = route(SiteId::new(), &["08:00"], &[]);
    let late = run(&r, at("2026-12-01T08:30:01", SH));
    let raised = missed_at(SH, std::slice::from_ref(&r), &[late], "2026-12-01T08:45:00");
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].slot_at, Some(at("2026-12-01T08:00:00", SH)));
    // A round of another route does not count for this one.
    let other = route(r.site_id, &["08:00"], &[]);
    let theirs = run(&other, at("2026-12-01T08:05:00", SH));
    let raised = missed_at(SH, &[r, other.clone()], &[theirs], "2026-12-01T08:45:00");
    assert_eq!(raised.len(), 1);
    assert_ne!(raised[0].route_id, Some(other.id));
}

#[test]
fn a_round_recorded_offline_on_time_answers_the_alert_raised_before_it_synced() {
    let site = SiteId::new();
    let r = route(site, &["08:00"], &[]);
    let raised = missed_at(SH, std::slice::from_ref(&r), &[], "2026-12-01T08:31:00");
    assert_eq!(raised.len(), 1);
    let alert = &raised[0];
    let synced = at("2026-12-01T09:40:00", SH);

    // Started at 08:05 with no signal, synced at 09:40: the alert was wrong, and is answered.
    let walked = run(&r, at("2026-12-01T08:05:00", SH));
    let answered = answered_by_round(alert, &r, &walked, &tz(SH), synced).unwrap();
    assert_eq!(answered.id, alert.id);
    assert_eq!(answered.acked_by, Some(walked.patroller_id));
    assert_eq!(answered.acked_at, Some(synced));
    assert!(
        answered.note.as_deref().unwrap().contains("08:05"),
        "{answered:?}"
    );
    assert!(!answered.is_open());

    // The last second of the grace is in time; a second later is not.
    let edge = run(&r, at("2026-12-01T08:30:00", SH));
    assert!(answered_by_round(alert, &r, &edge, &tz(SH), synced).is_some());
    let late = run(&r, at("2026-12-01T08:30:01", SH));
    assert_eq!(answered_by_round(alert, &r, &late, &tz(SH), synced), None);

    // Another route's round, another day's, or an alert already acknowledged: nothing.
    let other = route(site, &["08:00"], &[]);
    let elsewhere = run(&other, at("2026-12-01T08:05:00", SH));
    assert_eq!(
        answered_by_round(alert, &other, &elsewhere, &tz(SH), synced),
        None
    );
    let next_day = run(&r, at("2026-12-02T08:05:00", SH));
    assert_eq!(
        answered_by_round(alert, &r, &next_day, &tz(SH), synced),
        None
    );
    let acked = Alert {
        acked_at: Some(synced),
        ..alert.clone()
    };
    assert_eq!(
        answered_by_round(&acked, &r, &walked, &tz(SH), synced),
        None
    );
}

#[test]
fn days_the_route_is_not_walked_and_old_slots_raise_nothing() {
    // 2026-12-01 is a Tuesday.
    let weekends = route(SiteId::new(), &["08:00"], &[Day::Sat, Day::Sun]);
    assert!(missed_at(SH, &[weekends], &[], "2026-12-01T09:00:00").is_empty());
    // Yesterday evening's round is still raised the next morning (a server down overnight);
    // yesterday morning's is past the look-back.
    let r = route(SiteId::new(), &["08:00", "20:30"], &[]);
    let raised = missed_at(SH, &[r], &[], "2026-12-02T07:00:00");
    let slots: Vec<_> = raised.iter().map(|a| a.slot_at).collect();
    assert_eq!(slots, [Some(at("2026-12-01T20:30:00", SH))]);
}

#[test]
fn missed_rounds_follow_the_clocks_where_they_change() {
    // 2026-03-08 in New York: 02:00 EST becomes 03:00 EDT. A round at 02:30, inside the gap,
    // is due as late as the gap is long (jiff's compatible rule, as `Schedule::slots` says):
    // 03:30 EDT; its grace ends at 04:00 EDT.
    let r = route(SiteId::new(), &["02:30", "08:00"], &[]);
    let routes = [r];
    assert!(missed_at(NY, &routes, &[], "2026-03-08T03:59:59").is_empty());
    assert!(missed_at(NY, &routes, &[], "2026-03-08T04:00:00").is_empty());
    let raised = missed_at(NY, &routes, &[], "2026-03-08T04:00:01");
    assert_eq!(raised.len(), 1);
    assert_eq!(
        raised[0].slot_at,
        Some("2026-03-08T07:30:00Z".parse().unwrap()),
        "03:30 EDT"
    );
    // 08:00 EDT is 12:00 UTC on that day (it was 13:00 UTC the day before).
    let raised = missed_at(NY, &routes, &[], "2026-03-08T08:30:01");
    assert!(
        raised
            .iter()
            .any(|a| a.slot_at == Some("2026-03-08T12:00:00Z".parse().unwrap()))
    );
    assert!(missed_at(NY, &routes, &[], "2026-03-08T08:30:00").len() == 1);

    // 2026-11-01: 01:30 happens twice; the round is due the first time (EDT, 05:30 UTC), so
    // at 01:45 the second time (EST, 06:45 UTC) its grace is long over.
    let night = route(SiteId::new(), &["01:30"], &[]);
    let first_0130: Timestamp = "2026-11-01T05:30:00Z".parse().unwrap();
    let raised = missed_rounds(
        &tz(NY),
        std::slice::from_ref(&night),
        &[],
        "2026-11-01T06:45:00Z".parse().unwrap(),
    );
    assert_eq!(raised.len(), 1);
    assert_eq!(raised[0].slot_at, Some(first_0130));
    let in_time = missed_rounds(
        &tz(NY),
        std::slice::from_ref(&night),
        &[],
        "2026-11-01T06:00:00Z".parse().unwrap(),
    );
    assert!(in_time.is_empty(), "01:30 EDT + 30 min = 06:00 UTC");
    // Started at 01:40 EDT: in time.
    let walked = run(&night, "2026-11-01T05:40:00Z".parse().unwrap());
    assert!(
        missed_rounds(
            &tz(NY),
            &[night],
            &[walked],
            "2026-11-01T07:00:00Z".parse().unwrap()
        )
        .is_empty()
    );
}

#[test]
fn the_window_of_rounds_covers_yesterday_and_today() {
    let now = at("2026-12-02T07:00:00", SH);
    let (from, to) = missed_rounds_window(&tz(SH), now).unwrap();
    assert!(from <= at("2026-11-30T00:00:00", SH));
    assert!(to >= at("2026-12-03T00:00:00", SH));
}

fn issue(severity: Severity, team: Team, due_at: Timestamp) -> Issue {
    Issue {
        id: IssueId::new(),
        site_id: SiteId::new(),
        zone_id: None,
        checkpoint_id: None,
        visit_id: None,
        category: Category::Security,
        severity,
        team,
        title: "B2车库有燃气味".into(),
        note: None,
        photos: Vec::new(),
        source: Source::Patrol,
        observed_at: due_at - SignedDuration::from_hours(4),
        due_at,
        status: Status::Open,
        reported_by: UserId::new(),
        assignee_id: None,
        resolved_by: None,
        verified_by: None,
        fixed_on_spot: false,
        extension: None,
        escalations: Vec::new(),
        follow_up: None,
    }
}

#[test]
fn urgent_and_major_issues_raise_their_alert_when_reported_and_routine_ones_none() {
    let now = at("2026-12-01T08:00:00", SH);
    let due = now + SignedDuration::from_hours(4);
    let urgent = issue(Severity::Urgent, Team::Security, due);
    let a = on_report(&urgent, now).unwrap();
    assert_eq!(a.kind, AlertKind::Urgent);
    assert_eq!(a.issue_id, Some(urgent.id));
    assert_eq!(a.site_id, urgent.site_id);
    assert_eq!(a.team, Some(Team::Security));
    assert_eq!(a.raised_at, now);
    assert!(a.text_zh.contains("B2车库有燃气味") && a.text_zh.contains("保安"));
    assert_eq!(a.once_key(), format!("urgent:{}", urgent.id));

    let major = issue(Severity::Major, Team::Engineering, due);
    assert_eq!(on_report(&major, now).unwrap().kind, AlertKind::Major);
    assert!(on_report(&issue(Severity::Routine, Team::Engineering, due), now).is_none());
    let mut fixed = issue(Severity::Urgent, Team::Security, due);
    fixed.fixed_on_spot = true;
    fixed.status = Status::Closed;
    assert!(on_report(&fixed, now).is_none(), "fixed on the spot");
}

#[test]
fn an_issue_is_overdue_from_its_due_time_while_it_is_active() {
    let due = at("2026-12-04T08:00:00", SH);
    let i = issue(Severity::Routine, Team::Engineering, due);
    let sh = tz(SH);
    assert!(overdue(&i, &sh, due - SignedDuration::from_secs(1)).is_none());
    let a = overdue(&i, &sh, due).unwrap();
    assert_eq!(a.kind, AlertKind::Overdue);
    assert_eq!(a.issue_id, Some(i.id));
    assert!(a.text_zh.contains("2026-12-04 08:00"), "{}", a.text_zh);
    // One issue's urgent and overdue alerts are two alerts.
    let u = issue(Severity::Urgent, Team::Security, due);
    assert_ne!(
        overdue(&u, &sh, due).unwrap().once_key(),
        on_report(&u, due).unwrap().once_key()
    );
    let mut closed = i;
    closed.status = Status::Closed;
    assert!(overdue(&closed, &sh, due + SignedDuration::from_hours(1)).is_none());
}

fn visit(run: &PatrolRun, flags: Vec<ScanFlag>) -> Visit {
    Visit {
        id: VisitId::new(),
        run_id: run.id,
        checkpoint_id: CheckpointId::new(),
        method: VisitMethod::Qr,
        token: None,
        reason: None,
        at: run.started_at,
        flags,
    }
}

#[test]
fn a_round_finished_with_checkpoints_missed_or_flagged_is_incomplete() {
    let r = route(SiteId::new(), &["08:00"], &[]);
    let sh = tz(SH);
    let now = at("2026-12-01T08:40:00", SH);
    let mut done = run(&r, at("2026-12-01T08:00:00", SH));
    done.finished_at = Some(now);
    let clean = vec![visit(&done, vec![]), visit(&done, vec![])];
    assert!(on_finish(&done, &r, &clean, &sh, now).is_none());

    let mut under_way = done.clone();
    under_way.finished_at = None;
    under_way.missed = vec![Missed {
        checkpoint_id: r.checkpoint_ids[2],
        reason: "门锁了".into(),
    }];
    assert!(on_finish(&under_way, &r, &clean, &sh, now).is_none());

    let mut left_out = done.clone();
    left_out.missed = under_way.missed.clone();
    let a = on_finish(&left_out, &r, &clean, &sh, now).unwrap();
    assert_eq!(a.kind, AlertKind::RoundIncomplete);
    assert_eq!(a.run_id, Some(done.id));
    assert_eq!(a.route_id, Some(r.id));
    assert_eq!(a.once_key(), format!("round_incomplete:{}", done.id));
    assert!(a.text_zh.contains("漏巡 1 个点，0 处存疑"), "{}", a.text_zh);

    let flagged = vec![visit(&done, vec![ScanFlag::RepeatScan { secs: 5 }])];
    let a = on_finish(&done, &r, &flagged, &sh, now).unwrap();
    assert!(
        a.text_en.contains("0 checkpoints out, 1 flagged"),
        "{}",
        a.text_en
    );
    let mut too_short = done;
    too_short.flags = vec![ScanFlag::RoundTooShort {
        secs: 60,
        min_secs: 300,
    }];
    assert!(on_finish(&too_short, &r, &clean, &sh, now).is_some());
}

fn actor(role: Role, team: Option<Team>, site: SiteId) -> Actor {
    Actor {
        user_id: UserId::new(),
        role,
        team,
        site_ids: vec![site],
    }
}

#[test]
fn the_site_s_desk_sees_every_alert_and_teams_those_that_concern_them() {
    let now = at("2026-12-01T08:00:00", SH);
    let due = now + SignedDuration::from_hours(4);
    let mut gas = issue(Severity::Urgent, Team::Engineering, due);
    let site = gas.site_id;
    gas.category = Category::Facility;
    let urgent = on_report(&gas, now).unwrap();
    let mut lift = issue(Severity::Major, Team::Engineering, due);
    lift.site_id = site;
    let major = on_report(&lift, now).unwrap();
    let round = missed_rounds(
        &tz(SH),
        &[route(site, &["07:00"], &[])],
        &[],
        at("2026-12-01T08:00:00", SH),
    )
    .remove(0);
    for role in [Role::Supervisor, Role::Manager, Role::Admin] {
        let a = actor(role, None, site);
        assert!([&urgent, &major, &round].iter().all(|x| may_see(&a, x)));
        assert!(
            !may_see(&actor(role, None, SiteId::new()), &urgent),
            "another site"
        );
    }
    let engineer = actor(Role::Technician, Some(Team::Engineering), site);
    assert!(may_see(&engineer, &urgent) && may_see(&engineer, &major));
    assert!(!may_see(&engineer, &round));
    let guard = actor(Role::Patrol, Some(Team::Security), site);
    assert!(
        may_see(&guard, &urgent),
        "security is told of every urgent issue"
    );
    assert!(!may_see(&guard, &major) && !may_see(&guard, &round));
    let cleaner = actor(Role::Technician, Some(Team::Cleaning), site);
    assert!(!may_see(&cleaner, &urgent));
    assert!(!may_see(&actor(Role::Patrol, None, site), &urgent));
}

#[test]
fn an_alert_is_acknowledged_once_with_a_note_by_someone_who_sees_it() {
    let now = at("2026-12-01T08:00:00", SH);
    let gas = issue(
        Severity::Urgent,
        Team::Security,
        now + SignedDuration::from_hours(4),
    );
    let alert = on_report(&gas, now).unwrap();
    let sup = actor(Role::Supervisor, None, gas.site_id);
    let later = now + SignedDuration::from_mins(9);
    assert_eq!(
        ack(&sup, &alert, Some("  "), later),
        Err(AlertError::NoteRequired)
    );
    assert_eq!(
        ack(&sup, &alert, None, later).unwrap_err().code(),
        "note_required"
    );
    let long = "灯".repeat(bounds::MAX_TEXT_CHARS + 1);
    assert_eq!(
        ack(&sup, &alert, Some(&long), later).unwrap_err().code(),
        "too_long"
    );
    let done = ack(&sup, &alert, Some(" 王师傅 08:05 到场，阀门已关 "), later).unwrap();
    assert_eq!(done.acked_by, Some(sup.user_id));
    assert_eq!(done.acked_at, Some(later));
    assert_eq!(done.note.as_deref(), Some("王师傅 08:05 到场，阀门已关"));
    assert!(!done.is_open());
    assert_eq!((done.id, done.once_key()), (alert.id, alert.once_key()));
    let again = ack(&sup, &done, Some("再确认"), later);
    assert_eq!(again.unwrap_err().code(), "already_acked");
    let stranger = actor(Role::Technician, Some(Team::Cleaning), gas.site_id);
    assert_eq!(
        ack(&stranger, &alert, Some("x"), later).unwrap_err().code(),
        "unknown_alert"
    );
}

#[test]
fn the_pulled_alert_carries_every_field_of_the_contract() {
    let now: Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
    let gas = issue(Severity::Urgent, Team::Security, now);
    let alert = on_report(&gas, now).unwrap();
    let json = serde_json::to_value(&alert).unwrap();
    for field in [
        "id",
        "site_id",
        "kind",
        "issue_id",
        "route_id",
        "raised_at",
        "acked_by",
        "acked_at",
        "note",
    ] {
        assert!(json.get(field).is_some(), "{field} in {json}");
    }
    assert_eq!(json["kind"], "urgent");
    assert_eq!(json["acked_by"], serde_json::Value::Null);
    let back: Alert = serde_json::from_value(json).unwrap();
    assert_eq!(back, alert);
    for kind in AlertKind::ALL {
        assert_eq!(kind.as_str().parse::<AlertKind>().unwrap(), kind);
        assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
    }
}
