//! Ethereum's JSON-RPC 2.0 (`eth_*`, `net_*`, `web3_*`, `txpool_*`) and BTCR's own `btcr_*`
//! methods, over HTTP POST and WebSocket, so that Ethereum tools work against BTCR
//! unchanged.
//!
//! ```text
//!  POST / ──▶ jsonrpc (parse, batch, limits) ──▶ eth (methods) ──▶ one ChainView per request
//!  WS   / ──▶ ws (sessions, subscriptions)  ──┘                    or batch; Mempool; NodeStatus
//!                  ◀── JSON answer, errors mapped in one place (error.rs) ◀──┘
//! ```
//!
//! [`router`] is mounted by the HTTP server (`btcr-http`) at its root; the chain is seen
//! only through the interfaces of `btcr-interfaces`.

mod btcr;
mod error;
mod eth;
mod fees;
mod filters;
mod format;
mod jsonrpc;
mod logs;
mod router;
mod state;
mod ws;

pub use error::RpcError;
pub use router::{RpcConfig, RpcHandler, RpcRoutes, router};
