//! The site file a property office writes (see `server/examples/site.yaml`): a site with its
//! zones, checkpoints and routes in YAML. Reading it checks everything and signs every
//! checkpoint's label before anything is stored; the server's `site import FILE` stores the
//! result. Behind the `sitefile` feature: phones never read these files.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::ids::{CheckpointId, RouteId, SiteId, ZoneId};
use crate::issue::Category;
use crate::labels::{self, KeyError, SiteKey};
use crate::route::{Day, Route, Schedule};
use crate::routing::Routing;
use crate::site::{Checkpoint, DEFAULT_RETENTION_DAYS, DEFAULT_TIME_ZONE, Site, Zone, ZoneKind};
use crate::sla::SlaHours;
use crate::team::Team;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteFile {
    code: String,
    name: String,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    sla_hours: Option<SlaHours>,
    #[serde(default)]
    retention_days: Option<u32>,
    #[serde(default)]
    routing: BTreeMap<Category, Team>,
    zones: Vec<ZoneFile>,
    #[serde(default)]
    routes: Vec<RouteFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ZoneFile {
    kind: ZoneKind,
    #[serde(default)]
    building: Option<String>,
    #[serde(default)]
    floor: Option<String>,
    name: String,
    checkpoints: Vec<CheckpointFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointFile {
    key: String,
    name: String,
    #[serde(default)]
    name_en: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteFile {
    name: String,
    times: Vec<jiff::civil::Time>,
    #[serde(default)]
    days: Vec<Day>,
    #[serde(default = "default_walk")]
    min_walk_secs: u32,
    #[serde(default)]
    min_round_secs: u32,
    checkpoints: Vec<String>,
}

fn default_walk() -> u32 {
    20
}

/// Why a site file was refused. The messages are what the admin command prints.
#[derive(Debug, thiserror::Error)]
pub enum SiteFileError {
    /// Not YAML, or not of the site file's shape (an unknown field, a zone kind that does not
    /// exist…); serde says where.
    #[error("cannot read the site file: {0}")]
    Read(#[from] serde_norway::Error),
    /// No key could be made to sign the labels.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Readable, but wrong in these places; every one is listed so one edit can fix them all.
    #[error("the site file has problems:\n  - {}", .0.join("\n  - "))]
    Problems(Vec<String>),
}

/// A site ready to store.
#[derive(Debug)]
pub struct Import {
    /// The site.
    pub site: Site,
    /// Its label key.
    pub key: SiteKey,
    /// Its zones.
    pub zones: Vec<Zone>,
    /// Its checkpoints, labels signed.
    pub checkpoints: Vec<Checkpoint>,
    /// Its routes.
    pub routes: Vec<Route>,
}

/// Read and check a site file; every problem is reported, with where it is.
pub fn parse(yaml: &str) -> Result<Import, SiteFileError> {
    let file: SiteFile = serde_norway::from_str(yaml)?;
    let mut problems = Vec::new();
    if file.code.trim().is_empty()
        || !file
            .code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        problems.push(format!(
            "code `{}`: use letters, digits, - and _",
            file.code
        ));
    }
    let time_zone = file
        .time_zone
        .unwrap_or_else(|| DEFAULT_TIME_ZONE.to_owned());
    if jiff::tz::TimeZone::get(&time_zone).is_err() {
        problems.push(format!(
            "time_zone `{time_zone}` is not a known IANA time zone"
        ));
    }
    let retention_days = file.retention_days.unwrap_or(DEFAULT_RETENTION_DAYS);
    if retention_days == 0 {
        // Nothing could be recorded: every record would be older than the retention.
        problems.push("retention_days: keep patrol records at least 1 day".to_owned());
    }
    let key = SiteKey::generate()?;
    let site = Site {
        id: SiteId::new(),
        code: file.code.trim().to_owned(),
        name: file.name,
        time_zone,
        public_key: key.public_key_base64(),
        sla_hours: file.sla_hours.unwrap_or_default(),
        routing: Routing {
            overrides: file.routing,
        },
        retention_days,
    };
    let mut zones = Vec::new();
    let mut checkpoints = Vec::new();
    let mut by_key = BTreeMap::new();
    for z in file.zones {
        let zone = Zone {
            id: ZoneId::new(),
            site_id: site.id,
            kind: z.kind,
            building: z.building,
            floor: z.floor,
            name: z.name,
        };
        if z.checkpoints.is_empty() {
            problems.push(format!("zone `{}` has no checkpoints", zone.name));
        }
        for c in z.checkpoints {
            let id = CheckpointId::new();
            if by_key.insert(c.key.clone(), id).is_some() {
                problems.push(format!("checkpoint key `{}` is used twice", c.key));
            }
            checkpoints.push(Checkpoint {
                id,
                site_id: site.id,
                zone_id: zone.id,
                name: c.name,
                name_en: c.name_en,
                qr_token: labels::sign(site.id, id, &key),
            });
        }
        zones.push(zone);
    }
    let mut routes = Vec::new();
    for r in file.routes {
        let mut ids = Vec::new();
        let mut seen = BTreeSet::new();
        for k in &r.checkpoints {
            match by_key.get(k) {
                Some(id) if seen.insert(*id) => ids.push(*id),
                Some(_) => problems.push(format!("route `{}` lists `{k}` twice", r.name)),
                None => problems.push(format!("route `{}` names unknown checkpoint `{k}`", r.name)),
            }
        }
        if r.times.is_empty() {
            problems.push(format!("route `{}` has no start times", r.name));
        }
        routes.push(Route {
            id: RouteId::new(),
            site_id: site.id,
            name: r.name,
            checkpoint_ids: ids,
            schedule: Schedule {
                times: r.times,
                days: r.days,
            },
            min_walk_secs: r.min_walk_secs,
            min_round_secs: r.min_round_secs,
        });
    }
    if !problems.is_empty() {
        return Err(SiteFileError::Problems(problems));
    }
    Ok(Import {
        site,
        key,
        zones,
        checkpoints,
        routes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../server/examples/site.yaml");

    #[test]
    fn the_example_site_imports_with_signed_labels() {
        let i = parse(EXAMPLE).unwrap();
        assert_eq!(i.site.code, "cuihu");
        assert_eq!(i.zones.len(), 5);
        assert_eq!(i.checkpoints.len(), 6);
        assert_eq!(i.routes[0].checkpoint_ids.len(), 6);
        assert_eq!(
            i.site.routing.team_for(Category::Renovation),
            Team::Management
        );
        let known: BTreeSet<_> = i.checkpoints.iter().map(|c| c.id).collect();
        for c in &i.checkpoints {
            assert_eq!(
                labels::verify_for_site(&c.qr_token, &i.site, &[], &known),
                Ok(c.id)
            );
        }
    }

    #[test]
    fn a_site_keeps_patrol_records_two_years_unless_its_file_says_otherwise() {
        assert_eq!(parse(EXAMPLE).unwrap().site.retention_days, 730);
        let longer = EXAMPLE.replace("zones:", "retention_days: 1095\nzones:");
        assert_eq!(parse(&longer).unwrap().site.retention_days, 1095);
        let none = EXAMPLE.replace("zones:", "retention_days: 0\nzones:");
        let err = parse(&none).unwrap_err().to_string();
        assert!(err.contains("retention_days"), "{err}");
    }

    #[test]
    fn mistakes_are_all_reported_with_where_they_are() {
        let bad = EXAMPLE
            .replace(
                "[b5-lobby, b5-lift-a",
                "[b5-lobby, b5-lobby, nowhere, b5-lift-a",
            )
            .replace("key: b5-lift-b", "key: b5-lift-a")
            .replace("Asia/Shanghai        #", "Asia/Atlantis        #");
        let err = parse(&bad).unwrap_err().to_string();
        assert!(
            err.starts_with("the site file has problems:\n  - "),
            "{err}"
        );
        for expected in [
            "`b5-lobby` twice",
            "unknown checkpoint `nowhere`",
            "`b5-lift-a` is used twice",
            "Asia/Atlantis",
        ] {
            assert!(err.contains(expected), "{expected} missing from: {err}");
        }
        let err = parse(&EXAMPLE.replace("kind: garage", "kind: spaceport"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("cannot read the site file: "), "{err}");
        assert!(err.contains("spaceport"), "{err}");
        let err = parse(&EXAMPLE.replace(
            "name_en: Building 5 lobby desk",
            "name_en: x\n        colour: red",
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("colour"), "{err}");
    }
}
