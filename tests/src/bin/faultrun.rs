//! The fault-injection harness's long run (`scripts/faults` builds it optimised and starts
//! it): phones through a storm of network faults and server kills for as long as asked, on
//! SQLite, PostgreSQL or both, with a progress line every few seconds and each run's figures
//! at the end. Exits 1 when anything was lost, duplicated, misrouted or otherwise wrong.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use patrol_e2e::Backend;
use patrol_e2e::faults::{FaultRun, run, seed_from_env};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Store {
    Sqlite,
    Postgres,
    Both,
}

/// Phones against a server that keeps failing: faults, kills, then the books must balance.
#[derive(Debug, Parser)]
#[command(name = "faultrun")]
struct Args {
    /// The server's store; PostgreSQL needs --database-url or PATROL_TEST_DATABASE_URL (each
    /// run gets a database of its own there).
    #[arg(long, value_enum, default_value = "both")]
    backend: Store,
    /// Phones (at least 5).
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u16).range(5..=200))]
    devices: u16,
    /// Minutes of faults per store.
    #[arg(long, default_value_t = 10.0)]
    minutes: f64,
    /// The seed (default: PATROL_FAULT_SEED, else new).
    #[arg(long)]
    seed: Option<u64>,
    /// Shortest and longest seconds between two kills of the server.
    #[arg(long, num_args = 2, default_values_t = [5, 15])]
    kill_every: Vec<u64>,
    /// A PostgreSQL server URL (its databases are made and dropped per run).
    #[arg(long, env = "PATROL_TEST_DATABASE_URL")]
    database_url: Option<String>,
    /// Seconds between progress lines.
    #[arg(long, default_value_t = 5)]
    progress: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let seed = args.seed.unwrap_or_else(seed_from_env);
    let mut backends = Vec::new();
    if matches!(args.backend, Store::Sqlite | Store::Both) {
        backends.push(Backend::Sqlite);
    }
    if matches!(args.backend, Store::Postgres | Store::Both) {
        let Some(url) = args.database_url.clone() else {
            eprintln!("faultrun: PostgreSQL needs --database-url or PATROL_TEST_DATABASE_URL");
            return ExitCode::from(2);
        };
        backends.push(Backend::Postgres(url));
    }
    if !(args.minutes > 0.0 && args.minutes.is_finite()) {
        eprintln!("faultrun: --minutes must be above 0");
        return ExitCode::from(2);
    }
    let (shortest, longest) = (
        args.kill_every[0],
        args.kill_every[1].max(args.kill_every[0]),
    );
    let mut summaries = Vec::new();
    for backend in backends {
        let mut cfg = FaultRun::bounded(backend, seed);
        cfg.devices = usize::from(args.devices);
        cfg.storm = Duration::from_secs_f64(args.minutes * 60.0);
        cfg.kill_every = (Duration::from_secs(shortest), Duration::from_secs(longest));
        cfg.drain_timeout = Duration::from_secs(300);
        cfg.progress = Some(Duration::from_secs(args.progress.max(1)));
        eprintln!(
            "faultrun: {} devices for {:.1} minutes on {}, seed {seed}; the server is killed every {shortest}–{longest} s",
            cfg.devices,
            args.minutes,
            match cfg.backend {
                Backend::Sqlite => "SQLite",
                Backend::Postgres(_) => "PostgreSQL",
            }
        );
        let summary = run(&cfg);
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{summary}");
        let _ = out.flush();
        summaries.push(summary);
    }
    if summaries.iter().all(|s| s.clean()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
