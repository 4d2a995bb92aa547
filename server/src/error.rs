//! Errors at the HTTP edge: `{ "error": { "code", "message" } }` with the right status. Storage
//! and other internal failures are logged and answered with a generic message; database text
//! never reaches a response.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use patrol_core::wire::ErrorBody;

use crate::store::StoreError;

/// How long a client waits before retrying when the blob store is down.
pub const BLOB_STORE_RETRY: std::time::Duration = std::time::Duration::from_secs(5);

/// An error answered to a client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    expected_seq: Option<u64>,
    retry_after: Option<std::time::Duration>,
}

impl ApiError {
    /// Any error with its status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            expected_seq: None,
            retry_after: None,
        }
    }

    /// 429: wait `wait` before trying again (sent as `Retry-After`).
    pub fn too_many(
        code: &'static str,
        message: impl Into<String>,
        wait: std::time::Duration,
    ) -> Self {
        ApiError {
            retry_after: Some(wait),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, code, message)
        }
    }

    /// 409: an earlier op of the device has not arrived; the device resends from `expected`.
    pub fn out_of_order(expected: u64) -> Self {
        ApiError {
            expected_seq: Some(expected),
            ..Self::new(
                StatusCode::CONFLICT,
                "out_of_order",
                format!(
                    "操作顺序不连续，请从第 {expected} 条重新发送 / ops arrived out of order; send again from seq {expected}"
                ),
            )
        }
    }

    /// 401: no valid credentials.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: valid credentials, not allowed.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("找不到 / not found: {what}"),
        )
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 500, with the cause logged and not shown.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "服务器内部错误，请稍后重试 / internal server error; try again later",
        )
    }

    /// The blob store failed: 404 when the object is not there, else 503 with `Retry-After`
    /// (an outage of the store is temporary: the phone retries the request later).
    pub fn blob_store(cause: &object_store::Error) -> Self {
        if crate::blobs::is_not_found(cause) {
            return Self::not_found("photo");
        }
        tracing::error!(%cause, "blob store failed");
        ApiError {
            retry_after: Some(BLOB_STORE_RETRY),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "blob_store_unavailable",
                "照片存储暂时不可用，请稍后重试 / photo storage unavailable; try again later",
            )
        }
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => Self::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("已存在 / already exists: {what}"),
            ),
            other => Self::internal(&other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = ErrorBody::new(self.code, self.message);
        body.error.expected_seq = self.expected_seq;
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(wait) = self.retry_after {
            // Whole seconds, rounded up: a client that waits that long gets in.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.max(1).into());
        }
        resp
    }
}
