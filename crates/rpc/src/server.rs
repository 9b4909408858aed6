//! The HTTP server.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::{RpcBackend, jsonrpc};

/// Server settings; every limit bounds what one client can make the node allocate.
#[derive(Debug, Clone)]
pub struct RpcConfig {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
    /// Most requests in one batch.
    pub max_batch: usize,
    /// Most gas one `eth_call` or `eth_estimateGas` may use.
    pub gas_cap: u64,
    /// Most blocks one `eth_getLogs` may scan.
    pub max_logs_block_range: u64,
    /// Most logs one `eth_getLogs` may return.
    pub max_logs: usize,
    /// Most accounts one `eth_call` may override.
    pub max_state_overrides: usize,
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8545)),
            max_body_bytes: 5 * 1024 * 1024,
            max_batch: 1000,
            gas_cap: 50_000_000,
            max_logs_block_range: 10_000,
            max_logs: 10_000,
            max_state_overrides: 256,
        }
    }
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
struct AppState {
    backend: Arc<dyn RpcBackend>,
    config: Arc<RpcConfig>,
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
        let state = AppState { backend, config: Arc::new(config.clone()) };
        let app = Router::new()
            .route("/", post(handle))
            .layer(DefaultBodyLimit::max(config.max_body_bytes))
            .with_state(state);
        info!(target: "btcr::rpc", %local_addr, "JSON-RPC listening");
        tokio::spawn(async move {
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

async fn handle(State(state): State<AppState>, body: Bytes) -> Response {
    // Requests read the store and recover signatures: blocking work, kept off the reactor.
    let result = tokio::task::spawn_blocking(move || {
        jsonrpc::handle_body(&body, &state.backend, &state.config)
    })
    .await;
    match result {
        Ok(Some(value)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::to_vec(&value).unwrap_or_default(),
        )
            .into_response(),
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
