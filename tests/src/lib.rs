//! What the end-to-end tests share: starting the real server binary on a free port.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `patrol-server serve`, stopped when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    database: Option<Database>,
}

/// Which store a server runs on.
#[derive(Debug, Clone)]
pub enum Backend {
    /// The embedded SQLite file in the data folder.
    Sqlite,
    /// PostgreSQL at this server URL; each server gets a database of its own.
    Postgres(String),
}

impl Backend {
    /// PostgreSQL when `PATROL_TEST_DATABASE_URL` is set (`.ci/run` sets it).
    pub fn postgres() -> Option<Backend> {
        std::env::var("PATROL_TEST_DATABASE_URL")
            .ok()
            .map(Backend::Postgres)
    }
}

/// A throw-away PostgreSQL database, dropped with its server.
struct Database {
    admin_url: String,
    name: String,
}

fn with_database_name(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let root = base.rsplit_once('/').map_or(base, |(r, _)| r);
    match query {
        Some(q) => format!("{root}/{name}?{q}"),
        None => format!("{root}/{name}"),
    }
}

fn admin(url: &str, sql: String) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(url)
            .await
            .map_err(|e| e.to_string())?;
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        conn.close().await.map_err(|e| e.to_string())
    })
}

impl Database {
    fn create(admin_url: &str) -> Database {
        let name = format!("patrol_e2e_{}", uuid::Uuid::now_v7().simple());
        if let Err(e) = admin(admin_url, format!("CREATE DATABASE {name}")) {
            panic!("cannot create a test database on {admin_url}: {e}");
        }
        Database {
            admin_url: admin_url.to_owned(),
            name,
        }
    }

    fn url(&self) -> String {
        with_database_name(&self.admin_url, &self.name)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = admin(
            &self.admin_url,
            format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// Where the server binary is: `PATROL_SERVER_BIN`, or beside the test executable in the
/// target folder (`./scripts/test` builds it before the tests run).
pub fn server_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("PATROL_SERVER_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    // target/<profile>/deps/<test> → target/<profile>/patrol-server
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    dir.join(format!("patrol-server{}", std::env::consts::EXE_SUFFIX))
}

impl Server {
    /// Start the server with `--demo` on port 0 in `data_dir`, and wait until it listens.
    pub fn start_demo(data_dir: &Path) -> Server {
        Server::start(data_dir, &["--demo"])
    }

    /// Start the demo server on a backend.
    pub fn start_demo_on(backend: &Backend, data_dir: &Path) -> Server {
        match backend {
            Backend::Sqlite => Server::start(data_dir, &["--demo"]),
            Backend::Postgres(url) => {
                let db = Database::create(url);
                let url = db.url();
                let mut server = Server::start(data_dir, &["--demo", "--database-url", &url]);
                server.database = Some(db);
                server
            }
        }
    }

    /// Start the server with extra `serve` arguments.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Server {
        let bin = server_binary();
        assert!(
            bin.exists(),
            "{} is missing: run ./scripts/test (it builds the server first) or `cargo build -p patrol-server`",
            bin.display()
        );
        let mut child = Command::new(&bin)
            .arg("--data-dir")
            .arg(data_dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let mut lines = BufReader::new(stdout).lines();
        let started = Instant::now();
        let base_url = loop {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the server did not start"
            );
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(url) = line.strip_prefix("patrol-server listening on ") {
                        break url.trim().to_owned();
                    }
                }
                _ => panic!("the server exited before listening"),
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            base_url,
            database: None,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The database goes after the server that used it.
        self.database.take();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_test_database_url_keeps_host_and_options() {
        assert_eq!(
            super::with_database_name("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            super::with_database_name("postgres://h/test?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
    }
}
