//! Field records of a patrol round (DESIGN.md §3). Devices create them; they never change after
//! the round is finished.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::{CheckpointId, ResultId, RouteId, RunId, SiteId, UserId, VisitId};
use crate::plausibility::ScanFlag;

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

/// Why a step of a round breaks the patrol rules; the phone checks before it records, the
/// server again before it applies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoundError {
    /// Someone else's round.
    #[error("这不是你的巡查 / this is not your round")]
    NotYourRound,
    /// The round is over.
    #[error("本轮巡查已结束 / this round is already finished")]
    RoundFinished,
    /// A visit without a scan needs a reason.
    #[error("未扫码登记需要说明原因 / a visit without a scan needs a reason")]
    ReasonRequired,
}

impl PatrolRun {
    /// Whether `who` may still add to this round: it is theirs and not finished.
    pub fn check_open_for(&self, who: UserId) -> Result<(), RoundError> {
        if self.patroller_id != who {
            Err(RoundError::NotYourRound)
        } else if self.finished_at.is_some() {
            Err(RoundError::RoundFinished)
        } else {
            Ok(())
        }
    }
}

/// A manual visit must say why the label was not scanned.
pub fn check_visit_reason(method: VisitMethod, reason: Option<&str>) -> Result<(), RoundError> {
    match method {
        VisitMethod::Manual if reason.is_none_or(|r| r.trim().is_empty()) => {
            Err(RoundError::ReasonRequired)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_patroller_adds_to_an_open_round() {
        let me = UserId::new();
        let mut run = PatrolRun {
            id: RunId::new(),
            site_id: SiteId::new(),
            route_id: RouteId::new(),
            patroller_id: me,
            started_at: Timestamp::UNIX_EPOCH,
            finished_at: None,
            missed: vec![],
            flags: vec![],
        };
        assert_eq!(run.check_open_for(me), Ok(()));
        assert_eq!(
            run.check_open_for(UserId::new()),
            Err(RoundError::NotYourRound)
        );
        run.finished_at = Some(Timestamp::UNIX_EPOCH);
        assert_eq!(run.check_open_for(me), Err(RoundError::RoundFinished));
        assert_eq!(
            check_visit_reason(VisitMethod::Manual, Some("  ")),
            Err(RoundError::ReasonRequired)
        );
        assert_eq!(
            check_visit_reason(VisitMethod::Manual, Some("标签被撕")),
            Ok(())
        );
        assert_eq!(check_visit_reason(VisitMethod::Qr, None), Ok(()));
    }
}
