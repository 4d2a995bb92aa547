//! Reference data about places: sites, zones and checkpoints (DESIGN.md §3).

use serde::{Deserialize, Serialize};

use crate::ids::{CheckpointId, SiteId, ZoneId};
use crate::routing::Routing;
use crate::sla::SlaHours;
use crate::text::Text;

/// The time zone a site gets when it names none.
pub const DEFAULT_TIME_ZONE: &str = "Asia/Shanghai";

/// How long patrol records are kept before they are archived and purged (two years, 004 §4.9).
pub const DEFAULT_RETENTION_DAYS: u32 = 730;

/// An estate run by one management office.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Site {
    /// Id.
    pub id: SiteId,
    /// Short code staff type and CLI commands take, e.g. `demo`.
    pub code: String,
    /// Display name.
    pub name: String,
    /// IANA time zone of the site; SLA days and schedules are counted in it.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// Ed25519 public key that verifies the site's QR labels, base64url without padding.
    pub public_key: String,
    /// Resolution time by severity.
    #[serde(default)]
    pub sla_hours: SlaHours,
    /// Categories this site routes to a non-standard team.
    #[serde(default)]
    pub routing: Routing,
    /// Days patrol records are kept.
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
}

fn default_time_zone() -> String {
    DEFAULT_TIME_ZONE.to_owned()
}

fn default_retention_days() -> u32 {
    DEFAULT_RETENTION_DAYS
}

impl Site {
    /// The site's time zone; an unknown name is an error, never silently UTC.
    pub fn tz(&self) -> Result<jiff::tz::TimeZone, crate::time::TimeError> {
        jiff::tz::TimeZone::get(&self.time_zone).map_err(|_| {
            crate::time::TimeError::UnknownTimeZone {
                name: self.time_zone.clone(),
            }
        })
    }
}

/// What kind of place a zone is; it picks the checklist.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneKind {
    /// 水电表 (meter rooms and meter boxes).
    Meter,
    /// 楼梯间.
    Stairwell,
    /// 逃生天台.
    Rooftop,
    /// 电梯.
    Elevator,
    /// 大堂、门厅.
    Lobby,
    /// 走廊.
    Corridor,
    /// 室外水、电、气、通讯设施.
    Utilities,
    /// 公共体设施: rockeries, playgrounds, greenery.
    Amenities,
    /// 道路、广场、公共集散地.
    Roads,
    /// 停车库.
    Garage,
    /// 周边环境.
    Perimeter,
}

impl ZoneKind {
    /// Every zone kind, in the order of the procedure.
    pub const ALL: [ZoneKind; 11] = [
        ZoneKind::Meter,
        ZoneKind::Stairwell,
        ZoneKind::Rooftop,
        ZoneKind::Elevator,
        ZoneKind::Lobby,
        ZoneKind::Corridor,
        ZoneKind::Utilities,
        ZoneKind::Amenities,
        ZoneKind::Roads,
        ZoneKind::Garage,
        ZoneKind::Perimeter,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ZoneKind::Meter => "meter",
            ZoneKind::Stairwell => "stairwell",
            ZoneKind::Rooftop => "rooftop",
            ZoneKind::Elevator => "elevator",
            ZoneKind::Lobby => "lobby",
            ZoneKind::Corridor => "corridor",
            ZoneKind::Utilities => "utilities",
            ZoneKind::Amenities => "amenities",
            ZoneKind::Roads => "roads",
            ZoneKind::Garage => "garage",
            ZoneKind::Perimeter => "perimeter",
        }
    }

    /// The name for people.
    pub fn label(self) -> Text {
        match self {
            ZoneKind::Meter => Text::new("水电表", "Meters"),
            ZoneKind::Stairwell => Text::new("楼梯间", "Stairwell"),
            ZoneKind::Rooftop => Text::new("逃生天台", "Escape rooftop"),
            ZoneKind::Elevator => Text::new("电梯", "Elevator"),
            ZoneKind::Lobby => Text::new("大堂、门厅", "Lobby"),
            ZoneKind::Corridor => Text::new("走廊", "Corridor"),
            ZoneKind::Utilities => Text::new("水、电、气、通讯设施", "Outdoor utilities"),
            ZoneKind::Amenities => Text::new("公共体设施", "Amenities"),
            ZoneKind::Roads => Text::new("道路、广场", "Roads and plazas"),
            ZoneKind::Garage => Text::new("停车库", "Garage"),
            ZoneKind::Perimeter => Text::new("周边环境", "Surroundings"),
        }
    }
}

impl std::str::FromStr for ZoneKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ZoneKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown zone kind `{s}`"))
    }
}

/// A place on a site.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Zone {
    /// Id.
    pub id: ZoneId,
    /// The site it is on.
    pub site_id: SiteId,
    /// What kind of place it is.
    pub kind: ZoneKind,
    /// Building, if inside one ("3栋").
    #[serde(default)]
    pub building: Option<String>,
    /// Floor, if any ("12F", "B1").
    #[serde(default)]
    pub floor: Option<String>,
    /// Name, Chinese.
    pub name: String,
}

/// A labelled spot in a zone.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Id.
    pub id: CheckpointId,
    /// The site it is on.
    pub site_id: SiteId,
    /// The zone it is in.
    pub zone_id: ZoneId,
    /// Name, Chinese (printed under the code).
    pub name: String,
    /// Name, English (printed under the Chinese).
    #[serde(default)]
    pub name_en: Option<String>,
    /// The signed text its QR label carries (`PTRL1.…`).
    pub qr_token: String,
}
