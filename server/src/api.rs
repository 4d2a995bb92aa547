//! The HTTP API (DESIGN.md §6–7). Every handler that touches data takes a [`Caller`] and asks
//! core's rules what the caller may see and do; every rejection is JSON; everything a client
//! sends is bounded.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{get, head, post};
use jiff::Timestamp;
use patrol_core::blob::{BlobInfo, check_upload, is_blob_id};
use patrol_core::bounds::{
    DEFAULT_PAGE, MAX_BLOB_BYTES, MAX_OPS_PER_PUSH, MAX_PAGE, MAX_PASSWORD_BYTES, MAX_PUSH_BYTES,
    MAX_USERNAME_CHARS,
};
use patrol_core::ids::{IssueId, SiteId, UserId};
use patrol_core::issue::{Issue, Status};
use patrol_core::lifecycle::{Visibility, may_see};
use patrol_core::team::Team;
use patrol_core::user::{Actor, Role};
use patrol_core::wire::{
    ErrorBody, LoginRequest, Op, OpBody, OpResult, PROTOCOL_HEADER, PROTOCOL_VERSION, PullQuery,
    PullResponse, PushRequest, PushResponse, QueueCursor, RefreshRequest, SessionUser,
    TokenResponse,
};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::{Caller, REFRESH_TTL_SECS, random_secret, token_hash};
use crate::error::ApiError;
use crate::extract::{Json, Path, Query};
use crate::store::{Heard, IssueFilter, Store, StoreError};
use crate::sync::{Applied, Batch, PushContext, apply_checked};

/// How long a client may take over a request's headers, and over the whole request.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Headers of one request (a client that stalls after a few bytes is cut off).
    pub headers: Duration,
    /// A whole request, its body and the answer included.
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            headers: Duration::from_secs(15),
            request: Duration::from_secs(120),
        }
    }
}

/// All routes; `/metrics` too unless it is served on a listener of its own.
pub fn router(state: AppState, with_metrics: bool, timeouts: Timeouts) -> Router {
    let limit =
        |max: usize| axum::middleware::from_fn_with_state(max, crate::extract::announced_limit);
    let blobs = Router::new()
        .route("/api/v1/blobs/{sha256}", head(blob_head).put(blob_put))
        .layer(DefaultBodyLimit::max(MAX_BLOB_BYTES))
        .layer(limit(MAX_BLOB_BYTES));
    let mut app = Router::new()
        .route("/healthz", get(healthz))
        .route("/api/openapi.json", get(openapi))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/refresh", post(refresh))
        .route("/api/v1/sync/push", post(push))
        .route("/api/v1/sync/pull", get(pull))
        .route("/api/v1/issues", get(issues))
        .route("/api/v1/issues/{id}", get(issue_detail))
        .route("/api/v1/issues/{id}/evidence.json", get(issue_evidence))
        .route("/api/v1/issues/{id}/blobs/{sha256}", get(issue_blob))
        .layer(DefaultBodyLimit::max(MAX_PUSH_BYTES))
        .layer(limit(MAX_PUSH_BYTES))
        .merge(crate::reports::routes())
        .merge(crate::labels::routes())
        .merge(blobs);
    if with_metrics {
        app = app.route("/metrics", get(prometheus));
    }
    // Innermost first: the time limit, then counting (which sees a timeout's 408), then the
    // JSON shape of every error on the way out.
    app.fallback(crate::extract::not_found)
        .method_not_allowed_fallback(crate::extract::method_not_allowed)
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeouts.request,
        ))
        .layer(axum::middleware::from_fn(count_requests))
        .layer(axum::middleware::from_fn(crate::extract::json_errors))
        .with_state(state)
}

/// `/metrics` alone, for a listener of its own (`--metrics-listen`).
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(prometheus))
        .fallback(crate::extract::not_found)
        .with_state(state)
}

/// A method as a metrics label: the standard ones, else `other`.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Count every request by route and status, and time it. Every label comes from a closed set
/// (the router's own paths, the standard methods, the status), so nothing a client sends can
/// grow the metrics page.
pub(crate) async fn count_requests(
    matched: Option<axum::extract::MatchedPath>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let route = matched.map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = method_label(req.method());
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("patrol_http_requests_total", "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("patrol_http_request_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    resp
}

/// Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, description = "Prometheus text format", body = String)))]
async fn prometheus(State(state): State<AppState>) -> String {
    state.metrics.render()
}

#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, description = "The server and its database answer", body = String), (status = 500, body = ErrorBody)))]
async fn healthz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state.store.site_by_code("").await?;
    Ok("ok")
}

/// A client speaking a newer protocol than this server gets 426.
fn check_protocol(headers: &HeaderMap) -> Result<(), ApiError> {
    let version = headers
        .get(PROTOCOL_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(PROTOCOL_VERSION);
    if version > PROTOCOL_VERSION {
        return Err(ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            "protocol_too_new",
            format!(
                "服务器版本过旧，请联系管理员升级 / the server speaks protocol {PROTOCOL_VERSION}; upgrade the server"
            ),
        ));
    }
    Ok(())
}

async fn tokens_for(
    state: &AppState,
    user: &patrol_core::user::User,
) -> Result<TokenResponse, ApiError> {
    let now = Timestamp::now();
    let (access_token, expires_in) = state.tokens.issue(user, now)?;
    let refresh_token = random_secret();
    state
        .store
        .add_refresh_token(
            &token_hash(&refresh_token),
            user.id,
            now + jiff::SignedDuration::from_secs(REFRESH_TTL_SECS),
        )
        .await?;
    Ok(TokenResponse {
        access_token,
        refresh_token,
        expires_in,
        user: SessionUser::from(user),
    })
}

fn wrong_credentials() -> ApiError {
    ApiError::unauthorized("用户名或密码错误 / wrong username or password")
}

fn account_disabled() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "account_disabled",
        "该账号已被停用，请联系系统管理员 / this account is disabled; ask your administrator",
    )
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest, responses((status = 200, body = TokenResponse), (status = 400, body = ErrorBody), (status = 401, description = "Wrong username or password", body = ErrorBody), (status = 403, description = "The account is disabled", body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, description = "Too many sign-ins; `Retry-After` says when to try again", body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Json(req): Json<LoginRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    // A name or password longer than any account has is wrong without a hash.
    if req.username.chars().count() > MAX_USERNAME_CHARS || req.password.len() > MAX_PASSWORD_BYTES
    {
        return Err(wrong_credentials());
    }
    // Counted before it is checked: parallel guesses are refused before any is hashed.
    state
        .limiter
        .attempt(&req.username, addr.ip())
        .map_err(|wait| {
            ApiError::too_many(
                "too_many_attempts",
                format!(
                    "登录尝试过于频繁，请 {} 秒后再试 / too many sign-ins; try again in {} s",
                    wait.as_secs().max(1),
                    wait.as_secs().max(1)
                ),
                wait,
            )
        })?;
    let account = state.store.account(&req.username).await?;
    let stored = account.as_ref().map(|a| a.password_hash.as_str());
    let ok = state.passwords.verify(&req.password, stored).await;
    let Some(account) = account.filter(|_| ok) else {
        metrics::counter!("patrol_login_failures_total").increment(1);
        tracing::info!(username = %req.username.chars().take(MAX_USERNAME_CHARS).collect::<String>(), %addr, "failed sign-in");
        return Err(wrong_credentials());
    };
    if account.disabled {
        tracing::info!(user = %account.user.id, %addr, "sign-in of a disabled account refused");
        return Err(account_disabled());
    }
    Ok(Json(tokens_for(&state, &account.user).await?))
}

#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest, responses((status = 200, description = "A new pair; the old refresh token stops working", body = TokenResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, description = "The account is disabled", body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn refresh(
    State(state): State<AppState>,
    Json(req): Json<RefreshRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let invalid =
        || ApiError::unauthorized("登录已失效，请重新登录 / sign-in expired; sign in again");
    if req.refresh_token.len() > 256 {
        return Err(invalid());
    }
    let user_id = state
        .store
        .use_refresh_token(&token_hash(&req.refresh_token), Timestamp::now())
        .await?
        .ok_or_else(invalid)?;
    let account = state.store.account_of(user_id).await?.ok_or_else(invalid)?;
    // Disabling revokes the refresh tokens already; this holds even for one issued in between.
    if account.disabled {
        return Err(account_disabled());
    }
    Ok(Json(tokens_for(&state, &account.user).await?))
}

/// The ops of a push in `seq` order, each once; a push with a gap in its sequence is malformed.
fn in_order(mut ops: Vec<patrol_core::wire::Op>) -> Result<Vec<patrol_core::wire::Op>, ApiError> {
    ops.sort_by_key(|o| o.seq);
    // The same op twice in one push (a client retrying inside a batch) counts once.
    ops.dedup_by(|b, a| a.op_id == b.op_id && a.seq == b.seq);
    // Sequence numbers are kept as the databases' signed 64-bit integers.
    let out_of_range = ops.iter().any(|o| o.seq == 0 || o.seq > i64::MAX as u64);
    let gap = out_of_range || ops.windows(2).any(|w| w[1].seq != w[0].seq + 1);
    if gap {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "seq_gap",
            "一次同步中的操作序号须大于 0、连续且不重复 / the ops of one push need consecutive seq numbers above 0, each once",
        ));
    }
    Ok(ops)
}

#[utoipa::path(post, path = "/api/v1/sync/push", tag = "sync", request_body = PushRequest, security(("bearer" = [])), responses((status = 200, description = "One result per op", body = PushResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 409, description = "An op names a photo not uploaded yet (`missing_blob`), or an earlier op of the device has not arrived (`out_of_order`, with `expected_seq`)", body = ErrorBody), (status = 413, description = "More than 500 ops or 4 MiB", body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody), (status = 426, body = ErrorBody)))]
async fn push(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Json(req): Json<PushRequest>,
) -> Result<Json<PushResponse>, ApiError> {
    check_protocol(&headers)?;
    push_ops(state.store.as_ref(), &caller.actor, req)
        .await
        .map(Json)
}

/// A push as `/sync/push` applies it once the request is read and its caller known: the ops
/// checked, decided and applied in one transaction, each answered on its own.
pub async fn push_ops(
    store: &dyn Store,
    actor: &Actor,
    req: PushRequest,
) -> Result<PushResponse, ApiError> {
    if req.ops.len() > MAX_OPS_PER_PUSH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_ops",
            format!("一次最多同步 {MAX_OPS_PER_PUSH} 条 / at most {MAX_OPS_PER_PUSH} ops per push"),
        ));
    }
    let ops = in_order(req.ops)?;
    let server_at = Timestamp::now();
    let offset = patrol_core::time::offset(req.device_time, server_at);
    let offset_ms = i64::try_from(offset.as_millis()).unwrap_or(i64::MAX);
    // The device is recorded as heard from with the push's ops (one commit), or on its own
    // when the push is turned away or undone.
    let heard = Heard {
        device: req.device_id,
        user: actor.user_id,
        offset_ms,
        at: server_at,
    };
    let touch = || store.touch_device(heard.device, heard.user, heard.offset_ms, heard.at);
    // Blobs first: an op naming a photo the server lacks waits, with the whole request.
    // Each op is read once, and checked before the push's transaction begins (the checks
    // need none of its state): other pushes wait for the write meanwhile on SQLite.
    let bodies: Vec<_> = ops.iter().map(crate::sync::decode).collect();
    let named: Vec<String> = bodies
        .iter()
        .filter_map(|body| body.as_ref().ok())
        .flat_map(|body| {
            body.blobs()
                .into_iter()
                .filter(|b| is_blob_id(b))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    let blobs = store.blobs(&named).await?;
    if let Some(missing) = named.iter().find(|b| !blobs.contains_key(*b)) {
        touch().await?;
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "missing_blob",
            format!("照片尚未上传 / photo {missing} not uploaded yet"),
        ));
    }
    let reference = store.reference().await?;
    let mut sites = Vec::new();
    for id in &actor.site_ids {
        if let Some(site) = reference.site(store, *id).await? {
            sites.push(site);
        }
    }
    let mut ctx = PushContext::new(
        actor.clone(),
        req.device_id,
        server_at,
        offset,
        sites,
        blobs,
    );
    // One transaction for the whole push (group commit; on SQLite, a savepoint in the commit
    // it shares with the pushes waiting beside it): an out-of-order op or a failure leaves it
    // all undone, as if the push had not arrived. A reused id found only at the
    // commit sends the push through again op by op, which refuses that op alone.
    let checked = |ctx: &PushContext, bodies: Vec<_>| -> Vec<crate::sync::Checked> {
        ops.iter()
            .zip(bodies)
            .map(|(op, body)| crate::sync::check(ctx, op, body))
            .collect()
    };
    let first = checked(&ctx, bodies);
    let batch = Batch::begin_push(store, reference, &heard).await?;
    let results = match apply_push(batch, &mut ctx, &ops, first).await {
        Err(e) if e.is_unique_violation() => {
            touch().await?;
            let again = checked(&ctx, ops.iter().map(crate::sync::decode).collect());
            apply_push(Batch::begin(store).await?, &mut ctx, &ops, again).await?
        }
        other => other?,
    };
    let results = match results {
        Ok(results) => results,
        Err(expected) => {
            touch().await?;
            metrics::counter!("patrol_push_out_of_order_total").increment(1);
            return Err(ApiError::out_of_order(expected));
        }
    };
    for (op, result) in ops.iter().zip(&results) {
        let status = match result.status {
            patrol_core::wire::OpStatus::Applied => "applied",
            patrol_core::wire::OpStatus::Duplicate => "duplicate",
            patrol_core::wire::OpStatus::Rejected => "rejected",
        };
        metrics::counter!("patrol_ops_total", "kind" => OpBody::known_kind(&op.kind), "status" => status)
            .increment(1);
    }
    Ok(PushResponse {
        server_time: server_at,
        results,
    })
}

/// A push's ops applied in `batch` and committed: their results, or the `seq` expected where
/// an op came out of order (and nothing was committed).
async fn apply_push(
    batch: Batch<'_>,
    ctx: &mut PushContext,
    ops: &[Op],
    checked: Vec<crate::sync::Checked>,
) -> Result<Result<Vec<OpResult>, u64>, StoreError> {
    let mut results = Vec::with_capacity(ops.len());
    for (op, checked) in ops.iter().zip(checked) {
        match apply_checked(&batch, ctx, op, checked).await? {
            Applied::Result(r) => results.push(r),
            Applied::OutOfOrder(expected) => return Ok(Err(expected)),
        }
    }
    batch.commit().await?;
    Ok(Ok(results))
}

/// A page size asked for: `default` when none, refused outside 1..=`max`.
fn page_limit(asked: Option<u32>, default: u32, max: u32) -> Result<u32, ApiError> {
    match asked {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_query",
            format!("每页条数须在 1 到 {max} 之间（收到 {n}）/ limit must be 1 to {max} (got {n})"),
        )),
    }
}

#[utoipa::path(get, path = "/api/v1/sync/pull", tag = "sync", security(("bearer" = [])), params(("since" = Option<String>, Query, description = "Cursor of the previous pull"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 2000, description = "Most changes to return (1–2000, default 500)")), responses((status = 200, body = PullResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 426, body = ErrorBody)))]
async fn pull(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(q): Query<PullQuery>,
) -> Result<Json<PullResponse>, ApiError> {
    check_protocol(&headers)?;
    let cursor = patrol_core::wire::pull_cursor(q.since.as_deref())
        .ok_or_else(|| ApiError::bad_request("无效的同步游标 / invalid cursor"))?;
    let limit = page_limit(q.limit, 500, 2000)?;
    let mut page = state
        .store
        .changes(&Visibility::of(&caller.actor), cursor, limit)
        .await?;
    crate::alerts::screen(&caller.actor, &mut page.changes);
    Ok(Json(PullResponse {
        changes: page.changes,
        cursor: page.cursor.to_string(),
        more: page.more,
    }))
}

#[utoipa::path(head, path = "/api/v1/blobs/{sha256}", tag = "sync", security(("bearer" = [])), params(("sha256" = String, Path, description = "SHA-256 hex of the blob")), responses((status = 200, description = "Stored"), (status = 401, description = "Not signed in"), (status = 404, description = "Not stored")))]
async fn blob_head(
    State(state): State<AppState>,
    _caller: Caller,
    Path(sha): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !is_blob_id(&sha) {
        return Err(ApiError::not_found("blob"));
    }
    Ok(if state.store.has_blob(&sha).await? {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    })
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
        format!(
            "照片过大（上限 {} MiB）/ photo larger than {} MiB",
            MAX_BLOB_BYTES >> 20,
            MAX_BLOB_BYTES >> 20
        ),
    )
}

#[utoipa::path(put, path = "/api/v1/blobs/{sha256}", tag = "sync", security(("bearer" = [])), params(("sha256" = String, Path, description = "SHA-256 hex of the body")), request_body(content = Vec<u8>, content_type = "image/jpeg", description = "A photo: a JPEG of at most 1600 px on its long edge; or a signature: a PNG or JPEG of at most 2000 px"), responses((status = 201, description = "Stored now"), (status = 200, description = "Already stored"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 413, description = "Larger than 8 MiB", body = ErrorBody), (status = 422, description = "Hash or image check failed", body = ErrorBody), (status = 503, description = "The photo store is unavailable for now: try again after `Retry-After` seconds", body = ErrorBody)))]
async fn blob_put(
    State(state): State<AppState>,
    _caller: Caller,
    Path(sha): Path<String>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<StatusCode, ApiError> {
    if !is_blob_id(&sha) {
        return Err(ApiError::bad_request("照片编号无效 / invalid photo id"));
    }
    // Refuse an announced oversize upload before reading a byte of it.
    let announced = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if announced.is_some_and(|n| n > MAX_BLOB_BYTES) {
        return Err(too_large());
    }
    if state.store.has_blob(&sha).await? {
        return Ok(StatusCode::OK);
    }
    let bytes: Bytes = axum::body::to_bytes(body, MAX_BLOB_BYTES)
        .await
        .map_err(|_| too_large())?;
    let info = check_blob(&state, bytes.clone(), sha.clone()).await?;
    // Only checked bytes reach the store, in one put: a cut or refused upload leaves nothing
    // under the blob's name, and an outage of the store is a 503 the phone retries.
    let size = bytes.len() as u64;
    state
        .blobs
        .put(&sha, bytes)
        .await
        .map_err(|e| ApiError::blob_store(&e))?;
    let created = state
        .store
        .add_blob(&sha, size, &info, Timestamp::now())
        .await?;
    Ok(if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    })
}

/// The blob checks of DESIGN §5/§7 off the async workers, a few at a time: the header first
/// (a picture larger than a phone makes is refused before a pixel is decoded), then a decode.
async fn check_blob(state: &AppState, bytes: Bytes, sha: String) -> Result<BlobInfo, ApiError> {
    let _permit = state
        .decoding
        .acquire()
        .await
        .map_err(|e| ApiError::internal(&e))?;
    tokio::task::spawn_blocking(move || check_upload(&bytes, &sha))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_blob", e.to_string()))
}

/// `GET /api/v1/issues` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IssueQuery {
    /// Only this site (one of the caller's).
    #[param(value_type = Option<String>, format = Uuid)]
    site: Option<SiteId>,
    /// Only this status.
    #[param(value_type = Option<String>)]
    status: Option<Status>,
    /// Only this team's queue.
    #[param(value_type = Option<String>)]
    team: Option<Team>,
    /// Only this assignee.
    #[param(value_type = Option<String>, format = Uuid)]
    assignee: Option<UserId>,
    /// Only issues due before this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    due_before: Option<Timestamp>,
    /// Only issues past due now.
    #[serde(default)]
    overdue: bool,
    /// Most issues to return (1–1000, default 200).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// The `cursor` of the previous page.
    cursor: Option<String>,
}

/// An issue as lists show it: its fields and whether it was escalated.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssueView {
    #[serde(flatten)]
    issue: Issue,
    /// Someone was told over the team's head.
    escalated: bool,
    /// Against its due time now: `on_track`, `due_soon` (under a day left) or `overdue`;
    /// absent once closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    sla: Option<patrol_core::sla::SlaState>,
}

impl From<Issue> for IssueView {
    fn from(issue: Issue) -> Self {
        IssueView {
            escalated: issue.escalated(),
            sla: patrol_core::sla::issue_state(&issue, Timestamp::now()),
            issue,
        }
    }
}

/// A page of the queue, by due time.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssueList {
    issues: Vec<IssueView>,
    /// Where the next page starts (pass it as `cursor`).
    cursor: String,
    /// Whether more issues follow.
    more: bool,
}

/// One issue with its audit trail, oldest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssueDetail {
    issue: IssueView,
    audit: Vec<patrol_core::audit::AuditEntry>,
}

#[utoipa::path(get, path = "/api/v1/issues", tag = "queue", security(("bearer" = [])), params(IssueQuery), responses((status = 200, body = IssueList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn issues(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<IssueQuery>,
) -> Result<Json<IssueList>, ApiError> {
    if let Some(site) = q.site {
        caller.require_site(site)?;
    }
    if caller.actor.role == Role::Technician && q.team.is_some() && q.team != caller.actor.team {
        return Err(ApiError::forbidden(
            "只能查看本班组的工单 / you can see your own team's jobs only",
        ));
    }
    let after = match q.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Some(
            QueueCursor::decode(c)
                .ok_or_else(|| ApiError::bad_request("无效的分页游标 / invalid cursor"))?,
        ),
    };
    let limit = page_limit(q.limit, DEFAULT_PAGE, MAX_PAGE)?;
    let filter = IssueFilter {
        visibility: Visibility::of(&caller.actor),
        site: q.site,
        status: q.status,
        team: q.team,
        severity: None,
        assignee: q.assignee,
        due_before: q.due_before,
        overdue_at: q.overdue.then(Timestamp::now),
        active: false,
    };
    let mut list = state.store.issues(&filter, after, limit + 1).await?;
    let more = list.len() > limit as usize;
    list.truncate(limit as usize);
    let cursor = list
        .last()
        .map(QueueCursor::after)
        .or(after)
        .map_or_else(String::new, |c| c.encode());
    Ok(Json(IssueList {
        issues: list.into_iter().map(IssueView::from).collect(),
        cursor,
        more,
    }))
}

#[utoipa::path(get, path = "/api/v1/issues/{id}", tag = "queue", security(("bearer" = [])), params(("id" = String, Path, format = Uuid)), responses((status = 200, body = IssueDetail), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, description = "No such issue, or not one the caller may see", body = ErrorBody)))]
async fn issue_detail(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<IssueId>,
) -> Result<Json<IssueDetail>, ApiError> {
    // An issue the caller may not see does not exist for them.
    let issue = state
        .store
        .issue(id)
        .await?
        .filter(|i| may_see(&caller.actor, i))
        .ok_or_else(|| ApiError::not_found("issue"))?;
    let audit = state.store.audit(id).await?;
    Ok(Json(IssueDetail {
        issue: issue.into(),
        audit,
    }))
}

#[utoipa::path(get, path = "/api/v1/issues/{id}/blobs/{sha256}", tag = "queue", security(("bearer" = [])), params(("id" = String, Path, format = Uuid), ("sha256" = String, Path, description = "SHA-256 hex of a photo or signature image that the issue or its audit trail names")), responses((status = 200, description = "The picture, streamed from the photo store", content((Vec<u8> = "image/jpeg"), (Vec<u8> = "image/png"))), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, description = "No such issue, not one the caller may see, or a blob it does not name", body = ErrorBody), (status = 503, description = "The photo store is unavailable for now: try again after `Retry-After` seconds", body = ErrorBody)))]
async fn issue_blob(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, sha)): Path<(IssueId, String)>,
) -> Result<axum::response::Response, ApiError> {
    // As the console's photo view: the caller must see the issue, and the issue must name it.
    let issue = state
        .store
        .issue(id)
        .await?
        .filter(|i| may_see(&caller.actor, i))
        .ok_or_else(|| ApiError::not_found("issue"))?;
    let audit = state.store.audit(id).await?;
    if !crate::blobs::named_by(&issue, &audit, &sha) {
        return Err(ApiError::not_found("photo"));
    }
    let kind = blob_kind(&state, &sha).await?;
    state
        .blobs
        .response(&sha, kind.mime())
        .await
        .map_err(|e| ApiError::blob_store(&e))
}

/// What a stored blob is, from its header at upload (blobs stored before headers were kept
/// are photos).
pub(crate) async fn blob_kind(
    state: &AppState,
    sha: &str,
) -> Result<patrol_core::blob::BlobKind, crate::store::StoreError> {
    Ok(state
        .store
        .blobs(&[sha.to_owned()])
        .await?
        .get(sha)
        .copied()
        .flatten()
        .map_or(patrol_core::blob::BlobKind::Jpeg, |i| i.kind))
}

/// A sign-off or seal: the signed claim, its Ed25519 signature and the key's id.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // the document's shape of `patrol_core::evidence::Signed`
struct SignedDoc {
    /// The claim; the signature is over its RFC 8785 (JCS) form.
    signed: serde_json::Value,
    /// Ed25519, base64url without padding.
    signature: String,
    /// Key id, a key of `public_keys`.
    key_id: String,
}

/// An issue's evidence (DESIGN.md §12), verifiable offline.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // the document's shape of `patrol_core::evidence::Evidence`
struct EvidenceDoc {
    issue: IssueView,
    /// The trail as stored, oldest first: each entry with `prev` and `hash` (SHA-256 hex of
    /// the JCS of the entry without `hash`; the first entry's `prev` is the issue id).
    audit: Vec<serde_json::Value>,
    /// Sign-offs of accepted fixes, oldest first.
    signoffs: Vec<SignedDoc>,
    /// Key id → base64url Ed25519 public key.
    public_keys: std::collections::BTreeMap<String, String>,
}

#[utoipa::path(get, path = "/api/v1/issues/{id}/evidence.json", tag = "queue", security(("bearer" = [])), params(("id" = String, Path, format = Uuid)), responses((status = 200, body = EvidenceDoc), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, description = "No such issue, or not one the caller may see", body = ErrorBody)))]
async fn issue_evidence(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<IssueId>,
) -> Result<axum::response::Response, ApiError> {
    let issue = state
        .store
        .issue(id)
        .await?
        .filter(|i| may_see(&caller.actor, i))
        .ok_or_else(|| ApiError::not_found("issue"))?;
    let evidence = evidence_of(&state, issue)
        .await?
        .ok_or_else(|| ApiError::not_found("issue"))?;
    Ok(evidence_download(&evidence, id))
}

/// An issue's evidence, the issue as the API shows it.
pub(crate) async fn evidence_of(
    state: &AppState,
    issue: patrol_core::issue::Issue,
) -> Result<Option<patrol_core::evidence::Evidence>, crate::store::StoreError> {
    let Some(mut evidence) = state.store.evidence(issue.id).await? else {
        return Ok(None);
    };
    evidence.issue = serde_json::to_value(IssueView::from(issue))?;
    Ok(Some(evidence))
}

/// The evidence file as a download named after the issue.
pub(crate) fn evidence_download(
    evidence: &patrol_core::evidence::Evidence,
    id: IssueId,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let body = serde_json::to_vec_pretty(evidence).unwrap_or_default();
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/json".to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"evidence-{id}.json\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// The OpenAPI document, generated from the handlers above.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Patrol companion API · 巡查助手接口", description = "Sync protocol v1, auth, the 3-day queue, reports and printable labels (DESIGN.md §6–7)."),
    paths(healthz, prometheus, openapi, login, refresh, push, pull, blob_head, blob_put, issues, issue_detail, issue_evidence, issue_blob, crate::reports::monthly, crate::reports::archive_list, crate::reports::archive_file, crate::labels::label_png, crate::labels::label_svg, crate::labels::sheets_svg, crate::labels::sheets_pdf),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

#[utoipa::path(get, path = "/api/openapi.json", tag = "ops", responses((status = 200, description = "This document")))]
async fn openapi() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(<ApiDoc as utoipa::OpenApi>::openapi())
}
