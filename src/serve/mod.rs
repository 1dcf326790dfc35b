//! `musav serve`: a trained run as a web API (axum on tokio). [`app`] builds the whole service from
//! an [`AppState`] (tests drive it in-process with `oneshot`); [`run`] binds, prints where it
//! listens, keeps the `--runs` watcher going and stops cleanly on Ctrl-C / SIGTERM after the
//! requests in flight are answered.
//!
//! Predictions go through `crate::train::predict`, the same code as `musav predict`, on blocking
//! threads bounded by the state's semaphores.

pub mod card;
pub mod error;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod routes;
pub mod state;
pub mod upload;
pub mod watch;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::CorsLayer;

pub use state::{AppState, Limits, RunSource};

/// The whole service: routes, limits, key, logging, metrics, CORS (when the state has an origin).
pub fn app(state: Arc<AppState>) -> Router {
    let v1 = Router::new()
        .route("/v1/model", get(routes::model))
        .route("/v1/model/reload", post(routes::reload))
        .route("/v1/predict", post(routes::predict))
        .route("/v1/predict/batch", post(routes::predict_batch))
        .route_layer(from_fn_with_state(state.clone(), middleware::require_key));
    let limit = usize::try_from(state.limits.max_upload_bytes()).unwrap_or(usize::MAX);
    let router = Router::new()
        .route("/", get(routes::page))
        .route("/app.js", get(routes::page_js))
        .route("/style.css", get(routes::page_css))
        .route("/healthz", get(routes::healthz))
        .route("/readyz", get(routes::readyz))
        .route("/metrics", get(routes::metrics))
        .route("/openapi.json", get(routes::openapi_json))
        .merge(v1)
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(from_fn_with_state(state.clone(), middleware::time_limit))
        .layer(from_fn_with_state(state.clone(), middleware::limit_upload))
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(from_fn_with_state(state.clone(), middleware::log_request));
    let router = match state.cors.as_deref().map(HeaderValue::from_str) {
        Some(Ok(origin)) => router.layer(
            CorsLayer::new()
                .allow_origin(origin)
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]),
        ),
        _ => router,
    };
    router.with_state(state)
}

/// Everything `musav serve` needs besides the state.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub addr: SocketAddr,
    /// How often `--runs` is checked for a newer finished run.
    pub poll: Duration,
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    eprintln!("musav serve: stopping: finishing the requests in flight");
}

/// Binds, serves until a signal, then returns once the requests in flight are answered.
pub async fn run(state: Arc<AppState>, config: ServeConfig) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    let addr = listener.local_addr()?;
    let serving = state
        .current()
        .map_or("no run yet (waiting for a finished run)".to_string(), |s| {
            format!("run {}", s.predictor.dir.display())
        });
    println!("musav serve: listening on http://{addr} ({serving})");
    {
        use std::io::Write;
        let _ = std::io::stdout().flush();
    }
    let watcher = tokio::spawn(watch::watch(state.clone(), config.poll));
    let result = axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await;
    watcher.abort();
    result
}
