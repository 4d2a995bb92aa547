//! The issue state machine (DESIGN.md §3), with who may do each transition. Phones check every
//! action here before they queue it; the server checks it again before it applies it.
//!
//! ```text
//! open ──assign──▶ assigned ──start──▶ in_progress ──resolve──▶ resolved ──verify(accept)──▶ closed
//!                  ▲    (reassign) ◀───────┘ ▲                       │
//!                  └─assign                  └────verify(reject)─────┘
//! ```

use jiff::Timestamp;

use crate::audit::{AuditEntry, AuditKind};
use crate::ids::{CheckpointId, IssueId, SiteId, UserId, VisitId, ZoneId};
use crate::issue::{Category, EscalationReason, ExtensionRequest, Issue, Severity, Source, Status};
use crate::routing::Team;
use crate::site::Site;
use crate::user::{Actor, Role};

/// Why a transition is refused. Messages are shown to staff: Chinese first, then English.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// The issue is on a site the person does not work on.
    #[error("该问题不在你负责的小区 / this issue is not on your site")]
    OtherSite,
    /// The person's role may not do this.
    #[error("你的岗位不能{} / your role may not {} an issue", .action.label().zh, .action.label().en)]
    RoleNotAllowed {
        /// What was attempted.
        action: AuditKind,
    },
    /// A job of another team.
    #[error("这是其他班组的工单 / this job belongs to another team")]
    OtherTeam,
    /// The issue's status does not allow this.
    #[error("问题当前为「{}」，不能{} / cannot {} an issue that is {}",
        .from.label().zh, .action.label().zh, .action.label().en, .from.label().en)]
    InvalidTransition {
        /// Status the issue is in.
        from: Status,
        /// What was attempted.
        action: AuditKind,
    },
    /// The fix must be verified by someone other than who made it.
    #[error("不能验收自己完成的维修 / you cannot verify your own fix")]
    OwnFix,
    /// The assignee is not a member of the issue's team.
    #[error("被指派人不属于该问题的班组 / the assignee is not in the issue's team")]
    AssigneeNotInTeam,
    /// A fix needs a note or a photo.
    #[error("请填写处理说明或拍照 / add a note or a photo of the fix")]
    EvidenceMissing,
    /// Accepting a fix needs the verifier's signature.
    #[error("验收需要签名 / accepting a fix needs a signature")]
    SignatureMissing,
    /// Rejecting, requesting or commenting needs words.
    #[error("请填写原因或内容 / write a reason or some text")]
    TextMissing,
    /// One extension request at a time.
    #[error("已有延期申请待审批 / an extension is already waiting for a decision")]
    ExtensionPending,
    /// Nothing to decide.
    #[error("没有待审批的延期申请 / no extension is waiting for a decision")]
    NoExtensionPending,
    /// An extension must move the due time later.
    #[error("延期后的期限必须晚于当前期限 / the new due time must be later than the current one")]
    ExtensionNotLater,
    /// This escalation was already made.
    #[error("该问题已升级上报 / this issue was already escalated for this reason")]
    AlreadyEscalated,
    /// A report needs a title.
    #[error("请填写问题标题 / give the problem a title")]
    TitleMissing,
    /// The report names a site other than the one given.
    #[error("上报的小区与参考数据不符 / the report's site does not match")]
    SiteMismatch,
}

/// Something a person does to an issue.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Give the issue to a person (also reassigns).
    Assign {
        /// Who gets it, as the rules need to see them.
        assignee: Assignee,
    },
    /// Start work.
    Start,
    /// Report the fix.
    Resolve {
        /// What was done.
        note: Option<String>,
        /// Photos of the fix.
        photos: Vec<String>,
    },
    /// Verify the fix on site.
    Verify {
        /// Accept (close) or reject (back to work).
        accepted: bool,
        /// Note; required when rejecting.
        note: Option<String>,
        /// Signature image (blob hash); required when accepting.
        signature: Option<String>,
        /// Photos taken at the verification.
        photos: Vec<String>,
    },
    /// Ask for more time.
    RequestExtension {
        /// Why.
        reason: String,
        /// The new due time asked for.
        due_at: Timestamp,
    },
    /// Approve or deny the waiting extension.
    DecideExtension {
        /// Approve (the due time moves) or deny.
        approved: bool,
        /// Note.
        note: Option<String>,
    },
    /// Add a comment.
    Comment {
        /// The text.
        text: String,
    },
}

impl Action {
    /// The audit kind this action produces.
    pub fn kind(&self) -> AuditKind {
        match self {
            Action::Assign { .. } => AuditKind::Assign,
            Action::Start => AuditKind::Start,
            Action::Resolve { .. } => AuditKind::Resolve,
            Action::Verify { .. } => AuditKind::Verify,
            Action::RequestExtension { .. } => AuditKind::RequestExtension,
            Action::DecideExtension { .. } => AuditKind::DecideExtension,
            Action::Comment { .. } => AuditKind::Comment,
        }
    }
}

/// The person an issue is assigned to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignee {
    /// Who.
    pub user_id: UserId,
    /// Their role.
    pub role: Role,
    /// Their team.
    pub team: Option<Team>,
    /// Their sites.
    pub site_ids: Vec<SiteId>,
}

impl From<&Actor> for Assignee {
    fn from(a: &Actor) -> Self {
        Assignee {
            user_id: a.user_id,
            role: a.role,
            team: a.team,
            site_ids: a.site_ids.clone(),
        }
    }
}

/// An issue after an accepted action, with the audit entry that records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The issue as it is now.
    pub issue: Issue,
    /// What to append to its audit trail.
    pub audit: AuditEntry,
}

/// What a person reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Id made on the device.
    pub issue_id: IssueId,
    /// Site.
    pub site_id: SiteId,
    /// Zone.
    pub zone_id: Option<ZoneId>,
    /// Checkpoint.
    pub checkpoint_id: Option<CheckpointId>,
    /// Visit it was found on.
    pub visit_id: Option<VisitId>,
    /// Category.
    pub category: Category,
    /// Severity.
    pub severity: Severity,
    /// Title.
    pub title: String,
    /// Description.
    pub note: Option<String>,
    /// Photos.
    pub photos: Vec<String>,
    /// When it was seen (corrected for the device clock).
    pub observed_at: Timestamp,
    /// Patrol or desk.
    pub source: Source,
    /// Fixed by the reporter on the spot.
    pub fixed_on_spot: bool,
}

fn blank(s: Option<&str>) -> bool {
    s.is_none_or(|s| s.trim().is_empty())
}

/// Record a reported problem: routed to its team, due by the site's SLA. A problem fixed on the
/// spot is recorded closed, resolved by its reporter, for the statistics.
pub fn report(actor: &Actor, site: &Site, r: Report) -> crate::Result<Transition> {
    if r.site_id != site.id {
        return Err(RuleError::SiteMismatch.into());
    }
    if !actor.works_on(site.id) {
        return Err(RuleError::OtherSite.into());
    }
    if actor.role == Role::Admin {
        return Err(RuleError::RoleNotAllowed {
            action: AuditKind::Report,
        }
        .into());
    }
    if r.title.trim().is_empty() {
        return Err(RuleError::TitleMissing.into());
    }
    let due_at = crate::sla::due_at(r.observed_at, r.severity, &site.sla_hours, &site.tz()?)?;
    let status = if r.fixed_on_spot {
        Status::Closed
    } else {
        Status::Open
    };
    let issue = Issue {
        id: r.issue_id,
        site_id: r.site_id,
        zone_id: r.zone_id,
        checkpoint_id: r.checkpoint_id,
        visit_id: r.visit_id,
        category: r.category,
        severity: r.severity,
        team: site.routing.team_for(r.category),
        title: r.title,
        note: r.note,
        photos: r.photos,
        source: r.source,
        observed_at: r.observed_at,
        due_at,
        status,
        reported_by: actor.user_id,
        assignee_id: None,
        resolved_by: r.fixed_on_spot.then_some(actor.user_id),
        verified_by: None,
        fixed_on_spot: r.fixed_on_spot,
        extension: None,
        escalations: Vec::new(),
    };
    let mut audit = AuditEntry::new(
        issue.id,
        AuditKind::Report,
        Some(actor.user_id),
        r.observed_at,
        None,
        status,
    );
    audit.note = issue.note.clone();
    audit.photos = issue.photos.clone();
    audit.due_after = Some(due_at);
    Ok(Transition { issue, audit })
}

/// Whether the person works in the issue's team.
fn in_team(actor_team: Option<Team>, issue: &Issue) -> bool {
    actor_team == Some(issue.team)
}

/// Whether the person may do the work of this job: its assignee, or a member of its team.
fn may_work(actor: &Actor, issue: &Issue) -> bool {
    match actor.role {
        Role::Admin | Role::Patrol => issue.assignee_id == Some(actor.user_id),
        Role::Technician => issue.assignee_id == Some(actor.user_id) || in_team(actor.team, issue),
        // Supervisors and managers may close out jobs themselves (management's own queue).
        Role::Supervisor | Role::Manager => true,
    }
}

fn refuse<T>(from: Status, action: AuditKind) -> Result<T, RuleError> {
    Err(RuleError::InvalidTransition { from, action })
}

/// Apply a person's action to an issue, or say which rule forbids it. `at` is when it happened.
pub fn apply(
    issue: &Issue,
    actor: &Actor,
    action: Action,
    at: Timestamp,
) -> Result<Transition, RuleError> {
    if !actor.works_on(issue.site_id) {
        return Err(RuleError::OtherSite);
    }
    let kind = action.kind();
    if actor.role == Role::Admin {
        return Err(RuleError::RoleNotAllowed { action: kind });
    }
    let from = issue.status;
    let mut next = issue.clone();
    let mut audit = AuditEntry::new(issue.id, kind, Some(actor.user_id), at, Some(from), from);

    match action {
        Action::Assign { assignee } => {
            if !actor.role.supervises() {
                return Err(RuleError::RoleNotAllowed { action: kind });
            }
            if !matches!(from, Status::Open | Status::Assigned | Status::InProgress) {
                return refuse(from, kind);
            }
            let team_ok = in_team(assignee.team, issue)
                || (issue.team == Team::Management && assignee.role == Role::Manager);
            if !team_ok
                || matches!(assignee.role, Role::Admin)
                || !assignee.site_ids.contains(&issue.site_id)
            {
                return Err(RuleError::AssigneeNotInTeam);
            }
            next.status = Status::Assigned;
            next.assignee_id = Some(assignee.user_id);
            audit.assignee_id = Some(assignee.user_id);
        }
        Action::Start => {
            if from != Status::Assigned {
                return refuse(from, kind);
            }
            if actor.role == Role::Patrol && issue.assignee_id != Some(actor.user_id) {
                return Err(RuleError::RoleNotAllowed { action: kind });
            }
            if !may_work(actor, issue) {
                return Err(RuleError::OtherTeam);
            }
            next.status = Status::InProgress;
            next.assignee_id = Some(actor.user_id);
            audit.assignee_id = Some(actor.user_id);
        }
        Action::Resolve { note, photos } => {
            if from != Status::InProgress {
                return refuse(from, kind);
            }
            if actor.role == Role::Patrol && issue.assignee_id != Some(actor.user_id) {
                return Err(RuleError::RoleNotAllowed { action: kind });
            }
            if !may_work(actor, issue) {
                return Err(RuleError::OtherTeam);
            }
            if blank(note.as_deref()) && photos.is_empty() {
                return Err(RuleError::EvidenceMissing);
            }
            next.status = Status::Resolved;
            next.resolved_by = Some(actor.user_id);
            audit.note = note;
            audit.photos = photos;
        }
        Action::Verify {
            accepted,
            note,
            signature,
            photos,
        } => {
            if from != Status::Resolved {
                return refuse(from, kind);
            }
            if !(actor.role.supervises() || issue.reported_by == actor.user_id) {
                return Err(RuleError::RoleNotAllowed { action: kind });
            }
            if issue.resolved_by == Some(actor.user_id) {
                return Err(RuleError::OwnFix);
            }
            if accepted {
                if blank(signature.as_deref()) {
                    return Err(RuleError::SignatureMissing);
                }
                next.status = Status::Closed;
                next.verified_by = Some(actor.user_id);
                // A request still waiting is moot once the fix is signed off.
                next.extension = None;
            } else {
                if blank(note.as_deref()) {
                    return Err(RuleError::TextMissing);
                }
                // Back to work; the SLA clock runs on from the original report.
                next.status = Status::InProgress;
            }
            audit.accepted = Some(accepted);
            audit.note = note;
            audit.signature = signature;
            audit.photos = photos;
        }
        Action::RequestExtension { reason, due_at } => {
            if !matches!(from, Status::Open | Status::Assigned | Status::InProgress) {
                return refuse(from, kind);
            }
            let may = actor.role.supervises()
                || (actor.role == Role::Technician && may_work(actor, issue));
            if !may {
                return Err(if actor.role == Role::Technician {
                    RuleError::OtherTeam
                } else {
                    RuleError::RoleNotAllowed { action: kind }
                });
            }
            if issue.extension.is_some() {
                return Err(RuleError::ExtensionPending);
            }
            if reason.trim().is_empty() {
                return Err(RuleError::TextMissing);
            }
            if due_at <= issue.due_at {
                return Err(RuleError::ExtensionNotLater);
            }
            next.extension = Some(ExtensionRequest {
                requested_by: actor.user_id,
                reason: reason.clone(),
                due_at,
            });
            audit.note = Some(reason);
            audit.due_before = Some(issue.due_at);
            audit.due_after = Some(due_at);
        }
        Action::DecideExtension { approved, note } => {
            if actor.role != Role::Manager {
                return Err(RuleError::RoleNotAllowed { action: kind });
            }
            let Some(request) = &issue.extension else {
                return Err(RuleError::NoExtensionPending);
            };
            if !from.is_active() {
                return refuse(from, kind);
            }
            if approved {
                next.due_at = request.due_at;
                // An overdue escalation no longer holds once the due time moved on.
                next.escalations.retain(|r| *r != EscalationReason::Overdue);
            }
            next.extension = None;
            audit.accepted = Some(approved);
            audit.note = note;
            audit.due_before = Some(issue.due_at);
            audit.due_after = Some(next.due_at);
        }
        Action::Comment { text } => {
            if text.trim().is_empty() {
                return Err(RuleError::TextMissing);
            }
            audit.note = Some(text);
        }
    }
    audit.to_status = next.status;
    Ok(Transition { issue: next, audit })
}

/// The server's own escalation of an issue (see [`crate::sla::escalations_due`]).
pub fn escalate(
    issue: &Issue,
    reason: EscalationReason,
    at: Timestamp,
) -> Result<Transition, RuleError> {
    if !issue.status.is_active() {
        return refuse(issue.status, AuditKind::Escalate);
    }
    if issue.escalations.contains(&reason) {
        return Err(RuleError::AlreadyEscalated);
    }
    let mut next = issue.clone();
    next.escalations.push(reason);
    let mut audit = AuditEntry::new(
        issue.id,
        AuditKind::Escalate,
        None,
        at,
        Some(issue.status),
        issue.status,
    );
    audit.escalation = Some(reason);
    Ok(Transition { issue: next, audit })
}

#[cfg(test)]
mod tests;
