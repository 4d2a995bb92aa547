//! The 3-day queue's clock: a background task that escalates issues when their time comes —
//! urgent ones to security and major ones to the manager at once, overdue ones to the manager.
//! Each escalation is an audit entry and reaches devices on their next pull.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use patrol_core::lifecycle;

use crate::store::{Decision, Job, Refusal, Snapshot, Store, StoreError, Write};

/// Escalate whatever is due at `now`; returns how many escalations were made. Safe to repeat:
/// each reason fires once per issue.
pub async fn escalate_due(store: &dyn Store, now: Timestamp) -> Result<usize, StoreError> {
    let mut made = 0;
    for issue in store.active_issues().await? {
        for reason in patrol_core::sla::escalations_due(&issue, now) {
            let decide = move |s: &Snapshot| {
                let Some(current) = &s.issue else {
                    return Decision::Reject(Refusal::new("gone", "the issue is gone"));
                };
                match lifecycle::escalate(current, reason, now) {
                    Ok(t) => {
                        let mut audit = t.audit;
                        audit.server_at = Some(now);
                        Decision::Apply(vec![Write::Issue(t.issue), Write::Audit(audit)])
                    }
                    Err(e) => Decision::Reject(Refusal::new(e.code(), e.to_string())),
                }
            };
            if store.apply_system(issue.id, &decide).await? {
                tracing::info!(issue = %issue.id, ?reason, "escalated");
                metrics::counter!("patrol_escalations_total", "reason" => reason_label(reason))
                    .increment(1);
                made += 1;
            }
        }
    }
    Ok(made)
}

/// An escalation reason as a metrics label.
pub fn reason_label(reason: patrol_core::issue::EscalationReason) -> &'static str {
    use patrol_core::issue::EscalationReason as R;
    match reason {
        R::Urgent => "urgent",
        R::Major => "major",
        R::Overdue => "overdue",
    }
}

/// Run [`escalate_due`] every `every` by `clock` until the task is dropped.
pub async fn run(store: Arc<dyn Store>, clock: crate::clock::Clock, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let pass = async {
            // Another server process on the same database may be at it: skip this tick.
            let Some(_lock) = store.job_lock(Job::Escalation).await? else {
                return Ok(());
            };
            escalate_due(store.as_ref(), clock.now()).await.map(drop)
        };
        if let Err(e) = pass.await {
            tracing::error!(error = %e, "escalation pass failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use jiff::SignedDuration;
    use patrol_core::audit::AuditKind;
    use patrol_core::issue::{Category, EscalationReason, Severity, Source};
    use patrol_core::labels::SiteKey;
    use patrol_core::lifecycle::Report;
    use patrol_core::user::Actor;

    use super::*;
    use crate::store::SqliteStore;

    #[tokio::test]
    async fn overdue_and_urgent_issues_are_escalated_once_and_shown_on_pull() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("q.db")).await.unwrap();
        store.migrate().await.unwrap();
        let key = SiteKey::generate().unwrap();
        let estate = patrol_core::demo::estate("q", "q", &key);
        store
            .put_site(&estate.site, &key.secret_base64())
            .await
            .unwrap();
        let patroller = Actor::from(estate.user("demo-patrol").unwrap());
        let now = Timestamp::now();
        let mut ids = Vec::new();
        for (severity, hours_ago) in [
            (Severity::Routine, 80),
            (Severity::Urgent, 1),
            (Severity::Routine, 1),
        ] {
            let report = Report {
                issue_id: patrol_core::ids::IssueId::new(),
                site_id: estate.site.id,
                zone_id: None,
                checkpoint_id: None,
                visit_id: None,
                item_key: None,
                category: Category::Facility,
                severity,
                title: "t".into(),
                note: None,
                photos: vec![],
                observed_at: now - SignedDuration::from_hours(hours_ago),
                source: Source::Patrol,
                fixed_on_spot: false,
            };
            let t =
                lifecycle::report(&patroller, &estate.site, report, &Default::default()).unwrap();
            let w = vec![Write::Issue(t.issue.clone()), Write::Audit(t.audit.clone())];
            store
                .apply_system(t.issue.id, &move |_| Decision::Apply(w.clone()))
                .await
                .unwrap();
            ids.push(t.issue.id);
        }
        assert_eq!(escalate_due(&store, now).await.unwrap(), 2);
        assert_eq!(
            escalate_due(&store, now).await.unwrap(),
            0,
            "each reason fires once"
        );
        let overdue = store.issue(ids[0]).await.unwrap().unwrap();
        assert_eq!(overdue.escalations, [EscalationReason::Overdue]);
        let urgent = store.issue(ids[1]).await.unwrap().unwrap();
        assert_eq!(urgent.escalations, [EscalationReason::Urgent]);
        assert!(
            store
                .issue(ids[2])
                .await
                .unwrap()
                .unwrap()
                .escalations
                .is_empty()
        );
        let trail = store.audit(ids[0]).await.unwrap();
        assert_eq!(trail.last().unwrap().kind, AuditKind::Escalate);
        assert_eq!(trail.last().unwrap().actor_id, None);
        let everyone = patrol_core::lifecycle::Visibility {
            sites: vec![estate.site.id],
            jobs_of: None,
        };
        let page = store.changes(&everyone, 0, 100).await.unwrap();
        let pulled = page
            .changes
            .iter()
            .find(|c| c.id == ids[0].to_string())
            .unwrap();
        assert_eq!(pulled.data.as_ref().unwrap()["escalated"], true);
    }
}
