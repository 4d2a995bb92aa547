//! patrol-mobile: the phone apps' door into patrol-core, through uniffi (DESIGN.md §9). One
//! object, [`PatrolApp`], opens the offline engine on a database path and talks to one server;
//! each method is a few lines that call core. Ids cross as strings, times as RFC 3339 strings,
//! errors as one [`PatrolError`] whose messages are for people (Chinese, then English).
//!
//! Every method blocks: call it from a background thread.

use std::path::PathBuf;
use std::sync::Arc;

use patrol_core::checklist::{Answer, ItemKind};
use patrol_core::engine::{Engine, JobsScope, ReportDraft};
use patrol_core::issue::Source;
use patrol_core::patrol::Missed;
use patrol_core::sync::{CancelToken, SyncClient, SyncStage};
use serde::de::DeserializeOwned;

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
            E::Rule(_) | E::Answer(_) | E::Round(_) | E::Flow(_) | E::Photo(_) => {
                PatrolError::Refused(message)
            }
            E::NotSignedIn => PatrolError::SignedOut(message),
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

/// Read a wire name (`facility`, `urgent`…) as its enum.
fn wire<T: DeserializeOwned>(what: &str, s: &str) -> Result<T, PatrolError> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(|_| bad_input(what, s))
}

fn name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Who is signed in.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Session {
    /// User id.
    pub user_id: String,
    /// Login name.
    pub username: String,
    /// `patrol`, `technician`, `supervisor`, `manager` or `admin`.
    pub role: String,
    /// Team, for technicians.
    pub team: Option<String>,
    /// Site ids.
    pub sites: Vec<String>,
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

/// One item to check.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ChecklistItem {
    /// Key to answer it by.
    pub key: String,
    /// The question, Chinese.
    pub text_zh: String,
    /// The question, English.
    pub text_en: String,
    /// `look`, `listen`, `touch` or `ask`.
    pub method: String,
    /// `check`, `reading` or `text`.
    pub kind: String,
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

/// What a scan found.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Scan {
    /// The new visit.
    pub visit_id: String,
    /// The checkpoint.
    pub checkpoint_id: String,
    /// Its name.
    pub checkpoint_name: String,
    /// Its zone's name.
    pub zone_name: String,
    /// Plausibility flags raised (never blocking).
    pub flags: Vec<String>,
    /// The checklist.
    pub items: Vec<ChecklistItem>,
}

/// ok / fault / not applicable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Outcome {
    /// 正常.
    Ok,
    /// 故障.
    Fault,
    /// 不适用.
    Na,
}

impl From<Outcome> for patrol_core::patrol::Outcome {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Ok => Self::Ok,
            Outcome::Fault => Self::Fault,
            Outcome::Na => Self::Na,
        }
    }
}

impl From<patrol_core::patrol::Outcome> for Outcome {
    fn from(o: patrol_core::patrol::Outcome) -> Self {
        match o {
            patrol_core::patrol::Outcome::Ok => Self::Ok,
            patrol_core::patrol::Outcome::Fault => Self::Fault,
            patrol_core::patrol::Outcome::Na => Self::Na,
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
    /// Category (`facility`, `cleaning`…); defaults to the item's.
    pub category: Option<String>,
    /// Severity (`routine`, `major`, `urgent`); defaults to the item's.
    pub severity: Option<String>,
    /// Short title.
    pub title: String,
    /// Description.
    pub note: Option<String>,
    /// Photo ids from `add_photo`.
    pub photos: Vec<String>,
    /// Fixed on the spot.
    pub fixed_on_spot: bool,
}

/// An issue as lists show it.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Issue {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// `open`, `assigned`, `in_progress`, `resolved`, `closed`.
    pub status: String,
    /// Category.
    pub category: String,
    /// Severity.
    pub severity: String,
    /// Team whose queue it is in.
    pub team: String,
    /// Due time, RFC 3339.
    pub due_at: String,
    /// Assignee id.
    pub assignee_id: Option<String>,
    /// Reporter id.
    pub reported_by: String,
    /// `on_track`, `due_soon`, `overdue`; none once closed.
    pub sla: Option<String>,
}

impl From<&patrol_core::issue::Issue> for Issue {
    fn from(i: &patrol_core::issue::Issue) -> Self {
        Issue {
            id: i.id.to_string(),
            title: i.title.clone(),
            status: i.status.as_str().to_owned(),
            category: i.category.as_str().to_owned(),
            severity: i.severity.as_str().to_owned(),
            team: i.team.as_str().to_owned(),
            due_at: i.due_at.to_string(),
            assignee_id: i.assignee_id.map(|a| a.to_string()),
            reported_by: i.reported_by.to_string(),
            sla: patrol_core::sla::issue_state(i, jiff::Timestamp::now()).map(|s| name(&s)),
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

/// A checkpoint as a list shows it.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Place {
    /// Checkpoint id.
    pub checkpoint_id: String,
    /// Its name.
    pub name: String,
}

/// Someone to hand a job to.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Person {
    /// User id.
    pub user_id: String,
    /// Name shown to others.
    pub display_name: String,
    /// Role.
    pub role: String,
    /// Team, if any.
    pub team: Option<String>,
}

/// Something the server refused for good, for the user to see.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Rejection {
    /// Its number, to dismiss it by.
    pub seq: u64,
    /// What it was (`report`, `answer`…).
    pub kind: String,
    /// Machine-readable reason.
    pub code: String,
    /// For people.
    pub message: String,
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
        let user = self.client.login(&self.engine, &username, &password)?;
        Ok(session(&user))
    }

    /// Who is signed in.
    pub fn session(&self) -> R<Option<Session>> {
        Ok(self.engine.session()?.as_ref().map(session))
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
        let progress = |stage: SyncStage| match stage {
            SyncStage::Photos { done, total } => {
                listener.on_progress(SyncPhase::Photos, done, total)
            }
            SyncStage::Ops { done, total } => listener.on_progress(SyncPhase::Ops, done, total),
            SyncStage::Pull { received } => listener.on_progress(SyncPhase::Pull, received, 0),
        };
        let r = self.client.sync(&self.engine, &progress, &cancel.token)?;
        Ok(SyncSummary {
            photos: r.photos,
            applied: r.applied,
            duplicates: r.duplicates,
            rejected: r.rejected,
            pulled: r.pulled,
        })
    }

    /// What waits for the server.
    pub fn pending(&self) -> R<Pending> {
        let p = self.engine.pending_counts()?;
        Ok(Pending {
            ops: p.ops,
            photos: p.photos,
            rejected: p.rejected,
        })
    }

    /// What the server refused for good, oldest first.
    pub fn rejections(&self) -> R<Vec<Rejection>> {
        Ok(self
            .engine
            .rejections()?
            .into_iter()
            .map(|r| Rejection {
                seq: r.seq,
                kind: r.kind,
                code: r.code,
                message: r.message,
            })
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
            .map(|r| RouteToday {
                route_id: r.route.id.to_string(),
                name: r.route.name.clone(),
                site_name: r.site.name.clone(),
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
            })
            .collect())
    }

    /// Start a round.
    pub fn start_round(&self, route_id: String) -> R<String> {
        Ok(self
            .engine
            .start_round(id("route", &route_id)?)?
            .to_string())
    }

    /// Scan a label during a round.
    pub fn scan(&self, run_id: String, token: String) -> R<Scan> {
        let s = self.engine.scan(id("round", &run_id)?, &token)?;
        Ok(scan(s))
    }

    /// Record a visit without a scan, with the reason.
    pub fn visit_manually(&self, run_id: String, checkpoint_id: String, reason: String) -> R<Scan> {
        let s = self.engine.visit_manually(
            id("round", &run_id)?,
            id("checkpoint", &checkpoint_id)?,
            &reason,
        )?;
        Ok(scan(s))
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
        let answer = Answer {
            outcome: outcome.map(Into::into),
            reading,
            note,
            photos,
        };
        let r = self
            .engine
            .answer(id("visit", &visit_id)?, &item_key, answer)?;
        Ok(r.outcome.into())
    }

    /// Keep a camera picture (JPEG; a PNG such as a signature is read too); returns its
    /// photo id.
    pub fn add_photo(&self, jpeg: Vec<u8>) -> R<String> {
        Ok(self.engine.add_photo(&jpeg)?)
    }

    /// The file of a kept photo, to show it (`thumbnail` for lists).
    pub fn photo_path(&self, photo_id: String, thumbnail: bool) -> R<String> {
        if !patrol_core::blob::is_blob_id(&photo_id) {
            return Err(bad_input("photo", &photo_id));
        }
        let path = if thumbnail {
            self.engine.thumbnail_path(&photo_id)
        } else {
            self.engine.photo_path(&photo_id)
        };
        Ok(path.to_string_lossy().into_owned())
    }

    /// Report a problem (or one fixed on the spot).
    pub fn report(&self, input: ReportInput) -> R<Issue> {
        let draft = ReportDraft {
            site_id: input
                .site_id
                .as_deref()
                .map(|s| id("site", s))
                .transpose()?,
            visit_id: input
                .visit_id
                .as_deref()
                .map(|s| id("visit", s))
                .transpose()?,
            item_key: input.item_key,
            zone_id: None,
            category: input
                .category
                .as_deref()
                .map(|s| wire("category", s))
                .transpose()?,
            severity: input
                .severity
                .as_deref()
                .map(|s| wire("severity", s))
                .transpose()?,
            title: input.title,
            note: input.note,
            photos: input.photos,
            fixed_on_spot: input.fixed_on_spot,
            source: Source::Patrol,
        };
        Ok((&self.engine.report(draft)?).into())
    }

    /// How far a round has got.
    pub fn progress(&self, run_id: String) -> R<Progress> {
        let p = self.engine.progress(id("round", &run_id)?)?;
        Ok(Progress {
            total: p.total,
            visited: p.visited,
            remaining: p
                .remaining
                .iter()
                .map(|c| Place {
                    checkpoint_id: c.id.to_string(),
                    name: c.name.clone(),
                })
                .collect(),
            answered: p.answered,
            faults: p.faults,
        })
    }

    /// Finish a round; `missed_reasons` pairs each unvisited checkpoint id with its reason.
    pub fn finish_round(&self, run_id: String, missed_reasons: Vec<MissedReason>) -> R<()> {
        let missed = missed_reasons
            .into_iter()
            .map(|m| {
                Ok(Missed {
                    checkpoint_id: id("checkpoint", &m.checkpoint_id)?,
                    reason: m.reason,
                })
            })
            .collect::<R<Vec<_>>>()?;
        self.engine.finish_round(id("round", &run_id)?, missed)?;
        Ok(())
    }

    /// My jobs (technicians) or my sites' open issues (supervisors, managers), by due time.
    pub fn jobs(&self) -> R<Vec<Issue>> {
        Ok(self
            .engine
            .jobs(JobsScope::Mine)?
            .iter()
            .map(Issue::from)
            .collect())
    }

    /// The people of the signed-in user's sites, optionally of one team (whom to assign to).
    pub fn people(&self, team: Option<String>) -> R<Vec<Person>> {
        let team = team.as_deref().map(|t| wire("team", t)).transpose()?;
        Ok(self
            .engine
            .users()?
            .into_iter()
            .filter(|u| team.is_none() || u.team == team)
            .map(|u| Person {
                user_id: u.id.to_string(),
                display_name: u.display_name,
                role: u.role.as_str().to_owned(),
                team: u.team.map(|t| t.as_str().to_owned()),
            })
            .collect())
    }

    /// Assign an issue to a person of its team.
    pub fn assign(&self, issue_id: String, assignee_id: String) -> R<Issue> {
        Ok((&self
            .engine
            .assign(id("issue", &issue_id)?, id("user", &assignee_id)?)?)
            .into())
    }

    /// Start a job.
    pub fn start_job(&self, issue_id: String) -> R<Issue> {
        Ok((&self.engine.start_job(id("issue", &issue_id)?)?).into())
    }

    /// Report a fix with a note and photos.
    pub fn resolve_job(
        &self,
        issue_id: String,
        note: Option<String>,
        photos: Vec<String>,
    ) -> R<Issue> {
        Ok((&self
            .engine
            .resolve_job(id("issue", &issue_id)?, note, photos)?)
            .into())
    }

    /// Verify a fix on site: accept with a signature photo id, or reject with a reason.
    pub fn verify(
        &self,
        issue_id: String,
        accepted: bool,
        note: Option<String>,
        signature: Option<String>,
    ) -> R<Issue> {
        Ok((&self
            .engine
            .verify(id("issue", &issue_id)?, accepted, note, signature, vec![])?)
            .into())
    }

    /// Ask for more time (`due_at` RFC 3339).
    pub fn request_extension(&self, issue_id: String, reason: String, due_at: String) -> R<Issue> {
        let due = due_at.parse().map_err(|_| bad_input("time", &due_at))?;
        Ok((&self
            .engine
            .request_extension(id("issue", &issue_id)?, reason, due)?)
            .into())
    }

    /// Approve or deny the waiting extension (managers).
    pub fn decide_extension(
        &self,
        issue_id: String,
        approved: bool,
        note: Option<String>,
    ) -> R<Issue> {
        Ok((&self
            .engine
            .decide_extension(id("issue", &issue_id)?, approved, note)?)
            .into())
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

fn session(u: &patrol_core::wire::SessionUser) -> Session {
    Session {
        user_id: u.id.to_string(),
        username: u.username.clone(),
        role: u.role.as_str().to_owned(),
        team: u.team.map(|t| t.as_str().to_owned()),
        sites: u.sites.iter().map(ToString::to_string).collect(),
    }
}

fn scan(s: patrol_core::engine::ScanResult) -> Scan {
    Scan {
        visit_id: s.visit_id.to_string(),
        checkpoint_id: s.checkpoint.id.to_string(),
        checkpoint_name: s.checkpoint.name.clone(),
        zone_name: s.zone.name.clone(),
        flags: s
            .flags
            .iter()
            .map(|f| serde_json::to_string(f).unwrap_or_default())
            .collect(),
        items: s
            .template
            .items
            .iter()
            .map(|i| {
                let (kind, unit, lo, hi) = match &i.kind {
                    ItemKind::Check => ("check", None, None, None),
                    ItemKind::Reading {
                        unit,
                        normal_min,
                        normal_max,
                    } => ("reading", Some(unit.clone()), *normal_min, *normal_max),
                    ItemKind::Text => ("text", None, None, None),
                };
                ChecklistItem {
                    key: i.key.clone(),
                    text_zh: i.text.zh.clone(),
                    text_en: i.text.en.clone(),
                    method: name(&i.method),
                    kind: kind.to_owned(),
                    unit,
                    normal_min: lo,
                    normal_max: hi,
                    photo_on_fault: i.photo_on_fault,
                    hint_zh: i.hint.as_ref().map(|h| h.zh.clone()),
                }
            })
            .collect(),
    }
}
