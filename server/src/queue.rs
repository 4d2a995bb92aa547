//! The 3-day queue's clock: a background task that escalates issues when their time comes —
//! urgent ones to security and major ones to the manager at once, overdue ones to the manager.
//! Each escalation is an audit entry and reaches devices on their next pull.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use patrol_core::lifecycle;

use crate::store::{Decision, Snapshot, Store, StoreError, Write};

/// Escalate whatever is due at `now`; returns how many escalations were made. Safe to repeat:
/// each reason fires once per issue.
pub async fn escalate_due(store: &dyn Store, now: Timestamp) -> Result<usize, StoreError> {
    let mut made = 0;
    for issue in store.active_issues().await? {
        for reason in patrol_core::sla::escalations_due(&issue, now) {
            let decide = move |s: &Snapshot| {
                let Some(current) = &s.issue else {
                    return Decision::Reject {
                        code: "gone".into(),
                        message: String::new(),
                    };
                };
                match lifecycle::escalate(current, reason, now) {
                    Ok(t) => {
                        let mut audit = t.audit;
                        audit.server_at = Some(now);
                        Decision::Apply(vec![Write::Issue(t.issue), Write::Audit(audit)])
                    }
                    Err(e) => Decision::Reject {
                        code: "skip".into(),
                        message: e.to_string(),
                    },
                }
            };
            if store.apply_system(issue.id, &decide).await? {
                tracing::info!(issue = %issue.id, ?reason, "escalated");
                made += 1;
            }
        }
    }
    Ok(made)
}

/// Run [`escalate_due`] every `every` until the task is dropped.
pub async fn run(store: Arc<dyn Store>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        if let Err(e) = escalate_due(store.as_ref(), Timestamp::now()).await {
            tracing::error!(error = %e, "escalation pass failed");
        }
    }
}
