//! The JSON-RPC router: POST `/` (single requests and batches) and WebSocket sessions on
//! `/`, for the HTTP server (`btcr-http`) to mount at its root.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Extension,
    body::Bytes,
    extract::{ConnectInfo, State, ws::WebSocketUpgrade},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{MethodRouter, get, post},
};
use btcr_http::{ConnectionPermit, RequestOrigin, WorkerError, Workers};
use btcr_interfaces::{ChainReader, Mempool, NodeStatus};
use serde_json::Value;

use crate::{RpcError, eth::Ctx, fees::TipCache, filters::Filters, jsonrpc, ws};

/// JSON-RPC's own limits; every one bounds what one client can make the node allocate or
/// compute. (The body size, connections and workers are the HTTP server's.)
#[derive(Debug, Clone)]
pub struct RpcConfig {
    /// Largest WebSocket message in bytes.
    pub max_ws_message_bytes: usize,
    /// Most requests in one batch.
    pub max_batch: usize,
    /// Most subscriptions on one WebSocket connection.
    pub max_subscriptions_per_connection: usize,
    /// Most polled filters installed at once, across all clients.
    pub max_filters: usize,
    /// Most polled filters one client (one IP address) may have installed at once.
    pub max_filters_per_client: usize,
    /// Most gas one `eth_call` or `eth_estimateGas` may use.
    pub gas_cap: u64,
    /// Most blocks one `eth_getLogs` may scan.
    pub max_logs_block_range: u64,
    /// Most logs one `eth_getLogs` may return.
    pub max_logs: usize,
    /// Most accounts one `eth_call` may override.
    pub max_state_overrides: usize,
    /// Longest answer in bytes, to one request or one whole batch.
    pub max_response_bytes: usize,
    /// Most gas all the calls of one batch (`eth_call`, `eth_estimateGas`,
    /// `eth_createAccessList`) may use together.
    pub batch_gas_cap: u64,
    /// Longest time one call (all the runs of an estimate together) may run.
    pub evm_timeout: std::time::Duration,
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            max_ws_message_bytes: 5 * 1024 * 1024,
            max_batch: 1000,
            max_subscriptions_per_connection: 100,
            max_filters: 1000,
            max_filters_per_client: 100,
            gas_cap: 50_000_000,
            max_logs_block_range: 10_000,
            max_logs: 10_000,
            max_state_overrides: 256,
            max_response_bytes: 25 * 1024 * 1024,
            batch_gas_cap: 250_000_000,
            evm_timeout: std::time::Duration::from_secs(5),
        }
    }
}

/// What every JSON-RPC request can reach, shared: a handler's state is one reference count.
pub(crate) type RpcState = Arc<RpcShared>;

/// See [`RpcState`].
pub(crate) struct RpcShared {
    pub(crate) chain: Arc<dyn ChainReader>,
    pub(crate) pool: Arc<dyn Mempool>,
    pub(crate) status: Arc<dyn NodeStatus>,
    pub(crate) config: Arc<RpcConfig>,
    pub(crate) filters: Arc<Filters>,
    pub(crate) tips: Arc<TipCache>,
    pub(crate) workers: Workers,
}

impl RpcShared {
    /// Handles one body (a request or a batch) against one view of the chain; `None` when
    /// nothing is to be sent back (only notifications).
    pub(crate) fn handle(
        &self,
        parsed: Option<Value>,
        body: &[u8],
        session: Option<&dyn ws::Session>,
        client: Option<std::net::IpAddr>,
    ) -> Option<Vec<u8>> {
        let view = match self.chain.view() {
            Ok(view) => view,
            Err(e) => {
                let answer = jsonrpc::error_response(Value::Null, &RpcError::internal(e));
                return Some(serde_json::to_vec(&answer).unwrap_or_default());
            }
        };
        let ctx = Ctx {
            chain_id: self.chain.chain_id(),
            view: view.as_ref(),
            pool: self.pool.as_ref(),
            status: self.status.as_ref(),
            config: &self.config,
            filters: &self.filters,
            tips: &self.tips,
            session,
            client,
            gas_left: std::cell::Cell::new(self.config.batch_gas_cap),
        };
        jsonrpc::handle(parsed, body, &ctx)
    }
}

/// JSON-RPC's services for the HTTP server's root ([`btcr_http::HttpServer::root`]).
#[derive(Debug)]
pub struct RpcRoutes {
    /// POST: JSON-RPC over HTTP.
    pub http: MethodRouter,
    /// GET with an upgrade: WebSocket sessions.
    pub websocket: MethodRouter,
}

/// JSON-RPC over HTTP and WebSocket. Must be called inside the node's async runtime (it
/// starts the task that feeds pending-transaction filters).
pub fn router(
    chain: Arc<dyn ChainReader>,
    pool: Arc<dyn Mempool>,
    status: Arc<dyn NodeStatus>,
    config: RpcConfig,
    workers: Workers,
) -> RpcRoutes {
    let filters = Filters::new(config.max_filters);
    tokio::spawn(filters.clone().feed_pending(pool.clone()));
    let state = Arc::new(RpcShared {
        chain,
        pool,
        status,
        config: Arc::new(config),
        filters,
        tips: Arc::new(TipCache::default()),
        workers,
    });
    RpcRoutes {
        http: post(handle_http).with_state(state.clone()),
        websocket: get(handle_ws).with_state(state),
    }
}

/// JSON-RPC without the HTTP server: answers a body as the HTTP endpoint would, for the
/// fuzz targets. Pending-transaction filters are not fed.
#[doc(hidden)]
pub struct RpcHandler(RpcState);

impl RpcHandler {
    /// A handler over `chain`, `pool` and `status`, with one worker for its sessions.
    pub fn new(
        chain: Arc<dyn ChainReader>,
        pool: Arc<dyn Mempool>,
        status: Arc<dyn NodeStatus>,
        config: RpcConfig,
    ) -> std::io::Result<Self> {
        Ok(Self(Arc::new(RpcShared {
            chain,
            pool,
            status,
            filters: Filters::new(config.max_filters),
            config: Arc::new(config),
            tips: Arc::new(TipCache::default()),
            workers: Workers::new(1)?,
        })))
    }

    /// The answer to `body`, as JSON text; `None` for notifications only.
    pub fn answer(&self, body: &[u8]) -> Option<Vec<u8>> {
        self.0.handle(jsonrpc::parse_small(body), body, None, None)
    }
}

/// Whether a POST says its body is JSON. Anything else (`text/plain` above all, which a
/// page on any site may send without a preflight) is refused before it is read as JSON-RPC.
fn says_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

async fn handle_http(
    State(state): State<RpcState>,
    Extension(permit): Extension<ConnectionPermit>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let client = peer.map(|Extension(ConnectInfo(addr))| addr.ip());
    if !says_json(&headers) {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::to_vec(&jsonrpc::error_response(
                Value::Null,
                &RpcError::invalid_request(
                    "invalid content type: JSON-RPC takes Content-Type: application/json",
                ),
            ))
            .unwrap_or_default(),
        )
            .into_response();
    }
    let workers = state.workers.clone();
    let parsed = jsonrpc::parse_small(&body);
    let quick = parsed.as_ref().is_some_and(jsonrpc::is_quick);
    let result = workers
        .handle(quick, move || {
            // The request keeps its place among the connections until it is answered,
            // even if its client has gone.
            let _permit = permit;
            state.handle(parsed, &body, None, client)
        })
        .await;
    match result {
        Ok(Some(answer)) => {
            (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], answer).into_response()
        }
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Err(busy @ WorkerError::Busy) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::to_vec(&jsonrpc::error_response(
                Value::Null,
                &RpcError::limit_exceeded(busy.to_string()),
            ))
            .unwrap_or_default(),
        )
            .into_response(),
        Err(WorkerError::Failed) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn handle_ws(
    State(state): State<RpcState>,
    Extension(permit): Extension<ConnectionPermit>,
    Extension(origin): Extension<RequestOrigin>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let client = peer.map(|Extension(ConnectInfo(addr))| addr.ip());
    // A page on any site may open a WebSocket to us (browsers send no preflight): only the
    // origins `--rpc.cors` allows, and clients that name none, get a session.
    if !origin.may_proceed() {
        return (StatusCode::FORBIDDEN, "this origin is not allowed (see --rpc.cors)")
            .into_response();
    }
    let max = state.config.max_ws_message_bytes;
    upgrade
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| ws::serve(socket, state, permit, client))
}
