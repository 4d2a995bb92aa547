//! `serve --demo`: a demo estate from the standard catalogue, one user of each role and a few
//! open issues, loaded once so a restart keeps what was done.

use jiff::{SignedDuration, Timestamp};
use patrol_core::checklist::Catalogue;
use patrol_core::ids::IssueId;
use patrol_core::issue::{Category, Severity, Source};
use patrol_core::labels::SiteKey;
use patrol_core::lifecycle::{self, Found, Report};
use patrol_core::user::Actor;

use crate::auth::hash_password;
use crate::error::ApiError;
use crate::store::{Decision, Store, Write};

/// The demo site's code.
pub const CODE: &str = "demo";
/// Every demo user's password.
pub const PASSWORD: &str = "demo";

/// Load the demo estate unless it is there already. Returns whether it was loaded now.
pub async fn load(store: &dyn Store) -> Result<bool, ApiError> {
    if store.site_by_code(CODE).await?.is_some() {
        return Ok(false);
    }
    let key = SiteKey::generate().map_err(|e| ApiError::internal(&e))?;
    let estate = patrol_core::demo::estate(CODE, "阳光花园（演示）", &key);
    for t in &Catalogue::standard().templates {
        store.put_template(t).await?;
    }
    store.put_site(&estate.site, &key.secret_base64()).await?;
    for z in &estate.zones {
        store.put_zone(z).await?;
    }
    for c in &estate.checkpoints {
        store.put_checkpoint(c).await?;
    }
    for r in &estate.routes {
        store.put_route(r).await?;
    }
    let hash = hash_password(PASSWORD)?;
    for u in &estate.users {
        store.add_user(u, &hash).await?;
    }
    // A few problems already in the queue, reported by the demo patroller.
    let patroller = estate
        .user("demo-patrol")
        .map(Actor::from)
        .ok_or_else(|| ApiError::internal(&"demo patroller"))?;
    let now = Timestamp::now();
    let zone = |kind| estate.zones.iter().find(|z| z.kind == kind);
    use patrol_core::site::ZoneKind as K;
    let seeds = [
        (
            K::Stairwell,
            Category::Facility,
            Severity::Routine,
            "1栋18楼楼梯灯不亮",
            30,
        ),
        (
            K::Rooftop,
            Category::Fire,
            Severity::Major,
            "2栋逃生天台门被上锁",
            50,
        ),
        (
            K::Garage,
            Category::Cleaning,
            Severity::Routine,
            "车库B1入口地面油污",
            5,
        ),
        (
            K::Amenities,
            Category::Facility,
            Severity::Major,
            "儿童滑梯扶手松动",
            68,
        ),
    ];
    for (kind, category, severity, title, hours_ago) in seeds {
        let report = Report {
            issue_id: IssueId::new(),
            site_id: estate.site.id,
            zone_id: zone(kind).map(|z| z.id),
            checkpoint_id: None,
            visit_id: None,
            item_key: None,
            category,
            severity,
            title: title.to_owned(),
            note: None,
            photos: Vec::new(),
            observed_at: now - SignedDuration::from_hours(hours_ago),
            source: Source::Patrol,
            fixed_on_spot: false,
        };
        let found = Found {
            zone: zone(kind),
            ..Found::default()
        };
        let t = lifecycle::report(&patroller, &estate.site, report, &found)
            .map_err(|e| ApiError::internal(&e))?;
        let id = t.issue.id;
        let decide = move |_: &crate::store::Snapshot| {
            let mut audit = t.audit.clone();
            audit.server_at = Some(now);
            Decision::Apply(vec![Write::Issue(t.issue.clone()), Write::Audit(audit)])
        };
        store.apply_system(id, &decide).await?;
    }
    Ok(true)
}
