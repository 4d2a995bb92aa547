//! Field records of a patrol round (DESIGN.md §3). Devices create them; they never change after
//! the round is finished.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::{CheckpointId, ResultId, RouteId, RunId, SiteId, UserId, VisitId};
use crate::plausibility::ScanFlag;
use crate::text::Text;

/// One patrol round as walked.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatrolRun {
    /// Id.
    pub id: RunId,
    /// Site.
    pub site_id: SiteId,
    /// The route walked.
    pub route_id: RouteId,
    /// Who walked it.
    pub patroller_id: UserId,
    /// When it started.
    pub started_at: Timestamp,
    /// When it finished; `None` while under way.
    #[serde(default)]
    pub finished_at: Option<Timestamp>,
    /// Checkpoints not visited, each with its reason.
    #[serde(default)]
    pub missed: Vec<Missed>,
    /// Flags about the round as a whole (finished too fast).
    #[serde(default)]
    pub flags: Vec<ScanFlag>,
}

/// A checkpoint left out of a round, and why.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Missed {
    /// The checkpoint.
    pub checkpoint_id: CheckpointId,
    /// Why it was not visited.
    pub reason: String,
}

/// How a visit was recorded.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisitMethod {
    /// The label was scanned.
    Qr,
    /// Entered by hand, with a reason (label missing or unreadable).
    Manual,
}

impl VisitMethod {
    /// The name for people.
    pub fn label(self) -> Text {
        match self {
            VisitMethod::Qr => Text::new("扫码", "QR scan"),
            VisitMethod::Manual => Text::new("手动登记", "by hand"),
        }
    }
}

/// One visit to a checkpoint.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Visit {
    /// Id.
    pub id: VisitId,
    /// The round.
    pub run_id: RunId,
    /// The checkpoint.
    pub checkpoint_id: CheckpointId,
    /// How it was recorded.
    pub method: VisitMethod,
    /// The scanned label text, for `qr`.
    #[serde(default)]
    pub token: Option<String>,
    /// Why it was entered by hand, for `manual`.
    #[serde(default)]
    pub reason: Option<String>,
    /// When.
    pub at: Timestamp,
    /// Plausibility flags raised on the device.
    #[serde(default)]
    pub flags: Vec<ScanFlag>,
}

/// The answer to a check item.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// 正常.
    Ok,
    /// 故障 / 不符合.
    Fault,
    /// 不适用.
    Na,
}

impl Outcome {
    /// The name for people.
    pub fn label(self) -> Text {
        match self {
            Outcome::Ok => Text::new("正常", "OK"),
            Outcome::Fault => Text::new("故障", "fault"),
            Outcome::Na => Text::new("不适用", "n/a"),
        }
    }
}

/// One answered checklist item.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemResult {
    /// Id.
    pub id: ResultId,
    /// The visit it belongs to.
    pub visit_id: VisitId,
    /// The checklist item's key.
    pub item_key: String,
    /// The judged outcome.
    pub outcome: Outcome,
    /// The number read, for readings.
    #[serde(default)]
    pub reading: Option<f64>,
    /// Note.
    #[serde(default)]
    pub note: Option<String>,
    /// Photos (blob hashes).
    #[serde(default)]
    pub photos: Vec<String>,
}
