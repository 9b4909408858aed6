//! The narrow interfaces between the chain and everything that reads it or follows it: the
//! HTTP routers (JSON-RPC, the explorer's REST API, and the services that come later) and
//! the consumers of committed blocks (indexes, read models, notifications).
//!
//! ```text
//!                 ┌──────────── node ────────────┐
//!  routers ──────▶│ ChainReader::view ─▶ ChainView (one snapshot: blocks, state, index,
//!                 │                                staking)
//!                 │ Mempool (submit, pool)       │
//!                 │ NodeStatus (peers, activity) │
//!                 │ commit ─▶ ChainEvent ─▶ Consumer (own thread, own checkpoint)
//!                 └──────────────────────────────┘
//! ```
//!
//! Every read error is a [`ReadError`] that keeps its source; a [`ChainView`] answers from
//! one consistent snapshot however long it is held, so that one answer (or one JSON-RPC
//! batch) never mixes two heads. Nothing here knows HTTP, the concrete store or the pool.

mod events;
mod pool;
mod read;
mod status;

pub use events::{BlockSource, ChainEvent, CommittedBlock, Consumer, ConsumerError};
pub use pool::{Mempool, PoolContent, SubmitError};
pub use read::{
    BlockReader, BoxError, ChainReader, ChainView, IndexReader, ReadError, RegisteredValidator,
    StakingView, StateView, Uptime, ValidatorStatus,
};
pub use status::{BlockActivity, ConsensusPosition, ConsumerProgress, NodeStatus};
