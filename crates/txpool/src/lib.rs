//! The BTCR transaction pool: validates transactions against their sender's committed state,
//! keeps them per sender as *pending* (executable now) or *queued* (waiting for a lower nonce),
//! hands the block builder the best executable ones, and prunes itself when blocks commit.
//!
//! ```text
//!   RPC (eth_sendRawTransaction)   network (gossip)
//!                 \                 /
//!                  ▼               ▼
//!          TxPool::add(tx, sender state, base fee)
//!                  │  validate: nonce, fees, balance, limits; evict cheaper if full
//!                  ▼
//!      ┌──────── per sender, by nonce ─────────┐
//!      │ pending: committed nonce, +1, +2, ... │──▶ subscribe_pending (new pending hashes)
//!      │ queued:  nonces after the first gap   │
//!      └───────────────────────────────────────┘
//!                  │ best(base fee): by tip, then arrival; nonces in order
//!                  ▼
//!            block builder ── mark_invalid(sender) on failure
//!                  │ block commits
//!                  ▼
//!          on_block_committed(new sender states, base fee)
//!              drop included/stale, promote closed gaps, re-rank
//! ```
//!
//! The pool has no interior locking and no IO: the node owns it behind a mutex and supplies
//! sender state read from its store. Transactions are anything implementing
//! [`PoolTransaction`].

mod best;
mod config;
mod error;
mod pool;
mod recovered;
#[cfg(any(test, feature = "test-utils"))]
pub mod test_utils;
mod transaction;

pub use best::BestTransactions;
pub use config::PoolConfig;
pub use error::PoolError;
pub use pool::{AddOutcome, PENDING_SUBSCRIPTION_CAPACITY, SenderState, TxPool};
pub use transaction::PoolTransaction;
