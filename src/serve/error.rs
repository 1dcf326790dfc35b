//! The server's one error type: every failure a client can see becomes
//! `{"error": {"code", "message"}}` with its status code, so clients branch on `code` and people
//! read `message`. 5xx answers never carry internals (paths, panics): those go to the log.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::train::predict::AudioError;

/// The JSON body of every error answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable snake_case identifier, e.g. `unsupported_audio`.
    pub code: String,
    /// What went wrong and what to do, in plain words.
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: malformed request (multipart, field, query).
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// 401
    #[error(
        "missing or wrong API key: send the header `Authorization: Bearer KEY` with the key the server was started with"
    )]
    Unauthorized,
    /// 404
    #[error("no such endpoint: {0}; see /openapi.json for the API")]
    NotFound(String),
    /// 405
    #[error("{0} is not allowed here; see /openapi.json for the API")]
    MethodNotAllowed(String),
    /// 413
    #[error(
        "the upload is larger than the server's limit of {limit_mb} MB (--max-upload-mb); send a shorter or more compressed file"
    )]
    TooLarge { limit_mb: u64 },
    /// 415: not audio the decoders can read.
    #[error("{0}")]
    Unsupported(String),
    /// 422: decodable but unusable audio.
    #[error("{0}")]
    Unusable(String),
    /// 422: a reload whose run cannot be loaded (the old model keeps serving).
    #[error("{0}")]
    RunRefused(String),
    /// 503: every worker and queue slot is taken.
    #[error("the server is busy (all workers and queue slots are taken); retry after a second")]
    Busy,
    /// 503: no model loaded yet.
    #[error("no model is loaded yet; the server is waiting for a finished run, retry shortly")]
    NotReady,
    /// 504
    #[error(
        "the request took longer than the server's limit of {0:?} (--timeout-s); send a shorter file"
    )]
    Timeout(Duration),
    /// 500: the detail is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unsupported(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unusable(_) | ApiError::RunRefused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Busy | ApiError::NotReady => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. } => code,
            ApiError::Unauthorized => "unauthorized",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::TooLarge { .. } => "payload_too_large",
            ApiError::Unsupported(_) => "unsupported_audio",
            ApiError::Unusable(_) => "unusable_audio",
            ApiError::RunRefused(_) => "run_refused",
            ApiError::Busy => "busy",
            ApiError::NotReady => "not_ready",
            ApiError::Timeout(_) => "timeout",
            ApiError::Internal(_) => "internal",
        }
    }

    /// The body sent: 5xx other than the documented overload answers say only what happened.
    pub fn body(&self) -> ErrorBody {
        let message = match self {
            ApiError::Internal(_) => {
                "the server failed on this request; it keeps serving, and the log says why".into()
            }
            other => other.to_string(),
        };
        ErrorBody {
            error: ErrorDetail {
                code: self.code().into(),
                message,
            },
        }
    }
}

/// Strips the server-side directory from a message about an uploaded temp file.
fn upload_message(e: &AudioError) -> String {
    let text = e.to_string();
    match text.split_once(": ") {
        Some((path, rest)) if path.contains("musav-upload") => format!("the upload: {rest}"),
        _ => text,
    }
}

impl From<AudioError> for ApiError {
    fn from(e: AudioError) -> ApiError {
        use crate::audio::decode::DecodeError;
        match &e {
            AudioError::Decode(DecodeError::Missing { .. } | DecodeError::Io { .. }) => {
                ApiError::Internal(e.to_string())
            }
            AudioError::Decode(_) | AudioError::NonFinite { .. } => {
                ApiError::Unsupported(upload_message(&e))
            }
            AudioError::TooShort { .. } | AudioError::TooLong { .. } => {
                ApiError::Unusable(upload_message(&e))
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            eprintln!("musav serve: internal error: {detail}");
        }
        let mut resp = (self.status(), Json(self.body())).into_response();
        let retry = match self {
            ApiError::Busy => Some("1"),
            ApiError::NotReady => Some("2"),
            _ => None,
        };
        if let Some(secs) = retry {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static(secs));
        }
        resp
    }
}

/// The answer to a panic inside a handler (tower-http's `CatchPanicLayer`): a 500 like any other.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".into());
    ApiError::Internal(format!("panic: {detail}")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::get;
    use tower::ServiceExt;

    async fn json(resp: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn a_panic_becomes_a_500_json_answer_without_the_detail() {
        let app: Router = Router::new()
            .route(
                "/boom",
                get(|| async {
                    let v: Vec<u8> = Vec::new();
                    if v.is_empty() {
                        panic!("secret detail");
                    }
                    "unreachable"
                }),
            )
            .layer(tower_http::catch_panic::CatchPanicLayer::custom(
                panic_response,
            ));
        let resp = app
            .oneshot(Request::get("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let v = json(resp).await;
        assert_eq!(v["error"]["code"], "internal");
        assert!(!v.to_string().contains("secret"), "{v}");
    }

    #[tokio::test]
    async fn overload_answers_say_when_to_retry() {
        let resp = ApiError::Busy.into_response();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "1");
        assert_eq!(json(resp).await["error"]["code"], "busy");
    }
}
