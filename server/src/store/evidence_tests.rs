//! The evidence rows on every backend: the chain linked as entries are stored, sign-offs and
//! seals signed, a changed row named, a rotated key still verifying, and a database made by
//! schema 5 (before the chain) upgraded in place.

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use patrol_core::audit::{AuditEntry, AuditKind};
use patrol_core::evidence::verify_evidence;
use patrol_core::ids::{ResultId, VisitId};
use patrol_core::issue::Status;
use patrol_core::patrol::{ItemResult, Outcome, Visit, VisitMethod};
use patrol_core::team::Team;

use super::conformance::{Device, estate, issue, load_estate, round_of};
use super::*;

/// What a test needs below the store's own methods.
#[async_trait]
pub(super) trait Raw: Store {
    /// Run the migrations up to and including `version` only.
    async fn migrate_to(&self, version: i64);
    /// Run one statement with text parameters.
    async fn raw(&self, sql: &str, binds: &[&str]);
    /// Two text columns of each row.
    async fn strings(&self, sql: &str) -> Vec<(String, String)>;
}

fn entry(
    i: &Issue,
    kind: AuditKind,
    from: Option<Status>,
    to: Status,
    at: Timestamp,
) -> AuditEntry {
    let mut a = AuditEntry::new(i.id, kind, Some(i.reported_by), at, from, to);
    a.server_at = Some(at);
    a.device_at = Some(at);
    a
}

/// Apply `writes` as one op of `phone`'s, which must be applied.
async fn applied(store: &dyn Store, phone: &mut Device, writes: Vec<Write>) {
    let outcome = store
        .apply_op(&phone.next(), Keys::default(), &move |_| {
            Decision::Apply(writes.clone())
        })
        .await
        .unwrap();
    assert_eq!(outcome, OpOutcome::Applied);
}

/// A reported, resolved and accepted issue, each step an op (the last signed off).
async fn signed_off_issue(store: &dyn Store, estate: &patrol_core::demo::Estate) -> Issue {
    let reporter = estate.user("demo-patrol").unwrap();
    let mut phone = Device::new(store, reporter.id).await;
    let now = Timestamp::now();
    let mut i = issue(estate.site.id, Team::Engineering, now, reporter.id);
    let mut report = entry(&i, AuditKind::Report, None, Status::Open, now);
    report.photos = vec!["a".repeat(64)];
    let mut resolve = entry(
        &i,
        AuditKind::Resolve,
        Some(Status::Open),
        Status::Resolved,
        now,
    );
    resolve.photos = vec!["b".repeat(64)];
    let mut verify = entry(
        &i,
        AuditKind::Verify,
        Some(Status::Resolved),
        Status::Closed,
        now,
    );
    verify.accepted = Some(true);
    verify.signature = Some("c".repeat(64));
    verify.note = Some("验收合格".into());
    for a in [report, resolve, verify] {
        i.status = a.to_status;
        applied(
            store,
            &mut phone,
            vec![Write::Issue(i.clone()), Write::Audit(a)],
        )
        .await;
    }
    i
}

/// A round with two visits and an answer, finished.
async fn finished_round(store: &dyn Store, estate: &patrol_core::demo::Estate) -> PatrolRun {
    let patroller = estate.user("demo-patrol").unwrap();
    let mut phone = Device::new(store, patroller.id).await;
    let route = &estate.routes[0];
    let mut run = round_of(estate, route);
    let visits: Vec<Visit> = (0..2)
        .map(|n| Visit {
            id: VisitId::new(),
            run_id: run.id,
            checkpoint_id: route.checkpoint_ids[n],
            method: VisitMethod::Manual,
            token: None,
            reason: Some("标签脱落".into()),
            at: Timestamp::now() + SignedDuration::from_secs(n as i64),
            flags: vec![],
        })
        .collect();
    let result = ItemResult {
        id: ResultId::new(),
        visit_id: visits[0].id,
        item_key: "lights".into(),
        outcome: Outcome::Ok,
        reading: Some(12.5),
        note: None,
        photos: vec!["d".repeat(64)],
    };
    let mut writes = vec![Write::Run(run.clone())];
    writes.extend(visits.into_iter().map(Write::Visit));
    writes.push(Write::Result(result));
    run.finished_at = Some(Timestamp::now() + SignedDuration::from_secs(60));
    writes.push(Write::Run(run.clone()));
    applied(store, &mut phone, writes).await;
    run
}

fn clean(check: &AuditCheck) {
    assert_eq!(check.fault, None, "{check:?}");
}

async fn entries_are_chained_signed_off_and_sealed(store: &dyn Raw) {
    let (estate, _) = estate(store).await;
    let i = signed_off_issue(store, &estate).await;
    let run = finished_round(store, &estate).await;

    let e = store.evidence(i.id).await.unwrap().unwrap();
    assert_eq!(e.audit.len(), 3);
    assert_eq!(
        e.audit[0]["prev"],
        i.id.to_string(),
        "the first entry links to the issue"
    );
    assert_eq!(e.audit[1]["prev"], e.audit[0]["hash"]);
    assert_eq!(e.signoffs.len(), 1);
    let signed = &e.signoffs[0].signed;
    assert_eq!(signed["chain_head"], e.audit[2]["hash"]);
    assert_eq!(
        signed["photos"],
        serde_json::json!(["a".repeat(64), "b".repeat(64)])
    );
    assert_eq!(signed["note"], "验收合格");
    let v = verify_evidence(&e).unwrap();
    assert_eq!((v.entries, v.signoffs), (3, 1));

    let check = store.verify_audit(None).await.unwrap();
    clean(&check);
    assert_eq!(
        (check.issues, check.entries, check.signoffs, check.seals),
        (1, 3, 1, 1)
    );
    let sealed = store
        .sealed_rounds(
            estate.site.id,
            run.started_at - SignedDuration::from_hours(1),
            Timestamp::now() + SignedDuration::from_hours(1),
        )
        .await
        .unwrap();
    assert_eq!(sealed.len(), 1);
    assert_eq!(sealed[0].rows.len(), 4, "the round, two visits, one answer");
    assert_eq!(
        sealed[0].seal.signed.signed["records_hash"]
            .as_str()
            .map(str::len),
        Some(64)
    );
}

async fn a_changed_row_is_named(store: &dyn Raw) {
    let (estate, _) = estate(store).await;
    let i = signed_off_issue(store, &estate).await;
    finished_round(store, &estate).await;
    clean(&store.verify_audit(None).await.unwrap());

    let rows = store
        .strings("SELECT id, data FROM audit ORDER BY seq")
        .await;
    let (id, data) = &rows[1];
    store
        .raw(
            "UPDATE audit SET data = $1 WHERE id = $2",
            &[&data.replacen("resolve", "resolvf", 1), id],
        )
        .await;
    let f = store.verify_audit(None).await.unwrap().fault.unwrap();
    assert_eq!(
        f.subject,
        format!("issue {}, audit entry 2 ({id})", i.id),
        "{f}"
    );
    assert_eq!(store.verify_audit(Some(i.id)).await.unwrap().fault, Some(f));
    store
        .raw("UPDATE audit SET data = $1 WHERE id = $2", &[data, id])
        .await;
    clean(&store.verify_audit(None).await.unwrap());

    let (id, data) = &store.strings("SELECT id, data FROM results").await[0];
    store
        .raw(
            "UPDATE results SET data = $1 WHERE id = $2",
            &[&data.replacen("12.5", "13.5", 1), id],
        )
        .await;
    let f = store.verify_audit(None).await.unwrap().fault.unwrap();
    assert!(f.subject.ends_with(&format!("result {id}")), "{f}");
    store
        .raw("UPDATE results SET data = $1 WHERE id = $2", &[data, id])
        .await;

    store.raw("DELETE FROM signoffs", &[]).await;
    let f = store.verify_audit(None).await.unwrap().fault.unwrap();
    assert!(f.what.contains("no signed sign-off"), "{f}");
}

async fn a_rotated_key_still_verifies_what_it_signed(store: &dyn Raw) {
    let (estate, _) = estate(store).await;
    signed_off_issue(store, &estate).await;
    let old = store.evidence_keys().await.unwrap();
    assert_eq!(old.len(), 1);
    let new = store.rotate_evidence_key().await.unwrap();
    assert_ne!(new.key_id, old[0].key_id);
    let i = signed_off_issue(store, &estate).await;
    let keys = store.evidence_keys().await.unwrap();
    assert_eq!(keys.len(), 2);
    assert!(keys[0].retired_at.is_some() && keys[1].retired_at.is_none());
    let secrets = store
        .strings("SELECT key_id, COALESCE(secret, '') FROM evidence_keys")
        .await;
    assert_eq!(
        secrets.iter().filter(|(_, s)| !s.is_empty()).count(),
        1,
        "the old secret is gone"
    );
    let e = store.evidence(i.id).await.unwrap().unwrap();
    assert_eq!(e.signoffs[0].key_id, new.key_id);
    assert_eq!(e.public_keys.len(), 2);
    clean(&store.verify_audit(None).await.unwrap());
}

/// A database as schema 5 left it: trails without hashes, an accepted fix and a finished round
/// with nothing signed. The upgrade links, signs and seals them, once.
async fn a_database_from_before_the_chain_is_upgraded(store: &dyn Raw) {
    store.migrate_to(5).await;
    let (estate, _) = load_estate(store).await;
    let reporter = estate.user("demo-patrol").unwrap();
    let mut phone = Device::new(store, reporter.id).await;
    let now = Timestamp::now();
    let mut i = issue(estate.site.id, Team::Engineering, now, reporter.id);
    i.status = Status::Closed;
    let w = vec![Write::Issue(i.clone())];
    applied(store, &mut phone, w).await;
    let mut verify = entry(
        &i,
        AuditKind::Verify,
        Some(Status::Resolved),
        Status::Closed,
        now,
    );
    verify.accepted = Some(true);
    let old = [
        entry(&i, AuditKind::Report, None, Status::Open, now),
        entry(
            &i,
            AuditKind::Resolve,
            Some(Status::Open),
            Status::Resolved,
            now,
        ),
        verify,
    ];
    for a in &old {
        // What the server of schema 5 wrote: the entry's JSON, no prev, no hash.
        let data = serde_json::to_string(a).unwrap();
        assert!(!data.contains("\"hash\""));
        store
            .raw(
                "INSERT INTO audit (id, issue_id, data) VALUES ($1, $2, $3)",
                &[&a.id.to_string(), &i.id.to_string(), &data],
            )
            .await;
    }
    // The round as schema 5 wrote it (today's store also answers missed-round alerts, a table
    // schema 5 did not have).
    let route = &estate.routes[0];
    let mut run = round_of(&estate, route);
    store
        .raw(
            "INSERT INTO runs (id, site_id, route_id, patroller_id, started_at_ms, data)
             VALUES ($1, $2, $3, $4, CAST($5 AS BIGINT), $6)",
            &[
                &run.id.to_string(),
                &run.site_id.to_string(),
                &run.route_id.to_string(),
                &run.patroller_id.to_string(),
                &run.started_at.as_millisecond().to_string(),
                &serde_json::to_string(&run).unwrap(),
            ],
        )
        .await;
    run.finished_at = Some(now);
    store
        .raw(
            "UPDATE runs SET data = $1 WHERE id = $2",
            &[&serde_json::to_string(&run).unwrap(), &run.id.to_string()],
        )
        .await;

    store.migrate().await.unwrap();
    let check = store.verify_audit(None).await.unwrap();
    clean(&check);
    assert_eq!((check.entries, check.signoffs, check.seals), (3, 1, 1));
    let e = store.evidence(i.id).await.unwrap().unwrap();
    assert_eq!(e.audit[0]["prev"], i.id.to_string());
    for (stored, before) in e.audit.iter().zip(&old) {
        let mut plain = stored.clone();
        let obj = plain.as_object_mut().unwrap();
        obj.remove("prev");
        obj.remove("hash");
        assert_eq!(
            plain,
            serde_json::to_value(before).unwrap(),
            "the entry is kept as it was"
        );
    }
    verify_evidence(&e).unwrap();

    // Once: a second start changes nothing, and a new entry links onto the upgraded chain.
    let before = store
        .strings("SELECT id, data FROM audit ORDER BY seq")
        .await;
    store.migrate().await.unwrap();
    assert_eq!(
        store
            .strings("SELECT id, data FROM audit ORDER BY seq")
            .await,
        before
    );
    let w = vec![Write::Audit(entry(
        &i,
        AuditKind::Comment,
        Some(Status::Closed),
        Status::Closed,
        now,
    ))];
    applied(store, &mut phone, w).await;
    let e = store.evidence(i.id).await.unwrap().unwrap();
    assert_eq!(e.audit[3]["prev"], e.audit[2]["hash"]);
    clean(&store.verify_audit(None).await.unwrap());
}

/// A round written finished again (a second seal is made and not stored) keeps its first
/// seal, and the op that wrote it is applied.
async fn a_round_written_finished_again_keeps_its_first_seal(store: &dyn Raw) {
    let (estate, _) = estate(store).await;
    let run = finished_round(store, &estate).await;
    let first = store.strings("SELECT run_id, signed FROM seals").await;
    assert_eq!(first.len(), 1);
    let patroller = estate.user("demo-patrol").unwrap();
    let mut phone = Device::new(store, patroller.id).await;
    let again = vec![Write::Run(run.clone())];
    applied(store, &mut phone, again).await;
    assert_eq!(
        store.strings("SELECT run_id, signed FROM seals").await,
        first
    );
    clean(&store.verify_audit(None).await.unwrap());
}

macro_rules! evidence {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = super::SqliteStore::open(&dir.path().join("ev.db"))
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

evidence!(
    entries_are_chained_signed_off_and_sealed,
    a_changed_row_is_named,
    a_rotated_key_still_verifies_what_it_signed,
    a_database_from_before_the_chain_is_upgraded,
    a_round_written_finished_again_keeps_its_first_seal,
);
