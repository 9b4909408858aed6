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
#[doc(hidden)]
pub mod fuzzing;
mod single;

pub use single::{EngineConfig, EngineHandle, SingleValidatorEngine};

/// Appends the BFT engine's own metrics (its process-wide registry: heights, rounds,
/// timeouts, step times, peers and bandwidth, each labelled with the node's moniker) to
/// `out` in the OpenMetrics text format, without the closing `# EOF` line. Empty until a
/// BFT engine starts.
pub fn encode_engine_metrics(out: &mut String) {
    let mut text = String::new();
    malachitebft_app_channel::app::metrics::export(&mut text);
    out.push_str(text.strip_suffix("# EOF\n").unwrap_or(&text));
}

use std::{error::Error, sync::Arc, time::Instant};

use alloy_primitives::B256;
use btcr_primitives::{Block, CommitCertificate, GenesisValidator, Header, Misbehavior};

/// A failure kept as the source of another error, shareable so that verdicts can be cached.
pub type SharedError = Arc<dyn Error + Send + Sync + 'static>;

fn with_source(text: &str, source: &Option<SharedError>) -> String {
    match source {
        Some(source) => format!("{text}: {source}"),
        None => text.to_owned(),
    }
}

/// A failure in the block pipeline.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PipelineError {
    /// A proposed block is invalid; the engine votes against it.
    #[error("invalid block: {0}")]
    InvalidBlock(InvalidBlock),
    /// The block to commit was never proposed or verified here.
    #[error("unknown block {0}")]
    UnknownBlock(B256),
    /// The node cannot continue (store failure, broken invariant): the engine stops.
    #[error("fatal: {0}")]
    Fatal(Fatal),
}

/// Why a block is refused, and the failure behind it when there is one.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", with_source(reason, source))]
pub struct InvalidBlock {
    /// What is wrong, for the log and the peer.
    pub reason: String,
    /// The refusal depends on this node's clock (a timestamp ahead of it): the same block
    /// may pass later, so the engine does not remember the verdict.
    pub clock_dependent: bool,
    /// The check that failed (a signature, the PoH, execution).
    #[source]
    pub source: Option<SharedError>,
}

/// What stopped the pipeline, and the failure behind it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", with_source(context, source))]
pub struct Fatal {
    /// What was being done.
    pub context: String,
    /// What failed (the store, a broken invariant).
    #[source]
    pub source: Option<SharedError>,
}

impl PipelineError {
    /// A block refused for `reason`.
    pub fn invalid(reason: impl Into<String>) -> Self {
        Self::InvalidBlock(InvalidBlock {
            reason: reason.into(),
            clock_dependent: false,
            source: None,
        })
    }

    /// A block refused for `reason` by this node's clock alone: it may pass later.
    pub fn too_early(reason: impl Into<String>) -> Self {
        Self::InvalidBlock(InvalidBlock {
            reason: reason.into(),
            clock_dependent: true,
            source: None,
        })
    }

    /// A block refused for `reason`, because `source` failed.
    pub fn invalid_because(
        reason: impl Into<String>,
        source: impl Error + Send + Sync + 'static,
    ) -> Self {
        Self::InvalidBlock(InvalidBlock {
            reason: reason.into(),
            clock_dependent: false,
            source: Some(Arc::new(source)),
        })
    }

    /// A fatal failure described by `context` alone.
    pub fn fatal(context: impl Into<String>) -> Self {
        Self::Fatal(Fatal { context: context.into(), source: None })
    }

    /// A fatal failure while doing `context`, because `source` failed.
    pub fn fatal_because(
        context: impl Into<String>,
        source: impl Error + Send + Sync + 'static,
    ) -> Self {
        Self::Fatal(Fatal { context: context.into(), source: Some(Arc::new(source)) })
    }
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

    /// [`verify`](BlockPipeline::verify) for a block that came with a commit certificate the
    /// engine has checked (a synced block): validators holding more than two thirds of the
    /// power each verified it before signing, so where the header commits to the PoH entries
    /// their hash chains need not be re-run. Everything else is checked as in `verify`. The
    /// result must only ever be committed under that certificate, never taken as a verdict
    /// on a live proposal.
    fn verify_certified(&self, block: &Block) -> Result<(), PipelineError> {
        self.verify(block)
    }

    /// Stores a decided block (proposed or verified earlier) with its certificate. When this
    /// returns, the block is durable.
    fn commit(&self, block_hash: B256, certificate: CommitCertificate)
    -> Result<(), PipelineError>;

    /// [`commit`](BlockPipeline::commit) for a synced block on a node that signs nothing:
    /// the block may reach the disk with a later commit, so that a node catching up does not
    /// wait for the disk at every block. A crash may lose the last such blocks, never the
    /// store's consistency; the node syncs them again.
    fn commit_synced(
        &self,
        block_hash: B256,
        certificate: CommitCertificate,
    ) -> Result<(), PipelineError> {
        self.commit(block_hash, certificate)
    }

    /// The validator set that decides `height`, as the state after `height - 1` names it;
    /// known only for the height after the head.
    fn validators(&self, height: u64) -> Result<Vec<GenesisValidator>, PipelineError>;

    /// Keeps evidence that a validator signed conflicting messages; `false` if it was known.
    fn record_misbehavior(&self, evidence: &Misbehavior) -> Result<bool, PipelineError>;

    /// A committed block and its certificate, for peers catching up; `None` above the head
    /// and below [`history_start`](BlockPipeline::history_start).
    fn decided(&self, height: u64) -> Result<Option<(Block, CommitCertificate)>, PipelineError>;

    /// The lowest height [`decided`](BlockPipeline::decided) can give: 1, or the earliest
    /// block kept by a node that pruned or began from a snapshot.
    fn history_start(&self) -> Result<u64, PipelineError> {
        Ok(1)
    }

    /// The engine started `round` of `height`: where consensus stands, for the node's status.
    fn entered_round(&self, height: u64, round: u32);
}
