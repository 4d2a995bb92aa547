//! Server storage: one trait, one implementation per database (DESIGN.md §2). The rules stay out
//! of here: the sync layer decides what an op does (with core's state machine) and the store
//! applies that decision atomically, exactly once per `op_id`.

#[cfg(test)]
mod conformance;
mod postgres;
mod sql;
mod sqlite;

use async_trait::async_trait;
use jiff::Timestamp;
use patrol_core::audit::AuditEntry;
use patrol_core::checklist::Template;
use patrol_core::ids::{DeviceId, IssueId, OpId, RunId, SiteId, UserId, VisitId};
use patrol_core::issue::{Issue, Status};
use patrol_core::patrol::{ItemResult, PatrolRun, Visit};
use patrol_core::route::Route;
use patrol_core::routing::Team;
use patrol_core::site::{Checkpoint, Site, Zone};
use patrol_core::user::User;
use patrol_core::wire::Change;

pub use self::postgres::PgStore;

fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    Ok(serde_json::to_string(v)?)
}

fn parse<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    Ok(serde_json::from_str(s)?)
}

/// Milliseconds since the epoch, for columns that order by time.
fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}
pub use self::sqlite::SqliteStore;

/// A storage failure. Its text is for logs only; responses never carry it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// Migrations failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Stored JSON does not read back.
    #[error("stored data: {0}")]
    Json(#[from] serde_json::Error),
    /// A unique name is taken.
    #[error("already exists: {0}")]
    Conflict(String),
}

/// Store result.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Who sent an op, from where, when.
#[derive(Debug, Clone)]
pub struct OpMeta {
    /// The op.
    pub op_id: OpId,
    /// The device.
    pub device_id: DeviceId,
    /// Its place in the device's sequence.
    pub seq: u64,
    /// The op kind.
    pub kind: String,
    /// The signed-in user who sent it.
    pub user_id: UserId,
    /// The device's own time of the op.
    pub device_at: Timestamp,
    /// When the server received it.
    pub server_at: Timestamp,
}

/// What an op needs to see of the current state, loaded (and locked) inside its transaction.
#[derive(Debug, Clone, Copy, Default)]
pub struct Keys {
    /// The issue it acts on.
    pub issue: Option<IssueId>,
    /// The round it belongs to.
    pub run: Option<RunId>,
    /// The visit it belongs to.
    pub visit: Option<VisitId>,
}

/// The current state an op is decided on.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The issue, if asked for and present.
    pub issue: Option<Issue>,
    /// The round, if asked for and present.
    pub run: Option<PatrolRun>,
    /// The visit, if asked for and present.
    pub visit: Option<Visit>,
}

/// A row to write.
#[derive(Debug, Clone)]
pub enum Write {
    /// Insert or replace an issue.
    Issue(Issue),
    /// Append to an audit trail.
    Audit(AuditEntry),
    /// Insert or replace a round.
    Run(PatrolRun),
    /// Insert a visit.
    Visit(Visit),
    /// Insert or replace the answer to an item at a visit.
    Result(ItemResult),
}

/// What the rules decided about an op.
#[derive(Debug, Clone)]
pub enum Decision {
    /// Apply these writes.
    Apply(Vec<Write>),
    /// Refuse it for good.
    Reject {
        /// Machine-readable reason.
        code: String,
        /// For people, Chinese then English.
        message: String,
    },
}

/// What became of an op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpOutcome {
    /// Applied now.
    Applied,
    /// Seen before; nothing changed.
    Duplicate,
    /// Refused for good.
    Rejected {
        /// Machine-readable reason.
        code: String,
        /// For people.
        message: String,
    },
}

/// The decision function an op is applied with.
pub type Decide<'a> = &'a (dyn Fn(&Snapshot) -> Decision + Send + Sync);

/// A user as the server keeps them.
#[derive(Debug, Clone)]
pub struct Account {
    /// The user.
    pub user: User,
    /// Argon2 PHC string.
    pub password_hash: String,
}

/// Filters of the queue (`GET /api/v1/issues`).
#[derive(Debug, Clone, Default)]
pub struct IssueFilter {
    /// Sites to include (the caller's, narrowed by `?site=`).
    pub sites: Vec<SiteId>,
    /// Status.
    pub status: Option<Status>,
    /// Team.
    pub team: Option<Team>,
    /// Assignee.
    pub assignee: Option<UserId>,
    /// Due before this time.
    pub due_before: Option<Timestamp>,
    /// Only active issues past due at this time.
    pub overdue_at: Option<Timestamp>,
}

/// Who is pulling, to decide what they may see.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// Their sites.
    pub sites: Vec<SiteId>,
    /// For technicians, the team whose jobs they see; `None` sees every issue of their sites.
    pub team_only: Option<Team>,
}

/// A page of changes for a device.
#[derive(Debug, Clone)]
pub struct ChangePage {
    /// The changes, oldest first.
    pub changes: Vec<Change>,
    /// Where the next pull starts.
    pub cursor: i64,
    /// Whether more follow.
    pub more: bool,
}

/// Everything the server stores.
#[async_trait]
pub trait Store: Send + Sync {
    /// Bring the schema up to date.
    async fn migrate(&self) -> Result<()>;

    /// A named server secret, made with `make` the first time it is asked for (the JWT key:
    /// every server process on one database shares it).
    async fn secret(&self, name: &str, make: &(dyn Fn() -> String + Send + Sync))
    -> Result<String>;

    /// Add or update a site with its label-signing secret.
    async fn put_site(&self, site: &Site, signing_key: &str) -> Result<()>;
    /// A site by id.
    async fn site(&self, id: SiteId) -> Result<Option<Site>>;
    /// A site by its code.
    async fn site_by_code(&self, code: &str) -> Result<Option<Site>>;
    /// A site's label-signing secret.
    async fn site_signing_key(&self, id: SiteId) -> Result<Option<String>>;
    /// Every site.
    async fn sites(&self) -> Result<Vec<Site>>;
    /// Add or update a zone.
    async fn put_zone(&self, zone: &Zone) -> Result<()>;
    /// Add or update a checkpoint.
    async fn put_checkpoint(&self, checkpoint: &Checkpoint) -> Result<()>;
    /// A site's checkpoints.
    async fn checkpoints(&self, site: SiteId) -> Result<Vec<Checkpoint>>;
    /// A checkpoint.
    async fn checkpoint(&self, id: patrol_core::ids::CheckpointId) -> Result<Option<Checkpoint>>;
    /// A zone.
    async fn zone(&self, id: patrol_core::ids::ZoneId) -> Result<Option<Zone>>;
    /// Add or update a route.
    async fn put_route(&self, route: &Route) -> Result<()>;
    /// A route.
    async fn route(&self, id: patrol_core::ids::RouteId) -> Result<Option<Route>>;
    /// Add or update a checklist template.
    async fn put_template(&self, template: &Template) -> Result<()>;

    /// Add a user; a taken username is a conflict.
    async fn add_user(&self, user: &User, password_hash: &str) -> Result<()>;
    /// A user with their password hash, by login name.
    async fn account(&self, username: &str) -> Result<Option<Account>>;
    /// A user.
    async fn user(&self, id: UserId) -> Result<Option<User>>;

    /// Keep a new refresh token (its hash).
    async fn add_refresh_token(
        &self,
        hash: &str,
        user: UserId,
        expires_at: Timestamp,
    ) -> Result<()>;
    /// Use a refresh token once: its user if it was valid. A token used twice is a stolen
    /// token: every token of that user is revoked.
    async fn use_refresh_token(&self, hash: &str, now: Timestamp) -> Result<Option<UserId>>;
    /// Revoke every refresh token of a user.
    async fn revoke_refresh_tokens(&self, user: UserId) -> Result<()>;

    /// Record that a device was heard from, with its clock offset.
    async fn touch_device(
        &self,
        device: DeviceId,
        user: UserId,
        offset_ms: i64,
        now: Timestamp,
    ) -> Result<()>;
    /// Apply an op exactly once: a repeated `op_id` is a duplicate; otherwise the state named
    /// by `keys` is loaded inside one transaction, `decide` says what to do, and the writes, the
    /// op record and the change feed are committed together.
    async fn apply_op(&self, meta: &OpMeta, keys: Keys, decide: Decide<'_>) -> Result<OpOutcome>;
    /// Apply a server-side transition (an escalation) if the issue is still as `decide` expects.
    async fn apply_system(&self, issue: IssueId, decide: Decide<'_>) -> Result<bool>;

    /// An issue.
    async fn issue(&self, id: IssueId) -> Result<Option<Issue>>;
    /// The queue: issues matching the filter, by due time.
    async fn issues(&self, filter: &IssueFilter) -> Result<Vec<Issue>>;
    /// An issue's audit trail, oldest first.
    async fn audit(&self, issue: IssueId) -> Result<Vec<AuditEntry>>;
    /// Active issues across all sites (for escalation).
    async fn active_issues(&self) -> Result<Vec<Issue>>;

    /// Whether a blob is stored.
    async fn has_blob(&self, sha256: &str) -> Result<bool>;
    /// Record a stored blob.
    async fn add_blob(&self, sha256: &str, bytes: u64, now: Timestamp) -> Result<bool>;

    /// Changes after `cursor` this viewer may see, at most `limit`.
    async fn changes(&self, viewer: &Viewer, cursor: i64, limit: u32) -> Result<ChangePage>;
}
