//! Alerts on every backend, each test with two handles on one database (on PostgreSQL, two
//! pools: what two server processes are): raised once by their key whoever raises them and
//! however often, a missed round once when two passes run at once, an urgent report and its
//! alert in one transaction, and an acknowledgement recorded once with who and when.

use jiff::{SignedDuration, Timestamp};
use patrol_core::alert::{Alert, AlertKind};
use patrol_core::demo::Estate;
use patrol_core::ids::{DeviceId, IssueId, OpId};
use patrol_core::issue::{Category, Severity, Source};
use patrol_core::user::Actor;
use patrol_core::wire::{AlertAck, IssueReport, Op, OpBody, OpResult, OpStatus};

use super::conformance::{estate, issue};
use super::*;
use crate::sync::{Applied, PushContext};

/// An instant in Shanghai, the demo estate's zone.
pub(super) fn sh(local: &str) -> Timestamp {
    local
        .parse::<jiff::civil::DateTime>()
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap())
        .unwrap()
        .timestamp()
}

/// One person's phone pushing ops, numbered from 1.
pub(super) struct Phone {
    actor: Actor,
    sites: Vec<Site>,
    device: DeviceId,
    seq: u64,
}

impl Phone {
    pub(super) async fn of(store: &dyn Store, estate: &Estate, username: &str) -> Phone {
        let user = estate.user(username).unwrap();
        let device = DeviceId::new();
        store
            .touch_device(device, user.id, 0, Timestamp::now())
            .await
            .unwrap();
        Phone {
            actor: Actor::from(user),
            sites: vec![estate.site.clone()],
            device,
            seq: 0,
        }
    }

    pub(super) async fn push(&mut self, store: &dyn Store, body: OpBody) -> OpResult {
        self.seq += 1;
        let now = Timestamp::now();
        let op = Op::new(OpId::new(), self.seq, now, &body);
        let mut ctx = PushContext::new(
            self.actor.clone(),
            self.device,
            now,
            SignedDuration::ZERO,
            self.sites.clone(),
            Default::default(),
        );
        let batch = crate::sync::Batch::begin(store).await.unwrap();
        let applied = crate::sync::apply(&batch, &mut ctx, &op).await.unwrap();
        batch.commit().await.unwrap();
        match applied {
            Applied::Result(r) => r,
            Applied::OutOfOrder(n) => panic!("out of order, expected {n}"),
        }
    }
}

pub(super) fn report(site: SiteId, severity: Severity) -> (IssueId, OpBody) {
    let id = IssueId::new();
    let body = OpBody::IssueReport(IssueReport {
        issue_id: id,
        site_id: site,
        zone_id: None,
        checkpoint_id: None,
        visit_id: None,
        item_key: None,
        category: Category::Security,
        severity,
        title: "B2车库有燃气味".into(),
        note: None,
        photos: vec![],
        observed_at: Timestamp::now(),
        source: Source::Patrol,
        fixed_on_spot: false,
    });
    (id, body)
}

async fn alerts_of(store: &dyn Store, site: SiteId) -> Vec<Alert> {
    store.site_alerts(site, false).await.unwrap()
}

/// The alerts a person pulls, as the API screens them.
async fn pulled(store: &dyn Store, actor: &Actor) -> Vec<Alert> {
    let mut page = store
        .changes(&Visibility::of(actor), 0, 10_000)
        .await
        .unwrap();
    crate::alerts::screen(actor, &mut page.changes);
    page.changes
        .into_iter()
        .filter(|c| c.entity == "alert")
        .filter_map(|c| c.data)
        .map(|d| serde_json::from_value(d).unwrap())
        .collect()
}

async fn an_alert_is_raised_once_by_its_key(store: &dyn Store, other: &dyn Store) {
    let (estate, _) = estate(store).await;
    let route = &estate.routes[0];
    let first = patrol_core::alert::missed_rounds(
        &estate.site.tz().unwrap(),
        std::slice::from_ref(route),
        &[],
        sh("2026-12-01T09:31:00"),
    );
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(store.raise_alerts(&first).await.unwrap(), first);
    // The same alert judged again (another id, a minute later), here and by the other process.
    let again = patrol_core::alert::missed_rounds(
        &estate.site.tz().unwrap(),
        std::slice::from_ref(route),
        &[],
        sh("2026-12-01T09:32:00"),
    );
    assert_ne!(again[0].id, first[0].id);
    assert!(store.raise_alerts(&again).await.unwrap().is_empty());
    assert!(other.raise_alerts(&again).await.unwrap().is_empty());
    let kept = alerts_of(other, estate.site.id).await;
    assert_eq!(kept, first, "the first alert, as it was raised");
    assert_eq!(
        store.alert(first[0].id).await.unwrap().as_ref(),
        Some(&first[0])
    );
    assert_eq!(store.alert(again[0].id).await.unwrap(), None);
    let sup = Actor::from(estate.user("demo-super").unwrap());
    assert_eq!(pulled(other, &sup).await, first);
}

async fn two_passes_at_once_raise_a_missed_round_once(store: &dyn Store, other: &dyn Store) {
    let (estate, _) = estate(store).await;
    // 09:31: the 09:00 round is missed; the 10:00 one is not due yet.
    let now = sh("2026-12-01T09:31:00");
    let (a, b) = tokio::join!(
        crate::alerts::raise_due(store, now),
        crate::alerts::raise_due(other, now)
    );
    let raised: Vec<Alert> = a.unwrap().into_iter().chain(b.unwrap()).collect();
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert_eq!(raised[0].kind, AlertKind::RoundMissed);
    assert_eq!(raised[0].slot_at, Some(sh("2026-12-01T09:00:00")));
    for pass in [store, other, store] {
        assert!(
            crate::alerts::raise_due(pass, now)
                .await
                .unwrap()
                .is_empty()
        );
    }
    // Started in time, the 10:00 round raises nothing; at 10:31 the 09:00 one is still one.
    let ten = estate
        .routes
        .iter()
        .find(|r| r.schedule.times[0].hour() == 10)
        .unwrap();
    let mut walked = super::conformance::round_of(&estate, ten);
    walked.started_at = sh("2026-12-01T10:20:00");
    let w = vec![Write::Run(walked)];
    store
        .apply_system(IssueId::new(), &move |_| Decision::Apply(w.clone()))
        .await
        .unwrap();
    assert!(
        crate::alerts::raise_due(other, sh("2026-12-01T10:31:00"))
            .await
            .unwrap()
            .is_empty()
    );
    let all = alerts_of(store, estate.site.id).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].id, raised[0].id);
}

async fn a_round_walked_offline_on_time_answers_its_missed_alert_when_it_syncs(
    store: &dyn Store,
    other: &dyn Store,
) {
    let (estate, _) = estate(store).await;
    // 09:31: the server has not heard of the 09:00 round, and raises round_missed.
    let raised = crate::alerts::raise_due(store, sh("2026-12-01T09:31:00"))
        .await
        .unwrap();
    assert_eq!(raised.len(), 1, "{raised:?}");
    let nine = estate
        .routes
        .iter()
        .find(|r| Some(r.id) == raised[0].route_id)
        .unwrap();
    // The patroller had started it at 09:10, out of signal; the start syncs at 09:50.
    let mut walked = super::conformance::round_of(&estate, nine);
    walked.started_at = sh("2026-12-01T09:10:00");
    let patroller = walked.patroller_id;
    let w = vec![Write::Run(walked)];
    other
        .apply_system(IssueId::new(), &move |_| Decision::Apply(w.clone()))
        .await
        .unwrap();
    let answered = store.alert(raised[0].id).await.unwrap().unwrap();
    assert!(!answered.is_open(), "{answered:?}");
    assert_eq!(answered.acked_by, Some(patroller));
    assert!(
        answered.note.as_deref().unwrap().contains("09:10"),
        "{answered:?}"
    );
    // Phones and the console learn it as they learn any acknowledgement.
    let sup = Actor::from(estate.user("demo-super").unwrap());
    assert_eq!(
        pulled(store, &sup).await.last(),
        Some(&answered),
        "the acknowledgement is the alert's latest change"
    );
    // A pass later raises it no more; a round started after its grace answers nothing.
    assert!(
        crate::alerts::raise_due(other, sh("2026-12-01T10:05:00"))
            .await
            .unwrap()
            .is_empty()
    );
    let raised = crate::alerts::raise_due(store, sh("2026-12-01T10:31:00"))
        .await
        .unwrap();
    assert_eq!(raised.len(), 1, "the 10:00 round: {raised:?}");
    let ten = estate
        .routes
        .iter()
        .find(|r| Some(r.id) == raised[0].route_id)
        .unwrap();
    let mut late = super::conformance::round_of(&estate, ten);
    late.started_at = sh("2026-12-01T10:45:00");
    let w = vec![Write::Run(late)];
    store
        .apply_system(IssueId::new(), &move |_| Decision::Apply(w.clone()))
        .await
        .unwrap();
    assert!(store.alert(raised[0].id).await.unwrap().unwrap().is_open());
}

async fn overdue_issues_are_raised_once_by_the_pass(store: &dyn Store, other: &dyn Store) {
    let (estate, _) = estate(store).await;
    let reporter = estate.user("demo-patrol").unwrap();
    let now = Timestamp::now();
    let late = issue(
        estate.site.id,
        Team::Engineering,
        now - SignedDuration::from_hours(1),
        reporter.id,
    );
    let on_time = issue(
        estate.site.id,
        Team::Engineering,
        now + SignedDuration::from_hours(1),
        reporter.id,
    );
    for i in [&late, &on_time] {
        let w = vec![Write::Issue(i.clone())];
        store
            .apply_system(i.id, &move |_| Decision::Apply(w.clone()))
            .await
            .unwrap();
    }
    let raised = crate::alerts::raise_due(other, now).await.unwrap();
    let overdue: Vec<_> = raised
        .iter()
        .filter(|a| a.kind == AlertKind::Overdue)
        .collect();
    assert_eq!(overdue.len(), 1);
    assert_eq!(overdue[0].issue_id, Some(late.id));
    assert_eq!(overdue[0].team, Some(Team::Engineering));
    assert!(
        crate::alerts::raise_due(store, now + SignedDuration::from_mins(5))
            .await
            .unwrap()
            .iter()
            .all(|a| a.kind != AlertKind::Overdue)
    );
    // The engineer sees their team's overdue job; the cleaner does not.
    let tech = Actor::from(estate.user("demo-tech").unwrap());
    let cleaner = Actor::from(estate.user("demo-cleaner").unwrap());
    assert!(
        pulled(store, &tech)
            .await
            .iter()
            .any(|a| a.issue_id == Some(late.id))
    );
    assert!(pulled(store, &cleaner).await.is_empty());
}

async fn an_urgent_report_and_its_alert_are_one_transaction(store: &dyn Store, other: &dyn Store) {
    let (estate, _) = estate(store).await;
    let mut guard = Phone::of(store, &estate, "demo-patrol").await;
    let (issue_id, body) = report(estate.site.id, Severity::Urgent);
    assert_eq!(
        guard.push(store, body.clone()).await.status,
        OpStatus::Applied
    );
    let alerts = alerts_of(other, estate.site.id).await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].kind, AlertKind::Urgent);
    assert_eq!(alerts[0].issue_id, Some(issue_id));
    assert_eq!(alerts[0].team, Some(Team::Security));
    // A second report of that issue id, through the other process: nothing more.
    assert_eq!(
        guard.push(other, body).await.code.as_deref(),
        Some("issue_exists")
    );
    // A major one raises its own kind; a routine one none; a refused report none.
    let (_, major) = report(estate.site.id, Severity::Major);
    guard.push(store, major).await;
    let (_, routine) = report(estate.site.id, Severity::Routine);
    guard.push(store, routine).await;
    let (_, elsewhere) = report(SiteId::new(), Severity::Urgent);
    assert_eq!(
        guard.push(store, elsewhere).await.status,
        OpStatus::Rejected
    );
    let kinds: Vec<AlertKind> = alerts_of(store, estate.site.id)
        .await
        .iter()
        .map(|a| a.kind)
        .collect();
    assert_eq!(kinds, [AlertKind::Major, AlertKind::Urgent]);
    let sup = Actor::from(estate.user("demo-super").unwrap());
    assert_eq!(pulled(store, &sup).await.len(), 2);
}

async fn an_acknowledgement_records_who_and_when_once(store: &dyn Store, other: &dyn Store) {
    let (estate, _) = estate(store).await;
    let mut guard = Phone::of(store, &estate, "demo-patrol").await;
    let (_, body) = report(estate.site.id, Severity::Urgent);
    guard.push(store, body).await;
    let alert = alerts_of(store, estate.site.id).await.remove(0);
    let ack = |note: &str| {
        OpBody::AlertAck(AlertAck {
            alert_id: alert.id,
            note: Some(note.into()),
        })
    };
    // The engineer does not see a security alert: unknown to them; a blank note is refused.
    let mut tech = Phone::of(store, &estate, "demo-tech").await;
    assert_eq!(
        tech.push(store, ack("看过了")).await.code.as_deref(),
        Some("unknown_alert")
    );
    let mut sup = Phone::of(store, &estate, "demo-super").await;
    assert_eq!(
        sup.push(store, ack(" ")).await.code.as_deref(),
        Some("note_required")
    );
    let before = Timestamp::now();
    let done = sup
        .push(other, ack("保安王师傅 08:40 到场，阀门已关"))
        .await;
    assert_eq!(done.status, OpStatus::Applied, "{done:?}");
    let stored = store.alert(alert.id).await.unwrap().unwrap();
    assert_eq!(stored.acked_by, Some(sup.actor.user_id));
    assert!(stored.acked_at.unwrap() >= before);
    assert_eq!(
        stored.note.as_deref(),
        Some("保安王师傅 08:40 到场，阀门已关")
    );
    assert!(
        store
            .site_alerts(estate.site.id, true)
            .await
            .unwrap()
            .is_empty()
    );
    // The manager's ack a moment later is refused, and the supervisor's note stays.
    let mut manager = Phone::of(store, &estate, "demo-manager").await;
    let second = manager.push(store, ack("我也处理了")).await;
    assert_eq!(second.code.as_deref(), Some("already_acked"));
    assert_eq!(store.alert(alert.id).await.unwrap().unwrap(), stored);
    let pulled = pulled(other, &manager.actor).await;
    assert_eq!(pulled, [stored]);
    let unknown = OpBody::AlertAck(AlertAck {
        alert_id: patrol_core::ids::AlertId::new(),
        note: Some("x".into()),
    });
    assert_eq!(
        manager.push(store, unknown).await.code.as_deref(),
        Some("unknown_alert")
    );
}

macro_rules! alerts {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let path = dir.path().join("alerts.db");
                    let store = super::SqliteStore::open(&path).await.unwrap();
                    super::Store::migrate(&store).await.unwrap();
                    let other = super::SqliteStore::open(&path).await.unwrap();
                    super::$name(&store, &other).await;
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
                    super::Store::migrate(&store).await.unwrap();
                    let other = super::PgStore::connect(&url, Some(&schema)).await.unwrap();
                    super::$name(&store, &other).await;
                    store.drop_schema(&schema).await.unwrap();
                }
            )*
        }
    };
}

alerts!(
    an_alert_is_raised_once_by_its_key,
    two_passes_at_once_raise_a_missed_round_once,
    a_round_walked_offline_on_time_answers_its_missed_alert_when_it_syncs,
    overdue_issues_are_raised_once_by_the_pass,
    an_urgent_report_and_its_alert_are_one_transaction,
    an_acknowledgement_records_who_and_when_once,
);
