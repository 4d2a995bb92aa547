//! Channels and the outbox on every backend, each test with two handles on one database (on
//! PostgreSQL, two pools: what two server processes are): an alert's deliveries enqueued in its
//! own transaction for the channels that carry its kind, once; a channel leased by one sender at
//! a time; a failing delivery holding its channel's later ones back, every attempt recorded; a
//! removed channel's pending deliveries cancelled.

use jiff::{SignedDuration, Timestamp};
use patrol_core::alert::{Alert, AlertKind};
use patrol_core::issue::Severity;
use patrol_core::wire::OpStatus;
use uuid::Uuid;

use super::alert_tests::{Phone, report, sh};
use super::conformance::estate;
use super::*;
use crate::notify::{
    AttemptOutcome, AttemptResult, Channel, ChannelKind, DeliveryRecord, DeliveryStatus,
    NewChannel, NextStep,
};

async fn add(
    store: &dyn Store,
    site: SiteId,
    kind: &str,
    url: &str,
    events: Option<&str>,
) -> Channel {
    let channel = NewChannel {
        kind: kind.into(),
        url: url.into(),
        secret: (kind != "wecom").then(|| "s3cret".to_owned()),
        events: events.map(str::to_owned),
    }
    .check(site, Timestamp::now())
    .unwrap();
    store.add_channel(&channel).await.unwrap();
    channel
}

async fn deliveries(store: &dyn Store, alert: &Alert) -> Vec<DeliveryRecord> {
    store.alert_deliveries(&[alert.id]).await.unwrap()
}

/// Whether the sender was told (a stored permit answers at once).
async fn poked(store: &dyn Store) -> bool {
    tokio::time::timeout(
        std::time::Duration::from_millis(50),
        store.outbox().notified(),
    )
    .await
    .is_ok()
}

async fn an_alert_is_enqueued_for_the_channels_that_carry_it(store: &dyn Store, other: &dyn Store) {
    let (estate, _) = estate(store).await;
    let site = estate.site.id;
    let hook = add(store, site, "webhook", "https://hooks.example/in", None).await;
    let wecom = add(
        store,
        site,
        "wecom",
        "https://q.example/send?key=k",
        Some("overdue"),
    )
    .await;
    let ding = add(
        other,
        site,
        "dingtalk",
        "https://d.example/send?access_token=t",
        Some("urgent,major"),
    )
    .await;
    let gone = add(store, site, "feishu", "https://f.example/hook/x", None).await;
    assert!(
        store
            .remove_channel(gone.id, Timestamp::now())
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .site_channels(site)
            .await
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect::<Vec<_>>(),
        vec![hook.id, wecom.id, ding.id]
    );
    let _ = poked(store).await;

    // An urgent report: the alert and its deliveries in the op's transaction.
    let mut guard = Phone::of(store, &estate, "demo-patrol").await;
    let (issue, body) = report(site, Severity::Urgent);
    assert_eq!(guard.push(store, body).await.status, OpStatus::Applied);
    assert!(poked(store).await, "the sender is told after the commit");
    let alert = store
        .site_alerts(site, true)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.issue_id == Some(issue))
        .unwrap();
    let made = deliveries(other, &alert).await;
    let channels: Vec<Uuid> = made.iter().map(|d| d.delivery.channel_id).collect();
    assert_eq!(
        channels,
        vec![hook.id, ding.id],
        "wecom carries only overdue; feishu is gone"
    );
    let ids: std::collections::HashSet<Uuid> = made.iter().map(|d| d.delivery.id).collect();
    assert_eq!(ids.len(), 2, "a delivery id each");
    for d in &made {
        assert_eq!(d.delivery.status, DeliveryStatus::Pending);
        assert_eq!(d.delivery.attempts, 0);
        assert!(d.attempts.is_empty());
    }

    // A missed round raised by two passes at once: one alert, one delivery per channel.
    let now = sh("2026-12-01T09:31:00");
    let (a, b) = tokio::join!(
        crate::alerts::raise_due(store, now),
        crate::alerts::raise_due(other, now)
    );
    let raised: Vec<Alert> = a.unwrap().into_iter().chain(b.unwrap()).collect();
    assert_eq!(raised.len(), 1);
    crate::alerts::raise_due(other, now).await.unwrap();
    let made = deliveries(store, &raised[0]).await;
    assert_eq!(made.len(), 1, "only the webhook carries round_missed");
    assert_eq!(made[0].delivery.channel_id, hook.id);
    assert_eq!(made[0].kind, ChannelKind::Webhook);
}

fn result(outcome: AttemptOutcome, status: Option<u16>, error: Option<&str>) -> AttemptResult {
    AttemptResult {
        outcome,
        http_status: status,
        latency_ms: 12,
        error: error.map(str::to_owned),
    }
}

async fn a_failing_delivery_holds_back_the_later_ones_and_every_attempt_is_kept(
    store: &dyn Store,
    other: &dyn Store,
) {
    let (estate, _) = estate(store).await;
    let site = estate.site.id;
    let hook = add(store, site, "webhook", "https://hooks.example/in", None).await;
    let mut guard = Phone::of(store, &estate, "demo-patrol").await;
    for _ in 0..2 {
        let (_, body) = report(site, Severity::Major);
        assert_eq!(guard.push(store, body).await.status, OpStatus::Applied);
    }
    let now = Timestamp::now();
    let soon = now + SignedDuration::from_secs(30);
    assert_eq!(
        store
            .due_channels(now)
            .await
            .unwrap()
            .iter()
            .map(|c| c.id)
            .collect::<Vec<_>>(),
        vec![hook.id]
    );
    let (first, first_alert) = store.next_delivery(hook.id).await.unwrap().unwrap();
    assert!(store.claim_channel(hook.id, "a", now, soon).await.unwrap());
    let n = store.begin_attempt(first.id, "a", now, soon).await.unwrap();
    assert_eq!(n, Some(1));
    let later = now + SignedDuration::from_secs(3600);
    store
        .finish_attempt(
            first.id,
            1,
            &result(AttemptOutcome::Failed, Some(503), Some("HTTP 503: down")),
            NextStep::Retry(later),
        )
        .await
        .unwrap();
    store.release_channel(hook.id, "a").await.unwrap();
    // The head waits an hour; the second alert's delivery waits behind it.
    assert!(other.due_channels(now).await.unwrap().is_empty());
    let (head, _) = other.next_delivery(hook.id).await.unwrap().unwrap();
    assert_eq!(head.id, first.id);
    assert_eq!(head.attempts, 1);
    assert_eq!(
        head.next_at,
        Timestamp::from_millisecond(later.as_millisecond()).unwrap()
    );
    let after = later + SignedDuration::from_secs(1);
    assert_eq!(other.due_channels(after).await.unwrap().len(), 1);
    let until = after + SignedDuration::from_secs(30);
    assert!(
        other
            .claim_channel(hook.id, "b", after, until)
            .await
            .unwrap()
    );
    assert_eq!(
        other
            .begin_attempt(first.id, "b", after, until)
            .await
            .unwrap(),
        Some(2)
    );
    other
        .finish_attempt(
            first.id,
            2,
            &result(AttemptOutcome::Delivered, Some(200), None),
            NextStep::Delivered(after),
        )
        .await
        .unwrap();
    let (second, _) = store.next_delivery(hook.id).await.unwrap().unwrap();
    assert_ne!(second.id, first.id, "the next one, in order");
    assert_eq!(second.attempts, 0);

    let shown = store.alert_deliveries(&[first_alert.id]).await.unwrap();
    assert_eq!(shown.len(), 1);
    let d = &shown[0];
    assert_eq!(d.delivery.id, first.id);
    assert_eq!(d.delivery.status, DeliveryStatus::Delivered);
    assert_eq!(d.url, "https://hooks.example/in");
    type Tried<'a> = (
        u32,
        AttemptOutcome,
        Option<u16>,
        Option<i64>,
        Option<&'a str>,
    );
    let tried: Vec<Tried<'_>> = d
        .attempts
        .iter()
        .map(|a| {
            (
                a.attempt,
                a.outcome,
                a.http_status,
                a.latency_ms,
                a.error.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        tried,
        vec![
            (
                1,
                AttemptOutcome::Failed,
                Some(503),
                Some(12),
                Some("HTTP 503: down")
            ),
            (2, AttemptOutcome::Delivered, Some(200), Some(12), None),
        ]
    );
    // The attempts are what the rate limit counts, per address.
    let since = now - SignedDuration::from_secs(1);
    assert_eq!(
        store
            .attempts_since("https://hooks.example/in", since)
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        store
            .attempts_since("https://other.example/", since)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_channel_is_leased_by_one_sender_at_a_time(store: &dyn Store, other: &dyn Store) {
    let (estate, _) = estate(store).await;
    let site = estate.site.id;
    let hook = add(store, site, "webhook", "https://hooks.example/in", None).await;
    let mut guard = Phone::of(store, &estate, "demo-patrol").await;
    let (_, body) = report(site, Severity::Urgent);
    assert_eq!(guard.push(store, body).await.status, OpStatus::Applied);
    let (d, _) = store.next_delivery(hook.id).await.unwrap().unwrap();
    let now = Timestamp::now();
    let until = now + SignedDuration::from_secs(15);
    let (a, b) = tokio::join!(
        store.claim_channel(hook.id, "a", now, until),
        other.claim_channel(hook.id, "b", now, until)
    );
    let a = a.unwrap();
    assert!(
        a ^ b.unwrap(),
        "exactly one of two processes leases the channel"
    );
    let (mine, theirs) = if a { ("a", "b") } else { ("b", "a") };
    assert!(
        other
            .begin_attempt(d.id, theirs, now, until)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.begin_attempt(d.id, mine, now, until).await.unwrap(),
        Some(1)
    );
    // Leased, the channel is not due for anyone; once the lease (of a killed process) has run
    // out, another process takes it, and the first sends nothing more.
    assert!(store.due_channels(now).await.unwrap().is_empty());
    let expired = until + SignedDuration::from_secs(1);
    assert_eq!(other.due_channels(expired).await.unwrap().len(), 1);
    let until2 = expired + SignedDuration::from_secs(15);
    assert!(
        other
            .claim_channel(hook.id, theirs, expired, until2)
            .await
            .unwrap()
    );
    assert!(
        store
            .begin_attempt(d.id, mine, expired, until2)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        other
            .begin_attempt(d.id, theirs, expired, until2)
            .await
            .unwrap(),
        Some(2)
    );
    let shown = deliveries(
        store,
        &store.next_delivery(hook.id).await.unwrap().unwrap().1,
    )
    .await;
    let outcomes: Vec<AttemptOutcome> = shown[0].attempts.iter().map(|a| a.outcome).collect();
    assert_eq!(
        outcomes,
        vec![AttemptOutcome::Sending, AttemptOutcome::Sending],
        "the cut-off attempt stays visible"
    );
    // Letting go is only for the holder.
    store.release_channel(hook.id, mine).await.unwrap();
    assert!(
        !store
            .claim_channel(hook.id, mine, expired, until2)
            .await
            .unwrap()
    );
    other.release_channel(hook.id, theirs).await.unwrap();
    assert!(
        store
            .claim_channel(hook.id, mine, expired, until2)
            .await
            .unwrap()
    );
}

async fn a_removed_channel_sends_nothing_more(store: &dyn Store, other: &dyn Store) {
    let (estate, _) = estate(store).await;
    let site = estate.site.id;
    let hook = add(store, site, "webhook", "https://hooks.example/in", None).await;
    let mut guard = Phone::of(store, &estate, "demo-patrol").await;
    let (_, body) = report(site, Severity::Urgent);
    assert_eq!(guard.push(store, body).await.status, OpStatus::Applied);
    let (d, alert) = store.next_delivery(hook.id).await.unwrap().unwrap();
    assert!(
        other
            .remove_channel(hook.id, Timestamp::now())
            .await
            .unwrap()
    );
    assert!(
        !store
            .remove_channel(hook.id, Timestamp::now())
            .await
            .unwrap(),
        "once"
    );
    assert!(store.channel(hook.id).await.unwrap().is_none());
    assert!(store.site_channels(site).await.unwrap().is_empty());
    assert!(
        store
            .due_channels(Timestamp::now())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.next_delivery(hook.id).await.unwrap().is_none());
    let shown = deliveries(store, &alert).await;
    assert_eq!(shown[0].delivery.id, d.id);
    assert_eq!(
        shown[0].delivery.status,
        DeliveryStatus::Cancelled,
        "its history stays"
    );
    let (_, body) = report(site, Severity::Urgent);
    assert_eq!(guard.push(store, body).await.status, OpStatus::Applied);
    let newest = store.site_alerts(site, true).await.unwrap().remove(0);
    assert!(deliveries(store, &newest).await.is_empty());
    let _ = AlertKind::ALL;
}

macro_rules! notify {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let path = dir.path().join("notify.db");
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

notify!(
    an_alert_is_enqueued_for_the_channels_that_carry_it,
    a_failing_delivery_holds_back_the_later_ones_and_every_attempt_is_kept,
    a_channel_is_leased_by_one_sender_at_a_time,
    a_removed_channel_sends_nothing_more,
);
