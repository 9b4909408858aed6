//! Chain events: what each commit publishes, and the consumers that follow them.
//!
//! A commit stores the block, then publishes one [`ChainEvent::Committed`]. Each consumer
//! runs on its own thread behind a bounded channel; the commit never waits for one. A
//! consumer keeps a checkpoint (the last height it applied) with its output, in the same
//! write, and on start the node replays what it missed from the store ([`BlockSource`]), as
//! it does for one that fell so far behind that its channel filled.
//!
//! A proof-of-work mode will add a `Reverted` event (blocks taken back by a reorganisation);
//! the enum is non-exhaustive for it, and consumers should treat an event they do not know
//! as a reason to stop rather than skip it.

use std::sync::Arc;

use alloy_primitives::{Address, B256};
use btcr_primitives::{
    Block, CommitCertificate, GenesisValidator, Misbehavior, ReceiptEnvelope, StateChanges,
    TxEnvelope,
};

use crate::{BoxError, ReadError};

/// Something that happened to the chain.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ChainEvent {
    /// A block was committed (and is final).
    Committed(Arc<CommittedBlock>),
    /// Evidence of a validator's double signing was recorded.
    Misbehavior(Arc<Misbehavior>),
}

/// A committed block with everything it did.
#[derive(Debug, Clone)]
pub struct CommittedBlock {
    /// The block.
    pub block: Block,
    /// Its hash.
    pub hash: B256,
    /// Each transaction's sender, in order.
    pub senders: Vec<Address>,
    /// Each transaction's hash, in order.
    pub tx_hashes: Vec<B256>,
    /// Its receipts, in order.
    pub receipts: Vec<ReceiptEnvelope>,
    /// The signatures that finalized it (none for genesis).
    pub certificate: Option<CommitCertificate>,
    /// The state changes it made; `None` when the event is read back from the store, which
    /// keeps only the latest state.
    pub changes: Option<Arc<StateChanges>>,
    /// When the block ends an epoch of a proof-of-stake chain: the set elected to decide
    /// the blocks from the next one on.
    pub next_validators: Option<Vec<GenesisValidator>>,
}

impl CommittedBlock {
    /// Its height.
    pub fn number(&self) -> u64 {
        self.block.header.number
    }

    /// Each transaction with its sender and hash.
    pub fn transactions(&self) -> impl Iterator<Item = (&TxEnvelope, Address, B256)> {
        self.block
            .body
            .transactions
            .iter()
            .zip(&self.senders)
            .zip(&self.tx_hashes)
            .map(|((tx, sender), hash)| (tx, *sender, *hash))
    }
}

/// A consumer failed; the node stops, since its output would be left behind for good.
#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    /// Reading the chain failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// Writing its output failed.
    #[error("{context}: {source}")]
    Write {
        /// What was being written.
        context: String,
        /// Why it failed.
        #[source]
        source: BoxError,
    },
}

/// Something that follows committed blocks: an index, a read model, a notifier.
///
/// The node calls it from one thread of its own, always in height order and never twice
/// for a height once applied: [`Consumer::start`] says where it stands, then
/// [`Consumer::apply`] receives each next run of blocks.
pub trait Consumer: Send + 'static {
    /// Its name, in logs and in the node's status.
    fn name(&self) -> &'static str;
    /// The last height it applied (`None`: nothing yet, start from genesis). One that keeps
    /// its output durably reads its checkpoint; one that keeps it in memory says how far
    /// back from `head` it wants to be replayed.
    fn start(&mut self, head: u64) -> Result<Option<u64>, ConsumerError>;
    /// Applies `blocks`, consecutive heights following the checkpoint, and moves the
    /// checkpoint to the last of them in the same write as the output.
    fn apply(&mut self, blocks: &[Arc<CommittedBlock>]) -> Result<(), ConsumerError>;
    /// Whether blocks it missed (after a restart, or while its queue was full) are read back
    /// from the store for it; `false` for one that wants live events only and skips a gap.
    fn replays(&self) -> bool {
        true
    }
    /// Evidence of double signing was recorded (not replayed after a restart: the store
    /// keeps the evidence itself).
    fn misbehavior(&mut self, evidence: &Misbehavior) -> Result<(), ConsumerError> {
        let _ = evidence;
        Ok(())
    }
}

/// Where a consumer that is behind reads the blocks it missed.
pub trait BlockSource: Send + Sync + 'static {
    /// The head's height.
    fn head_number(&self) -> Result<u64, ReadError>;
    /// Block `number` as its commit published it (without its state changes).
    fn committed_block(&self, number: u64) -> Result<Option<CommittedBlock>, ReadError>;
}
