//! The field simulator (`scripts/fieldsim` builds it optimised and starts it): N phones over S
//! sites at work against one or more server processes behind a round-robin proxy, with a
//! progress line every few seconds; throughput, latency percentiles and the reconciler's
//! verdict at the end. Exits 1 when anything was lost, duplicated, misrouted or otherwise wrong.

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args as ClapArgs, Parser, Subcommand};
use patrol_e2e::fieldsim::{self, FieldSim, Servers};

/// An estate group's phones at work against the sync server, measured and checked.
#[derive(Debug, Parser)]
#[command(name = "fieldsim", args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(flatten)]
    run: RunArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, ClapArgs)]
struct RunArgs {
    /// Phones.
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=5000))]
    devices: u32,
    /// Sites the phones are spread over (each generated and imported with `site import`).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=1000))]
    sites: u32,
    /// Minutes of work (or --seconds).
    #[arg(long, conflicts_with = "seconds")]
    minutes: Option<f64>,
    /// Seconds of work.
    #[arg(long)]
    seconds: Option<f64>,
    /// The workload's seed (default: PATROL_FAULT_SEED, else new).
    #[arg(long)]
    seed: Option<u64>,
    /// PostgreSQL: with --processes, a server URL on which a database is made for the run
    /// (and dropped after); with --server, the running servers' own database. Default: SQLite.
    #[arg(long)]
    database_url: Option<String>,
    /// Server processes to start on one PostgreSQL database (SQLite: one).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64), conflicts_with = "server")]
    processes: u32,
    /// A running server's base URL, instead of starting any (repeat for several processes on
    /// one database); needs --data-dir, and --database-url when they run on PostgreSQL.
    #[arg(long, requires = "data_dir")]
    server: Vec<String>,
    /// The running servers' data folder (their SQLite file, their photos).
    #[arg(long)]
    data_dir: Option<std::path::PathBuf>,
    /// Seconds between progress lines.
    #[arg(long, default_value_t = 5)]
    progress: u64,
    /// Started servers keep photos in one S3 bucket on a moto server started for the run
    /// (`python3 -m pip install 'moto[server]'`), as several machines would share them.
    #[arg(long, conflicts_with = "server")]
    s3: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write years of records straight into a server database, then time the queue's queries.
    History(fieldsim::history::HistoryArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::History(args)) = cli.command {
        return fieldsim::history::main(&args);
    }
    let args = cli.run;
    let seconds = match (args.minutes, args.seconds) {
        (Some(m), _) => m * 60.0,
        (None, Some(s)) => s,
        (None, None) => 60.0,
    };
    if !(seconds > 0.0 && seconds.is_finite()) {
        eprintln!("fieldsim: the run must last more than 0 seconds");
        return ExitCode::from(2);
    }
    let servers = if args.server.is_empty() {
        Servers::Start {
            processes: args.processes as usize,
            postgres: args.database_url.clone(),
        }
    } else {
        Servers::Running {
            urls: args.server.clone(),
            data_dir: args.data_dir.clone().unwrap_or_default(),
            database_url: args.database_url.clone(),
        }
    };
    if matches!(&servers, Servers::Start { postgres: None, .. }) && args.processes > 1 {
        eprintln!("fieldsim: several processes need PostgreSQL (--database-url); SQLite runs one");
        return ExitCode::from(2);
    }
    let mut cfg = FieldSim::new(
        args.devices as usize,
        args.sites as usize,
        Duration::from_secs_f64(seconds),
        servers,
    );
    if let Some(seed) = args.seed {
        cfg.seed = seed;
    }
    cfg.s3 = args.s3;
    cfg.progress = Some(Duration::from_secs(args.progress.max(1)));
    cfg.drain_timeout = Duration::from_secs(300);
    let report = fieldsim::run(&cfg);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{report}");
    let _ = out.flush();
    if report.clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
