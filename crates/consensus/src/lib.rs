//! Consensus engines and the block-pipeline interface they drive.
//!
//! An engine decides *which* block is next; the [`BlockPipeline`] knows *how* to build,
//! check and store blocks. Every engine drives the same three steps:
//!
//! ```text
//!  engine ──propose(height)──▶ pipeline  (build from the pool while running PoH; execute)
//!  engine ──verify(block)────▶ pipeline  (another proposer's block: PoH, re-execution, roots)
//!  engine ──commit(hash, certificate)──▶ pipeline  (durable, then the pool and RPC learn of it)
//! ```
//!
//! The single-validator engine ([`SingleValidatorEngine`]) proposes every block itself and
//! commits it with a certificate holding its own signature. The BFT engine for many
//! validators implements the same loop on top of the same pipeline.

pub mod bft;
mod single;

pub use single::{EngineConfig, EngineHandle, SingleValidatorEngine};

use std::time::Instant;

use alloy_primitives::B256;
use btcr_primitives::{Block, CommitCertificate, GenesisValidator, Header, Misbehavior};

/// A failure in the block pipeline.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PipelineError {
    /// A proposed block is invalid; the engine votes against it.
    #[error("invalid block: {0}")]
    InvalidBlock(String),
    /// The block to commit was never proposed or verified here.
    #[error("unknown block {0}")]
    UnknownBlock(B256),
    /// The node cannot continue (store failure, broken invariant): the engine stops.
    #[error("fatal: {0}")]
    Fatal(String),
}

/// What the node offers a consensus engine.
pub trait BlockPipeline: Send + Sync + 'static {
    /// The header of the last committed block.
    fn head(&self) -> Result<Header, PipelineError>;

    /// Builds the block at `height` on top of the head: runs the PoH chain until `deadline`
    /// while executing transactions from the pool, then seals the block. The pipeline keeps
    /// the execution result, so that committing the block does not execute it again.
    fn propose(&self, height: u64, deadline: Instant) -> Result<Block, PipelineError>;

    /// Checks a block built by another validator: its PoH chain, its transactions'
    /// signatures, and its roots after re-execution. Keeps the result for [`commit`].
    ///
    /// [`commit`]: BlockPipeline::commit
    fn verify(&self, block: &Block) -> Result<(), PipelineError>;

    /// Stores a decided block (proposed or verified earlier) with its certificate. When this
    /// returns, the block is durable.
    fn commit(&self, block_hash: B256, certificate: CommitCertificate)
    -> Result<(), PipelineError>;

    /// The validator set that decides `height`, as the state after `height - 1` names it;
    /// known only for the height after the head.
    fn validators(&self, height: u64) -> Result<Vec<GenesisValidator>, PipelineError>;

    /// Keeps evidence that a validator signed conflicting messages; `false` if it was known.
    fn record_misbehavior(&self, evidence: &Misbehavior) -> Result<bool, PipelineError>;

    /// A committed block and its certificate, for peers catching up; `None` above the head.
    fn decided(&self, height: u64) -> Result<Option<(Block, CommitCertificate)>, PipelineError>;
}
