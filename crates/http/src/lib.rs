//! The HTTP server: one listener that composes the routers of other crates.
//!
//! ```text
//!  TCP ──▶ request id ──▶ security headers ──▶ CORS ──▶ permit (max connections) ──▶ auth hook
//!                                                                                     │
//!          POST / and WebSocket upgrades of / ──▶ the root service (JSON-RPC)  ◀─────┤
//!          /api/v1/…                          ──▶ the API routers (explorer, …)  ◀────┤
//!          anything else                      ──▶ the fallback (the portal)      ◀────┘
//! ```
//!
//! Each router crate builds its own [`axum::Router`] with its own state and hands it over
//! ([`HttpServer::api`], [`HttpServer::root`], [`HttpServer::fallback`]); adding one touches
//! none of the others. Handlers that read the chain run on [`Workers`], never on the async
//! reactor. The error shape of every API is [`ApiError`]; query strings are read with
//! [`ApiQuery`], whose parameter type also documents them in OpenAPI.
//!
//! This crate knows nothing of the chain.

mod auth;
mod error;
mod middleware;
mod openapi;
pub mod operations;
mod query;
mod server;
mod workers;

pub use auth::{AuthError, AuthFuture, Authenticator, Principal};
pub use error::{ApiError, ApiErrorBody, ApiErrorDetail, ApiResult};
pub use middleware::{ConnectionPermit, RequestId, RequestOrigin, origin_allowed};
pub use openapi::{docs_router, document_operation, route_documented};
pub use query::{ApiQuery, parse as parse_query};
pub use server::{HttpConfig, HttpServer, HttpServerHandle, default_cors_origins};
pub use workers::{MAX_QUEUED_JOBS, WorkerError, Workers, default_workers};

#[doc(hidden)]
pub use paste as __paste;
