//! What the end-to-end tests share: starting the real server binary on a free port, reading a
//! phone's stored state, and the disks that fail under it.

pub mod device_state;
pub mod small_disk;
pub mod sqlite_faults;

pub mod faults;
pub mod fieldsim;
pub mod latency;
pub mod rounds;
pub mod s3;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where to make temp folders for tests that kill processes or fail I/O on purpose: `/dev/shm`
/// (a tmpfs) when there is one, else the temp folder. A killed process loses nothing the page
/// cache holds, so an fsync to a real disk proves nothing there and costs milliseconds each.
pub fn in_memory_temp_root() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// A running `patrol-server serve`, stopped when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// `http://127.0.0.1:PORT/metrics` when served on a listener of its own.
    pub metrics_url: Option<String>,
    database: Option<Database>,
    data_dir: PathBuf,
    extra: Vec<String>,
    env: Vec<(String, String)>,
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

fn pg_admin(url: &str, sql: String) -> Result<(), String> {
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
        if let Err(e) = pg_admin(admin_url, format!("CREATE DATABASE {name}")) {
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
        let _ = pg_admin(
            &self.admin_url,
            format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// A throw-away PostgreSQL database for tests that start several servers on one database (as
/// an estate group runs them behind a load balancer); dropped with the value, after its servers.
pub struct SharedDatabase(Database);

impl SharedDatabase {
    /// A new empty database on the PostgreSQL server at `admin_url`.
    pub fn create(admin_url: &str) -> SharedDatabase {
        SharedDatabase(Database::create(admin_url))
    }

    /// Its URL, for `--database-url`.
    pub fn url(&self) -> String {
        self.0.url()
    }
}

/// Where the server binary is: `PATROL_SERVER_BIN`, or beside the test executable in the
/// target folder (`./scripts/test` builds it before the tests run).
pub fn server_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("PATROL_SERVER_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let name = format!("patrol-server{}", std::env::consts::EXE_SUFFIX);
    // A binary of this crate sits beside it in target/<profile>/; a test is one folder deeper,
    // in target/<profile>/deps/.
    let beside = exe.parent().map(|d| d.join(&name));
    if let Some(p) = beside.filter(|p| p.exists()) {
        return p;
    }
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    dir.join(name)
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
        Server::start_with_env(data_dir, extra, &[])
    }

    /// Start the server with extra `serve` arguments and environment variables (an S3
    /// store's `AWS_*` settings, say); its admin commands get the same environment.
    pub fn start_with_env(data_dir: &Path, extra: &[&str], env: &[(String, String)]) -> Server {
        let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        let (child, base_url, metrics_url) = spawn(data_dir, &extra, env);
        Server {
            child,
            base_url,
            metrics_url,
            database: None,
            data_dir: data_dir.to_path_buf(),
            extra,
            env: env.to_vec(),
        }
    }

    /// Kill the process with SIGKILL, as a power cut or the OOM killer would, and reap it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Start the process again on the same data folder and database, with the same arguments
    /// (on a new port: `base_url` changes), and wait until it listens.
    pub fn restart(&mut self) {
        self.kill();
        let (child, base_url, metrics_url) = spawn(&self.data_dir, &self.extra, &self.env);
        self.child = child;
        self.base_url = base_url;
        self.metrics_url = metrics_url;
    }

    /// The process id (for its memory in `/proc/<pid>/status`, say).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The PostgreSQL database this server runs on, if it runs on one.
    pub fn database_url(&self) -> Option<String> {
        self.database.as_ref().map(Database::url)
    }

    /// The data folder.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Run an admin command of the server binary on this server's data folder and database
    /// (like [`admin`], which knows only the data folder).
    pub fn admin(&self, args: &[&str], stdin: &str) -> (bool, String) {
        admin_on(
            &self.data_dir,
            self.database_url().as_deref(),
            args,
            stdin,
            &self.env,
        )
    }
}

/// Run an admin command of the server binary on a data folder and, when given, a PostgreSQL
/// database, with environment variables (as [`Server::admin`] does for a server's own).
pub fn admin_on(
    data: &Path,
    database_url: Option<&str>,
    args: &[&str],
    stdin: &str,
    env: &[(String, String)],
) -> (bool, String) {
    let mut all: Vec<&str> = Vec::new();
    if let Some(url) = database_url {
        all.extend(["--database-url", url]);
    }
    all.extend_from_slice(args);
    admin_with_env(data, &all, stdin, env)
}

/// Start `patrol-server serve` on port 0 with `extra` arguments; wait until it listens.
fn spawn(
    data_dir: &Path,
    extra: &[String],
    env: &[(String, String)],
) -> (Child, String, Option<String>) {
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
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut lines = BufReader::new(stdout).lines();
    let started = Instant::now();
    let mut metrics_url = None;
    let base_url = loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the server did not start"
        );
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(url) = line.strip_prefix("patrol-server metrics on ") {
                    metrics_url = Some(url.trim().to_owned());
                }
                if let Some(url) = line.strip_prefix("patrol-server listening on ") {
                    break url.trim().to_owned();
                }
            }
            _ => panic!("the server exited before listening"),
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, base_url, metrics_url)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The database goes after the server that used it.
        self.database.take();
    }
}

/// Run an admin command of the server binary on a data folder, with `stdin`; whether it
/// succeeded and what it printed.
pub fn admin(data: &Path, args: &[&str], stdin: &str) -> (bool, String) {
    admin_with_env(data, args, stdin, &[])
}

/// [`admin`] with environment variables.
pub fn admin_with_env(
    data: &Path,
    args: &[&str],
    stdin: &str,
    env: &[(String, String)],
) -> (bool, String) {
    use std::io::Write as _;
    let mut child = Command::new(server_binary())
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("RUST_LOG", "warn")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the server binary: {e}"));
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(stdin.as_bytes());
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("the server binary did not finish: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The password of the users [`add_other_site`] makes.
pub const OTHER_SITE_PASSWORD: &str = "cuihu-password";

/// A second site beside the demo estate, in a data folder before its server starts: the example
/// site file (`cuihu`, 翠湖苑) and one user of each role, `cuihu-patrol`, `cuihu-tech`
/// (engineering), `cuihu-super`, `cuihu-manager`, `cuihu-admin`.
pub fn add_other_site(data: &Path) {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../server/examples/site.yaml");
    let (ok, out) = admin(data, &["site", "import", example], "");
    assert!(ok, "site import: {out}");
    for (name, role, team) in [
        ("cuihu-patrol", "patrol", None),
        ("cuihu-tech", "technician", Some("engineering")),
        ("cuihu-super", "supervisor", None),
        ("cuihu-manager", "manager", Some("management")),
        ("cuihu-admin", "admin", None),
    ] {
        let mut args = vec![
            "user",
            "add",
            "--username",
            name,
            "--role",
            role,
            "--site",
            "cuihu",
        ];
        if let Some(team) = team {
            args.extend(["--team", team]);
        }
        let (ok, out) = admin(data, &args, OTHER_SITE_PASSWORD);
        assert!(ok, "user add {name}: {out}");
    }
}

/// The raw HTTP API, as a hand-made client (or a hostile one) speaks it.
pub struct Http {
    base: String,
    agent: ureq::Agent,
}

/// One answer: status and JSON body (`Null` when the body is not JSON).
pub type Answer = (u16, serde_json::Value);

impl Http {
    /// A client of the server at `base_url`.
    pub fn new(base_url: &str) -> Http {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .max_idle_age(patrol_core::sync::POOLED_IDLE)
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Http {
            base: base_url.trim_end_matches('/').to_owned(),
            agent,
        }
    }

    /// The full URL of a path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn answer(resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
        let mut resp = resp.unwrap_or_else(|e| panic!("request failed: {e}"));
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }

    /// Sign in; the token response.
    pub fn login(&self, username: &str, password: &str) -> Answer {
        Self::answer(
            self.agent
                .post(self.url("/api/v1/auth/login"))
                .send_json(serde_json::json!({"username": username, "password": password})),
        )
    }

    /// An access token for a user.
    pub fn token(&self, username: &str, password: &str) -> String {
        let (status, body) = self.login(username, password);
        assert_eq!(status, 200, "sign-in of {username}: {body}");
        body["access_token"].as_str().unwrap_or_default().to_owned()
    }

    /// GET with an optional bearer token.
    pub fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut req = self.agent.get(self.url(path));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        Self::answer(req.call())
    }

    /// POST a JSON body with an optional bearer token.
    pub fn post(&self, path: &str, token: Option<&str>, body: &serde_json::Value) -> Answer {
        let mut req = self.agent.post(self.url(path));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        Self::answer(req.send_json(body))
    }

    /// PUT bytes with an optional bearer token.
    pub fn put(&self, path: &str, token: Option<&str>, bytes: &[u8]) -> Answer {
        let mut req = self.agent.put(self.url(path));
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        Self::answer(req.header("content-type", "image/jpeg").send(bytes))
    }

    /// Push `ops` as `device`, its clock reading now.
    pub fn push(&self, token: &str, device: &str, ops: &[serde_json::Value]) -> Answer {
        self.post(
            "/api/v1/sync/push",
            Some(token),
            &serde_json::json!({
                "device_id": device,
                "device_time": jiff::Timestamp::now(),
                "ops": ops,
            }),
        )
    }
}

/// A hand-made op: kind and body, numbered `seq`, made now.
pub fn op(seq: u64, kind: &str, body: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "op_id": uuid::Uuid::now_v7(),
        "seq": seq,
        "kind": kind,
        "at": jiff::Timestamp::now(),
        "body": body,
    })
}

/// A proxy in front of a server that plays a phone's pushes out of order; everything else passes
/// through. Idempotency and ordering must make this invisible.
pub struct ChaosProxy {
    /// `http://127.0.0.1:PORT` of the proxy.
    pub base_url: String,
}

/// How a [`ChaosProxy`] mangles pushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chaos {
    /// Every push delivered twice, the first time with its ops reversed; the client gets the
    /// answer to the second delivery.
    Twice,
    /// The first time a batch is seen, only its later half is delivered and the client gets
    /// that answer (an earlier op is missing: `409 out_of_order`); a resend passes.
    LaterHalfFirst,
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
    /// A proxy for `upstream` (a server's base URL) that delivers every push twice, reversed
    /// first.
    pub fn start(upstream: &str) -> ChaosProxy {
        Self::with(upstream, Chaos::Twice)
    }

    /// A proxy for `upstream` that delivers the later half of each new batch first, alone.
    pub fn later_half_first(upstream: &str) -> ChaosProxy {
        Self::with(upstream, Chaos::LaterHalfFirst)
    }

    fn with(upstream: &str, chaos: Chaos) -> ChaosProxy {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        let upstream = upstream.to_owned();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let upstream = upstream.clone();
                let seen = seen.clone();
                std::thread::spawn(move || Self::serve(conn, &upstream, chaos, &seen));
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
            .max_idle_age(patrol_core::sync::POOLED_IDLE)
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

    /// A push with its ops replaced by `f` of them.
    fn with_ops(body: &[u8], f: impl FnOnce(&mut Vec<serde_json::Value>)) -> Vec<u8> {
        let mut push: serde_json::Value =
            serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
        if let Some(ops) = push.get_mut("ops").and_then(|o| o.as_array_mut()) {
            f(ops);
        }
        serde_json::to_vec(&push).unwrap_or_default()
    }

    fn serve(
        conn: std::net::TcpStream,
        upstream: &str,
        chaos: Chaos,
        seen: &std::sync::Mutex<std::collections::HashSet<String>>,
    ) {
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
            let forward = |b: &[u8]| Self::forward(upstream, &method, &path, &headers, b);
            let is_push = method == "POST" && path.starts_with("/api/v1/sync/push");
            let reply = match chaos {
                _ if !is_push => forward(&body),
                Chaos::Twice => {
                    let _ = forward(&Self::with_ops(&body, |ops| ops.reverse()));
                    forward(&body)
                }
                Chaos::LaterHalfFirst => {
                    let push: serde_json::Value =
                        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                    let first = push["ops"][0]["op_id"].as_str().unwrap_or("").to_owned();
                    let many = push["ops"].as_array().is_some_and(|o| o.len() >= 2);
                    let new = seen.lock().is_ok_and(|mut s| s.insert(first));
                    if new && many {
                        forward(&Self::with_ops(&body, |ops| {
                            let half = ops.len() / 2;
                            ops.drain(..half);
                        }))
                    } else {
                        forward(&body)
                    }
                }
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

/// The web console as a browser without JavaScript speaks it: cookies kept by hand, redirects
/// not followed (so a test sees each 303), forms posted urlencoded.
pub struct ConsoleClient {
    base: String,
    agent: ureq::Agent,
    cookies: std::collections::BTreeMap<String, String>,
    /// The session's form token, read from the last page that had one.
    pub csrf: String,
}

/// A console answer: status, the `Location` of a redirect, and the body as text.
#[derive(Debug)]
pub struct Page {
    /// The status.
    pub status: u16,
    /// Where a redirect points.
    pub location: Option<String>,
    /// The body.
    pub body: String,
}

impl ConsoleClient {
    /// A browser with no cookies yet.
    pub fn new(base_url: &str) -> ConsoleClient {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .max_idle_age(patrol_core::sync::POOLED_IDLE)
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        ConsoleClient {
            base: base_url.trim_end_matches('/').to_owned(),
            agent,
            cookies: std::collections::BTreeMap::new(),
            csrf: String::new(),
        }
    }

    /// Signed in as `username` through the sign-in form; panics unless it lands on the queue.
    pub fn sign_in(base_url: &str, username: &str, password: &str) -> ConsoleClient {
        let mut c = ConsoleClient::new(base_url);
        let form = c.get("/console/login");
        assert_eq!(form.status, 200, "{form:?}");
        let done = c.post(
            "/console/login",
            &[("username", username), ("password", password)],
        );
        assert_eq!(done.status, 303, "sign-in of {username}: {}", done.body);
        let queue = c.get(done.location.as_deref().unwrap_or("/console"));
        assert!(queue.status == 200 || queue.status == 403, "{queue:?}");
        c
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn take(&mut self, resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Page {
        let mut resp = resp.unwrap_or_else(|e| panic!("request failed: {e}"));
        for v in resp.headers().get_all("set-cookie") {
            let Some(pair) = v.to_str().ok().and_then(|s| s.split(';').next()) else {
                continue;
            };
            if let Some((k, v)) = pair.split_once('=') {
                if v.is_empty() {
                    self.cookies.remove(k.trim());
                } else {
                    self.cookies.insert(k.trim().to_owned(), v.to_owned());
                }
            }
        }
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        if let Some(token) = form_token(&body) {
            self.csrf = token;
        }
        Page {
            status,
            location,
            body,
        }
    }

    /// GET a console path.
    pub fn get(&mut self, path: &str) -> Page {
        let req = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header());
        let resp = req.call();
        self.take(resp)
    }

    /// GET a path's bytes (a download): status, content type and body.
    pub fn bytes(&mut self, path: &str) -> (u16, String, Vec<u8>) {
        let resp = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .call();
        let mut resp = resp.unwrap_or_else(|e| panic!("request failed: {e}"));
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = resp
            .body_mut()
            .with_config()
            .limit(256 * 1024 * 1024)
            .read_to_vec()
            .unwrap_or_default();
        (status, content_type, body)
    }

    /// POST a form with the session's `csrf` field added.
    pub fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.csrf.clone();
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf", &csrf));
        self.post_raw(path, &all)
    }

    /// POST a form exactly as given (no `csrf` added).
    pub fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let resp = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send_form(fields.iter().copied());
        self.take(resp)
    }
}

/// The value of the first hidden `csrf` field of a page.
pub fn form_token(html: &str) -> Option<String> {
    let at = html.find(r#"name="csrf" value=""#)? + r#"name="csrf" value=""#.len();
    let end = html[at..].find('"')?;
    Some(html[at..at + end].to_owned())
}

/// The id of the first pulled entity of a kind that `pick` accepts, from a pull's JSON answer.
pub fn pulled_id(
    changes: &serde_json::Value,
    entity: &str,
    pick: impl Fn(&serde_json::Value) -> bool,
) -> String {
    changes["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["entity"] == entity && c["data"].is_object() && pick(&c["data"]))
        .and_then(|c| c["id"].as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no {entity} in the pull"))
}

/// The demo's building round as a signed-in, synced engine has it today. Picked by name: the
/// demo schedules it around the hour it starts, so it is not always the day's first route.
pub fn building_round(engine: &patrol_core::engine::Engine) -> patrol_core::route::Route {
    engine
        .routes_today()
        .unwrap_or_else(|e| panic!("routes today: {e}"))
        .into_iter()
        .find(|r| r.route.name.contains("Building"))
        .unwrap_or_else(|| panic!("the demo's building round runs today"))
        .route
}
