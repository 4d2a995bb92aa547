//! `patrol-server bench-push` (hidden): pushes read from a file applied in this process, as
//! `/sync/push` applies them once the request is read and signed in — the same checks, rules,
//! hash chain and transaction, without HTTP, JSON or the token. `tests/src/bin/ingestbench.rs`
//! compares it with the same pushes over HTTP and with a bare insert of the same rows.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use patrol_core::user::Actor;
use patrol_core::wire::{OpStatus, PushRequest};

use crate::store::Store;

/// Apply every device's pushes (each device's in order, the devices at once) as `username`;
/// prints `{"ops": applied, "seconds": elapsed}`.
#[allow(clippy::print_stdout)] // the benchmark reads it
pub async fn run(store: Arc<dyn Store>, username: &str, file: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let devices: Vec<Vec<PushRequest>> =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    let account = store
        .account(username)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no user {username}"))?;
    let user = account.user;
    let actor = Actor {
        user_id: user.id,
        role: user.role,
        team: user.team,
        site_ids: user.site_ids,
    };
    let started = Instant::now();
    let mut tasks = Vec::new();
    for pushes in devices {
        let store = store.clone();
        let actor = actor.clone();
        tasks.push(tokio::spawn(async move {
            let mut applied = 0u64;
            for push in pushes {
                let response = crate::api::push_ops(store.as_ref(), &actor, push)
                    .await
                    .map_err(|e| format!("push refused: {e:?}"))?;
                applied += response
                    .results
                    .iter()
                    .filter(|r| r.status == OpStatus::Applied)
                    .count() as u64;
            }
            Ok::<u64, String>(applied)
        }));
    }
    let mut applied = 0;
    for t in tasks {
        applied += t.await.map_err(|e| e.to_string())??;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({"ops": applied, "seconds": seconds})
    );
    Ok(())
}
