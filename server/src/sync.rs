//! Applying pushed operations (DESIGN.md §6): each op is decided by core's rules on the current
//! state and applied exactly once. Times are corrected by the device's clock offset.

use std::collections::{BTreeSet, HashMap};

use jiff::{SignedDuration, Timestamp};
use patrol_core::audit::AuditEntry;
use patrol_core::blob::is_blob_id;
use patrol_core::ids::{CheckpointId, DeviceId, SiteId};
use patrol_core::issue::Issue;
use patrol_core::lifecycle::{self, Action, Assignee, Report, RuleError, Transition};
use patrol_core::patrol::{
    ItemResult, PatrolRun, RoundError, Visit, VisitMethod, check_visit_reason,
};
use patrol_core::site::Site;
use patrol_core::user::Actor;
use patrol_core::wire::{Op, OpBody, OpResult, OpStatus};

use crate::error::ApiError;
use crate::store::{Decision, Keys, OpMeta, OpOutcome, Snapshot, Store, Write};

/// A machine-readable code for a rule that refused an op.
pub fn rule_code(e: &RuleError) -> &'static str {
    match e {
        RuleError::OtherSite => "other_site",
        RuleError::RoleNotAllowed { .. } => "role_not_allowed",
        RuleError::OtherTeam => "other_team",
        RuleError::InvalidTransition { .. } => "invalid_transition",
        RuleError::OwnFix => "own_fix",
        RuleError::AssigneeNotInTeam => "assignee_not_in_team",
        RuleError::EvidenceMissing => "evidence_missing",
        RuleError::SignatureMissing => "signature_missing",
        RuleError::TextMissing => "text_missing",
        RuleError::ExtensionPending => "extension_pending",
        RuleError::NoExtensionPending => "no_extension_pending",
        RuleError::ExtensionNotLater => "extension_not_later",
        RuleError::AlreadyEscalated => "already_escalated",
        RuleError::TitleMissing => "title_missing",
        RuleError::SiteMismatch => "site_mismatch",
    }
}

fn reject(code: &str, message: impl Into<String>) -> Decision {
    Decision::Reject {
        code: code.to_owned(),
        message: message.into(),
    }
}

fn refused(e: &RuleError) -> Decision {
    reject(rule_code(e), e.to_string())
}

/// What the push request knows about where the ops come from.
pub struct PushContext {
    /// The caller.
    pub actor: Actor,
    /// The device.
    pub device_id: DeviceId,
    /// Server time at receipt.
    pub server_at: Timestamp,
    /// Server clock minus device clock.
    pub offset: SignedDuration,
    /// The caller's sites.
    pub sites: Vec<Site>,
    /// Their checkpoints.
    pub checkpoints: HashMap<SiteId, BTreeSet<CheckpointId>>,
}

impl PushContext {
    fn site(&self, id: SiteId) -> Option<&Site> {
        self.sites.iter().find(|s| s.id == id)
    }

    /// Stamp an audit entry with where and when the server got it.
    fn stamp(&self, mut audit: AuditEntry, device_at: Timestamp) -> AuditEntry {
        audit.server_at = Some(self.server_at);
        audit.device_at = Some(device_at);
        audit.device_id = Some(self.device_id);
        audit
    }

    fn writes(&self, t: Transition, device_at: Timestamp) -> Vec<Write> {
        vec![
            Write::Issue(t.issue),
            Write::Audit(self.stamp(t.audit, device_at)),
        ]
    }
}

/// Escalations that fire the moment an issue is reported (urgent → security, major → manager).
fn escalate_at_once(issue: Issue, now: Timestamp, out: &mut Vec<Write>) -> Issue {
    let mut issue = issue;
    for reason in patrol_core::sla::escalations_due(&issue, now) {
        if let Ok(t) = lifecycle::escalate(&issue, reason, now) {
            let mut audit = t.audit;
            audit.server_at = Some(now);
            out.push(Write::Audit(audit));
            issue = t.issue;
        }
    }
    issue
}

/// Decide and apply one op.
pub async fn apply(store: &dyn Store, ctx: &PushContext, op: &Op) -> Result<OpResult, ApiError> {
    let meta = OpMeta {
        op_id: op.op_id,
        device_id: ctx.device_id,
        seq: op.seq,
        kind: op.kind.clone(),
        user_id: ctx.actor.user_id,
        device_at: op.at,
        server_at: ctx.server_at,
    };
    let at = op.at + ctx.offset;
    let actor = &ctx.actor;
    let outcome = match op.decode() {
        Err(e) => {
            let message = e.to_string();
            store
                .apply_op(&meta, Keys::default(), &move |_| {
                    reject("invalid_op", message.clone())
                })
                .await?
        }
        Ok(body) if !body.blobs().iter().all(|b| is_blob_id(b)) => {
            let bad =
                |_: &Snapshot| reject("bad_photo_id", "照片编号无效 / a photo id is not a SHA-256");
            store.apply_op(&meta, Keys::default(), &bad).await?
        }
        Ok(body) => apply_body(store, ctx, &meta, body, at, actor).await?,
    };
    Ok(match outcome {
        OpOutcome::Applied => OpResult {
            op_id: op.op_id,
            status: OpStatus::Applied,
            code: None,
            message: None,
        },
        OpOutcome::Duplicate => OpResult {
            op_id: op.op_id,
            status: OpStatus::Duplicate,
            code: None,
            message: None,
        },
        OpOutcome::Rejected { code, message } => OpResult {
            op_id: op.op_id,
            status: OpStatus::Rejected,
            code: Some(code),
            message: Some(message),
        },
    })
}

async fn apply_body(
    store: &dyn Store,
    ctx: &PushContext,
    meta: &OpMeta,
    body: OpBody,
    at: Timestamp,
    actor: &Actor,
) -> Result<OpOutcome, ApiError> {
    let device_at = meta.device_at;
    let now = ctx.server_at;
    let issue_keys = |id| Keys {
        issue: Some(id),
        ..Keys::default()
    };
    let transition = |action: Action| {
        move |s: &Snapshot| match &s.issue {
            None => reject("unknown_issue", "找不到该问题 / unknown issue"),
            Some(issue) => match lifecycle::apply(issue, actor, action.clone(), at) {
                Ok(t) => Decision::Apply(ctx.writes(t, device_at)),
                Err(e) => refused(&e),
            },
        }
    };
    let outcome = match body {
        OpBody::IssueReport(b) => {
            let site = ctx.site(b.site_id).cloned();
            let report = Report {
                issue_id: b.issue_id,
                site_id: b.site_id,
                zone_id: b.zone_id,
                checkpoint_id: b.checkpoint_id,
                visit_id: b.visit_id,
                category: b.category,
                severity: b.severity,
                title: b.title,
                note: b.note,
                photos: b.photos,
                observed_at: b.observed_at + ctx.offset,
                source: b.source,
                fixed_on_spot: b.fixed_on_spot,
            };
            let decide = move |s: &Snapshot| {
                if s.issue.is_some() {
                    return reject(
                        "issue_exists",
                        "该问题已上报 / this issue was already reported",
                    );
                }
                let Some(site) = &site else {
                    return refused(&RuleError::OtherSite);
                };
                match lifecycle::report(actor, site, report.clone()) {
                    Ok(t) => {
                        let mut writes = vec![Write::Audit(ctx.stamp(t.audit, device_at))];
                        let issue = escalate_at_once(t.issue, now, &mut writes);
                        writes.insert(0, Write::Issue(issue));
                        Decision::Apply(writes)
                    }
                    Err(patrol_core::Error::Rule(e)) => refused(&e),
                    Err(e) => reject("invalid_report", e.to_string()),
                }
            };
            store
                .apply_op(meta, issue_keys(b.issue_id), &decide)
                .await?
        }
        OpBody::IssueAssign(b) => {
            let Some(user) = store.user(b.assignee_id).await? else {
                let e = RuleError::AssigneeNotInTeam;
                return Ok(store
                    .apply_op(meta, Keys::default(), &|_| refused(&e))
                    .await?);
            };
            let assignee = Assignee {
                user_id: user.id,
                role: user.role,
                team: user.team,
                site_ids: user.site_ids,
            };
            store
                .apply_op(
                    meta,
                    issue_keys(b.issue_id),
                    &transition(Action::Assign { assignee }),
                )
                .await?
        }
        OpBody::IssueStart(b) => {
            store
                .apply_op(meta, issue_keys(b.issue_id), &transition(Action::Start))
                .await?
        }
        OpBody::IssueResolve(b) => {
            let action = Action::Resolve {
                note: b.note,
                photos: b.photos,
            };
            store
                .apply_op(meta, issue_keys(b.issue_id), &transition(action))
                .await?
        }
        OpBody::IssueVerify(b) => {
            let action = Action::Verify {
                accepted: b.accepted,
                note: b.note,
                signature: b.signature,
                photos: b.photos,
            };
            store
                .apply_op(meta, issue_keys(b.issue_id), &transition(action))
                .await?
        }
        OpBody::ExtensionRequest(b) => {
            let action = Action::RequestExtension {
                reason: b.reason,
                due_at: b.due_at,
            };
            store
                .apply_op(meta, issue_keys(b.issue_id), &transition(action))
                .await?
        }
        OpBody::ExtensionDecide(b) => {
            let action = Action::DecideExtension {
                approved: b.approved,
                note: b.note,
            };
            store
                .apply_op(meta, issue_keys(b.issue_id), &transition(action))
                .await?
        }
        OpBody::IssueComment(b) => {
            store
                .apply_op(
                    meta,
                    issue_keys(b.issue_id),
                    &transition(Action::Comment { text: b.text }),
                )
                .await?
        }
        OpBody::PatrolStart(b) => {
            let route = store.route(b.route_id).await?;
            let decide = move |s: &Snapshot| {
                if s.run.is_some() {
                    return reject(
                        "run_exists",
                        "该巡查已开始 / this round was already started",
                    );
                }
                let Some(route) = &route else {
                    return reject("unknown_route", "找不到该路线 / unknown route");
                };
                if !actor.works_on(route.site_id) {
                    return refused(&RuleError::OtherSite);
                }
                Decision::Apply(vec![Write::Run(PatrolRun {
                    id: b.run_id,
                    site_id: route.site_id,
                    route_id: route.id,
                    patroller_id: actor.user_id,
                    started_at: at,
                    finished_at: None,
                    missed: Vec::new(),
                    flags: Vec::new(),
                })])
            };
            let keys = Keys {
                run: Some(b.run_id),
                ..Keys::default()
            };
            store.apply_op(meta, keys, &decide).await?
        }
        OpBody::PatrolVisit(b) => {
            let keys = Keys {
                run: Some(b.run_id),
                visit: Some(b.visit_id),
                ..Keys::default()
            };
            let decide = move |s: &Snapshot| {
                let run = match own_open_run(s, actor) {
                    Ok(run) => run,
                    Err(d) => return d,
                };
                if s.visit.is_some() {
                    return reject(
                        "visit_exists",
                        "该巡查点记录已存在 / this visit already exists",
                    );
                }
                let Some(site) = ctx.site(run.site_id) else {
                    return refused(&RuleError::OtherSite);
                };
                match b.method {
                    VisitMethod::Qr => {
                        let others: Vec<Site> = ctx
                            .sites
                            .iter()
                            .filter(|o| o.id != site.id)
                            .cloned()
                            .collect();
                        let empty = BTreeSet::new();
                        let known = ctx.checkpoints.get(&site.id).unwrap_or(&empty);
                        let token = b.token.clone().unwrap_or_default();
                        match patrol_core::labels::verify_for_site(&token, site, &others, known) {
                            Ok(cp) if cp == b.checkpoint_id => {}
                            Ok(_) => {
                                return reject(
                                    "label_mismatch",
                                    "扫描的标签与巡查点不符 / the scanned label names another checkpoint",
                                );
                            }
                            Err(e) => return reject("bad_label", e.to_string()),
                        }
                    }
                    VisitMethod::Manual => {
                        if let Err(e) = check_visit_reason(b.method, b.reason.as_deref()) {
                            return reject(round_code(&e), e.to_string());
                        }
                    }
                }
                Decision::Apply(vec![Write::Visit(Visit {
                    id: b.visit_id,
                    run_id: run.id,
                    checkpoint_id: b.checkpoint_id,
                    method: b.method,
                    token: b.token.clone(),
                    reason: b.reason.clone(),
                    at,
                    flags: b.flags.clone(),
                })])
            };
            store.apply_op(meta, keys, &decide).await?
        }
        OpBody::PatrolResult(b) => {
            let keys = Keys {
                visit: Some(b.visit_id),
                ..Keys::default()
            };
            let decide = move |s: &Snapshot| {
                if s.visit.is_none() {
                    return reject("unknown_visit", "找不到该巡查点记录 / unknown visit");
                }
                if let Err(d) = own_open_run(s, actor) {
                    return d;
                }
                Decision::Apply(vec![Write::Result(ItemResult {
                    id: b.result_id,
                    visit_id: b.visit_id,
                    item_key: b.item_key.clone(),
                    outcome: b.outcome,
                    reading: b.reading,
                    note: b.note.clone(),
                    photos: b.photos.clone(),
                })])
            };
            store.apply_op(meta, keys, &decide).await?
        }
        OpBody::PatrolFinish(b) => {
            let keys = Keys {
                run: Some(b.run_id),
                ..Keys::default()
            };
            let decide = move |s: &Snapshot| {
                let mut run = match own_open_run(s, actor) {
                    Ok(run) => run.clone(),
                    Err(d) => return d,
                };
                run.finished_at = Some(at);
                run.missed = b.missed.clone();
                run.flags = b.flags.clone();
                Decision::Apply(vec![Write::Run(run)])
            };
            store.apply_op(meta, keys, &decide).await?
        }
    };
    Ok(outcome)
}

fn round_code(e: &RoundError) -> &'static str {
    match e {
        RoundError::NotYourRound => "not_your_round",
        RoundError::RoundFinished => "round_finished",
        RoundError::ReasonRequired => "reason_missing",
    }
}

fn own_open_run<'a>(s: &'a Snapshot, actor: &Actor) -> Result<&'a PatrolRun, Decision> {
    let Some(run) = &s.run else {
        return Err(reject("unknown_run", "找不到该巡查 / unknown round"));
    };
    run.check_open_for(actor.user_id)
        .map_err(|e| reject(round_code(&e), e.to_string()))?;
    Ok(run)
}
