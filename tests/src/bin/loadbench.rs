//! Server load benchmarks of issue 14 (not tests), each on a release server started for the run
//! on SQLite or PostgreSQL:
//!
//! - `devices`: push latency with 1,000 simulated phones pushing patrol rounds at once, each
//!   checkpoint's visit and answers a push, a random think time between pushes, next to the
//!   same server's `/healthz` latency probed every 20 ms under the same load, and the server's
//!   memory (`VmRSS`, `VmHWM`) at that load. Target: p99 push ≤ 5 × p99 `/healthz`; RSS ≤ 300 MB.
//! - `first-pull`: a new phone's first pull (cursor 0, paged to the end as the sync client
//!   pages it) of a 500-checkpoint site with 30 days of open issues, uncompressed, gzip and
//!   zstd: time on localhost and bytes on the wire. Target: under 200 ms of server time;
//!   compressed ≤ 0.3 × uncompressed.
//!
//! Each prints a table per run, medians with ranges over `--runs` runs, and one line per target.
//! `scripts/bench-load` builds the release server and this binary and runs both on both
//! backends. See BENCHMARKS.md.
#![allow(clippy::print_stdout)] // a benchmark reports on stdout

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Args as ClapArgs, Parser, Subcommand};
use jiff::{SignedDuration, Timestamp};
use patrol_e2e::faults::Rng;
use patrol_e2e::faults::reconcile::ServerDb;
use patrol_e2e::fieldsim::estate;
use patrol_e2e::latency::{Latency, Percentiles, median};
use patrol_e2e::rounds::{self, Route};
use patrol_e2e::{Http, Server, SharedDatabase, admin_on, op};
use serde_json::{Value, json};

#[derive(Parser)]
#[command(
    name = "loadbench",
    about = "Server load: 1,000 devices pushing; a new phone's first pull"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Push latency of many devices at once against /healthz, and the server's memory.
    Devices(DevicesArgs),
    /// A new phone's first pull of a large site: time and bytes, compressed and not.
    FirstPull(FirstPullArgs),
}

#[derive(ClapArgs)]
struct Common {
    /// `sqlite` or `postgres` (a new database on `--database-url` for each run).
    #[arg(long, default_value = "sqlite")]
    backend: String,
    /// PostgreSQL server to make the runs' databases on.
    #[arg(long, env = "PATROL_TEST_DATABASE_URL")]
    database_url: Option<String>,
    /// Runs, each on a new server and database; medians and ranges are reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Where the data folders go (a real disk: the server's syncs are part of what is measured).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The workload's seed.
    #[arg(long, default_value_t = 14)]
    seed: u64,
}

impl Common {
    /// The PostgreSQL server URL, or none for SQLite.
    fn postgres(&self) -> Option<String> {
        match self.backend.as_str() {
            "sqlite" => None,
            "postgres" => Some(
                self.database_url
                    .clone()
                    .unwrap_or_else(|| panic!("--backend postgres needs --database-url")),
            ),
            other => panic!("unknown backend {other} (sqlite or postgres)"),
        }
    }

    fn data_dir(&self, what: &str) -> PathBuf {
        let root = self.dir.clone().unwrap_or_else(std::env::temp_dir);
        root.join(format!(
            "patrol-loadbench-{what}-{}",
            uuid::Uuid::now_v7().simple()
        ))
    }
}

#[derive(ClapArgs)]
struct DevicesArgs {
    #[command(flatten)]
    common: Common,
    /// Simulated devices, each its own thread, device id and op numbering.
    #[arg(long, default_value_t = 1000)]
    devices: usize,
    /// Seconds of load measured (after the warm-up).
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Seconds of load before measuring, while the devices start (each at a random moment).
    #[arg(long, default_value_t = 5)]
    warmup: u64,
    /// Patrollers the devices belong to (several phones a person; each device keeps one).
    #[arg(long, default_value_t = 20)]
    users: usize,
    /// Shortest think time between a device's pushes, ms.
    #[arg(long, default_value_t = 1000)]
    think_min_ms: u64,
    /// Longest think time between a device's pushes, ms.
    #[arg(long, default_value_t = 5000)]
    think_max_ms: u64,
    /// Milliseconds between two /healthz probes.
    #[arg(long, default_value_t = 20)]
    probe_ms: u64,
}

#[derive(ClapArgs)]
struct FirstPullArgs {
    #[command(flatten)]
    common: Common,
    /// Checkpoints of the site.
    #[arg(long, default_value_t = 500)]
    checkpoints: usize,
    /// Days of issues, up to now; all still open.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Fewest issues reported a day.
    #[arg(long, default_value_t = 10)]
    per_day_min: u64,
    /// Most issues reported a day.
    #[arg(long, default_value_t = 30)]
    per_day_max: u64,
    /// Timed first pulls per encoding per run (after one warm-up each), interleaved.
    #[arg(long, default_value_t = 20)]
    pulls: usize,
    /// Changes a page, as the sync client asks (`SyncOptions::pull_limit`).
    #[arg(long, default_value_t = 500)]
    limit: u32,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Devices(a) => devices(&a),
        Command::FirstPull(a) => first_pull(&a),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `median (lo–hi)` with `digits` decimals.
fn mr(values: &[f64], digits: usize) -> String {
    let (m, lo, hi) = median(values);
    format!("{m:.digits$} ({lo:.digits$}–{hi:.digits$})")
}

/// `holds` when every run met the target, and says so when only the median did.
fn verdict(ok: &[bool], median_ok: bool) -> &'static str {
    if ok.iter().all(|b| *b) {
        "holds"
    } else if median_ok {
        "holds at the median, not in every run"
    } else {
        "does not hold"
    }
}

/// A server's memory from `/proc/<pid>/status`, in kB: `(VmRSS, VmHWM)`.
fn memory_kb(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A server on its own data folder and, on PostgreSQL, its own new database (dropped after
/// the server).
struct Stage {
    dir: PathBuf,
    database: Option<SharedDatabase>,
}

impl Stage {
    fn new(common: &Common, what: &str) -> Stage {
        let dir = common.data_dir(what);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        Stage {
            database: common.postgres().as_deref().map(SharedDatabase::create),
            dir,
        }
    }

    fn url(&self) -> Option<String> {
        self.database.as_ref().map(SharedDatabase::url)
    }

    fn db(&self) -> ServerDb {
        match self.url() {
            Some(u) => ServerDb::Postgres(u),
            None => ServerDb::Sqlite(self.dir.join("patrol.db")),
        }
    }

    fn admin(&self, args: &[&str], stdin: &str) {
        let (ok, out) = admin_on(&self.dir, self.url().as_deref(), args, stdin, &[]);
        assert!(ok, "patrol-server {}: {out}", args.join(" "));
    }

    fn add_user(&self, username: &str, role: &str, site: &str, team: Option<&str>) {
        let mut args = vec![
            "user",
            "add",
            "--username",
            username,
            "--role",
            role,
            "--site",
            site,
        ];
        if let Some(t) = team {
            args.extend(["--team", t]);
        }
        self.admin(&args, PASSWORD);
    }

    fn start(&self, extra: &[&str]) -> Server {
        let url = self.url();
        let mut all: Vec<&str> = extra.to_vec();
        if let Some(u) = &url {
            all.extend(["--database-url", u]);
        }
        Server::start(&self.dir, &all)
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const PASSWORD: &str = "loadbench-password";

fn count(db: &ServerDb, table: &str) -> u64 {
    db.rows(&format!("SELECT CAST(COUNT(*) AS TEXT) FROM {table}"))
        .first()
        .and_then(|r| r[0].parse().ok())
        .unwrap_or(0)
}

// ---- devices ----

/// What one run of `devices` measured.
struct DevicesRun {
    pushes: u64,
    ops: u64,
    secs: f64,
    push: Percentiles,
    healthz: Percentiles,
    rss_max_kb: u64,
    hwm_kb: u64,
    errors: u64,
    first_error: Option<String>,
    all_pushes: u64,
    all_ops: u64,
    stored_ops: u64,
}

/// Counts shared by the device threads.
#[derive(Default)]
struct Tally {
    pushes: AtomicU64,
    ops: AtomicU64,
    all_pushes: AtomicU64,
    all_ops: AtomicU64,
    errors: AtomicU64,
    first_error: std::sync::Mutex<Option<String>>,
}

impl Tally {
    fn error(&self, what: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut e) = self.first_error.lock() {
            e.get_or_insert(what);
        }
    }
}

fn devices(args: &DevicesArgs) -> ExitCode {
    assert!(
        args.think_max_ms >= args.think_min_ms,
        "--think-max-ms < --think-min-ms"
    );
    let mut runs = Vec::new();
    for n in 1..=args.common.runs {
        let r = devices_run(args, n);
        println!(
            "run {n}: {} pushes ({:.0}/s), {} ops ({:.0}/s); push {}; /healthz {}; p99 push / p99 /healthz {:.2}; RSS max {:.1} MB, peak (VmHWM) {:.1} MB; errors {}",
            r.pushes,
            r.pushes as f64 / r.secs,
            r.ops,
            r.ops as f64 / r.secs,
            r.push,
            r.healthz,
            ratio(&r),
            r.rss_max_kb as f64 / 1024.0,
            r.hwm_kb as f64 / 1024.0,
            r.errors,
        );
        if let Some(e) = &r.first_error {
            println!("  first error: {e}");
        }
        runs.push(r);
    }
    let of = |f: &dyn Fn(&DevicesRun) -> f64| runs.iter().map(f).collect::<Vec<f64>>();
    println!();
    println!(
        "devices: backend {}, {} devices ({} patrollers), a push every {:.1}–{:.1} s each, {} s measured after {} s of warm-up, /healthz every {} ms; {} runs, median (range)",
        args.common.backend,
        args.devices,
        args.users,
        args.think_min_ms as f64 / 1000.0,
        args.think_max_ms as f64 / 1000.0,
        args.seconds,
        args.warmup,
        args.probe_ms,
        runs.len()
    );
    println!("| figure | median (range) |");
    println!("| --- | --- |");
    let rows: [(&str, Vec<f64>, usize); 14] = [
        ("pushes/s", of(&|r| r.pushes as f64 / r.secs), 0),
        ("ops/s", of(&|r| r.ops as f64 / r.secs), 0),
        (
            "ops a push",
            of(&|r| r.ops as f64 / r.pushes.max(1) as f64),
            1,
        ),
        ("push p50, ms", of(&|r| ms(r.push.p50)), 1),
        ("push p90, ms", of(&|r| ms(r.push.p90)), 1),
        ("push p99, ms", of(&|r| ms(r.push.p99)), 1),
        ("push max, ms", of(&|r| ms(r.push.max)), 0),
        ("/healthz p50, ms", of(&|r| ms(r.healthz.p50)), 2),
        ("/healthz p99, ms", of(&|r| ms(r.healthz.p99)), 1),
        ("/healthz probes", of(&|r| r.healthz.count as f64), 0),
        ("p99 push / p99 /healthz", of(&ratio), 2),
        (
            "server RSS max while loaded, MB",
            of(&|r| r.rss_max_kb as f64 / 1024.0),
            1,
        ),
        (
            "server RSS peak (VmHWM), MB",
            of(&|r| r.hwm_kb as f64 / 1024.0),
            1,
        ),
        (
            "errors (ops not applied, failed pushes)",
            of(&|r| r.errors as f64),
            0,
        ),
    ];
    for (name, values, digits) in &rows {
        println!("| {name} | {} |", mr(values, *digits));
    }
    println!(
        "every op acknowledged: {} (pushes answered 200 with every op `applied`, and the server's ops table grew by exactly the ops sent)",
        if runs
            .iter()
            .all(|r| r.errors == 0 && r.stored_ops == r.all_ops)
        {
            "yes"
        } else {
            "NO"
        }
    );
    println!(
        "memory is the server process's own (PostgreSQL's processes are not counted); latencies are measured by a client on the same 2 cores"
    );
    let ratios = of(&ratio);
    let (rm, _, _) = median(&ratios);
    let p99 = of(&|r| ms(r.push.p99));
    let hz = of(&|r| ms(r.healthz.p99));
    println!(
        "target p99 push ≤ 5 × p99 /healthz: {} (ratio {} ×; p99 push {} ms, p99 /healthz {} ms)",
        verdict(
            &ratios.iter().map(|r| *r <= 5.0).collect::<Vec<_>>(),
            rm <= 5.0
        ),
        mr(&ratios, 2),
        mr(&p99, 1),
        mr(&hz, 1),
    );
    let hwm = of(&|r| r.hwm_kb as f64 / 1024.0);
    let (hm, _, _) = median(&hwm);
    println!(
        "target server RSS ≤ 300 MB: {} (peak VmHWM {} MB)",
        verdict(
            &hwm.iter().map(|m| *m <= 300.0).collect::<Vec<_>>(),
            hm <= 300.0
        ),
        mr(&hwm, 1),
    );
    let correct = runs
        .iter()
        .all(|r| r.errors == 0 && r.stored_ops == r.all_ops && r.all_pushes > 0);
    if correct {
        ExitCode::SUCCESS
    } else {
        println!("FAILED: not every op was acknowledged");
        ExitCode::FAILURE
    }
}

fn ratio(r: &DevicesRun) -> f64 {
    ms(r.push.p99) / ms(r.healthz.p99).max(1e-3)
}

fn devices_run(args: &DevicesArgs, n: usize) -> DevicesRun {
    let stage = Stage::new(&args.common, "devices");
    let setup = Instant::now();
    // The demo estate, and patrollers of its site for the devices.
    let server = stage.start(&["--demo"]);
    let users: Vec<String> = (1..=args.users.max(1))
        .map(|i| format!("load-patrol-{i:02}"))
        .collect();
    for u in &users {
        stage.add_user(u, "patrol", "demo", None);
    }
    let http = Http::new(&server.base_url);
    let tokens: Arc<Vec<String>> =
        Arc::new(users.iter().map(|u| http.token(u, PASSWORD)).collect());
    let routes: Arc<Vec<Route>> =
        Arc::new(rounds::routes(&rounds::pull_all(&http, &tokens[0], 500)));
    let db = stage.db();
    let ops_before = count(&db, "ops");
    eprintln!(
        "[run {n}] set up in {:.1} s: demo estate, {} patrollers signed in, {} routes; starting {} devices",
        setup.elapsed().as_secs_f64(),
        users.len(),
        routes.len(),
        args.devices
    );

    let tally = Arc::new(Tally::default());
    let push_latency = Arc::new(Latency::default());
    let healthz_latency = Arc::new(Latency::default());
    let started = Instant::now();
    let measure_from = started + Duration::from_secs(args.warmup);
    let end = measure_from + Duration::from_secs(args.seconds);
    let think = (args.think_min_ms, args.think_max_ms);
    let mut threads = Vec::new();
    for d in 0..args.devices {
        let (tally, latency, tokens, routes) = (
            tally.clone(),
            push_latency.clone(),
            tokens.clone(),
            routes.clone(),
        );
        let base = server.base_url.clone();
        let seed = args
            .common
            .seed
            .wrapping_mul(1_000_003)
            .wrapping_add(d as u64);
        let t = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                device(
                    &base,
                    &tokens[d % tokens.len()],
                    &routes,
                    d,
                    seed,
                    think,
                    (measure_from, end),
                    &tally,
                    &latency,
                );
            })
            .unwrap_or_else(|e| panic!("device thread: {e}"));
        threads.push(t);
    }
    // The prober: /healthz every `probe_ms` on its own connection.
    let prober = {
        let base = server.base_url.clone();
        let latency = healthz_latency.clone();
        let every = Duration::from_millis(args.probe_ms.max(1));
        let tally = tally.clone();
        std::thread::spawn(move || {
            let http = Http::new(&base);
            let mut next = Instant::now();
            while Instant::now() < end {
                let t0 = Instant::now();
                let (status, _) = http.get("/healthz", None);
                if t0 >= measure_from {
                    latency.record(t0.elapsed());
                }
                if status != 200 {
                    tally.error(format!("/healthz answered {status}"));
                }
                next += every;
                let now = Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                } else {
                    next = now;
                }
            }
        })
    };
    // The server's memory, sampled while loaded; progress on stderr.
    let pid = server.pid();
    let mut rss_max = 0;
    let mut last_progress = Instant::now();
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(250));
        let (rss, _) = memory_kb(pid);
        if Instant::now() >= measure_from {
            rss_max = rss_max.max(rss);
        }
        if last_progress.elapsed() >= Duration::from_secs(10) {
            last_progress = Instant::now();
            eprintln!(
                "[run {n}] {:>3.0} s: {} pushes, {} ops, push {}, RSS {:.1} MB, errors {}",
                started.elapsed().as_secs_f64(),
                tally.all_pushes.load(Ordering::Relaxed),
                tally.all_ops.load(Ordering::Relaxed),
                push_latency.summary(),
                rss as f64 / 1024.0,
                tally.errors.load(Ordering::Relaxed),
            );
        }
    }
    for t in threads {
        if t.join().is_err() {
            tally.error("a device thread panicked".to_owned());
        }
    }
    let _ = prober.join();
    let (_, hwm) = memory_kb(pid);
    let stored = count(&db, "ops").saturating_sub(ops_before);
    drop(server);
    let first_error = tally.first_error.lock().ok().and_then(|e| e.clone());
    DevicesRun {
        pushes: tally.pushes.load(Ordering::Relaxed),
        ops: tally.ops.load(Ordering::Relaxed),
        secs: args.seconds.max(1) as f64,
        push: push_latency.summary(),
        healthz: healthz_latency.summary(),
        rss_max_kb: rss_max,
        hwm_kb: hwm,
        errors: tally.errors.load(Ordering::Relaxed),
        first_error,
        all_pushes: tally.all_pushes.load(Ordering::Relaxed),
        all_ops: tally.all_ops.load(Ordering::Relaxed),
        stored_ops: stored,
    }
}

/// One simulated phone: rounds of the routes, each checkpoint's visit and answers pushed as
/// they are recorded, then a think time; until `end`. Pushes started in `window` are measured.
#[allow(clippy::too_many_arguments)]
fn device(
    base: &str,
    token: &str,
    routes: &[Route],
    d: usize,
    seed: u64,
    think: (u64, u64),
    window: (Instant, Instant),
    tally: &Tally,
    latency: &Latency,
) {
    let (measure_from, end) = window;
    let mut rng = Rng::new(seed);
    let think_ms = |rng: &mut Rng| think.0 + rng.below(think.1 - think.0 + 1);
    let device = uuid::Uuid::now_v7().to_string();
    let client = Http::new(base);
    // Phones start at different moments.
    std::thread::sleep(Duration::from_millis(rng.below(think.1 + 1)));
    let mut seq = 0u64;
    let mut walk: std::collections::VecDeque<Vec<rounds::Body>> = Default::default();
    let mut round = d;
    // A push that failed is sent again after the think time, as the phone's outbox does.
    let mut unsent: Option<Vec<Value>> = None;
    while Instant::now() < end {
        if walk.is_empty() {
            walk = rounds::walk(&routes[round % routes.len()]).into();
            round += 1;
        }
        let ops: Vec<Value> = match unsent.take() {
            Some(ops) => ops,
            None => walk
                .pop_front()
                .unwrap_or_default()
                .into_iter()
                .map(|(kind, body)| {
                    seq += 1;
                    op(seq, kind, body)
                })
                .collect(),
        };
        let t0 = Instant::now();
        let (status, body) = client.push(token, &device, &ops);
        let took = t0.elapsed();
        let applied = body["results"]
            .as_array()
            .map_or(0, |r| r.iter().filter(|r| r["status"] == "applied").count());
        if t0 >= measure_from {
            latency.record(took);
        }
        if status == 200 {
            // Answered: what the server's ops table must have grown by.
            tally.all_pushes.fetch_add(1, Ordering::Relaxed);
            tally.all_ops.fetch_add(ops.len() as u64, Ordering::Relaxed);
            if t0 >= measure_from {
                tally.pushes.fetch_add(1, Ordering::Relaxed);
                tally.ops.fetch_add(ops.len() as u64, Ordering::Relaxed);
            }
        } else {
            tally.error(format!("device {d}: push answered {status}: {body}"));
            unsent = Some(ops);
            std::thread::sleep(Duration::from_millis(think_ms(&mut rng)));
            continue;
        }
        if applied != ops.len() {
            let refused: Vec<&Value> = body["results"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|r| r["status"] != "applied")
                .collect();
            tally.error(format!(
                "device {d}: {} of {} ops not applied: {}",
                ops.len() - applied,
                ops.len(),
                json!(refused)
            ));
        }
        std::thread::sleep(Duration::from_millis(think_ms(&mut rng)));
    }
}

// ---- first pull ----

/// How a pull asks for its pages to be encoded.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Identity,
    Gzip,
    Zstd,
}

impl Encoding {
    const ALL: [Encoding; 3] = [Encoding::Identity, Encoding::Gzip, Encoding::Zstd];

    fn name(self) -> &'static str {
        match self {
            Encoding::Identity => "uncompressed",
            Encoding::Gzip => "gzip",
            Encoding::Zstd => "zstd",
        }
    }

    fn header(self) -> Option<&'static str> {
        match self {
            Encoding::Identity => None,
            Encoding::Gzip => Some("gzip"),
            Encoding::Zstd => Some("zstd"),
        }
    }
}

/// One answer as it came over the wire.
struct Reply {
    status: u16,
    content_encoding: Option<String>,
    body: Vec<u8>,
    /// Bytes read from the socket: status line, headers, chunk framing and body.
    wire: usize,
}

/// A bare HTTP/1.1 client on one keep-alive connection, so the bytes on the wire are counted
/// exactly and no encoding is asked for unless asked (ureq asks for gzip by itself).
struct RawHttp {
    reader: BufReader<TcpStream>,
    host: String,
}

impl RawHttp {
    fn connect(base_url: &str) -> RawHttp {
        let host = base_url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let stream = TcpStream::connect(&host).unwrap_or_else(|e| panic!("connect {host}: {e}"));
        let _ = stream.set_nodelay(true);
        let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
        RawHttp {
            reader: BufReader::new(stream),
            host,
        }
    }

    fn line(&mut self, wire: &mut usize) -> String {
        let mut line = String::new();
        let n = self
            .reader
            .read_line(&mut line)
            .unwrap_or_else(|e| panic!("read: {e}"));
        assert!(n > 0, "the server closed the connection");
        *wire += n;
        line.trim_end().to_owned()
    }

    fn get(&mut self, path: &str, headers: &[(&str, String)]) -> Reply {
        let mut req = format!("GET {path} HTTP/1.1\r\nhost: {}\r\n", self.host);
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        self.reader
            .get_mut()
            .write_all(req.as_bytes())
            .unwrap_or_else(|e| panic!("write: {e}"));
        let mut wire = 0;
        let status_line = self.line(&mut wire);
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let (mut length, mut chunked, mut content_encoding) = (None, false, None);
        loop {
            let h = self.line(&mut wire);
            if h.is_empty() {
                break;
            }
            let Some((k, v)) = h.split_once(':') else {
                continue;
            };
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_owned());
            match k.as_str() {
                "content-length" => length = v.parse::<usize>().ok(),
                "transfer-encoding" => chunked = v.eq_ignore_ascii_case("chunked"),
                "content-encoding" => content_encoding = Some(v.to_ascii_lowercase()),
                _ => {}
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                let size_line = self.line(&mut wire);
                let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("0"), 16)
                    .unwrap_or_else(|e| panic!("chunk size {size_line:?}: {e}"));
                if size == 0 {
                    // Trailers, then the blank line.
                    while !self.line(&mut wire).is_empty() {}
                    break;
                }
                let at = body.len();
                body.resize(at + size, 0);
                self.reader
                    .read_exact(&mut body[at..])
                    .unwrap_or_else(|e| panic!("read chunk: {e}"));
                wire += size;
                let _ = self.line(&mut wire);
            }
        } else {
            let n = length.unwrap_or_else(|| panic!("an answer with neither length nor chunks"));
            body.resize(n, 0);
            self.reader
                .read_exact(&mut body)
                .unwrap_or_else(|e| panic!("read body: {e}"));
            wire += n;
        }
        Reply {
            status,
            content_encoding,
            body,
            wire,
        }
    }
}

/// One first pull, from cursor 0 to the end.
#[derive(Clone, Default)]
struct Pull {
    /// The requests alone, first byte sent to last byte received, summed over the pages.
    requests: Duration,
    /// The whole pull: connecting, the requests, decoding and reading each page.
    wall: Duration,
    pages: usize,
    changes: usize,
    kinds: std::collections::BTreeMap<String, usize>,
    /// Bytes read from the socket.
    wire: usize,
    /// Body bytes as sent (compressed when asked).
    body: usize,
    /// Body bytes decoded.
    json: usize,
}

fn pull_once(base: &str, token: &str, limit: u32, enc: Encoding) -> Pull {
    let started = Instant::now();
    let mut http = RawHttp::connect(base);
    let mut out = Pull::default();
    let mut cursor = String::new();
    loop {
        let mut headers = vec![
            ("authorization", format!("Bearer {token}")),
            (
                patrol_core::wire::PROTOCOL_HEADER,
                patrol_core::wire::PROTOCOL_VERSION.to_string(),
            ),
        ];
        if let Some(e) = enc.header() {
            headers.push(("accept-encoding", e.to_owned()));
        }
        let t0 = Instant::now();
        let reply = http.get(
            &format!("/api/v1/sync/pull?since={cursor}&limit={limit}"),
            &headers,
        );
        out.requests += t0.elapsed();
        assert_eq!(
            reply.status,
            200,
            "pull: {}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(
            reply.content_encoding.as_deref(),
            enc.header(),
            "asked for {}, got {:?}",
            enc.name(),
            reply.content_encoding
        );
        let json = match enc {
            Encoding::Identity => reply.body.clone(),
            Encoding::Gzip => {
                let mut v = Vec::new();
                flate2::read::GzDecoder::new(&reply.body[..])
                    .read_to_end(&mut v)
                    .unwrap_or_else(|e| panic!("gunzip: {e}"));
                v
            }
            Encoding::Zstd => {
                zstd::stream::decode_all(&reply.body[..]).unwrap_or_else(|e| panic!("zstd: {e}"))
            }
        };
        out.pages += 1;
        out.wire += reply.wire;
        out.body += reply.body.len();
        out.json += json.len();
        let page: Value = serde_json::from_slice(&json).unwrap_or_else(|e| panic!("page: {e}"));
        for c in page["changes"].as_array().into_iter().flatten() {
            out.changes += 1;
            *out.kinds
                .entry(c["entity"].as_str().unwrap_or("?").to_owned())
                .or_default() += 1;
        }
        cursor = page["cursor"].as_str().unwrap_or_default().to_owned();
        if page["more"] != true {
            break;
        }
    }
    out.wall = started.elapsed();
    out
}

/// One run of `first-pull`: per encoding, the timed pulls.
struct PullRun {
    issues: usize,
    pulls: Vec<Vec<Pull>>,
}

fn first_pull(args: &FirstPullArgs) -> ExitCode {
    let mut runs = Vec::new();
    for n in 1..=args.common.runs {
        let r = first_pull_run(args, n);
        println!(
            "run {n}: {} open issues; {}",
            r.issues,
            Encoding::ALL
                .iter()
                .zip(&r.pulls)
                .map(|(e, p)| {
                    let wall: Vec<f64> = p.iter().map(|p| ms(p.wall)).collect();
                    format!(
                        "{}: {:.1} ms median, {} bytes",
                        e.name(),
                        median(&wall).0,
                        p[0].wire
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        );
        runs.push(r);
    }
    let first = &runs[0].pulls[0][0];
    println!();
    println!(
        "first pull: backend {}, a site of {} checkpoints with {} days of open issues ({} issues, median of runs), pulled by a new phone (a supervisor: sees every issue of the site) from cursor 0, {} changes a page; {} timed pulls per encoding per run (interleaved, after one warm-up each); {} runs, median (range) of the runs' figures",
        args.common.backend,
        args.checkpoints,
        args.days,
        median(&runs.iter().map(|r| r.issues as f64).collect::<Vec<_>>()).0,
        args.limit,
        args.pulls,
        runs.len()
    );
    println!(
        "pages {}, changes {} ({})",
        first.pages,
        first.changes,
        first
            .kinds
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "| encoding | requests (server time, upper bound) median, ms | p99, ms | whole pull (client decode included) median, ms | bytes on the wire | body bytes | JSON bytes | wire / uncompressed wire |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    let per_run = |e: usize, f: &dyn Fn(&[Pull]) -> f64| -> Vec<f64> {
        runs.iter().map(|r| f(&r.pulls[e])).collect()
    };
    let q = |pulls: &[Pull], at: f64, of: &dyn Fn(&Pull) -> f64| -> f64 {
        let mut v: Vec<f64> = pulls.iter().map(of).collect();
        v.sort_by(f64::total_cmp);
        let i = ((v.len() as f64 * at).ceil() as usize).clamp(1, v.len()) - 1;
        v[i]
    };
    let mut server_ms = Vec::new();
    let mut ratios = Vec::new();
    for (i, enc) in Encoding::ALL.iter().enumerate() {
        let req = per_run(i, &|p| {
            median(&p.iter().map(|p| ms(p.requests)).collect::<Vec<_>>()).0
        });
        let p99 = per_run(i, &|p| q(p, 0.99, &|p| ms(p.requests)));
        let wall = per_run(i, &|p| {
            median(&p.iter().map(|p| ms(p.wall)).collect::<Vec<_>>()).0
        });
        let wire = per_run(i, &|p| p[0].wire as f64);
        let body = per_run(i, &|p| p[0].body as f64);
        let json = per_run(i, &|p| p[0].json as f64);
        let ratio: Vec<f64> = runs
            .iter()
            .map(|r| r.pulls[i][0].wire as f64 / r.pulls[0][0].wire as f64)
            .collect();
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            enc.name(),
            mr(&req, 1),
            mr(&p99, 1),
            mr(&wall, 1),
            mr(&wire, 0),
            mr(&body, 0),
            mr(&json, 0),
            mr(&ratio, 3)
        );
        server_ms.push(req);
        ratios.push(ratio);
    }
    println!(
        "server time: the localhost wall time of the pull's requests (first byte sent to last byte received, summed over its pages), an upper bound of the server's own time; client and server share the 2 cores"
    );
    for (i, enc) in Encoding::ALL.iter().enumerate() {
        let (m, _, _) = median(&server_ms[i]);
        println!(
            "target first pull under 200 ms of server time, {}: {} ({} ms)",
            enc.name(),
            verdict(
                &server_ms[i].iter().map(|t| *t < 200.0).collect::<Vec<_>>(),
                m < 200.0
            ),
            mr(&server_ms[i], 1)
        );
    }
    for (i, enc) in Encoding::ALL.iter().enumerate().skip(1) {
        let (m, _, _) = median(&ratios[i]);
        println!(
            "target compressed bytes ≤ 0.3 × uncompressed, {}: {} ({} ×)",
            enc.name(),
            verdict(
                &ratios[i].iter().map(|r| *r <= 0.3).collect::<Vec<_>>(),
                m <= 0.3
            ),
            mr(&ratios[i], 3)
        );
    }
    ExitCode::SUCCESS
}

/// The site imported, its people, 30 days of issues reported through `/sync/push` (and some
/// assigned and started), then a new phone's first pulls, timed.
fn first_pull_run(args: &FirstPullArgs, n: usize) -> PullRun {
    let stage = Stage::new(&args.common, "firstpull");
    let setup = Instant::now();
    let site = estate::site_code(0);
    let file = stage.dir.join("site.yaml");
    std::fs::write(
        &file,
        estate::site_file_with_checkpoints(0, args.checkpoints),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    stage.admin(&["site", "import", &file.to_string_lossy()], "");
    stage.add_user("fp-patrol", "patrol", &site, None);
    stage.add_user("fp-super", "supervisor", &site, None);
    stage.add_user("fp-tech", "technician", &site, Some("engineering"));
    let mut server = stage.start(&[]);
    let http = Http::new(&server.base_url);
    let supervisor = http.token("fp-super", PASSWORD);
    let estate = rounds::pull_all(&http, &supervisor, 2000);
    let site_id = rounds::of_kind(&estate, "site")
        .first()
        .map(|s| s["id"].clone())
        .unwrap_or_else(|| panic!("no site in the pull"));
    let checkpoints: Vec<(Value, Value)> = rounds::of_kind(&estate, "checkpoint")
        .into_iter()
        .map(|c| (c["id"].clone(), c["zone_id"].clone()))
        .collect();
    assert_eq!(checkpoints.len(), args.checkpoints, "checkpoints imported");
    let tech_id = rounds::of_kind(&estate, "user")
        .into_iter()
        .find(|u| u["username"] == "fp-tech")
        .map(|u| u["id"].clone())
        .unwrap_or_else(|| panic!("fp-tech is not in the supervisor's pull"));

    // Reports over `days` days, oldest first, by the patroller's phone; engineering's issues
    // half assigned to the technician by the supervisor, half of those started.
    let mut rng = Rng::new(args.common.seed.wrapping_add(n as u64));
    let now = Timestamp::now();
    let categories = [
        ("facility", "灯不亮 / light out"),
        ("fire", "灭火器过期 / extinguisher expired"),
        ("cleaning", "垃圾未清 / rubbish not collected"),
        ("landscaping", "草坪枯黄 / lawn dying"),
        ("security", "门禁损坏 / entry gate broken"),
        ("renovation", "违规装修 / unapproved renovation"),
        ("resident_violation", "占用消防通道 / fire lane blocked"),
        ("facility", "水管渗漏 / pipe leaking"),
    ];
    let mut reports: Vec<(Timestamp, Value)> = Vec::new();
    let mut work: Vec<(Timestamp, &str, Value)> = Vec::new();
    let span = args.per_day_max.max(args.per_day_min) - args.per_day_min + 1;
    for day in 0..args.days {
        let day_start = now - SignedDuration::from_hours(24 * i64::from(args.days - day));
        for _ in 0..args.per_day_min + rng.below(span) {
            let at = day_start + SignedDuration::from_secs(rng.below(24 * 3600) as i64);
            let (category, title) = categories[rng.below(categories.len() as u64) as usize];
            let severity = match rng.below(20) {
                0 => "urgent",
                1..=4 => "major",
                _ => "routine",
            };
            let (cp, zone) = &checkpoints[rng.below(checkpoints.len() as u64) as usize];
            let issue = uuid::Uuid::now_v7();
            reports.push((
                at,
                json!({"issue_id": issue, "site_id": site_id, "zone_id": zone,
                       "checkpoint_id": cp, "category": category, "severity": severity,
                       "title": title,
                       "note": "巡查时发现，已拍照记录，请相关班组尽快处理。/ Found on the round; photographed; please see to it.",
                       "photos": [], "observed_at": at, "source": "patrol"}),
            ));
            if matches!(category, "facility" | "fire") && rng.chance(2) {
                let assigned = (at + SignedDuration::from_hours(2)).min(now);
                work.push((
                    assigned,
                    "issue.assign",
                    json!({"issue_id": issue, "assignee_id": tech_id}),
                ));
                if rng.chance(2) {
                    let started = (at + SignedDuration::from_hours(4)).min(now);
                    work.push((started, "issue.start", json!({"issue_id": issue})));
                }
            }
        }
    }
    reports.sort_by_key(|(at, _)| *at);
    let issues = reports.len();
    let push_all = |user: &str, ops: Vec<(Timestamp, &str, Value)>| {
        let token = http.token(user, PASSWORD);
        let device = uuid::Uuid::now_v7().to_string();
        let ops: Vec<Value> = ops
            .into_iter()
            .enumerate()
            .map(|(i, (at, kind, body))| {
                let mut o = op(i as u64 + 1, kind, body);
                o["at"] = json!(at);
                o
            })
            .collect();
        for chunk in ops.chunks(200) {
            let (status, body) = http.push(&token, &device, chunk);
            assert_eq!(status, 200, "push: {body}");
            let results = body["results"].as_array().cloned().unwrap_or_default();
            let refused: Vec<&Value> = results
                .iter()
                .filter(|r| r["status"] != "applied")
                .collect();
            assert!(
                refused.is_empty() && results.len() == chunk.len(),
                "ops not applied: {}",
                json!(refused)
            );
        }
    };
    push_all(
        "fp-patrol",
        reports
            .into_iter()
            .map(|(at, body)| (at, "issue.report", body))
            .collect(),
    );
    work.sort_by_key(|(at, _, _)| *at);
    let (assign, start): (Vec<_>, Vec<_>) = work.into_iter().partition(|w| w.1 == "issue.assign");
    push_all("fp-super", assign);
    push_all("fp-tech", start);
    // Start again, as a server is between the office's work and a phone's first sync: the
    // alert and escalation passes at start-up see the month's issues once, and none runs
    // again while the pulls are timed.
    drop(server);
    server = stage.start(&["--alert-interval", "3600"]);
    let base = server.base_url.clone();
    let http = Http::new(&base);
    let token = http.token("fp-super", PASSWORD);
    eprintln!(
        "[run {n}] set up in {:.1} s: {} checkpoints, {issues} open issues over {} days; timing first pulls",
        setup.elapsed().as_secs_f64(),
        checkpoints.len(),
        args.days
    );
    let mut pulls: Vec<Vec<Pull>> = vec![Vec::new(); Encoding::ALL.len()];
    for enc in Encoding::ALL {
        let _ = pull_once(&base, &token, args.limit, enc);
    }
    for _ in 0..args.pulls {
        for (i, enc) in Encoding::ALL.iter().enumerate() {
            pulls[i].push(pull_once(&base, &token, args.limit, *enc));
        }
    }
    // Every pull reached the end with the same changes.
    let expect = pulls[0][0].changes;
    for (i, enc) in Encoding::ALL.iter().enumerate() {
        for p in &pulls[i] {
            assert_eq!(
                p.changes,
                expect,
                "{}: a pull saw other changes",
                enc.name()
            );
        }
    }
    let seen = pulls[0][0].kinds.get("issue").copied().unwrap_or(0);
    assert_eq!(seen, issues, "the first pull hands out every open issue");
    drop(server);
    PullRun { issues, pulls }
}
