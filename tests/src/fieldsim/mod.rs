//! The field simulator: an estate group's phones at work against running servers, to measure
//! them and to prove that under load nothing is lost. N devices over S sites — each the real
//! engine and sync client on its own database, worked as [`crate::faults::fleet`] works them
//! (rounds of the site's routes with answers, faults with photos, reports, technicians' jobs,
//! supervisors' assignments and sign-offs, the manager's extensions) — sync through a
//! round-robin [`FaultProxy`] with no faults, a load balancer in front of one or more server
//! processes. The estate is set up through the product's own interfaces: generated site files
//! imported with `patrol-server site import`, people added with `user add`.
//!
//! It reports throughput and latency percentiles (pushes, pulls, photos and whole syncs, HDR
//! histograms), a progress line every few seconds, and at the end the fault harness's
//! reconciler's verdict and `verify-audit` on the server's data.
//!
//! `fieldsim` (`src/bin/fieldsim.rs`, started by `scripts/fieldsim`) runs it; `history` writes
//! years of records straight into a server database, to time the queue's queries at scale.

pub mod estate;
pub mod history;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use patrol_core::user::Role;

use crate::faults::fleet::{self, Contested, Device, Person, Tally};
use crate::faults::proxy::{FaultPlan, FaultProxy, ProxyCounts};
use crate::faults::reconcile::{self, Baseline, Findings, ServerDb};
use crate::faults::{self, verify_evidence_of};
use crate::latency::Percentiles;
use crate::s3::Moto;
use crate::{Server, SharedDatabase, admin_on};

/// Where the processes of a run keep photos: the data folder they share, or one S3 bucket (on
/// moto's S3-compatible server, started for the run) — what several machines would share.
pub enum PhotoStore {
    /// `<data-dir>/blobs`.
    DataDir,
    /// A bucket of this moto server, as `--blob-url s3://BUCKET/fieldsim`.
    S3(Moto, String),
}

impl PhotoStore {
    /// A new bucket on a moto server of its own.
    pub fn s3() -> PhotoStore {
        let moto = Moto::start();
        let url = format!("s3://{}/fieldsim", moto.bucket());
        PhotoStore::S3(moto, url)
    }

    /// The arguments that choose it, for `serve`, `verify-audit` and the other commands.
    fn args(&self) -> Vec<String> {
        match self {
            PhotoStore::DataDir => Vec::new(),
            PhotoStore::S3(_, url) => vec!["--blob-url".to_owned(), url.clone()],
        }
    }

    /// The environment the processes need to reach it.
    fn env(&self) -> Vec<(String, String)> {
        match self {
            PhotoStore::DataDir => Vec::new(),
            PhotoStore::S3(moto, _) => moto.env(),
        }
    }
}

/// Which servers the phones talk to.
#[derive(Debug, Clone)]
pub enum Servers {
    /// Start this many `patrol-server serve` processes, all on one data folder: on its SQLite
    /// file (one process only), or on a new database made on this PostgreSQL server (dropped
    /// afterwards).
    Start {
        /// How many processes.
        processes: usize,
        /// A PostgreSQL server URL; SQLite when none.
        postgres: Option<String>,
    },
    /// Servers already running, on this data folder and (PostgreSQL) database: the set-up and
    /// the check run against them.
    Running {
        /// Their base URLs.
        urls: Vec<String>,
        /// Their data folder (the SQLite file, the photos).
        data_dir: PathBuf,
        /// Their PostgreSQL database, if they run on one.
        database_url: Option<String>,
    },
}

/// How a run goes.
#[derive(Debug, Clone)]
pub struct FieldSim {
    /// Phones.
    pub devices: usize,
    /// Sites they are spread over.
    pub sites: usize,
    /// Buildings per generated site.
    pub buildings: usize,
    /// How long the phones work.
    pub duration: Duration,
    /// The seed of the workload.
    pub seed: u64,
    /// The servers.
    pub servers: Servers,
    /// Started servers keep photos in an S3 bucket (moto's server) rather than their data
    /// folder.
    pub s3: bool,
    /// Print a progress line this often.
    pub progress: Option<Duration>,
    /// How long the outboxes may take to drain once the work stops.
    pub drain_timeout: Duration,
    /// Where the site files, the started servers' data and the phones' databases go (kept when
    /// the run fails).
    pub work_dir: PathBuf,
}

impl FieldSim {
    /// A run of `devices` phones over `sites` sites for `duration` on these servers.
    pub fn new(devices: usize, sites: usize, duration: Duration, servers: Servers) -> FieldSim {
        FieldSim {
            devices,
            sites,
            buildings: 3,
            duration,
            seed: faults::seed_from_env(),
            servers,
            s3: false,
            progress: None,
            drain_timeout: Duration::from_secs(120),
            work_dir: std::env::temp_dir()
                .join(format!("patrol-fieldsim-{}", uuid::Uuid::now_v7().simple())),
        }
    }
}

/// The servers of a run and where their data is.
struct Estate {
    data_dir: PathBuf,
    database_url: Option<String>,
    urls: Vec<String>,
    /// Started here, stopped when dropped (before the store and the database).
    processes: Vec<Server>,
    store: PhotoStore,
    _database: Option<SharedDatabase>,
}

impl Estate {
    fn admin(&self, args: &[&str], stdin: &str) -> (bool, String) {
        let mut all: Vec<&str> = Vec::new();
        let store = self.store.args();
        all.extend(store.iter().map(String::as_str));
        all.extend_from_slice(args);
        admin_on(
            &self.data_dir,
            self.database_url.as_deref(),
            &all,
            stdin,
            &self.store.env(),
        )
    }

    fn db(&self) -> ServerDb {
        match &self.database_url {
            Some(url) => ServerDb::Postgres(url.clone()),
            None => ServerDb::Sqlite(self.data_dir.join("patrol.db")),
        }
    }

    fn backend(&self) -> &'static str {
        if self.database_url.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    }

    /// Import the site files and add the people, through the server binary's admin commands.
    fn set_up(&self, site_files: &[PathBuf], people: &[Person]) {
        for file in site_files {
            let file = file.to_string_lossy();
            let (ok, out) = self.admin(&["site", "import", &file], "");
            assert!(ok, "site import {file}: {out}");
        }
        faults::add_people_with(people, |args, stdin| self.admin(args, stdin));
    }

    fn verify_audit(&self) -> Result<String, String> {
        verify_evidence_of(self.admin(&["verify-audit"], ""))
    }
}

/// Make the servers' database, set up the estate in it, then start the processes (so they
/// never race each other's migrations), or attach to the running ones.
fn open_estate(cfg: &FieldSim, site_files: &[PathBuf], people: &[Person]) -> Estate {
    match &cfg.servers {
        Servers::Running {
            urls,
            data_dir,
            database_url,
        } => {
            let estate = Estate {
                data_dir: data_dir.clone(),
                database_url: database_url.clone(),
                urls: urls.clone(),
                processes: Vec::new(),
                store: PhotoStore::DataDir,
                _database: None,
            };
            estate.set_up(site_files, people);
            estate
        }
        Servers::Start {
            processes,
            postgres,
        } => {
            let database = postgres.as_deref().map(SharedDatabase::create);
            let database_url = database.as_ref().map(SharedDatabase::url);
            let processes = if database.is_some() {
                (*processes).max(1)
            } else {
                1
            };
            let mut estate = Estate {
                data_dir: cfg.work_dir.join("server"),
                database_url,
                urls: Vec::new(),
                processes: Vec::new(),
                store: if cfg.s3 {
                    PhotoStore::s3()
                } else {
                    PhotoStore::DataDir
                },
                _database: database,
            };
            estate.set_up(site_files, people);
            let mut args = estate.store.args();
            if let Some(url) = &estate.database_url {
                args.extend(["--database-url".to_owned(), url.clone()]);
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let env = estate.store.env();
            for _ in 0..processes {
                let server = Server::start_with_env(&estate.data_dir, &args, &env);
                estate.urls.push(server.base_url.clone());
                estate.processes.push(server);
            }
            estate
        }
    }
}

/// What a run did, measured, and found.
#[derive(Debug, Clone)]
pub struct Report {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Its seed.
    pub seed: u64,
    /// Phones and sites.
    pub devices: usize,
    /// Sites.
    pub sites: usize,
    /// Server processes behind the proxy.
    pub processes: usize,
    /// How long the phones worked.
    pub worked: Duration,
    /// The time the outboxes took to drain afterwards.
    pub drain: Duration,
    /// Setting up, signing in, working, draining and checking.
    pub total: Duration,
    /// Signing every phone in and its first sync.
    pub sign_in: Duration,
    /// Ops the phones made while working.
    pub made: u64,
    /// Ops the servers applied while the phones worked, by the servers' own clock.
    pub applied_in_run: u64,
    /// Photos the phones took.
    pub photos: u64,
    /// Syncs that finished and that failed.
    pub syncs: (u64, u64),
    /// Actions the phones' rules refused offline.
    pub refused_offline: u64,
    /// What the proxy saw (requests per process).
    pub proxy: ProxyCounts,
    /// Push requests, as the load balancer timed them.
    pub push: Percentiles,
    /// Pull requests.
    pub pull: Percentiles,
    /// Photo uploads.
    pub photo: Percentiles,
    /// Whole syncs, as the phones timed them.
    pub sync: Percentiles,
    /// The reconciler's check.
    pub findings: Findings,
    /// Everything else that went wrong (a phone that broke, outboxes that did not drain,
    /// evidence that does not verify), and the findings' problems.
    pub problems: Vec<String>,
    /// What `verify-audit` said.
    pub evidence: String,
}

impl Report {
    /// Nothing lost, duplicated or misrouted, every op acknowledged once, the evidence intact.
    pub fn clean(&self) -> bool {
        self.findings.clean() && self.problems.is_empty()
    }

    /// Ops applied per second while the phones worked.
    pub fn ops_per_second(&self) -> f64 {
        self.applied_in_run as f64 / self.worked.as_secs_f64().max(1e-9)
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let x = &self.findings;
        writeln!(
            f,
            "fieldsim on {} × {} process(es), seed {} (--seed {} replays the workload): {} devices over {} sites, {:.1} s of work, drained in {:.1} s, {:.1} s in all (sign-in of every phone {:.1} s)",
            self.backend,
            self.processes,
            self.seed,
            self.seed,
            self.devices,
            self.sites,
            self.worked.as_secs_f64(),
            self.drain.as_secs_f64(),
            self.total.as_secs_f64(),
            self.sign_in.as_secs_f64(),
        )?;
        writeln!(
            f,
            "  throughput: {:.1} ops/s applied while working ({} applied then, of {} made); {} photos ({:.1}/s); {} rounds, {} visits, {} answers, {} issues reported",
            self.ops_per_second(),
            self.applied_in_run,
            self.made,
            self.photos,
            self.photos as f64 / self.worked.as_secs_f64().max(1e-9),
            x.runs,
            x.visits,
            x.results,
            x.reported,
        )?;
        writeln!(f, "  push  {}", self.push)?;
        writeln!(f, "  pull  {}", self.pull)?;
        writeln!(f, "  photo {}", self.photo)?;
        writeln!(f, "  sync  {}", self.sync)?;
        writeln!(
            f,
            "  requests {} (pushes {}), per process {:?}; syncs {} finished, {} failed; refused offline {}",
            self.proxy.requests,
            self.proxy.pushes,
            self.proxy.per_upstream,
            self.syncs.0,
            self.syncs.1,
            self.refused_offline,
        )?;
        writeln!(
            f,
            "  verdict: ops {} — applied {}, refused in deliberate races {}; lost {}, duplicated {}, misrouted {}, disagreeing {}, stale {}; evidence: {}",
            x.ops,
            x.applied,
            x.refused_in_races,
            x.lost,
            x.duplicated,
            x.misrouted,
            x.disagreeing,
            x.stale,
            self.evidence
        )?;
        for p in self.problems.iter().take(60) {
            writeln!(f, "  PROBLEM: {p}")?;
        }
        if self.problems.len() > 60 {
            writeln!(f, "  … and {} more", self.problems.len() - 60)?;
        }
        Ok(())
    }
}

/// Sign every phone in (and take its site offline), a few at a time.
fn sign_in_all(people: &[Person], dir: &Path, base_url: &str) -> Vec<Arc<Device>> {
    let shares: Vec<(u64, u64)> = people
        .iter()
        .map(|p| {
            let supervisors: Vec<&str> = people
                .iter()
                .filter(|q| q.role == Role::Supervisor && q.site == p.site)
                .map(|q| q.username.as_str())
                .collect();
            supervisors
                .iter()
                .position(|s| *s == p.username)
                .map_or((0, 0), |i| (i as u64, supervisors.len() as u64))
        })
        .collect();
    let mut devices = Vec::with_capacity(people.len());
    for chunk in people.iter().zip(shares).collect::<Vec<_>>().chunks(8) {
        let signed: Vec<Device> = std::thread::scope(|s| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|(p, share)| s.spawn(move || Device::sign_in(dir, p, base_url, *share)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|p| {
                        panic!("a sign-in failed: {}", crate::faults::panic_text(&p))
                    })
                })
                .collect()
        });
        devices.extend(signed.into_iter().map(Arc::new));
    }
    devices
}

fn progress_line(
    started: Instant,
    tally: &Tally,
    proxy: &FaultProxy,
    last: &mut (Instant, u64),
) -> String {
    let answered = Tally::get(&tally.answered);
    let now = Instant::now();
    let rate = (answered - last.1) as f64 / now.duration_since(last.0).as_secs_f64().max(1e-9);
    *last = (now, answered);
    let push = proxy.latencies().push.summary();
    format!(
        "[{:>5.0} s] ops made {} answered {} ({rate:.0}/s) | photos {} | syncs {} ok {} failed | push p50 {:.1} ms p99 {:.1} ms | per process {:?}",
        started.elapsed().as_secs_f64(),
        Tally::get(&tally.actions),
        answered,
        Tally::get(&tally.photos),
        Tally::get(&tally.syncs_ok),
        Tally::get(&tally.syncs_failed),
        push.p50.as_secs_f64() * 1000.0,
        push.p99.as_secs_f64() * 1000.0,
        proxy.counts().per_upstream,
    )
}

/// Ops the server applied in a time window, by its own clock.
fn applied_between(db: &ServerDb, from: jiff::Timestamp, to: jiff::Timestamp) -> u64 {
    db.rows(&format!(
        "SELECT CAST(COUNT(*) AS TEXT) FROM ops WHERE status = 'applied' AND server_at_ms >= {} AND server_at_ms <= {}",
        from.as_millisecond(),
        to.as_millisecond()
    ))
    .first()
    .and_then(|r| r.first())
    .and_then(|n| n.parse().ok())
    .unwrap_or(0)
}

/// Run the simulation once and say what happened. The work folder stays when something was
/// wrong (the report says where), and goes otherwise.
pub fn run(cfg: &FieldSim) -> Report {
    let started = Instant::now();
    let dir = &cfg.work_dir;
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let site_files = estate::write_site_files(&dir.join("sites"), cfg.sites, cfg.buildings);
    let people = estate::people(cfg.devices, cfg.sites);
    let estate = open_estate(cfg, &site_files, &people);
    let db = estate.db();
    let baseline = Baseline::take(&db);

    let proxy = FaultProxy::start(cfg.seed);
    proxy.set_plan(FaultPlan::NONE);
    proxy.set_upstreams(&estate.urls);
    let signing_in = Instant::now();
    let devices = sign_in_all(&people, &dir.join("devices"), &proxy.base_url);
    let sign_in = signing_in.elapsed();
    if cfg.progress.is_some() {
        eprintln!(
            "fieldsim: {} devices signed in over {} sites in {:.1} s; working for {:.0} s",
            devices.len(),
            cfg.sites,
            sign_in.as_secs_f64(),
            cfg.duration.as_secs_f64()
        );
    }

    let tally = Arc::new(Tally::default());
    let contested = Arc::new(Contested::default());
    let working_started = Instant::now();
    let work_from = jiff::Timestamp::now();
    let working = fleet::work(&devices, cfg.seed, &tally, &contested);
    let mut next_progress = cfg.progress.map(|p| Instant::now() + p);
    let mut last = (Instant::now(), 0);
    while working_started.elapsed() < cfg.duration {
        std::thread::sleep(Duration::from_millis(100));
        if let (Some(at), Some(every)) = (next_progress, cfg.progress)
            && Instant::now() >= at
        {
            eprintln!("{}", progress_line(started, &tally, &proxy, &mut last));
            next_progress = Some(at + every);
        }
    }
    let mut problems = working.stop();
    let worked = working_started.elapsed();
    let applied_in_run = applied_between(&db, work_from, jiff::Timestamp::now());
    let made = Tally::get(&tally.actions);

    // The drain's syncs count apart: the figures are of the phones at work.
    let after = Tally::default();
    let drain_started = Instant::now();
    let before = problems.len();
    problems.extend(faults::drain(&devices, &after, cfg.drain_timeout));
    let drain = drain_started.elapsed();
    let findings = if problems.len() == before {
        faults::converge(&devices, &after, &db);
        reconcile::reconcile(&devices, &db, &baseline, &contested)
    } else {
        Findings::default()
    };
    problems.extend(findings.problems.iter().cloned());
    let evidence = match estate.verify_audit() {
        Ok(said) => said,
        Err(e) => {
            problems.push(e);
            "FAILED".to_owned()
        }
    };
    let l = proxy.latencies();
    let report = Report {
        backend: estate.backend(),
        seed: cfg.seed,
        devices: devices.len(),
        sites: cfg.sites,
        processes: estate.urls.len(),
        worked,
        drain,
        total: started.elapsed(),
        sign_in,
        made,
        applied_in_run,
        photos: Tally::get(&tally.photos),
        syncs: (Tally::get(&tally.syncs_ok), Tally::get(&tally.syncs_failed)),
        refused_offline: Tally::get(&tally.refused_offline),
        proxy: proxy.counts(),
        push: l.push.summary(),
        pull: l.pull.summary(),
        photo: l.photo.summary(),
        sync: tally.sync_latency.summary(),
        findings,
        problems,
        evidence,
    };
    drop(devices);
    drop(estate);
    if report.clean() {
        let _ = std::fs::remove_dir_all(dir);
    } else {
        eprintln!("the run's data is kept in {}", dir.display());
    }
    report
}
