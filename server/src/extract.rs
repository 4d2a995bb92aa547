//! Request extractors whose rejections are the API's JSON errors (DESIGN.md §7), and the safety
//! net that turns any other error response — a timeout, an unknown path, a wrong method — into
//! the same `{ "error": { "code", "message" } }` shape.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The code and words for a status the framework answered by itself.
fn framework_error(status: StatusCode) -> ApiError {
    let (code, message) = match status {
        StatusCode::BAD_REQUEST => ("bad_request", "请求格式错误 / the request is malformed"),
        StatusCode::NOT_FOUND => ("not_found", "找不到该地址 / no such path"),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "该地址不支持此方法 / this path does not take this method",
        ),
        StatusCode::REQUEST_TIMEOUT => (
            "timeout",
            "请求超时，请重试 / the request took too long; try again",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("too_large", "请求内容过大 / the request is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "请求内容类型不对，应为 JSON / the request must be JSON (content-type: application/json)",
        ),
        StatusCode::UNPROCESSABLE_ENTITY => (
            "invalid_request",
            "请求内容不符合接口要求 / the request does not fit the API",
        ),
        StatusCode::TOO_MANY_REQUESTS => ("too_many_requests", "请求过于频繁 / too many requests"),
        s if s.is_server_error() => (
            "internal",
            "服务器内部错误，请稍后重试 / internal server error; try again later",
        ),
        _ => ("error", "请求未能完成 / the request failed"),
    };
    ApiError::new(status, code, message)
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let status = r.status();
        let base = framework_error(status);
        let detail = r.body_text();
        match status {
            // Not JSON, or JSON that does not fit: say where.
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => ApiError::new(
                status,
                base.code(),
                format!("请求内容无效 / invalid request body: {detail}"),
            ),
            _ => base,
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_query",
            format!("查询参数无效 / invalid query: {}", r.body_text()),
        )
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        match r.status() {
            StatusCode::BAD_REQUEST => ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_path",
                format!(
                    "地址中的参数无效 / invalid path parameter: {}",
                    r.body_text()
                ),
            ),
            status => framework_error(status),
        }
    }
}

/// `axum::Json` with JSON rejections.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Json(value))
    }
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Query` with JSON rejections.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(value) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Query(value))
    }
}

/// `axum::extract::Path` with JSON rejections.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(value) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(Path(value))
    }
}

/// The answer to a path no route has.
pub async fn not_found() -> ApiError {
    framework_error(StatusCode::NOT_FOUND)
}

/// The answer to a method a route does not take.
pub async fn method_not_allowed() -> ApiError {
    framework_error(StatusCode::METHOD_NOT_ALLOWED)
}

/// Refuse a request whose announced body is larger than `max` before reading a byte of it (a
/// client that waits for `100 Continue` then never sends it).
pub async fn announced_limit(
    axum::extract::State(max): axum::extract::State<usize>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|n| n > max as u64) {
        return framework_error(StatusCode::PAYLOAD_TOO_LARGE).into_response();
    }
    next.run(req).await
}

/// Every error response leaves as JSON: one that a layer or the framework made with another
/// body (a timeout, a body limit hit while streaming) is replaced by the API's error shape.
pub async fn json_errors(req: Request, next: axum::middleware::Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return resp;
    }
    let mut replaced = framework_error(status).into_response();
    // Keep what tells a client how to retry or authenticate.
    for name in [header::RETRY_AFTER, header::WWW_AUTHENTICATE, header::ALLOW] {
        if let Some(v) = resp.headers().get(&name) {
            replaced.headers_mut().insert(name, v.clone());
        }
    }
    replaced
}
