//! patrol-server: the sync server, the 3-day queue and the admin CLI (DESIGN.md §8).
#![forbid(unsafe_code)]

mod accounts;
mod alerts;
mod api;
mod archive;
mod auth;
mod blobs;
mod clock;
mod console;
mod demo;
mod error;
mod extract;
mod import;
mod ingest;
mod labels;
mod notify;
mod queue;
mod reports;
mod serve;
mod store;
mod sync;

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use patrol_core::team::Team;
use patrol_core::user::Role;

use crate::auth::{LoginLimiter, Passwords, TokenKeys};
use crate::blobs::Blobs;
use crate::store::{PgStore, SqliteStore, Store};

/// mimalloc: the push path allocates and frees many small values on each op across the
/// runtime's and sqlx's threads, where glibc's malloc spent a seventh of its time and its
/// per-thread arenas held the freed memory (the server's RSS under one load ranged 88–300 MB
/// from run to run).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Arc<dyn Store>,
    /// Access-token keys.
    pub tokens: Arc<TokenKeys>,
    /// Sign-in attempts.
    pub limiter: Arc<LoginLimiter>,
    /// Password checks, off the async workers.
    pub passwords: Arc<Passwords>,
    /// Picture checks of uploads, off the async workers, a few at a time.
    pub decoding: Arc<tokio::sync::Semaphore>,
    /// Photo blobs.
    pub blobs: Blobs,
    /// Renders `/metrics`.
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
}

#[derive(Parser)]
#[command(
    name = "patrol-server",
    version,
    about = "Patrol companion sync server · 巡查助手同步服务器"
)]
struct Cli {
    /// Folder for the SQLite database and photos.
    #[arg(
        long,
        global = true,
        default_value = "./patrol-data",
        env = "PATROL_DATA_DIR"
    )]
    data_dir: PathBuf,
    /// Database URL (sqlite:…); defaults to patrol.db in the data folder.
    #[arg(long, global = true, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// Where photos, signature images and the monthly archive are kept: file:///PATH (a
    /// folder) or s3://BUCKET/PREFIX (S3 or an S3-compatible store, set up by the usual AWS_*
    /// variables; AWS_ENDPOINT_URL for MinIO, Ceph, OSS, COS…); defaults to blobs/ in the data
    /// folder.
    #[arg(long, global = true, env = "PATROL_BLOB_URL")]
    blob_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and run the queue's background work.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Serve `/metrics` on this address only (for a monitoring network); by default it is
        /// served on the main listener.
        #[arg(long, env = "PATROL_METRICS_LISTEN")]
        metrics_listen: Option<SocketAddr>,
        /// Load the demo estate (once) and print how to sign in.
        #[arg(long)]
        demo: bool,
        /// Seconds a client has for each request's headers before the connection is closed.
        #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
        header_timeout: u64,
        /// Seconds a whole request may take, upload included.
        #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=3600))]
        request_timeout: u64,
        /// Seconds between two alert passes (missed rounds, overdue issues).
        #[arg(long, default_value_t = 30, env = "PATROL_ALERT_INTERVAL", value_parser = clap::value_parser!(u64).range(1..=3600))]
        alert_interval: u64,
        /// The console's address as people reach it, for the links in notifications
        /// (default: http://<the listen address>).
        #[arg(long, env = "PATROL_PUBLIC_URL", value_name = "URL")]
        public_url: Option<String>,
        /// The longest delay before a failed notification's first retry; later retries double
        /// it, with full jitter, up to --notify-retry-cap (e.g. `1s`, `500ms`).
        #[arg(long, default_value = "1s", value_parser = parse_duration)]
        notify_retry_base: Duration,
        /// The longest delay between two attempts of a notification.
        #[arg(long, default_value = "5m", value_parser = parse_duration)]
        notify_retry_cap: Duration,
        /// Each notification attempt's time limit.
        #[arg(long, default_value = "10s", value_parser = parse_duration)]
        notify_timeout: Duration,
        /// For tests only: background work (escalation, alerts, the archive) takes "now" from
        /// the RFC 3339 instant in this file, read again at every pass, instead of the system
        /// clock.
        #[arg(long, env = "PATROL_TEST_CLOCK", value_name = "FILE")]
        test_clock: Option<PathBuf>,
    },
    /// Create or upgrade the database schema.
    Migrate,
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage sites.
    Site {
        #[command(subcommand)]
        command: SiteCommand,
    },
    /// The monthly archive and retention of patrol records.
    Archive {
        #[command(subcommand)]
        command: ArchiveCommand,
    },
    /// Check the evidence: every issue's audit hash chain, every signed sign-off and every
    /// sealed round in the database (or one exported file). Exits 0 when all of it verifies,
    /// 1 naming the first entry that does not.
    VerifyAudit {
        /// Only this issue's trail and sign-offs.
        #[arg(long, conflicts_with = "file")]
        issue: Option<String>,
        /// An exported file instead of the database: an issue's evidence.json, or a month's
        /// seals.json from the archive.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// The server's Ed25519 key that signs sign-offs and round seals.
    EvidenceKey {
        #[command(subcommand)]
        command: EvidenceKeyCommand,
    },
    /// A site's notification channels: where its alerts are sent.
    Notify {
        #[command(subcommand)]
        command: NotifyCommand,
    },
    /// For the ingest benchmark: apply the pushes in a JSON file (a list per device of
    /// `/sync/push` bodies) as a user, in this process, without HTTP.
    #[command(hide = true)]
    BenchPush {
        /// Who pushes.
        #[arg(long)]
        username: String,
        /// The pushes.
        #[arg(long)]
        pushes: PathBuf,
    },
}

#[derive(Subcommand)]
enum NotifyCommand {
    /// Add a channel to a site; prints its id.
    Add {
        /// Site code.
        #[arg(long)]
        site: String,
        /// webhook, wecom, dingtalk or feishu.
        #[arg(long)]
        kind: String,
        /// Where to send: the robot's webhook address as its settings give it, or your
        /// receiver's.
        #[arg(long)]
        url: String,
        /// The signing secret: the webhook's HMAC key, DingTalk's 加签 secret (SEC…), Feishu's
        /// 签名校验 secret. `-` reads it from standard input (kept out of the process list).
        #[arg(long)]
        secret: Option<String>,
        /// Alert kinds to send, comma-separated: urgent, major, overdue, round_missed,
        /// round_incomplete (default: all of them).
        #[arg(long)]
        events: Option<String>,
    },
    /// List a site's channels (secrets are never shown).
    List {
        /// Site code.
        #[arg(long)]
        site: String,
    },
    /// Remove a channel; its pending deliveries are cancelled.
    Remove {
        /// The channel id, as `notify add` printed it.
        id: String,
    },
}

/// A duration flag: `10s`, `500ms`, `5m` (jiff's friendly format) or ISO 8601.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let d: jiff::SignedDuration = s
        .parse()
        .map_err(|e| format!("not a duration (e.g. 10s, 500ms, 5m): {e}"))?;
    Duration::try_from(d)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| "must be more than zero".to_owned())
}

#[derive(Subcommand)]
enum EvidenceKeyCommand {
    /// List the keys: id, public key, when made, when retired.
    List,
    /// Make a new signing key. The old key's secret is destroyed; its public half is kept, so
    /// what it signed still verifies.
    Rotate,
}

#[derive(Subcommand)]
enum ArchiveCommand {
    /// Once: write the archive of every month that is over (XLSX and CSV, to the blob store)
    /// and purge patrol records older than each site's retention whose month is archived. The
    /// server does the same in the background; a run stopped half-way finishes on the next.
    Run {
        /// Rounds purged per transaction (with their visits and answers).
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        batch_size: u32,
        /// Stop after this many purge batches, to spread a large first purge over several runs.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        max_batches: Option<u32>,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user; the password is read from standard input.
    Add {
        /// Login name.
        #[arg(long)]
        username: String,
        /// patrol, technician, supervisor, manager or admin.
        #[arg(long)]
        role: Role,
        /// Site code the user works on.
        #[arg(long)]
        site: String,
        /// Team (engineering, cleaning, landscaping, security, customer_service, management).
        #[arg(long)]
        team: Option<Team>,
        /// Name shown to others; defaults to the username.
        #[arg(long)]
        display_name: Option<String>,
    },
}

#[derive(Subcommand)]
enum SiteCommand {
    /// Add a site with its zones, checkpoints and routes from a YAML file
    /// (see server/examples/site.yaml).
    Import {
        /// The site file.
        file: PathBuf,
    },
    /// Give a site a new label key and re-sign its checkpoints (old labels stop verifying:
    /// print new ones).
    Keygen {
        /// Site code.
        code: String,
    },
}

/// A failure of a command, said plainly.
type CliResult = Result<(), String>;

async fn open_store(cli: &Cli) -> Result<Arc<dyn Store>, String> {
    let store: Arc<dyn Store> = match cli.database_url.as_deref() {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Arc::new(
                PgStore::connect(url, None)
                    .await
                    .map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?,
            )
        }
        other => {
            let path = match other {
                None => {
                    std::fs::create_dir_all(&cli.data_dir)
                        .map_err(|e| format!("cannot create {}: {e}", cli.data_dir.display()))?;
                    cli.data_dir.join("patrol.db")
                }
                Some(url) => url
                    .strip_prefix("sqlite://")
                    .or_else(|| url.strip_prefix("sqlite:"))
                    .map(PathBuf::from)
                    .ok_or_else(|| {
                        format!(
                            "unsupported database URL scheme `{}`: use postgres://… or sqlite:PATH",
                            url.split(':').next().unwrap_or("")
                        )
                    })?,
            };
            Arc::new(
                SqliteStore::open(&path)
                    .await
                    .map_err(|e| format!("cannot open database {}: {e}", path.display()))?,
            )
        }
    };
    store
        .migrate()
        .await
        .map_err(|e| format!("migration failed: {e}"))?;
    Ok(store)
}

/// How `serve` listens.
struct Listen {
    addr: SocketAddr,
    metrics: Option<SocketAddr>,
    timeouts: api::Timeouts,
}

/// How `serve` runs its background work.
struct Background {
    clock: clock::Clock,
    alert_interval: Duration,
    /// `--public-url`, if given.
    public_url: Option<String>,
    notify_retry_base: Duration,
    notify_retry_cap: Duration,
    notify_timeout: Duration,
}

async fn serve(cli: &Cli, listen: Listen, demo: bool, background: Background) -> CliResult {
    let store = open_store(cli).await?;
    let secret = store
        .secret("jwt", &auth::random_secret)
        .await
        .map_err(|e| format!("cannot read the token key: {e}"))?;
    // Installed first, so that what the demo and the catch-up passes do is counted too.
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| format!("cannot start metrics: {e}"))?;
    let blobs = open_blobs(cli).await?;
    if demo
        && demo::load(store.as_ref(), &blobs)
            .await
            .map_err(|e| format!("cannot load the demo estate: {e:?}"))?
    {
        tracing::info!("demo estate loaded");
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let state = AppState {
        metrics,
        store: store.clone(),
        tokens: Arc::new(TokenKeys::new(&secret)),
        limiter: Arc::new(LoginLimiter::default()),
        passwords: Arc::new(Passwords::new(cores).map_err(|e| format!("{e:?}"))?),
        decoding: Arc::new(tokio::sync::Semaphore::new(cores)),
        blobs,
    };
    let listener = tokio::net::TcpListener::bind(listen.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", listen.addr))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let metrics_listener = match listen.metrics {
        Some(m) => Some(
            tokio::net::TcpListener::bind(m)
                .await
                .map_err(|e| format!("cannot listen on {m} for metrics: {e}"))?,
        ),
        None => None,
    };
    // Catch up on what fell due while the server was down before taking requests.
    let clock = background.clock;
    if matches!(clock, clock::Clock::File(_)) {
        tracing::warn!(now = %clock.now(), "background work runs on the test clock");
    }
    queue::escalate_due(store.as_ref(), clock.now())
        .await
        .map_err(|e| format!("escalation pass failed: {e}"))?;
    alerts::raise_due(store.as_ref(), clock.now())
        .await
        .map_err(|e| format!("alert pass failed: {e}"))?;
    let escalation = tokio::spawn(queue::run(
        store.clone(),
        clock.clone(),
        Duration::from_secs(60),
    ));
    let alerting = tokio::spawn(alerts::run(
        store.clone(),
        clock.clone(),
        background.alert_interval,
    ));
    let public_url = background
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"))
        .trim_end_matches('/')
        .to_owned();
    let sending = tokio::spawn(notify::delivery::run(
        store.clone(),
        notify::delivery::Config {
            public_url,
            retry_base: background.notify_retry_base,
            retry_cap: background
                .notify_retry_cap
                .max(background.notify_retry_base),
            timeout: background.notify_timeout,
            poll: Duration::from_secs(1),
        },
        notify::delivery::client(background.notify_timeout)?,
    ));
    let archiving = tokio::spawn(archive::run(
        store,
        state.blobs.clone(),
        clock,
        Duration::from_secs(15 * 60),
    ));
    let limiter = state.limiter.clone();
    let forgetting = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        loop {
            tick.tick().await;
            limiter.forget_idle();
        }
    });
    let metrics_task = match metrics_listener {
        Some(l) => {
            let at = l.local_addr().map_err(|e| e.to_string())?;
            say(&format!("patrol-server metrics on http://{at}/metrics"));
            let app = api::metrics_router(state.clone());
            Some(tokio::spawn(serve::run(
                l,
                app,
                listen.timeouts.headers,
                std::future::pending(),
            )))
        }
        None => None,
    };
    say(&format!("patrol-server listening on http://{addr}"));
    if demo {
        say(&format!(
            "演示小区 demo estate `{code}`\n  管理后台 console: open http://{addr}/console in a browser — 物业助理 supervisor demo-super, 管理处主任 manager demo-manager, 管理员 admin demo-admin; password `{pw}`\n  手机 phones / API: demo-patrol, demo-tech, same password\n  curl -s -X POST http://{addr}/api/v1/auth/login -H 'content-type: application/json' -d '{{\"username\":\"demo-patrol\",\"password\":\"{pw}\"}}'",
            code = demo::CODE,
            pw = demo::PASSWORD,
        ));
    }
    let app = api::router(state.clone(), listen.metrics.is_none(), listen.timeouts)
        .merge(console::app(state, listen.timeouts.request))
        // Responses go compressed (gzip or zstd) to a client that asks, as the phones do: a
        // first pull is mostly repeated JSON keys and ids.
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(tower_http::trace::TraceLayer::new_for_http());
    serve::run(listener, app, listen.timeouts.headers, shutdown_signal()).await;
    escalation.abort();
    alerting.abort();
    sending.abort();
    archiving.abort();
    forgetting.abort();
    if let Some(t) = metrics_task {
        t.abort();
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}

/// Tell the person at the terminal.
#[allow(clippy::print_stdout)]
fn say(text: &str) {
    println!("{text}");
}

async fn user_add(
    cli: &Cli,
    username: &str,
    role: Role,
    site_code: &str,
    team: Option<Team>,
    display_name: Option<&str>,
) -> CliResult {
    let store = open_store(cli).await?;
    let site = store
        .site_by_code(site_code)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no site with code `{site_code}`"))?;
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .map_err(|e| format!("cannot read the password from standard input: {e}"))?;
    let password = password.trim_end_matches(['\n', '\r']);
    let passwords = Passwords::new(1).map_err(|e| format!("{e:?}"))?;
    let new = accounts::NewUser {
        username: username.to_owned(),
        display_name: display_name.map(str::to_owned),
        role,
        team,
        site: site.id,
    };
    accounts::add(store.as_ref(), &passwords, new, password)
        .await
        .map_err(|e| e.to_string())?;
    say(&format!(
        "added {username} ({}) to site {site_code}",
        role.as_str()
    ));
    Ok(())
}

async fn site_keygen(cli: &Cli, code: &str) -> CliResult {
    let store = open_store(cli).await?;
    let site = store
        .site_by_code(code)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no site with code `{code}`"))?;
    let (_, labels) = import::rotate_key(store.as_ref(), &site)
        .await
        .map_err(|e| e.to_string())?;
    say(&format!(
        "site {code}: new label key; {labels} checkpoint labels re-signed — print and replace them"
    ));
    Ok(())
}

async fn site_import(cli: &Cli, file: &std::path::Path) -> CliResult {
    let yaml = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let store = open_store(cli).await?;
    let site = import::import_yaml(store.as_ref(), &yaml)
        .await
        .map_err(|e| e.to_string())?;
    say(&format!(
        "imported site {} ({}): {} zones, {} checkpoints with signed labels, {} routes",
        site.site.code,
        site.site.name,
        site.zones.len(),
        site.checkpoints.len(),
        site.routes.len()
    ));
    Ok(())
}

/// The blob store of `--blob-url` (by default the data folder's), checked once.
async fn open_blobs(cli: &Cli) -> Result<Blobs, String> {
    Blobs::open(cli.blob_url.as_deref(), &cli.data_dir)
        .await
        .map_err(|e| e.to_string())
}

async fn archive_run(cli: &Cli, options: archive::Options) -> CliResult {
    let store = open_store(cli).await?;
    let blobs = open_blobs(cli).await?;
    let pass = archive::run_once(store.as_ref(), &blobs, jiff::Timestamp::now(), options)
        .await
        .map_err(|e| format!("archive pass failed: {e}"))?;
    for w in &pass.written {
        say(&format!(
            "archived {} {} (version {}): {}",
            w.site,
            w.month,
            w.version,
            w.files.join(", ")
        ));
    }
    for (site, month, c) in &pass.purged {
        say(&format!(
            "purged {site} {month}: {} rounds, {} visits, {} answers",
            c.runs, c.visits, c.results
        ));
    }
    if pass.written.is_empty() && pass.purged.is_empty() && !pass.stopped {
        say("nothing to archive or purge");
    }
    if pass.stopped {
        say(&format!(
            "purge stopped at --max-batches {}; run again to go on",
            pass.batches
        ));
    }
    if pass.failed.is_empty() {
        Ok(())
    } else {
        Err(pass
            .failed
            .iter()
            .map(|(site, why)| format!("site {site}: {why}"))
            .collect::<Vec<_>>()
            .join("; "))
    }
}

async fn verify_audit(cli: &Cli, issue: Option<&str>, file: Option<&std::path::Path>) -> CliResult {
    use patrol_core::evidence::{Evidence, SealsFile, verify_evidence, verify_seals_file};
    let failed = |f: patrol_core::evidence::Fault| {
        say(&format!("verify-audit: FAILED: {f}"));
        Err(format!("evidence does not verify: {f}"))
    };
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
        if value.get("seals").is_some() {
            let f: SealsFile = serde_json::from_value(value)
                .map_err(|e| format!("{} is not a seals file: {e}", path.display()))?;
            return match verify_seals_file(&f) {
                Ok(n) => {
                    say(&format!(
                        "verified: {} {}: {n} sealed rounds",
                        f.site, f.month
                    ));
                    Ok(())
                }
                Err(fault) => failed(fault),
            };
        }
        let e: Evidence = serde_json::from_value(value)
            .map_err(|e| format!("{} is not an evidence file: {e}", path.display()))?;
        return match verify_evidence(&e) {
            Ok(v) => {
                say(&format!(
                    "verified: issue {}: {} audit entries, {} sign-offs, chain head {}",
                    v.issue_id, v.entries, v.signoffs, v.head
                ));
                Ok(())
            }
            Err(fault) => failed(fault),
        };
    }
    let issue = issue
        .map(|i| {
            i.parse::<patrol_core::ids::IssueId>()
                .map_err(|_| format!("`{i}` is not an issue id"))
        })
        .transpose()?;
    let store = open_store(cli).await?;
    if let Some(id) = issue
        && store.issue(id).await.map_err(|e| e.to_string())?.is_none()
    {
        return Err(format!("no issue {id}"));
    }
    let check = store
        .verify_audit(issue)
        .await
        .map_err(|e| format!("cannot read the evidence: {e}"))?;
    if let Some(fault) = check.fault {
        return failed(fault);
    }
    // The photos and signature images the records name: their bytes must still hash to their
    // names (blobs are content-addressed), so a picture swapped on disk is found too.
    let blobs = open_blobs(cli).await?;
    for (subject, sha) in &check.photos {
        let what = match blobs.get(sha).await {
            Ok(bytes) if patrol_core::blob::sha256_hex(&bytes) == *sha => continue,
            Ok(_) => format!("photo {sha} was changed (its bytes no longer hash to its name)"),
            Err(e) if blobs::is_not_found(&e) => format!("photo {sha} is missing"),
            Err(e) => return Err(format!("cannot read photo {sha}: {e}")),
        };
        return failed(patrol_core::evidence::Fault::new(subject.clone(), what));
    }
    say(&format!(
        "verified: {} issues, {} audit entries, {} sign-offs, {} sealed rounds, {} photos",
        check.issues,
        check.entries,
        check.signoffs,
        check.seals,
        check.photos.len()
    ));
    Ok(())
}

async fn evidence_keys(cli: &Cli, rotate: bool) -> CliResult {
    let store = open_store(cli).await?;
    if rotate {
        let key = store
            .rotate_evidence_key()
            .await
            .map_err(|e| format!("cannot rotate the evidence key: {e}"))?;
        say(&format!(
            "new evidence key {} (public {}); earlier keys keep their public half",
            key.key_id, key.public_key
        ));
        return Ok(());
    }
    let keys = store.evidence_keys().await.map_err(|e| e.to_string())?;
    if keys.is_empty() {
        say("no evidence key yet: the first sign-off or finished round makes one");
    }
    for k in keys {
        let state = match k.retired_at {
            None => "current".to_owned(),
            Some(t) => format!("retired {t}"),
        };
        say(&format!(
            "{}  {}  made {}  {state}",
            k.key_id, k.public_key, k.created_at
        ));
    }
    Ok(())
}

async fn notify_command(cli: &Cli, command: &NotifyCommand) -> CliResult {
    match command {
        NotifyCommand::Add {
            site,
            kind,
            url,
            secret,
            events,
        } => {
            let secret = match secret.as_deref() {
                Some("-") => {
                    let mut s = String::new();
                    std::io::stdin().read_to_string(&mut s).map_err(|e| {
                        format!("无法从标准输入读取密钥 / cannot read the secret from standard input: {e}")
                    })?;
                    Some(s.trim_end_matches(['\n', '\r']).to_owned())
                }
                other => other.map(str::to_owned),
            };
            let new = notify::NewChannel {
                kind: kind.clone(),
                url: url.clone(),
                secret,
                events: events.clone(),
            };
            // Checked before the database is opened: a typo is said at once.
            let site_id = patrol_core::ids::SiteId::new();
            if let Err(problems) = new.check(site_id, jiff::Timestamp::now()) {
                return Err(joined(&problems));
            }
            let store = open_store(cli).await?;
            let site = find_site(store.as_ref(), site).await?;
            let channel = new
                .check(site.id, jiff::Timestamp::now())
                .map_err(|p| joined(&p))?;
            store
                .add_channel(&channel)
                .await
                .map_err(|e| format!("无法保存渠道 / cannot store the channel: {e}"))?;
            say(&channel.id.to_string());
            Ok(())
        }
        NotifyCommand::List { site } => {
            let store = open_store(cli).await?;
            let site = find_site(store.as_ref(), site).await?;
            let channels = store
                .site_channels(site.id)
                .await
                .map_err(|e| e.to_string())?;
            if channels.is_empty() {
                say(&format!(
                    "小区 {} 没有通知渠道 / site {} has no notification channels",
                    site.code, site.code
                ));
            }
            for c in channels {
                let signed = if c.secret.is_some() {
                    "secret set (signed)"
                } else {
                    "no secret (unsigned)"
                };
                say(&format!(
                    "{}  {}  {}  events={}  {signed}",
                    c.id,
                    c.kind.as_str(),
                    c.url,
                    c.events_text()
                ));
            }
            Ok(())
        }
        NotifyCommand::Remove { id } => {
            let channel: uuid::Uuid = id
                .trim()
                .parse()
                .map_err(|_| format!("`{id}` 不是渠道编号 / `{id}` is not a channel id"))?;
            let store = open_store(cli).await?;
            if !store
                .remove_channel(channel, jiff::Timestamp::now())
                .await
                .map_err(|e| e.to_string())?
            {
                return Err(format!(
                    "没有编号为 {channel} 的渠道 / no channel {channel}"
                ));
            }
            say(&format!(
                "已删除渠道 {channel}，其待发送的通知已取消 / removed channel {channel}; its pending deliveries are cancelled"
            ));
            Ok(())
        }
    }
}

/// A site by its code, or a clear refusal.
async fn find_site(store: &dyn Store, code: &str) -> Result<patrol_core::site::Site, String> {
    store
        .site_by_code(code)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("没有代码为 `{code}` 的小区 / no site with code `{code}`"))
}

fn joined(problems: &[notify::Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Serve {
            listen,
            metrics_listen,
            demo,
            header_timeout,
            request_timeout,
            alert_interval,
            public_url,
            notify_retry_base,
            notify_retry_cap,
            notify_timeout,
            test_clock,
        } => {
            let listen = Listen {
                addr: *listen,
                metrics: *metrics_listen,
                timeouts: api::Timeouts {
                    headers: Duration::from_secs(*header_timeout),
                    request: Duration::from_secs(*request_timeout),
                },
            };
            let background = Background {
                clock: test_clock
                    .clone()
                    .map_or(clock::Clock::System, clock::Clock::file),
                alert_interval: Duration::from_secs(*alert_interval),
                public_url: public_url.clone(),
                notify_retry_base: *notify_retry_base,
                notify_retry_cap: *notify_retry_cap,
                notify_timeout: *notify_timeout,
            };
            serve(&cli, listen, *demo, background).await
        }
        Command::Migrate => open_store(&cli)
            .await
            .map(|_| say("database is up to date")),
        Command::User {
            command:
                UserCommand::Add {
                    username,
                    role,
                    site,
                    team,
                    display_name,
                },
        } => user_add(&cli, username, *role, site, *team, display_name.as_deref()).await,
        Command::Site {
            command: SiteCommand::Keygen { code },
        } => site_keygen(&cli, code).await,
        Command::Site {
            command: SiteCommand::Import { file },
        } => site_import(&cli, file).await,
        Command::Archive {
            command:
                ArchiveCommand::Run {
                    batch_size,
                    max_batches,
                },
        } => {
            let options = archive::Options {
                batch: *batch_size,
                max_batches: *max_batches,
            };
            archive_run(&cli, options).await
        }
        Command::VerifyAudit { issue, file } => {
            verify_audit(&cli, issue.as_deref(), file.as_deref()).await
        }
        Command::EvidenceKey { command } => {
            evidence_keys(&cli, matches!(command, EvidenceKeyCommand::Rotate)).await
        }
        Command::Notify { command } => notify_command(&cli, command).await,
        Command::BenchPush { username, pushes } => match open_store(&cli).await {
            Ok(store) => ingest::run(store, username, pushes).await,
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}
