//! The alert pass (DESIGN.md §11): on every site, the scheduled rounds not started within their
//! grace and the active issues past their due time, judged by core's rules
//! ([`patrol_core::alert`]) at the background clock's "now", and stored once each. Urgent and
//! major issues and incomplete rounds raise their alert in the transaction of the op that
//! reports or finishes them (see `sync`), so that no pull ever shows one without the other.
//!
//! Safe to repeat and to run in several processes at once: every alert has a unique once key,
//! and raising one that exists does nothing, inside the store's write lock (on PostgreSQL an
//! advisory lock shared by every server process on the database).

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use patrol_core::alert::{self, Alert};
use patrol_core::user::Actor;
use patrol_core::wire::Change;

use crate::clock::Clock;
use crate::store::{Job, Store, StoreError};

/// Raise every alert due at `now` that was not raised before; returns those raised now.
pub async fn raise_due(store: &dyn Store, now: Timestamp) -> Result<Vec<Alert>, StoreError> {
    let sites = store.sites().await?;
    let mut due = Vec::new();
    for site in &sites {
        let Ok(tz) = site.tz() else {
            tracing::warn!(site = %site.code, zone = %site.time_zone, "unknown time zone: no round alerts");
            continue;
        };
        let routes = store.routes(site.id).await?;
        if routes.is_empty() {
            continue;
        }
        let Ok((from, to)) = alert::missed_rounds_window(&tz, now) else {
            continue;
        };
        let runs = store.runs_started(site.id, from, to).await?;
        due.extend(alert::missed_rounds(&tz, &routes, &runs, now));
    }
    for issue in store.active_issues().await? {
        let Some(tz) = sites
            .iter()
            .find(|s| s.id == issue.site_id)
            .and_then(|s| s.tz().ok())
        else {
            continue;
        };
        due.extend(alert::overdue(&issue, &tz, now));
    }
    let raised = store.raise_alerts(&due).await?;
    for a in &raised {
        counted(a);
    }
    Ok(raised)
}

/// Log and count an alert just raised (by the pass, or with the op that raised it).
pub fn counted(a: &Alert) {
    tracing::info!(alert = %a.id, site = %a.site_id, kind = a.kind.as_str(), text = %a.text_en, "alert raised");
    metrics::counter!("patrol_alerts_raised_total", "kind" => a.kind.as_str()).increment(1);
}

/// Run [`raise_due`] every `every` by `clock` until the task is dropped.
pub async fn run(store: Arc<dyn Store>, clock: Clock, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let pass = async {
            // Another server process on the same database may be at it: skip this tick.
            let Some(_lock) = store.job_lock(Job::Alerts).await? else {
                return Ok(());
            };
            raise_due(store.as_ref(), clock.now()).await.map(drop)
        };
        if let Err(e) = pass.await {
            tracing::error!(error = %e, "alert pass failed");
        }
    }
}

/// A pulled page as `actor` may see it: alerts not theirs to see come as gone (as issues do),
/// so that a shared phone forgets what the previous person saw.
pub fn screen(actor: &Actor, changes: &mut [Change]) {
    for c in changes.iter_mut().filter(|c| c.entity == "alert") {
        let visible = c
            .data
            .as_ref()
            .and_then(|d| serde_json::from_value::<Alert>(d.clone()).ok())
            .is_some_and(|a| alert::may_see(actor, &a));
        if !visible {
            c.data = None;
        }
    }
}
