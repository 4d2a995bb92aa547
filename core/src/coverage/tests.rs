use jiff::civil::Time;

use super::*;
use crate::ids::{SiteId, UserId, VisitId};
use crate::patrol::{Missed, VisitMethod};
use crate::route::{Day, Schedule};

const SH: &str = "Asia/Shanghai";

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

fn date(s: &str) -> Date {
    s.parse().unwrap()
}

fn route(times: &[&str], days: &[Day], checkpoints: usize) -> Route {
    Route {
        id: RouteId::new(),
        site_id: SiteId::new(),
        name: "楼栋巡查".into(),
        checkpoint_ids: (0..checkpoints).map(|_| CheckpointId::new()).collect(),
        schedule: Schedule {
            times: times.iter().map(|t| t.parse::<Time>().unwrap()).collect(),
            days: days.to_vec(),
        },
        min_walk_secs: 30,
        min_round_secs: 0,
    }
}

/// A round of `route` started at `start`; finished `mins` later unless `None`.
fn run(route: &Route, start: Timestamp, mins: Option<i64>) -> PatrolRun {
    PatrolRun {
        id: RunId::new(),
        site_id: route.site_id,
        route_id: route.id,
        patroller_id: UserId::new(),
        started_at: start,
        finished_at: mins.map(|m| start + SignedDuration::from_mins(m)),
        missed: Vec::new(),
        flags: Vec::new(),
    }
}

fn visit(run: &PatrolRun, checkpoint: CheckpointId, at: Timestamp) -> Visit {
    Visit {
        id: VisitId::new(),
        run_id: run.id,
        checkpoint_id: checkpoint,
        method: VisitMethod::Qr,
        token: Some("PTRL1.x.y".into()),
        reason: None,
        at,
        flags: Vec::new(),
    }
}

fn states(d: &RouteDay) -> Vec<SlotState> {
    d.slots.iter().map(|s| s.state).collect()
}

#[test]
fn a_day_s_slots_are_on_time_late_missed_and_not_started_yet() {
    let r = route(&["15:00", "09:00", "11:00", "13:00"], &[], 2);
    let at = |s: &str| local(&format!("2026-11-23T{s}"), SH);
    let on_time = run(&r, at("09:10"), Some(40));
    let late = run(&r, at("11:45"), Some(40));
    let now = at("14:00");
    let days = day(
        &tz(SH),
        date("2026-11-23"),
        std::slice::from_ref(&r),
        &[late.clone(), on_time.clone()],
        &[],
        now,
    );
    let d = &days[0];
    assert!(d.scheduled_today);
    // Earliest first, whatever order the schedule lists them in.
    let due: Vec<Timestamp> = d.slots.iter().map(|s| s.scheduled).collect();
    assert_eq!(due, [at("09:00"), at("11:00"), at("13:00"), at("15:00")]);
    assert_eq!(
        states(d),
        [
            SlotState::OnTime,
            SlotState::Late,
            SlotState::Missed,
            SlotState::NotStarted
        ]
    );
    assert_eq!(d.slots[0].round.as_ref().unwrap().run.id, on_time.id);
    assert_eq!(d.slots[1].round.as_ref().unwrap().run.id, late.id);
    assert!(d.extra.is_empty());
    // Within its grace a slot not started is not missed yet.
    let days = day(
        &tz(SH),
        date("2026-11-23"),
        std::slice::from_ref(&r),
        &[on_time, late],
        &[],
        at("13:30"),
    );
    assert_eq!(days[0].slots[2].state, SlotState::NotStarted);
    let days = day(
        &tz(SH),
        date("2026-11-23"),
        std::slice::from_ref(&r),
        &[],
        &[],
        at("13:31"),
    );
    assert_eq!(days[0].slots[2].state, SlotState::Missed);
}

#[test]
fn a_round_not_finished_is_under_way_and_an_early_one_says_so() {
    let r = route(&["09:00", "15:00"], &[], 1);
    let at = |s: &str| local(&format!("2026-11-23T{s}"), SH);
    let walking = run(&r, at("09:05"), None);
    let early = run(&r, at("14:00"), Some(30));
    let d = &day(
        &tz(SH),
        date("2026-11-23"),
        std::slice::from_ref(&r),
        &[walking, early],
        &[],
        at("16:00"),
    )[0];
    assert_eq!(states(d), [SlotState::UnderWay, SlotState::Early]);
}

#[test]
fn the_slot_a_round_keeps_is_the_one_the_monthly_report_holds_it_to() {
    // 12:05 is nearer 15:00 than 09:00: the report judges it early for 15:00, and so does the
    // page; 09:00 stays missed.
    let r = route(&["09:00", "15:00"], &[], 1);
    let at = |s: &str| local(&format!("2026-11-23T{s}"), SH);
    let round = run(&r, at("12:05"), Some(30));
    let d = &day(
        &tz(SH),
        date("2026-11-23"),
        std::slice::from_ref(&r),
        std::slice::from_ref(&round),
        &[],
        at("18:00"),
    )[0];
    assert_eq!(states(d), [SlotState::Missed, SlotState::Early]);
    let held = report::punctuality(&r.schedule, round.started_at, &tz(SH));
    assert_eq!(d.slots[1].round.as_ref().unwrap().punctuality, held);
    assert_eq!(held.scheduled(), Some(at("15:00")));
}

#[test]
fn a_second_round_for_a_kept_slot_is_an_extra_round() {
    let r = route(&["09:00"], &[], 1);
    let at = |s: &str| local(&format!("2026-11-23T{s}"), SH);
    let first = run(&r, at("09:02"), Some(20));
    let again = run(&r, at("09:40"), Some(20));
    // Nearer 09:00 today than tomorrow's, and that slot is kept by the first round.
    let night = run(&r, at("20:30"), Some(20));
    let d = &day(
        &tz(SH),
        date("2026-11-23"),
        std::slice::from_ref(&r),
        &[night.clone(), again.clone(), first.clone()],
        &[],
        at("23:00"),
    )[0];
    assert_eq!(d.slots[0].round.as_ref().unwrap().run.id, first.id);
    let extra: Vec<RunId> = d.extra.iter().map(|x| x.run.id).collect();
    assert_eq!(extra, [again.id, night.id]);
    let all: Vec<RunId> = d.rounds().iter().map(|x| x.run.id).collect();
    assert_eq!(all, [first.id, again.id, night.id]);
}

#[test]
fn a_round_just_after_midnight_belongs_to_the_late_slot_of_the_day_before() {
    let r = route(&["23:30"], &[], 1);
    let round = run(&r, local("2026-11-24T00:10", SH), Some(20));
    let now = local("2026-11-24T08:00", SH);
    let before = &day(
        &tz(SH),
        date("2026-11-23"),
        std::slice::from_ref(&r),
        std::slice::from_ref(&round),
        &[],
        now,
    )[0];
    assert_eq!(states(before), [SlotState::Late]);
    let after = &day(
        &tz(SH),
        date("2026-11-24"),
        std::slice::from_ref(&r),
        std::slice::from_ref(&round),
        &[],
        now,
    )[0];
    assert_eq!(states(after), [SlotState::NotStarted]);
    assert!(after.extra.is_empty(), "shown once, on its slot's day");
}

#[test]
fn a_day_the_route_is_not_walked_has_no_slots_but_shows_rounds_walked() {
    // 2026-11-22 is a Sunday.
    let r = route(&["09:00"], &[Day::Mon, Day::Wed, Day::Fri], 1);
    let at = |s: &str| local(&format!("2026-11-22T{s}"), SH);
    let d = &day(
        &tz(SH),
        date("2026-11-22"),
        std::slice::from_ref(&r),
        &[],
        &[],
        at("20:00"),
    )[0];
    assert!(!d.scheduled_today);
    assert!(d.slots.is_empty());
    // Nearest scheduled time is Monday 09:00, 14 hours off: an extra round of Sunday.
    let sunday = run(&r, at("19:00"), Some(20));
    let d = &day(
        &tz(SH),
        date("2026-11-22"),
        std::slice::from_ref(&r),
        std::slice::from_ref(&sunday),
        &[],
        at("20:00"),
    )[0];
    assert_eq!(d.extra.len(), 1);
    assert_eq!(
        d.extra[0].punctuality,
        report::punctuality(&r.schedule, sunday.started_at, &tz(SH))
    );
    let monday = &day(
        &tz(SH),
        date("2026-11-23"),
        std::slice::from_ref(&r),
        &[],
        &[],
        local("2026-11-23T09:31", SH),
    )[0];
    assert_eq!(states(monday), [SlotState::Missed]);
}

#[test]
fn slots_are_wall_clock_times_where_the_clocks_change() {
    // New York springs forward on 2026-03-08: that day has 23 hours, 09:00 is 13:00 UTC.
    let ny = "America/New_York";
    let (from, to) = day_range(date("2026-03-08"), &tz(ny)).unwrap();
    assert_eq!(from.duration_until(to), SignedDuration::from_hours(23));
    let (from, to) = day_range(date("2026-11-01"), &tz(ny)).unwrap();
    assert_eq!(from.duration_until(to), SignedDuration::from_hours(25));
    let r = route(&["09:00"], &[], 1);
    let round = run(&r, "2026-03-08T13:20:00Z".parse().unwrap(), Some(20));
    let d = &day(
        &tz(ny),
        date("2026-03-08"),
        std::slice::from_ref(&r),
        std::slice::from_ref(&round),
        &[],
        "2026-03-08T20:00:00Z".parse().unwrap(),
    )[0];
    assert_eq!(
        d.slots[0].scheduled,
        "2026-03-08T13:00:00Z".parse().unwrap()
    );
    assert_eq!(states(d), [SlotState::OnTime]);
    // Held to the day before's offset (-05:00), 09:00 would be 14:00 UTC and the round early.
    let fixed = TimeZone::fixed(jiff::tz::offset(-5));
    let d = &day(
        &fixed,
        date("2026-03-08"),
        std::slice::from_ref(&r),
        std::slice::from_ref(&round),
        &[],
        "2026-03-08T20:00:00Z".parse().unwrap(),
    )[0];
    assert_eq!(states(d), [SlotState::Early]);
}

#[test]
fn checkpoints_are_visited_flagged_missed_with_reasons_or_not_yet() {
    let r = route(&["09:00", "15:00"], &[], 4);
    let c = r.checkpoint_ids.clone();
    let at = |s: &str| local(&format!("2026-11-23T{s}"), SH);
    let mut morning = run(&r, at("09:00"), Some(30));
    morning.missed = vec![Missed {
        checkpoint_id: c[2],
        reason: "天台门维修中".into(),
    }];
    let mut hurried = visit(&morning, c[1], at("09:01"));
    hurried.flags = vec![ScanFlag::TooFast {
        from: c[0],
        secs: 5,
        min_secs: 30,
    }];
    let mut by_hand = visit(&morning, c[0], at("09:00:55"));
    by_hand.method = VisitMethod::Manual;
    by_hand.reason = Some("标签被撕".into());
    by_hand.token = None;
    let walking = run(&r, at("15:05"), None);
    let later = visit(&walking, c[0], at("15:10"));
    let off_route = visit(&walking, CheckpointId::new(), at("15:12"));
    let d = &day(
        &tz(SH),
        date("2026-11-23"),
        std::slice::from_ref(&r),
        &[morning.clone(), walking.clone()],
        &[later.clone(), hurried.clone(), by_hand.clone(), off_route],
        at("15:20"),
    )[0];
    let cps = &d.checkpoints;
    assert_eq!(cps.len(), 4);
    assert_eq!(
        cps.iter().map(CheckpointDay::state).collect::<Vec<_>>(),
        [
            CheckpointState::Visited,
            CheckpointState::Flagged,
            CheckpointState::Missed,
            CheckpointState::NotYet
        ]
    );
    // Visited twice, by hand then scanned, each with its round.
    let first: Vec<(VisitId, RunId)> = cps[0]
        .visits
        .iter()
        .map(|v| (v.visit.id, v.run_id))
        .collect();
    assert_eq!(first, [(by_hand.id, morning.id), (later.id, walking.id)]);
    assert_eq!(cps[0].visits[0].visit.reason.as_deref(), Some("标签被撕"));
    assert_eq!(
        cps[1].flags().next().unwrap().label().en,
        "too fast (5 s, at least 30 s)"
    );
    assert_eq!(
        cps[2].missed,
        [CheckpointMiss {
            run_id: morning.id,
            reason: "天台门维修中".into()
        }]
    );
    // Visited by the afternoon round after the morning one left it out.
    let mut partly = cps[2].clone();
    partly.visits.push(CheckpointVisit {
        visit: visit(&walking, c[2], at("15:15")),
        run_id: walking.id,
    });
    assert_eq!(partly.state(), CheckpointState::PartlyMissed);
    let counts: Vec<(u32, u32)> = d.rounds().iter().map(|x| (x.visited, x.missed)).collect();
    assert_eq!(
        counts,
        [(2, 1), (1, 0)],
        "a checkpoint off the route is not counted"
    );
}

#[test]
fn the_month_s_most_missed_checkpoints_come_first_with_their_reasons() {
    let r = route(&["09:00"], &[], 3);
    let c = r.checkpoint_ids.clone();
    let other = route(&["10:00"], &[], 0);
    let other = Route {
        checkpoint_ids: vec![c[1]],
        ..other
    };
    let start = local("2026-11-02T09:00", SH);
    let mut runs = Vec::new();
    let mut visits = Vec::new();
    for n in 0..4 {
        let mut x = run(&r, start + SignedDuration::from_hours(24 * n), Some(20));
        visits.push(visit(&x, c[0], x.started_at));
        if n < 3 {
            x.missed.push(Missed {
                checkpoint_id: c[2],
                reason: if n == 1 { "下雨" } else { "门锁了" }.into(),
            });
        } else {
            visits.push(visit(&x, c[2], x.started_at));
        }
        // The first round left c[1] out without a reason: still missed.
        if n > 0 {
            visits.push(visit(&x, c[1], x.started_at));
        }
        runs.push(x);
    }
    // One of two rounds of the other route left c[1] out: 2 of 6 rounds in all.
    let mut o = run(&other, start, Some(10));
    o.missed.push(Missed {
        checkpoint_id: c[1],
        reason: "施工".into(),
    });
    runs.push(o);
    let o2 = run(&other, start + SignedDuration::from_hours(24), Some(10));
    visits.push(visit(&o2, c[1], o2.started_at));
    runs.push(o2);
    // A round under way has not missed anything yet.
    runs.push(run(&r, start + SignedDuration::from_hours(200), None));
    let top = most_missed(&[r.clone(), other.clone()], &runs, &visits, 10);
    let got: Vec<(CheckpointId, u32, u32)> = top
        .iter()
        .map(|m| (m.checkpoint_id, m.missed, m.rounds))
        .collect();
    assert_eq!(got, [(c[2], 3, 4), (c[1], 2, 6)]);
    assert_eq!(top[0].percent(), 75);
    assert_eq!(
        top[0].reasons,
        [("门锁了".to_owned(), 2), ("下雨".to_owned(), 1)]
    );
    assert_eq!(top[1].reasons, [("施工".to_owned(), 1)]);
    assert_eq!(most_missed(&[r.clone(), other], &runs, &visits, 1).len(), 1);
}

#[test]
fn equal_misses_rank_the_larger_share_first() {
    let a = route(&["09:00"], &[], 1);
    let b = route(&["10:00"], &[], 1);
    let start = local("2026-11-02T09:00", SH);
    let mut runs = Vec::new();
    let mut visits = Vec::new();
    // a: 1 missed of 4; b: 1 missed of 2.
    for n in 0..4 {
        let x = run(&a, start + SignedDuration::from_hours(24 * n), Some(5));
        if n > 0 {
            visits.push(visit(&x, a.checkpoint_ids[0], x.started_at));
        }
        runs.push(x);
    }
    for n in 0..2 {
        let x = run(&b, start + SignedDuration::from_hours(24 * n), Some(5));
        if n > 0 {
            visits.push(visit(&x, b.checkpoint_ids[0], x.started_at));
        }
        runs.push(x);
    }
    let top = most_missed(&[a.clone(), b.clone()], &runs, &visits, 5);
    let order: Vec<CheckpointId> = top.iter().map(|m| m.checkpoint_id).collect();
    assert_eq!(order, [b.checkpoint_ids[0], a.checkpoint_ids[0]]);
}

#[test]
fn a_date_is_yyyy_mm_dd_and_nothing_else() {
    assert_eq!(parse_date("2026-11-22").unwrap(), date("2026-11-22"));
    assert_eq!(parse_date("2024-02-29").unwrap(), date("2024-02-29"));
    for bad in [
        "",
        "2026-11",
        "2026-11-31",
        "2026-02-29",
        "2026-13-01",
        "26-11-22",
        "2026/11/22",
        "+2026-11-22",
        "2026-11-22T00",
        "0000-01-01",
        "２０２６-11-22",
        "2026-1-022",
    ] {
        let e = parse_date(bad).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("YYYY-MM-DD") && text.contains("日期"),
            "{bad}: {text}"
        );
    }
}

#[test]
fn the_month_so_far_ends_now_and_a_past_month_at_its_end() {
    let now = local("2026-11-23T10:00", SH);
    let (m, from, to) = month_so_far(date("2026-11-05"), &tz(SH), now).unwrap();
    assert_eq!(m.to_string(), "2026-11");
    assert_eq!((from, to), (local("2026-11-01T00:00", SH), now));
    let (_, from, to) = month_so_far(date("2026-10-05"), &tz(SH), now).unwrap();
    assert_eq!(
        (from, to),
        (local("2026-10-01T00:00", SH), local("2026-11-01T00:00", SH))
    );
    let (window_from, window_to) = records_window(date("2026-11-23"), &tz(SH)).unwrap();
    assert_eq!(
        (window_from, window_to),
        (local("2026-11-22T00:00", SH), local("2026-11-25T00:00", SH))
    );
}
