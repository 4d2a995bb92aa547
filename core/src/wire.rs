//! Sync protocol version 1 (DESIGN.md §6–7): what phones and server say to each other. Field
//! names are the contract; unknown fields are ignored both ways so either side can add fields.

use jiff::Timestamp;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::alert::Alert;
use crate::checklist::Template;
use crate::ids::{
    AlertId, CheckpointId, DeviceId, IssueId, OpId, ResultId, RouteId, RunId, SiteId, UserId,
    VisitId, ZoneId,
};
use crate::issue::{Category, Issue, Severity, Source};
use crate::patrol::{Missed, Outcome, VisitMethod};
use crate::plausibility::ScanFlag;
use crate::route::Route;
use crate::site::{Checkpoint, Site, Zone};
use crate::team::Team;
use crate::user::{Role, User};

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 1;

/// The request header that carries the client's protocol version; a server older than the
/// client answers 426.
pub const PROTOCOL_HEADER: &str = "patrol-protocol";

// ---- push ----------------------------------------------------------------------------------

/// `POST /api/v1/sync/push`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushRequest {
    /// The phone installation.
    pub device_id: DeviceId,
    /// The device's clock when it sent the request; the server derives the clock offset from it.
    pub device_time: Timestamp,
    /// Operations in `seq` order.
    pub ops: Vec<Op>,
}

/// One change a device made, as it sits in the outbox and travels.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Op {
    /// Unique forever; a repeat is a duplicate.
    pub op_id: OpId,
    /// Per device, from 1, increasing without gaps.
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 9_223_372_036_854_775_807_u64)
    )]
    pub seq: u64,
    /// Op kind, e.g. `issue.report`.
    pub kind: String,
    /// When it happened, by the device's clock.
    pub at: Timestamp,
    /// The kind's body.
    pub body: serde_json::Value,
}

/// Why an op could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OpDecodeError {
    /// A kind this build does not know (a newer client).
    #[error("未知的操作类型 / unknown op kind `{0}`")]
    UnknownKind(String),
    /// The body does not fit its kind.
    #[error("操作内容无效 / invalid body for `{kind}`: {detail}")]
    InvalidBody {
        /// The kind.
        kind: String,
        /// What serde said.
        detail: String,
    },
}

impl OpDecodeError {
    /// The machine-readable code of a refused op.
    pub fn code(&self) -> &'static str {
        "invalid_op"
    }
}

impl Op {
    /// Wrap a body as an op.
    pub fn new(op_id: OpId, seq: u64, at: Timestamp, body: &OpBody) -> Op {
        Op {
            op_id,
            seq,
            kind: body.kind().to_owned(),
            at,
            body: body.body_json(),
        }
    }

    /// Read the body according to the kind. A refusal quotes at most a little of what the
    /// client sent, since it is kept and answered.
    pub fn decode(&self) -> Result<OpBody, OpDecodeError> {
        fn short(s: &str) -> String {
            let mut out: String = s.chars().take(120).collect();
            if out.len() < s.len() {
                out.push('…');
            }
            out
        }
        if !OpBody::KINDS.contains(&self.kind.as_str()) {
            return Err(OpDecodeError::UnknownKind(short(&self.kind)));
        }
        let tagged = serde_json::json!({ "kind": self.kind, "body": self.body });
        serde_json::from_value(tagged).map_err(|e| OpDecodeError::InvalidBody {
            kind: self.kind.clone(),
            detail: short(&e.to_string()),
        })
    }
}

/// `patrol.start`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatrolStart {
    /// The new round.
    pub run_id: RunId,
    /// Its route.
    pub route_id: RouteId,
}

/// `patrol.visit`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatrolVisit {
    /// The new visit.
    pub visit_id: VisitId,
    /// Its round.
    pub run_id: RunId,
    /// The checkpoint.
    pub checkpoint_id: CheckpointId,
    /// `qr` or `manual`.
    pub method: VisitMethod,
    /// The scanned label text, for `qr`.
    #[serde(default)]
    pub token: Option<String>,
    /// Why it was entered by hand, for `manual`.
    #[serde(default)]
    pub reason: Option<String>,
    /// Plausibility flags the device raised.
    #[serde(default)]
    pub flags: Vec<ScanFlag>,
}

/// `patrol.result`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatrolResult {
    /// The new result.
    pub result_id: ResultId,
    /// Its visit.
    pub visit_id: VisitId,
    /// The checklist item.
    pub item_key: String,
    /// `ok`, `fault` or `na`.
    pub outcome: Outcome,
    /// The number read.
    #[serde(default)]
    pub reading: Option<f64>,
    /// Note.
    #[serde(default)]
    pub note: Option<String>,
    /// Photos (blob hashes).
    #[serde(default)]
    pub photos: Vec<String>,
}

/// `patrol.finish`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatrolFinish {
    /// The round.
    pub run_id: RunId,
    /// Checkpoints left out, with reasons.
    #[serde(default)]
    pub missed: Vec<Missed>,
    /// Flags about the round (finished too fast).
    #[serde(default)]
    pub flags: Vec<ScanFlag>,
}

/// `issue.report`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueReport {
    /// The new issue.
    pub issue_id: IssueId,
    /// Site.
    pub site_id: SiteId,
    /// Zone.
    #[serde(default)]
    pub zone_id: Option<ZoneId>,
    /// Checkpoint.
    #[serde(default)]
    pub checkpoint_id: Option<CheckpointId>,
    /// The visit it was found on.
    #[serde(default)]
    pub visit_id: Option<VisitId>,
    /// The checklist item that failed at that visit, if the report comes from one; its rule sets
    /// the lowest severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_key: Option<String>,
    /// Category.
    pub category: Category,
    /// Severity.
    pub severity: Severity,
    /// Title.
    pub title: String,
    /// Description.
    #[serde(default)]
    pub note: Option<String>,
    /// Photos (blob hashes).
    #[serde(default)]
    pub photos: Vec<String>,
    /// When it was seen, by the device's clock.
    pub observed_at: Timestamp,
    /// `patrol` or `desk`.
    pub source: Source,
    /// Fixed on the spot.
    #[serde(default)]
    pub fixed_on_spot: bool,
}

/// `issue.assign`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueAssign {
    /// The issue.
    pub issue_id: IssueId,
    /// Who gets it.
    pub assignee_id: UserId,
}

/// `issue.start`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueStart {
    /// The issue.
    pub issue_id: IssueId,
}

/// `issue.resolve`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueResolve {
    /// The issue.
    pub issue_id: IssueId,
    /// What was done.
    #[serde(default)]
    pub note: Option<String>,
    /// Photos of the fix.
    #[serde(default)]
    pub photos: Vec<String>,
}

/// `issue.verify`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueVerify {
    /// The issue.
    pub issue_id: IssueId,
    /// Accepted (closes) or rejected (back to work).
    pub accepted: bool,
    /// Note; the reason when rejecting.
    #[serde(default)]
    pub note: Option<String>,
    /// Blob hash of the signature image.
    #[serde(default)]
    pub signature: Option<String>,
    /// Photos taken at the verification.
    #[serde(default)]
    pub photos: Vec<String>,
}

/// `issue.extension.request`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtensionRequestOp {
    /// The issue.
    pub issue_id: IssueId,
    /// Why.
    pub reason: String,
    /// The new due time asked for.
    pub due_at: Timestamp,
}

/// `issue.extension.decide`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExtensionDecideOp {
    /// The issue.
    pub issue_id: IssueId,
    /// Approved or denied.
    pub approved: bool,
    /// Note.
    #[serde(default)]
    pub note: Option<String>,
}

/// `issue.comment`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueComment {
    /// The issue.
    pub issue_id: IssueId,
    /// The text.
    pub text: String,
}

/// `issue.followup`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueFollowUp {
    /// The issue.
    pub issue_id: IssueId,
    /// Whether the resident was satisfied.
    pub satisfied: bool,
    /// What was said.
    #[serde(default)]
    pub note: Option<String>,
}

/// `alert.ack`: a person attended to an alert (DESIGN.md §11).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertAck {
    /// The alert.
    pub alert_id: AlertId,
    /// Who attended and what was done (required; refused `note_required` when blank).
    #[serde(default)]
    pub note: Option<String>,
}

/// Every op kind with its body.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "body")]
pub enum OpBody {
    /// A round starts.
    #[serde(rename = "patrol.start")]
    PatrolStart(PatrolStart),
    /// A checkpoint is visited.
    #[serde(rename = "patrol.visit")]
    PatrolVisit(PatrolVisit),
    /// A checklist item is answered.
    #[serde(rename = "patrol.result")]
    PatrolResult(PatrolResult),
    /// A round ends.
    #[serde(rename = "patrol.finish")]
    PatrolFinish(PatrolFinish),
    /// A problem is reported.
    #[serde(rename = "issue.report")]
    IssueReport(IssueReport),
    /// An issue is assigned.
    #[serde(rename = "issue.assign")]
    IssueAssign(IssueAssign),
    /// Work starts.
    #[serde(rename = "issue.start")]
    IssueStart(IssueStart),
    /// The fix is reported.
    #[serde(rename = "issue.resolve")]
    IssueResolve(IssueResolve),
    /// The fix is verified on site.
    #[serde(rename = "issue.verify")]
    IssueVerify(IssueVerify),
    /// More time is asked for.
    #[serde(rename = "issue.extension.request")]
    ExtensionRequest(ExtensionRequestOp),
    /// The manager decides.
    #[serde(rename = "issue.extension.decide")]
    ExtensionDecide(ExtensionDecideOp),
    /// A comment.
    #[serde(rename = "issue.comment")]
    IssueComment(IssueComment),
    /// The resident is called back.
    #[serde(rename = "issue.followup")]
    IssueFollowUp(IssueFollowUp),
    /// An alert is acknowledged.
    #[serde(rename = "alert.ack")]
    AlertAck(AlertAck),
}

impl OpBody {
    /// Every op kind of protocol version 1.
    pub const KINDS: [&'static str; 14] = [
        "patrol.start",
        "patrol.visit",
        "patrol.result",
        "patrol.finish",
        "issue.report",
        "issue.assign",
        "issue.start",
        "issue.resolve",
        "issue.verify",
        "issue.extension.request",
        "issue.extension.decide",
        "issue.comment",
        "issue.followup",
        "alert.ack",
    ];

    /// A kind as a client sent it, from the closed set of protocol kinds: itself when it is one,
    /// else `unknown` (for metrics labels and logs, which must not grow with what clients send).
    pub fn known_kind(kind: &str) -> &'static str {
        OpBody::KINDS
            .iter()
            .find(|k| **k == kind)
            .copied()
            .unwrap_or("unknown")
    }

    /// The op kind.
    pub fn kind(&self) -> &'static str {
        match self {
            OpBody::PatrolStart(_) => "patrol.start",
            OpBody::PatrolVisit(_) => "patrol.visit",
            OpBody::PatrolResult(_) => "patrol.result",
            OpBody::PatrolFinish(_) => "patrol.finish",
            OpBody::IssueReport(_) => "issue.report",
            OpBody::IssueAssign(_) => "issue.assign",
            OpBody::IssueStart(_) => "issue.start",
            OpBody::IssueResolve(_) => "issue.resolve",
            OpBody::IssueVerify(_) => "issue.verify",
            OpBody::ExtensionRequest(_) => "issue.extension.request",
            OpBody::ExtensionDecide(_) => "issue.extension.decide",
            OpBody::IssueComment(_) => "issue.comment",
            OpBody::IssueFollowUp(_) => "issue.followup",
            OpBody::AlertAck(_) => "alert.ack",
        }
    }

    /// The body alone, as JSON.
    pub fn body_json(&self) -> serde_json::Value {
        fn json(v: &impl Serialize) -> serde_json::Value {
            // Plain structs of strings, numbers and enums always serialise.
            serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
        }
        match self {
            OpBody::PatrolStart(b) => json(b),
            OpBody::PatrolVisit(b) => json(b),
            OpBody::PatrolResult(b) => json(b),
            OpBody::PatrolFinish(b) => json(b),
            OpBody::IssueReport(b) => json(b),
            OpBody::IssueAssign(b) => json(b),
            OpBody::IssueStart(b) => json(b),
            OpBody::IssueResolve(b) => json(b),
            OpBody::IssueVerify(b) => json(b),
            OpBody::ExtensionRequest(b) => json(b),
            OpBody::ExtensionDecide(b) => json(b),
            OpBody::IssueComment(b) => json(b),
            OpBody::IssueFollowUp(b) => json(b),
            OpBody::AlertAck(b) => json(b),
        }
    }

    /// Every blob the op refers to; they must be uploaded before it.
    pub fn blobs(&self) -> Vec<&str> {
        let hashes: Vec<&String> = match self {
            OpBody::PatrolResult(b) => b.photos.iter().collect(),
            OpBody::IssueReport(b) => b.photos.iter().collect(),
            OpBody::IssueResolve(b) => b.photos.iter().collect(),
            OpBody::IssueVerify(b) => b.photos.iter().chain(b.signature.iter()).collect(),
            _ => Vec::new(),
        };
        hashes.into_iter().map(String::as_str).collect()
    }

    /// The issue an issue op is about.
    pub fn issue_id(&self) -> Option<IssueId> {
        match self {
            OpBody::IssueReport(b) => Some(b.issue_id),
            OpBody::IssueAssign(b) => Some(b.issue_id),
            OpBody::IssueStart(b) => Some(b.issue_id),
            OpBody::IssueResolve(b) => Some(b.issue_id),
            OpBody::IssueVerify(b) => Some(b.issue_id),
            OpBody::ExtensionRequest(b) => Some(b.issue_id),
            OpBody::ExtensionDecide(b) => Some(b.issue_id),
            OpBody::IssueComment(b) => Some(b.issue_id),
            OpBody::IssueFollowUp(b) => Some(b.issue_id),
            _ => None,
        }
    }
}

/// The server's answer to a push.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushResponse {
    /// The server's clock.
    pub server_time: Timestamp,
    /// One result per op, in order.
    pub results: Vec<OpResult>,
}

/// What became of one op.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpStatus {
    /// Applied now.
    Applied,
    /// Applied before; nothing changed.
    Duplicate,
    /// Refused for good: show it to the person, never retry.
    Rejected,
}

/// The result of one op.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpResult {
    /// The op.
    pub op_id: OpId,
    /// What became of it.
    pub status: OpStatus,
    /// Machine-readable reason, for rejections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Reason for people, Chinese then English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

// ---- pull ----------------------------------------------------------------------------------

/// `GET /api/v1/sync/pull` query.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullQuery {
    /// Cursor from the previous pull; none for everything.
    #[serde(default)]
    pub since: Option<String>,
    /// Most changes to return.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// The pull cursor a device sent: absent or empty is the start of the feed. `None` when it is
/// not one the server gave (a number, not negative).
pub fn pull_cursor(since: Option<&str>) -> Option<i64> {
    match since.map(str::trim) {
        None | Some("") => Some(0),
        Some(s) if s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
        Some(_) => None,
    }
}

/// Where a page of the queue ended: the due time and id of its last issue (the queue's order).
/// Clients get it as an opaque string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueCursor {
    /// Due time of the last issue, milliseconds since the epoch.
    pub due_at_ms: i64,
    /// Its id.
    pub id: IssueId,
}

impl QueueCursor {
    /// The cursor of an issue.
    pub fn after(issue: &Issue) -> QueueCursor {
        QueueCursor {
            due_at_ms: issue.due_at.as_millisecond(),
            id: issue.id,
        }
    }

    /// The opaque form.
    pub fn encode(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("{}.{}", self.due_at_ms, self.id))
    }

    /// Read an opaque cursor back; `None` for anything the server did not make.
    pub fn decode(s: &str) -> Option<QueueCursor> {
        use base64::Engine as _;
        if s.len() > 128 {
            return None;
        }
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .ok()?;
        let text = std::str::from_utf8(&raw).ok()?;
        let (ms, id) = text.split_once('.')?;
        if id.len() != 36 {
            return None;
        }
        Some(QueueCursor {
            due_at_ms: ms.parse().ok()?,
            id: id.parse().ok()?,
        })
    }
}

/// The answer to a pull.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PullResponse {
    /// Changes in order.
    pub changes: Vec<Change>,
    /// Where to continue from.
    pub cursor: String,
    /// Whether there is more after this page.
    pub more: bool,
}

/// One changed thing; `data` is `None` when it was deleted or is no longer visible.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Entity kind: `site`, `zone`, `checkpoint`, `template`, `route`, `user`, `issue`, `alert`.
    pub entity: String,
    /// Its id.
    pub id: String,
    /// Its current data.
    #[serde(default)]
    pub data: Option<serde_json::Value>,
}

/// A pulled entity, decoded. Entities are decoded and stored one at a time, so the size of the
/// largest (an issue) costs nothing worth boxing for.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum Entity {
    /// A site.
    Site(Site),
    /// A zone.
    Zone(Zone),
    /// A checkpoint.
    Checkpoint(Checkpoint),
    /// A checklist template.
    Template(Template),
    /// A route.
    Route(Route),
    /// A user.
    User(User),
    /// An issue.
    Issue(Issue),
    /// An alert (DESIGN.md §11).
    Alert(Alert),
}

/// Why a change could not be read.
#[derive(Debug, thiserror::Error)]
#[error("无法读取同步数据 / cannot read pulled {entity} {id}: {detail}")]
pub struct ChangeDecodeError {
    /// Entity kind.
    pub entity: String,
    /// Id.
    pub id: String,
    /// What went wrong.
    pub detail: String,
}

impl Change {
    /// A change carrying an entity's current data.
    pub fn of(entity: &Entity) -> Change {
        fn json(v: &impl Serialize) -> serde_json::Value {
            serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
        }
        let (kind, id, mut data) = match entity {
            Entity::Site(s) => ("site", s.id.to_string(), json(s)),
            Entity::Zone(z) => ("zone", z.id.to_string(), json(z)),
            Entity::Checkpoint(c) => ("checkpoint", c.id.to_string(), json(c)),
            Entity::Template(t) => ("template", t.id.to_string(), json(t)),
            Entity::Route(r) => ("route", r.id.to_string(), json(r)),
            Entity::User(u) => ("user", u.id.to_string(), json(u)),
            Entity::Issue(i) => ("issue", i.id.to_string(), json(i)),
            Entity::Alert(a) => ("alert", a.id.to_string(), json(a)),
        };
        if let (Entity::Issue(i), Some(obj)) = (entity, data.as_object_mut()) {
            obj.insert("escalated".into(), i.escalated().into());
        }
        Change {
            entity: kind.to_owned(),
            id,
            data: Some(data),
        }
    }

    /// A change saying the entity is gone (or no longer visible to this user).
    pub fn gone(entity: &str, id: impl ToString) -> Change {
        Change {
            entity: entity.to_owned(),
            id: id.to_string(),
            data: None,
        }
    }

    /// Decode the data. `Ok(None)` for a deletion or for an entity kind this build does not
    /// know (a newer server), which a device skips.
    pub fn decode(&self) -> Result<Option<Entity>, ChangeDecodeError> {
        let Some(data) = &self.data else {
            return Ok(None);
        };
        fn read<T: DeserializeOwned>(
            c: &Change,
            data: &serde_json::Value,
        ) -> Result<T, ChangeDecodeError> {
            serde_json::from_value(data.clone()).map_err(|e| ChangeDecodeError {
                entity: c.entity.clone(),
                id: c.id.clone(),
                detail: e.to_string(),
            })
        }
        Ok(Some(match self.entity.as_str() {
            "site" => Entity::Site(read(self, data)?),
            "zone" => Entity::Zone(read(self, data)?),
            "checkpoint" => Entity::Checkpoint(read(self, data)?),
            "template" => Entity::Template(read(self, data)?),
            "route" => Entity::Route(read(self, data)?),
            "user" => Entity::User(read(self, data)?),
            "issue" => Entity::Issue(read(self, data)?),
            "alert" => Entity::Alert(read(self, data)?),
            _ => return Ok(None),
        }))
    }
}

// ---- auth and errors -----------------------------------------------------------------------

/// `POST /api/v1/auth/login`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// `POST /api/v1/auth/refresh`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRequest {
    /// The refresh token; it stops working once used.
    pub refresh_token: String,
}

impl std::fmt::Debug for RefreshRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RefreshRequest { refresh_token: <redacted> }")
    }
}

/// The answer to login and refresh.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// Short-lived JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Opaque token to get the next pair.
    pub refresh_token: String,
    /// Seconds the access token lives.
    pub expires_in: u64,
    /// Who signed in.
    pub user: SessionUser,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("expires_in", &self.expires_in)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// The signed-in user as login reports it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    /// Id.
    pub id: UserId,
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// Team.
    #[serde(default)]
    pub team: Option<Team>,
    /// Site ids.
    #[serde(default)]
    pub sites: Vec<SiteId>,
}

impl From<&User> for SessionUser {
    fn from(u: &User) -> Self {
        SessionUser {
            id: u.id,
            username: u.username.clone(),
            role: u.role,
            team: u.team,
            sites: u.site_ids.clone(),
        }
    }
}

/// Every error response: `{ "error": { "code", "message" } }`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Machine-readable code, e.g. `missing_blob`.
    pub code: String,
    /// For people, Chinese then English.
    pub message: String,
    /// With `out_of_order`: the `seq` the server waits for from this device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_seq: Option<u64>,
}

impl ErrorBody {
    /// An error body.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        ErrorBody {
            error: ErrorDetail {
                code: code.into(),
                message: message.into(),
                expected_seq: None,
            },
        }
    }
}

#[cfg(test)]
mod tests;
