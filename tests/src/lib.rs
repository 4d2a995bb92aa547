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

/// A proxy in front of a server that delivers every push twice, the first time with its ops in
/// reverse order; everything else passes through. Idempotency and ordering must make this
/// invisible: the client gets the answer to the second delivery.
pub struct ChaosProxy {
    /// `http://127.0.0.1:PORT` of the proxy.
    pub base_url: String,
}

/// One HTTP request as the proxy reads it.
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn read_request(reader: &mut BufReader<std::net::TcpStream>) -> Option<Request> {
    use std::io::Read as _;
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = Vec::new();
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_owned());
        if k == "content-length" {
            length = v.parse().ok()?;
        }
        headers.push((k, v));
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

impl ChaosProxy {
    /// Start a proxy for `upstream` (a server's base URL).
    pub fn start(upstream: &str) -> ChaosProxy {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        let upstream = upstream.to_owned();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let upstream = upstream.clone();
                std::thread::spawn(move || Self::serve(conn, &upstream));
            }
        });
        ChaosProxy {
            base_url: format!("http://127.0.0.1:{port}"),
        }
    }

    fn forward(
        upstream: &str,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Option<(u16, Vec<u8>)> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut req = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{upstream}{path}"));
        for (k, v) in headers {
            if !matches!(k.as_str(), "host" | "content-length" | "connection") {
                req = req.header(k, v);
            }
        }
        let req = req.body(body.to_vec()).ok()?;
        let mut resp = agent.run(req).ok()?;
        let status = resp.status().as_u16();
        let bytes = resp.body_mut().read_to_vec().unwrap_or_default();
        Some((status, bytes))
    }

    fn serve(conn: std::net::TcpStream, upstream: &str) {
        use std::io::Write as _;
        let Ok(mut out) = conn.try_clone() else {
            return;
        };
        let mut reader = BufReader::new(conn);
        while let Some(Request {
            method,
            path,
            headers,
            body,
        }) = read_request(&mut reader)
        {
            let reply = if method == "POST" && path.starts_with("/api/v1/sync/push") {
                let mut shuffled: serde_json::Value =
                    serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                if let Some(ops) = shuffled.get_mut("ops").and_then(|o| o.as_array_mut()) {
                    ops.reverse();
                }
                let reversed = serde_json::to_vec(&shuffled).unwrap_or_default();
                let _ = Self::forward(upstream, &method, &path, &headers, &reversed);
                Self::forward(upstream, &method, &path, &headers, &body)
            } else {
                Self::forward(upstream, &method, &path, &headers, &body)
            };
            let Some((status, bytes)) = reply else { return };
            let head = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                bytes.len()
            );
            if out.write_all(head.as_bytes()).is_err() || out.write_all(&bytes).is_err() {
                return;
            }
        }
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
