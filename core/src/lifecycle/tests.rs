use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use proptest::strategy::ValueTree;

use super::*;
use crate::ids::{SiteId, UserId};
use crate::sla::SlaHours;

/// The people of a small estate, plus one from another estate.
struct Estate {
    site: Site,
    users: Vec<Actor>,
}

const PATROL: usize = 0;
const TECH_A: usize = 1;
const TECH_B: usize = 2;
const CLEANER: usize = 3;
const SUPER: usize = 4;
const MANAGER: usize = 5;
const OUTSIDER: usize = 6;
const ADMIN: usize = 7;

fn estate() -> Estate {
    let site = Site {
        id: SiteId::new(),
        code: "test".into(),
        name: "测试小区".into(),
        time_zone: "Asia/Shanghai".into(),
        public_key: String::new(),
        sla_hours: SlaHours::default(),
        routing: Default::default(),
        retention_days: 730,
    };
    let other_site = SiteId::new();
    let person = |role, team, site_id| Actor {
        user_id: UserId::new(),
        role,
        team,
        site_ids: vec![site_id],
    };
    let users = vec![
        person(Role::Patrol, None, site.id),
        person(Role::Technician, Some(Team::Engineering), site.id),
        person(Role::Technician, Some(Team::Engineering), site.id),
        person(Role::Technician, Some(Team::Cleaning), site.id),
        person(Role::Supervisor, None, site.id),
        person(Role::Manager, Some(Team::Management), site.id),
        person(Role::Supervisor, None, other_site),
        person(Role::Admin, None, site.id),
    ];
    Estate { site, users }
}

fn t0() -> Timestamp {
    "2026-11-22T09:15:00+08:00".parse().unwrap()
}

fn broken_light(e: &Estate, fixed_on_spot: bool, severity: Severity) -> Report {
    Report {
        issue_id: IssueId::new(),
        site_id: e.site.id,
        zone_id: None,
        checkpoint_id: None,
        visit_id: None,
        item_key: None,
        category: Category::Facility,
        severity,
        title: "3栋楼梯灯不亮".into(),
        note: Some("12F 到 13F".into()),
        photos: vec!["ab".repeat(32)],
        observed_at: t0(),
        source: Source::Patrol,
        fixed_on_spot,
    }
}

fn reported(e: &Estate) -> Issue {
    report(
        &e.users[PATROL],
        &e.site,
        broken_light(e, false, Severity::Routine),
        &Found::default(),
    )
    .unwrap()
    .issue
}

fn resolve(note: &str) -> Action {
    Action::Resolve {
        note: Some(note.into()),
        photos: vec!["cd".repeat(32)],
    }
}

fn accept() -> Action {
    Action::Verify {
        accepted: true,
        note: None,
        signature: Some("ef".repeat(32)),
        photos: vec![],
    }
}

fn reject(note: &str) -> Action {
    Action::Verify {
        accepted: false,
        note: Some(note.into()),
        signature: None,
        photos: vec![],
    }
}

#[test]
fn a_broken_light_goes_from_report_to_sign_off() {
    let e = estate();
    let u = &e.users;
    let t = report(
        &u[PATROL],
        &e.site,
        broken_light(&e, false, Severity::Routine),
        &Found::default(),
    )
    .unwrap();
    assert_eq!(t.issue.status, Status::Open);
    assert_eq!(t.issue.team, Team::Engineering);
    assert_eq!(t.issue.due_at, t0() + SignedDuration::from_hours(72));
    assert_eq!(t.audit.kind, AuditKind::Report);
    let mut trail = vec![t.audit];
    let mut issue = t.issue;
    let at = |h: i64| t0() + SignedDuration::from_hours(h);
    let steps = [
        (
            SUPER,
            Action::Assign {
                assignee: (&u[TECH_A]).into(),
            },
            Status::Assigned,
        ),
        (TECH_A, Action::Start, Status::InProgress),
        (TECH_A, resolve("换了灯管"), Status::Resolved),
        (PATROL, reject("还是不亮"), Status::InProgress),
        (TECH_A, resolve("换了镇流器"), Status::Resolved),
        (SUPER, accept(), Status::Closed),
    ];
    for (i, (who, action, status)) in steps.into_iter().enumerate() {
        let t = apply(&issue, &u[who], action, at(i as i64 + 1)).unwrap();
        assert_eq!(t.issue.status, status, "step {i}");
        assert_eq!(t.audit.from_status, Some(issue.status));
        assert_eq!(t.audit.to_status, status);
        assert_eq!(t.audit.actor_id, Some(u[who].user_id));
        trail.push(t.audit);
        issue = t.issue;
    }
    assert_eq!(issue.resolved_by, Some(u[TECH_A].user_id));
    assert_eq!(issue.verified_by, Some(u[SUPER].user_id));
    assert_eq!(
        issue.due_at,
        t0() + SignedDuration::from_hours(72),
        "rejection keeps the clock"
    );
    let kinds: Vec<_> = trail.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "issue.report",
            "issue.assign",
            "issue.start",
            "issue.resolve",
            "issue.verify",
            "issue.resolve",
            "issue.verify"
        ]
    );
    assert_eq!(
        trail[6].signature.as_deref(),
        Some("ef".repeat(32).as_str())
    );
    assert_eq!(trail[4].accepted, Some(false));
}

#[test]
fn the_resolver_can_never_verify_their_own_fix() {
    let e = estate();
    let u = &e.users;
    // A supervisor who fixes a job themselves still needs someone else to sign it off.
    let mut issue = reported(&e);
    for (who, action) in [
        (
            SUPER,
            Action::Assign {
                assignee: (&u[TECH_A]).into(),
            },
        ),
        (TECH_A, Action::Start),
        (SUPER, resolve("亲自处理")),
    ] {
        issue = apply(&issue, &u[who], action, t0()).unwrap().issue;
    }
    assert_eq!(
        apply(&issue, &u[SUPER], accept(), t0()),
        Err(RuleError::OwnFix)
    );
    assert_eq!(
        apply(&issue, &u[TECH_B], accept(), t0()).unwrap_err(),
        RuleError::RoleNotAllowed {
            action: AuditKind::Verify
        }
    );
    assert_eq!(
        apply(&issue, &u[MANAGER], accept(), t0())
            .unwrap()
            .issue
            .status,
        Status::Closed
    );
}

#[test]
fn roles_teams_and_sites_are_enforced() {
    let e = estate();
    let u = &e.users;
    let issue = reported(&e);
    let assign_a = || Action::Assign {
        assignee: (&u[TECH_A]).into(),
    };
    assert_eq!(
        apply(&issue, &u[PATROL], assign_a(), t0()).unwrap_err(),
        RuleError::RoleNotAllowed {
            action: AuditKind::Assign
        }
    );
    assert_eq!(
        apply(&issue, &u[OUTSIDER], assign_a(), t0()).unwrap_err(),
        RuleError::OtherSite
    );
    assert_eq!(
        apply(&issue, &u[ADMIN], assign_a(), t0()).unwrap_err(),
        RuleError::RoleNotAllowed {
            action: AuditKind::Assign
        }
    );
    assert_eq!(
        apply(
            &issue,
            &u[SUPER],
            Action::Assign {
                assignee: (&u[CLEANER]).into()
            },
            t0()
        )
        .unwrap_err(),
        RuleError::AssigneeNotInTeam
    );
    assert_eq!(
        apply(&issue, &u[TECH_A], Action::Start, t0()).unwrap_err(),
        RuleError::InvalidTransition {
            from: Status::Open,
            action: AuditKind::Start
        }
    );
    let assigned = apply(&issue, &u[SUPER], assign_a(), t0()).unwrap().issue;
    assert_eq!(
        apply(&assigned, &u[CLEANER], Action::Start, t0()).unwrap_err(),
        RuleError::OtherTeam
    );
    // A team mate may pick the job up; it becomes theirs.
    let started = apply(&assigned, &u[TECH_B], Action::Start, t0())
        .unwrap()
        .issue;
    assert_eq!(started.assignee_id, Some(u[TECH_B].user_id));
    assert_eq!(
        apply(
            &started,
            &u[TECH_B],
            Action::Resolve {
                note: Some("  ".into()),
                photos: vec![]
            },
            t0()
        )
        .unwrap_err(),
        RuleError::EvidenceMissing
    );
}

#[test]
fn verification_needs_a_signature_to_accept_and_a_reason_to_reject() {
    let e = estate();
    let u = &e.users;
    let mut issue = reported(&e);
    for (who, action) in [
        (
            SUPER,
            Action::Assign {
                assignee: (&u[TECH_A]).into(),
            },
        ),
        (TECH_A, Action::Start),
        (TECH_A, resolve("ok")),
    ] {
        issue = apply(&issue, &u[who], action, t0()).unwrap().issue;
    }
    let unsigned = Action::Verify {
        accepted: true,
        note: None,
        signature: None,
        photos: vec![],
    };
    assert_eq!(
        apply(&issue, &u[SUPER], unsigned, t0()),
        Err(RuleError::SignatureMissing)
    );
    assert_eq!(
        apply(&issue, &u[SUPER], reject(""), t0()),
        Err(RuleError::TextMissing)
    );
    let closed = apply(&issue, &u[PATROL], accept(), t0()).unwrap().issue;
    assert_eq!(closed.verified_by, Some(u[PATROL].user_id));
    // Closed is the end: nothing but comments.
    assert_eq!(
        apply(
            &closed,
            &u[SUPER],
            Action::Assign {
                assignee: (&u[TECH_A]).into()
            },
            t0()
        ),
        Err(RuleError::InvalidTransition {
            from: Status::Closed,
            action: AuditKind::Assign
        })
    );
    let c = apply(
        &closed,
        &u[MANAGER],
        Action::Comment { text: "好".into() },
        t0(),
    )
    .unwrap();
    assert_eq!(c.issue, closed);
}

#[test]
fn only_a_manager_moves_the_due_time() {
    let e = estate();
    let u = &e.users;
    let issue = apply(
        &reported(&e),
        &u[SUPER],
        Action::Assign {
            assignee: (&u[TECH_A]).into(),
        },
        t0(),
    )
    .unwrap()
    .issue;
    let later = issue.due_at + SignedDuration::from_hours(48);
    let ask = |due_at| Action::RequestExtension {
        reason: "等配件".into(),
        due_at,
    };
    assert_eq!(
        apply(&issue, &u[TECH_A], ask(issue.due_at), t0()),
        Err(RuleError::ExtensionNotLater)
    );
    assert_eq!(
        apply(&issue, &u[CLEANER], ask(later), t0()),
        Err(RuleError::OtherTeam)
    );
    assert_eq!(
        apply(&issue, &u[PATROL], ask(later), t0()),
        Err(RuleError::RoleNotAllowed {
            action: AuditKind::RequestExtension
        })
    );
    let asked = apply(&issue, &u[TECH_A], ask(later), t0()).unwrap();
    assert_eq!(
        asked.issue.due_at, issue.due_at,
        "a request alone moves nothing"
    );
    assert_eq!(asked.audit.due_after, Some(later));
    let asked = asked.issue;
    assert_eq!(
        apply(&asked, &u[TECH_A], ask(later), t0()),
        Err(RuleError::ExtensionPending)
    );
    let decide = |approved| Action::DecideExtension {
        approved,
        note: None,
    };
    assert_eq!(
        apply(&asked, &u[SUPER], decide(true), t0()),
        Err(RuleError::RoleNotAllowed {
            action: AuditKind::DecideExtension
        })
    );
    let denied = apply(&asked, &u[MANAGER], decide(false), t0())
        .unwrap()
        .issue;
    assert_eq!(
        (denied.due_at, denied.extension.clone()),
        (issue.due_at, None)
    );
    assert_eq!(
        apply(&denied, &u[MANAGER], decide(true), t0()),
        Err(RuleError::NoExtensionPending)
    );
    let approved = apply(&asked, &u[MANAGER], decide(true), t0()).unwrap();
    assert_eq!(approved.issue.due_at, later);
    assert_eq!(approved.audit.due_before, Some(issue.due_at));
    assert_eq!(approved.audit.accepted, Some(true));
}

#[test]
fn fixed_on_the_spot_is_recorded_closed() {
    let e = estate();
    let t = report(
        &e.users[PATROL],
        &e.site,
        broken_light(&e, true, Severity::Routine),
        &Found::default(),
    )
    .unwrap();
    assert_eq!(t.issue.status, Status::Closed);
    assert!(t.issue.fixed_on_spot);
    assert_eq!(t.issue.resolved_by, Some(e.users[PATROL].user_id));
    assert_eq!(t.audit.to_status, Status::Closed);
    assert!(
        crate::sla::escalations_due(&t.issue, t0() + SignedDuration::from_hours(999)).is_empty()
    );
}

#[test]
fn reports_are_checked() {
    let e = estate();
    let mut r = broken_light(&e, false, Severity::Routine);
    r.title = " ".into();
    assert!(matches!(
        report(&e.users[PATROL], &e.site, r, &Found::default()),
        Err(RuleError::TitleMissing)
    ));
    assert!(matches!(
        report(
            &e.users[OUTSIDER],
            &e.site,
            broken_light(&e, false, Severity::Routine),
            &Found::default()
        ),
        Err(RuleError::OtherSite)
    ));
    assert!(matches!(
        report(
            &e.users[ADMIN],
            &e.site,
            broken_light(&e, false, Severity::Routine),
            &Found::default()
        ),
        Err(RuleError::RoleNotAllowed { .. })
    ));
    let urgent = report(
        &e.users[PATROL],
        &e.site,
        broken_light(&e, false, Severity::Urgent),
        &Found::default(),
    )
    .unwrap();
    assert_eq!(urgent.issue.due_at, t0() + SignedDuration::from_hours(4));
}

#[test]
fn escalations_fire_once_each() {
    let e = estate();
    let issue = report(
        &e.users[PATROL],
        &e.site,
        broken_light(&e, false, Severity::Urgent),
        &Found::default(),
    )
    .unwrap()
    .issue;
    let now = issue.due_at + SignedDuration::from_mins(1);
    let due = crate::sla::escalations_due(&issue, now);
    assert_eq!(due, [EscalationReason::Urgent, EscalationReason::Overdue]);
    let mut i = issue.clone();
    for r in due {
        let t = escalate(&i, r, now).unwrap();
        assert_eq!(t.audit.kind, AuditKind::Escalate);
        assert_eq!(t.audit.actor_id, None);
        i = t.issue;
    }
    assert!(i.escalated());
    assert!(crate::sla::escalations_due(&i, now).is_empty());
    assert_eq!(
        escalate(&i, EscalationReason::Urgent, now),
        Err(RuleError::AlreadyEscalated)
    );
}

#[test]
fn refusals_read_in_chinese_then_english() {
    let msg = RuleError::InvalidTransition {
        from: Status::Closed,
        action: AuditKind::Assign,
    }
    .to_string();
    assert_eq!(
        msg,
        "问题当前为「已关闭」，不能派单 / cannot assign an issue that is closed"
    );
    let msg = RuleError::RoleNotAllowed {
        action: AuditKind::DecideExtension,
    }
    .to_string();
    assert_eq!(
        msg,
        "你的岗位不能审批延期 / your role may not decide the extension of an issue"
    );
}

// ---- property tests ----------------------------------------------------------------------

/// One random step: a random person tries a random action.
#[derive(Debug, Clone)]
enum Step {
    Assign {
        by: usize,
        to: usize,
    },
    Start {
        by: usize,
    },
    Resolve {
        by: usize,
        evidence: bool,
    },
    Verify {
        by: usize,
        accepted: bool,
        signed: bool,
        noted: bool,
    },
    Request {
        by: usize,
        hours: i64,
    },
    Decide {
        by: usize,
        approved: bool,
    },
    Comment {
        by: usize,
    },
    Escalate {
        reason: usize,
    },
}

/// Mostly someone who might plausibly act, sometimes anyone at all, so that random walks both
/// get far along the lifecycle and keep trying what the rules forbid.
fn who(plausible: &'static [usize]) -> impl Strategy<Value = usize> + Clone {
    prop_oneof![3 => prop::sample::select(plausible), 1 => 0..8usize]
}

fn step() -> impl Strategy<Value = Step> {
    const WORKERS: &[usize] = &[TECH_A, TECH_B];
    const BOSSES: &[usize] = &[SUPER, MANAGER];
    const VERIFIERS: &[usize] = &[PATROL, SUPER, MANAGER, TECH_A];
    prop_oneof![
        3 => (who(BOSSES), who(WORKERS)).prop_map(|(by, to)| Step::Assign { by, to }),
        3 => who(WORKERS).prop_map(|by| Step::Start { by }),
        3 => (who(WORKERS), prop::bool::weighted(0.8))
            .prop_map(|(by, evidence)| Step::Resolve { by, evidence }),
        4 => (who(VERIFIERS), any::<bool>(), prop::bool::weighted(0.8), prop::bool::weighted(0.8))
            .prop_map(|(by, accepted, signed, noted)| Step::Verify { by, accepted, signed, noted }),
        2 => (who(&[TECH_A, SUPER]), -24i64..96).prop_map(|(by, hours)| Step::Request { by, hours }),
        2 => (who(&[MANAGER]), any::<bool>()).prop_map(|(by, approved)| Step::Decide { by, approved }),
        1 => who(&[PATROL]).prop_map(|by| Step::Comment { by }),
        1 => (0..3usize).prop_map(|reason| Step::Escalate { reason }),
    ]
}

/// The edges of the diagram, plus the actions that keep the status.
fn allowed_edge(from: Status, to: Status, kind: AuditKind) -> bool {
    use Status::*;
    match kind {
        AuditKind::Assign => matches!(from, Open | Assigned | InProgress) && to == Assigned,
        AuditKind::Start => from == Assigned && to == InProgress,
        AuditKind::Resolve => from == InProgress && to == Resolved,
        AuditKind::Verify => from == Resolved && matches!(to, Closed | InProgress),
        AuditKind::RequestExtension
        | AuditKind::DecideExtension
        | AuditKind::Comment
        | AuditKind::Escalate => from == to,
        AuditKind::FollowUp => from == Closed && to == Closed,
        AuditKind::Report => false,
    }
}

/// Walks a sequence; returns the issue at the end, checking every invariant on the way.
fn walk(
    e: &Estate,
    severity: Severity,
    fixed: bool,
    steps: &[Step],
) -> Result<Issue, TestCaseError> {
    let u = &e.users;
    let mut issue = report(
        &u[PATROL],
        &e.site,
        broken_light(e, fixed, severity),
        &Found::default(),
    )
    .unwrap()
    .issue;
    let mut now = t0();
    for s in steps {
        now += SignedDuration::from_mins(37);
        let (actor, result) = match s.clone() {
            Step::Escalate { reason } => {
                let r = [
                    EscalationReason::Urgent,
                    EscalationReason::Major,
                    EscalationReason::Overdue,
                ][reason];
                (None, escalate(&issue, r, now))
            }
            other => {
                let (by, action) = match other {
                    Step::Assign { by, to } => (
                        by,
                        Action::Assign {
                            assignee: (&u[to]).into(),
                        },
                    ),
                    Step::Start { by } => (by, Action::Start),
                    Step::Resolve { by, evidence } => (
                        by,
                        Action::Resolve {
                            note: evidence.then(|| "修好了".to_owned()),
                            photos: vec![],
                        },
                    ),
                    Step::Verify {
                        by,
                        accepted,
                        signed,
                        noted,
                    } => (
                        by,
                        Action::Verify {
                            accepted,
                            note: noted.then(|| "见照片".to_owned()),
                            signature: signed.then(|| "5a".repeat(32)),
                            photos: vec![],
                        },
                    ),
                    Step::Request { by, hours } => (
                        by,
                        Action::RequestExtension {
                            reason: "等配件".into(),
                            due_at: issue.due_at + SignedDuration::from_hours(hours),
                        },
                    ),
                    Step::Decide { by, approved } => (
                        by,
                        Action::DecideExtension {
                            approved,
                            note: None,
                        },
                    ),
                    Step::Comment { by } => (
                        by,
                        Action::Comment {
                            text: "跟进".into(),
                        },
                    ),
                    Step::Escalate { .. } => unreachable!("handled above"),
                };
                (Some(&u[by]), apply(&issue, &u[by], action, now))
            }
        };
        let Ok(t) = result else { continue };
        let (prev, next, audit) = (&issue, &t.issue, &t.audit);
        prop_assert!(
            allowed_edge(prev.status, next.status, audit.kind),
            "{:?} -> {:?} by {:?}",
            prev.status,
            next.status,
            audit.kind
        );
        prop_assert_eq!(audit.from_status, Some(prev.status));
        prop_assert_eq!(audit.to_status, next.status);
        prop_assert_eq!(audit.issue_id, prev.id);
        prop_assert_eq!(audit.actor_id, actor.map(|a| a.user_id));
        if let Some(a) = actor {
            prop_assert!(a.works_on(prev.site_id), "someone from another site acted");
            prop_assert!(a.role != Role::Admin);
            match audit.kind {
                AuditKind::Assign => prop_assert!(a.role.supervises()),
                AuditKind::DecideExtension => prop_assert_eq!(a.role, Role::Manager),
                AuditKind::Verify => {
                    prop_assert!(a.role.supervises() || a.user_id == prev.reported_by);
                    prop_assert_ne!(Some(a.user_id), prev.resolved_by);
                }
                _ => {}
            }
        }
        if next.due_at != prev.due_at {
            prop_assert_eq!(audit.kind, AuditKind::DecideExtension);
            prop_assert_eq!(audit.accepted, Some(true));
            prop_assert!(next.due_at > prev.due_at);
        }
        if prev.status == Status::Closed {
            prop_assert_eq!(next.status, Status::Closed, "closed is final");
        }
        if matches!(next.status, Status::Assigned | Status::InProgress) {
            prop_assert!(next.assignee_id.is_some());
        }
        if next.status == Status::Resolved {
            prop_assert!(next.resolved_by.is_some());
        }
        if next.status == Status::Closed {
            if next.fixed_on_spot {
                prop_assert_eq!(next.resolved_by, Some(next.reported_by));
            } else {
                prop_assert!(next.resolved_by.is_some());
                prop_assert!(next.verified_by.is_some());
                prop_assert_ne!(
                    next.verified_by,
                    next.resolved_by,
                    "closed by its own resolver"
                );
            }
        }
        issue = t.issue;
    }
    Ok(issue)
}

fn case() -> impl Strategy<Value = (Severity, bool, Vec<Step>)> {
    (
        prop_oneof![
            Just(Severity::Routine),
            Just(Severity::Major),
            Just(Severity::Urgent)
        ],
        prop::bool::weighted(0.05),
        prop::collection::vec(step(), 1..60),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_people_never_break_the_lifecycle((severity, fixed, steps) in case()) {
        let e = estate();
        walk(&e, severity, fixed, &steps)?;
    }
}

/// The property test is only worth something if random walks get far: check that a fixed-seed
/// run of the same generator reaches sign-off, rejection and approved extensions often.
#[test]
fn random_walks_reach_every_state() {
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let e = estate();
    let (mut closed, mut moved) = (0, 0);
    for _ in 0..300 {
        let (severity, _, steps) = case().new_tree(&mut runner).unwrap().current();
        let end = walk(&e, severity, false, &steps).unwrap();
        let start = report(
            &e.users[PATROL],
            &e.site,
            broken_light(&e, false, severity),
            &Found::default(),
        )
        .unwrap();
        closed += usize::from(end.status == Status::Closed);
        moved += usize::from(end.due_at != start.issue.due_at);
    }
    assert!(closed > 40, "only {closed} of 300 walks reached sign-off");
    assert!(
        moved > 40,
        "only {moved} of 300 walks had an extension approved"
    );
}

#[test]
fn managers_decide_extensions_and_never_their_own() {
    let e = estate();
    let u = &e.users;
    let issue = reported(&e);
    let later = issue.due_at + SignedDuration::from_hours(48);
    let ask = |due_at| Action::RequestExtension {
        reason: "等配件".into(),
        due_at,
    };
    assert_eq!(
        apply(&issue, &u[MANAGER], ask(later), t0()),
        Err(RuleError::RoleNotAllowed {
            action: AuditKind::RequestExtension
        }),
        "a manager decides, so a manager does not ask"
    );
    let asked = apply(&issue, &u[SUPER], ask(later), t0()).unwrap().issue;
    assert!(asked.extension.is_some());
    // A request that a manager made earlier (say, as a supervisor) is not theirs to decide.
    let mut own = asked.clone();
    own.extension.as_mut().unwrap().requested_by = u[MANAGER].user_id;
    let decide = Action::DecideExtension {
        approved: true,
        note: None,
    };
    assert_eq!(
        apply(&own, &u[MANAGER], decide.clone(), t0()),
        Err(RuleError::OwnRequest)
    );
    assert!(apply(&asked, &u[MANAGER], decide, t0()).is_ok());
    // More than a year ahead is not an extension.
    let far = t0() + SignedDuration::from_hours(367 * 24);
    assert_eq!(
        apply(&issue, &u[SUPER], ask(far), t0()),
        Err(RuleError::ExtensionTooFar)
    );
    let year_9999: Timestamp = "9999-12-30T00:00:00Z".parse().unwrap();
    assert_eq!(
        apply(&issue, &u[SUPER], ask(year_9999), t0())
            .unwrap_err()
            .code(),
        "extension_too_far"
    );
}

#[test]
fn a_technician_cannot_touch_a_job_they_cannot_see() {
    let e = estate();
    let u = &e.users;
    let issue = reported(&e); // engineering
    assert!(may_see(&u[TECH_A], &issue));
    assert!(!may_see(&u[CLEANER], &issue));
    assert!(!may_see(&u[OUTSIDER], &issue));
    assert_eq!(
        apply(
            &issue,
            &u[CLEANER],
            Action::Comment {
                text: "路过看了一下".into()
            },
            t0()
        ),
        Err(RuleError::OtherTeam)
    );
    assert!(
        apply(
            &issue,
            &u[TECH_A],
            Action::Comment {
                text: "明天处理".into()
            },
            t0()
        )
        .is_ok()
    );
}

#[test]
fn visibility_in_a_store_is_the_rule_itself() {
    let e = estate();
    let mut issues = Vec::new();
    for team in Team::ALL {
        for assignee in [None, Some(e.users[CLEANER].user_id)] {
            for source in [Source::Patrol, Source::Desk] {
                let mut i = reported(&e);
                i.team = team;
                i.assignee_id = assignee;
                i.source = source;
                issues.push(i);
            }
        }
    }
    let mut elsewhere = reported(&e);
    elsewhere.site_id = SiteId::new();
    issues.push(elsewhere);
    let customer_service = Actor {
        user_id: UserId::new(),
        role: Role::Technician,
        team: Some(Team::CustomerService),
        site_ids: vec![e.site.id],
    };
    for who in e.users.iter().chain([&customer_service]) {
        let v = Visibility::of(who);
        for i in &issues {
            assert_eq!(
                v.contains(i),
                may_see(who, i),
                "{:?} {:?}",
                who.role,
                i.team
            );
        }
    }
}

#[test]
fn what_people_type_is_bounded() {
    let e = estate();
    let u = &e.users;
    let mut r = broken_light(&e, false, Severity::Routine);
    r.title = "灯".repeat(201);
    assert_eq!(
        report(&u[PATROL], &e.site, r, &Found::default())
            .unwrap_err()
            .code(),
        "too_long"
    );
    let mut r = broken_light(&e, false, Severity::Routine);
    r.photos = vec!["ab".repeat(32); 11];
    assert_eq!(
        report(&u[PATROL], &e.site, r, &Found::default())
            .unwrap_err()
            .code(),
        "too_many_photos"
    );
    let issue = reported(&e);
    let comment = |n| Action::Comment {
        text: "字".repeat(n),
    };
    assert!(apply(&issue, &u[SUPER], comment(4000), t0()).is_ok());
    assert_eq!(
        apply(&issue, &u[SUPER], comment(4001), t0())
            .unwrap_err()
            .code(),
        "too_long"
    );
    let ask = Action::RequestExtension {
        reason: "因".repeat(1001),
        due_at: issue.due_at + SignedDuration::from_hours(1),
    };
    assert_eq!(
        apply(&issue, &u[SUPER], ask, t0()).unwrap_err().code(),
        "too_long"
    );
}

mod references {
    use super::*;
    use crate::checklist::Catalogue;
    use crate::demo;
    use crate::ids::{RunId, VisitId};
    use crate::labels::SiteKey;
    use crate::patrol::{Visit, VisitMethod};

    /// The demo estate, a patroller's round and a visit to its first checkpoint.
    struct Place {
        e: demo::Estate,
        patrol: Actor,
        run: PatrolRun,
        visit: Visit,
    }

    fn place() -> Place {
        let e = demo::estate("demo", "阳光花园", &SiteKey::generate().unwrap());
        let patrol = Actor::from(e.user("demo-patrol").unwrap());
        let run = crate::round::start(&patrol, &e.routes[0], RunId::new(), t0()).unwrap();
        let visit = Visit {
            id: VisitId::new(),
            run_id: run.id,
            checkpoint_id: e.routes[0].checkpoint_ids[0],
            method: VisitMethod::Manual,
            token: None,
            reason: Some("x".into()),
            at: t0(),
            flags: vec![],
        };
        Place {
            e,
            patrol,
            run,
            visit,
        }
    }

    impl Place {
        fn checkpoint(&self) -> &Checkpoint {
            let id = self.visit.checkpoint_id;
            self.e.checkpoints.iter().find(|c| c.id == id).unwrap()
        }

        fn zone(&self) -> &Zone {
            self.e.zone_of(self.visit.checkpoint_id).unwrap()
        }

        fn item(&self) -> &'static ChecklistItem {
            let template = Catalogue::standard().for_zone(self.zone().kind).unwrap();
            template
                .items
                .iter()
                .max_by_key(|i| i.fault.severity)
                .unwrap()
        }

        fn report(&self) -> Report {
            Report {
                issue_id: IssueId::new(),
                site_id: self.e.site.id,
                zone_id: Some(self.zone().id),
                checkpoint_id: Some(self.checkpoint().id),
                visit_id: Some(self.visit.id),
                item_key: Some(self.item().key.clone()),
                category: self.item().fault.category,
                severity: self.item().fault.severity,
                title: "检查发现故障".into(),
                note: None,
                photos: vec![],
                observed_at: t0(),
                source: Source::Patrol,
                fixed_on_spot: false,
            }
        }

        fn found(&self) -> Found<'_> {
            Found {
                zone: Some(self.zone()),
                checkpoint: Some(self.checkpoint()),
                visit: Some((&self.visit, &self.run)),
                item: Some(self.item()),
            }
        }

        fn refuse(&self, r: Report, found: &Found<'_>) -> &'static str {
            report(&self.patrol, &self.e.site, r, found)
                .unwrap_err()
                .code()
        }
    }

    #[test]
    fn a_report_from_a_visit_names_what_is_there() {
        let p = place();
        let t = report(&p.patrol, &p.e.site, p.report(), &p.found()).unwrap();
        assert_eq!(t.issue.checkpoint_id, Some(p.checkpoint().id));
        // A report of a visit alone takes the visit's checkpoint and zone.
        let bare = Report {
            zone_id: None,
            checkpoint_id: None,
            ..p.report()
        };
        let found = Found {
            zone: None,
            checkpoint: None,
            ..p.found()
        };
        let t = report(&p.patrol, &p.e.site, bare, &found).unwrap();
        assert_eq!(t.issue.checkpoint_id, Some(p.checkpoint().id));
    }

    #[test]
    fn ids_that_name_nothing_on_the_site_are_refused() {
        let p = place();
        let other = demo::estate("x", "翠湖苑", &SiteKey::generate().unwrap());
        let theirs = Found {
            zone: Some(&other.zones[0]),
            ..p.found()
        };
        let r = Report {
            zone_id: Some(other.zones[0].id),
            ..p.report()
        };
        assert_eq!(p.refuse(r, &theirs), "unknown_zone");
        let r = Report {
            checkpoint_id: Some(other.checkpoints[0].id),
            ..p.report()
        };
        let theirs = Found {
            checkpoint: Some(&other.checkpoints[0]),
            ..p.found()
        };
        assert_eq!(p.refuse(r, &theirs), "unknown_checkpoint");
        let nothing = Found {
            visit: None,
            ..p.found()
        };
        assert_eq!(p.refuse(p.report(), &nothing), "unknown_visit");
        let no_item = Found {
            item: None,
            ..p.found()
        };
        assert_eq!(p.refuse(p.report(), &no_item), "unknown_item");
        let without_visit = Report {
            visit_id: None,
            ..p.report()
        };
        assert_eq!(
            p.refuse(without_visit, &p.found()),
            "unknown_item",
            "an item belongs to a visit's checklist"
        );
    }

    #[test]
    fn a_report_agrees_with_itself_and_with_its_reporter() {
        let p = place();
        // A checkpoint of another zone than the one named.
        let elsewhere = p.e.zones.iter().find(|z| z.id != p.zone().id).unwrap();
        let r = Report {
            zone_id: Some(elsewhere.id),
            ..p.report()
        };
        let found = Found {
            zone: Some(elsewhere),
            ..p.found()
        };
        assert_eq!(p.refuse(r, &found), "place_mismatch");
        // A checkpoint other than the visit's.
        let next = p.e.routes[0].checkpoint_ids[1];
        let cp = p.e.checkpoints.iter().find(|c| c.id == next).unwrap();
        let r = Report {
            zone_id: None,
            checkpoint_id: Some(cp.id),
            ..p.report()
        };
        let found = Found {
            checkpoint: Some(cp),
            ..p.found()
        };
        assert_eq!(p.refuse(r, &found), "place_mismatch");
        // Someone else's visit.
        let boss = Actor::from(p.e.user("demo-super").unwrap());
        assert_eq!(
            report(&boss, &p.e.site, p.report(), &p.found())
                .unwrap_err()
                .code(),
            "unknown_visit"
        );
    }

    #[test]
    fn a_faults_severity_is_raised_never_lowered() {
        let p = place();
        let floor = p.item().fault.severity;
        let lower = Severity::ALL
            .into_iter()
            .filter(|s| *s < floor)
            .max()
            .expect("the visit's checklist has an item above routine");
        let r = Report {
            severity: lower,
            ..p.report()
        };
        assert_eq!(p.refuse(r, &p.found()), "severity_lowered");
        let r = Report {
            severity: Severity::Urgent,
            ..p.report()
        };
        assert_eq!(
            report(&p.patrol, &p.e.site, r, &p.found())
                .unwrap()
                .issue
                .severity,
            Severity::Urgent
        );
    }
}

#[test]
fn customer_service_calls_the_resident_back_after_closure() {
    let e = estate();
    let u = &e.users;
    let cs = Actor {
        user_id: UserId::new(),
        role: Role::Technician,
        team: Some(Team::CustomerService),
        site_ids: vec![e.site.id],
    };
    let mut desk = broken_light(&e, true, Severity::Routine);
    desk.source = Source::Desk;
    let closed = report(&u[PATROL], &e.site, desk.clone(), &Found::default())
        .unwrap()
        .issue;
    let call = |satisfied| Action::FollowUp {
        satisfied,
        note: Some("住户表示满意".into()),
    };
    let t = apply(&closed, &cs, call(true), t0()).unwrap();
    assert_eq!(t.audit.kind, AuditKind::FollowUp);
    assert_eq!(t.audit.accepted, Some(true));
    assert_eq!(
        t.issue.follow_up.map(|f| (f.by, f.satisfied)),
        Some((cs.user_id, true))
    );
    assert_eq!(t.issue.status, Status::Closed);
    assert!(apply(&closed, &u[SUPER], call(false), t0()).is_ok());
    assert_eq!(
        apply(&closed, &u[CLEANER], call(true), t0())
            .unwrap_err()
            .code(),
        "other_team",
        "another team's technician does not even see it"
    );
    let mut cleaners_job = closed.clone();
    cleaners_job.team = Team::Cleaning;
    assert_eq!(
        apply(&cleaners_job, &u[CLEANER], call(true), t0())
            .unwrap_err()
            .code(),
        "role_not_allowed"
    );
    let patrol_found = reported(&e);
    assert_eq!(
        apply(&patrol_found, &u[SUPER], call(true), t0())
            .unwrap_err()
            .code(),
        "no_resident"
    );
    desk.fixed_on_spot = false;
    desk.issue_id = IssueId::new();
    let open = report(&u[PATROL], &e.site, desk, &Found::default())
        .unwrap()
        .issue;
    assert_eq!(
        apply(&open, &cs, call(true), t0()).unwrap_err().code(),
        "invalid_transition"
    );
}
