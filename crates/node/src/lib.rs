//! The node: opens the store, builds the chain pipeline over store, pool and execution,
//! starts the consumers of committed blocks, the HTTP server and the consensus engine, and
//! shuts everything down together.
//!
//! ```text
//!             ┌──────────────────── Node (launch) ─────────────────────────────┐
//!  HTTP ────▶ │ NodeApi (ChainReader, Mempool, NodeStatus) ─▶ Snapshot / TxPool │
//!             │ Chain: BlockPipeline ◀── consensus engine (own thread)         │
//!             │   propose: pool.best ─▶ BlockExecutor + PohSlot ─▶ state root  │
//!             │   commit:  ChainStore::commit_block ─▶ pool pruned ─▶ event ─┐ │
//!             │ EventBus ◀───────────────────────────────────────────────────┘ │
//!             │   ├─▶ address index (durable, checkpoint in the chain store)   │
//!             │   ├─▶ activity, new heads (in memory)                          │
//!             │   └─▶ evidence reporter (validators: submitEvidence)           │
//!             └────────────────────────────────────────────────────────────────┘
//! ```
//!
//! Failure policy: a store write that fails stops the engine, a consumer that fails cancels
//! the shutdown token, and the engine stopping stops the node, so the node is never left
//! half alive.

mod api_document;
mod api_service;
mod catch_up;
mod chain;
mod consumers;
pub mod dev;
mod error;
pub mod events;
mod evidence;
#[doc(hidden)]
pub mod fuzzing;
mod genesis;
mod launch;
mod operations;
mod reader;
mod services;
mod snapshot_file;
mod state_check;
pub mod testnet;
mod uptime;

pub use api_document::{accounts_document, openapi_document};
pub use api_service::{
    AccountsOptions, ApiServiceConfig, ApiServiceHandle, NotifyOptions, launch_api,
};
/// Where the notifications' mail is sent from (`NotifyOptions::smtp`).
pub use btcr_notify::SmtpConfig;
pub use catch_up::{CATCH_UP_FROM, catch_up, catch_up_threshold, decode_certified};
pub use chain::{Chain, ChainError};
pub use consumers::{AddressIndexer, block_addresses};
pub use error::{NodeError, NodeResult};
pub use genesis::genesis_block;
pub use launch::{NetworkConfig, NodeConfig, NodeHandle, launch, shutdown_signal};
pub use reader::NodeApi;
pub use services::ChainServices;
pub use snapshot_file::{
    Exported, FrameEntry, FrameKind, Imported, Manifest, SNAPSHOT_BLOCKS, SNAPSHOT_FORMAT,
    export_snapshot, import_snapshot, manifest_json, read_manifest,
};
pub use state_check::{StateCheckError, recompute_state_root};
