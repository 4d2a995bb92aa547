//! Patrol rounds made by hand from what a phone pulls, for the server benchmarks: the routes of
//! a site with each checkpoint's QR token and checklist, and the ops of one walk of a route
//! (start, a QR visit at each checkpoint with an answer to every item of its checklist, finish)
//! as `/sync/push` takes them.

use serde_json::{Value, json};

use crate::Http;

/// Every change a pull from the start hands out, paged to the end (`limit` a page).
pub fn pull_all(http: &Http, token: &str, limit: u32) -> Vec<Value> {
    let mut changes: Vec<Value> = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = http.get(
            &format!("/api/v1/sync/pull?since={cursor}&limit={limit}"),
            Some(token),
        );
        assert_eq!(status, 200, "pull: {page}");
        changes.extend(page["changes"].as_array().cloned().unwrap_or_default());
        cursor = page["cursor"].as_str().unwrap_or_default().to_owned();
        if page["more"] != true {
            return changes;
        }
    }
}

/// The live entities of one kind in pulled changes.
pub fn of_kind<'a>(changes: &'a [Value], kind: &str) -> Vec<&'a Value> {
    changes
        .iter()
        .filter(|c| c["entity"] == kind && !c["data"].is_null())
        .map(|c| &c["data"])
        .collect()
}

/// A checkpoint of a route as the phone walks it.
#[derive(Debug, Clone)]
pub struct Stop {
    /// The checkpoint's id.
    pub id: Value,
    /// Its zone's id.
    pub zone_id: Value,
    /// The token its QR label carries.
    pub qr_token: Value,
    /// Its checklist's items (the newest pulled template of its zone's kind, else the
    /// standard catalogue's).
    pub items: Vec<Value>,
}

/// A route with checkpoints.
#[derive(Debug, Clone)]
pub struct Route {
    /// The route's id.
    pub id: Value,
    /// Its checkpoints in walking order.
    pub stops: Vec<Stop>,
}

/// The routes with checkpoints in pulled changes (at least one, or it panics).
pub fn routes(changes: &[Value]) -> Vec<Route> {
    let zones = of_kind(changes, "zone");
    let checkpoints = of_kind(changes, "checkpoint");
    let templates = of_kind(changes, "template");
    let items_of = |checkpoint: &Value| -> Vec<Value> {
        let zone = zones.iter().find(|z| z["id"] == checkpoint["zone_id"]);
        let kind = zone.map(|z| z["kind"].clone()).unwrap_or(Value::Null);
        let pulled = templates
            .iter()
            .filter(|t| t["zone_kind"] == kind)
            .max_by_key(|t| t["version"].as_u64());
        match pulled {
            Some(t) => t["items"].as_array().cloned().unwrap_or_default(),
            None => {
                let kind: Option<patrol_core::site::ZoneKind> = serde_json::from_value(kind).ok();
                kind.and_then(|k| patrol_core::checklist::Catalogue::standard().for_zone(k))
                    .and_then(|t| serde_json::to_value(&t.items).ok())
                    .and_then(|v| v.as_array().cloned())
                    .unwrap_or_default()
            }
        }
    };
    let routes: Vec<Route> = of_kind(changes, "route")
        .into_iter()
        .map(|r| Route {
            id: r["id"].clone(),
            stops: r["checkpoint_ids"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|id| checkpoints.iter().find(|c| &c["id"] == id))
                .map(|cp| Stop {
                    id: cp["id"].clone(),
                    zone_id: cp["zone_id"].clone(),
                    qr_token: cp["qr_token"].clone(),
                    items: items_of(cp),
                })
                .collect(),
        })
        .filter(|r| !r.stops.is_empty())
        .collect();
    assert!(
        !routes.is_empty(),
        "the pull has no routes with checkpoints"
    );
    routes
}

/// An op not numbered yet: its kind and body.
pub type Body = (&'static str, Value);

/// One walk of `route`, checkpoint by checkpoint: the first group starts the round, each holds
/// a checkpoint's QR visit and an answer to every item of its checklist (readings in their
/// normal range), the last also finishes the round. Number them with [`crate::op`].
pub fn walk(route: &Route) -> Vec<Vec<Body>> {
    let run = uuid::Uuid::now_v7();
    let mut groups: Vec<Vec<Body>> = route
        .stops
        .iter()
        .map(|stop| {
            let visit = uuid::Uuid::now_v7();
            let mut ops: Vec<Body> = vec![(
                "patrol.visit",
                json!({"visit_id": visit, "run_id": run, "checkpoint_id": stop.id,
                       "method": "qr", "token": stop.qr_token, "flags": []}),
            )];
            for item in &stop.items {
                let reading = match item["kind"].as_str() {
                    Some("reading") => {
                        let lo = item["normal_min"].as_f64();
                        let hi = item["normal_max"].as_f64();
                        json!(match (lo, hi) {
                            (Some(l), Some(h)) => (l + h) / 2.0,
                            (Some(l), None) => l,
                            (None, Some(h)) => h,
                            (None, None) => 1.0,
                        })
                    }
                    _ => Value::Null,
                };
                ops.push((
                    "patrol.result",
                    json!({"result_id": uuid::Uuid::now_v7(), "visit_id": visit,
                           "item_key": item["key"], "outcome": "ok",
                           "reading": reading, "note": "", "photos": []}),
                ));
            }
            ops
        })
        .collect();
    groups[0].insert(
        0,
        ("patrol.start", json!({"run_id": run, "route_id": route.id})),
    );
    if let Some(last) = groups.last_mut() {
        last.push(("patrol.finish", json!({"run_id": run, "missed": []})));
    }
    groups
}
