//! A demo estate built from the standard catalogue: two residential buildings and the grounds,
//! with signed checkpoint labels, two daily routes and one user of each role. The server's
//! `serve --demo` loads it; tests and the field simulator walk it.

use jiff::civil::Time;

use crate::ids::{CheckpointId, RouteId, SiteId, UserId, ZoneId};
use crate::labels::SiteKey;
use crate::route::{Route, Schedule};
use crate::routing::Routing;
use crate::site::{Checkpoint, Site, Zone, ZoneKind};
use crate::sla::SlaHours;
use crate::team::Team;
use crate::user::{Role, User};
use crate::wire::{Change, Entity};

/// Everything a site is made of, as reference data.
#[derive(Debug, Clone)]
pub struct Estate {
    /// The site.
    pub site: Site,
    /// Its places.
    pub zones: Vec<Zone>,
    /// Its labelled checkpoints.
    pub checkpoints: Vec<Checkpoint>,
    /// Its routes.
    pub routes: Vec<Route>,
    /// One user of each role (`demo-patrol`, `demo-tech`, `demo-super`, `demo-manager`,
    /// `demo-admin`), and a cleaner.
    pub users: Vec<User>,
}

impl Estate {
    /// The user with this login name.
    pub fn user(&self, username: &str) -> Option<&User> {
        self.users.iter().find(|u| u.username == username)
    }

    /// The estate as a device pulls it: site, zones, checkpoints, routes and users.
    pub fn reference_changes(&self) -> Vec<Change> {
        std::iter::once(Entity::Site(self.site.clone()))
            .chain(self.zones.iter().cloned().map(Entity::Zone))
            .chain(self.checkpoints.iter().cloned().map(Entity::Checkpoint))
            .chain(self.routes.iter().cloned().map(Entity::Route))
            .chain(self.users.iter().cloned().map(Entity::User))
            .map(|e| Change::of(&e))
            .collect()
    }

    /// The zone of a checkpoint.
    pub fn zone_of(&self, checkpoint: CheckpointId) -> Option<&Zone> {
        let cp = self.checkpoints.iter().find(|c| c.id == checkpoint)?;
        self.zones.iter().find(|z| z.id == cp.zone_id)
    }
}

/// One place of the demo estate: kind, building, floor, Chinese and English names.
struct Place {
    kind: ZoneKind,
    building: Option<&'static str>,
    floor: Option<&'static str>,
    zh: &'static str,
    en: &'static str,
}

const fn place(
    kind: ZoneKind,
    building: Option<&'static str>,
    floor: Option<&'static str>,
    zh: &'static str,
    en: &'static str,
) -> Place {
    Place {
        kind,
        building,
        floor,
        zh,
        en,
    }
}

/// Building rounds, in walking order: lobby, lift, stairs down from the roof.
const BUILDING_ROUND: &[Place] = &[
    place(
        ZoneKind::Lobby,
        Some("1栋"),
        Some("1F"),
        "1栋大堂",
        "Building 1 lobby",
    ),
    place(
        ZoneKind::Elevator,
        Some("1栋"),
        None,
        "1栋1号电梯",
        "Building 1 lift 1",
    ),
    place(
        ZoneKind::Rooftop,
        Some("1栋"),
        Some("RF"),
        "1栋逃生天台",
        "Building 1 escape rooftop",
    ),
    place(
        ZoneKind::Stairwell,
        Some("1栋"),
        Some("18F"),
        "1栋18楼楼梯间",
        "Building 1 stairwell 18F",
    ),
    place(
        ZoneKind::Stairwell,
        Some("1栋"),
        Some("9F"),
        "1栋9楼楼梯间",
        "Building 1 stairwell 9F",
    ),
    place(
        ZoneKind::Corridor,
        Some("1栋"),
        Some("2F"),
        "1栋2楼走廊",
        "Building 1 corridor 2F",
    ),
    place(
        ZoneKind::Meter,
        Some("1栋"),
        Some("1F"),
        "1栋水电表房",
        "Building 1 meter room",
    ),
    place(
        ZoneKind::Lobby,
        Some("2栋"),
        Some("1F"),
        "2栋大堂",
        "Building 2 lobby",
    ),
    place(
        ZoneKind::Elevator,
        Some("2栋"),
        None,
        "2栋1号电梯",
        "Building 2 lift 1",
    ),
    place(
        ZoneKind::Rooftop,
        Some("2栋"),
        Some("RF"),
        "2栋逃生天台",
        "Building 2 escape rooftop",
    ),
    place(
        ZoneKind::Stairwell,
        Some("2栋"),
        Some("11F"),
        "2栋11楼楼梯间",
        "Building 2 stairwell 11F",
    ),
    place(
        ZoneKind::Meter,
        Some("2栋"),
        Some("1F"),
        "2栋水电表房",
        "Building 2 meter room",
    ),
];

/// The grounds round.
const GROUNDS_ROUND: &[Place] = &[
    place(
        ZoneKind::Utilities,
        None,
        None,
        "东侧燃气调压箱及消防水泵接合器",
        "East gas regulator and fire pump inlet",
    ),
    place(
        ZoneKind::Amenities,
        None,
        None,
        "中心花园儿童游乐区",
        "Central garden playground",
    ),
    place(
        ZoneKind::Roads,
        None,
        None,
        "主干道及中心广场",
        "Main road and plaza",
    ),
    place(
        ZoneKind::Garage,
        None,
        Some("B1"),
        "地下停车库B1",
        "Basement garage B1",
    ),
    place(
        ZoneKind::Perimeter,
        None,
        None,
        "小区东门及围墙",
        "East gate and boundary wall",
    ),
];

/// Build the demo estate. Ids are new each time; labels are signed with `key`.
pub fn estate(code: &str, name: &str, key: &SiteKey) -> Estate {
    let site_id = SiteId::new();
    let site = Site {
        id: site_id,
        code: code.to_owned(),
        name: name.to_owned(),
        time_zone: crate::site::DEFAULT_TIME_ZONE.to_owned(),
        public_key: key.public_key_base64(),
        sla_hours: SlaHours::default(),
        routing: Routing::default(),
        retention_days: crate::site::DEFAULT_RETENTION_DAYS,
    };
    let mut zones = Vec::new();
    let mut checkpoints = Vec::new();
    let mut round = |places: &[Place]| -> Vec<CheckpointId> {
        places
            .iter()
            .map(|p| {
                let zone = Zone {
                    id: ZoneId::new(),
                    site_id,
                    kind: p.kind,
                    building: p.building.map(str::to_owned),
                    floor: p.floor.map(str::to_owned),
                    name: p.zh.to_owned(),
                };
                let id = CheckpointId::new();
                checkpoints.push(Checkpoint {
                    id,
                    site_id,
                    zone_id: zone.id,
                    name: p.zh.to_owned(),
                    name_en: Some(p.en.to_owned()),
                    qr_token: crate::labels::sign(site_id, id, key),
                });
                zones.push(zone);
                id
            })
            .collect()
    };
    let buildings = round(BUILDING_ROUND);
    let grounds = round(GROUNDS_ROUND);
    let times = |hm: &[(i8, i8)]| {
        hm.iter()
            .map(|&(h, m)| Time::constant(h, m, 0, 0))
            .collect()
    };
    let routes = vec![
        Route {
            id: RouteId::new(),
            site_id,
            name: "楼栋巡查 / Building round".to_owned(),
            min_walk_secs: 30,
            min_round_secs: (buildings.len() as u32) * 60,
            checkpoint_ids: buildings,
            schedule: Schedule {
                times: times(&[(9, 0), (15, 0)]),
                days: Vec::new(),
            },
        },
        Route {
            id: RouteId::new(),
            site_id,
            name: "公共设施巡查 / Grounds round".to_owned(),
            min_walk_secs: 60,
            min_round_secs: (grounds.len() as u32) * 120,
            checkpoint_ids: grounds,
            schedule: Schedule {
                times: times(&[(10, 0), (16, 30)]),
                days: Vec::new(),
            },
        },
    ];
    let person = |username: &str, display: &str, role, team| User {
        id: UserId::new(),
        username: username.to_owned(),
        display_name: display.to_owned(),
        role,
        team,
        site_ids: vec![site_id],
    };
    let users = vec![
        person("demo-patrol", "巡查员 小李", Role::Patrol, None),
        person(
            "demo-tech",
            "维修工 老王",
            Role::Technician,
            Some(Team::Engineering),
        ),
        person(
            "demo-cleaner",
            "保洁 张阿姨",
            Role::Technician,
            Some(Team::Cleaning),
        ),
        person("demo-super", "物业助理 陈主管", Role::Supervisor, None),
        person(
            "demo-manager",
            "管理处主任 刘经理",
            Role::Manager,
            Some(Team::Management),
        ),
        person("demo-admin", "系统管理员", Role::Admin, None),
    ];
    Estate {
        site,
        zones,
        checkpoints,
        routes,
        users,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checklist::Catalogue;

    #[test]
    fn the_demo_estate_is_walkable_with_the_standard_catalogue() {
        let key = SiteKey::generate().unwrap();
        let e = estate("demo", "阳光花园", &key);
        for cp in &e.checkpoints {
            let zone = e.zone_of(cp.id).unwrap();
            assert!(
                Catalogue::standard().for_zone(zone.kind).is_some(),
                "{:?}",
                zone.kind
            );
            assert!(cp.qr_token.starts_with("PTRL1."));
        }
        for route in &e.routes {
            assert!(route.checkpoint_ids.len() >= 5);
            assert!(route.min_round_secs > 0);
        }
        for name in [
            "demo-patrol",
            "demo-tech",
            "demo-super",
            "demo-manager",
            "demo-admin",
        ] {
            assert!(e.user(name).is_some(), "{name}");
        }
        let kinds: std::collections::BTreeSet<_> = e.zones.iter().map(|z| z.kind).collect();
        assert_eq!(
            kinds.len(),
            ZoneKind::ALL.len(),
            "every kind of place appears"
        );
    }
}
