//! The fault-injection harness: many simulated devices — the real engine and sync client, each
//! with its own database — run random patrol and issue workloads against the real server
//! through a [`proxy::FaultProxy`] that drops, duplicates, delays, reorders and cuts requests,
//! while a [`killer::Killer`] SIGKILLs the server at random moments and starts it again. When
//! the faults stop and every outbox has drained, [`reconcile`] checks the server's database
//! against the devices' own records: no op lost, none twice, every issue routed once, every
//! phone showing what the server holds.
//!
//! `tests/tests/faults.rs` is the bounded run of the test command; `faultrun` (in `src/bin/`,
//! started by `scripts/faults`) the long one.

pub mod fleet;
pub mod killer;
pub mod proxy;
pub mod reconcile;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use patrol_core::sync::CancelToken;
use patrol_core::user::Role;

use self::fleet::{Contested, Device, Tally};
use self::killer::Killer;
use self::proxy::{FaultPlan, FaultProxy, ProxyCounts};
use self::reconcile::{Baseline, Findings, ServerDb};
use crate::{Backend, Server};

/// A small seeded generator (splitmix64): the workload and the faults need variety that a seed
/// can replay, not quality.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next number.
    #[allow(clippy::should_implement_trait)] // not an iterator: it never ends
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    /// True one time in `one_in`.
    pub fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in.max(1)) == 0
    }
}

/// What a thread that panicked said.
pub(crate) fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

/// The seed of a run: `PATROL_FAULT_SEED` when set (to replay a failure), else new each time.
pub fn seed_from_env() -> u64 {
    std::env::var("PATROL_FAULT_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
}

/// How a run goes.
#[derive(Debug, Clone)]
pub struct FaultRun {
    /// The server's store.
    pub backend: Backend,
    /// How many phones (at least 5: one of each kind of work).
    pub devices: usize,
    /// How long the devices work through faults and kills.
    pub storm: Duration,
    /// The seed of the workload, the faults and the kills.
    pub seed: u64,
    /// How often each fault strikes.
    pub plan: FaultPlan,
    /// The server is killed every so often, uniformly in this range.
    pub kill_every: (Duration, Duration),
    /// And stays down up to this long.
    pub down: Duration,
    /// How long the outboxes may take to drain once the faults stop.
    pub drain_timeout: Duration,
    /// Print a progress line this often.
    pub progress: Option<Duration>,
    /// Where the server's data and the phones' databases go (kept when the run fails).
    pub work_dir: PathBuf,
}

impl FaultRun {
    /// The test command's run: ten phones for forty seconds, the server killed every four to
    /// eight seconds.
    pub fn bounded(backend: Backend, seed: u64) -> FaultRun {
        FaultRun {
            backend,
            devices: 10,
            storm: Duration::from_secs(40),
            seed,
            plan: FaultPlan::STORMY,
            kill_every: (Duration::from_secs(4), Duration::from_secs(8)),
            down: Duration::from_millis(700),
            drain_timeout: Duration::from_secs(120),
            progress: None,
            work_dir: std::env::temp_dir()
                .join(format!("patrol-faults-{}", uuid::Uuid::now_v7().simple())),
        }
    }

    fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }
}

/// What a run did and found.
#[derive(Debug, Clone)]
pub struct Summary {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Its seed.
    pub seed: u64,
    /// Phones.
    pub devices: usize,
    /// The time under faults.
    pub storm: Duration,
    /// The time the outboxes took to drain afterwards.
    pub drain: Duration,
    /// The whole run, set-up and check included.
    pub total: Duration,
    /// Ops the server answered while the faults went on (the rest went in the drain).
    pub answered_in_storm: u64,
    /// What the proxy did.
    pub proxy: ProxyCounts,
    /// Server kills.
    pub kills: u64,
    /// Syncs that finished and that failed.
    pub syncs: (u64, u64),
    /// Times a person had to sign in again.
    pub sign_ins_again: u64,
    /// Actions the phones' rules refused offline.
    pub refused_offline: u64,
    /// Photos taken.
    pub photos: u64,
    /// Issues raced on deliberately.
    pub contested: usize,
    /// The check.
    pub findings: Findings,
    /// Everything that went wrong besides the findings' counts (a phone that broke, a server
    /// that did not come back, outboxes that did not drain), and the findings' problems.
    pub problems: Vec<String>,
    /// What `verify-audit` said of the evidence (chains, sign-offs, seals, photos).
    pub evidence: String,
}

impl Summary {
    /// No loss, no duplicate, no misrouting, nothing else wrong.
    pub fn clean(&self) -> bool {
        self.findings.clean() && self.problems.is_empty()
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let x = &self.findings;
        writeln!(
            f,
            "fault run on {}, seed {} (PATROL_FAULT_SEED={} replays it): {} devices, {:.1} s of faults, drained in {:.1} s, {:.1} s in all",
            self.backend,
            self.seed,
            self.seed,
            self.devices,
            self.storm.as_secs_f64(),
            self.drain.as_secs_f64(),
            self.total.as_secs_f64()
        )?;
        writeln!(
            f,
            "  ops pushed {} (applied {}, refused in deliberate races {}; {} answered while the faults went on, the rest in the drain); photos {}; issues reported {}; rounds {}, visits {}, answers {}",
            x.ops,
            x.applied,
            x.refused_in_races,
            self.answered_in_storm.min(x.ops),
            self.photos,
            x.reported,
            x.runs,
            x.visits,
            x.results
        )?;
        writeln!(
            f,
            "  requests {} (pushes {}); faults {}: {}; answered 502 while the server was down: {}",
            self.proxy.requests,
            self.proxy.pushes,
            self.proxy.total_faults(),
            self.proxy.faults_line(),
            self.proxy.no_upstream
        )?;
        writeln!(
            f,
            "  server killed {} times; syncs {} finished, {} failed; signed in again {}; refused offline {}; contested issues {}",
            self.kills,
            self.syncs.0,
            self.syncs.1,
            self.sign_ins_again,
            self.refused_offline,
            self.contested
        )?;
        writeln!(
            f,
            "  lost {}, duplicated {}, misrouted {}, disagreeing {}, stale {}; evidence: {}",
            x.lost, x.duplicated, x.misrouted, x.disagreeing, x.stale, self.evidence
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

/// Run `patrol-server verify-audit` on the server's data folder and database: every audit
/// chain, sign-off, round seal and the photos they name must verify (exit 0).
pub fn verify_evidence(server: &Server) -> Result<String, String> {
    verify_evidence_of(server.admin(&["verify-audit"], ""))
}

/// What `verify-audit` said (its first `verify…` line), or why it failed.
pub fn verify_evidence_of((ok, out): (bool, String)) -> Result<String, String> {
    let said = out
        .lines()
        .find(|l| l.starts_with("verify"))
        .unwrap_or(&out)
        .to_owned();
    if ok {
        Ok(said)
    } else {
        Err(format!("patrol-server verify-audit failed: {out}"))
    }
}

fn add_people(server: &Server, people: &[fleet::Person]) {
    add_people_with(people, |args, stdin| server.admin(args, stdin));
}

/// Add everyone not the demo's with `patrol-server user add` on their site, run by `admin`.
pub fn add_people_with(people: &[fleet::Person], admin: impl Fn(&[&str], &str) -> (bool, String)) {
    for p in people.iter().filter(|p| !p.demo) {
        let mut args = vec![
            "user",
            "add",
            "--username",
            &p.username,
            "--role",
            p.role.as_str(),
            "--site",
            &p.site,
        ];
        if let Some(team) = p.team {
            args.extend(["--team", team.as_str()]);
        }
        let (ok, out) = admin(&args, &p.password);
        assert!(ok, "user add {}: {out}", p.username);
    }
}

/// Sync every phone with a pending outbox until all are empty or `timeout` passes; what is
/// left, in words.
pub fn drain(devices: &[Arc<Device>], tally: &Tally, timeout: Duration) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    let cancel = CancelToken::new();
    let mut last_errors: Vec<Option<String>> = vec![None; devices.len()];
    loop {
        let mut left = Vec::new();
        for (i, d) in devices.iter().enumerate() {
            let pending = d
                .engine
                .pending_counts()
                .unwrap_or_else(|e| panic!("pending counts of {}: {e}", d.person.username));
            if pending.ops == 0 && pending.photos == 0 {
                continue;
            }
            left.push((i, pending));
            if let Err(e) = d.sync(tally, &cancel) {
                last_errors[i] = Some(e.to_string());
            }
        }
        if left.is_empty() {
            return Vec::new();
        }
        if Instant::now() > deadline {
            return left
                .into_iter()
                .map(|(i, p)| {
                    format!(
                        "{}'s outbox did not drain in {:?} after the faults stopped: {} ops, {} photos left; last error: {}",
                        devices[i].person.username,
                        timeout,
                        p.ops,
                        p.photos,
                        last_errors[i].as_deref().unwrap_or("none")
                    )
                })
                .collect();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every phone syncs until each shows every issue as the server has it (a change made by the
/// server's background work between two pulls takes one more), at most three times.
pub fn converge(devices: &[Arc<Device>], tally: &Tally, db: &ServerDb) {
    let cancel = CancelToken::new();
    for _ in 0..3 {
        for d in devices {
            let _ = d.sync(tally, &cancel);
        }
        if reconcile::stale_issues(devices, db).is_empty() {
            return;
        }
    }
}

fn progress_line(started: Instant, tally: &Tally, proxy: &ProxyCounts, kills: u64) -> String {
    format!(
        "[{:>5.0} s] ops made {} answered {} | requests {} faults {} ({}) | kills {} | syncs {} ok {} failed",
        started.elapsed().as_secs_f64(),
        Tally::get(&tally.actions),
        Tally::get(&tally.answered),
        proxy.requests,
        proxy.total_faults(),
        proxy.faults_line(),
        kills,
        Tally::get(&tally.syncs_ok),
        Tally::get(&tally.syncs_failed),
    )
}

/// Run the harness once and say what happened. The server's data and the phones' databases
/// stay in `work_dir` when something was wrong (the summary says where), and go otherwise.
pub fn run(cfg: &FaultRun) -> Summary {
    assert!(cfg.devices >= 5, "a run needs at least 5 devices");
    let started = Instant::now();
    let dir = &cfg.work_dir;
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let server = Server::start_demo_on(&cfg.backend, &dir.join("server"));
    let people = fleet::cast(cfg.devices);
    add_people(&server, &people);
    let db = ServerDb::of(&server);
    let baseline = Baseline::take(&db);

    let proxy = Arc::new(FaultProxy::start(cfg.seed));
    proxy.set_upstream(Some(&server.base_url));
    let supervisors: Vec<&str> = people
        .iter()
        .filter(|p| p.role == Role::Supervisor)
        .map(|p| p.username.as_str())
        .collect();
    let devices: Vec<Arc<Device>> = people
        .iter()
        .map(|p| {
            let share = supervisors
                .iter()
                .position(|s| *s == p.username)
                .map_or((0, 0), |i| (i as u64, supervisors.len() as u64));
            Arc::new(Device::sign_in(
                &dir.join("devices"),
                p,
                &proxy.base_url,
                share,
            ))
        })
        .collect();

    let server = Arc::new(Mutex::new(server));
    let tally = Arc::new(Tally::default());
    let contested = Arc::new(Contested::default());
    proxy.set_plan(cfg.plan);
    let storm_started = Instant::now();
    let killer = Killer::start(
        server.clone(),
        proxy.clone(),
        cfg.seed.rotate_left(32),
        cfg.kill_every,
        cfg.down,
    );
    let working = fleet::work(&devices, cfg.seed, &tally, &contested);
    let mut next_progress = cfg.progress.map(|p| Instant::now() + p);
    while storm_started.elapsed() < cfg.storm {
        std::thread::sleep(Duration::from_millis(100));
        if let (Some(at), Some(every)) = (next_progress, cfg.progress)
            && Instant::now() >= at
        {
            eprintln!(
                "{}",
                progress_line(started, &tally, &proxy.counts(), killer.kills())
            );
            next_progress = Some(at + every);
        }
    }
    let mut problems = working.stop();
    let storm = storm_started.elapsed();
    let answered_in_storm = Tally::get(&tally.answered);
    proxy.set_plan(FaultPlan::NONE);
    let kills = match killer.stop() {
        Ok(k) => k,
        Err(e) => {
            problems.push(e);
            0
        }
    };
    let server = Arc::try_unwrap(server)
        .ok()
        .and_then(|m| m.into_inner().ok())
        .unwrap_or_else(|| panic!("the killer still holds the server"));
    proxy.set_upstream(Some(&server.base_url));

    let drain_started = Instant::now();
    let failures_before_drain = problems.len();
    problems.extend(drain(&devices, &tally, cfg.drain_timeout));
    let drained = drain_started.elapsed();
    let drained_all = problems.len() == failures_before_drain;
    let findings = if drained_all {
        converge(&devices, &tally, &db);
        reconcile::reconcile(&devices, &db, &baseline, &contested)
    } else {
        Findings::default()
    };
    problems.extend(findings.problems.iter().cloned());
    // Every chain linked, every sign-off signed and every finished round sealed, through
    // every kill and repeat.
    let evidence = match verify_evidence(&server) {
        Ok(said) => said,
        Err(e) => {
            problems.push(e);
            "FAILED".to_owned()
        }
    };
    let summary = Summary {
        backend: cfg.backend_name(),
        seed: cfg.seed,
        devices: devices.len(),
        storm,
        drain: drained,
        total: started.elapsed(),
        answered_in_storm,
        proxy: proxy.counts(),
        kills,
        syncs: (Tally::get(&tally.syncs_ok), Tally::get(&tally.syncs_failed)),
        sign_ins_again: Tally::get(&tally.sign_ins_again),
        refused_offline: Tally::get(&tally.refused_offline),
        photos: Tally::get(&tally.photos),
        contested: contested.len(),
        findings,
        problems,
        evidence,
    };
    drop(devices);
    drop(server);
    if summary.clean() {
        let _ = std::fs::remove_dir_all(dir);
    } else {
        eprintln!("the run's data is kept in {}", dir.display());
    }
    summary
}
