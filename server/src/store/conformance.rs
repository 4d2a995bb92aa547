//! One suite, run against every backend: what the rest of the server relies on a store to do.
//! PostgreSQL runs when `PATROL_TEST_DATABASE_URL` is set (`.ci/run` sets it), each run in a
//! schema of its own.

use jiff::{SignedDuration, Timestamp};
use patrol_core::audit::{AuditEntry, AuditKind};
use patrol_core::checklist::Catalogue;
use patrol_core::ids::{DeviceId, IssueId, OpId, UserId};
use patrol_core::issue::{Category, Issue, Severity, Source, Status};
use patrol_core::labels::SiteKey;
use patrol_core::routing::Team;
use patrol_core::user::Role;

use super::*;

fn issue(site: SiteId, team: Team, due: Timestamp, reporter: UserId) -> Issue {
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
    }
}

fn meta(user: UserId, seq: u64) -> OpMeta {
    OpMeta {
        op_id: OpId::new(),
        device_id: DeviceId::new(),
        seq,
        kind: "issue.report".into(),
        user_id: user,
        device_at: Timestamp::now(),
        server_at: Timestamp::now(),
    }
}

fn viewer(site: SiteId, team_only: Option<Team>) -> Viewer {
    Viewer {
        sites: vec![site],
        team_only,
    }
}

async fn ids(store: &dyn Store, v: &Viewer, entity: &str) -> Vec<String> {
    let page = store.changes(v, 0, 10_000).await.unwrap();
    page.changes
        .into_iter()
        .filter(|c| c.entity == entity)
        .map(|c| c.id)
        .collect()
}

/// Everything a store must do, in one pass.
pub async fn suite(store: &dyn Store) {
    store.migrate().await.unwrap();
    store.migrate().await.unwrap(); // twice is harmless

    // A secret is made once and then kept.
    let a = store.secret("jwt", &|| "first".into()).await.unwrap();
    let b = store.secret("jwt", &|| "second".into()).await.unwrap();
    assert_eq!((a.as_str(), b.as_str()), ("first", "first"));

    // Reference data round-trips; codes and usernames are unique.
    let key = SiteKey::generate().unwrap();
    let estate = patrol_core::demo::estate("conf", "一致性小区", &key);
    let site = &estate.site;
    store.put_site(site, &key.secret_base64()).await.unwrap();
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
    for z in &estate.zones {
        store.put_zone(z).await.unwrap();
    }
    for c in &estate.checkpoints {
        store.put_checkpoint(c).await.unwrap();
    }
    for r in &estate.routes {
        store.put_route(r).await.unwrap();
    }
    store
        .put_template(&Catalogue::standard().templates[0])
        .await
        .unwrap();
    let cps = store.checkpoints(site.id).await.unwrap();
    assert_eq!(
        cps, estate.checkpoints,
        "checkpoints in the order they were made"
    );
    assert_eq!(
        store.route(estate.routes[0].id).await.unwrap().as_ref(),
        Some(&estate.routes[0])
    );
    let patroller = estate.user("demo-patrol").unwrap();
    let tech = estate.user("demo-tech").unwrap();
    for u in &estate.users {
        store.add_user(u, "hash").await.unwrap();
    }
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

    // Refresh tokens: used once; a replay revokes the user's others.
    let now = Timestamp::now();
    let later = now + SignedDuration::from_hours(1);
    store
        .add_refresh_token("t1", patroller.id, later)
        .await
        .unwrap();
    store
        .add_refresh_token("t2", patroller.id, later)
        .await
        .unwrap();
    store
        .add_refresh_token("old", patroller.id, now - SignedDuration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(
        store.use_refresh_token("old", now).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(
        store.use_refresh_token("t1", now).await.unwrap(),
        Some(patroller.id)
    );
    assert_eq!(
        store.use_refresh_token("t1", now).await.unwrap(),
        None,
        "replayed"
    );
    assert_eq!(
        store.use_refresh_token("t2", now).await.unwrap(),
        None,
        "revoked by the replay"
    );

    // Ops apply once; the decision sees the state inside the transaction.
    let due = now + SignedDuration::from_hours(72);
    let new_issue = issue(site.id, Team::Engineering, due, patroller.id);
    let report = |s: &Snapshot| {
        if s.issue.is_some() {
            return Decision::Reject {
                code: "exists".into(),
                message: "x".into(),
            };
        }
        let mut audit = AuditEntry::new(
            new_issue.id,
            AuditKind::Report,
            Some(patroller.id),
            now,
            None,
            Status::Open,
        );
        audit.server_at = Some(now);
        Decision::Apply(vec![Write::Issue(new_issue.clone()), Write::Audit(audit)])
    };
    let keys = Keys {
        issue: Some(new_issue.id),
        ..Keys::default()
    };
    let m = meta(patroller.id, 1);
    store
        .touch_device(m.device_id, patroller.id, -1500, now)
        .await
        .unwrap();
    assert_eq!(
        store.apply_op(&m, keys, &report).await.unwrap(),
        OpOutcome::Applied
    );
    assert_eq!(
        store.apply_op(&m, keys, &report).await.unwrap(),
        OpOutcome::Duplicate
    );
    // The same issue under a new op: the decision sees it exists.
    assert_eq!(
        store
            .apply_op(&meta(patroller.id, 2), keys, &report)
            .await
            .unwrap(),
        OpOutcome::Rejected {
            code: "exists".into(),
            message: "x".into()
        }
    );
    assert_eq!(
        store.issue(new_issue.id).await.unwrap().as_ref(),
        Some(&new_issue)
    );
    assert_eq!(store.audit(new_issue.id).await.unwrap().len(), 1);

    // A rejected op is remembered: repeating it changes nothing and says duplicate.
    let refused = meta(patroller.id, 3);
    let no = |_: &Snapshot| Decision::Reject {
        code: "own_fix".into(),
        message: "不能".into(),
    };
    assert!(matches!(
        store
            .apply_op(&refused, Keys::default(), &no)
            .await
            .unwrap(),
        OpOutcome::Rejected { .. }
    ));
    assert_eq!(
        store
            .apply_op(&refused, Keys::default(), &no)
            .await
            .unwrap(),
        OpOutcome::Duplicate
    );

    // The queue: by due time, filtered.
    let soon = issue(
        site.id,
        Team::Cleaning,
        now + SignedDuration::from_hours(2),
        patroller.id,
    );
    let late = issue(
        site.id,
        Team::Engineering,
        now - SignedDuration::from_hours(1),
        patroller.id,
    );
    for i in [&soon, &late] {
        let w = Write::Issue(i.clone());
        assert!(
            store
                .apply_system(i.id, &move |_| Decision::Apply(vec![w.clone()]))
                .await
                .unwrap()
        );
    }
    let all = store
        .issues(&IssueFilter {
            sites: vec![site.id],
            ..IssueFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|i| i.id).collect::<Vec<_>>(),
        [late.id, soon.id, new_issue.id]
    );
    let eng = IssueFilter {
        sites: vec![site.id],
        team: Some(Team::Engineering),
        ..IssueFilter::default()
    };
    assert_eq!(store.issues(&eng).await.unwrap().len(), 2);
    let overdue = IssueFilter {
        sites: vec![site.id],
        overdue_at: Some(now),
        ..IssueFilter::default()
    };
    assert_eq!(
        store
            .issues(&overdue)
            .await
            .unwrap()
            .iter()
            .map(|i| i.id)
            .collect::<Vec<_>>(),
        [late.id]
    );
    let other = IssueFilter {
        sites: vec![SiteId::new()],
        ..IssueFilter::default()
    };
    assert!(store.issues(&other).await.unwrap().is_empty());
    assert_eq!(store.active_issues().await.unwrap().len(), 3);

    // The change feed: what each viewer may see, in pages that add up.
    let everyone = viewer(site.id, None);
    assert_eq!(
        ids(store, &everyone, "checkpoint").await.len(),
        estate.checkpoints.len()
    );
    assert_eq!(ids(store, &everyone, "issue").await.len(), 3);
    assert_eq!(
        ids(store, &everyone, "template").await.len(),
        1,
        "templates are for everyone"
    );
    assert_eq!(
        ids(store, &everyone, "user").await.len(),
        estate.users.len()
    );
    let cleaners = viewer(site.id, Some(Team::Cleaning));
    assert_eq!(
        ids(store, &cleaners, "issue").await,
        [soon.id.to_string()],
        "a technician sees their team's jobs"
    );
    assert!(
        ids(store, &viewer(SiteId::new(), None), "checkpoint")
            .await
            .is_empty(),
        "nothing of other sites"
    );
    let mut cursor = 0;
    let mut paged = 0;
    loop {
        let page = store.changes(&everyone, cursor, 7).await.unwrap();
        assert!(page.changes.len() <= 7);
        paged += page.changes.len();
        cursor = page.cursor;
        if !page.more {
            break;
        }
    }
    let whole = store.changes(&everyone, 0, 10_000).await.unwrap();
    assert_eq!(paged, whole.changes.len());
    assert!(
        store
            .changes(&everyone, cursor, 100)
            .await
            .unwrap()
            .changes
            .is_empty(),
        "nothing after the end"
    );
    // An update moves an entity to the end of the feed, once.
    let mut renamed = estate.checkpoints[0].clone();
    renamed.name = "新名字".into();
    store.put_checkpoint(&renamed).await.unwrap();
    let after = store.changes(&everyone, cursor, 100).await.unwrap();
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

    // Blobs are recorded once.
    let sha = "ab".repeat(32);
    assert!(!store.has_blob(&sha).await.unwrap());
    assert!(store.add_blob(&sha, 1000, now).await.unwrap());
    assert!(!store.add_blob(&sha, 1000, now).await.unwrap());
    assert!(store.has_blob(&sha).await.unwrap());
    let _ = (tech, Role::Patrol);
}

#[tokio::test]
async fn sqlite_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("conf.db"))
        .await
        .unwrap();
    suite(&store).await;
}

#[tokio::test]
async fn postgres_conforms() {
    let Ok(url) = std::env::var("PATROL_TEST_DATABASE_URL") else {
        eprintln!(
            "PATROL_TEST_DATABASE_URL is not set: the PostgreSQL run of the suite is left to CI"
        );
        return;
    };
    let schema = format!("patrol_test_{}", uuid::Uuid::now_v7().simple());
    let store = PgStore::connect(&url, Some(&schema)).await.unwrap();
    suite(&store).await;
    store.drop_schema(&schema).await.unwrap();
}
