//! An HTTP/1.1 proxy between the devices and the server that misbehaves the way mobile networks
//! and load balancers do, with seeded randomness: it drops requests, drops responses after the
//! server answered (and so committed), delivers requests twice (at once or late, after later
//! ones), delays them, holds a push back until a later one has gone through, and cuts
//! connections part-way through an upload. Its upstream can change while it runs (a restarted
//! server listens on a new port); while there is none it answers 502, as a load balancer does.
//! With several upstreams (server processes on one database) it sends each request to the next
//! in turn, as a round-robin load balancer does, and counts what each served; with no faults
//! planned it is just that load balancer, timing every answer by kind (push, pull, photo).
//!
//! Every request goes upstream on a connection of its own (`connection: close`); the answer is
//! re-framed with a `content-length` for the client, whose connection stays open.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use super::Rng;
use crate::latency::Latency;

/// The kinds of fault the proxy injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// The request is read and the connection closed: the server never sees it.
    DropRequest,
    /// The request is forwarded and answered; the answer is thrown away and the connection
    /// closed, so the client does not learn what the server did.
    DropResponse,
    /// The request is delivered twice: the copy at once or a while later, after later requests.
    Duplicate,
    /// The request waits before it is forwarded.
    Delay,
    /// A push is held back and delivered after a later push has gone through.
    Reorder,
    /// Part of the body of an upload (photo or push) is forwarded, then both connections close.
    Cut,
}

impl FaultKind {
    /// Every kind, in the order summaries list them.
    pub const ALL: [FaultKind; 6] = [
        FaultKind::DropRequest,
        FaultKind::DropResponse,
        FaultKind::Duplicate,
        FaultKind::Delay,
        FaultKind::Reorder,
        FaultKind::Cut,
    ];

    /// Its name in summaries.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::DropRequest => "drop_request",
            FaultKind::DropResponse => "drop_response",
            FaultKind::Duplicate => "duplicate",
            FaultKind::Delay => "delay",
            FaultKind::Reorder => "reorder",
            FaultKind::Cut => "cut",
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|k| *k == self).unwrap_or(0)
    }
}

/// How often each fault strikes a request, in percent (the rest pass untouched). `Reorder`
/// applies to pushes and `Cut` to requests with a body; elsewhere they pass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultPlan {
    /// Percent of requests dropped before the server.
    pub drop_request: u32,
    /// Percent answered and then lost.
    pub drop_response: u32,
    /// Percent delivered twice.
    pub duplicate: u32,
    /// Percent delayed.
    pub delay: u32,
    /// Percent of pushes held back behind a later one.
    pub reorder: u32,
    /// Percent of uploads cut mid-body.
    pub cut: u32,
    /// The longest delay (and the longest a late copy or a held push waits).
    pub max_delay: Duration,
}

impl FaultPlan {
    /// No faults: every request passes.
    pub const NONE: FaultPlan = FaultPlan {
        drop_request: 0,
        drop_response: 0,
        duplicate: 0,
        delay: 0,
        reorder: 0,
        cut: 0,
        max_delay: Duration::ZERO,
    };

    /// About two requests in five meet a fault; each retried request gets through in the end.
    pub const STORMY: FaultPlan = FaultPlan {
        drop_request: 7,
        drop_response: 9,
        duplicate: 8,
        delay: 7,
        reorder: 6,
        cut: 5,
        max_delay: Duration::from_millis(1500),
    };

    fn percent(&self, kind: FaultKind) -> u32 {
        match kind {
            FaultKind::DropRequest => self.drop_request,
            FaultKind::DropResponse => self.drop_response,
            FaultKind::Duplicate => self.duplicate,
            FaultKind::Delay => self.delay,
            FaultKind::Reorder => self.reorder,
            FaultKind::Cut => self.cut,
        }
    }

    /// The fault for a request, if any: one draw of `rng` in 0..100 walks the kinds' shares.
    fn pick(&self, rng: &mut Rng) -> Option<FaultKind> {
        let mut roll = (rng.below(100)) as u32;
        for kind in FaultKind::ALL {
            let p = self.percent(kind);
            if roll < p {
                return Some(kind);
            }
            roll -= p;
        }
        None
    }
}

/// What the proxy has done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyCounts {
    /// Requests read from clients.
    pub requests: u64,
    /// Pushes among them.
    pub pushes: u64,
    /// Faults injected, by kind, in [`FaultKind::ALL`] order.
    pub faults: [u64; 6],
    /// Requests answered 502 because no server was up.
    pub no_upstream: u64,
    /// Requests each upstream answered, in the order they were set.
    pub per_upstream: Vec<u64>,
}

impl ProxyCounts {
    /// Faults of one kind.
    pub fn of(&self, kind: FaultKind) -> u64 {
        self.faults[kind.index()]
    }

    /// Faults of every kind.
    pub fn total_faults(&self) -> u64 {
        self.faults.iter().sum()
    }

    /// `drop_request=3 drop_response=5 …`.
    pub fn faults_line(&self) -> String {
        FaultKind::ALL
            .iter()
            .map(|k| format!("{}={}", k.name(), self.of(*k)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    pushes: AtomicU64,
    faults: [AtomicU64; 6],
    no_upstream: AtomicU64,
}

/// How long the upstreams took to answer, by kind of request (the proxy's own forwarding
/// included: a fresh connection per request, as a load balancer without keep-alive).
#[derive(Debug, Default)]
pub struct RequestLatencies {
    /// `POST /api/v1/sync/push`.
    pub push: Latency,
    /// `GET /api/v1/sync/pull`.
    pub pull: Latency,
    /// Photo uploads and downloads (`/api/v1/blobs/…`).
    pub photo: Latency,
    /// Everything else (sign-in, refresh…).
    pub other: Latency,
}

impl RequestLatencies {
    fn of(&self, req: &Request) -> &Latency {
        if req.is_push() {
            &self.push
        } else if req.target.starts_with("/api/v1/sync/pull") {
            &self.pull
        } else if req.target.starts_with("/api/v1/blobs/") {
            &self.photo
        } else {
            &self.other
        }
    }
}

/// The servers requests go to, taken in turn, and what each answered.
#[derive(Default)]
struct Upstreams {
    urls: Vec<String>,
    served: Vec<AtomicU64>,
}

struct Shared {
    upstream: RwLock<Upstreams>,
    next_upstream: AtomicU64,
    latencies: RequestLatencies,
    plan: RwLock<FaultPlan>,
    rng: Mutex<Rng>,
    counters: Counters,
    /// Pushes forwarded so far, and a signal for pushes held back waiting for a later one.
    forwarded: Mutex<u64>,
    forwarded_signal: Condvar,
    stop: AtomicBool,
}

/// The proxy; it stops accepting when dropped.
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT` of the proxy: what the devices talk to.
    pub base_url: String,
    shared: Arc<Shared>,
}

/// One request as read from a client.
#[derive(Clone)]
struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn is_push(&self) -> bool {
        self.method == "POST" && self.target.starts_with("/api/v1/sync/push")
    }

    /// The request as sent upstream: its own connection, closed after the answer.
    fn head_bytes(&self) -> Vec<u8> {
        let mut head = format!("{} {} HTTP/1.1\r\n", self.method, self.target);
        for (k, v) in &self.headers {
            if !matches!(
                k.as_str(),
                "connection" | "content-length" | "transfer-encoding" | "keep-alive"
            ) {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        if !self.body.is_empty() || matches!(self.method.as_str(), "POST" | "PUT") {
            head.push_str(&format!("content-length: {}\r\n", self.body.len()));
        }
        head.push_str("connection: close\r\n\r\n");
        head.into_bytes()
    }
}

/// An answer from upstream, re-framed for the client.
struct Response {
    status_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    head_only: bool,
}

impl Response {
    fn bad_gateway() -> Response {
        let body = br#"{"error":{"code":"bad_gateway","message":"no server is up / upstream unavailable"}}"#;
        Response {
            status_line: "HTTP/1.1 502 Bad Gateway".to_owned(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_vec(),
            head_only: false,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = format!("{}\r\n", self.status_line);
        for (k, v) in &self.headers {
            if !matches!(
                k.as_str(),
                "connection" | "content-length" | "transfer-encoding" | "keep-alive"
            ) {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        if self.head_only {
            // A HEAD answer keeps its length header and has no body.
            if let Some((_, v)) = self.headers.iter().find(|(k, _)| k == "content-length") {
                out.push_str(&format!("content-length: {v}\r\n"));
            }
        } else {
            out.push_str(&format!("content-length: {}\r\n", self.body.len()));
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        if !self.head_only {
            bytes.extend_from_slice(&self.body);
        }
        bytes
    }
}

fn read_line(r: &mut impl BufRead) -> Option<String> {
    let mut line = String::new();
    match r.read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_owned()),
    }
}

fn read_headers(r: &mut impl BufRead) -> Option<Vec<(String, String)>> {
    let mut headers = Vec::new();
    loop {
        let line = read_line(r)?;
        if line.is_empty() {
            return Some(headers);
        }
        let (k, v) = line.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A body framed by `content-length` or chunked; `to_end` reads until the peer closes.
fn read_body(r: &mut impl BufRead, headers: &[(String, String)], to_end: bool) -> Option<Vec<u8>> {
    let chunked = header(headers, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        let mut body = Vec::new();
        loop {
            let size = read_line(r)?;
            let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
            if size == 0 {
                // Trailers, then the blank line.
                while !read_line(r)?.is_empty() {}
                return Some(body);
            }
            let start = body.len();
            body.resize(start + size, 0);
            r.read_exact(&mut body[start..]).ok()?;
            read_line(r)?;
        }
    }
    if let Some(n) = header(headers, "content-length") {
        let n: usize = n.parse().ok()?;
        let mut body = vec![0; n];
        r.read_exact(&mut body).ok()?;
        return Some(body);
    }
    let mut body = Vec::new();
    if to_end {
        r.read_to_end(&mut body).ok()?;
    }
    Some(body)
}

fn read_request(r: &mut impl BufRead) -> Option<Request> {
    let line = read_line(r)?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let headers = read_headers(r)?;
    let body = read_body(r, &headers, false)?;
    Some(Request {
        method,
        target,
        headers,
        body,
    })
}

/// Send a request upstream and read its whole answer; `None` when the server is not there or
/// the connection broke.
fn exchange(upstream: &str, req: &Request) -> Option<Response> {
    let addr = upstream.strip_prefix("http://").unwrap_or(upstream);
    let addr: std::net::SocketAddr = addr.parse().ok()?;
    let mut conn = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    conn.write_all(&req.head_bytes()).ok()?;
    conn.write_all(&req.body).ok()?;
    let mut r = BufReader::new(conn);
    let status_line = read_line(&mut r)?;
    let headers = read_headers(&mut r)?;
    let status: u16 = status_line.split_whitespace().nth(1)?.parse().ok()?;
    let head_only = req.method == "HEAD" || status == 204 || status == 304;
    let body = if head_only {
        Vec::new()
    } else {
        read_body(&mut r, &headers, true)?
    };
    Some(Response {
        status_line,
        headers,
        body,
        head_only,
    })
}

/// Send the head and the first `keep` bytes of the body upstream, then close.
fn cut_upstream(upstream: &str, req: &Request, keep: usize) {
    let addr = upstream.strip_prefix("http://").unwrap_or(upstream);
    let Ok(addr) = addr.parse::<std::net::SocketAddr>() else {
        return;
    };
    if let Ok(mut conn) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
        let _ = conn.write_all(&req.head_bytes());
        let _ = conn.write_all(&req.body[..keep.min(req.body.len())]);
        let _ = conn.flush();
        // Let the server start reading the body before the connection goes.
        std::thread::sleep(Duration::from_millis(20));
        let _ = conn.shutdown(Shutdown::Both);
    }
}

impl FaultProxy {
    /// A proxy with no upstream yet and no faults, its randomness seeded with `seed`.
    pub fn start(seed: u64) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("proxy address: {e}"))
            .port();
        listener
            .set_nonblocking(true)
            .unwrap_or_else(|e| panic!("proxy listener: {e}"));
        let shared = Arc::new(Shared {
            upstream: RwLock::new(Upstreams::default()),
            next_upstream: AtomicU64::new(0),
            latencies: RequestLatencies::default(),
            plan: RwLock::new(FaultPlan::NONE),
            rng: Mutex::new(Rng::new(seed)),
            counters: Counters::default(),
            forwarded: Mutex::new(0),
            forwarded_signal: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let accepting = shared.clone();
        std::thread::spawn(move || {
            while !accepting.stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let shared = accepting.clone();
                        std::thread::spawn(move || serve(&shared, conn));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FaultProxy {
            base_url: format!("http://127.0.0.1:{port}"),
            shared,
        }
    }

    /// Forward to this server from now on (`None`: no server is up; answer 502).
    pub fn set_upstream(&self, base_url: Option<&str>) {
        let urls: Vec<String> = base_url.into_iter().map(str::to_owned).collect();
        self.set_upstreams(&urls);
    }

    /// Forward to these servers from now on, each request to the next in turn (none: answer
    /// 502). What each served is counted afresh.
    pub fn set_upstreams(&self, base_urls: &[String]) {
        if let Ok(mut u) = self.shared.upstream.write() {
            *u = Upstreams {
                urls: base_urls.to_vec(),
                served: base_urls.iter().map(|_| AtomicU64::new(0)).collect(),
            };
        }
    }

    /// How long the answers took so far, by kind of request.
    pub fn latencies(&self) -> &RequestLatencies {
        &self.shared.latencies
    }

    /// Inject faults by this plan from now on.
    pub fn set_plan(&self, plan: FaultPlan) {
        if let Ok(mut p) = self.shared.plan.write() {
            *p = plan;
        }
    }

    /// What it has done so far.
    pub fn counts(&self) -> ProxyCounts {
        let c = &self.shared.counters;
        let mut faults = [0; 6];
        for (i, f) in c.faults.iter().enumerate() {
            faults[i] = f.load(Ordering::Relaxed);
        }
        let per_upstream = self.shared.upstream.read().map_or_else(
            |_| Vec::new(),
            |u| u.served.iter().map(|n| n.load(Ordering::Relaxed)).collect(),
        );
        ProxyCounts {
            requests: c.requests.load(Ordering::Relaxed),
            pushes: c.pushes.load(Ordering::Relaxed),
            faults,
            no_upstream: c.no_upstream.load(Ordering::Relaxed),
            per_upstream,
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }
}

impl Shared {
    /// The next upstream in turn, and its place in the list.
    fn upstream(&self) -> Option<(usize, String)> {
        let u = self.upstream.read().ok()?;
        if u.urls.is_empty() {
            return None;
        }
        let i = (self.next_upstream.fetch_add(1, Ordering::Relaxed) % u.urls.len() as u64) as usize;
        Some((i, u.urls[i].clone()))
    }

    fn served_by(&self, i: usize, upstream: &str) {
        if let Ok(u) = self.upstream.read()
            && u.urls.get(i).is_some_and(|url| url == upstream)
        {
            u.served[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    fn count(&self, kind: FaultKind) {
        self.counters.faults[kind.index()].fetch_add(1, Ordering::Relaxed);
    }

    fn rand_below(&self, n: u64) -> u64 {
        self.rng.lock().map_or(0, |mut r| r.below(n))
    }

    fn rand_delay(&self, max: Duration) -> Duration {
        let ms = max.as_millis().max(1) as u64;
        Duration::from_millis(self.rand_below(ms) + 1)
    }

    /// Forward a request; 502 when no server is up (or it went away mid-request and there is
    /// nothing to tell the client but that).
    fn forward(&self, req: &Request) -> Response {
        let answer = self.upstream().and_then(|(i, u)| {
            let started = Instant::now();
            let answer = exchange(&u, req)?;
            self.latencies.of(req).record(started.elapsed());
            self.served_by(i, &u);
            Some(answer)
        });
        if req.is_push()
            && let Ok(mut n) = self.forwarded.lock()
        {
            *n += 1;
            self.forwarded_signal.notify_all();
        }
        answer.unwrap_or_else(|| {
            self.counters.no_upstream.fetch_add(1, Ordering::Relaxed);
            Response::bad_gateway()
        })
    }

    /// Hold a push until a later push has been forwarded, or `max` has passed.
    fn hold_for_a_later_push(&self, max: Duration) {
        let Ok(guard) = self.forwarded.lock() else {
            return;
        };
        let mark = *guard;
        let deadline = Instant::now() + max;
        let mut guard = guard;
        while *guard == mark {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            match self.forwarded_signal.wait_timeout(guard, left) {
                Ok((g, _)) => guard = g,
                Err(_) => return,
            }
        }
    }
}

/// What to do with one request; `None` from the caller's point of view is "close".
fn handle(shared: &Arc<Shared>, req: &Request) -> Option<Response> {
    let plan = shared.plan.read().map_or(FaultPlan::NONE, |p| *p);
    let fault = shared
        .rng
        .lock()
        .ok()
        .and_then(|mut r| plan.pick(&mut r))
        .filter(|k| match k {
            FaultKind::Reorder => req.is_push(),
            FaultKind::Cut => req.body.len() >= 2,
            _ => true,
        });
    if let Some(kind) = fault {
        shared.count(kind);
    }
    match fault {
        None => Some(shared.forward(req)),
        Some(FaultKind::DropRequest) => None,
        Some(FaultKind::DropResponse) => {
            let _ = shared.forward(req);
            None
        }
        Some(FaultKind::Duplicate) => {
            let copy = req.clone();
            let late = shared.rand_below(2) == 0;
            let wait = if late {
                shared.rand_delay(plan.max_delay * 2)
            } else {
                Duration::ZERO
            };
            let twin = shared.clone();
            std::thread::spawn(move || {
                std::thread::sleep(wait);
                let _ = twin.forward(&copy);
            });
            Some(shared.forward(req))
        }
        Some(FaultKind::Delay) => {
            std::thread::sleep(shared.rand_delay(plan.max_delay));
            Some(shared.forward(req))
        }
        Some(FaultKind::Reorder) => {
            shared.hold_for_a_later_push(plan.max_delay.max(Duration::from_millis(100)));
            Some(shared.forward(req))
        }
        Some(FaultKind::Cut) => {
            if let Some((_, upstream)) = shared.upstream() {
                let keep = 1 + shared.rand_below(req.body.len() as u64 - 1) as usize;
                cut_upstream(&upstream, req, keep);
            }
            None
        }
    }
}

fn serve(shared: &Arc<Shared>, conn: TcpStream) {
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_read_timeout(Some(Duration::from_secs(120)));
    let Ok(mut out) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(conn);
    while let Some(req) = read_request(&mut reader) {
        shared.counters.requests.fetch_add(1, Ordering::Relaxed);
        if req.is_push() {
            shared.counters.pushes.fetch_add(1, Ordering::Relaxed);
        }
        let Some(answer) = handle(shared, &req) else {
            let _ = out.shutdown(Shutdown::Both);
            return;
        };
        if out.write_all(&answer.bytes()).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_picks_each_kind_by_its_share() {
        let mut rng = Rng::new(7);
        let mut seen = [0u32; 6];
        let mut passed = 0;
        for _ in 0..10_000 {
            match FaultPlan::STORMY.pick(&mut rng) {
                Some(k) => seen[k.index()] += 1,
                None => passed += 1,
            }
        }
        for k in FaultKind::ALL {
            let expected = FaultPlan::STORMY.percent(k) * 100;
            let got = seen[k.index()];
            assert!(
                got.abs_diff(expected) < expected / 4 + 30,
                "{k:?}: {got} of {expected}"
            );
        }
        assert!((5_500..6_500).contains(&passed), "{passed}");
        assert_eq!(FaultPlan::NONE.pick(&mut rng), None);
    }
}
