//! The operations endpoints, on an address of their own (`--metrics.addr`), apart from the
//! public API so that a firewall can keep them to the monitoring network:
//!
//! - `GET /metrics`: what the [`Probe`] encodes (OpenMetrics text), after it has sampled
//!   what is read rather than counted, at most once a second however many scrapers ask.
//! - `GET /health`: the process serves (200), or is stopping (503).
//! - `GET /ready`: the probe's checks; 200 when all pass, 503 naming the failing one.
//!
//! Limits: [`MAX_CONCURRENT`] requests at once (past them, 503 with `Retry-After`), no
//! request body read, a JSON 404 for any other path. This module knows nothing of the
//! chain: the node's probe does.

use std::{
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::{Value, json};
use tokio::sync::{Mutex, Semaphore};
use tokio_util::sync::CancellationToken;

/// Requests served at once; more are refused with 503 (a scraper retries at its next
/// interval, and nothing queues behind a slow one).
pub const MAX_CONCURRENT: usize = 8;
/// How long a sample stays fresh: scrapes within it share one.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// A future a [`Probe`] returns.
pub type ProbeFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the readiness checks found.
#[derive(Debug, Clone)]
pub struct Readiness {
    /// Whether every check passed.
    pub ready: bool,
    /// Each check by name, with what it saw (shown as is).
    pub checks: Value,
}

/// What the operations endpoints read, from the service that serves them.
pub trait Probe: Send + Sync + 'static {
    /// Updates the metrics that are read rather than counted (called before a scrape, at
    /// most once per [`SAMPLE_EVERY`]).
    fn sample(&self) -> ProbeFuture<'_, ()>;
    /// Appends the metrics' OpenMetrics text, `# EOF` included.
    fn encode(&self, out: &mut String);
    /// The readiness checks.
    fn ready(&self) -> ProbeFuture<'_, Readiness>;
}

/// The content type of `/metrics`.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

struct OpsState {
    probe: Arc<dyn Probe>,
    last_sample: Mutex<Option<Instant>>,
    permits: Semaphore,
    shutdown: CancellationToken,
}

/// Serves the operations endpoints of `probe` on `addr` until `shutdown`; answers the
/// address bound.
pub async fn serve_operations(
    addr: SocketAddr,
    probe: Arc<dyn Probe>,
    shutdown: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let state = Arc::new(OpsState {
        probe,
        last_sample: Mutex::new(None),
        permits: Semaphore::new(MAX_CONCURRENT),
        shutdown: shutdown.clone(),
    });
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(0))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(e) = served {
            tracing::error!(target: "btcr::http", "the operations server stopped: {e}");
        }
    });
    Ok(local)
}

fn busy() -> Response {
    let body = json!({ "error": { "code": "busy", "message": "too many requests at once" } });
    (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "1")], Json(body)).into_response()
}

async fn not_found() -> Response {
    let body = json!({
        "error": { "code": "not_found", "message": "this address serves /metrics, /health and /ready" }
    });
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

async fn metrics(State(state): State<Arc<OpsState>>) -> Response {
    let Ok(_permit) = state.permits.try_acquire() else { return busy() };
    {
        let mut last = state.last_sample.lock().await;
        if last.is_none_or(|at| at.elapsed() >= SAMPLE_EVERY) {
            state.probe.sample().await;
            *last = Some(Instant::now());
        }
    }
    let mut text = String::with_capacity(64 * 1024);
    state.probe.encode(&mut text);
    ([(header::CONTENT_TYPE, OPENMETRICS)], text).into_response()
}

async fn health(State(state): State<Arc<OpsState>>) -> Response {
    if state.shutdown.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "stopping" })))
            .into_response();
    }
    Json(json!({ "status": "ok" })).into_response()
}

async fn ready(State(state): State<Arc<OpsState>>) -> Response {
    let Ok(_permit) = state.permits.try_acquire() else { return busy() };
    let found = state.probe.ready().await;
    let ready = found.ready && !state.shutdown.is_cancelled();
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(json!({ "ready": ready, "checks": found.checks }))).into_response()
}
