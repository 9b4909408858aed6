//! The node: opens the store, builds the chain pipeline over store, pool and execution,
//! starts the consensus engine and the RPC server, and shuts everything down together.
//!
//! ```text
//!            ┌──────────── Node (launch) ─────────────┐
//!  RPC ────▶ │ Chain: RpcBackend ─▶ TxPool            │
//!            │ Chain: BlockPipeline ◀── consensus engine (own thread)
//!            │   propose: pool.best ─▶ BlockExecutor + PohSlot ─▶ state root
//!            │   commit:  ChainStore::commit_block ─▶ pool.on_block_committed ─▶ new heads
//!            └────────────────────────────────────────┘
//! ```
//!
//! Failure policy: a store write that fails stops the engine, and the engine stopping stops
//! the node (the shutdown token is shared), so the node is never left half alive.

mod chain;
pub mod dev;
mod genesis;
mod launch;
pub mod testnet;
mod uptime;

pub use chain::{Chain, ChainError, recompute_state_root};
pub use genesis::genesis_block;
pub use launch::{NetworkConfig, NodeConfig, NodeHandle, launch};
