//! The listener and the composition of routers.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Router,
    extract::{DefaultBodyLimit, Request},
    http::header,
    middleware,
    routing::MethodRouter,
    serve::ListenerExt,
};
use tokio::{net::TcpListener, sync::Semaphore};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tracing::{debug, info};

use crate::{Authenticator, middleware::Layers};

/// Server settings; every limit bounds what one client can make the node allocate.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
    /// Most requests in progress plus WebSocket connections open at once.
    pub max_connections: usize,
    /// Requests executed at once (reading the store, recovering signatures, running the
    /// EVM); the others wait their turn. Near the number of cores, this keeps a flood of
    /// requests from crowding block production off the CPU.
    pub workers: usize,
    /// Browser origins allowed to call the server (`*` for any); requests without an
    /// `Origin` header (every non-browser client) are not affected.
    pub cors_origins: Vec<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8545)),
            max_body_bytes: 5 * 1024 * 1024,
            max_connections: 500,
            workers: crate::default_workers(),
            cors_origins: default_cors_origins(),
        }
    }
}

/// Pages served from this machine: `http://localhost:*` and `http://127.0.0.1:*` (and
/// their `https` forms).
pub fn default_cors_origins() -> Vec<String> {
    ["http://localhost", "http://127.0.0.1", "https://localhost", "https://127.0.0.1"]
        .map(String::from)
        .to_vec()
}

/// A server being put together: the routers of other crates, then [`HttpServer::start`].
pub struct HttpServer {
    config: HttpConfig,
    root: Option<(MethodRouter, MethodRouter)>,
    apis: Router,
    fallback: Option<Router>,
    authenticator: Option<Arc<dyn Authenticator>>,
}

impl std::fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServer").field("config", &self.config).finish_non_exhaustive()
    }
}

/// A running server; dropping it does not stop it: cancel the token given to `start`.
#[derive(Debug, Clone)]
pub struct HttpServerHandle {
    /// The address the server listens on.
    pub local_addr: SocketAddr,
}

/// Whether a request asks for a WebSocket.
fn is_upgrade(request: &Request) -> bool {
    request
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"))
}

impl HttpServer {
    /// A server with `config` and no routers yet.
    pub fn new(config: HttpConfig) -> Self {
        Self { config, root: None, apis: Router::new(), fallback: None, authenticator: None }
    }

    /// The services of `/` (JSON-RPC): `post` answers POSTs (routed straight to it, the
    /// busiest path), `websocket` the GETs that ask for a WebSocket; a plain `GET /` goes to
    /// the fallback.
    pub fn root(mut self, post: MethodRouter, websocket: MethodRouter) -> Self {
        self.root = Some((post, websocket));
        self
    }

    /// Adds an API router, its routes given in full (`/api/v1/…`); its paths must not
    /// overlap another's.
    pub fn api(mut self, router: Router) -> Self {
        self.apis = self.apis.merge(router);
        self
    }

    /// What answers every path no other router does (the portal).
    pub fn fallback(mut self, router: Router) -> Self {
        self.fallback = Some(router);
        self
    }

    /// Authenticates every request with `authenticator` before any router sees it.
    pub fn authenticator(mut self, authenticator: Arc<dyn Authenticator>) -> Self {
        self.authenticator = Some(authenticator);
        self
    }

    /// Binds the listener and serves until `shutdown` is cancelled.
    pub async fn start(self, shutdown: CancellationToken) -> std::io::Result<HttpServerHandle> {
        let listener = TcpListener::bind(self.config.listen).await?;
        let local_addr = listener.local_addr()?;
        let layers = Layers {
            cors_origins: Arc::new(self.config.cors_origins.clone()),
            connections: Arc::new(Semaphore::new(self.config.max_connections)),
            max_connections: self.config.max_connections,
            authenticator: self.authenticator,
        };
        let fallback = self.fallback.unwrap_or_default();
        let (post, websocket) = self.root.unwrap_or_default();
        let page = fallback.clone();
        let root = post.get(move |request: Request| {
            let (websocket, page) = (websocket.clone(), page.clone());
            async move {
                if is_upgrade(&request) {
                    websocket.oneshot(request).await
                } else {
                    page.oneshot(request).await
                }
            }
        });
        let app = self
            .apis
            .route("/", root)
            .fallback_service(fallback)
            .layer(DefaultBodyLimit::max(self.config.max_body_bytes))
            .layer(middleware::from_fn_with_state(layers, crate::middleware::every_request));
        info!(target: "btcr::http", %local_addr, "HTTP listening (JSON-RPC, WebSocket, REST, portal)");
        tokio::spawn(async move {
            // Answers are small writes that must not wait for the peer's delayed ACK.
            let listener = listener.tap_io(|stream| {
                if let Err(e) = stream.set_nodelay(true) {
                    debug!(target: "btcr::http", error = %e, "could not set TCP_NODELAY");
                }
            });
            // Handlers see the peer's address (`ConnectInfo<SocketAddr>`): limits per client.
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            let result = axum::serve(listener, app)
                .with_graceful_shutdown(async move { shutdown.cancelled().await })
                .await;
            if let Err(e) = result {
                tracing::error!(target: "btcr::http", error = %e, "HTTP server failed");
            }
        });
        Ok(HttpServerHandle { local_addr })
    }
}
