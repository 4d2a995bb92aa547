//! The round state machine (DESIGN.md §3–4), beside [`crate::lifecycle`] for issues: start,
//! visit, answer, finish — who may walk a round, which checkpoints belong to it, how an answer is
//! judged and what a finished round must say. The phone checks every step here before it records
//! it; the server checks it again, on its own copy of the reference data, before it applies it.
//! Both answer a refusal with the same [`RoundError::code`].
//!
//! ```text
//! start ──▶ visit (scan or by hand, on the route) ──▶ answer (judged by the item) ─┐
//!             ▲                                                                  │
//!             └──────────────────────────────────────────────────────────────────┘
//!           ──▶ finish (every checkpoint not visited has a reason) ──▶ sealed
//! ```

use std::collections::BTreeSet;

use jiff::Timestamp;

use crate::bounds::{self, BoundError, Field};
use crate::checklist::{Answer, AnswerError, Template};
use crate::ids::{CheckpointId, ResultId, RunId, VisitId};
use crate::labels::{self, LabelError};
use crate::patrol::{ItemResult, Missed, PatrolRun, Visit, VisitMethod};
use crate::plausibility::{self, ScanFlag};
use crate::route::Route;
use crate::site::{Checkpoint, Site};
use crate::user::{Actor, Role};

/// Why a step of a round is refused. Messages are shown to staff: Chinese first, then English.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoundError {
    /// Technicians and admins do not walk rounds.
    #[error("你的岗位不需要巡查 / your role does not walk rounds")]
    NotAPatrolRole,
    /// The route is on a site the person does not work on.
    #[error("该路线不在你负责的小区 / this route is not on your site")]
    OtherSite,
    /// No such route.
    #[error("找不到该路线 / unknown route")]
    UnknownRoute,
    /// No such round.
    #[error("找不到该巡查 / unknown round")]
    UnknownRun,
    /// No such visit in this round.
    #[error("找不到该巡查点记录 / unknown visit")]
    UnknownVisit,
    /// No such checkpoint on the round's site.
    #[error("本小区没有这个巡查点 / no such checkpoint on this site")]
    UnknownCheckpoint,
    /// A round with this id exists already.
    #[error("该巡查已开始 / this round was already started")]
    RunExists,
    /// A visit with this id exists already.
    #[error("该巡查点记录已存在 / this visit already exists")]
    VisitExists,
    /// Someone else's round.
    #[error("这不是你的巡查 / this is not your round")]
    NotYourRound,
    /// The round is over.
    #[error("本轮巡查已结束 / this round is already finished")]
    RoundFinished,
    /// A visit without a scan needs a reason.
    #[error("未扫码登记需要说明原因 / a visit without a scan needs a reason")]
    ReasonRequired,
    /// The checkpoint is not on the round's route.
    #[error("该巡查点不在本路线上：{name} / this checkpoint is not on the route: {name}")]
    NotOnRoute {
        /// The checkpoint's name.
        name: String,
    },
    /// The scanned label was refused.
    #[error(transparent)]
    Label(#[from] LabelError),
    /// The label is genuine but names another checkpoint than the visit.
    #[error("扫描的标签与巡查点不符 / the scanned label names another checkpoint")]
    LabelMismatch,
    /// The checkpoint's checklist has no such item.
    #[error("检查表中没有此项：{key} / no such checklist item: {key}")]
    UnknownItem {
        /// The key given.
        key: String,
    },
    /// The answer does not satisfy its item.
    #[error(transparent)]
    Answer(#[from] AnswerError),
    /// A checkpoint of the route was left out without a reason.
    #[error("未巡查的点需要说明原因：{name} / give a reason for the missed checkpoint {name}")]
    MissedWithoutReason {
        /// The checkpoint's name.
        name: String,
    },
    /// A limit of DESIGN §7 was passed.
    #[error(transparent)]
    Bound(#[from] BoundError),
}

impl RoundError {
    /// The machine-readable code, the same on the phone and on the server.
    pub fn code(&self) -> &'static str {
        match self {
            RoundError::NotAPatrolRole => "not_a_patrol_role",
            RoundError::OtherSite => "other_site",
            RoundError::UnknownRoute => "unknown_route",
            RoundError::UnknownRun => "unknown_run",
            RoundError::UnknownVisit => "unknown_visit",
            RoundError::UnknownCheckpoint => "unknown_checkpoint",
            RoundError::RunExists => "run_exists",
            RoundError::VisitExists => "visit_exists",
            RoundError::NotYourRound => "not_your_round",
            RoundError::RoundFinished => "round_finished",
            RoundError::ReasonRequired => "reason_missing",
            RoundError::NotOnRoute { .. } => "not_on_route",
            RoundError::Label(e) => e.code(),
            RoundError::LabelMismatch => "label_mismatch",
            RoundError::UnknownItem { .. } => "unknown_item",
            RoundError::Answer(e) => e.code(),
            RoundError::MissedWithoutReason { .. } => "missed_without_reason",
            RoundError::Bound(e) => e.code(),
        }
    }
}

/// Whether this person walks rounds at all: patrol staff, supervisors and managers do;
/// technicians work jobs, admins set up sites.
pub fn walks_rounds(role: Role) -> bool {
    !matches!(role, Role::Technician | Role::Admin)
}

/// Start a round of `route`: the person walks rounds and works on the route's site.
pub fn start(
    actor: &Actor,
    route: &Route,
    run_id: RunId,
    at: Timestamp,
) -> Result<PatrolRun, RoundError> {
    if !walks_rounds(actor.role) {
        return Err(RoundError::NotAPatrolRole);
    }
    if !actor.works_on(route.site_id) {
        return Err(RoundError::OtherSite);
    }
    Ok(PatrolRun {
        id: run_id,
        site_id: route.site_id,
        route_id: route.id,
        patroller_id: actor.user_id,
        started_at: at,
        finished_at: None,
        missed: Vec::new(),
        flags: Vec::new(),
    })
}

/// How a visit was made, as the person did it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How<'a> {
    /// The label was scanned; its text.
    Scanned(&'a str),
    /// Entered by hand; why.
    ByHand(&'a str),
}

impl How<'_> {
    /// The wire's method.
    pub fn method(self) -> VisitMethod {
        match self {
            How::Scanned(_) => VisitMethod::Qr,
            How::ByHand(_) => VisitMethod::Manual,
        }
    }
}

/// The checkpoint a scanned label names, verified offline against `site` (DESIGN §4): a label of
/// one of the `others` sites, a forged or damaged one, or one naming no checkpoint in `known` is
/// refused with its reason.
pub fn read_label(
    token: &str,
    site: &Site,
    others: &[Site],
    known: &BTreeSet<CheckpointId>,
) -> Result<CheckpointId, RoundError> {
    bounds::check_len(Field::Token, token, bounds::MAX_TOKEN_CHARS)?;
    Ok(labels::verify_for_site(token, site, others, known)?)
}

/// A round under way, with what the rules need to judge its steps: its route and its site.
#[derive(Debug, Clone, Copy)]
pub struct Round<'a> {
    /// The round.
    pub run: &'a PatrolRun,
    /// Its route.
    pub route: &'a Route,
    /// Its site.
    pub site: &'a Site,
}

/// Where a visit is made: the checkpoint as the reference data has it (`None` when its id names
/// no checkpoint) and what the device knows to verify a label.
#[derive(Debug, Clone, Copy)]
pub struct Spot<'a> {
    /// The checkpoint the visit names.
    pub checkpoint_id: CheckpointId,
    /// That checkpoint, if it exists.
    pub checkpoint: Option<&'a Checkpoint>,
    /// The other sites known, to name a neighbour's label.
    pub others: &'a [Site],
    /// Every checkpoint of the round's site.
    pub known: &'a BTreeSet<CheckpointId>,
}

impl Round<'_> {
    /// Whether `who` may still add to this round: it is theirs and not finished.
    pub fn check_open_for(&self, who: &Actor) -> Result<(), RoundError> {
        if self.run.patroller_id != who.user_id {
            Err(RoundError::NotYourRound)
        } else if self.run.finished_at.is_some() {
            Err(RoundError::RoundFinished)
        } else {
            Ok(())
        }
    }

    /// Whether `token` is the label this site issued for checkpoint `id`.
    fn issued(&self, checkpoint: &Checkpoint, id: CheckpointId, token: &str) -> bool {
        checkpoint.id == id
            && checkpoint.site_id == self.run.site_id
            && checkpoint.site_id == self.site.id
            && checkpoint.qr_token == token
    }

    /// Record a visit to a checkpoint of the route. A scanned label must verify for the site and
    /// name the checkpoint; a visit by hand needs a reason. Plausibility flags are raised from
    /// the round's `earlier` visits (they never refuse).
    pub fn visit(
        &self,
        actor: &Actor,
        spot: Spot<'_>,
        how: How<'_>,
        earlier: &[Visit],
        visit_id: VisitId,
        at: Timestamp,
    ) -> Result<Visit, RoundError> {
        self.check_open_for(actor)?;
        match how {
            // The checkpoint's own label, exactly as the site issued it (signed with the site's
            // key when it was made or re-signed), names that checkpoint: reading it would
            // verify the same signature again. Any other text is read and verified.
            How::Scanned(token)
                if spot
                    .checkpoint
                    .is_some_and(|c| self.issued(c, spot.checkpoint_id, token)) => {}
            How::Scanned(token) => {
                let named = read_label(token, self.site, spot.others, spot.known)?;
                if named != spot.checkpoint_id {
                    return Err(RoundError::LabelMismatch);
                }
            }
            How::ByHand(reason) => check_reason(reason)?,
        }
        let checkpoint = spot
            .checkpoint
            .filter(|c| c.id == spot.checkpoint_id && c.site_id == self.run.site_id)
            .ok_or(RoundError::UnknownCheckpoint)?;
        if self.route.position(checkpoint.id).is_none() {
            return Err(RoundError::NotOnRoute {
                name: checkpoint.name.clone(),
            });
        }
        let history: Vec<(CheckpointId, Timestamp)> = earlier
            .iter()
            .filter(|v| v.run_id == self.run.id)
            .map(|v| (v.checkpoint_id, v.at))
            .collect();
        let flags = plausibility::check_scan(self.route, &history, checkpoint.id, at);
        let (token, reason) = match how {
            How::Scanned(t) => (Some(t.trim().to_owned()), None),
            How::ByHand(r) => (None, Some(r.trim().to_owned())),
        };
        Ok(Visit {
            id: visit_id,
            run_id: self.run.id,
            checkpoint_id: checkpoint.id,
            method: how.method(),
            token,
            reason,
            at,
            flags,
        })
    }

    /// Answer an item of the visit's checklist (`template`: the one for the checkpoint's kind of
    /// place). The item judges the answer: a reading out of range is a fault whatever was ticked,
    /// a fault that needs a photo is refused without one.
    pub fn answer(
        &self,
        actor: &Actor,
        visit: &Visit,
        template: &Template,
        item_key: &str,
        answer: &Answer,
        result_id: ResultId,
    ) -> Result<ItemResult, RoundError> {
        self.check_open_for(actor)?;
        if visit.run_id != self.run.id {
            return Err(RoundError::UnknownVisit);
        }
        bounds::check_len(Field::ItemKey, item_key, bounds::MAX_ITEM_KEY_CHARS)?;
        let item = template
            .item(item_key)
            .ok_or_else(|| RoundError::UnknownItem {
                key: item_key.to_owned(),
            })?;
        bounds::check_opt(Field::Note, answer.note.as_deref(), bounds::MAX_TEXT_CHARS)?;
        bounds::check_photos(&answer.photos)?;
        let outcome = item.judge(answer)?;
        Ok(ItemResult {
            id: result_id,
            visit_id: visit.id,
            item_key: item.key.clone(),
            outcome,
            reading: answer.reading,
            note: answer
                .note
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_owned),
            photos: answer.photos.clone(),
        })
    }

    /// Finish the round at `at`. Every checkpoint of the route not among `visits` needs a reason
    /// in `missed` (reasons for others are dropped); a round faster than the route's minimum is
    /// flagged. `name_of` names a checkpoint in a refusal.
    pub fn finish(
        &self,
        actor: &Actor,
        visits: &[Visit],
        missed: &[Missed],
        at: Timestamp,
        name_of: &dyn Fn(CheckpointId) -> Option<String>,
    ) -> Result<PatrolRun, RoundError> {
        self.check_open_for(actor)?;
        bounds::check_count(Field::Missed, missed, bounds::MAX_MISSED_PER_ROUND)?;
        let seen: BTreeSet<CheckpointId> = visits
            .iter()
            .filter(|v| v.run_id == self.run.id)
            .map(|v| v.checkpoint_id)
            .collect();
        let mut reasons = Vec::new();
        for checkpoint_id in &self.route.checkpoint_ids {
            let listed = reasons
                .iter()
                .any(|m: &Missed| m.checkpoint_id == *checkpoint_id);
            if seen.contains(checkpoint_id) || listed {
                continue;
            }
            let reason = missed
                .iter()
                .find(|m| m.checkpoint_id == *checkpoint_id)
                .map(|m| m.reason.trim())
                .filter(|r| !r.is_empty());
            let Some(reason) = reason else {
                return Err(RoundError::MissedWithoutReason {
                    name: name_of(*checkpoint_id).unwrap_or_else(|| checkpoint_id.to_string()),
                });
            };
            bounds::check_len(Field::Reason, reason, bounds::MAX_REASON_CHARS)?;
            reasons.push(Missed {
                checkpoint_id: *checkpoint_id,
                reason: reason.to_owned(),
            });
        }
        let mut run = self.run.clone();
        run.finished_at = Some(at);
        run.missed = reasons;
        run.flags = plausibility::check_round(self.route, run.started_at, at);
        Ok(run)
    }
}

/// A visit by hand must say why the label was not scanned, briefly.
pub fn check_reason(reason: &str) -> Result<(), RoundError> {
    if reason.trim().is_empty() {
        return Err(RoundError::ReasonRequired);
    }
    Ok(bounds::check_len(
        Field::Reason,
        reason.trim(),
        bounds::MAX_REASON_CHARS,
    )?)
}

/// The flags a record carries: those the rules raised here, and of the device's own those of a
/// kind the rules did not raise. A device that leaves a flag out does not hide it, and one the
/// device saw first hand (its clock against a server's estimate) is not dropped; each kind is
/// kept once.
pub fn merge_flags(ours: Vec<ScanFlag>, theirs: &[ScanFlag]) -> Vec<ScanFlag> {
    let mut all = ours;
    for f in theirs {
        let kind = std::mem::discriminant(f);
        if !all.iter().any(|a| std::mem::discriminant(a) == kind) {
            all.push(f.clone());
        }
    }
    all
}

#[cfg(test)]
mod tests;
