//! What the node says about itself: identity, peers, recent activity, consumers' progress.

use alloy_primitives::B256;
use btcr_primitives::PohConfig;

/// A committed block's size and time, for throughput figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockActivity {
    /// Block number.
    pub number: u64,
    /// Its timestamp (ms).
    pub timestamp_ms: u64,
    /// Transactions in it.
    pub transactions: u32,
}

/// How far one consumer of committed blocks has come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerProgress {
    /// Its name.
    pub name: &'static str,
    /// The last block it applied; `None` before the first.
    pub applied: Option<u64>,
}

/// Where this node's consensus engine stands: the height it is deciding and its round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsensusPosition {
    /// The height being decided (the head's successor).
    pub height: u64,
    /// The round of it under way; rounds past 0 mean earlier ones did not decide.
    pub round: u32,
}

/// The node itself.
pub trait NodeStatus: Send + Sync + 'static {
    /// Software version.
    fn version(&self) -> &str;
    /// Hash of the genesis block.
    fn genesis_hash(&self) -> B256;
    /// The chain's Proof-of-History parameters.
    fn poh_config(&self) -> PohConfig;
    /// Connected peers on the transaction network.
    fn peers(&self) -> u64;
    /// The latest committed blocks' sizes and times, oldest first (a bounded window).
    fn recent_activity(&self) -> Vec<BlockActivity>;
    /// Each consumer of committed blocks and how far it has come.
    fn consumers(&self) -> Vec<ConsumerProgress>;
    /// Where consensus stands; `None` until the engine has started its first round.
    fn consensus(&self) -> Option<ConsensusPosition>;
}
