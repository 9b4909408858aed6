//! The server: JSON-RPC over HTTP POST and over WebSocket on one port, with CORS and a
//! bound on concurrent connections.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::{DefaultBodyLimit, Request, State, ws::WebSocketUpgrade},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::post,
    serve::ListenerExt,
};
use serde_json::json;
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

use crate::{RpcBackend, eth::Ctx, fees::TipCache, filters::Filters, jsonrpc, ws};

/// Server settings; every limit bounds what one client can make the node allocate.
#[derive(Debug, Clone)]
pub struct RpcConfig {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Largest HTTP request body in bytes.
    pub max_body_bytes: usize,
    /// Largest WebSocket message in bytes.
    pub max_ws_message_bytes: usize,
    /// Most requests in one batch.
    pub max_batch: usize,
    /// Most HTTP requests in progress plus WebSocket connections open at once.
    pub max_connections: usize,
    /// Most subscriptions on one WebSocket connection.
    pub max_subscriptions_per_connection: usize,
    /// Most polled filters installed at once, across all clients.
    pub max_filters: usize,
    /// Most gas one `eth_call` or `eth_estimateGas` may use.
    pub gas_cap: u64,
    /// Most blocks one `eth_getLogs` may scan.
    pub max_logs_block_range: u64,
    /// Most logs one `eth_getLogs` may return.
    pub max_logs: usize,
    /// Most accounts one `eth_call` may override.
    pub max_state_overrides: usize,
    /// Most requests executed at once (reading the store, recovering signatures, running the
    /// EVM); the others wait their turn. Keeping this near the number of cores keeps a flood
    /// of requests from crowding block production off the CPU.
    pub workers: usize,
    /// Browser origins allowed to call the server (`*` for any); requests without an
    /// `Origin` header (every non-browser client) are not affected.
    pub cors_origins: Vec<String>,
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8545)),
            max_body_bytes: 5 * 1024 * 1024,
            max_ws_message_bytes: 5 * 1024 * 1024,
            max_batch: 1000,
            max_connections: 500,
            max_subscriptions_per_connection: 100,
            max_filters: 1000,
            gas_cap: 50_000_000,
            max_logs_block_range: 10_000,
            max_logs: 10_000,
            max_state_overrides: 256,
            workers: default_workers(),
            cors_origins: default_cors_origins(),
        }
    }
}

/// The number of cores this process may use.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

type Job = Box<dyn FnOnce() + Send>;

/// Runs request handling off the async reactor, on [`RpcConfig::workers`] threads of its
/// own. A worker that finishes a request takes the next queued one itself, without a round
/// trip through the reactor. What waits in the queue is bounded through the connections:
/// one request per HTTP connection, and per WebSocket connection a budget of request bytes
/// (see `ws`); both kinds count against `max_connections`.
#[derive(Clone)]
pub(crate) struct Workers {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl Workers {
    fn new(n: usize) -> std::io::Result<Self> {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for i in 0..n.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new().name(format!("btcr-rpc-{i}")).spawn(move || {
                loop {
                    // The lock is held only while waiting for the next job. The queue is
                    // closed (and the worker ends) once every `Workers` clone is dropped.
                    let job = match queue.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    // A panicking request answers nothing (the caller sees `None`); the
                    // worker lives on.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                }
            })?;
        }
        Ok(Self { jobs })
    }

    /// Runs `f`, which handles one request: right here when `quick` (see
    /// [`jsonrpc::is_quick`]), else on a worker.
    pub(crate) async fn handle<R: Send + 'static>(
        &self,
        quick: bool,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Option<R> {
        if quick { Some(f()) } else { self.run(f).await }
    }

    /// Queues `f` for a worker and waits for its result; `None` if it panicked or the
    /// workers are gone.
    pub(crate) async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Option<R> {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // The caller may have gone away (its connection closed); nothing to do then.
            let _ = sender.send(f());
        });
        self.jobs.send(job).ok()?;
        receiver.await.ok()
    }
}

/// Pages served from this machine: `http://localhost:*` and `http://127.0.0.1:*` (and
/// their `https` forms).
pub fn default_cors_origins() -> Vec<String> {
    ["http://localhost", "http://127.0.0.1", "https://localhost", "https://127.0.0.1"]
        .map(String::from)
        .to_vec()
}

/// The JSON-RPC server.
#[derive(Debug)]
pub struct RpcServer;

/// A running server; dropping it does not stop it: cancel the token given to `start`.
#[derive(Debug, Clone)]
pub struct RpcServerHandle {
    /// The address the server listens on.
    pub local_addr: SocketAddr,
}

#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) backend: Arc<dyn RpcBackend>,
    config: Arc<RpcConfig>,
    filters: Arc<Filters>,
    tips: Arc<TipCache>,
    connections: Arc<Semaphore>,
    pub(crate) workers: Workers,
}

impl RpcServer {
    /// Binds the listener and serves until `shutdown` is cancelled.
    pub async fn start(
        config: RpcConfig,
        backend: Arc<dyn RpcBackend>,
        shutdown: CancellationToken,
    ) -> std::io::Result<RpcServerHandle> {
        let listener = TcpListener::bind(config.listen).await?;
        let local_addr = listener.local_addr()?;
        let filters = Filters::new(config.max_filters);
        tokio::spawn(filters.clone().feed_pending(backend.clone()));
        let state = AppState {
            backend,
            connections: Arc::new(Semaphore::new(config.max_connections)),
            workers: Workers::new(config.workers)?,
            config: Arc::new(config.clone()),
            filters,
            tips: Arc::new(TipCache::default()),
        };
        let app = Router::new()
            .route("/", post(handle_http).get(root_get))
            .nest("/api/v1", crate::rest::router())
            .fallback(crate::portal::serve)
            .layer(DefaultBodyLimit::max(config.max_body_bytes))
            .layer(middleware::from_fn_with_state(state.clone(), cors))
            .with_state(state);
        info!(target: "btcr::rpc", %local_addr, "JSON-RPC listening (HTTP and WebSocket)");
        tokio::spawn(async move {
            // Answers are small writes that must not wait for the peer's delayed ACK.
            let listener = listener.tap_io(|stream| {
                if let Err(e) = stream.set_nodelay(true) {
                    debug!(target: "btcr::rpc", error = %e, "could not set TCP_NODELAY");
                }
            });
            let result = axum::serve(listener, app)
                .with_graceful_shutdown(async move { shutdown.cancelled().await })
                .await;
            if let Err(e) = result {
                tracing::error!(target: "btcr::rpc", error = %e, "JSON-RPC server failed");
            }
        });
        Ok(RpcServerHandle { local_addr })
    }
}

fn too_many_connections(max: usize) -> Response {
    let body = json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": { "code": -32005, "message": format!("too many connections (at most {max}); try again later") },
    });
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "application/json"), (header::RETRY_AFTER, "1")],
        body.to_string(),
    )
        .into_response()
}

async fn handle_http(State(state): State<AppState>, body: Bytes) -> Response {
    let Ok(permit) = state.connections.clone().try_acquire_owned() else {
        return too_many_connections(state.config.max_connections);
    };
    let workers = state.workers.clone();
    let parsed = jsonrpc::parse_small(&body);
    let quick = parsed.as_ref().is_some_and(jsonrpc::is_quick);
    let result = workers
        .handle(quick, move || {
            let _permit = permit;
            let ctx = Ctx {
                backend: state.backend.as_ref(),
                config: &state.config,
                filters: &state.filters,
                tips: &state.tips,
                session: None,
            };
            jsonrpc::handle(parsed, &body, &ctx)
        })
        .await;
    match result {
        Some(Some(value)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::to_vec(&value).unwrap_or_default(),
        )
            .into_response(),
        Some(None) => StatusCode::NO_CONTENT.into_response(),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// `GET /`: a WebSocket upgrade opens a JSON-RPC session; anything else is the portal.
async fn root_get(State(state): State<AppState>, request: Request) -> Response {
    let upgrade = request
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
    if !upgrade {
        return crate::portal::index();
    }
    let (mut parts, _) = request.into_parts();
    match <WebSocketUpgrade as axum::extract::FromRequestParts<AppState>>::from_request_parts(
        &mut parts, &state,
    )
    .await
    {
        Ok(upgrade) => handle_ws(State(state), upgrade).await,
        Err(rejection) => rejection.into_response(),
    }
}

async fn handle_ws(State(state): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    let Ok(permit) = state.connections.clone().try_acquire_owned() else {
        return too_many_connections(state.config.max_connections);
    };
    let max = state.config.max_ws_message_bytes;
    upgrade.max_message_size(max).max_frame_size(max).on_upgrade(move |socket| {
        ws::serve(
            socket,
            state.backend,
            state.config,
            state.filters,
            state.tips,
            state.workers,
            permit,
        )
    })
}

/// Whether `origin` is allowed by `allowed`: an exact match, `*`, or an allowed origin
/// without a port matching the same origin with any port.
fn origin_allowed(allowed: &[String], origin: &str) -> bool {
    allowed.iter().any(|a| {
        a == "*"
            || a == origin
            || origin.strip_prefix(a.as_str()).is_some_and(|rest| {
                rest.strip_prefix(':').is_some_and(|port| {
                    !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit())
                })
            })
    })
}

/// CORS: answers preflight requests and marks responses to allowed origins; a browser page
/// from any other origin cannot read the answers.
async fn cors(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let origin = request.headers().get(header::ORIGIN).cloned();
    let Some(origin) = origin else { return next.run(request).await };
    let allowed = origin.to_str().is_ok_and(|o| origin_allowed(&state.config.cors_origins, o));
    let mut headers = HeaderMap::new();
    if allowed {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(header::VARY, HeaderValue::from_static("origin"));
    }
    if request.method() == Method::OPTIONS {
        if !allowed {
            return StatusCode::FORBIDDEN.into_response();
        }
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("POST, GET, OPTIONS"),
        );
        headers
            .insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("content-type"));
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_str(&Duration::from_secs(600).as_secs().to_string()).expect("digits"),
        );
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NO_CONTENT;
        response.headers_mut().extend(headers);
        return response;
    }
    let mut response = next.run(request).await;
    response.headers_mut().extend(headers);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_match_exactly_or_with_any_port() {
        let allowed = default_cors_origins();
        assert!(origin_allowed(&allowed, "http://localhost"));
        assert!(origin_allowed(&allowed, "http://localhost:5173"));
        assert!(origin_allowed(&allowed, "http://127.0.0.1:8545"));
        assert!(!origin_allowed(&allowed, "http://localhost.evil.example"));
        assert!(!origin_allowed(&allowed, "http://localhost:80x"));
        assert!(!origin_allowed(&allowed, "https://example.com"));
        assert!(origin_allowed(&["*".into()], "https://example.com"));
    }
}
