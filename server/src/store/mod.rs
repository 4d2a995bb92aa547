//! Server storage: one trait, one implementation per database (DESIGN.md §2). The rules stay out
//! of here: the sync layer decides what an op does (with core's state machine) and the store
//! applies that decision atomically, exactly once per `op_id`.

#[cfg(test)]
mod alert_tests;
mod alerts;
mod archive;
#[cfg(test)]
mod conformance;
mod evidence;
#[cfg(test)]
mod evidence_tests;
mod notify;
#[cfg(test)]
mod notify_tests;
mod postgres;
mod reference;
mod sql;
mod sqlite;

use std::collections::HashMap;

use async_trait::async_trait;
use jiff::Timestamp;
use patrol_core::audit::AuditEntry;
use patrol_core::blob::BlobInfo;
use patrol_core::checklist::Template;
use patrol_core::ids::{DeviceId, IssueId, OpId, RunId, SiteId, UserId, VisitId};
use patrol_core::issue::{Issue, Status};
use patrol_core::lifecycle::Visibility;
use patrol_core::patrol::{ItemResult, PatrolRun, Visit};
use patrol_core::route::Route;
use patrol_core::site::{Checkpoint, Site, Zone, ZoneKind};
use patrol_core::team::Team;
use patrol_core::user::User;
use patrol_core::wire::{Change, QueueCursor};

pub use self::alerts::AlertStore;
pub use self::archive::{ArchiveFile, ArchivedMonth, PatrolRecords, Purge, RecordCounts};
pub use self::evidence::{AuditCheck, EvidenceKey};
pub use self::notify::NotifyStore;
pub use self::postgres::PgStore;
pub use self::reference::{Reference, ReferenceCache};

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
    /// The SQLite file failed, on a statement run straight on its handle
    /// (`sqlite::on_handle`).
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Migrations failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Stored JSON does not read back.
    #[error("stored data: {0}")]
    Json(#[from] serde_json::Error),
    /// A unique name is taken.
    #[error("already exists: {0}")]
    Conflict(String),
    /// The commit a push shared with the pushes beside it failed (SQLite's group commit):
    /// none of them was stored.
    #[error("database: the shared commit failed: {0}")]
    SharedCommit(String),
    /// Evidence could not be hashed or signed.
    #[error("evidence: {0}")]
    Evidence(#[from] patrol_core::evidence::EvidenceError),
}

impl StoreError {
    /// Whether the database refused a row for a unique key another row holds.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            StoreError::Db(sqlx::Error::Database(d)) => d.is_unique_violation(),
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.extended_code,
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            ),
            _ => false,
        }
    }
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
    /// The round it belongs to (for an op on a visit, the visit's round is loaded).
    pub run: Option<RunId>,
    /// The visit it belongs to.
    pub visit: Option<VisitId>,
    /// The visit is one the op makes. In a push's ops taken as new
    /// ([`Store::begin_push`]) it is then not looked up: a reused visit id meets the visits'
    /// unique key when they are inserted, and the push is applied again op by op, which
    /// looks it up.
    pub makes_visit: bool,
    /// Also load every visit of the round.
    pub run_visits: bool,
    /// The alert it acknowledges.
    pub alert: Option<patrol_core::ids::AlertId>,
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
    /// The round's visits in the order they were made, if asked for.
    pub visits: Vec<Visit>,
    /// The alert, if asked for and present.
    pub alert: Option<patrol_core::alert::Alert>,
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
    /// Raise an alert not raised before (by its once key), or store its acknowledgement.
    Alert(patrol_core::alert::Alert),
}

/// A refusal for good: a machine-readable code and its words for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Machine-readable reason.
    pub code: String,
    /// For people, Chinese then English.
    pub message: String,
}

impl Refusal {
    /// A refusal.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Refusal {
        Refusal {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// What the rules decided about an op.
#[derive(Debug, Clone)]
pub enum Decision {
    /// Apply these writes.
    Apply(Vec<Write>),
    /// Refuse it for good.
    Reject(Refusal),
}

/// What became of an op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpOutcome {
    /// Applied now.
    Applied,
    /// Seen before; nothing changed. Carries the refusal if it was refused then.
    Duplicate(Option<Refusal>),
    /// Refused for good.
    Rejected(Refusal),
    /// An earlier op of the device has not been processed: nothing was done.
    OutOfOrder {
        /// The `seq` the device must send next.
        expected: u64,
    },
}

/// The refusal of an op whose writes met an existing row of another record (a reused id).
pub fn conflict() -> Refusal {
    Refusal::new(
        "conflict",
        "与已有记录冲突（编号重复）/ conflicts with an existing record (a reused id)",
    )
}

/// A device heard from: who uses it, its clock's offset (server minus device), and when.
#[derive(Debug, Clone, Copy)]
pub struct Heard {
    /// The device.
    pub device: DeviceId,
    /// Its user.
    pub user: UserId,
    /// Server clock minus device clock, in milliseconds.
    pub offset_ms: i64,
    /// When, by the server's clock.
    pub at: Timestamp,
}

/// The decision function an op is applied with.
pub type Decide<'a> = &'a (dyn Fn(&Snapshot) -> Decision + Send + Sync);

/// Ops applied in one write transaction: a push's ops, each answered on its own, committed
/// together with one sync to disk (group commit). Dropped without [`OpBatch::commit`], none of
/// them happened.
#[async_trait]
pub trait OpBatch: Send {
    /// As [`Store::apply_op`], inside the batch.
    async fn apply_op(
        &mut self,
        meta: &OpMeta,
        keys: Keys,
        decide: Decide<'_>,
    ) -> Result<OpOutcome>;
    /// As [`Store::apply_op_next`], inside the batch.
    async fn apply_op_next(
        &mut self,
        meta: &OpMeta,
        keys: Keys,
        decide: Decide<'_>,
    ) -> Result<OpOutcome>;
    /// A round, read on the batch's own connection: what an op names is looked up with it
    /// before the op is decided (the op is decided on the round as it reads it then).
    async fn run(&mut self, id: RunId) -> Result<Option<PatrolRun>>;
    /// A visit, read as [`OpBatch::run`] reads a round.
    async fn visit(&mut self, id: VisitId) -> Result<Option<Visit>>;
    /// Commit every op of the batch.
    async fn commit(self: Box<Self>) -> Result<()>;
}

/// Background work that runs in one server process at a time (DESIGN.md §8, §13); every
/// piece is safe to repeat, so a tick skipped while another process holds it loses nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Escalation of due-soon and overdue issues.
    Escalation,
    /// The alert pass (missed rounds, overdue issues).
    Alerts,
    /// The monthly archive and the retention purge that follows it.
    Archive,
    /// Delivery of notifications from their outbox.
    Notifications,
}

impl Job {
    /// Its name, in its lock and in logs.
    pub fn name(self) -> &'static str {
        match self {
            Job::Escalation => "escalation",
            Job::Alerts => "alerts",
            Job::Archive => "archive",
            Job::Notifications => "notifications",
        }
    }
}

/// A background job's lock, held until dropped. On PostgreSQL a session advisory lock on a
/// connection of its own, which is closed (and the lock with it) when this is dropped.
pub struct JobLock {
    _session: Option<sqlx::pool::PoolConnection<sqlx::Postgres>>,
}

/// A user as the server keeps them.
#[derive(Debug, Clone)]
pub struct Account {
    /// The user.
    pub user: User,
    /// Argon2 PHC string.
    pub password_hash: String,
    /// An admin disabled the account: it may not sign in.
    pub disabled: bool,
}

/// One team's open issues, as the console's queue heads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TeamCount {
    /// The team.
    pub team: Team,
    /// Its issues not closed.
    pub open: u64,
    /// Of those, the ones past their due time.
    pub overdue: u64,
}

/// Filters of the queue (`GET /api/v1/issues`), inside what the caller may see.
#[derive(Debug, Clone)]
pub struct IssueFilter {
    /// What the caller may see (core's visibility rule).
    pub visibility: Visibility,
    /// Only this site.
    pub site: Option<SiteId>,
    /// Status.
    pub status: Option<Status>,
    /// Team.
    pub team: Option<Team>,
    /// Severity.
    pub severity: Option<patrol_core::issue::Severity>,
    /// Assignee.
    pub assignee: Option<UserId>,
    /// Due before this time.
    pub due_before: Option<Timestamp>,
    /// Only active issues past due at this time.
    pub overdue_at: Option<Timestamp>,
    /// Only issues not yet closed.
    pub active: bool,
}

impl IssueFilter {
    /// The sites it reads: the viewer's, narrowed to the one asked for.
    pub fn sites(&self) -> Vec<SiteId> {
        self.visibility
            .sites
            .iter()
            .copied()
            .filter(|s| self.site.is_none_or(|only| only == *s))
            .collect()
    }

    /// Everything the visibility allows.
    pub fn all(visibility: Visibility) -> IssueFilter {
        IssueFilter {
            visibility,
            site: None,
            status: None,
            team: None,
            severity: None,
            assignee: None,
            due_before: None,
            overdue_at: None,
            active: false,
        }
    }
}

/// A signed-in web console session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// SHA-256 of the token in the browser's cookie.
    pub token_hash: String,
    /// Who signed in.
    pub user_id: UserId,
    /// The form token every POST of the session carries.
    pub csrf: String,
    /// The device the session's actions are ops of.
    pub device_id: DeviceId,
    /// When it began.
    pub created_at: Timestamp,
    /// When it ends at the latest.
    pub expires_at: Timestamp,
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

/// Everything the server stores (alerts through [`AlertStore`], their delivery through
/// [`NotifyStore`]).
#[async_trait]
pub trait Store: AlertStore + NotifyStore + Send + Sync {
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
    /// The reference data (sites, zones, checkpoints, routes, checklists) as it stands now:
    /// one read of its generation, the rows from this process's cache of that generation.
    async fn reference(&self) -> Result<std::sync::Arc<Reference>>;
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
    /// A site's zones, by building, floor and name.
    async fn zones(&self, site: SiteId) -> Result<Vec<Zone>>;
    /// Add or update a route.
    async fn put_route(&self, route: &Route) -> Result<()>;
    /// A route.
    async fn route(&self, id: patrol_core::ids::RouteId) -> Result<Option<Route>>;
    /// A site's routes, by name.
    async fn routes(&self, site: SiteId) -> Result<Vec<Route>>;
    /// Add or update a checklist template.
    async fn put_template(&self, template: &Template) -> Result<()>;
    /// The newest checklist template for a kind of place, if the server has one.
    async fn template_for(&self, kind: ZoneKind) -> Result<Option<Template>>;

    /// Add a user; a taken username is a conflict.
    async fn add_user(&self, user: &User, password_hash: &str) -> Result<()>;
    /// A user with their password hash, by login name.
    async fn account(&self, username: &str) -> Result<Option<Account>>;
    /// A user.
    async fn user(&self, id: UserId) -> Result<Option<User>>;
    /// A user with their password hash, by id.
    async fn account_of(&self, id: UserId) -> Result<Option<Account>>;
    /// The people who work on a site, by username, each with whether they are disabled.
    async fn site_accounts(&self, site: SiteId) -> Result<Vec<(User, bool)>>;
    /// Disable or enable an account; disabling ends its refresh tokens and console sessions in
    /// the same transaction. False when there is no such user.
    async fn set_disabled(&self, user: UserId, disabled: bool) -> Result<bool>;
    /// Replace a password hash and end the user's refresh tokens and console sessions, in one
    /// transaction. False when there is no such user.
    async fn set_password(&self, user: UserId, password_hash: &str) -> Result<bool>;
    /// Let a user work on one more site (the admin who imported it). False when there is no
    /// such user.
    async fn add_user_site(&self, user: UserId, site: SiteId) -> Result<bool>;
    /// Store a site's new label key with every checkpoint re-signed, in one transaction, so
    /// that phones never pull a key without the tokens it signed (or the other way round).
    async fn rekey_site(
        &self,
        site: &Site,
        signing_key: &str,
        checkpoints: &[Checkpoint],
    ) -> Result<()>;

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
    /// Apply an op exactly once and in its device's order: a repeated `op_id` is a duplicate; an
    /// op at or below the device's last processed `seq` is refused (`stale_seq`); one past the
    /// next expected `seq` is out of order and changes nothing. Otherwise the state named by
    /// `keys` is loaded inside one transaction, `decide` says what to do, and the writes, the op
    /// record, the device's `seq` and the change feed are committed together. Writes that meet
    /// a unique key of another record refuse the op (`conflict`) instead of failing.
    async fn apply_op(&self, meta: &OpMeta, keys: Keys, decide: Decide<'_>) -> Result<OpOutcome>;
    /// As [`Store::apply_op`], the op numbered next in its device's sequence inside the
    /// transaction (`meta.seq` is ignored): for the server's own devices, the web console's
    /// sessions, whose actions are numbered where they are made.
    async fn apply_op_next(
        &self,
        meta: &OpMeta,
        keys: Keys,
        decide: Decide<'_>,
    ) -> Result<OpOutcome>;
    /// Take a background job's lock if no other process holds it; `None` when one does (the
    /// caller skips this tick). SQLite has one server process: always granted.
    async fn job_lock(&self, job: Job) -> Result<Option<JobLock>>;
    /// A write transaction for several ops (a push), applied with [`OpBatch::apply_op`] and
    /// committed at once. On SQLite it holds the write lock until it ends.
    async fn begin_ops(&self) -> Result<Box<dyn OpBatch + '_>>;
    /// A push's write transaction, as [`Store::begin_ops`] but faster for the rows a push is
    /// mostly made of (op records, visits, answers): those are held back and inserted
    /// together, and an op with its device's next `seq` is not looked up by id. An op id or a
    /// row id reused against an earlier record is then found only when the rows are inserted:
    /// the batch fails with a unique-key error ([`StoreError::is_unique_violation`]), nothing
    /// of it stays, and the caller applies the same ops again in [`Store::begin_ops`], which
    /// answers each of them on its own.
    /// The device is recorded as heard from ([`Store::touch_device`]) in the same transaction.
    /// The reference data the push was checked against serves its writes too.
    async fn begin_push(
        &self,
        heard: &Heard,
        reference: std::sync::Arc<Reference>,
    ) -> Result<Box<dyn OpBatch + '_>>;
    /// Apply a server-side transition (an escalation) if the issue is still as `decide` expects.
    async fn apply_system(&self, issue: IssueId, decide: Decide<'_>) -> Result<bool>;

    /// A round.
    async fn run(&self, id: RunId) -> Result<Option<PatrolRun>>;
    /// A visit.
    async fn visit(&self, id: VisitId) -> Result<Option<Visit>>;

    /// An issue.
    async fn issue(&self, id: IssueId) -> Result<Option<Issue>>;
    /// The queue: issues matching the filter in due-time order, at most `limit` after `after`.
    async fn issues(
        &self,
        filter: &IssueFilter,
        after: Option<QueueCursor>,
        limit: u32,
    ) -> Result<Vec<Issue>>;
    /// How many issues the filter's viewer may see are open (not closed), and how many of those
    /// are overdue at `now`, by team, every open issue counted (no page).
    async fn open_counts(&self, filter: &IssueFilter, now: Timestamp) -> Result<Vec<TeamCount>>;
    /// An issue's audit trail, oldest first.
    async fn audit(&self, issue: IssueId) -> Result<Vec<AuditEntry>>;

    /// An issue's evidence as DESIGN.md §12 exports it: the issue, its trail as stored, its
    /// sign-offs and every public key the server has signed with.
    async fn evidence(&self, issue: IssueId) -> Result<Option<patrol_core::evidence::Evidence>>;

    /// Check the hash chains, sign-offs and round seals as stored (one issue's trail and
    /// sign-offs when given; every issue and every round otherwise); stops at the first failure.
    async fn verify_audit(&self, issue: Option<IssueId>) -> Result<AuditCheck>;

    /// The server's evidence keys, oldest first.
    async fn evidence_keys(&self) -> Result<Vec<EvidenceKey>>;

    /// Replace the evidence signing key: the old one's secret is dropped, its public half kept.
    async fn rotate_evidence_key(&self) -> Result<EvidenceKey>;

    /// The seals of a site's rounds that started in `[from, to)`, with their records.
    async fn sealed_rounds(
        &self,
        site: SiteId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<patrol_core::evidence::SealedRound>>;
    /// Active issues across all sites (for escalation).
    async fn active_issues(&self) -> Result<Vec<Issue>>;

    /// Whether a blob is stored.
    async fn has_blob(&self, sha256: &str) -> Result<bool>;
    /// Which of these blobs are stored, with what their header said (`None` for blobs stored
    /// before the server kept that).
    async fn blobs(&self, sha256: &[String]) -> Result<HashMap<String, Option<BlobInfo>>>;
    /// Record a stored blob; whether it is new.
    async fn add_blob(
        &self,
        sha256: &str,
        bytes: u64,
        info: &BlobInfo,
        now: Timestamp,
    ) -> Result<bool>;

    /// Keep a new web console session.
    async fn add_console_session(&self, session: &ConsoleSession) -> Result<()>;
    /// A console session that has not ended, expired or been idle for `idle`; seen now.
    async fn console_session(
        &self,
        token_hash: &str,
        now: Timestamp,
        idle: jiff::SignedDuration,
    ) -> Result<Option<ConsoleSession>>;
    /// End a console session (sign-out).
    async fn end_console_session(&self, token_hash: &str) -> Result<()>;

    /// Changes after `cursor` that a person with this visibility may see, at most `limit`. An
    /// issue they may no longer see comes as gone.
    async fn changes(&self, visibility: &Visibility, cursor: i64, limit: u32)
    -> Result<ChangePage>;

    // ---- reports and archive ----
    /// The people who work on a site, by username.
    async fn site_users(&self, site: SiteId) -> Result<Vec<User>>;
    /// A site's rounds started in `[from, to)` with their visits and answers.
    async fn patrol_records(
        &self,
        site: SiteId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<PatrolRecords>;
    /// A site's issues found (`observed_at`) in `[from, to)`, in the order they were found,
    /// each with its audit trail, oldest first.
    async fn issues_found(
        &self,
        site: SiteId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<(Issue, Vec<AuditEntry>)>>;
    /// When a site's oldest stored round started.
    async fn first_round_at(&self, site: SiteId) -> Result<Option<Timestamp>>;
    /// How much a site stores of rounds started in `[from, to)`, with their visits and answers.
    async fn record_counts(
        &self,
        site: SiteId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<RecordCounts>;
    /// Record a month's archive as written, with its files: a month not recorded yet
    /// (`replaces` none), or a new version of the one recorded at version `replaces`. Files of
    /// earlier versions stay listed. False, and nothing recorded, when another process recorded
    /// the month first.
    async fn record_archive(
        &self,
        site: SiteId,
        month: &ArchivedMonth,
        replaces: Option<u32>,
    ) -> Result<bool>;
    /// A site's archive: every month recorded, oldest first, with its files.
    async fn archive(&self, site: SiteId) -> Result<Vec<ArchivedMonth>>;
    /// In one transaction, delete up to `limit` of a month's oldest rounds started before
    /// `before` with their visits and answers — only while the month's archive holds what is
    /// stored of it. Repeated until it purges nothing, it leaves the month as one call without
    /// a limit would.
    async fn purge_batch(
        &self,
        site: SiteId,
        month: patrol_core::report::Month,
        before: Timestamp,
        limit: u32,
    ) -> Result<Purge>;
}
