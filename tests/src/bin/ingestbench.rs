//! Server ingest benchmark (issue 14): patrol ops applied per second through `/sync/push` on a
//! release server (JSON, token, checks, rules, the hash chain), through the same push path in
//! the server's process without HTTP (`patrol-server bench-push`), and a bare batched insert
//! of the same rows into the same kind of database with the same durability (SQLite: WAL with
//! `synchronous = FULL`, as the server opens it; PostgreSQL: `COPY`). Every run starts from
//! one copy of a fresh demo database per path; the figures are medians of `--runs` runs with
//! their ranges, and ratios to the bare insert of the same run.
//!
//! With `--sites 8 --processes 2` (PostgreSQL) it measures instead how the push path spreads
//! over server processes: eight sites' devices pushing at once through one server process, and
//! the same pushes through two processes on one database (each device to one of them), on
//! copies of one seed database.
//!
//! `cargo run --release -p patrol-e2e --bin ingestbench -- [--backend postgres] [--runs 5]`
//! (`scripts/bench-server` builds the server first).
#![allow(clippy::print_stdout)] // a benchmark reports on stdout

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use clap::Parser;
use patrol_e2e::latency::median;
use patrol_e2e::{Http, Server, server_binary};
use serde_json::{Value, json};

#[derive(Parser)]
#[command(about = "Server ingest: /sync/push and the push path against a bare batched insert")]
struct Args {
    /// `sqlite` or `postgres` (`--database-url` or `PATROL_TEST_DATABASE_URL`).
    #[arg(long, default_value = "sqlite")]
    backend: String,
    /// PostgreSQL server to make the benchmark's databases on.
    #[arg(long, env = "PATROL_TEST_DATABASE_URL")]
    database_url: Option<String>,
    /// Devices pushing at once.
    #[arg(long, default_value_t = 4)]
    devices: usize,
    /// Pushes per device.
    #[arg(long, default_value_t = 10)]
    pushes: usize,
    /// Ops per push.
    #[arg(long, default_value_t = 200)]
    batch: usize,
    /// Runs; medians are reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Where the databases go (a real disk, not a tmpfs: the syncs are what is measured).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Sites pushing at once (PostgreSQL), `--devices` each: more than one measures the HTTP
    /// path through one server process against `--processes` processes on one database.
    #[arg(long, default_value_t = 1)]
    sites: usize,
    /// Leave each run's folder (its databases and `pushes.json`, which
    /// `patrol-server bench-push` takes) for profiling, and say where it is.
    #[arg(long)]
    keep: bool,
    /// Server processes on the one database when `--sites` is more than one.
    #[arg(long, default_value_t = 2)]
    processes: usize,
}

/// One run's figures, ops per second.
struct Figures {
    http: f64,
    inproc: f64,
    bare: f64,
}

fn main() {
    let args = Args::parse();
    let pg = match args.backend.as_str() {
        "sqlite" => None,
        "postgres" => Some(
            args.database_url
                .clone()
                .unwrap_or_else(|| panic!("--backend postgres needs --database-url")),
        ),
        other => panic!("unknown backend {other}"),
    };
    let root = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    if args.sites > 1 {
        let url =
            pg.unwrap_or_else(|| panic!("--sites needs --backend postgres: SQLite is one process"));
        spread(&args, &url, &root);
        return;
    }
    let mut runs = Vec::new();
    for n in 1..=args.runs {
        let f = run(&args, pg.as_deref(), &root);
        println!(
            "run {n}: http {:.0} ops/s, in-process {:.0} ops/s, bare {:.0} rows/s",
            f.http, f.inproc, f.bare
        );
        runs.push(f);
    }
    let report = |name: &str, of: &dyn Fn(&Figures) -> f64| {
        let values: Vec<f64> = runs.iter().map(of).collect();
        let (med, lo, hi) = median(&values);
        println!("{name}: median {med:.3} (range {lo:.3}–{hi:.3})");
    };
    println!(
        "backend {}, {} devices × {} pushes × {} ops, {} runs",
        args.backend, args.devices, args.pushes, args.batch, args.runs
    );
    report("http ops/s", &|f| f.http);
    report("in-process ops/s", &|f| f.inproc);
    report("bare rows/s", &|f| f.bare);
    report("http / bare", &|f| f.http / f.bare);
    report("in-process / bare", &|f| f.inproc / f.bare);
}

/// A database of one path of a run: a data folder, and on PostgreSQL a database.
struct Copy {
    dir: PathBuf,
    url: Option<String>,
}

impl Copy {
    fn args(&self) -> Vec<String> {
        match &self.url {
            Some(u) => vec!["--database-url".into(), u.clone()],
            None => Vec::new(),
        }
    }
}

/// Remove a run's folder, or say where it was left (`--keep`).
fn keep_or_remove(args: &Args, base: &Path) {
    if args.keep {
        eprintln!("kept {}", base.display());
    } else {
        let _ = std::fs::remove_dir_all(base);
    }
}

fn run(args: &Args, pg: Option<&str>, root: &Path) -> Figures {
    let tag = uuid::Uuid::now_v7().simple().to_string();
    let base = root.join(format!("patrol-ingestbench-{tag}"));
    let seed = Copy {
        dir: base.join("seed"),
        url: pg.map(|u| database(u, &format!("ib_{tag}_seed"), None)),
    };
    // The demo estate, and pushes of patrol rounds on its routes made from what a phone pulls.
    let devices = {
        let mut extra = vec!["--demo".to_owned()];
        extra.extend(seed.args());
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let mut server = Server::start(&seed.dir, &extra);
        let http = Http::new(&server.base_url);
        let token = http.token("demo-patrol", "demo");
        let devices = rounds(&http, &token, args);
        server.kill();
        devices
    };
    let copy = |name: &str| {
        let dir = base.join(name);
        copy_dir(&seed.dir, &dir);
        let url = pg.map(|u| {
            database(
                u,
                &format!("ib_{tag}_{name}"),
                Some(&format!("ib_{tag}_seed")),
            )
        });
        Copy { dir, url }
    };
    let over_http = copy("http");
    let in_process = copy("inproc");

    // Through HTTP: each device a thread pushing its batches in order.
    let http = {
        let mut extra = over_http.args();
        extra.push("--alert-interval".into());
        extra.push("3600".into());
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let server = Server::start(&over_http.dir, &extra);
        let client = Http::new(&server.base_url);
        let token = client.token("demo-patrol", "demo");
        let pushers: Vec<(String, Vec<Value>)> =
            devices.iter().map(|d| (token.clone(), d.clone())).collect();
        let (applied, secs) = push_all(std::slice::from_ref(&server.base_url), &pushers);
        expect_applied(applied, args.devices, args);
        applied as f64 / secs
    };

    // The same pushes in the server's process.
    let inproc = {
        let file = base.join("pushes.json");
        let all: Vec<Vec<Value>> = devices.clone();
        std::fs::write(&file, serde_json::to_vec(&all).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let out = Command::new(server_binary())
            .arg("--data-dir")
            .arg(&in_process.dir)
            .args(in_process.args())
            .args(["bench-push", "--username", "demo-patrol", "--pushes"])
            .arg(&file)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap_or_else(|e| panic!("bench-push: {e}"));
        assert!(
            out.status.success(),
            "bench-push: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let applied = usize::try_from(v["ops"].as_u64().unwrap_or(0)).unwrap_or(0);
        expect_applied(applied, args.devices, args);
        applied as f64 / v["seconds"].as_f64().unwrap_or(f64::INFINITY)
    };

    // The same rows, bare: each device's batches, in order.
    let rows: Vec<Vec<Vec<[String; 5]>>> = devices
        .iter()
        .map(|pushes| pushes.iter().map(bare_rows).collect())
        .collect();
    let bare = match pg {
        None => bare_sqlite(&base.join("bare.db"), &rows.concat()),
        Some(url) => {
            let bare_url = database(url, &format!("ib_{tag}_bare"), None);
            let r = bare_copy(&bare_url, &rows);
            drop_database(url, &format!("ib_{tag}_bare"));
            r
        }
    };
    if let Some(url) = pg {
        for name in ["seed", "http", "inproc"] {
            drop_database(url, &format!("ib_{tag}_{name}"));
        }
    }
    keep_or_remove(args, &base);
    Figures { http, inproc, bare }
}

fn count_applied(body: &Value) -> usize {
    body["results"]
        .as_array()
        .map_or(0, |r| r.iter().filter(|r| r["status"] == "applied").count())
}

/// Each device a thread pushing its batches in order, with its token, to the server it is
/// given (device `i` to `bases[i % n]`); the ops applied and the seconds all took.
fn push_all(bases: &[String], devices: &[(String, Vec<Value>)]) -> (usize, f64) {
    let started = Instant::now();
    let threads: Vec<_> = devices
        .iter()
        .enumerate()
        .map(|(i, (token, pushes))| {
            let pushes = pushes.clone();
            let token = token.clone();
            let base = bases[i % bases.len()].clone();
            std::thread::spawn(move || {
                let client = Http::new(&base);
                let mut applied = 0;
                for push in &pushes {
                    let (status, body) = client.post("/api/v1/sync/push", Some(&token), push);
                    assert_eq!(status, 200, "push: {body}");
                    applied += count_applied(&body);
                }
                applied
            })
        })
        .collect();
    let applied: usize = threads.into_iter().map(|t| t.join().unwrap_or(0)).sum();
    (applied, started.elapsed().as_secs_f64())
}

/// `--sites`: the HTTP path through one server process and through `--processes`, each run on
/// copies of one seed database with the sites imported and a patroller signed in on each.
fn spread(args: &Args, url: &str, root: &Path) {
    const PASSWORD: &str = "ingestbench-password";
    let mut figures = Vec::new();
    for n in 1..=args.runs {
        let tag = uuid::Uuid::now_v7().simple().to_string();
        let base = root.join(format!("patrol-ingestbench-{tag}"));
        let seed = Copy {
            dir: base.join("seed"),
            url: Some(database(url, &format!("ib_{tag}_seed"), None)),
        };
        std::fs::create_dir_all(&seed.dir)
            .unwrap_or_else(|e| panic!("{}: {e}", seed.dir.display()));
        let admin = |a: &[&str], stdin: &str| {
            let (ok, out) = patrol_e2e::admin_on(&seed.dir, seed.url.as_deref(), a, stdin, &[]);
            assert!(ok, "patrol-server {}: {out}", a.join(" "));
        };
        for k in 0..args.sites {
            let file = base.join(format!("site-{k}.yaml"));
            std::fs::write(&file, patrol_e2e::fieldsim::estate::site_file(k, 2))
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            admin(&["site", "import", &file.to_string_lossy()], "");
            let code = patrol_e2e::fieldsim::estate::site_code(k);
            let user = format!("ib-patrol-{k}");
            admin(
                &[
                    "user",
                    "add",
                    "--username",
                    &user,
                    "--role",
                    "patrol",
                    "--site",
                    &code,
                ],
                PASSWORD,
            );
        }
        // Each site's devices: rounds of its routes, as its patroller's phone pulls them.
        let pushers: Vec<(String, Vec<Value>)> = {
            let mut server = Server::start(
                &seed.dir,
                &seed.args().iter().map(String::as_str).collect::<Vec<_>>(),
            );
            let http = Http::new(&server.base_url);
            let mut all = Vec::new();
            for k in 0..args.sites {
                let token = http.token(&format!("ib-patrol-{k}"), PASSWORD);
                for pushes in rounds(&http, &token, args) {
                    all.push((token.clone(), pushes));
                }
            }
            server.kill();
            all
        };
        let measure = |name: &str, processes: usize| {
            let db = database(
                url,
                &format!("ib_{tag}_{name}"),
                Some(&format!("ib_{tag}_seed")),
            );
            let servers: Vec<Server> = (0..processes)
                .map(|p| {
                    let dir = base.join(format!("{name}-{p}"));
                    copy_dir(&seed.dir, &dir);
                    Server::start(&dir, &["--database-url", &db, "--alert-interval", "3600"])
                })
                .collect();
            let bases: Vec<String> = servers.iter().map(|s| s.base_url.clone()).collect();
            let (applied, secs) = push_all(&bases, &pushers);
            drop(servers);
            drop_database(url, &format!("ib_{tag}_{name}"));
            expect_applied(applied, pushers.len(), args);
            applied as f64 / secs
        };
        let one = measure("one", 1);
        let many = measure("many", args.processes.max(1));
        drop_database(url, &format!("ib_{tag}_seed"));
        keep_or_remove(args, &base);
        println!(
            "run {n}: one process {one:.0} ops/s, {} processes {many:.0} ops/s, {:.2} ×",
            args.processes,
            many / one
        );
        figures.push((one, many));
    }
    println!(
        "backend postgres, {} sites × {} devices × {} pushes × {} ops, {} runs",
        args.sites, args.devices, args.pushes, args.batch, args.runs
    );
    let report = |name: &str, values: Vec<f64>| {
        let (med, lo, hi) = median(&values);
        println!("{name}: median {med:.3} (range {lo:.3}–{hi:.3})");
    };
    report("one process ops/s", figures.iter().map(|f| f.0).collect());
    report(
        &format!("{} processes ops/s", args.processes),
        figures.iter().map(|f| f.1).collect(),
    );
    report(
        &format!("{} processes / one", args.processes),
        figures.iter().map(|f| f.1 / f.0).collect(),
    );
}

fn expect_applied(applied: usize, devices: usize, args: &Args) {
    let all = devices * args.pushes * args.batch;
    assert!(
        applied * 100 >= all * 99,
        "only {applied} of {all} ops were applied: the benchmark's rounds no longer fit the rules"
    );
}

/// Each device's pushes: rounds of the demo routes (start, a visit by QR at each checkpoint
/// with an answer to every item of its checklist, finish), `batch` ops a push.
fn rounds(http: &Http, token: &str, args: &Args) -> Vec<Vec<Value>> {
    let routes = patrol_e2e::rounds::routes(&patrol_e2e::rounds::pull_all(http, token, 2000));
    let total = args.pushes * args.batch;
    (0..args.devices)
        .map(|d| {
            let device = uuid::Uuid::now_v7();
            let mut ops: Vec<Value> = Vec::new();
            let mut round = 0;
            while ops.len() < total {
                let route = &routes[(d + round) % routes.len()];
                round += 1;
                for (kind, body) in patrol_e2e::rounds::walk(route).into_iter().flatten() {
                    ops.push(patrol_e2e::op(ops.len() as u64 + 1, kind, body));
                }
            }
            ops.truncate(total);
            ops.chunks(args.batch)
                .map(|chunk| {
                    json!({"device_id": device, "device_time": jiff::Timestamp::now(),
                           "ops": chunk})
                })
                .collect()
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
    for entry in std::fs::read_dir(from).into_iter().flatten().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target)
                .unwrap_or_else(|e| panic!("{}: {e}", target.display()));
        }
    }
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
        .block_on(f)
}

fn with_name(url: &str, name: &str) -> String {
    let root = url.rsplit_once('/').map_or(url, |(r, _)| r);
    format!("{root}/{name}")
}

/// Create a database (from a template when given, retried while the template's last
/// connections close); its URL.
fn database(url: &str, name: &str, template: Option<&str>) -> String {
    use sqlx::Connection as _;
    block_on(async {
        let mut conn = sqlx::PgConnection::connect(url)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        let sql = match template {
            Some(t) => format!("CREATE DATABASE {name} TEMPLATE {t}"),
            None => format!("CREATE DATABASE {name}"),
        };
        let mut tries = 0;
        loop {
            match sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .execute(&mut conn)
                .await
            {
                Ok(_) => break,
                Err(_) if tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                Err(e) => panic!("{sql}: {e}"),
            }
        }
    });
    with_name(url, name)
}

fn drop_database(url: &str, name: &str) {
    use sqlx::Connection as _;
    block_on(async {
        if let Ok(mut conn) = sqlx::PgConnection::connect(url).await {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await;
        }
    });
}

/// A push's ops as the bare insert's rows (op id, device, seq, kind, body).
fn bare_rows(push: &Value) -> Vec<[String; 5]> {
    let device = push["device_id"].as_str().unwrap_or_default().to_owned();
    push["ops"]
        .as_array()
        .map(|ops| {
            ops.iter()
                .map(|op| {
                    [
                        op["op_id"].as_str().unwrap_or_default().to_owned(),
                        device.clone(),
                        op["seq"].to_string(),
                        op["kind"].as_str().unwrap_or_default().to_owned(),
                        op["body"].to_string(),
                    ]
                })
                .collect()
        })
        .unwrap_or_default()
}

const BARE_TABLE: &str = "CREATE TABLE ops (op_id TEXT PRIMARY KEY, device_id TEXT NOT NULL,
    seq BIGINT NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL)";

/// Rows per second inserted one batch a transaction, as the server's SQLite is opened.
fn bare_sqlite(path: &Path, batches: &[Vec<[String; 5]>]) -> f64 {
    let mut db = rusqlite::Connection::open(path).unwrap_or_else(|e| panic!("{e}"));
    db.pragma_update(None, "journal_mode", "WAL")
        .unwrap_or_else(|e| panic!("{e}"));
    db.pragma_update(None, "synchronous", "FULL")
        .unwrap_or_else(|e| panic!("{e}"));
    db.execute(BARE_TABLE, []).unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let mut rows = 0;
    for batch in batches {
        let tx = db.transaction().unwrap_or_else(|e| panic!("{e}"));
        {
            let mut insert = tx
                .prepare_cached("INSERT INTO ops VALUES (?1, ?2, ?3, ?4, ?5)")
                .unwrap_or_else(|e| panic!("{e}"));
            for r in batch {
                insert
                    .execute(rusqlite::params![
                        r[0],
                        r[1],
                        r[2].parse::<i64>().unwrap_or(0),
                        r[3],
                        r[4]
                    ])
                    .unwrap_or_else(|e| panic!("{e}"));
                rows += 1;
            }
        }
        tx.commit().unwrap_or_else(|e| panic!("{e}"));
    }
    rows as f64 / started.elapsed().as_secs_f64()
}

/// Rows per second copied one `COPY` (its own transaction) a batch.
/// Rows per second `COPY`ed one batch a statement (autocommit, `synchronous_commit = on`),
/// each device's batches in order on a connection of its own, the devices at once — as the
/// server's pushes arrive. Through the server's Unix socket when the URL names this machine
/// and it has one: sqlx's `COPY` through TCP writes the data and its end apart without
/// `TCP_NODELAY`, and each batch then waited out a delayed ACK (about 30 ms, 12 × slower
/// than `psql \copy`), which made this baseline far too easy to beat.
fn bare_copy(url: &str, devices: &[Vec<Vec<[String; 5]>>]) -> f64 {
    use sqlx::Connection as _;
    use sqlx::postgres::PgConnectOptions;
    let mut options: PgConnectOptions = url.parse().unwrap_or_else(|e| panic!("{url}: {e}"));
    let socket = Path::new("/var/run/postgresql");
    let local = matches!(options.get_host(), "127.0.0.1" | "localhost" | "::1");
    if local
        && socket
            .join(format!(".s.PGSQL.{}", options.get_port()))
            .exists()
    {
        options = options.socket(socket);
    }
    let escape = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('\t', "\\t")
            .replace('\n', "\\n")
            .replace('\r', "\\r")
    };
    let texts: Vec<Vec<String>> = devices
        .iter()
        .map(|batches| {
            batches
                .iter()
                .map(|batch| {
                    let mut text = String::new();
                    for r in batch {
                        let line: Vec<String> = r.iter().map(|f| escape(f)).collect();
                        text.push_str(&line.join("\t"));
                        text.push('\n');
                    }
                    text
                })
                .collect()
        })
        .collect();
    let rows: usize = devices.iter().flatten().map(Vec::len).sum();
    block_on(async {
        let mut setup = sqlx::PgConnection::connect_with(&options)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        sqlx::query(BARE_TABLE)
            .execute(&mut setup)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut conns = Vec::new();
        for _ in &texts {
            conns.push(
                sqlx::PgConnection::connect_with(&options)
                    .await
                    .unwrap_or_else(|e| panic!("{url}: {e}")),
            );
        }
        let started = Instant::now();
        let mut copies = tokio::task::JoinSet::new();
        for (mut conn, batches) in conns.into_iter().zip(texts) {
            copies.spawn(async move {
                for text in batches {
                    let mut copy = conn
                        .copy_in_raw("COPY ops FROM STDIN")
                        .await
                        .unwrap_or_else(|e| panic!("{e}"));
                    copy.send(text.into_bytes())
                        .await
                        .unwrap_or_else(|e| panic!("{e}"));
                    copy.finish().await.unwrap_or_else(|e| panic!("{e}"));
                }
            });
        }
        while let Some(done) = copies.join_next().await {
            done.unwrap_or_else(|e| panic!("{e}"));
        }
        rows as f64 / started.elapsed().as_secs_f64()
    })
}
