//! The append-only audit trail of an issue: who did what, when, from which device, with what
//! evidence (DESIGN.md §3).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::ids::{AuditId, DeviceId, IssueId, UserId};
use crate::issue::{EscalationReason, Status};
use crate::text::Text;

/// What happened; the names are the sync op kinds, plus `escalate` for the server's own doing.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuditKind {
    /// Reported (or recorded fixed on the spot).
    #[serde(rename = "issue.report")]
    Report,
    /// Assigned or reassigned.
    #[serde(rename = "issue.assign")]
    Assign,
    /// Work started.
    #[serde(rename = "issue.start")]
    Start,
    /// Fixed, waiting for verification.
    #[serde(rename = "issue.resolve")]
    Resolve,
    /// Verified on site: accepted (closed) or rejected (back to work).
    #[serde(rename = "issue.verify")]
    Verify,
    /// Extension asked for.
    #[serde(rename = "issue.extension.request")]
    RequestExtension,
    /// Extension approved or denied.
    #[serde(rename = "issue.extension.decide")]
    DecideExtension,
    /// A comment.
    #[serde(rename = "issue.comment")]
    Comment,
    /// The resident called back (回访).
    #[serde(rename = "issue.followup")]
    FollowUp,
    /// Told over the team's head.
    #[serde(rename = "escalate")]
    Escalate,
}

impl AuditKind {
    /// The wire name (the op kind).
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::Report => "issue.report",
            AuditKind::Assign => "issue.assign",
            AuditKind::Start => "issue.start",
            AuditKind::Resolve => "issue.resolve",
            AuditKind::Verify => "issue.verify",
            AuditKind::RequestExtension => "issue.extension.request",
            AuditKind::DecideExtension => "issue.extension.decide",
            AuditKind::Comment => "issue.comment",
            AuditKind::FollowUp => "issue.followup",
            AuditKind::Escalate => "escalate",
        }
    }

    /// What it is called, as a verb for people.
    pub fn label(self) -> Text {
        match self {
            AuditKind::Report => Text::new("上报", "report"),
            AuditKind::Assign => Text::new("派单", "assign"),
            AuditKind::Start => Text::new("开始处理", "start"),
            AuditKind::Resolve => Text::new("完成维修", "resolve"),
            AuditKind::Verify => Text::new("现场验收", "verify"),
            AuditKind::RequestExtension => Text::new("申请延期", "request an extension for"),
            AuditKind::DecideExtension => Text::new("审批延期", "decide the extension of"),
            AuditKind::Comment => Text::new("备注", "comment on"),
            AuditKind::FollowUp => Text::new("回访", "call back the resident of"),
            AuditKind::Escalate => Text::new("升级上报", "escalate"),
        }
    }
}

/// One entry of an issue's audit trail. Core fills what the rules know; the server adds when it
/// received the change and from which device.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Id.
    pub id: AuditId,
    /// The issue.
    pub issue_id: IssueId,
    /// What happened.
    pub kind: AuditKind,
    /// Who did it; `None` for the server's own escalations.
    #[serde(default)]
    pub actor_id: Option<UserId>,
    /// When it happened (device time corrected for the device's clock offset).
    pub at: Timestamp,
    /// When the server received it.
    #[serde(default)]
    pub server_at: Option<Timestamp>,
    /// The device's own clock reading for it, uncorrected.
    #[serde(default)]
    pub device_at: Option<Timestamp>,
    /// The device it came from.
    #[serde(default)]
    pub device_id: Option<DeviceId>,
    /// Status before; `None` for the report that created the issue.
    #[serde(default)]
    pub from_status: Option<Status>,
    /// Status after.
    pub to_status: Status,
    /// The person assigned, for assignments.
    #[serde(default)]
    pub assignee_id: Option<UserId>,
    /// Accepted (verify) or approved (extension decision).
    #[serde(default)]
    pub accepted: Option<bool>,
    /// Note, reason or comment text.
    #[serde(default)]
    pub note: Option<String>,
    /// Photo evidence (blob hashes).
    #[serde(default)]
    pub photos: Vec<String>,
    /// Signature image (blob hash), for sign-offs.
    #[serde(default)]
    pub signature: Option<String>,
    /// Due time before, when it moved or was asked to move.
    #[serde(default)]
    pub due_before: Option<Timestamp>,
    /// Due time after (or asked for).
    #[serde(default)]
    pub due_after: Option<Timestamp>,
    /// Why it was escalated.
    #[serde(default)]
    pub escalation: Option<EscalationReason>,
    /// The previous entry's `hash` (for the first entry, the issue id): the server sets it when
    /// it stores the entry (DESIGN.md §12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<String>,
    /// SHA-256 of the JCS of the entry without this field, set with `prev`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

impl AuditEntry {
    /// A bare entry; the transition fills in its evidence.
    pub fn new(
        issue_id: IssueId,
        kind: AuditKind,
        actor_id: Option<UserId>,
        at: Timestamp,
        from_status: Option<Status>,
        to_status: Status,
    ) -> Self {
        AuditEntry {
            id: AuditId::new(),
            issue_id,
            kind,
            actor_id,
            at,
            server_at: None,
            device_at: None,
            device_id: None,
            from_status,
            to_status,
            assignee_id: None,
            accepted: None,
            note: None,
            photos: Vec::new(),
            signature: None,
            due_before: None,
            due_after: None,
            escalation: None,
            prev: None,
            hash: None,
        }
    }
}
