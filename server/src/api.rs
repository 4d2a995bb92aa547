//! The HTTP API (DESIGN.md §6–7). Every handler that touches data takes a [`Caller`] and checks
//! the caller's sites and role before anything else.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, head, post};
use axum::{Json, Router};
use jiff::Timestamp;
use patrol_core::blob::{MAX_UPLOAD_BYTES, check_upload, is_blob_id};
use patrol_core::ids::{IssueId, SiteId, UserId};
use patrol_core::issue::{Issue, Status};
use patrol_core::routing::Team;
use patrol_core::user::Role;
use patrol_core::wire::{
    ErrorBody, LoginRequest, PROTOCOL_HEADER, PROTOCOL_VERSION, PullQuery, PullResponse,
    PushRequest, PushResponse, RefreshRequest, SessionUser, TokenResponse,
};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::{Caller, REFRESH_TTL_SECS, random_secret, token_hash, verify_password};
use crate::error::ApiError;
use crate::store::{IssueFilter, Viewer};
use crate::sync::{PushContext, apply};

/// The most ops one push may carry.
const MAX_OPS_PER_PUSH: usize = 500;
/// The largest JSON request body.
const MAX_JSON_BYTES: usize = 4 * 1024 * 1024;

/// All routes.
pub fn router(state: AppState) -> Router {
    let blobs = Router::new()
        .route("/api/v1/blobs/{sha256}", head(blob_head).put(blob_put))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(prometheus))
        .route("/api/openapi.json", get(openapi))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/refresh", post(refresh))
        .route("/api/v1/sync/push", post(push))
        .route("/api/v1/sync/pull", get(pull))
        .route("/api/v1/issues", get(issues))
        .route("/api/v1/issues/{id}", get(issue_detail))
        .layer(DefaultBodyLimit::max(MAX_JSON_BYTES))
        .merge(blobs)
        .layer(axum::middleware::from_fn(count_requests))
        .with_state(state)
}

/// Count every request by route and status, and time it.
async fn count_requests(
    matched: Option<axum::extract::MatchedPath>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let route = matched.map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = req.method().to_string();
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

#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, description = "The server and its database answer", body = String)))]
async fn healthz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state.store.sites().await?;
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

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest, responses((status = 200, body = TokenResponse), (status = 401, description = "Wrong username or password", body = ErrorBody), (status = 429, description = "Too many failed sign-ins", body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    Json(req): Json<LoginRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let ip = Some(addr.ip());
    if !state.limiter.allowed(&req.username, ip) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            "登录失败次数过多，请 15 分钟后再试 / too many failed sign-ins; try again in 15 minutes",
        ));
    }
    let account = state.store.account(&req.username).await?;
    // Hash even for unknown users so timing does not reveal which names exist.
    let stored = account
        .as_ref()
        .map_or(state.dummy_hash.as_str(), |a| a.password_hash.as_str());
    let ok = verify_password(&req.password, stored);
    let Some(account) = account.filter(|_| ok) else {
        state.limiter.failed(&req.username, ip);
        metrics::counter!("patrol_login_failures_total").increment(1);
        tracing::info!(username = %req.username, %addr, "failed sign-in");
        return Err(ApiError::unauthorized(
            "用户名或密码错误 / wrong username or password",
        ));
    };
    state.limiter.succeeded(&req.username);
    Ok(Json(tokens_for(&state, &account.user).await?))
}

#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest, responses((status = 200, description = "A new pair; the old refresh token stops working", body = TokenResponse), (status = 401, body = ErrorBody)))]
async fn refresh(
    State(state): State<AppState>,
    Json(req): Json<RefreshRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let invalid =
        || ApiError::unauthorized("登录已失效，请重新登录 / sign-in expired; sign in again");
    let user_id = state
        .store
        .use_refresh_token(&token_hash(&req.refresh_token), Timestamp::now())
        .await?
        .ok_or_else(invalid)?;
    let user = state.store.user(user_id).await?.ok_or_else(invalid)?;
    Ok(Json(tokens_for(&state, &user).await?))
}

#[utoipa::path(post, path = "/api/v1/sync/push", tag = "sync", request_body = PushRequest, security(("bearer" = [])), responses((status = 200, description = "One result per op", body = PushResponse), (status = 401, body = ErrorBody), (status = 409, description = "An op names a photo not uploaded yet (`missing_blob`)", body = ErrorBody), (status = 413, body = ErrorBody), (status = 426, body = ErrorBody)))]
async fn push(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Json(req): Json<PushRequest>,
) -> Result<Json<PushResponse>, ApiError> {
    check_protocol(&headers)?;
    if req.ops.len() > MAX_OPS_PER_PUSH {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_ops",
            format!("一次最多同步 {MAX_OPS_PER_PUSH} 条 / at most {MAX_OPS_PER_PUSH} ops per push"),
        ));
    }
    let server_at = Timestamp::now();
    let offset = req.device_time.duration_until(server_at);
    state
        .store
        .touch_device(
            req.device_id,
            caller.actor.user_id,
            offset.as_millis() as i64,
            server_at,
        )
        .await?;
    // Blobs first: an op naming a photo the server lacks waits, with the whole request.
    for op in &req.ops {
        if let Ok(body) = op.decode() {
            for blob in body.blobs() {
                if is_blob_id(blob) && !state.store.has_blob(blob).await? {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        "missing_blob",
                        format!("照片尚未上传 / photo {blob} not uploaded yet"),
                    ));
                }
            }
        }
    }
    let mut sites = Vec::new();
    let mut checkpoints = HashMap::new();
    for id in &caller.actor.site_ids {
        if let Some(site) = state.store.site(*id).await? {
            let known: BTreeSet<_> = state
                .store
                .checkpoints(*id)
                .await?
                .into_iter()
                .map(|c| c.id)
                .collect();
            checkpoints.insert(*id, known);
            sites.push(site);
        }
    }
    let ctx = PushContext {
        actor: caller.actor.clone(),
        device_id: req.device_id,
        server_at,
        offset,
        sites,
        checkpoints,
    };
    let mut ops = req.ops;
    ops.sort_by_key(|o| o.seq);
    let mut results = Vec::with_capacity(ops.len());
    for op in &ops {
        let result = apply(state.store.as_ref(), &ctx, op).await?;
        let status = match result.status {
            patrol_core::wire::OpStatus::Applied => "applied",
            patrol_core::wire::OpStatus::Duplicate => "duplicate",
            patrol_core::wire::OpStatus::Rejected => "rejected",
        };
        metrics::counter!("patrol_ops_total", "kind" => op.kind.clone(), "status" => status)
            .increment(1);
        results.push(result);
    }
    Ok(Json(PushResponse {
        server_time: server_at,
        results,
    }))
}

#[utoipa::path(get, path = "/api/v1/sync/pull", tag = "sync", security(("bearer" = [])), params(("since" = Option<String>, Query, description = "Cursor of the previous pull"), ("limit" = Option<u32>, Query, description = "Most changes to return (1–2000, default 500)")), responses((status = 200, body = PullResponse), (status = 401, body = ErrorBody), (status = 426, body = ErrorBody)))]
async fn pull(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Query(q): Query<PullQuery>,
) -> Result<Json<PullResponse>, ApiError> {
    check_protocol(&headers)?;
    let cursor = match q.since.as_deref() {
        None | Some("") => 0,
        Some(c) => c
            .parse::<i64>()
            .map_err(|_| ApiError::bad_request("无效的同步游标 / invalid cursor"))?,
    };
    let limit = q.limit.unwrap_or(500).clamp(1, 2000);
    let viewer = Viewer {
        sites: caller.actor.site_ids.clone(),
        team_only: (caller.actor.role == Role::Technician)
            .then_some(caller.actor.team)
            .flatten(),
    };
    let page = state.store.changes(&viewer, cursor, limit).await?;
    Ok(Json(PullResponse {
        changes: page.changes,
        cursor: page.cursor.to_string(),
        more: page.more,
    }))
}

#[utoipa::path(head, path = "/api/v1/blobs/{sha256}", tag = "sync", security(("bearer" = [])), params(("sha256" = String, Path, description = "SHA-256 hex of the normalised JPEG")), responses((status = 200, description = "Stored"), (status = 404, description = "Not stored")))]
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

#[utoipa::path(put, path = "/api/v1/blobs/{sha256}", tag = "sync", security(("bearer" = [])), params(("sha256" = String, Path, description = "SHA-256 hex of the body")), request_body(content = Vec<u8>, content_type = "image/jpeg"), responses((status = 201, description = "Stored now"), (status = 200, description = "Already stored"), (status = 413, description = "Larger than 8 MiB", body = ErrorBody), (status = 422, description = "Hash or image check failed", body = ErrorBody)))]
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
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "照片过大（上限 {} MiB）/ photo larger than {} MiB",
                MAX_UPLOAD_BYTES >> 20,
                MAX_UPLOAD_BYTES >> 20
            ),
        )
    };
    // Refuse an announced oversize upload before reading a byte of it.
    let announced = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if announced.is_some_and(|n| n > MAX_UPLOAD_BYTES) {
        return Err(too_large());
    }
    if state.store.has_blob(&sha).await? {
        return Ok(StatusCode::OK);
    }
    let bytes: Bytes = axum::body::to_bytes(body, MAX_UPLOAD_BYTES)
        .await
        .map_err(|_| too_large())?;
    check_upload(&bytes, &sha)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "bad_blob", e.to_string()))?;
    state
        .blobs
        .put(&sha, &bytes)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let created = state
        .store
        .add_blob(&sha, bytes.len() as u64, Timestamp::now())
        .await?;
    Ok(if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    })
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

/// The queue, by due time.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssueList {
    issues: Vec<IssueView>,
}

/// One issue with its audit trail, oldest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssueDetail {
    issue: IssueView,
    audit: Vec<patrol_core::audit::AuditEntry>,
}

#[utoipa::path(get, path = "/api/v1/issues", tag = "queue", security(("bearer" = [])), params(IssueQuery), responses((status = 200, body = IssueList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn issues(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<IssueQuery>,
) -> Result<Json<IssueList>, ApiError> {
    let sites = match q.site {
        Some(site) => {
            caller.require_site(site)?;
            vec![site]
        }
        None => caller.actor.site_ids.clone(),
    };
    // Technicians see their team's queue; others see their sites'.
    let team = if caller.actor.role == Role::Technician {
        if q.team.is_some() && q.team != caller.actor.team {
            return Err(ApiError::forbidden(
                "只能查看本班组的工单 / you can see your own team's jobs only",
            ));
        }
        caller.actor.team.or(q.team)
    } else {
        q.team
    };
    let filter = IssueFilter {
        sites,
        status: q.status,
        team,
        assignee: q.assignee,
        due_before: q.due_before,
        overdue_at: q.overdue.then(Timestamp::now),
    };
    let list = state.store.issues(&filter).await?;
    Ok(Json(IssueList {
        issues: list.into_iter().map(IssueView::from).collect(),
    }))
}

#[utoipa::path(get, path = "/api/v1/issues/{id}", tag = "queue", security(("bearer" = [])), params(("id" = String, Path, format = Uuid)), responses((status = 200, body = IssueDetail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn issue_detail(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<IssueId>,
) -> Result<Json<IssueDetail>, ApiError> {
    let issue = state
        .store
        .issue(id)
        .await?
        .ok_or_else(|| ApiError::not_found("issue"))?;
    caller.require_site(issue.site_id)?;
    if caller.actor.role == Role::Technician
        && caller.actor.team != Some(issue.team)
        && issue.assignee_id != Some(caller.actor.user_id)
    {
        return Err(ApiError::forbidden(
            "这是其他班组的工单 / this job belongs to another team",
        ));
    }
    let audit = state.store.audit(id).await?;
    Ok(Json(IssueDetail {
        issue: issue.into(),
        audit,
    }))
}

/// The OpenAPI document, generated from the handlers above.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Patrol companion API · 巡查助手接口", description = "Sync protocol v1, auth and the 3-day queue (DESIGN.md §6–7)."),
    paths(healthz, prometheus, openapi, login, refresh, push, pull, blob_head, blob_put, issues, issue_detail),
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
async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(<ApiDoc as utoipa::OpenApi>::openapi())
}
