//! The devices: each a real [`Engine`] on a database of its own and a real [`SyncClient`],
//! worked by two threads as a phone is — one for the person (walking rounds, reporting,
//! starting and resolving jobs, assigning, verifying, deciding extensions), one for background
//! sync — both at random, seeded.
//!
//! Most of what people do cannot clash: each supervisor looks after the issues whose id falls
//! in their share, technicians work only the jobs assigned to them, a technician waits for the
//! manager's decision before resolving a job whose extension is pending. A few actions are
//! meant to race (a technician starting a colleague's job, a supervisor acting on another's
//! issue, a patroller signing off a fix of their own report): the issue is then *contested*,
//! and only there may the server refuse an op, as the rules say it must when two people act on
//! the same state offline.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use jiff::SignedDuration;
use patrol_core::checklist::{Answer, ItemKind};
use patrol_core::engine::{Engine, FlowError, JobsScope, ReportDraft};
use patrol_core::ids::{IssueId, UserId};
use patrol_core::issue::{Category, Issue, Severity, Source, Status};
use patrol_core::patrol::{Missed, Outcome};
use patrol_core::sync::{CancelToken, SyncClient, SyncError, SyncOptions, SyncStage};
use patrol_core::team::Team;
use patrol_core::user::Role;

use super::Rng;

/// The password of the people the harness adds beside the demo's.
pub const PASSWORD: &str = "fault-run-password";

/// One person with a phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Login name.
    pub username: String,
    /// Their password.
    pub password: String,
    /// Role.
    pub role: Role,
    /// Team, for technicians and the manager.
    pub team: Option<Team>,
    /// Whether the demo loader made them (else the harness adds them with `user add`).
    pub demo: bool,
    /// The code of the site they work on.
    pub site: String,
}

fn person(username: &str, role: Role, team: Option<Team>) -> Person {
    let demo = username.starts_with("demo-");
    Person {
        username: username.to_owned(),
        password: if demo { "demo" } else { PASSWORD }.to_owned(),
        role,
        team,
        demo,
        site: "demo".to_owned(),
    }
}

/// The people of one site of `n` phones, none the demo's, named `{prefix}-{role}-{k}`: first a
/// patroller, an engineer, a supervisor and the manager (so every kind of work happens on
/// every site of four phones or more), then the other teams' technicians, then more
/// patrollers, engineers and supervisors in turn.
pub fn cast_at(site: &str, prefix: &str, n: usize) -> Vec<Person> {
    let kinds = [
        ("patrol", Role::Patrol, None),
        ("tech", Role::Technician, Some(Team::Engineering)),
        ("super", Role::Supervisor, None),
        ("manager", Role::Manager, Some(Team::Management)),
        ("cleaner", Role::Technician, Some(Team::Cleaning)),
        ("patrol", Role::Patrol, None),
        ("security", Role::Technician, Some(Team::Security)),
        ("super", Role::Supervisor, None),
        ("service", Role::Technician, Some(Team::CustomerService)),
        ("green", Role::Technician, Some(Team::Landscaping)),
    ];
    let then = [
        ("patrol", Role::Patrol, None),
        ("tech", Role::Technician, Some(Team::Engineering)),
        ("super", Role::Supervisor, None),
    ];
    (0..n)
        .map(|i| {
            let (name, role, team) = kinds
                .get(i)
                .copied()
                .unwrap_or_else(|| then[(i - kinds.len()) % then.len()]);
            Person {
                username: format!("{prefix}-{name}-{i}"),
                password: PASSWORD.to_owned(),
                role,
                team,
                demo: false,
                site: site.to_owned(),
            }
        })
        .collect()
}

/// The people of a run of `n` devices (at least 5): first one of each kind of work, then more
/// patrollers, technicians and supervisors in turn.
pub fn cast(n: usize) -> Vec<Person> {
    let core = [
        person("demo-patrol", Role::Patrol, None),
        person("demo-tech", Role::Technician, Some(Team::Engineering)),
        person("demo-super", Role::Supervisor, None),
        person("demo-cleaner", Role::Technician, Some(Team::Cleaning)),
        person("demo-manager", Role::Manager, Some(Team::Management)),
        person("fr-patrol-2", Role::Patrol, None),
        person("fr-tech-security", Role::Technician, Some(Team::Security)),
        person("fr-super-2", Role::Supervisor, None),
        person(
            "fr-tech-service",
            Role::Technician,
            Some(Team::CustomerService),
        ),
        person("fr-tech-green", Role::Technician, Some(Team::Landscaping)),
        person("fr-tech-eng-2", Role::Technician, Some(Team::Engineering)),
        person("fr-patrol-3", Role::Patrol, None),
    ];
    let mut people: Vec<Person> = core.into_iter().take(n).collect();
    let mut k = 4;
    while people.len() < n {
        let extra = match people.len() % 3 {
            0 => person(&format!("fr-patrol-{k}"), Role::Patrol, None),
            1 => person(
                &format!("fr-tech-eng-{k}"),
                Role::Technician,
                Some(Team::Engineering),
            ),
            _ => person(&format!("fr-super-{k}"), Role::Supervisor, None),
        };
        people.push(extra);
        k += 1;
    }
    people
}

/// Counts the devices keep while they work.
#[derive(Debug, Default)]
pub struct Tally {
    /// Actions done (each one op in the outbox).
    pub actions: AtomicU64,
    /// Actions the phone's own rules refused (nothing queued).
    pub refused_offline: AtomicU64,
    /// Syncs that finished.
    pub syncs_ok: AtomicU64,
    /// Syncs that failed (network, server down, out of patience).
    pub syncs_failed: AtomicU64,
    /// Ops the server answered (applied, duplicate or refused).
    pub answered: AtomicU64,
    /// Photos the devices took.
    pub photos: AtomicU64,
    /// Times a device was signed out and its person signed in again.
    pub sign_ins_again: AtomicU64,
    /// How long the syncs that finished took, each whole (push, photos, pull).
    pub sync_latency: crate::latency::Latency,
}

impl Tally {
    fn add(n: &AtomicU64, by: u64) {
        n.fetch_add(by, Ordering::Relaxed);
    }

    /// A counter's value.
    pub fn get(n: &AtomicU64) -> u64 {
        n.load(Ordering::Relaxed)
    }
}

/// What the devices share besides the server: the issues on which someone raced on purpose.
#[derive(Debug, Default)]
pub struct Contested(Mutex<HashSet<IssueId>>);

impl Contested {
    fn mark(&self, id: IssueId) {
        if let Ok(mut s) = self.0.lock() {
            s.insert(id);
        }
    }

    /// Whether someone raced on this issue.
    pub fn contains(&self, id: IssueId) -> bool {
        self.0.lock().is_ok_and(|s| s.contains(&id))
    }

    /// How many issues were raced on.
    pub fn len(&self) -> usize {
        self.0.lock().map_or(0, |s| s.len())
    }

    /// Whether none was.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A device: a person's phone.
pub struct Device {
    /// Who uses it.
    pub person: Person,
    /// The engine on its own database.
    pub engine: Arc<Engine>,
    /// That database.
    pub db_path: PathBuf,
    /// The signed-in user's id.
    pub user_id: UserId,
    /// Among the supervisors, which share of the issues is theirs, and of how many.
    share: (u64, u64),
    client: Arc<SyncClient>,
}

/// The sync client's tuning here: small batches (so one sync is several pushes, which the
/// proxy can reorder) and short backoff (so a run gets through many retries).
pub fn client_options() -> SyncOptions {
    SyncOptions {
        batch: 25,
        pull_limit: 100,
        attempts: 5,
        backoff: Duration::from_millis(150),
        timeout: Duration::from_secs(20),
    }
}

/// Whether an engine error is a refusal by the rules (the person is told and nothing is
/// queued), as opposed to the phone itself failing.
fn is_refusal(e: &patrol_core::Error) -> bool {
    use patrol_core::Error as E;
    matches!(
        e,
        E::Time(_)
            | E::Bound(_)
            | E::Label(_)
            | E::Rule(_)
            | E::Round(_)
            | E::Answer(_)
            | E::Flow(_)
            | E::NotSignedIn
    )
}

/// A small JPEG, different for every `tint`, as a camera would hand the app.
pub fn photo(tint: u64) -> Vec<u8> {
    let img = image::RgbImage::from_fn(480, 360, |x, y| {
        image::Rgb([
            ((u64::from(x) ^ tint) & 0xff) as u8,
            ((u64::from(y) + (tint >> 8)) & 0xff) as u8,
            ((tint >> 16) & 0xff) as u8,
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg)
        .unwrap_or_else(|e| panic!("a JPEG of a generated picture: {e}"));
    out.into_inner()
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Device {
    /// Open a phone in `dir` for `person`, sign in through `base_url` and take the estate
    /// offline (one sync).
    pub fn sign_in(dir: &Path, person: &Person, base_url: &str, share: (u64, u64)) -> Device {
        let folder = dir.join(&person.username);
        std::fs::create_dir_all(&folder)
            .unwrap_or_else(|e| panic!("device folder {}: {e}", folder.display()));
        let db_path = folder.join("patrol.db");
        let engine =
            Engine::open(&db_path).unwrap_or_else(|e| panic!("engine of {}: {e}", person.username));
        let client = SyncClient::with_options(base_url, client_options());
        let user = client
            .login(&engine, &person.username, &person.password)
            .unwrap_or_else(|e| panic!("sign-in of {}: {e}", person.username));
        client
            .sync(&engine, &|_| {}, &CancelToken::new())
            .unwrap_or_else(|e| panic!("first sync of {}: {e}", person.username));
        Device {
            person: person.clone(),
            engine: Arc::new(engine),
            db_path,
            user_id: user.id,
            share,
            client: Arc::new(client),
        }
    }

    /// One sync; a device signed out signs its person in again (as the person would), and
    /// that counts.
    pub fn sync(&self, tally: &Tally, cancel: &CancelToken) -> Result<(), patrol_core::Error> {
        // Ops answered so far in this sync, as its progress says, so that a sync that fails
        // after some batches still counts what they did.
        let answered = AtomicU64::new(0);
        let progress = |stage: SyncStage| {
            if let SyncStage::Ops { done, .. } = stage {
                answered.fetch_max(done, Ordering::Relaxed);
            }
        };
        let started = std::time::Instant::now();
        let result = self.client.sync(&self.engine, &progress, cancel);
        Tally::add(&tally.answered, answered.load(Ordering::Relaxed));
        match result {
            Ok(_) => {
                tally.sync_latency.record(started.elapsed());
                Tally::add(&tally.syncs_ok, 1);
                Ok(())
            }
            Err(patrol_core::Error::Sync(SyncError::Unauthorized)) => {
                Tally::add(&tally.syncs_failed, 1);
                Tally::add(&tally.sign_ins_again, 1);
                self.client
                    .login(&self.engine, &self.person.username, &self.person.password)?;
                Err(SyncError::Unauthorized.into())
            }
            Err(e) => {
                Tally::add(&tally.syncs_failed, 1);
                Err(e)
            }
        }
    }

    fn mine(&self, id: IssueId) -> bool {
        let (share, of) = self.share;
        of == 0 || fnv(&id.to_string()) % of == share
    }
}

/// The two threads of every device, and how to stop them.
pub struct Working {
    stop: Arc<AtomicBool>,
    cancels: Vec<CancelToken>,
    threads: Vec<(String, JoinHandle<Result<(), String>>)>,
}

impl Working {
    /// Stop every device's person and sync; the failures of devices whose phone broke (not a
    /// refusal or a network error: a local database error, a panic).
    pub fn stop(self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        for c in &self.cancels {
            c.cancel();
        }
        let mut failures = Vec::new();
        for (name, t) in self.threads {
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failures.push(format!("{name}: {e}")),
                Err(p) => failures.push(format!("{name} panicked: {}", super::panic_text(&p))),
            }
        }
        failures
    }
}

/// Set every device to work: each person at random with seed `seed + i`, each phone syncing
/// in the background every so often.
pub fn work(
    devices: &[Arc<Device>],
    seed: u64,
    tally: &Arc<Tally>,
    contested: &Arc<Contested>,
) -> Working {
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    let mut cancels = Vec::new();
    for (i, d) in devices.iter().enumerate() {
        let (device, stop_p, tally_p, contested) =
            (d.clone(), stop.clone(), tally.clone(), contested.clone());
        let person_seed = seed ^ (0x9E37_79B9_7F4A_7C15_u64.wrapping_mul(i as u64 + 1));
        threads.push((
            format!("{} (person)", d.person.username),
            std::thread::spawn(move || {
                let mut rng = Rng::new(person_seed);
                let mut acts = Actions {
                    d: &device,
                    rng: &mut rng,
                    tally: &tally_p,
                    contested: &contested,
                    asked_extension: HashSet::new(),
                };
                while !stop_p.load(Ordering::Relaxed) {
                    match acts.step() {
                        Ok(()) => {}
                        Err(e) if is_refusal(&e) => Tally::add(&tally_p.refused_offline, 1),
                        Err(e) => return Err(format!("the phone failed: {e}")),
                    }
                    // A patroller's step is a checkpoint with its whole checklist (several
                    // ops); others make one op a step.
                    let pause = match device.person.role {
                        Role::Patrol => 200 + acts.rng.below(400),
                        _ => 80 + acts.rng.below(300),
                    };
                    std::thread::sleep(Duration::from_millis(pause));
                }
                Ok(())
            }),
        ));
        let (device, stop_s, tally_s) = (d.clone(), stop.clone(), tally.clone());
        let cancel = CancelToken::new();
        cancels.push(cancel.clone());
        let sync_seed = person_seed.rotate_left(17) ^ 0x5EED;
        threads.push((
            format!("{} (sync)", d.person.username),
            std::thread::spawn(move || {
                let mut rng = Rng::new(sync_seed);
                let mut failures = Vec::new();
                while !stop_s.load(Ordering::Relaxed) {
                    match device.sync(&tally_s, &cancel) {
                        Ok(()) => {}
                        Err(e) if is_network_trouble(&e) => {}
                        Err(e) => failures.push(format!("sync failed: {e}")),
                    }
                    let pause = 150 + rng.below(600);
                    std::thread::sleep(Duration::from_millis(pause));
                }
                if failures.is_empty() {
                    Ok(())
                } else {
                    Err(failures.join("; "))
                }
            }),
        ));
    }
    Working {
        stop,
        cancels,
        threads,
    }
}

/// What a sync may meet on a bad network with a server that keeps dying: it gives up for now
/// and tries again later. Anything else (a refused request, a broken phone) is a finding.
fn is_network_trouble(e: &patrol_core::Error) -> bool {
    matches!(
        e,
        patrol_core::Error::Sync(
            SyncError::Network(_) | SyncError::Cancelled | SyncError::Unauthorized
        )
    )
}

/// One person's choices.
struct Actions<'a> {
    d: &'a Device,
    rng: &'a mut Rng,
    tally: &'a Tally,
    contested: &'a Contested,
    /// Jobs this technician asked more time for once already (once is enough).
    asked_extension: HashSet<IssueId>,
}

type Step = Result<(), patrol_core::Error>;

impl<'a> Actions<'a> {
    fn engine(&self) -> &'a Engine {
        &self.d.engine
    }

    fn done(&self) {
        Tally::add(&self.tally.actions, 1);
    }

    fn photo(&mut self) -> Result<String, patrol_core::Error> {
        let id = self.engine().add_photo(&photo(self.rng.next()))?;
        Tally::add(&self.tally.photos, 1);
        Ok(id)
    }

    fn step(&mut self) -> Step {
        match self.d.person.role {
            Role::Patrol => self.patrol(),
            Role::Technician => self.technician(),
            Role::Supervisor => self.supervisor(),
            Role::Manager => self.manager(),
            Role::Admin => Ok(()),
        }
    }

    /// Walk the round under way one checkpoint on, or finish it, or start one; now and then
    /// report something seen on the way.
    fn patrol(&mut self) -> Step {
        let routes = self.engine().routes_today()?;
        if routes.is_empty() {
            return Ok(());
        }
        if self.rng.chance(40) {
            return self.sign_off_own_report();
        }
        let under_way = routes.iter().find_map(|r| r.under_way);
        let Some(run) = under_way else {
            if self.rng.chance(5) {
                return self.report_on_the_way();
            }
            let route = &routes[self.rng.below(routes.len() as u64) as usize];
            match self.engine().start_round(route.route.id) {
                Ok(_) => self.done(),
                Err(patrol_core::Error::Flow(FlowError::RoundUnderWay { .. })) => {}
                Err(e) => return Err(e),
            }
            return Ok(());
        };
        let progress = self.engine().progress(run)?;
        let give_up = progress.visited > 0 && self.rng.chance(15);
        if progress.remaining.is_empty() || give_up {
            let missed = progress
                .remaining
                .iter()
                .map(|c| Missed {
                    checkpoint_id: c.id,
                    reason: "门锁坏了进不去 / locked out".into(),
                })
                .collect();
            self.engine().finish_round(run, missed)?;
            self.done();
            return Ok(());
        }
        // Mostly in walking order; now and then one is skipped (and missed at the end).
        let skip = progress.remaining.len() > 1 && self.rng.chance(10);
        let cp = progress.remaining[usize::from(skip)].clone();
        let scan = if self.rng.chance(15) {
            self.engine()
                .visit_manually(run, cp.id, "标签污损 / label damaged")?
        } else {
            self.engine().scan(run, &cp.qr_token)?
        };
        self.done();
        for item in &scan.template.items {
            let fault = matches!(item.kind, ItemKind::Check | ItemKind::Reading { .. })
                && self.rng.chance(20);
            let mut answer = match &item.kind {
                ItemKind::Reading {
                    normal_min,
                    normal_max,
                    ..
                } => Answer {
                    reading: Some(normal_min.or(*normal_max).unwrap_or(1.0)),
                    ..Answer::default()
                },
                ItemKind::Text => Answer {
                    note: Some("正常 / fine".into()),
                    ..Answer::default()
                },
                ItemKind::Check => Answer {
                    outcome: Some(Outcome::Ok),
                    ..Answer::default()
                },
            };
            if fault {
                answer.outcome = Some(Outcome::Fault);
                if item.photo_on_fault || self.rng.chance(2) {
                    answer.photos = vec![self.photo()?];
                }
            }
            let photos = answer.photos.clone();
            self.engine().answer(scan.visit_id, &item.key, answer)?;
            self.done();
            if fault && !self.rng.chance(4) {
                let severity = self
                    .rng
                    .chance(5)
                    .then(|| [Severity::Major, Severity::Urgent][self.rng.below(2) as usize]);
                self.engine().report(ReportDraft {
                    site_id: None,
                    visit_id: Some(scan.visit_id),
                    item_key: Some(item.key.clone()),
                    zone_id: None,
                    category: None,
                    severity,
                    title: format!("{} {}", cp.name, item.key),
                    note: Some("巡查发现 / found on the round".into()),
                    photos,
                    fixed_on_spot: self.rng.chance(8),
                    source: Source::Patrol,
                })?;
                self.done();
            } else if !fault && self.rng.chance(40) {
                // Answering again replaces the answer, on the phone and on the server.
                let again = Answer {
                    note: Some("复查 / checked again".into()),
                    ..match &item.kind {
                        ItemKind::Reading {
                            normal_min,
                            normal_max,
                            ..
                        } => Answer {
                            reading: Some(normal_max.or(*normal_min).unwrap_or(1.0)),
                            ..Answer::default()
                        },
                        _ => Answer {
                            outcome: Some(Outcome::Ok),
                            ..Answer::default()
                        },
                    }
                };
                self.engine().answer(scan.visit_id, &item.key, again)?;
                self.done();
            }
        }
        Ok(())
    }

    /// A problem seen between rounds: any category, at a place of the site.
    fn report_on_the_way(&mut self) -> Step {
        let Some(site) = self.engine().sites()?.into_iter().next() else {
            return Ok(());
        };
        let checkpoints = self.engine().checkpoints(site.id)?;
        if checkpoints.is_empty() {
            return Ok(());
        }
        let cp = &checkpoints[self.rng.below(checkpoints.len() as u64) as usize];
        let categories = [
            Category::Facility,
            Category::Fire,
            Category::Cleaning,
            Category::Landscaping,
            Category::Security,
            Category::Renovation,
            Category::ResidentViolation,
            Category::Staff,
        ];
        let category = categories[self.rng.below(categories.len() as u64) as usize];
        let severity =
            [Severity::Routine, Severity::Routine, Severity::Major][self.rng.below(3) as usize];
        let photos = if self.rng.chance(2) {
            vec![self.photo()?]
        } else {
            Vec::new()
        };
        self.engine().report(ReportDraft {
            site_id: Some(site.id),
            visit_id: None,
            item_key: None,
            zone_id: Some(cp.zone_id),
            category: Some(category),
            severity: Some(severity),
            title: format!("{}附近 {} / near {}", cp.name, category.as_str(), cp.name),
            note: None,
            photos,
            fixed_on_spot: self.rng.chance(10),
            source: if self.rng.chance(6) {
                Source::Desk
            } else {
                Source::Patrol
            },
        })?;
        self.done();
        Ok(())
    }

    /// On purpose racing the supervisors: the reporter signs off a fix of their own report.
    fn sign_off_own_report(&mut self) -> Step {
        let me = self.d.user_id;
        let ready: Vec<Issue> = self
            .engine()
            .jobs(JobsScope::All)?
            .into_iter()
            .filter(|i| i.status == Status::Resolved && i.reported_by == me)
            .collect();
        let Some(issue) = self.pick(&ready) else {
            return Ok(());
        };
        self.contested.mark(issue.id);
        let signature = self.photo()?;
        self.engine().verify(
            issue.id,
            true,
            Some("报告人现场确认 / the reporter checked it".into()),
            Some(signature),
            Vec::new(),
        )?;
        self.done();
        Ok(())
    }

    fn pick(&mut self, issues: &[Issue]) -> Option<Issue> {
        (!issues.is_empty()).then(|| issues[self.rng.below(issues.len() as u64) as usize].clone())
    }

    /// Start the jobs assigned to me, resolve what I started (or ask for more time once, and
    /// then wait for the manager); now and then start a colleague's job, racing them.
    fn technician(&mut self) -> Step {
        let me = self.d.user_id;
        let jobs = self.engine().jobs(JobsScope::Mine)?;
        if self.rng.chance(30) {
            let theirs: Vec<Issue> = jobs
                .iter()
                .filter(|i| i.status == Status::Assigned && i.assignee_id.is_some_and(|a| a != me))
                .cloned()
                .collect();
            if let Some(issue) = self.pick(&theirs) {
                self.contested.mark(issue.id);
                self.engine().start_job(issue.id)?;
                self.done();
                return Ok(());
            }
        }
        let mine: Vec<Issue> = jobs
            .into_iter()
            .filter(|i| i.assignee_id == Some(me))
            .filter(|i| {
                i.status == Status::Assigned
                    || (i.status == Status::InProgress && i.extension.is_none())
            })
            .collect();
        let Some(issue) = self.pick(&mine) else {
            return Ok(());
        };
        self.work_on(&issue)
    }

    fn work_on(&mut self, issue: &Issue) -> Step {
        match issue.status {
            Status::Assigned => {
                self.engine().start_job(issue.id)?;
            }
            _ if self.d.person.role == Role::Technician
                && !self.asked_extension.contains(&issue.id)
                && self.rng.chance(6) =>
            {
                self.asked_extension.insert(issue.id);
                self.engine().request_extension(
                    issue.id,
                    "等配件到货 / waiting for parts".into(),
                    issue.due_at + SignedDuration::from_hours(48),
                )?;
            }
            _ if self.rng.chance(8) => {
                self.engine()
                    .comment(issue.id, "已到现场 / on site".into())?;
            }
            _ => {
                let photos = if self.rng.chance(2) {
                    vec![self.photo()?]
                } else {
                    Vec::new()
                };
                self.engine()
                    .resolve_job(issue.id, Some("已修复 / fixed".into()), photos)?;
            }
        }
        self.done();
        Ok(())
    }

    /// Assign the open issues of my share to someone of their team, verify the fixes of my
    /// share on site (mostly accepting, with a signature); now and then act on another
    /// supervisor's issue, racing them.
    fn supervisor(&mut self) -> Step {
        let all = self.engine().jobs(JobsScope::All)?;
        let racing = self.rng.chance(40);
        let d = self.d;
        let to_do: Vec<Issue> = all
            .into_iter()
            .filter(|i| matches!(i.status, Status::Open | Status::Resolved))
            .filter(|i| d.mine(i.id) != racing)
            .collect();
        let Some(issue) = self.pick(&to_do) else {
            return Ok(());
        };
        if racing {
            self.contested.mark(issue.id);
        }
        if issue.status == Status::Open {
            let people: Vec<_> = self
                .engine()
                .people(Some(issue.team))?
                .into_iter()
                .filter(|u| matches!(u.role, Role::Technician | Role::Manager))
                .collect();
            if people.is_empty() {
                return Ok(());
            }
            let who = people[self.rng.below(people.len() as u64) as usize].id;
            self.engine().assign(issue.id, who)?;
        } else if self.rng.chance(5) {
            self.engine().verify(
                issue.id,
                false,
                Some("还没修好 / not fixed yet".into()),
                None,
                Vec::new(),
            )?;
        } else {
            let signature = self.photo()?;
            let on_site = if self.rng.chance(3) {
                vec![self.photo()?]
            } else {
                Vec::new()
            };
            self.engine().verify(
                issue.id,
                true,
                Some("现场验收合格 / verified on site".into()),
                Some(signature),
                on_site,
            )?;
        }
        self.done();
        Ok(())
    }

    /// Decide the extensions asked for, and work management's own jobs assigned to me.
    fn manager(&mut self) -> Step {
        let me = self.d.user_id;
        let all = self.engine().jobs(JobsScope::All)?;
        let asked: Vec<Issue> = all
            .iter()
            .filter(|i| {
                i.status.is_active() && i.extension.as_ref().is_some_and(|x| x.requested_by != me)
            })
            .cloned()
            .collect();
        if let Some(issue) = self.pick(&asked) {
            let approved = !self.rng.chance(4);
            self.engine().decide_extension(
                issue.id,
                approved,
                Some(
                    if approved {
                        "同意 / approved"
                    } else {
                        "不同意 / denied"
                    }
                    .into(),
                ),
            )?;
            self.done();
            return Ok(());
        }
        let mine: Vec<Issue> = all
            .into_iter()
            .filter(|i| i.assignee_id == Some(me))
            .filter(|i| matches!(i.status, Status::Assigned | Status::InProgress))
            .filter(|i| i.extension.is_none())
            .collect();
        let Some(issue) = self.pick(&mine) else {
            return Ok(());
        };
        self.work_on(&issue)
    }
}
