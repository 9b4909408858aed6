//! The node's JSON-RPC 2.0 server over HTTP: Ethereum's `eth_*`, `net_*` and `web3_*`
//! methods, so that Ethereum tools work against BTCR unchanged.
//!
//! ```text
//!  HTTP POST / ──▶ jsonrpc (parse, batch, limits) ──▶ eth (methods) ──▶ RpcBackend (the node)
//!                         ◀── JSON response, errors mapped in one place (error.rs) ◀──┘
//! ```
//!
//! This crate is the only one that knows HTTP and JSON; it sees the chain through the
//! [`RpcBackend`] trait, which the node implements over its store and pool.

mod backend;
mod btcr;
mod error;
mod eth;
mod fees;
mod filters;
mod format;
mod jsonrpc;
mod logs;
mod portal;
pub mod rest;
mod server;
mod state;
mod ws;

pub use backend::{
    BlockActivity, NodeInfo, PohReport, PoolContent, RpcBackend, SubmitError, ValidatorStatus,
    ValidatorView,
};
pub use error::RpcError;
pub use server::{RpcConfig, RpcServer, RpcServerHandle, default_cors_origins, default_workers};
