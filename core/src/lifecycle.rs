//! The issue state machine (DESIGN.md §3), with who may do each transition. Phones check every
//! action here before they queue it; the server checks it again before it applies it.
//!
//! ```text
//! open ──assign──▶ assigned ──start──▶ in_progress ──resolve──▶ resolved ──verify(accept)──▶ closed
//!                  ▲    (reassign) ◀───────┘ ▲                       │
//!                  └─assign                  └────verify(reject)─────┘
//! ```

use jiff::{SignedDuration, Timestamp};

use crate::audit::{AuditEntry, AuditKind};
use crate::bounds::{self, BoundError, Field};
use crate::checklist::ChecklistItem;
use crate::ids::{CheckpointId, IssueId, SiteId, UserId, VisitId, ZoneId};
use crate::issue::{
    Category, EscalationReason, ExtensionRequest, FollowUp, Issue, Severity, Source, Status,
};
use crate::patrol::{PatrolRun, Visit};
use crate::site::{Checkpoint, Site, Zone};
use crate::team::Team;
use crate::time::TimeError;
use crate::user::{Actor, Role};

/// The furthest an extension may move an issue's due time past the moment it is asked for.
pub const MAX_EXTENSION: SignedDuration = SignedDuration::from_hours(366 * 24);

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
    /// No such issue.
    #[error("找不到该问题 / unknown issue")]
    UnknownIssue,
    /// An issue with this id exists already.
    #[error("该问题已上报 / this issue was already reported")]
    IssueExists,
    /// The report names a zone that is not on its site.
    #[error("本小区没有该区域 / no such zone on this site")]
    UnknownZone,
    /// The report names a checkpoint that is not on its site.
    #[error("本小区没有这个巡查点 / no such checkpoint on this site")]
    UnknownCheckpoint,
    /// The report names a visit that is not one of the reporter's on its site.
    #[error("找不到你的这次巡查点记录 / no such visit of yours on this site")]
    UnknownVisit,
    /// The zone, checkpoint and visit of a report do not agree.
    #[error("上报的位置前后不一致 / the report's zone, checkpoint and visit do not agree")]
    PlaceMismatch,
    /// The checklist item is not on the visit's checklist.
    #[error("检查表中没有此项：{key} / no such checklist item: {key}")]
    UnknownItem {
        /// The key given.
        key: String,
    },
    /// A fault's severity may be raised above its item's, never lowered.
    #[error("严重程度不能低于检查项规定的「{}」/ the severity cannot be lower than the item's ({})", .floor.label().zh, .floor.label().en)]
    SeverityLowered {
        /// The item's severity.
        floor: Severity,
    },
    /// An extension asked for too far ahead.
    #[error("延期不能超过一年 / an extension cannot reach more than a year ahead")]
    ExtensionTooFar,
    /// A call back is made to the resident of a front-desk report; a patrol finding has none.
    #[error(
        "只有前台登记的住户报事需要回访 / only a resident's report from the front desk is called back"
    )]
    NoResident,
    /// The person who asked for an extension cannot decide it.
    #[error("不能审批自己的延期申请 / you cannot decide your own extension request")]
    OwnRequest,
    /// A time that cannot be used.
    #[error(transparent)]
    Time(#[from] TimeError),
    /// A limit of DESIGN §7 was passed.
    #[error(transparent)]
    Bound(#[from] BoundError),
}

impl RuleError {
    /// The machine-readable code, the same on the phone and on the server.
    pub fn code(&self) -> &'static str {
        match self {
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
            RuleError::UnknownIssue => "unknown_issue",
            RuleError::IssueExists => "issue_exists",
            RuleError::UnknownZone => "unknown_zone",
            RuleError::UnknownCheckpoint => "unknown_checkpoint",
            RuleError::UnknownVisit => "unknown_visit",
            RuleError::PlaceMismatch => "place_mismatch",
            RuleError::UnknownItem { .. } => "unknown_item",
            RuleError::SeverityLowered { .. } => "severity_lowered",
            RuleError::ExtensionTooFar => "extension_too_far",
            RuleError::OwnRequest => "own_request",
            RuleError::NoResident => "no_resident",
            RuleError::Time(e) => e.code(),
            RuleError::Bound(e) => e.code(),
        }
    }
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
    /// Record the call back to the resident who reported it (回访), after it was closed.
    FollowUp {
        /// Whether the resident was satisfied.
        satisfied: bool,
        /// What was said.
        note: Option<String>,
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
            Action::FollowUp { .. } => AuditKind::FollowUp,
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
    /// The checklist item that failed, when the report comes from one.
    pub item_key: Option<String>,
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

/// The reference data a report names, as the caller found it: `None` where an id names nothing
/// (the rules then say which id was unknown).
#[derive(Debug, Clone, Copy, Default)]
pub struct Found<'a> {
    /// The zone of `zone_id`.
    pub zone: Option<&'a Zone>,
    /// The checkpoint of `checkpoint_id`.
    pub checkpoint: Option<&'a Checkpoint>,
    /// The visit of `visit_id`, with its round.
    pub visit: Option<(&'a Visit, &'a PatrolRun)>,
    /// The item of `item_key` on the visit's checklist.
    pub item: Option<&'a ChecklistItem>,
}

fn blank(s: Option<&str>) -> bool {
    s.is_none_or(|s| s.trim().is_empty())
}

/// The text a person typed, trimmed; `None` when there is none.
fn typed(s: Option<String>) -> Option<String> {
    s.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

/// Check that what a report names exists on its site and agrees with itself: the zone and
/// checkpoint are the site's, the checkpoint is in the zone, the visit is one of the reporter's
/// rounds on the site and at that checkpoint, and a fault's severity is at least its item's.
fn check_references(actor: &Actor, r: &Report, found: &Found<'_>) -> Result<(), RuleError> {
    let zone = match r.zone_id {
        None => None,
        Some(id) => Some(
            found
                .zone
                .filter(|z| z.id == id && z.site_id == r.site_id)
                .ok_or(RuleError::UnknownZone)?,
        ),
    };
    let checkpoint = match r.checkpoint_id {
        None => None,
        Some(id) => Some(
            found
                .checkpoint
                .filter(|c| c.id == id && c.site_id == r.site_id)
                .ok_or(RuleError::UnknownCheckpoint)?,
        ),
    };
    if let (Some(z), Some(c)) = (zone, checkpoint)
        && c.zone_id != z.id
    {
        return Err(RuleError::PlaceMismatch);
    }
    if let Some(id) = r.visit_id {
        let (visit, _) = found
            .visit
            .filter(|(v, run)| {
                v.id == id
                    && v.run_id == run.id
                    && run.site_id == r.site_id
                    && run.patroller_id == actor.user_id
            })
            .ok_or(RuleError::UnknownVisit)?;
        if checkpoint.is_some_and(|c| c.id != visit.checkpoint_id) {
            return Err(RuleError::PlaceMismatch);
        }
    }
    if let Some(key) = &r.item_key {
        let item = found
            .item
            .filter(|i| i.key == *key && r.visit_id.is_some())
            .ok_or_else(|| RuleError::UnknownItem { key: key.clone() })?;
        if r.severity < item.fault.severity {
            return Err(RuleError::SeverityLowered {
                floor: item.fault.severity,
            });
        }
    }
    Ok(())
}

/// Record a reported problem: routed to its team, due by the site's SLA. A problem fixed on the
/// spot is recorded closed, resolved by its reporter, for the statistics. `found` is the
/// reference data the report names.
pub fn report(
    actor: &Actor,
    site: &Site,
    r: Report,
    found: &Found<'_>,
) -> Result<Transition, RuleError> {
    if r.site_id != site.id {
        return Err(RuleError::SiteMismatch);
    }
    if !actor.works_on(site.id) {
        return Err(RuleError::OtherSite);
    }
    if actor.role == Role::Admin {
        return Err(RuleError::RoleNotAllowed {
            action: AuditKind::Report,
        });
    }
    if r.title.trim().is_empty() {
        return Err(RuleError::TitleMissing);
    }
    bounds::check_len(Field::Title, r.title.trim(), bounds::MAX_TITLE_CHARS)?;
    bounds::check_opt(Field::Note, r.note.as_deref(), bounds::MAX_TEXT_CHARS)?;
    bounds::check_photos(&r.photos)?;
    check_references(actor, &r, found)?;
    let due_at = crate::sla::due_at(r.observed_at, r.severity, &site.sla_hours, &site.tz()?)?;
    let status = if r.fixed_on_spot {
        Status::Closed
    } else {
        Status::Open
    };
    let issue = Issue {
        id: r.issue_id,
        site_id: r.site_id,
        zone_id: r.zone_id.or(found.checkpoint.map(|c| c.zone_id)),
        checkpoint_id: r
            .checkpoint_id
            .or(found.visit.map(|(v, _)| v.checkpoint_id)),
        visit_id: r.visit_id,
        category: r.category,
        severity: r.severity,
        team: site.routing.team_for(r.category),
        title: r.title.trim().to_owned(),
        note: typed(r.note),
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
        follow_up: None,
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

/// Whether a person may see an issue: it is on one of their sites, and for a technician it is
/// a job of their team or assigned to them — or, for customer service, a resident's report from
/// the front desk, whom they call back (003). Every list, page, pull and action asks this.
pub fn may_see(actor: &Actor, issue: &Issue) -> bool {
    actor.works_on(issue.site_id)
        && match actor.role {
            Role::Technician => {
                in_team(actor.team, issue)
                    || issue.assignee_id == Some(actor.user_id)
                    || (calls_back(actor.team) && issue.source == Source::Desk)
            }
            _ => true,
        }
}

/// Customer service calls residents back about their reports.
fn calls_back(team: Option<Team>) -> bool {
    team == Some(Team::CustomerService)
}

/// The issues a person may see, in the form a store filters by; the same rule as [`may_see`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visibility {
    /// The sites whose issues they see.
    pub sites: Vec<SiteId>,
    /// For technicians: only jobs of this team (none: no team) or assigned to this person.
    pub jobs_of: Option<(Option<Team>, UserId)>,
}

impl Visibility {
    /// What `actor` may see.
    pub fn of(actor: &Actor) -> Visibility {
        Visibility {
            sites: actor.site_ids.clone(),
            jobs_of: (actor.role == Role::Technician).then_some((actor.team, actor.user_id)),
        }
    }

    /// Whether an issue is in it.
    pub fn contains(&self, issue: &Issue) -> bool {
        self.sites.contains(&issue.site_id)
            && self.jobs_of.is_none_or(|(team, user)| {
                team.is_some_and(|t| t == issue.team)
                    || issue.assignee_id == Some(user)
                    || (calls_back(team) && issue.source == Source::Desk)
            })
    }

    /// Whether, beyond their team's jobs, the person sees every front-desk report.
    pub fn desk_reports(&self) -> bool {
        self.jobs_of.is_some_and(|(team, _)| calls_back(team))
    }
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

/// The limits of DESIGN §7 on what a person typed or attached.
fn check_bounds(action: &Action) -> Result<(), BoundError> {
    use bounds::{MAX_REASON_CHARS, MAX_TEXT_CHARS, check_len, check_opt, check_photos};
    match action {
        Action::Assign { .. } | Action::Start => Ok(()),
        Action::Resolve { note, photos } => {
            check_opt(Field::Note, note.as_deref(), MAX_TEXT_CHARS)?;
            check_photos(photos)
        }
        Action::Verify {
            note,
            signature,
            photos,
            ..
        } => {
            check_opt(Field::Note, note.as_deref(), MAX_TEXT_CHARS)?;
            check_photos(photos)?;
            check_photos(signature.as_slice())
        }
        Action::RequestExtension { reason, .. } => {
            check_len(Field::Reason, reason, MAX_REASON_CHARS)
        }
        Action::DecideExtension { note, .. } => {
            check_opt(Field::Note, note.as_deref(), MAX_TEXT_CHARS)
        }
        Action::Comment { text } => check_len(Field::Comment, text, MAX_TEXT_CHARS),
        Action::FollowUp { note, .. } => check_opt(Field::Note, note.as_deref(), MAX_TEXT_CHARS),
    }
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
    if !may_see(actor, issue) {
        return Err(RuleError::OtherTeam);
    }
    let kind = action.kind();
    if actor.role == Role::Admin {
        return Err(RuleError::RoleNotAllowed { action: kind });
    }
    check_bounds(&action)?;
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
            // Technicians and supervisors ask; managers decide (DESIGN §3), so nobody
            // approves their own request.
            let may = actor.role == Role::Supervisor
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
            if at
                .checked_add(MAX_EXTENSION)
                .is_ok_and(|latest| due_at > latest)
            {
                return Err(RuleError::ExtensionTooFar);
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
            if request.requested_by == actor.user_id {
                return Err(RuleError::OwnRequest);
            }
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
        Action::FollowUp { satisfied, note } => {
            // Customer service calls the resident back (003): supervisors, managers and the
            // customer service team, once the report from the front desk is closed.
            let may = actor.role.supervises()
                || (actor.team == Some(Team::CustomerService) && actor.role != Role::Admin);
            if !may {
                return Err(RuleError::RoleNotAllowed { action: kind });
            }
            if issue.source != Source::Desk {
                return Err(RuleError::NoResident);
            }
            if from != Status::Closed {
                return refuse(from, kind);
            }
            next.follow_up = Some(FollowUp {
                by: actor.user_id,
                at,
                satisfied,
            });
            audit.accepted = Some(satisfied);
            audit.note = typed(note);
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
