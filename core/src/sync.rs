//! The sync client (DESIGN.md §6): blocking HTTP, run by the phone on a background thread.
//! Photos go first, then ops in `seq` order in batches, then pulls until nothing more. Every
//! step is committed as it completes, so a sync cut off by the network, the person or the OS
//! resumes where it stopped and sends nothing twice that the server has not already answered.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ureq::Agent;
use ureq::http::StatusCode;

use crate::engine::Engine;
pub use crate::error::SyncError;
use crate::wire::{
    ErrorBody, LoginRequest, OpStatus, PROTOCOL_HEADER, PROTOCOL_VERSION, PullResponse,
    PushRequest, PushResponse, RefreshRequest, SessionUser, TokenResponse,
};

/// Where a sync is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncStage {
    /// Uploading photos.
    Photos {
        /// Uploaded so far.
        done: u64,
        /// To upload in all.
        total: u64,
    },
    /// Sending operations.
    Ops {
        /// Sent so far.
        done: u64,
        /// To send in all.
        total: u64,
    },
    /// Receiving changes.
    Pull {
        /// Received so far.
        received: u64,
    },
}

/// What a sync did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Photos uploaded (or found already there).
    pub photos: u64,
    /// Ops applied.
    pub applied: u64,
    /// Ops the server had already.
    pub duplicates: u64,
    /// Ops refused for good (see [`Engine::rejections`]).
    pub rejected: u64,
    /// Changes received.
    pub pulled: u64,
}

/// A handle to stop a running sync from another thread.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A new, not cancelled token.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stop the sync at its next step.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether it was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Tuning of a client.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Ops per push.
    pub batch: usize,
    /// Changes per pull page.
    pub pull_limit: u32,
    /// Tries per request on network errors and 5xx.
    pub attempts: u32,
    /// First backoff delay; it doubles, with jitter.
    pub backoff: Duration,
    /// Timeout of one request.
    pub timeout: Duration,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            batch: 100,
            pull_limit: 500,
            attempts: 5,
            backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(30),
        }
    }
}

/// Talks to one server.
pub struct SyncClient {
    agent: Agent,
    base: String,
    options: SyncOptions,
}

type Response = ureq::http::Response<ureq::Body>;

fn jitter(max: Duration) -> Duration {
    let mut b = [0u8; 4];
    let r = getrandom::fill(&mut b).map_or(0, |()| u32::from_le_bytes(b));
    max.mul_f64(f64::from(r) / f64::from(u32::MAX))
}

/// How many `out_of_order` answers in a row a push takes before it gives up for this sync.
const MAX_REORDERS: u32 = 5;

/// How long a connection may wait idle in the client's pool and still be used again. The
/// server closes a keep-alive connection that sends no request within its header timeout (15 s
/// by default, `serve --header-timeout`); a connection kept as long as that may be closed just
/// as a request is written on it, and a push or an upload failed that way waits for the next
/// sync. Kept well below it, a connection is dropped by the client first.
pub const POOLED_IDLE: Duration = Duration::from_secs(10);

fn refused(status: StatusCode, mut resp: Response) -> SyncError {
    let body: Option<ErrorBody> = resp.body_mut().read_json().ok();
    let (code, message, expected_seq) = body.map_or_else(
        || ("http".to_owned(), status.to_string(), None),
        |b| (b.error.code, b.error.message, b.error.expected_seq),
    );
    SyncError::Refused {
        status: status.as_u16(),
        code,
        message,
        expected_seq,
    }
}

impl SyncClient {
    /// A client for the server at `base_url` (e.g. `https://patrol.example.com`).
    pub fn new(base_url: &str) -> SyncClient {
        SyncClient::with_options(base_url, SyncOptions::default())
    }

    /// A client with its own tuning.
    pub fn with_options(base_url: &str, options: SyncOptions) -> SyncClient {
        let agent: Agent = Agent::config_builder()
            .http_status_as_error(false)
            .max_idle_age(POOLED_IDLE)
            .timeout_global(Some(options.timeout))
            .build()
            .into();
        SyncClient {
            agent,
            base: base_url.trim_end_matches('/').to_owned(),
            options,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Run a request, retrying network failures and 5xx with backoff and jitter.
    fn retrying(
        &self,
        cancel: &CancelToken,
        send: &dyn Fn() -> Result<Response, ureq::Error>,
    ) -> Result<Response, SyncError> {
        let mut delay = self.options.backoff;
        let mut last = String::new();
        for attempt in 0..self.options.attempts.max(1) {
            if cancel.is_cancelled() {
                return Err(SyncError::Cancelled);
            }
            if attempt > 0 {
                let wait = delay + jitter(delay);
                let until = std::time::Instant::now() + wait;
                while std::time::Instant::now() < until {
                    if cancel.is_cancelled() {
                        return Err(SyncError::Cancelled);
                    }
                    std::thread::sleep(Duration::from_millis(20).min(wait));
                }
                delay *= 2;
            }
            match send() {
                Ok(resp) if resp.status().is_server_error() => {
                    last = format!("server answered {}", resp.status());
                }
                Ok(resp) => return Ok(resp),
                Err(e) => last = e.to_string(),
            }
        }
        Err(SyncError::Network(last))
    }

    /// Sign in: keeps the user and tokens in the engine. A phone handed to another person
    /// must send the previous person's work first, so every op keeps its real author.
    pub fn login(
        &self,
        engine: &Engine,
        username: &str,
        password: &str,
    ) -> crate::Result<SessionUser> {
        let cancel = CancelToken::new();
        let req = LoginRequest {
            username: username.to_owned(),
            password: password.to_owned(),
        };
        let mut resp = self.retrying(&cancel, &|| {
            self.agent
                .post(self.url("/api/v1/auth/login"))
                .send_json(&req)
        })?;
        match resp.status() {
            StatusCode::OK => {}
            StatusCode::UNAUTHORIZED => return Err(SyncError::BadCredentials.into()),
            s => return Err(refused(s, resp).into()),
        }
        let tokens: TokenResponse = resp
            .body_mut()
            .read_json()
            .map_err(|e| SyncError::Network(e.to_string()))?;
        if let Some(current) = engine.session()?
            && current.id != tokens.user.id
            && engine.pending_counts()?.ops > 0
        {
            return Err(SyncError::OtherUsersWorkPending.into());
        }
        engine.set_session(&tokens.user)?;
        engine.set_tokens(&tokens.access_token, &tokens.refresh_token)?;
        Ok(tokens.user)
    }

    fn refresh(&self, engine: &Engine, cancel: &CancelToken) -> crate::Result<String> {
        let (_, refresh) = engine.tokens()?.ok_or(SyncError::Unauthorized)?;
        let req = RefreshRequest {
            refresh_token: refresh,
        };
        let mut resp = self.retrying(cancel, &|| {
            self.agent
                .post(self.url("/api/v1/auth/refresh"))
                .send_json(&req)
        })?;
        if resp.status() != StatusCode::OK {
            return Err(SyncError::Unauthorized.into());
        }
        let tokens: TokenResponse = resp
            .body_mut()
            .read_json()
            .map_err(|e| SyncError::Network(e.to_string()))?;
        engine.set_tokens(&tokens.access_token, &tokens.refresh_token)?;
        Ok(tokens.access_token)
    }

    /// An authorised request; a 401 is answered once by refreshing the tokens.
    fn authed(
        &self,
        engine: &Engine,
        cancel: &CancelToken,
        send: &dyn Fn(&str) -> Result<Response, ureq::Error>,
    ) -> crate::Result<Response> {
        let (access, _) = engine.tokens()?.ok_or(SyncError::Unauthorized)?;
        let resp = self.retrying(cancel, &|| send(&access))?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let access = self.refresh(engine, cancel)?;
        let resp = self.retrying(cancel, &|| send(&access))?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            return Err(SyncError::Unauthorized.into());
        }
        Ok(resp)
    }

    fn upload_photos(
        &self,
        engine: &Engine,
        progress: &dyn Fn(SyncStage),
        cancel: &CancelToken,
    ) -> crate::Result<u64> {
        let pending = engine.pending_photos(usize::MAX >> 1)?;
        let total = pending.len() as u64;
        for (i, id) in pending.iter().enumerate() {
            progress(SyncStage::Photos {
                done: i as u64,
                total,
            });
            let url = self.url(&format!("/api/v1/blobs/{id}"));
            let bearer = |t: &str| format!("Bearer {t}");
            let head = self.authed(engine, cancel, &|t| {
                self.agent
                    .head(&url)
                    .header("authorization", bearer(t))
                    .call()
            })?;
            if head.status() != StatusCode::OK {
                let bytes = std::fs::read(engine.photo_path(id))?;
                let put = self.authed(engine, cancel, &|t| {
                    self.agent
                        .put(&url)
                        .header("authorization", bearer(t))
                        .header("content-type", "image/jpeg")
                        .send(&bytes[..])
                })?;
                match put.status() {
                    StatusCode::OK | StatusCode::CREATED => {}
                    s => return Err(refused(s, put).into()),
                }
            }
            engine.mark_photo_uploaded(id)?;
        }
        progress(SyncStage::Photos { done: total, total });
        Ok(total)
    }

    fn push(
        &self,
        engine: &Engine,
        progress: &dyn Fn(SyncStage),
        cancel: &CancelToken,
        report: &mut SyncReport,
    ) -> crate::Result<()> {
        let total = engine.pending_counts()?.ops;
        let mut done = 0;
        let mut retried_blobs = false;
        let mut reordered = 0;
        loop {
            progress(SyncStage::Ops { done, total });
            let ops = engine.pending_ops(self.options.batch)?;
            if ops.is_empty() {
                return Ok(());
            }
            let req = PushRequest {
                device_id: engine.device_id(),
                device_time: engine.now(),
                ops,
            };
            let mut resp = self.authed(engine, cancel, &|t| {
                self.agent
                    .post(self.url("/api/v1/sync/push"))
                    .header("authorization", format!("Bearer {t}"))
                    .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
                    .send_json(&req)
            })?;
            match resp.status() {
                StatusCode::OK => {}
                StatusCode::CONFLICT => {
                    let err = refused(StatusCode::CONFLICT, resp);
                    match &err {
                        SyncError::Refused { code, .. } if code == "missing_blob" => {
                            // A photo was taken while we were pushing (the batch is read
                            // again each time, so each try can meet a newer one): upload what
                            // is queued and try again. After the first try, only while an
                            // upload pass sends something, so a photo the server lacks though
                            // it was sent cannot keep the sync here.
                            let sent = self.upload_photos(engine, progress, cancel)?;
                            if sent == 0 && retried_blobs {
                                return Err(err.into());
                            }
                            retried_blobs = true;
                            report.photos += sent;
                        }
                        SyncError::Refused {
                            code, expected_seq, ..
                        } if code == "out_of_order" && reordered < MAX_REORDERS => {
                            // An earlier op of ours reached the server after this batch (a
                            // retry racing another, a proxy replaying): send again from the
                            // oldest op not answered — or, if the server lost ops it had
                            // answered, from the one it waits for.
                            reordered += 1;
                            let oldest = engine.oldest_pending_seq()?;
                            if let Some(expected) = *expected_seq
                                && oldest.is_none_or(|o| expected < o)
                            {
                                engine.resend_from(expected)?;
                            }
                            std::thread::sleep(
                                self.options.backoff.min(Duration::from_millis(200)),
                            );
                        }
                        _ => return Err(err.into()),
                    }
                    continue;
                }
                s => return Err(refused(s, resp).into()),
            }
            let answer: PushResponse = resp
                .body_mut()
                .read_json()
                .map_err(|e| SyncError::Network(e.to_string()))?;
            engine.acknowledge(&answer.results)?;
            for r in &answer.results {
                match r.status {
                    OpStatus::Applied => report.applied += 1,
                    OpStatus::Duplicate => report.duplicates += 1,
                    OpStatus::Rejected => report.rejected += 1,
                }
            }
            done += answer.results.len() as u64;
            retried_blobs = false;
            reordered = 0;
        }
    }

    fn pull(
        &self,
        engine: &Engine,
        progress: &dyn Fn(SyncStage),
        cancel: &CancelToken,
    ) -> crate::Result<u64> {
        let mut received = 0;
        loop {
            progress(SyncStage::Pull { received });
            let since = engine.pull_cursor()?.unwrap_or_default();
            let limit = self.options.pull_limit.to_string();
            let mut resp = self.authed(engine, cancel, &|t| {
                self.agent
                    .get(self.url("/api/v1/sync/pull"))
                    .query("since", &since)
                    .query("limit", &limit)
                    .header("authorization", format!("Bearer {t}"))
                    .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
                    .call()
            })?;
            if resp.status() != StatusCode::OK {
                let s = resp.status();
                return Err(refused(s, resp).into());
            }
            let page: PullResponse = resp
                .body_mut()
                .read_json()
                .map_err(|e| SyncError::Network(e.to_string()))?;
            engine.apply_pull(&page.changes, &page.cursor)?;
            received += page.changes.len() as u64;
            if !page.more {
                progress(SyncStage::Pull { received });
                return Ok(received);
            }
        }
    }

    /// Sync now: photos, then ops, then pulls. `progress` hears each step; `cancel` stops it
    /// between requests, leaving everything done so far committed.
    pub fn sync(
        &self,
        engine: &Engine,
        progress: &dyn Fn(SyncStage),
        cancel: &CancelToken,
    ) -> crate::Result<SyncReport> {
        let mut report = SyncReport {
            photos: self.upload_photos(engine, progress, cancel)?,
            ..SyncReport::default()
        };
        self.push(engine, progress, cancel, &mut report)?;
        report.pulled = self.pull(engine, progress, cancel)?;
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::engine::ReportDraft;
    use crate::issue::{Category, Source};
    use crate::labels::SiteKey;
    use crate::wire::{OpResult, PushRequest};

    fn jpeg(seed: u8) -> Vec<u8> {
        let img = image::RgbImage::from_fn(320, 240, |x, y| {
            image::Rgb([(x as u8) ^ seed, y as u8, seed])
        });
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
        out.into_inner()
    }

    /// A person on the phone reports a problem with a photo while a sync is under way.
    fn report_with_photo(engine: &Engine, seed: u8) {
        let site = engine.sites().unwrap().remove(0);
        let photo = engine.add_photo(&jpeg(seed)).unwrap();
        engine
            .report(ReportDraft {
                site_id: Some(site.id),
                visit_id: None,
                item_key: None,
                zone_id: None,
                category: Some(Category::Facility),
                severity: None,
                title: format!("路灯不亮 {seed}"),
                note: None,
                photos: vec![photo],
                fixed_on_spot: false,
                source: Source::Patrol,
            })
            .unwrap();
    }

    /// A server that keeps the photos it is sent and answers a push naming one it lacks with
    /// `409 missing_blob`, as the real one does. `during_upload` runs while it receives the
    /// n-th photo (the person keeps working).
    struct FakeServer {
        stored: Mutex<HashSet<String>>,
        applied: Mutex<Vec<String>>,
        uploads: Mutex<u32>,
        during_upload: Box<dyn Fn(u32) + Send + Sync>,
    }

    fn answer(out: &mut TcpStream, status: &str, body: &str) {
        let head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        out.write_all(head.as_bytes()).unwrap();
        out.write_all(body.as_bytes()).unwrap();
    }

    impl FakeServer {
        fn serve(self: Arc<Self>) -> String {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            std::thread::spawn(move || {
                for conn in listener.incoming().flatten() {
                    let me = self.clone();
                    std::thread::spawn(move || me.connection(conn));
                }
            });
            url
        }

        fn connection(&self, conn: TcpStream) {
            let mut out = conn.try_clone().unwrap();
            let mut r = BufReader::new(conn);
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let mut parts = line.split_whitespace();
                let (method, path) = (parts.next().unwrap(), parts.next().unwrap().to_owned());
                let mut length = 0;
                loop {
                    let mut h = String::new();
                    r.read_line(&mut h).unwrap();
                    if h.trim().is_empty() {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                r.read_exact(&mut body).unwrap();
                let blob = path.strip_prefix("/api/v1/blobs/").map(str::to_owned);
                match (method, blob) {
                    ("HEAD", Some(id)) => {
                        let have = self.stored.lock().unwrap().contains(&id);
                        let status = if have { "200 OK" } else { "404 Not Found" };
                        out.write_all(
                            format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n").as_bytes(),
                        )
                        .unwrap();
                    }
                    ("PUT", Some(id)) => {
                        let n = {
                            let mut n = self.uploads.lock().unwrap();
                            *n += 1;
                            *n
                        };
                        (self.during_upload)(n);
                        self.stored.lock().unwrap().insert(id);
                        answer(&mut out, "201 Created", "");
                    }
                    ("POST", None) if path.starts_with("/api/v1/sync/push") => {
                        let push: PushRequest = serde_json::from_slice(&body).unwrap();
                        let stored = self.stored.lock().unwrap().clone();
                        let missing = push.ops.iter().find_map(|op| {
                            op.body["photos"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .filter_map(|p| p.as_str())
                                .find(|p| !stored.contains(*p))
                                .map(str::to_owned)
                        });
                        if let Some(p) = missing {
                            let body = serde_json::json!({"error": {"code": "missing_blob", "message": format!("photo {p} not uploaded yet")}});
                            answer(&mut out, "409 Conflict", &body.to_string());
                            continue;
                        }
                        let results: Vec<OpResult> = push
                            .ops
                            .iter()
                            .map(|op| OpResult {
                                op_id: op.op_id,
                                status: OpStatus::Applied,
                                code: None,
                                message: None,
                            })
                            .collect();
                        let mut applied = self.applied.lock().unwrap();
                        applied.extend(push.ops.iter().map(|op| op.kind.clone()));
                        let body = serde_json::json!({"server_time": jiff::Timestamp::now(), "results": results});
                        answer(&mut out, "200 OK", &body.to_string());
                    }
                    ("GET", None) if path.starts_with("/api/v1/sync/pull") => {
                        answer(
                            &mut out,
                            "200 OK",
                            r#"{"changes":[],"cursor":"1","more":false}"#,
                        );
                    }
                    _ => answer(
                        &mut out,
                        "404 Not Found",
                        r#"{"error":{"code":"not_found","message":"no"}}"#,
                    ),
                }
            }
        }
    }

    /// Found by the fault harness (tests/src/faults): a person taking photos while the sync
    /// pushes can make two `missing_blob` answers in a row — each for a photo taken after the
    /// last upload pass — and the sync used to give up after the first retry, showing the
    /// person a refusal for what was only a photo still queued on the phone.
    #[test]
    fn photos_taken_during_a_sync_are_uploaded_and_the_push_goes_through() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Arc::new(Engine::open(&dir.path().join("patrol.db")).unwrap());
        let estate = crate::demo::estate("demo", "阳光花园", &SiteKey::generate().unwrap());
        engine.apply_pull(&estate.reference_changes(), "1").unwrap();
        engine
            .set_session(&estate.user("demo-patrol").unwrap().into())
            .unwrap();
        engine.set_tokens("access", "refresh").unwrap();
        report_with_photo(&engine, 1);

        let person = engine.clone();
        let server = Arc::new(FakeServer {
            stored: Mutex::new(HashSet::new()),
            applied: Mutex::new(Vec::new()),
            uploads: Mutex::new(0),
            // While each of the first three photos goes up, another report with a photo.
            during_upload: Box::new(move |n| {
                if n <= 3 {
                    report_with_photo(&person, 1 + n as u8);
                }
            }),
        });
        let url = server.clone().serve();
        let client = SyncClient::with_options(
            &url,
            SyncOptions {
                backoff: Duration::from_millis(10),
                ..SyncOptions::default()
            },
        );
        let report = client.sync(&engine, &|_| {}, &CancelToken::new()).unwrap();
        assert_eq!(report.applied, 4, "{report:?}");
        assert_eq!(report.photos, 4);
        let pending = engine.pending_counts().unwrap();
        assert_eq!((pending.ops, pending.photos), (0, 0));
        assert_eq!(server.applied.lock().unwrap().len(), 4);
    }
}
