//! One suite, run against every backend: what the rest of the server relies on a store to do,
//! one test per behaviour so that a failure names what broke. PostgreSQL runs when
//! `PATROL_TEST_DATABASE_URL` is set (`.ci/run` sets it), each test in a schema of its own.

use jiff::{SignedDuration, Timestamp};
use patrol_core::audit::{AuditEntry, AuditKind};
use patrol_core::blob::{BlobInfo, BlobKind};
use patrol_core::checklist::Catalogue;
use patrol_core::demo::Estate;
use patrol_core::ids::{DeviceId, IssueId, OpId, ResultId, UserId};
use patrol_core::issue::{Category, Issue, Severity, Source, Status};
use patrol_core::labels::SiteKey;
use patrol_core::patrol::Outcome;
use patrol_core::team::Team;

use super::*;

pub(super) fn issue(site: SiteId, team: Team, due: Timestamp, reporter: UserId) -> Issue {
    Issue {
        id: IssueId::new(),
        site_id: site,
        zone_id: None,
        checkpoint_id: None,
        visit_id: None,
        category: Category::Facility,
        severity: Severity::Routine,
        team,
        title: "灯不亮".into(),
        note: None,
        photos: vec![],
        source: Source::Patrol,
        observed_at: due - SignedDuration::from_hours(72),
        due_at: due,
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

/// One device's ops, numbered from 1 as a phone numbers them.
pub(super) struct Device {
    id: DeviceId,
    user: UserId,
    seq: u64,
}

impl Device {
    pub(super) async fn new(store: &dyn Store, user: UserId) -> Device {
        let id = DeviceId::new();
        store
            .touch_device(id, user, 0, Timestamp::now())
            .await
            .unwrap();
        Device { id, user, seq: 0 }
    }

    /// The next op's meta.
    pub(super) fn next(&mut self) -> OpMeta {
        self.seq += 1;
        self.at(self.seq)
    }

    /// An op at a given `seq`.
    fn at(&self, seq: u64) -> OpMeta {
        OpMeta {
            op_id: OpId::new(),
            device_id: self.id,
            seq,
            kind: "issue.report".into(),
            user_id: self.user,
            device_at: Timestamp::now(),
            server_at: Timestamp::now(),
        }
    }
}

fn everyone(site: SiteId) -> Visibility {
    Visibility {
        sites: vec![site],
        jobs_of: None,
    }
}

async fn ids(store: &dyn Store, v: &Visibility, entity: &str) -> Vec<String> {
    let page = store.changes(v, 0, 10_000).await.unwrap();
    page.changes
        .into_iter()
        .filter(|c| c.entity == entity && c.data.is_some())
        .map(|c| c.id)
        .collect()
}

/// A migrated store holding the demo estate, its users and the standard templates.
pub(super) async fn estate(store: &dyn Store) -> (Estate, SiteKey) {
    store.migrate().await.unwrap();
    load_estate(store).await
}

/// The demo estate's reference data and users, in a store already migrated.
pub(super) async fn load_estate(store: &dyn Store) -> (Estate, SiteKey) {
    let key = SiteKey::generate().unwrap();
    let estate = patrol_core::demo::estate("conf", "一致性小区", &key);
    store
        .put_site(&estate.site, &key.secret_base64())
        .await
        .unwrap();
    for z in &estate.zones {
        store.put_zone(z).await.unwrap();
    }
    for c in &estate.checkpoints {
        store.put_checkpoint(c).await.unwrap();
    }
    for r in &estate.routes {
        store.put_route(r).await.unwrap();
    }
    for u in &estate.users {
        store.add_user(u, "hash").await.unwrap();
    }
    (estate, key)
}

/// A round of `route` begun now by the demo patroller.
pub(super) fn round_of(
    estate: &Estate,
    route: &patrol_core::route::Route,
) -> patrol_core::patrol::PatrolRun {
    let patroller = patrol_core::user::Actor::from(estate.user("demo-patrol").unwrap());
    patrol_core::round::start(
        &patroller,
        route,
        patrol_core::ids::RunId::new(),
        Timestamp::now(),
    )
    .unwrap()
}

fn report_of(issue: &Issue, now: Timestamp) -> Decision {
    let mut audit = AuditEntry::new(
        issue.id,
        AuditKind::Report,
        Some(issue.reported_by),
        now,
        None,
        Status::Open,
    );
    audit.server_at = Some(now);
    Decision::Apply(vec![Write::Issue(issue.clone()), Write::Audit(audit)])
}

async fn put(store: &dyn Store, i: &Issue) {
    let w = Write::Issue(i.clone());
    assert!(
        store
            .apply_system(i.id, &move |_| Decision::Apply(vec![w.clone()]))
            .await
            .unwrap()
    );
}

/// The console's counts by team: every open issue the viewer may see, the overdue among them
/// as the SLA rule has it; closed issues and other sites not at all.
async fn open_counts_by_team_follow_the_queue_and_the_sla_rule(store: &dyn Store) {
    let (estate, _) = estate(store).await;
    let site = estate.site.id;
    let patroller = estate.user("demo-patrol").unwrap();
    let tech = estate.user("demo-tech").unwrap();
    let now = Timestamp::now();
    let due = |h: i64| now + SignedDuration::from_hours(h);
    let mut all = Vec::new();
    for (team, hours, status) in [
        (Team::Engineering, -5, Status::Open),
        (Team::Engineering, -1, Status::InProgress),
        (Team::Engineering, 30, Status::Assigned),
        (Team::Engineering, -9, Status::Closed),
        (Team::Cleaning, 2, Status::Open),
        (Team::Cleaning, -2, Status::Resolved),
        (Team::Security, -3, Status::Closed),
    ] {
        let mut i = issue(site, team, due(hours), patroller.id);
        i.status = status;
        put(store, &i).await;
        all.push(i);
    }
    // Another site's open issue, overdue: counted for nobody who sees only this site.
    let key = SiteKey::generate().unwrap();
    let other = patrol_core::demo::estate("conf2", "第二小区", &key).site;
    store.put_site(&other, &key.secret_base64()).await.unwrap();
    put(
        store,
        &issue(other.id, Team::Engineering, due(-1), patroller.id),
    )
    .await;

    let expected = |v: &Visibility| {
        let mut by: std::collections::BTreeMap<Team, (u64, u64)> = Default::default();
        for i in all.iter().filter(|i| v.contains(i) && i.status.is_active()) {
            let e = by.entry(i.team).or_default();
            e.0 += 1;
            if patrol_core::sla::issue_state(i, now) == Some(patrol_core::sla::SlaState::Overdue) {
                e.1 += 1;
            }
        }
        by.into_iter()
            .map(|(team, (open, overdue))| TeamCount {
                team,
                open,
                overdue,
            })
            .collect::<Vec<_>>()
    };
    let everyone = everyone(site);
    let sorted = |mut v: Vec<TeamCount>| {
        v.sort_by_key(|c| c.team);
        v
    };
    let got = store
        .open_counts(&IssueFilter::all(everyone.clone()), now)
        .await
        .unwrap();
    assert_eq!(sorted(got.clone()), expected(&everyone));
    let of = |team| got.iter().find(|c| c.team == team).copied();
    assert_eq!(
        (
            of(Team::Engineering),
            of(Team::Cleaning),
            of(Team::Security)
        ),
        (
            Some(TeamCount {
                team: Team::Engineering,
                open: 3,
                overdue: 2
            }),
            Some(TeamCount {
                team: Team::Cleaning,
                open: 2,
                overdue: 1
            }),
            None
        )
    );
    // A technician counts what they see in the queue: their team's, and jobs given to them.
    let theirs = Visibility::of(&patrol_core::user::Actor::from(tech));
    assert_eq!(
        sorted(
            store
                .open_counts(&IssueFilter::all(theirs.clone()), now)
                .await
                .unwrap()
        ),
        expected(&theirs)
    );
    let nowhere = IssueFilter {
        site: Some(SiteId::new()),
        ..IssueFilter::all(everyone)
    };
    assert!(store.open_counts(&nowhere, now).await.unwrap().is_empty());
}

async fn migrations_run_twice_and_secrets_are_made_once(store: &dyn Store) {
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    let a = store.secret("jwt", &|| "first".into()).await.unwrap();
    let b = store.secret("jwt", &|| "second".into()).await.unwrap();
    assert_eq!((a.as_str(), b.as_str()), ("first", "first"));
}

async fn reference_data_round_trips_and_names_are_unique(store: &dyn Store) {
    let (estate, key) = estate(store).await;
    let site = &estate.site;
    assert_eq!(store.site(site.id).await.unwrap().as_ref(), Some(site));
    assert_eq!(
        store.site_by_code("conf").await.unwrap().as_ref(),
        Some(site)
    );
    assert_eq!(
        store.site_signing_key(site.id).await.unwrap(),
        Some(key.secret_base64())
    );
    let mut clash = site.clone();
    clash.id = SiteId::new();
    assert!(matches!(
        store.put_site(&clash, "k").await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.checkpoints(site.id).await.unwrap(),
        estate.checkpoints,
        "checkpoints in the order they were made"
    );
    assert_eq!(
        store.route(estate.routes[0].id).await.unwrap().as_ref(),
        Some(&estate.routes[0])
    );
    let mut by_name = estate.routes.clone();
    by_name.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(store.routes(site.id).await.unwrap(), by_name);
    assert!(store.routes(SiteId::new()).await.unwrap().is_empty());
    let patroller = estate.user("demo-patrol").unwrap();
    assert!(matches!(
        store.add_user(patroller, "hash").await,
        Err(StoreError::Conflict(_))
    ));
    let acct = store.account("demo-patrol").await.unwrap().unwrap();
    assert_eq!(
        (&acct.user, acct.password_hash.as_str()),
        (patroller, "hash")
    );
    assert!(store.account("nobody").await.unwrap().is_none());
}

async fn the_newest_template_of_a_kind_is_found(store: &dyn Store) {
    store.migrate().await.unwrap();
    let standard = &Catalogue::standard().templates[0];
    assert!(
        store
            .template_for(standard.zone_kind)
            .await
            .unwrap()
            .is_none()
    );
    store.put_template(standard).await.unwrap();
    let mut newer = standard.clone();
    newer.id = patrol_core::ids::TemplateId::new();
    newer.version += 1;
    store.put_template(&newer).await.unwrap();
    assert_eq!(
        store.template_for(standard.zone_kind).await.unwrap(),
        Some(newer)
    );
}

/// A push takes the reference data from the process's cache while nothing changed it; every
/// kind of change — a zone, a checkpoint, a route, a checklist, a site and its new label key —
/// shows at the next push.
async fn the_reference_data_of_a_push_follows_every_change(store: &dyn Store) {
    let (estate, _) = estate(store).await;
    let zone = estate.zones[0].clone();
    let before = store.reference().await.unwrap();
    assert_eq!(
        before.zone(store, zone.id).await.unwrap().as_ref(),
        Some(&zone)
    );
    let again = store.reference().await.unwrap();
    assert!(
        std::sync::Arc::ptr_eq(&before, &again),
        "nothing changed: the same cache"
    );

    let mut renamed = zone.clone();
    renamed.name = "新名字".into();
    store.put_zone(&renamed).await.unwrap();
    let after = store.reference().await.unwrap();
    assert!(after.generation() > before.generation());
    assert_eq!(after.zone(store, zone.id).await.unwrap(), Some(renamed));

    let moves = |label: &str, then: i64, now: i64| {
        assert!(now > then, "{label} did not move the reference data on");
        now
    };
    let mut seen = after.generation();
    let mut checkpoint = estate.checkpoints[0].clone();
    checkpoint.name = "改名".into();
    store.put_checkpoint(&checkpoint).await.unwrap();
    let r = store.reference().await.unwrap();
    assert_eq!(
        r.checkpoint(store, checkpoint.id).await.unwrap(),
        Some(checkpoint.clone())
    );
    seen = moves("a checkpoint", seen, r.generation());
    let mut route = estate.routes[0].clone();
    route.name = "夜巡".into();
    store.put_route(&route).await.unwrap();
    let r = store.reference().await.unwrap();
    assert_eq!(r.route(store, route.id).await.unwrap(), Some(route));
    seen = moves("a route", seen, r.generation());
    let mut template = Catalogue::standard().templates[0].clone();
    template.id = patrol_core::ids::TemplateId::new();
    template.version += 1;
    store.put_template(&template).await.unwrap();
    let r = store.reference().await.unwrap();
    assert_eq!(
        r.template(store, template.zone_kind)
            .await
            .unwrap()
            .as_deref(),
        Some(&template)
    );
    seen = moves("a checklist", seen, r.generation());
    let key = SiteKey::generate().unwrap();
    store
        .rekey_site(&estate.site, &key.secret_base64(), &[checkpoint])
        .await
        .unwrap();
    moves(
        "a new label key",
        seen,
        store.reference().await.unwrap().generation(),
    );
}

async fn refresh_tokens_are_used_once_and_a_replay_revokes_them(store: &dyn Store) {
    let (estate, _) = estate(store).await;
    let patroller = estate.user("demo-patrol").unwrap();
    let now = Timestamp::now();
    let later = now + SignedDuration::from_hours(1);
    for t in ["t1", "t2"] {
        store
            .add_refresh_token(t, patroller.id, later)
            .await
            .unwrap();
    }
    store
        .add_refresh_token("old", patroller.id, now - SignedDuration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(store.use_refresh_token("old", now).await.unwrap(), None);
    assert_eq!(
        store.use_refresh_token("t1", now).await.unwrap(),
        Some(patroller.id)
    );
    assert_eq!(store.use_refresh_token("t1", now).await.unwrap(), None);
    assert_eq!(
        store.use_refresh_token("t2", now).await.unwrap(),
        None,
        "revoked by the replay"
    );
}

async fn an_op_applies_once_and_its_decision_sees_the_state(store: &dyn Store) {
    let (estate, _) = estate(store).await;
    let patroller = estate.user("demo-patrol").unwrap();
    let now = Timestamp::now();
    let new_issue = issue(
        estate.site.id,
        Team::Engineering,
        now + SignedDuration::from_hours(72),
        patroller.id,
    );
    let report = |s: &Snapshot| {
        if s.issue.is_some() {
            return Decision::Reject(Refusal::new("exists", "x"));
        }
        report_of(&new_issue, now)
    };
    let keys = Keys {
        issue: Some(new_issue.id),
        ..Keys::default()
    };
    let mut phone = Device::new(store, patroller.id).await;
    let first = phone.next();
    assert_eq!(
        store.apply_op(&first, keys, &report).await.unwrap(),
        OpOutcome::Applied
    );
    assert_eq!(
        store.apply_op(&first, keys, &report).await.unwrap(),
        OpOutcome::Duplicate(None)
    );
    assert_eq!(
        store.apply_op(&phone.next(), keys, &report).await.unwrap(),
        OpOutcome::Rejected(Refusal::new("exists", "x")),
        "the same issue under a new op: the decision sees it exists"
    );
    assert_eq!(
        store.issue(new_issue.id).await.unwrap().as_ref(),
        Some(&new_issue)
    );
    assert_eq!(store.audit(new_issue.id).await.unwrap().len(), 1);
}

async fn a_refused_op_repeated_says_why_again(store: &dyn Store) {
    let (estate, _) = estate(store).await;
    let mut phone = Device::new(store, estate.user("demo-patrol").unwrap().id).await;
    let refused = phone.next();
    let no = |_: &Snapshot| Decision::Reject(Refusal::new("own_fix", "不能"));
    assert_eq!(
        store
            .apply_op(&refused, Keys::default(), &no)
            .await
            .unwrap(),
        OpOutcome::Rejected(Refusal::new("own_fix", "不能"))
    );
    assert_eq!(
        store
            .apply_op(&refused, Keys::default(), &no)
            .await
            .unwrap(),
        OpOutcome::Duplicate(Some(Refusal::new("own_fix", "不能")))
    );
}

/// Found by the fault harness (tests/src/faults): a phone changes its own copy of an issue when
/// the person acts, before the op is pushed. When the server refused the op (another person
/// had got there first), the phone kept its own version for good — a sign-off by the wrong
/// person, say — unless the issue happened to change again. A refused op on an issue puts the
/// issue at the end of the feed, so the phone's next pull brings what it was refused against.
async fn a_refused_op_on_an_issue_sends_the_issue_again(store: &dyn Store) {
    let (estate, _) = estate(store).await;
    let site = estate.site.id;
    let patroller = estate.user("demo-patrol").unwrap();
    let tech = estate.user("demo-tech").unwrap();
    let now = Timestamp::now();
    let job = issue(
        site,
        Team::Engineering,
        now + SignedDuration::from_hours(72),
        patroller.id,
    );
    put(store, &job).await;
    let all = everyone(site);
    let techs = Visibility::of(&patrol_core::user::Actor::from(tech));
    let cursor = store.changes(&all, 0, 10_000).await.unwrap().cursor;
    let tech_cursor = store.changes(&techs, 0, 10_000).await.unwrap().cursor;

    let mut phone = Device::new(store, tech.id).await;
    let keys = Keys {
        issue: Some(job.id),
        ..Keys::default()
    };
    let late = |_: &Snapshot| Decision::Reject(Refusal::new("invalid_transition", "晚了"));
    let refused = phone.next();
    assert_eq!(
        store.apply_op(&refused, keys, &late).await.unwrap(),
        OpOutcome::Rejected(Refusal::new("invalid_transition", "晚了"))
    );
    for (v, from) in [(&all, cursor), (&techs, tech_cursor)] {
        let page = store.changes(v, from, 100).await.unwrap();
        let issues: Vec<_> = page
            .changes
            .iter()
            .filter(|c| c.entity == "issue")
            .collect();
        assert_eq!(issues.len(), 1, "{:?}", page.changes);
        assert_eq!(issues[0].id, job.id.to_string());
        let sent: Issue = serde_json::from_value(issues[0].data.clone().unwrap()).unwrap();
        assert_eq!(sent, job, "the state the op was refused against");
    }

    // A refusal that names no issue, and a repeat of the refused op, add nothing.
    let cursor = store.changes(&all, 0, 10_000).await.unwrap().cursor;
    let nothing = |_: &Snapshot| Decision::Reject(Refusal::new("unknown_issue", "无"));
    store
        .apply_op(&phone.next(), Keys::default(), &nothing)
        .await
        .unwrap();
    assert!(matches!(
        store.apply_op(&refused, keys, &late).await.unwrap(),
        OpOutcome::Duplicate(Some(_))
    ));
    assert!(
        store
            .changes(&all, cursor, 100)
            .await
            .unwrap()
            .changes
            .is_empty()
    );
}

async fn one_devices_ops_are_processed_in_seq_order(store: &dyn Store) {
    let (estate, _) = estate(store).await;
    let mut phone = Device::new(store, estate.user("demo-patrol").unwrap().id).await;
    let ok = |_: &Snapshot| Decision::Apply(Vec::new());
    // The third op arrives first: nothing is done, and the first is asked for.
    let third = phone.at(3);
    assert_eq!(
        store.apply_op(&third, Keys::default(), &ok).await.unwrap(),
        OpOutcome::OutOfOrder { expected: 1 }
    );
    let (first, second) = (phone.next(), phone.next());
    assert_eq!(
        store.apply_op(&first, Keys::default(), &ok).await.unwrap(),
        OpOutcome::Applied
    );
    assert_eq!(
        store.apply_op(&third, Keys::default(), &ok).await.unwrap(),
        OpOutcome::OutOfOrder { expected: 2 },
        "refused before, so still unknown"
    );
    assert_eq!(
        store.apply_op(&second, Keys::default(), &ok).await.unwrap(),
        OpOutcome::Applied
    );
    assert_eq!(
        store.apply_op(&third, Keys::default(), &ok).await.unwrap(),
        OpOutcome::Applied
    );
    // Another op under a seq already used is stale; a repeat of a known one is a duplicate.
    let stale = phone.at(2);
    assert!(matches!(
        store.apply_op(&stale, Keys::default(), &ok).await.unwrap(),
        OpOutcome::Rejected(r) if r.code == "stale_seq"
    ));
    assert_eq!(
        store.apply_op(&second, Keys::default(), &ok).await.unwrap(),
        OpOutcome::Duplicate(None)
    );
    // Devices do not share a sequence.
    let mut other = Device::new(store, phone.user).await;
    assert_eq!(
        store
            .apply_op(&other.next(), Keys::default(), &ok)
            .await
            .unwrap(),
        OpOutcome::Applied
    );
}

async fn a_reused_id_refuses_the_op_and_leaves_nothing(store: &dyn Store) {
    let (estate, _) = estate(store).await;
    let patroller = estate.user("demo-patrol").unwrap();
    let mut phone = Device::new(store, patroller.id).await;
    let route = &estate.routes[0];
    let run = round_of(&estate, route);
    let visit = |cp| patrol_core::patrol::Visit {
        id: patrol_core::ids::VisitId::new(),
        run_id: run.id,
        checkpoint_id: cp,
        method: patrol_core::patrol::VisitMethod::Manual,
        token: None,
        reason: Some("x".into()),
        at: Timestamp::now(),
        flags: vec![],
    };
    let (a, b) = (
        visit(route.checkpoint_ids[0]),
        visit(route.checkpoint_ids[1]),
    );
    let setup = vec![
        Write::Run(run.clone()),
        Write::Visit(a.clone()),
        Write::Visit(b.clone()),
    ];
    let apply = |w: Vec<Write>| move |_: &Snapshot| Decision::Apply(w.clone());
    assert_eq!(
        store
            .apply_op(&phone.next(), Keys::default(), &apply(setup))
            .await
            .unwrap(),
        OpOutcome::Applied
    );
    let result = |visit_id, id| {
        Write::Result(patrol_core::patrol::ItemResult {
            id,
            visit_id,
            item_key: "k".into(),
            outcome: Outcome::Ok,
            reading: None,
            note: None,
            photos: vec![],
        })
    };
    let id = ResultId::new();
    assert_eq!(
        store
            .apply_op(
                &phone.next(),
                Keys::default(),
                &apply(vec![result(a.id, id)])
            )
            .await
            .unwrap(),
        OpOutcome::Applied
    );
    // The same result id at another visit, with a new run row written before it.
    let mut later = run.clone();
    later.missed = vec![];
    later.finished_at = Some(Timestamp::now());
    let clash = vec![Write::Run(later), result(b.id, id)];
    assert_eq!(
        store
            .apply_op(&phone.next(), Keys::default(), &apply(clash))
            .await
            .unwrap(),
        OpOutcome::Rejected(conflict())
    );
    assert_eq!(
        store.run(run.id).await.unwrap().unwrap().finished_at,
        None,
        "the op's other writes were rolled back"
    );
    // The device's sequence moved on: the next op is taken.
    assert_eq!(
        store
            .apply_op(&phone.next(), Keys::default(), &apply(vec![]))
            .await
            .unwrap(),
        OpOutcome::Applied
    );
}

async fn a_rounds_visits_are_loaded_with_it(store: &dyn Store) {
    let (estate, _) = estate(store).await;
    let patroller = estate.user("demo-patrol").unwrap();
    let mut phone = Device::new(store, patroller.id).await;
    let route = &estate.routes[0];
    let run = round_of(&estate, route);
    let at = |s| Timestamp::now() + SignedDuration::from_secs(s);
    let visits: Vec<_> = (0..3)
        .map(|n| patrol_core::patrol::Visit {
            id: patrol_core::ids::VisitId::new(),
            run_id: run.id,
            checkpoint_id: route.checkpoint_ids[n],
            method: patrol_core::patrol::VisitMethod::Manual,
            token: None,
            reason: Some("x".into()),
            at: at(10 * (3 - n as i64)),
            flags: vec![],
        })
        .collect();
    let mut writes = vec![Write::Run(run.clone())];
    writes.extend(visits.iter().cloned().map(Write::Visit));
    let w = writes.clone();
    store
        .apply_op(&phone.next(), Keys::default(), &move |_| {
            Decision::Apply(w.clone())
        })
        .await
        .unwrap();
    let seen = std::sync::Mutex::new(None);
    let keys = Keys {
        visit: Some(visits[0].id),
        run_visits: true,
        ..Keys::default()
    };
    store
        .apply_op(&phone.next(), keys, &|s: &Snapshot| {
            *seen.lock().unwrap() = Some(s.clone());
            Decision::Apply(vec![])
        })
        .await
        .unwrap();
    let s = seen.into_inner().unwrap().unwrap();
    assert_eq!(s.run.as_ref(), Some(&run), "the visit's round");
    let order: Vec<_> = s.visits.iter().map(|v| v.id).collect();
    assert_eq!(
        order,
        [visits[2].id, visits[1].id, visits[0].id],
        "in the order they were made"
    );
    assert_eq!(
        store.visit(visits[1].id).await.unwrap().as_ref(),
        Some(&visits[1])
    );
}

async fn the_queue_is_filtered_by_visibility_and_paged_by_due_time(store: &dyn Store) {
    let (estate, _) = estate(store).await;
    let site = estate.site.id;
    let patroller = estate.user("demo-patrol").unwrap();
    let tech = estate.user("demo-tech").unwrap();
    let now = Timestamp::now();
    let due = |h: i64| now + SignedDuration::from_hours(h);
    let soon = issue(site, Team::Cleaning, due(2), patroller.id);
    let late = issue(site, Team::Engineering, due(-1), patroller.id);
    let mut far = issue(site, Team::Engineering, due(72), patroller.id);
    far.assignee_id = Some(tech.id);
    // Same due time as `far`: the id breaks the tie.
    let mut twin = issue(site, Team::Cleaning, due(72), patroller.id);
    twin.assignee_id = Some(tech.id);
    for i in [&soon, &late, &far, &twin] {
        put(store, i).await;
    }
    let all = IssueFilter::all(everyone(site));
    let got = store.issues(&all, None, 100).await.unwrap();
    let mut tied = [far.id, twin.id];
    tied.sort();
    assert_eq!(
        got.iter().map(|i| i.id).collect::<Vec<_>>(),
        [late.id, soon.id, tied[0], tied[1]]
    );
    // Pages of one follow each other without a gap or a repeat.
    let mut after = None;
    let mut paged = Vec::new();
    loop {
        let page = store.issues(&all, after, 1).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(QueueCursor::after(last));
        paged.extend(page.iter().map(|i| i.id));
    }
    assert_eq!(paged, got.iter().map(|i| i.id).collect::<Vec<_>>());
    let eng = IssueFilter {
        team: Some(Team::Engineering),
        ..all.clone()
    };
    assert_eq!(store.issues(&eng, None, 100).await.unwrap().len(), 2);
    let overdue = IssueFilter {
        overdue_at: Some(now),
        ..all.clone()
    };
    assert_eq!(
        store.issues(&overdue, None, 100).await.unwrap()[0].id,
        late.id
    );
    let elsewhere = IssueFilter {
        site: Some(SiteId::new()),
        ..all.clone()
    };
    assert!(
        store
            .issues(&elsewhere, None, 100)
            .await
            .unwrap()
            .is_empty()
    );
    // A technician: their team's jobs, and another team's assigned to them.
    let theirs = Visibility::of(&patrol_core::user::Actor::from(tech));
    let mut got: Vec<_> = store
        .issues(&IssueFilter::all(theirs.clone()), None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    got.sort();
    let mut want = vec![late.id, far.id, twin.id];
    want.sort();
    assert_eq!(got, want);
    for i in [&soon, &late, &far, &twin] {
        assert_eq!(
            want.contains(&i.id),
            theirs.contains(i),
            "the store's filter is the rule's"
        );
    }
    // Customer service: front-desk reports of every team, to call the residents back.
    let mut from_desk = issue(site, Team::Engineering, due(5), patroller.id);
    from_desk.source = patrol_core::issue::Source::Desk;
    put(store, &from_desk).await;
    let calls_back = Visibility {
        sites: vec![site],
        jobs_of: Some((Some(Team::CustomerService), UserId::new())),
    };
    let got: Vec<_> = store
        .issues(&IssueFilter::all(calls_back.clone()), None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(got, [from_desk.id]);
    assert!(calls_back.contains(&from_desk) && !calls_back.contains(&late));
    assert_eq!(store.active_issues().await.unwrap().len(), 5);
}

async fn the_change_feed_shows_each_viewer_what_they_may_see(store: &dyn Store) {
    let (estate, key) = estate(store).await;
    let site = estate.site.id;
    store
        .put_template(&Catalogue::standard().templates[0])
        .await
        .unwrap();
    let patroller = estate.user("demo-patrol").unwrap();
    let cleaner = estate.user("demo-cleaner").unwrap();
    let now = Timestamp::now();
    let soon = issue(
        site,
        Team::Cleaning,
        now + SignedDuration::from_hours(2),
        patroller.id,
    );
    let eng = issue(site, Team::Engineering, now, patroller.id);
    let mut phone = Device::new(store, patroller.id).await;
    for i in [&soon, &eng] {
        let keys = Keys {
            issue: Some(i.id),
            ..Keys::default()
        };
        let d = report_of(i, now);
        store
            .apply_op(&phone.next(), keys, &move |_| d.clone())
            .await
            .unwrap();
    }
    let all = everyone(site);
    assert_eq!(
        ids(store, &all, "checkpoint").await.len(),
        estate.checkpoints.len()
    );
    assert_eq!(ids(store, &all, "issue").await.len(), 2);
    assert_eq!(
        ids(store, &all, "template").await.len(),
        1,
        "templates are for everyone"
    );
    assert_eq!(ids(store, &all, "user").await.len(), estate.users.len());
    let cleaners = Visibility::of(&patrol_core::user::Actor::from(cleaner));
    assert_eq!(
        ids(store, &cleaners, "issue").await,
        [soon.id.to_string()],
        "a technician sees their team's jobs"
    );
    assert!(
        ids(store, &everyone(SiteId::new()), "checkpoint")
            .await
            .is_empty(),
        "nothing of other sites"
    );
    let mut cursor = 0;
    let mut paged = 0;
    loop {
        let page = store.changes(&all, cursor, 7).await.unwrap();
        assert!(page.changes.len() <= 7);
        paged += page.changes.len();
        cursor = page.cursor;
        if !page.more {
            break;
        }
    }
    let whole = store.changes(&all, 0, 10_000).await.unwrap();
    assert_eq!(paged, whole.changes.len());
    assert!(
        store
            .changes(&all, cursor, 100)
            .await
            .unwrap()
            .changes
            .is_empty()
    );
    // An update moves an entity to the end of the feed, once.
    let mut renamed = estate.checkpoints[0].clone();
    renamed.name = "新名字".into();
    store.put_checkpoint(&renamed).await.unwrap();
    let after = store.changes(&all, cursor, 100).await.unwrap();
    assert_eq!(after.changes.len(), 1);
    assert_eq!(after.changes[0].data.as_ref().unwrap()["name"], "新名字");
    let issue_change = whole.changes.iter().find(|c| c.entity == "issue").unwrap();
    assert!(
        issue_change
            .data
            .as_ref()
            .unwrap()
            .get("escalated")
            .is_some()
    );
    assert!(
        !serde_json::to_string(&whole.changes)
            .unwrap()
            .contains(&key.secret_base64()),
        "the label secret never leaves"
    );
}

async fn a_pull_page_is_bounded_in_bytes_too(store: &dyn Store) {
    let (estate, _) = estate(store).await;
    let site = estate.site.id;
    let patroller = estate.user("demo-patrol").unwrap();
    let now = Timestamp::now();
    // Issues of the largest size a person may write: far more than a megabyte in all.
    let mut written = Vec::new();
    for n in 0..150 {
        let mut i = issue(
            site,
            Team::Cleaning,
            now + SignedDuration::from_hours(n),
            patroller.id,
        );
        i.title = "标".repeat(200);
        i.note = Some("字".repeat(4000));
        put(store, &i).await;
        written.push(i.id.to_string());
    }
    let all = everyone(site);
    let first = store.changes(&all, 0, 2000).await.unwrap();
    let size: usize = serde_json::to_string(&first.changes).unwrap().len();
    assert!(first.more, "a page stops short of everything");
    assert!(
        size < 2 * patrol_core::bounds::MAX_PULL_PAGE_BYTES,
        "{size} bytes"
    );
    // Paging on gets every issue once.
    let mut seen: Vec<String> = Vec::new();
    let mut cursor = 0;
    loop {
        let page = store.changes(&all, cursor, 2000).await.unwrap();
        seen.extend(
            page.changes
                .into_iter()
                .filter(|c| c.entity == "issue")
                .map(|c| c.id),
        );
        cursor = page.cursor;
        if !page.more {
            break;
        }
    }
    seen.sort();
    written.sort();
    assert_eq!(seen, written);
}

async fn blobs_are_recorded_once_with_their_header(store: &dyn Store) {
    store.migrate().await.unwrap();
    let now = Timestamp::now();
    let sha = "ab".repeat(32);
    let info = BlobInfo {
        kind: BlobKind::Png,
        width: 1200,
        height: 400,
    };
    assert!(!store.has_blob(&sha).await.unwrap());
    assert!(store.add_blob(&sha, 1000, &info, now).await.unwrap());
    assert!(!store.add_blob(&sha, 1000, &info, now).await.unwrap());
    assert!(store.has_blob(&sha).await.unwrap());
    let found = store.blobs(&[sha.clone(), "cd".repeat(32)]).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[&sha], Some(info));
    assert!(store.blobs(&[]).await.unwrap().is_empty());
}

// ---- reports and archive ----

/// An instant given as wall-clock time in Shanghai, the demo estate's time zone.
fn shanghai(local: &str) -> Timestamp {
    local
        .parse::<jiff::civil::DateTime>()
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap())
        .unwrap()
        .timestamp()
}

fn month(s: &str) -> patrol_core::report::Month {
    s.parse().unwrap()
}

fn range(m: &str) -> (Timestamp, Timestamp) {
    month(m)
        .range(&jiff::tz::TimeZone::get("Asia/Shanghai").unwrap())
        .unwrap()
}

/// A finished round of `route` on `site` started at `at`, with a visit at each of its first
/// `n` checkpoints and an answer at each, written as the sync layer writes them.
async fn walked(
    store: &dyn Store,
    site: SiteId,
    route: &patrol_core::route::Route,
    patroller: UserId,
    at: Timestamp,
    n: usize,
) -> patrol_core::patrol::PatrolRun {
    let run = patrol_core::patrol::PatrolRun {
        id: patrol_core::ids::RunId::new(),
        site_id: site,
        route_id: route.id,
        patroller_id: patroller,
        started_at: at,
        finished_at: Some(at + SignedDuration::from_mins(30)),
        missed: vec![],
        flags: vec![],
    };
    let mut writes = vec![Write::Run(run.clone())];
    for (i, cp) in route.checkpoint_ids.iter().take(n).enumerate() {
        let visit = patrol_core::patrol::Visit {
            id: patrol_core::ids::VisitId::new(),
            run_id: run.id,
            checkpoint_id: *cp,
            method: patrol_core::patrol::VisitMethod::Manual,
            token: None,
            reason: Some("标签脱落".into()),
            at: at + SignedDuration::from_mins(i as i64 + 1),
            flags: vec![],
        };
        writes.push(Write::Visit(visit.clone()));
        writes.push(Write::Result(patrol_core::patrol::ItemResult {
            id: ResultId::new(),
            visit_id: visit.id,
            item_key: "lobby.lights".into(),
            outcome: Outcome::Ok,
            reading: None,
            note: Some("正常".into()),
            photos: vec![],
        }));
    }
    let applied = store
        .apply_system(IssueId::new(), &move |_| Decision::Apply(writes.clone()))
        .await
        .unwrap();
    assert!(applied);
    run
}

/// The archive entry of a month as the archive job records it when its files hold `holds`.
fn archived(m: &str, holds: RecordCounts, version: u32, files: &[&str]) -> ArchivedMonth {
    let (from, to) = range(m);
    ArchivedMonth {
        month: month(m),
        from,
        to,
        version,
        archived: holds,
        purged: RecordCounts::default(),
        archived_at: to,
        files: files
            .iter()
            .map(|name| ArchiveFile {
                name: (*name).to_owned(),
                bytes: 1234,
                sha256: "ab".repeat(32),
                written_at: to,
            })
            .collect(),
    }
}

/// Archive a month of `site` as it is stored now.
async fn archive_as_stored(store: &dyn Store, site: SiteId, m: &str) {
    let (from, to) = range(m);
    let holds = store.record_counts(site, from, to).await.unwrap();
    let entry = archived(m, holds, 1, &["report.xlsx", "report.csv"]);
    assert!(store.record_archive(site, &entry, None).await.unwrap());
}

async fn a_months_records_are_read_by_the_local_month(store: &dyn Store) {
    let (estate, _) = estate(store).await;
    let site = estate.site.id;
    let route = &estate.routes[0];
    let patroller = estate.user("demo-patrol").unwrap().id;
    // 00:10 on the 1st of November in Shanghai is still October in UTC.
    let first = walked(
        store,
        site,
        route,
        patroller,
        shanghai("2026-11-01T00:10"),
        3,
    )
    .await;
    let last = walked(
        store,
        site,
        route,
        patroller,
        shanghai("2026-11-30T23:50"),
        2,
    )
    .await;
    let before = walked(
        store,
        site,
        route,
        patroller,
        shanghai("2026-10-31T23:50"),
        1,
    )
    .await;
    walked(
        store,
        site,
        route,
        patroller,
        shanghai("2026-12-01T00:00"),
        1,
    )
    .await;
    let (from, to) = range("2026-11");
    let got = store.patrol_records(site, from, to).await.unwrap();
    assert_eq!(
        got.runs.iter().map(|r| r.id).collect::<Vec<_>>(),
        [first.id, last.id],
        "in the order they started, the month's only"
    );
    assert_eq!(got.visits.len(), 5);
    assert!(got.visits.windows(2).all(|w| w[0].at <= w[1].at));
    assert_eq!(got.results.len(), 5);
    assert!(
        got.visits
            .iter()
            .all(|v| v.run_id == first.id || v.run_id == last.id)
    );
    let counts = store.record_counts(site, from, to).await.unwrap();
    assert_eq!(
        (counts.runs, counts.visits, counts.results),
        (2, 5, 5),
        "{counts:?}"
    );
    assert!(counts.chars > 0);
    assert_eq!(
        store.first_round_at(site).await.unwrap(),
        Some(before.started_at)
    );
    assert_eq!(store.first_round_at(SiteId::new()).await.unwrap(), None);
    assert!(
        store
            .patrol_records(SiteId::new(), from, to)
            .await
            .unwrap()
            .runs
            .is_empty()
    );
    // The issues found in the month, each with its trail; not those found before or after.
    let reporter = estate.user("demo-patrol").unwrap().id;
    let found = |at: &str| {
        let mut i = issue(site, Team::Engineering, Timestamp::now(), reporter);
        i.observed_at = shanghai(at);
        i.due_at = i.observed_at + SignedDuration::from_hours(72);
        i
    };
    let (early, late, outside) = (
        found("2026-11-01T00:05"),
        found("2026-11-29T10:00"),
        found("2026-10-31T23:00"),
    );
    let mut phone = Device::new(store, reporter).await;
    for i in [&late, &early, &outside] {
        let d = report_of(i, i.observed_at);
        let keys = Keys {
            issue: Some(i.id),
            ..Keys::default()
        };
        store
            .apply_op(&phone.next(), keys, &move |_| d.clone())
            .await
            .unwrap();
    }
    let issues = store.issues_found(site, from, to).await.unwrap();
    assert_eq!(
        issues.iter().map(|(i, _)| i.id).collect::<Vec<_>>(),
        [early.id, late.id],
        "in the order they were found"
    );
    assert!(
        issues
            .iter()
            .all(|(i, trail)| trail.len() == 1 && trail[0].issue_id == i.id)
    );
    let people = store.site_users(site).await.unwrap();
    assert_eq!(people.len(), estate.users.len());
    assert!(people.windows(2).all(|w| w[0].username < w[1].username));
    assert!(store.site_users(SiteId::new()).await.unwrap().is_empty());
}

async fn a_months_archive_is_recorded_once_per_version_with_its_files(store: &dyn Store) {
    let (estate, _) = estate(store).await;
    let site = estate.site.id;
    assert!(store.archive(site).await.unwrap().is_empty());
    let holds = RecordCounts {
        runs: 3,
        visits: 30,
        results: 90,
        chars: 40_000,
    };
    let first = archived("2026-10", holds, 1, &["report.xlsx", "report.csv"]);
    assert!(store.record_archive(site, &first, None).await.unwrap());
    assert!(
        !store.record_archive(site, &first, None).await.unwrap(),
        "another process recorded it first"
    );
    let older = archived("2026-09", RecordCounts::default(), 1, &["report.csv"]);
    assert!(store.record_archive(site, &older, None).await.unwrap());
    // Written again after records arrived late: a new version beside the first files.
    let more = RecordCounts { runs: 4, ..holds };
    let second = archived("2026-10", more, 2, &["report-2.xlsx", "report-2.csv"]);
    assert!(store.record_archive(site, &second, Some(1)).await.unwrap());
    assert!(
        !store.record_archive(site, &second, Some(1)).await.unwrap(),
        "version 1 is gone"
    );
    let list = store.archive(site).await.unwrap();
    assert_eq!(
        list.iter().map(|m| m.month.to_string()).collect::<Vec<_>>(),
        ["2026-09", "2026-10"],
        "oldest first"
    );
    let oct = &list[1];
    assert_eq!((oct.version, oct.archived), (2, more));
    assert_eq!((oct.from, oct.to), range("2026-10"));
    assert_eq!(
        oct.files
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>(),
        ["report-2.csv", "report-2.xlsx", "report.csv", "report.xlsx"]
    );
    assert_eq!(oct.files[0].sha256, "ab".repeat(32));
    assert_eq!(oct.files[0].bytes, 1234);
    assert!(oct.holds(more) && !oct.holds(holds));
    assert!(store.archive(SiteId::new()).await.unwrap().is_empty());
}

async fn nothing_is_purged_before_its_month_is_archived(store: &dyn Store) {
    let (estate, _) = estate(store).await;
    let site = estate.site.id;
    let patroller = estate.user("demo-patrol").unwrap().id;
    walked(
        store,
        site,
        &estate.routes[0],
        patroller,
        shanghai("2026-09-10T09:00"),
        4,
    )
    .await;
    let (from, to) = range("2026-09");
    let stored = store.record_counts(site, from, to).await.unwrap();
    let later = shanghai("2027-01-01T00:00");
    assert_eq!(
        store
            .purge_batch(site, month("2026-09"), later, 100)
            .await
            .unwrap(),
        Purge::NotArchived
    );
    assert_eq!(store.record_counts(site, from, to).await.unwrap(), stored);
    // Another month's archive does not count for this one.
    archive_as_stored(store, site, "2026-10").await;
    assert_eq!(
        store
            .purge_batch(site, month("2026-09"), later, 100)
            .await
            .unwrap(),
        Purge::NotArchived
    );
    assert_eq!(store.record_counts(site, from, to).await.unwrap(), stored);
}

async fn a_month_changed_after_its_archive_is_not_purged(store: &dyn Store) {
    let (estate, _) = estate(store).await;
    let site = estate.site.id;
    let route = &estate.routes[0];
    let patroller = estate.user("demo-patrol").unwrap().id;
    walked(
        store,
        site,
        route,
        patroller,
        shanghai("2026-09-10T09:00"),
        4,
    )
    .await;
    archive_as_stored(store, site, "2026-09").await;
    // A phone that was offline syncs a round of the month after it was archived.
    walked(
        store,
        site,
        route,
        patroller,
        shanghai("2026-09-30T21:00"),
        2,
    )
    .await;
    let (from, to) = range("2026-09");
    let stored = store.record_counts(site, from, to).await.unwrap();
    assert_eq!(
        store
            .purge_batch(site, month("2026-09"), shanghai("2027-01-01T00:00"), 100)
            .await
            .unwrap(),
        Purge::Changed
    );
    assert_eq!(store.record_counts(site, from, to).await.unwrap(), stored);
}

async fn records_inside_the_retention_are_untouched_by_a_purge(store: &dyn Store) {
    let (estate, _) = estate(store).await;
    let site = estate.site.id;
    let route = &estate.routes[0];
    let patroller = estate.user("demo-patrol").unwrap().id;
    let old = walked(
        store,
        site,
        route,
        patroller,
        shanghai("2026-09-05T09:00"),
        3,
    )
    .await;
    let kept = walked(
        store,
        site,
        route,
        patroller,
        shanghai("2026-09-20T09:00"),
        5,
    )
    .await;
    let (from, to) = range("2026-09");
    let kept_before = store
        .patrol_records(site, kept.started_at, to)
        .await
        .unwrap();
    // An issue found on the old round is not a patrol record.
    let mut found = issue(site, Team::Engineering, Timestamp::now(), patroller);
    found.observed_at = old.started_at;
    put(store, &found).await;
    archive_as_stored(store, site, "2026-09").await;
    // The retention reaches back to the 15th: the 5th is older, the 20th inside.
    let cutoff = shanghai("2026-09-15T00:00");
    let purged = store
        .purge_batch(site, month("2026-09"), cutoff, 100)
        .await
        .unwrap();
    assert!(
        matches!(purged, Purge::Purged(c) if (c.runs, c.visits, c.results) == (1, 3, 3)),
        "{purged:?}"
    );
    assert_eq!(
        store
            .purge_batch(site, month("2026-09"), cutoff, 100)
            .await
            .unwrap(),
        Purge::Purged(RecordCounts::default()),
        "nothing more is due"
    );
    assert_eq!(store.run(old.id).await.unwrap(), None);
    let left = store.patrol_records(site, from, to).await.unwrap();
    assert_eq!(left, kept_before, "the round inside the retention, whole");
    assert!(store.issue(found.id).await.unwrap().is_some());
    // What was purged is counted against the archive, which still holds the month.
    let m = store.archive(site).await.unwrap().remove(0);
    assert_eq!(
        (m.purged.runs, m.purged.visits, m.purged.results),
        (1, 3, 3)
    );
    assert!(m.holds(store.record_counts(site, from, to).await.unwrap()));
}

async fn a_purge_stopped_after_a_batch_ends_as_one_uninterrupted_purge(store: &dyn Store) {
    let (estate, key) = estate(store).await;
    let route = &estate.routes[0];
    let patroller = estate.user("demo-patrol").unwrap().id;
    // A second site with the same rounds: one is purged a batch at a time, stopped after the
    // first and run again; the other in one go.
    let mut twin = patrol_core::demo::estate("conf-twin", "一致性小区二", &key).site;
    twin.id = SiteId::new();
    store.put_site(&twin, &key.secret_base64()).await.unwrap();
    let starts = [
        "2026-09-02T09:00",
        "2026-09-02T09:00",
        "2026-09-03T14:30",
        "2026-09-07T20:30",
        "2026-09-12T09:00",
        "2026-09-28T09:00",
    ];
    for site in [estate.site.id, twin.id] {
        for (n, at) in starts.iter().enumerate() {
            walked(store, site, route, patroller, shanghai(at), n + 1).await;
        }
        archive_as_stored(store, site, "2026-09").await;
    }
    let cutoff = shanghai("2026-09-20T00:00");
    let sep = month("2026-09");
    let batch = |site, limit| store.purge_batch(site, sep, cutoff, limit);
    // Stopped after one batch of two rounds: the two oldest went, the rest is as it was.
    let Purge::Purged(first) = batch(estate.site.id, 2).await.unwrap() else {
        panic!("the month is archived")
    };
    assert_eq!((first.runs, first.visits), (2, 1 + 2));
    let (from, to) = range("2026-09");
    let mid = store
        .patrol_records(estate.site.id, from, to)
        .await
        .unwrap();
    assert_eq!(
        mid.runs.iter().map(|r| r.started_at).collect::<Vec<_>>(),
        starts[2..].iter().map(|s| shanghai(s)).collect::<Vec<_>>()
    );
    // Run again, a batch at a time, until nothing is left to do.
    let mut batches = 1;
    while let Purge::Purged(c) = batch(estate.site.id, 2).await.unwrap() {
        if c.runs == 0 {
            break;
        }
        batches += 1;
    }
    assert_eq!(batches, 3, "five rounds were older than the retention");
    let Purge::Purged(whole) = batch(twin.id, 1000).await.unwrap() else {
        panic!("the twin is archived")
    };
    assert_eq!(whole.runs, 5);
    // Both sites end alike: the same rounds left, the same counts purged and stored.
    let state = |site| async move {
        let left = store.patrol_records(site, from, to).await.unwrap();
        let archive = store.archive(site).await.unwrap();
        (
            left.runs
                .iter()
                .map(|r| (r.started_at, r.finished_at))
                .collect::<Vec<_>>(),
            left.visits.iter().map(|v| v.at).collect::<Vec<_>>(),
            left.results.len(),
            store.record_counts(site, from, to).await.unwrap(),
            archive
                .iter()
                .map(|m| (m.month, m.archived, m.purged))
                .collect::<Vec<_>>(),
        )
    };
    let (stopped, straight) = (state(estate.site.id).await, state(twin.id).await);
    assert_eq!(stopped, straight);
    assert_eq!(stopped.0.len(), 1);
    assert_eq!(stopped.2, 6);
}

/// Runs each behaviour on SQLite, and on PostgreSQL when it is configured.
/// A console session of a user, begun now.
async fn session_of(store: &dyn Store, user: UserId, token: &str) -> ConsoleSession {
    let now = Timestamp::now();
    let s = ConsoleSession {
        token_hash: token.into(),
        user_id: user,
        csrf: "csrf".into(),
        device_id: DeviceId::new(),
        created_at: now,
        expires_at: now + SignedDuration::from_hours(1),
    };
    store.add_console_session(&s).await.unwrap();
    s
}

async fn a_disabled_account_loses_its_sign_ins_until_enabled(store: &dyn Store) {
    let (estate, _) = estate(store).await;
    let patroller = estate.user("demo-patrol").unwrap();
    let other = estate.user("demo-super").unwrap();
    let now = Timestamp::now();
    let later = now + SignedDuration::from_hours(1);
    let idle = SignedDuration::from_hours(1);
    store
        .add_refresh_token("p1", patroller.id, later)
        .await
        .unwrap();
    store
        .add_refresh_token("o1", other.id, later)
        .await
        .unwrap();
    session_of(store, patroller.id, "ps").await;
    session_of(store, other.id, "os").await;
    assert!(
        !store
            .account("demo-patrol")
            .await
            .unwrap()
            .unwrap()
            .disabled
    );

    assert!(store.set_disabled(patroller.id, true).await.unwrap());
    assert!(
        store
            .account("demo-patrol")
            .await
            .unwrap()
            .unwrap()
            .disabled
    );
    assert!(
        store
            .account_of(patroller.id)
            .await
            .unwrap()
            .unwrap()
            .disabled
    );
    assert_eq!(store.use_refresh_token("p1", now).await.unwrap(), None);
    assert_eq!(store.console_session("ps", now, idle).await.unwrap(), None);
    let listed = store.site_accounts(estate.site.id).await.unwrap();
    assert!(listed.iter().any(|(u, off)| u.id == patroller.id && *off));
    assert!(listed.iter().any(|(u, off)| u.id == other.id && !*off));
    // Nobody else's sign-ins end.
    assert_eq!(
        store.use_refresh_token("o1", now).await.unwrap(),
        Some(other.id)
    );
    assert!(
        store
            .console_session("os", now, idle)
            .await
            .unwrap()
            .is_some()
    );

    assert!(store.set_disabled(patroller.id, false).await.unwrap());
    assert!(
        !store
            .account("demo-patrol")
            .await
            .unwrap()
            .unwrap()
            .disabled
    );
    assert!(
        !store.set_disabled(UserId::new(), true).await.unwrap(),
        "no such user"
    );
}

async fn a_new_password_ends_every_sign_in_of_its_user(store: &dyn Store) {
    let (estate, _) = estate(store).await;
    let patroller = estate.user("demo-patrol").unwrap();
    let now = Timestamp::now();
    store
        .add_refresh_token("p1", patroller.id, now + SignedDuration::from_hours(1))
        .await
        .unwrap();
    session_of(store, patroller.id, "ps").await;
    assert!(store.set_password(patroller.id, "new-hash").await.unwrap());
    let account = store.account("demo-patrol").await.unwrap().unwrap();
    assert_eq!(account.password_hash, "new-hash");
    assert!(!account.disabled);
    assert_eq!(store.use_refresh_token("p1", now).await.unwrap(), None);
    assert_eq!(
        store
            .console_session("ps", now, SignedDuration::from_hours(1))
            .await
            .unwrap(),
        None
    );
    assert!(!store.set_password(UserId::new(), "x").await.unwrap());
}

async fn a_user_given_a_site_works_on_it_and_the_feed_says_so(store: &dyn Store) {
    let (estate, _) = estate(store).await;
    let admin = estate.user("demo-admin").unwrap();
    let key = SiteKey::generate().unwrap();
    let other = patrol_core::demo::estate("conf2", "第二小区", &key).site;
    store.put_site(&other, &key.secret_base64()).await.unwrap();
    let before = store
        .changes(&everyone(other.id), 0, 10_000)
        .await
        .unwrap()
        .cursor;
    assert!(store.add_user_site(admin.id, other.id).await.unwrap());
    assert!(
        store.add_user_site(admin.id, other.id).await.unwrap(),
        "twice is once"
    );
    let user = store.user(admin.id).await.unwrap().unwrap();
    assert_eq!(user.site_ids, vec![estate.site.id, other.id]);
    let on_other = store.site_users(other.id).await.unwrap();
    assert_eq!(
        on_other.iter().map(|u| u.id).collect::<Vec<_>>(),
        vec![admin.id]
    );
    let page = store
        .changes(&everyone(other.id), before, 10_000)
        .await
        .unwrap();
    assert!(
        page.changes
            .iter()
            .any(|c| c.entity == "user" && c.id == admin.id.to_string())
    );
    assert!(!store.add_user_site(UserId::new(), other.id).await.unwrap());
}

async fn a_new_label_key_comes_with_every_checkpoint_resigned(store: &dyn Store) {
    let (estate, _) = estate(store).await;
    let v = everyone(estate.site.id);
    let before = store.changes(&v, 0, 10_000).await.unwrap().cursor;
    let key = SiteKey::generate().unwrap();
    let mut site = estate.site.clone();
    site.public_key = key.public_key_base64();
    let mut checkpoints = store.checkpoints(site.id).await.unwrap();
    for c in &mut checkpoints {
        c.qr_token = patrol_core::labels::sign(site.id, c.id, &key);
    }
    store
        .rekey_site(&site, &key.secret_base64(), &checkpoints)
        .await
        .unwrap();
    assert_eq!(
        store.site_signing_key(site.id).await.unwrap(),
        Some(key.secret_base64())
    );
    assert_eq!(
        store.site(site.id).await.unwrap().unwrap().public_key,
        site.public_key
    );
    assert_eq!(store.checkpoints(site.id).await.unwrap(), checkpoints);
    let page = store.changes(&v, before, 10_000).await.unwrap();
    let changed = |entity: &str| page.changes.iter().filter(|c| c.entity == entity).count();
    assert_eq!(changed("site"), 1);
    assert_eq!(changed("checkpoint"), checkpoints.len());
}

async fn a_batch_answers_each_op_and_commits_them_together(store: &dyn Store) {
    let (estate, _) = estate(store).await;
    let patroller = estate.user("demo-patrol").unwrap();
    let now = Timestamp::now();
    let due = now + SignedDuration::from_hours(72);
    let (a, b) = (
        issue(estate.site.id, Team::Engineering, due, patroller.id),
        issue(estate.site.id, Team::Engineering, due, patroller.id),
    );
    let keys = |i: &Issue| Keys {
        issue: Some(i.id),
        ..Keys::default()
    };
    let mut phone = Device::new(store, patroller.id).await;
    let (first, second, third) = (phone.next(), phone.next(), phone.next());
    let v = everyone(estate.site.id);
    let before = store.changes(&v, 0, 10_000).await.unwrap().cursor;

    // Dropped without a commit, a batch leaves nothing: the ops may come again.
    {
        let mut batch = store.begin_ops().await.unwrap();
        let report_a = |_: &Snapshot| report_of(&a, now);
        assert_eq!(
            batch.apply_op(&first, keys(&a), &report_a).await.unwrap(),
            OpOutcome::Applied
        );
    }
    assert_eq!(store.issue(a.id).await.unwrap(), None);

    let mut batch = store.begin_ops().await.unwrap();
    let report_a = |_: &Snapshot| report_of(&a, now);
    let no = |_: &Snapshot| Decision::Reject(Refusal::new("nope", "x"));
    let report_b = |s: &Snapshot| {
        assert!(s.issue.is_none());
        report_of(&b, now)
    };
    assert_eq!(
        batch.apply_op(&first, keys(&a), &report_a).await.unwrap(),
        OpOutcome::Applied
    );
    assert_eq!(
        batch.apply_op(&first, keys(&a), &report_a).await.unwrap(),
        OpOutcome::Duplicate(None),
        "an op repeated in its batch is a duplicate"
    );
    assert_eq!(
        batch.apply_op(&second, Keys::default(), &no).await.unwrap(),
        OpOutcome::Rejected(Refusal::new("nope", "x"))
    );
    // A later op of the batch is decided on what the earlier ones wrote.
    let sees_a = |s: &Snapshot| {
        assert_eq!(s.issue.as_ref().map(|i| i.id), Some(a.id));
        Decision::Reject(Refusal::new("seen", "x"))
    };
    let fourth = phone.next();
    assert_eq!(
        batch.apply_op(&third, keys(&b), &report_b).await.unwrap(),
        OpOutcome::Applied
    );
    assert_eq!(
        batch.apply_op(&fourth, keys(&a), &sees_a).await.unwrap(),
        OpOutcome::Rejected(Refusal::new("seen", "x"))
    );
    batch.commit().await.unwrap();

    assert_eq!(store.issue(a.id).await.unwrap().as_ref(), Some(&a));
    assert_eq!(store.issue(b.id).await.unwrap().as_ref(), Some(&b));
    assert_eq!(store.audit(a.id).await.unwrap().len(), 1);
    assert_eq!(
        store.apply_op(&second, Keys::default(), &no).await.unwrap(),
        OpOutcome::Duplicate(Some(Refusal::new("nope", "x"))),
        "a refusal in a batch is recorded with it"
    );
    let page = store.changes(&v, before, 10_000).await.unwrap();
    let fed: Vec<&str> = page.changes.iter().map(|c| c.id.as_str()).collect();
    assert!(fed.contains(&a.id.to_string().as_str()) && fed.contains(&b.id.to_string().as_str()));
    let check = store.verify_audit(None).await.unwrap();
    assert!(check.fault.is_none(), "{:?}", check.fault);
    assert_eq!(check.entries, 2);
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = super::SqliteStore::open(&dir.path().join("conf.db"))
                        .await
                        .unwrap();
                    super::$name(&store).await;
                }
            )*
        }

        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Ok(url) = std::env::var("PATROL_TEST_DATABASE_URL") else {
                        eprintln!("PATROL_TEST_DATABASE_URL is not set: PostgreSQL is left to CI");
                        return;
                    };
                    let schema = format!("patrol_test_{}", uuid::Uuid::now_v7().simple());
                    let store = super::PgStore::connect(&url, Some(&schema)).await.unwrap();
                    super::$name(&store).await;
                    store.drop_schema(&schema).await.unwrap();
                }
            )*
        }
    };
}

conformance!(
    migrations_run_twice_and_secrets_are_made_once,
    reference_data_round_trips_and_names_are_unique,
    the_newest_template_of_a_kind_is_found,
    the_reference_data_of_a_push_follows_every_change,
    refresh_tokens_are_used_once_and_a_replay_revokes_them,
    an_op_applies_once_and_its_decision_sees_the_state,
    a_refused_op_repeated_says_why_again,
    a_refused_op_on_an_issue_sends_the_issue_again,
    one_devices_ops_are_processed_in_seq_order,
    a_reused_id_refuses_the_op_and_leaves_nothing,
    a_rounds_visits_are_loaded_with_it,
    the_queue_is_filtered_by_visibility_and_paged_by_due_time,
    open_counts_by_team_follow_the_queue_and_the_sla_rule,
    the_change_feed_shows_each_viewer_what_they_may_see,
    a_pull_page_is_bounded_in_bytes_too,
    blobs_are_recorded_once_with_their_header,
    a_months_records_are_read_by_the_local_month,
    a_months_archive_is_recorded_once_per_version_with_its_files,
    nothing_is_purged_before_its_month_is_archived,
    a_month_changed_after_its_archive_is_not_purged,
    records_inside_the_retention_are_untouched_by_a_purge,
    a_purge_stopped_after_a_batch_ends_as_one_uninterrupted_purge,
    a_disabled_account_loses_its_sign_ins_until_enabled,
    a_new_password_ends_every_sign_in_of_its_user,
    a_user_given_a_site_works_on_it_and_the_feed_says_so,
    a_new_label_key_comes_with_every_checkpoint_resigned,
    a_batch_answers_each_op_and_commits_them_together,
);

/// What only SQLite does: pushes waiting on its one writer share a commit (group commit).
mod sqlite_only {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    /// A store with the demo estate, the patroller, and `n` issues for them to report.
    struct World {
        _dir: tempfile::TempDir,
        store: SqliteStore,
        patroller: UserId,
        issues: Vec<Issue>,
        now: Timestamp,
    }

    async fn world(n: usize) -> World {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("group.db"))
            .await
            .unwrap();
        let (estate, _) = estate(&store).await;
        let patroller = estate.user("demo-patrol").unwrap().id;
        let now = Timestamp::now();
        let due = now + SignedDuration::from_hours(72);
        let issues = (0..n)
            .map(|_| issue(estate.site.id, Team::Engineering, due, patroller))
            .collect();
        World {
            _dir: dir,
            store,
            patroller,
            issues,
            now,
        }
    }

    /// `phone` heard from now.
    fn heard(phone: &Device) -> Heard {
        Heard {
            device: phone.id,
            user: phone.user,
            offset_ms: 0,
            at: Timestamp::now(),
        }
    }

    impl World {
        /// `n` of the patroller's phones, and each one's next op.
        async fn phones(&self, n: usize) -> (Vec<Device>, Vec<OpMeta>) {
            let mut phones = Vec::new();
            for _ in 0..n {
                phones.push(Device::new(&self.store, self.patroller).await);
            }
            let metas = phones.iter_mut().map(Device::next).collect();
            (phones, metas)
        }

        /// A push of `phone`'s begun, its op `meta` reporting issue `i` applied in it.
        async fn pushed(
            &self,
            phone: &Device,
            meta: &OpMeta,
            i: usize,
            reference: Arc<Reference>,
        ) -> Box<dyn OpBatch + '_> {
            let heard = heard(phone);
            let mut batch = self.store.begin_push(&heard, reference).await.unwrap();
            let issue = &self.issues[i];
            let report = |_: &Snapshot| report_of(issue, self.now);
            let keys = Keys {
                issue: Some(issue.id),
                ..Keys::default()
            };
            assert_eq!(
                batch.apply_op(meta, keys, &report).await.unwrap(),
                OpOutcome::Applied
            );
            batch
        }

        /// Wait until `n` writers wait for the write lock.
        async fn writers_waiting(&self, n: usize) {
            while self.store.writers_waiting() < n {
                tokio::task::yield_now().await;
            }
        }

        async fn stored(&self, i: usize) -> Option<Issue> {
            self.store.issue(self.issues[i].id).await.unwrap()
        }
    }

    #[tokio::test]
    async fn pushes_waiting_on_the_writer_commit_together_and_one_dropped_leaves_the_rest() {
        let w = world(3).await;
        let (phones, metas) = w.phones(3).await;
        let reference = w.store.reference().await.unwrap();

        // A holds the writer; B and C wait for it, in that order.
        let a = w.pushed(&phones[0], &metas[0], 0, reference.clone()).await;
        let a_part = async {
            w.writers_waiting(2).await;
            // Ending while others wait, A leaves its commit to them and waits for it.
            a.commit().await
        };
        let b_part = async {
            // Dropped without its commit (a failed push, a dropped request).
            drop(w.pushed(&phones[1], &metas[1], 1, reference.clone()).await);
        };
        let c_part = async {
            w.writers_waiting(1).await;
            let c = w.pushed(&phones[2], &metas[2], 2, reference.clone()).await;
            // Nobody waits after C: it commits A's push and its own.
            c.commit().await
        };
        let (a_done, (), c_done) = tokio::join!(a_part, b_part, c_part);
        a_done.unwrap();
        c_done.unwrap();

        assert_eq!(w.stored(0).await.as_ref(), Some(&w.issues[0]));
        assert_eq!(w.stored(1).await, None, "B was undone alone");
        assert_eq!(w.stored(2).await.as_ref(), Some(&w.issues[2]));
        // B's op may come again, and applies then.
        let again = w.pushed(&phones[1], &metas[1], 1, reference.clone()).await;
        again.commit().await.unwrap();
        assert_eq!(w.stored(1).await.as_ref(), Some(&w.issues[1]));
        let check = w.store.verify_audit(None).await.unwrap();
        assert!(check.fault.is_none(), "{:?}", check.fault);
        assert_eq!(check.entries, 3);
    }

    #[tokio::test]
    async fn a_push_left_waiting_by_a_writer_that_gave_up_commits_itself() {
        let w = world(1).await;
        let mut phone = Device::new(&w.store, w.patroller).await;
        let other = Device::new(&w.store, w.patroller).await;
        let meta = phone.next();
        let reference = w.store.reference().await.unwrap();

        let a = w.pushed(&phone, &meta, 0, reference.clone()).await;
        let other = heard(&other);
        let b = w.store.begin_push(&other, reference.clone());
        let gives_up = async move {
            // B waits for the writer, then its request is dropped before its turn comes.
            let _ = tokio::time::timeout(Duration::from_millis(20), b).await;
        };
        let a_part = async {
            w.writers_waiting(1).await;
            a.commit().await
        };
        let (a_done, ()) = tokio::join!(a_part, gives_up);
        a_done.unwrap();
        assert_eq!(w.stored(0).await.as_ref(), Some(&w.issues[0]));
        assert_eq!(w.store.writers_waiting(), 0);
    }

    #[tokio::test]
    async fn a_write_that_is_not_a_push_commits_the_pushes_waiting_first() {
        let w = world(1).await;
        let mut phone = Device::new(&w.store, w.patroller).await;
        let meta = phone.next();
        let reference = w.store.reference().await.unwrap();

        let a = w.pushed(&phone, &meta, 0, reference.clone()).await;
        let a_part = async {
            w.writers_waiting(1).await;
            a.commit().await
        };
        // A device heard from on its own: a write of its own transaction.
        let touch = w
            .store
            .touch_device(phone.id, phone.user, 5, Timestamp::now());
        let (a_done, touched) = tokio::join!(a_part, touch);
        a_done.unwrap();
        touched.unwrap();
        assert_eq!(w.stored(0).await.as_ref(), Some(&w.issues[0]));
    }

    #[tokio::test]
    async fn a_push_whose_device_cannot_be_recorded_fails_alone() {
        use super::super::evidence_tests::Raw;
        let w = world(3).await;
        let (phones, metas) = w.phones(3).await;
        let reference = w.store.reference().await.unwrap();
        // B's device row refuses to be written: its push fails after its savepoint is made.
        w.store
            .raw(
                &format!(
                    "CREATE TRIGGER refuse_b BEFORE UPDATE ON devices WHEN NEW.id = '{}'
                     BEGIN SELECT RAISE(ABORT, 'refused'); END",
                    phones[1].id
                ),
                &[],
            )
            .await;

        let a = w.pushed(&phones[0], &metas[0], 0, reference.clone()).await;
        let a_part = async {
            w.writers_waiting(2).await;
            a.commit().await
        };
        let b_part = async {
            w.store
                .begin_push(&heard(&phones[1]), reference.clone())
                .await
                .map(drop)
        };
        let c_part = async {
            w.writers_waiting(1).await;
            let c = w.pushed(&phones[2], &metas[2], 2, reference.clone()).await;
            c.commit().await
        };
        let (a_done, b_begun, c_done) = tokio::join!(a_part, b_part, c_part);
        assert!(b_begun.is_err(), "B's device could not be recorded");
        a_done.unwrap();
        c_done.unwrap();
        assert_eq!(w.stored(0).await.as_ref(), Some(&w.issues[0]));
        assert_eq!(w.stored(2).await.as_ref(), Some(&w.issues[2]));
        assert_eq!(w.store.writers_waiting(), 0);
    }

    #[tokio::test]
    async fn the_log_reaches_the_database_file_beside_the_writer_and_starts_again() {
        const ROUNDS: usize = 4;
        const PER_ROUND: usize = 150;
        let w = world(ROUNDS * PER_ROUND).await;
        let mut phone = Device::new(&w.store, w.patroller).await;
        let reference = w.store.reference().await.unwrap();
        let file = w._dir.path().join("group.db");
        let log = w._dir.path().join("group.db-wal");
        let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let mut first_log = 0;
        for round in 0..ROUNDS {
            let before = size(&file);
            let heard = heard(&phone);
            let mut batch = w.store.begin_push(&heard, reference.clone()).await.unwrap();
            for issue in &w.issues[round * PER_ROUND..(round + 1) * PER_ROUND] {
                let report = |_: &Snapshot| report_of(issue, w.now);
                let keys = Keys {
                    issue: Some(issue.id),
                    ..Keys::default()
                };
                let meta = phone.next();
                assert_eq!(
                    batch.apply_op(&meta, keys, &report).await.unwrap(),
                    OpOutcome::Applied
                );
            }
            batch.commit().await.unwrap();
            if round == 0 {
                first_log = size(&log);
            }
            // No write follows: the checkpointer alone moves the round into the file.
            let waited = tokio::time::timeout(Duration::from_secs(20), async {
                while size(&file) <= before {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
            .await;
            assert!(
                waited.is_ok(),
                "round {round} never reached the database file"
            );
        }
        // Each round's writer found the log checkpointed and wrote it from its start again.
        assert!(
            size(&log) <= 2 * first_log,
            "the log grew with every round: {} bytes after {ROUNDS}, {first_log} after one",
            size(&log)
        );
        assert_eq!(
            w.stored(ROUNDS * PER_ROUND - 1).await.as_ref(),
            w.issues.last()
        );
    }
}

/// What only PostgreSQL promises: several server processes write at once.
mod postgres_only {
    use std::collections::HashSet;
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    async fn store() -> Option<(Arc<PgStore>, String)> {
        let Ok(url) = std::env::var("PATROL_TEST_DATABASE_URL") else {
            eprintln!("PATROL_TEST_DATABASE_URL is not set: PostgreSQL is left to CI");
            return None;
        };
        let schema = format!("patrol_test_{}", uuid::Uuid::now_v7().simple());
        let store = PgStore::connect(&url, Some(&schema)).await.unwrap();
        Some((Arc::new(store), schema))
    }

    /// The demo estate, and a second site.
    async fn two_sites(store: &dyn Store) -> (Estate, Site) {
        let (estate, _) = estate(store).await;
        let key = SiteKey::generate().unwrap();
        let other = patrol_core::demo::estate("conf2", "第二小区", &key).site;
        store.put_site(&other, &key.secret_base64()).await.unwrap();
        (estate, other)
    }

    fn report(site: SiteId, user: UserId) -> (Issue, Keys) {
        let due = Timestamp::now() + SignedDuration::from_hours(72);
        let i = issue(site, Team::Engineering, due, user);
        let keys = Keys {
            issue: Some(i.id),
            ..Keys::default()
        };
        (i, keys)
    }

    async fn fed(store: &dyn Store, v: &Visibility, cursor: i64) -> (Vec<String>, i64) {
        let page = store.changes(v, cursor, 10_000).await.unwrap();
        let ids = page.changes.into_iter().map(|c| c.id).collect();
        (ids, page.cursor)
    }

    #[tokio::test]
    async fn writes_of_two_sites_overlap_in_time_and_the_feed_waits_for_the_older() {
        let Some((store, schema)) = store().await else {
            return;
        };
        let (estate, other) = two_sites(store.as_ref()).await;
        let user = estate.user("demo-patrol").unwrap().id;
        let v = Visibility {
            sites: vec![estate.site.id, other.id],
            jobs_of: None,
        };
        let (_, start) = fed(store.as_ref(), &v, 0).await;
        let now = Timestamp::now();

        // A push on the first site, still open...
        let (a, a_keys) = report(estate.site.id, user);
        let mut phone_a = Device::new(store.as_ref(), user).await;
        let mut batch_a = store.begin_ops().await.unwrap();
        let decide_a = |_: &Snapshot| report_of(&a, now);
        assert_eq!(
            batch_a
                .apply_op(&phone_a.next(), a_keys, &decide_a)
                .await
                .unwrap(),
            OpOutcome::Applied
        );

        // ...does not hold up a push on the other site, which commits first.
        let (b, b_keys) = report(other.id, user);
        let mut phone_b = Device::new(store.as_ref(), user).await;
        let other_push = async {
            let mut batch_b = store.begin_ops().await.unwrap();
            let decide_b = |_: &Snapshot| report_of(&b, now);
            let outcome = batch_b
                .apply_op(&phone_b.next(), b_keys, &decide_b)
                .await
                .unwrap();
            batch_b.commit().await.unwrap();
            outcome
        };
        let outcome = tokio::time::timeout(Duration::from_secs(5), other_push)
            .await
            .expect("a write of another site waited for the open one");
        assert_eq!(outcome, OpOutcome::Applied);

        // The feed hands out nothing past the open push yet: it commits before the cursor
        // could pass its change.
        let (ids, cursor) = fed(store.as_ref(), &v, start).await;
        assert!(!ids.contains(&a.id.to_string()));
        assert!(
            !ids.contains(&b.id.to_string()),
            "the later commit came before the older push ended"
        );
        batch_a.commit().await.unwrap();
        let (ids, _) = fed(store.as_ref(), &v, cursor).await;
        assert!(
            ids.contains(&a.id.to_string()) && ids.contains(&b.id.to_string()),
            "{ids:?}"
        );
        store.drop_schema(&schema).await.unwrap();
    }

    #[tokio::test]
    async fn a_puller_never_skips_a_change_of_writers_committing_out_of_order() {
        let Some((store, schema)) = store().await else {
            return;
        };
        let (estate, other) = two_sites(store.as_ref()).await;
        let user = estate.user("demo-patrol").unwrap().id;
        let v = Visibility {
            sites: vec![estate.site.id, other.id],
            jobs_of: None,
        };
        let (_, start) = fed(store.as_ref(), &v, 0).await;
        let writers: Vec<_> = [estate.site.id, other.id, estate.site.id, other.id]
            .into_iter()
            .enumerate()
            .map(|(n, site)| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut phone = Device::new(store.as_ref(), user).await;
                    let mut written = Vec::new();
                    for round in 0..15u64 {
                        let mut batch = store.begin_ops().await.unwrap();
                        for _ in 0..3 {
                            let (i, keys) = report(site, user);
                            let now = Timestamp::now();
                            let decide = |_: &Snapshot| report_of(&i, now);
                            let outcome =
                                batch.apply_op(&phone.next(), keys, &decide).await.unwrap();
                            assert_eq!(outcome, OpOutcome::Applied);
                            written.push(i.id.to_string());
                        }
                        // Held open for different times, so that commits overtake each other.
                        let ms = (round * 7 + n as u64 * 5) % 13;
                        tokio::time::sleep(Duration::from_millis(ms)).await;
                        batch.commit().await.unwrap();
                    }
                    written
                })
            })
            .collect();
        let puller = {
            let store = store.clone();
            let v = v.clone();
            tokio::spawn(async move {
                let mut seen = HashSet::new();
                let mut cursor = start;
                let mut pulls = 0;
                while pulls < 2000 {
                    let page = store.changes(&v, cursor, 4).await.unwrap();
                    cursor = page.cursor;
                    seen.extend(page.changes.into_iter().map(|c| c.id));
                    pulls += 1;
                    if seen.len() >= 4 * 15 * 3 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                (seen, cursor)
            })
        };
        let mut all = Vec::new();
        for w in writers {
            all.extend(w.await.unwrap());
        }
        let (mut seen, cursor) = puller.await.unwrap();
        // Whatever came after the puller stopped is pulled from where it stood.
        let (rest, _) = fed(store.as_ref(), &v, cursor).await;
        seen.extend(rest);
        let missed: Vec<&String> = all.iter().filter(|id| !seen.contains(*id)).collect();
        assert!(
            missed.is_empty(),
            "the cursor skipped {} changes: {missed:?}",
            missed.len()
        );
        let check = store.verify_audit(None).await.unwrap();
        assert!(check.fault.is_none(), "{:?}", check.fault);
        store.drop_schema(&schema).await.unwrap();
    }

    /// Every process runs the same background loops; each job's pass runs in one of them at a
    /// time. Two stores on one schema stand for two server processes.
    #[tokio::test]
    async fn a_background_job_runs_in_one_process_at_a_time() {
        let Some((first, schema)) = store().await else {
            return;
        };
        let url = std::env::var("PATROL_TEST_DATABASE_URL").unwrap();
        let second = PgStore::connect(&url, Some(&schema)).await.unwrap();
        let jobs = [
            Job::Escalation,
            Job::Alerts,
            Job::Archive,
            Job::Notifications,
        ];

        let held: Vec<JobLock> = {
            let mut held = Vec::new();
            for job in jobs {
                held.push(
                    first
                        .job_lock(job)
                        .await
                        .unwrap()
                        .expect("a free job's lock"),
                );
                assert!(
                    second.job_lock(job).await.unwrap().is_none(),
                    "{} ran in two processes at once",
                    job.name()
                );
            }
            held
        };

        // Another estate's database (schema) has jobs of its own.
        let (elsewhere, other_schema) = store().await.unwrap();
        for job in jobs {
            assert!(elsewhere.job_lock(job).await.unwrap().is_some());
        }

        // A job's lock held by nobody — its process finished the pass, or died and its
        // connection closed — is taken by the next process that asks.
        drop(held);
        for job in jobs {
            let mut taken = None;
            for _ in 0..50 {
                taken = second.job_lock(job).await.unwrap();
                if taken.is_some() {
                    break;
                }
                // The closed connection's session ends on the server a moment later.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            assert!(
                taken.is_some(),
                "{} stayed locked after its holder let go",
                job.name()
            );
            assert!(first.job_lock(job).await.unwrap().is_none());
        }
        elsewhere.drop_schema(&other_schema).await.unwrap();
        first.drop_schema(&schema).await.unwrap();
    }
}
