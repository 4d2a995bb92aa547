//! patrol-mobile: the phone apps' door into patrol-core, through uniffi (DESIGN.md §9). One
//! object, [`PatrolApp`], opens the offline engine on a database path and talks to one server;
//! each method converts its arguments, calls the engine, and converts the answer back. Ids cross
//! as strings, times as RFC 3339 strings, core's enums as uniffi enums, errors as one
//! [`PatrolError`] whose messages are for people (Chinese, then English).
//!
//! No rule lives here: what a method needs to decide, core decides.
//!
//! Every method blocks: call it from a background thread.

use std::path::PathBuf;
use std::sync::Arc;

use patrol_core::checklist::Answer;
use patrol_core::engine::{Engine, JobsScope, ReportDraft};
use patrol_core::issue::Source;
use patrol_core::patrol::Missed;
use patrol_core::sync::{CancelToken, SyncClient, SyncStage};

uniffi::setup_scaffolding!();

/// Why a call failed. Each variant carries the sentence to show, Chinese then English; in
/// Kotlin it is the exception's `message`, in Swift the case's `message`.
#[derive(Debug, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum PatrolError {
    /// The scanned code is not a good label of this site: forged, damaged, another estate's,
    /// another site's, or a checkpoint that no longer exists. Scan again or visit without it.
    #[error("{0}")]
    Label(String),
    /// The rules refused it (a missing photo, a round already finished, not your job, a bad
    /// value): show the message.
    #[error("{0}")]
    Refused(String),
    /// The server could not be reached; the work waits on the phone and goes later.
    #[error("{0}")]
    Network(String),
    /// Sign in (again).
    #[error("{0}")]
    SignedOut(String),
    /// The sync was cancelled; what it finished stays done.
    #[error("{0}")]
    Cancelled(String),
    /// The phone's storage is full: the step was not saved, what was saved before is kept.
    /// Ask the person to free some space; the same step works again then.
    #[error("{0}")]
    StorageFull(String),
    /// Something is wrong with the phone's data or the app.
    #[error("{0}")]
    Internal(String),
}

impl From<patrol_core::Error> for PatrolError {
    fn from(e: patrol_core::Error) -> Self {
        use patrol_core::Error as E;
        use patrol_core::sync::SyncError as S;
        let message = e.to_string();
        match &e {
            E::Label(_) => PatrolError::Label(message),
            E::Rule(_)
            | E::Alert(_)
            | E::Answer(_)
            | E::Round(_)
            | E::Bound(_)
            | E::Time(_)
            | E::Flow(_)
            | E::Photo(_) => PatrolError::Refused(message),
            E::NotSignedIn => PatrolError::SignedOut(message),
            E::StorageFull => PatrolError::StorageFull(message),
            E::Sync(S::Unauthorized | S::BadCredentials) => PatrolError::SignedOut(message),
            E::Sync(S::Network(_)) => PatrolError::Network(message),
            E::Sync(S::Cancelled) => PatrolError::Cancelled(message),
            E::Sync(S::Refused { .. } | S::OtherUsersWorkPending) => PatrolError::Refused(message),
            _ => PatrolError::Internal(message),
        }
    }
}

fn bad_input(what: &str, value: &str) -> PatrolError {
    PatrolError::Refused(format!("无效的{what}：{value} / invalid {what}: {value}"))
}

fn id<T: std::str::FromStr>(what: &str, s: &str) -> Result<T, PatrolError> {
    s.parse().map_err(|_| bad_input(what, s))
}

/// A core enum without data, crossing as a uniffi enum of the same variants. Both conversions
/// are exhaustive matches, so a variant added in core stops the build here until it crosses too.
macro_rules! mirror_enum {
    (
        $(#[$meta:meta])*
        $name:ident = $core:path {
            $($(#[$vmeta:meta])* $variant:ident),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl From<$core> for $name {
            fn from(v: $core) -> Self {
                type Core = $core;
                match v {
                    $(Core::$variant => $name::$variant),+
                }
            }
        }

        impl From<$name> for $core {
            fn from(v: $name) -> Self {
                match v {
                    $($name::$variant => Self::$variant),+
                }
            }
        }
    };
}

mirror_enum! {
    /// What a person does on site.
    Role = patrol_core::user::Role {
        /// 巡查员: walks rounds and reports.
        Patrol,
        /// 维修工: works the jobs of their team.
        Technician,
        /// 物业助理: assigns and verifies.
        Supervisor,
        /// 管理处主任: a supervisor who also decides extensions.
        Manager,
        /// Sets up sites and users.
        Admin,
    }
}

mirror_enum! {
    /// A team that works a resolution queue.
    Team = patrol_core::team::Team {
        /// 工程部.
        Engineering,
        /// 保洁.
        Cleaning,
        /// 绿化.
        Landscaping,
        /// 保安队.
        Security,
        /// 客服.
        CustomerService,
        /// 管理处主任.
        Management,
    }
}

mirror_enum! {
    /// What kind of problem an issue is; it picks the team. (Not `Category`: in Swift that
    /// name is also the Objective-C runtime's.)
    IssueCategory = patrol_core::issue::Category {
        /// 公共设施.
        Facility,
        /// 清洁卫生.
        Cleaning,
        /// 园林绿化.
        Landscaping,
        /// 治安.
        Security,
        /// 消防.
        Fire,
        /// 装修违章.
        Renovation,
        /// 住户违章.
        ResidentViolation,
        /// 员工工作.
        Staff,
    }
}

mirror_enum! {
    /// How serious a problem is; it picks the SLA and who is told at once.
    Severity = patrol_core::issue::Severity {
        /// 一般: three days.
        Routine,
        /// 重大: three days, the manager told at once.
        Major,
        /// 紧急: hours, security told at once.
        Urgent,
    }
}

mirror_enum! {
    /// Where an issue is in its life.
    IssueStatus = patrol_core::issue::Status {
        /// 待派单.
        Open,
        /// 已派单.
        Assigned,
        /// 处理中 (also after a rejected fix).
        InProgress,
        /// 待验收: fixed, waiting for on-site verification.
        Resolved,
        /// 已关闭: signed off, or fixed on the spot.
        Closed,
    }
}

mirror_enum! {
    /// Where an active issue stands against its due time.
    SlaState = patrol_core::sla::SlaState {
        /// 按时: more than a day left.
        OnTrack,
        /// 即将到期: less than a day left.
        DueSoon,
        /// 已超时.
        Overdue,
    }
}

mirror_enum! {
    /// ok / fault / not applicable.
    Outcome = patrol_core::patrol::Outcome {
        /// 正常.
        Ok,
        /// 故障.
        Fault,
        /// 不适用.
        Na,
    }
}

mirror_enum! {
    /// How a visit was recorded.
    VisitMethod = patrol_core::patrol::VisitMethod {
        /// The label was scanned.
        Qr,
        /// Entered by hand, with a reason.
        Manual,
    }
}

mirror_enum! {
    /// How a checklist item is checked.
    ChecklistMethod = patrol_core::checklist::Method {
        /// 看.
        Look,
        /// 听.
        Listen,
        /// 摸.
        Touch,
        /// 调查了解.
        Ask,
    }
}

mirror_enum! {
    /// What an alert is about.
    AlertKind = patrol_core::alert::AlertKind {
        /// 紧急问题: security, at once.
        Urgent,
        /// 重大问题: the manager, at once.
        Major,
        /// 问题逾期: an issue past its due time.
        Overdue,
        /// 漏巡: a scheduled round not started within its grace.
        RoundMissed,
        /// 巡查不完整: a round finished with checkpoints missed or flagged.
        RoundIncomplete,
    }
}

/// What kind of answer an item takes; a reading's unit and range are on [`ChecklistItem`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum ItemKind {
    /// ok / fault / not applicable.
    Check,
    /// A number read off equipment.
    Reading,
    /// A written answer.
    Text,
}

impl From<&patrol_core::checklist::ItemKind> for ItemKind {
    fn from(k: &patrol_core::checklist::ItemKind) -> Self {
        use patrol_core::checklist::ItemKind as K;
        match k {
            K::Check => ItemKind::Check,
            K::Reading { .. } => ItemKind::Reading,
            K::Text => ItemKind::Text,
        }
    }
}

/// Something implausible about a scan: shown to the guard and the supervisor, never blocking.
#[derive(Debug, Clone, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum ScanFlag {
    /// Reached from the previous checkpoint faster than the route's shortest walk.
    TooFast {
        /// The checkpoint scanned before.
        from: String,
        /// Seconds it took.
        secs: u32,
        /// Seconds the walk takes at least.
        min_secs: u32,
    },
    /// The same label scanned again within a minute.
    RepeatScan {
        /// Seconds since the previous scan of it.
        secs: u32,
    },
    /// The round finished faster than its minimum time.
    RoundTooShort {
        /// Seconds the round took.
        secs: u32,
        /// Seconds it takes at least.
        min_secs: u32,
    },
}

impl From<&patrol_core::plausibility::ScanFlag> for ScanFlag {
    fn from(f: &patrol_core::plausibility::ScanFlag) -> Self {
        use patrol_core::plausibility::ScanFlag as F;
        match *f {
            F::TooFast {
                from,
                secs,
                min_secs,
            } => ScanFlag::TooFast {
                from: from.to_string(),
                secs,
                min_secs,
            },
            F::RepeatScan { secs } => ScanFlag::RepeatScan { secs },
            F::RoundTooShort { secs, min_secs } => ScanFlag::RoundTooShort { secs, min_secs },
        }
    }
}

/// Who is signed in.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Session {
    /// User id.
    pub user_id: String,
    /// Login name.
    pub username: String,
    /// What they do.
    pub role: Role,
    /// Team, for technicians.
    pub team: Option<Team>,
    /// Site ids.
    pub sites: Vec<String>,
}

impl From<&patrol_core::wire::SessionUser> for Session {
    fn from(u: &patrol_core::wire::SessionUser) -> Self {
        Session {
            user_id: u.id.to_string(),
            username: u.username.clone(),
            role: u.role.into(),
            team: u.team.map(Into::into),
            sites: u.sites.iter().map(ToString::to_string).collect(),
        }
    }
}

/// A route due today.
#[derive(Debug, Clone, uniffi::Record)]
pub struct RouteToday {
    /// Route id.
    pub route_id: String,
    /// Route name.
    pub name: String,
    /// Site name.
    pub site_name: String,
    /// Checkpoints on it.
    pub checkpoints: Vec<String>,
    /// Start times ("09:00:00").
    pub times: Vec<String>,
    /// Rounds finished today by this user.
    pub rounds_done: u32,
    /// A round under way, if any.
    pub under_way: Option<String>,
}

impl From<patrol_core::engine::RouteToday> for RouteToday {
    fn from(r: patrol_core::engine::RouteToday) -> Self {
        RouteToday {
            route_id: r.route.id.to_string(),
            name: r.route.name,
            site_name: r.site.name,
            checkpoints: r
                .route
                .checkpoint_ids
                .iter()
                .map(ToString::to_string)
                .collect(),
            times: r
                .route
                .schedule
                .times
                .iter()
                .map(ToString::to_string)
                .collect(),
            rounds_done: r.rounds_done,
            under_way: r.under_way.map(|u| u.to_string()),
        }
    }
}

/// One item to check.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ChecklistItem {
    /// Key to answer it by.
    pub key: String,
    /// The question, Chinese.
    pub text_zh: String,
    /// The question, English.
    pub text_en: String,
    /// Look, listen, touch or ask.
    pub method: ChecklistMethod,
    /// Check, reading or text.
    pub kind: ItemKind,
    /// Unit of a reading.
    pub unit: Option<String>,
    /// Lowest normal reading.
    pub normal_min: Option<f64>,
    /// Highest normal reading.
    pub normal_max: Option<f64>,
    /// A fault needs a photo.
    pub photo_on_fault: bool,
    /// What to do on the spot, Chinese.
    pub hint_zh: Option<String>,
}

impl From<&patrol_core::checklist::ChecklistItem> for ChecklistItem {
    fn from(i: &patrol_core::checklist::ChecklistItem) -> Self {
        use patrol_core::checklist::ItemKind as K;
        let (unit, normal_min, normal_max) = match &i.kind {
            K::Reading {
                unit,
                normal_min,
                normal_max,
            } => (Some(unit.clone()), *normal_min, *normal_max),
            K::Check | K::Text => (None, None, None),
        };
        ChecklistItem {
            key: i.key.clone(),
            text_zh: i.text.zh.clone(),
            text_en: i.text.en.clone(),
            method: i.method.into(),
            kind: (&i.kind).into(),
            unit,
            normal_min,
            normal_max,
            photo_on_fault: i.photo_on_fault,
            hint_zh: i.hint.as_ref().map(|h| h.zh.clone()),
        }
    }
}

/// What a scan found.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Scan {
    /// The new visit.
    pub visit_id: String,
    /// Scanned, or entered by hand.
    pub method: VisitMethod,
    /// The checkpoint.
    pub checkpoint_id: String,
    /// Its name.
    pub checkpoint_name: String,
    /// Its zone's name.
    pub zone_name: String,
    /// Plausibility flags raised (never blocking).
    pub flags: Vec<ScanFlag>,
    /// The checklist.
    pub items: Vec<ChecklistItem>,
}

impl From<patrol_core::engine::ScanResult> for Scan {
    fn from(s: patrol_core::engine::ScanResult) -> Self {
        Scan {
            visit_id: s.visit_id.to_string(),
            method: s.method.into(),
            checkpoint_id: s.checkpoint.id.to_string(),
            checkpoint_name: s.checkpoint.name,
            zone_name: s.zone.name,
            flags: s.flags.iter().map(ScanFlag::from).collect(),
            items: s.template.items.iter().map(ChecklistItem::from).collect(),
        }
    }
}

/// A problem to report.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ReportInput {
    /// Site id; taken from the visit when there is one.
    pub site_id: Option<String>,
    /// The visit it was found on.
    pub visit_id: Option<String>,
    /// The checklist item that failed.
    pub item_key: Option<String>,
    /// Category; defaults to the item's.
    pub category: Option<IssueCategory>,
    /// Severity; defaults to the item's.
    pub severity: Option<Severity>,
    /// Short title.
    pub title: String,
    /// Description.
    pub note: Option<String>,
    /// Photo ids from `add_photo`.
    pub photos: Vec<String>,
    /// Fixed on the spot.
    pub fixed_on_spot: bool,
}

impl TryFrom<ReportInput> for ReportDraft {
    type Error = PatrolError;

    fn try_from(r: ReportInput) -> Result<Self, PatrolError> {
        Ok(ReportDraft {
            site_id: r.site_id.as_deref().map(|s| id("site", s)).transpose()?,
            visit_id: r.visit_id.as_deref().map(|s| id("visit", s)).transpose()?,
            item_key: r.item_key,
            // The engine finds the zone from the visit; a phone reports what a patrol saw (desk
            // intake is the web console's).
            zone_id: None,
            category: r.category.map(Into::into),
            severity: r.severity.map(Into::into),
            title: r.title,
            note: r.note,
            photos: r.photos,
            fixed_on_spot: r.fixed_on_spot,
            source: Source::Patrol,
        })
    }
}

/// An issue as lists show it.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Issue {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Where it is in its life.
    pub status: IssueStatus,
    /// Category.
    pub category: IssueCategory,
    /// Severity.
    pub severity: Severity,
    /// Team whose queue it is in.
    pub team: Team,
    /// Due time, RFC 3339.
    pub due_at: String,
    /// Assignee id.
    pub assignee_id: Option<String>,
    /// Reporter id.
    pub reported_by: String,
    /// Against its due time by the phone's clock; none once closed.
    pub sla: Option<SlaState>,
}

/// An alert raised by the server, as the phone keeps it.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Alert {
    /// Id.
    pub id: String,
    /// Site id.
    pub site_id: String,
    /// What it is about.
    pub kind: AlertKind,
    /// The issue, for issue alerts.
    pub issue_id: Option<String>,
    /// The route, for round alerts.
    pub route_id: Option<String>,
    /// The round, for an incomplete round.
    pub run_id: Option<String>,
    /// The scheduled start of a missed round, RFC 3339.
    pub slot_at: Option<String>,
    /// When it was raised, RFC 3339.
    pub raised_at: String,
    /// What it says, Chinese.
    pub text_zh: String,
    /// What it says, English.
    pub text_en: String,
    /// Who acknowledged it (user id).
    pub acked_by: Option<String>,
    /// When, RFC 3339.
    pub acked_at: Option<String>,
    /// Their note.
    pub note: Option<String>,
}

impl From<patrol_core::alert::Alert> for Alert {
    fn from(a: patrol_core::alert::Alert) -> Self {
        fn text(t: Option<impl ToString>) -> Option<String> {
            t.map(|t| t.to_string())
        }
        Alert {
            id: a.id.to_string(),
            site_id: a.site_id.to_string(),
            kind: a.kind.into(),
            issue_id: a.issue_id.map(|i| i.to_string()),
            route_id: a.route_id.map(|r| r.to_string()),
            run_id: a.run_id.map(|r| r.to_string()),
            slot_at: text(a.slot_at),
            raised_at: a.raised_at.to_string(),
            text_zh: a.text_zh,
            text_en: a.text_en,
            acked_by: a.acked_by.map(|u| u.to_string()),
            acked_at: text(a.acked_at),
            note: a.note,
        }
    }
}

/// How far a round has got.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Progress {
    /// Checkpoints on the route.
    pub total: u32,
    /// Visited.
    pub visited: u32,
    /// Not yet visited, in walking order.
    pub remaining: Vec<Place>,
    /// Items answered.
    pub answered: u32,
    /// Of which faults.
    pub faults: u32,
}

impl From<patrol_core::engine::Progress> for Progress {
    fn from(p: patrol_core::engine::Progress) -> Self {
        Progress {
            total: p.total,
            visited: p.visited,
            remaining: p.remaining.iter().map(Place::from).collect(),
            answered: p.answered,
            faults: p.faults,
        }
    }
}

/// A checkpoint as a list shows it.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Place {
    /// Checkpoint id.
    pub checkpoint_id: String,
    /// Its name.
    pub name: String,
}

impl From<&patrol_core::site::Checkpoint> for Place {
    fn from(c: &patrol_core::site::Checkpoint) -> Self {
        Place {
            checkpoint_id: c.id.to_string(),
            name: c.name.clone(),
        }
    }
}

/// A skipped checkpoint and why.
#[derive(Debug, Clone, uniffi::Record)]
pub struct MissedReason {
    /// Checkpoint id.
    pub checkpoint_id: String,
    /// Why it was not visited.
    pub reason: String,
}

impl TryFrom<MissedReason> for Missed {
    type Error = PatrolError;

    fn try_from(m: MissedReason) -> Result<Self, PatrolError> {
        Ok(Missed {
            checkpoint_id: id("checkpoint", &m.checkpoint_id)?,
            reason: m.reason,
        })
    }
}

/// Someone to hand a job to.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Person {
    /// User id.
    pub user_id: String,
    /// Name shown to others.
    pub display_name: String,
    /// What they do.
    pub role: Role,
    /// Team, if any.
    pub team: Option<Team>,
}

impl From<patrol_core::user::User> for Person {
    fn from(u: patrol_core::user::User) -> Self {
        Person {
            user_id: u.id.to_string(),
            display_name: u.display_name,
            role: u.role.into(),
            team: u.team.map(Into::into),
        }
    }
}

/// Something the server refused for good, for the user to see.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Rejection {
    /// Its number, to dismiss it by.
    pub seq: u64,
    /// The op kind (`issue.report`, `patrol.result`…).
    pub kind: String,
    /// Machine-readable reason (the rule's code).
    pub code: String,
    /// For people.
    pub message: String,
}

impl From<patrol_core::engine::Rejection> for Rejection {
    fn from(r: patrol_core::engine::Rejection) -> Self {
        Rejection {
            seq: r.seq,
            kind: r.kind,
            code: r.code,
            message: r.message,
        }
    }
}

/// What waits for the server.
#[derive(Debug, Clone, Copy, uniffi::Record)]
pub struct Pending {
    /// Operations.
    pub ops: u64,
    /// Photos.
    pub photos: u64,
    /// Refused for good, to be seen.
    pub rejected: u64,
}

impl From<patrol_core::engine::PendingCounts> for Pending {
    fn from(p: patrol_core::engine::PendingCounts) -> Self {
        Pending {
            ops: p.ops,
            photos: p.photos,
            rejected: p.rejected,
        }
    }
}

/// What a sync did.
#[derive(Debug, Clone, Copy, uniffi::Record)]
pub struct SyncSummary {
    /// Photos uploaded.
    pub photos: u64,
    /// Ops applied.
    pub applied: u64,
    /// Ops the server had already.
    pub duplicates: u64,
    /// Ops refused for good.
    pub rejected: u64,
    /// Changes received.
    pub pulled: u64,
}

impl From<patrol_core::sync::SyncReport> for SyncSummary {
    fn from(r: patrol_core::sync::SyncReport) -> Self {
        SyncSummary {
            photos: r.photos,
            applied: r.applied,
            duplicates: r.duplicates,
            rejected: r.rejected,
            pulled: r.pulled,
        }
    }
}

/// Where a sync is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SyncPhase {
    /// Uploading photos.
    Photos,
    /// Sending operations.
    Ops,
    /// Receiving changes.
    Pull,
}

/// Hears a sync's progress (from the sync's thread).
#[uniffi::export(callback_interface)]
pub trait SyncListener: Send + Sync {
    /// `done` of `total` in `phase` (for pulls, `total` is 0: unknown).
    fn on_progress(&self, phase: SyncPhase, done: u64, total: u64);
}

/// Tell the listener where the sync is, in its terms.
fn report_stage(listener: &dyn SyncListener, stage: SyncStage) {
    match stage {
        SyncStage::Photos { done, total } => listener.on_progress(SyncPhase::Photos, done, total),
        SyncStage::Ops { done, total } => listener.on_progress(SyncPhase::Ops, done, total),
        SyncStage::Pull { received } => listener.on_progress(SyncPhase::Pull, received, 0),
    }
}

/// Stops a running sync from another thread.
#[derive(Debug, Default, uniffi::Object)]
pub struct SyncCancel {
    token: CancelToken,
}

#[uniffi::export]
impl SyncCancel {
    /// A new handle, not cancelled.
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(SyncCancel::default())
    }

    /// Stop the sync at its next step; what it finished stays done.
    pub fn cancel(&self) {
        self.token.cancel();
    }
}

/// The phone's patrol engine and its server.
#[derive(uniffi::Object)]
pub struct PatrolApp {
    engine: Engine,
    client: SyncClient,
}

type R<T> = Result<T, PatrolError>;

impl PatrolApp {
    /// An issue as the lists show it, its SLA state by the engine's clock.
    fn issue(&self, i: &patrol_core::issue::Issue) -> Issue {
        Issue {
            id: i.id.to_string(),
            title: i.title.clone(),
            status: i.status.into(),
            category: i.category.into(),
            severity: i.severity.into(),
            team: i.team.into(),
            due_at: i.due_at.to_string(),
            assignee_id: i.assignee_id.map(|a| a.to_string()),
            reported_by: i.reported_by.to_string(),
            sla: self.engine.sla_state(i).map(Into::into),
        }
    }
}

#[uniffi::export]
impl PatrolApp {
    /// Open the engine on a database file (photos go in a folder beside it).
    #[uniffi::constructor]
    pub fn open(db_path: String, server_url: String) -> R<Arc<Self>> {
        Ok(Arc::new(PatrolApp {
            engine: Engine::open(&PathBuf::from(db_path))?,
            client: SyncClient::new(&server_url),
        }))
    }

    /// Sign in (needs the network once; then the phone works offline).
    pub fn login(&self, username: String, password: String) -> R<Session> {
        Ok((&self.client.login(&self.engine, &username, &password)?).into())
    }

    /// Who is signed in.
    pub fn session(&self) -> R<Option<Session>> {
        Ok(self.engine.session()?.as_ref().map(Session::from))
    }

    /// Sign out; work not yet sent stays queued for the next sync of the same user.
    pub fn sign_out(&self) -> R<()> {
        Ok(self.engine.clear_session()?)
    }

    /// Sync now: photos, then ops, then pulls.
    pub fn sync_now(
        &self,
        listener: Box<dyn SyncListener>,
        cancel: Arc<SyncCancel>,
    ) -> R<SyncSummary> {
        let progress = |stage| report_stage(listener.as_ref(), stage);
        Ok(self
            .client
            .sync(&self.engine, &progress, &cancel.token)?
            .into())
    }

    /// What waits for the server.
    pub fn pending(&self) -> R<Pending> {
        Ok(self.engine.pending_counts()?.into())
    }

    /// What the server refused for good, oldest first.
    pub fn rejections(&self) -> R<Vec<Rejection>> {
        Ok(self
            .engine
            .rejections()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// The user has seen a refusal.
    pub fn dismiss_rejection(&self, seq: u64) -> R<()> {
        Ok(self.engine.dismiss_rejection(seq)?)
    }

    /// Today's routes for the signed-in user.
    pub fn routes_today(&self) -> R<Vec<RouteToday>> {
        Ok(self
            .engine
            .routes_today()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Start a round; returns its id.
    pub fn start_round(&self, route_id: String) -> R<String> {
        Ok(self
            .engine
            .start_round(id("route", &route_id)?)?
            .to_string())
    }

    /// Scan a label during a round.
    pub fn scan(&self, run_id: String, token: String) -> R<Scan> {
        Ok(self.engine.scan(id("round", &run_id)?, &token)?.into())
    }

    /// Record a visit without a scan, with the reason.
    pub fn visit_manually(&self, run_id: String, checkpoint_id: String, reason: String) -> R<Scan> {
        let checkpoint = id("checkpoint", &checkpoint_id)?;
        Ok(self
            .engine
            .visit_manually(id("round", &run_id)?, checkpoint, &reason)?
            .into())
    }

    /// Answer an item; returns the judged outcome.
    pub fn answer(
        &self,
        visit_id: String,
        item_key: String,
        outcome: Option<Outcome>,
        reading: Option<f64>,
        note: Option<String>,
        photos: Vec<String>,
    ) -> R<Outcome> {
        let outcome = outcome.map(Into::into);
        let answer = Answer {
            outcome,
            reading,
            note,
            photos,
        };
        Ok(self
            .engine
            .answer(id("visit", &visit_id)?, &item_key, answer)?
            .outcome
            .into())
    }

    /// Keep a camera picture (JPEG; a PNG such as a signature is read too); returns its
    /// photo id.
    pub fn add_photo(&self, jpeg: Vec<u8>) -> R<String> {
        Ok(self.engine.add_photo(&jpeg)?)
    }

    /// The file of a kept photo, to show it (`thumbnail` for lists).
    pub fn photo_path(&self, photo_id: String, thumbnail: bool) -> R<String> {
        let path = self.engine.photo_file(&photo_id, thumbnail)?;
        Ok(path.to_string_lossy().into_owned())
    }

    /// Report a problem (or one fixed on the spot).
    pub fn report(&self, input: ReportInput) -> R<Issue> {
        Ok(self.issue(&self.engine.report(input.try_into()?)?))
    }

    /// How far a round has got.
    pub fn progress(&self, run_id: String) -> R<Progress> {
        Ok(self.engine.progress(id("round", &run_id)?)?.into())
    }

    /// Finish a round; `missed_reasons` pairs each unvisited checkpoint id with its reason.
    pub fn finish_round(&self, run_id: String, missed_reasons: Vec<MissedReason>) -> R<()> {
        let missed = missed_reasons
            .into_iter()
            .map(Missed::try_from)
            .collect::<R<_>>()?;
        self.engine.finish_round(id("round", &run_id)?, missed)?;
        Ok(())
    }

    /// My jobs (technicians) or my sites' open issues (supervisors, managers), by due time.
    pub fn jobs(&self) -> R<Vec<Issue>> {
        Ok(self
            .engine
            .jobs(JobsScope::Mine)?
            .iter()
            .map(|i| self.issue(i))
            .collect())
    }

    /// The people of the signed-in user's sites, optionally of one team (whom to assign to).
    pub fn people(&self, team: Option<Team>) -> R<Vec<Person>> {
        Ok(self
            .engine
            .people(team.map(Into::into))?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Assign an issue to a person of its team.
    pub fn assign(&self, issue_id: String, assignee_id: String) -> R<Issue> {
        let issue = self
            .engine
            .assign(id("issue", &issue_id)?, id("user", &assignee_id)?)?;
        Ok(self.issue(&issue))
    }

    /// Start a job.
    pub fn start_job(&self, issue_id: String) -> R<Issue> {
        Ok(self.issue(&self.engine.start_job(id("issue", &issue_id)?)?))
    }

    /// Report a fix with a note and photos.
    pub fn resolve_job(
        &self,
        issue_id: String,
        note: Option<String>,
        photos: Vec<String>,
    ) -> R<Issue> {
        let issue = self
            .engine
            .resolve_job(id("issue", &issue_id)?, note, photos)?;
        Ok(self.issue(&issue))
    }

    /// Verify a fix on site: accept with a signature photo id, or reject with a reason; with
    /// the photos taken there (photo ids), which go into the signed record.
    pub fn verify(
        &self,
        issue_id: String,
        accepted: bool,
        note: Option<String>,
        signature: Option<String>,
        photos: Vec<String>,
    ) -> R<Issue> {
        let issue_id = id("issue", &issue_id)?;
        let issue = self
            .engine
            .verify(issue_id, accepted, note, signature, photos)?;
        Ok(self.issue(&issue))
    }

    /// Ask for more time (`due_at` RFC 3339).
    pub fn request_extension(&self, issue_id: String, reason: String, due_at: String) -> R<Issue> {
        let due = due_at.parse().map_err(|_| bad_input("time", &due_at))?;
        let issue = self
            .engine
            .request_extension(id("issue", &issue_id)?, reason, due)?;
        Ok(self.issue(&issue))
    }

    /// Approve or deny the waiting extension (managers).
    pub fn decide_extension(
        &self,
        issue_id: String,
        approved: bool,
        note: Option<String>,
    ) -> R<Issue> {
        let issue = self
            .engine
            .decide_extension(id("issue", &issue_id)?, approved, note)?;
        Ok(self.issue(&issue))
    }

    /// The open alerts pulled for the signed-in user, newest first.
    pub fn alerts(&self) -> R<Vec<Alert>> {
        Ok(self.engine.alerts()?.into_iter().map(Into::into).collect())
    }

    /// Acknowledge an alert with a note (who attended, what was done); it goes on the next sync.
    pub fn ack_alert(&self, alert_id: String, note: String) -> R<Alert> {
        Ok(self
            .engine
            .ack_alert(id("alert", &alert_id)?, &note)?
            .into())
    }
}
