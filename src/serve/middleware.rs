//! The request-wide rules as middleware: the API key on `/v1/`, the upload limit before any body is
//! read, the time limit, and one log line plus metrics per request.

use std::sync::Arc;
use std::time::Instant;

use axum::body::HttpBody;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::state::AppState;

/// With an API key set, `/v1/` needs `Authorization: Bearer KEY`; compared as digests in constant time.
pub async fn require_key(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if st.api_key_required() {
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, key) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
            });
        if !given.is_some_and(|k| st.key_matches(k)) {
            // Read what the client is still sending, so it gets the 401 and not a reset.
            super::upload::linger(req.into_body(), st.limits.max_upload_bytes());
            return ApiError::Unauthorized.into_response();
        }
    }
    next.run(req).await
}

/// A declared body over the upload limit is refused before a byte of it is read; bodies without a
/// length are counted as they stream (see `upload`).
pub async fn limit_upload(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let limit = st.limits.max_upload_bytes();
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        super::upload::linger(req.into_body(), limit);
        return ApiError::TooLarge {
            limit_mb: st.limits.max_upload_mb,
        }
        .into_response();
    }
    next.run(req).await
}

/// `--timeout-s` over the whole request (upload and prediction): 504 after it. Work already on a
/// worker finishes in the background and then frees its place.
pub async fn time_limit(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let limit = st.limits.timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::Timeout(limit).into_response(),
    }
}

/// One line per request on stderr (method, path, status, bytes in and out, milliseconds; never a
/// header, so never the key), and the request metrics.
pub async fn log_request(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let t0 = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let bytes_in = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    st.metrics.in_flight.inc();
    let resp = next.run(req).await;
    st.metrics.in_flight.dec();
    let secs = t0.elapsed().as_secs_f64();
    let status = resp.status().as_u16();
    st.metrics.record(method.as_str(), &route, status, secs);
    let bytes_out = resp.body().size_hint().exact();
    let show = |n: Option<u64>| n.map_or("-".to_string(), |n| n.to_string());
    eprintln!(
        "musav serve: {method} {path} {status} in {} B out {} B {:.1} ms",
        show(bytes_in),
        show(bytes_out),
        secs * 1000.0
    );
    resp
}
