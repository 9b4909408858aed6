//! The transaction pool as the routers see it.

use alloy_primitives::{Address, B256};
use btcr_primitives::RecoveredTx;
use tokio::sync::broadcast;

/// A transaction the node would not accept, with the reason a user reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SubmitError(pub String);

/// The transactions waiting in the pool.
#[derive(Debug, Clone, Default)]
pub struct PoolContent {
    /// Executable now, in nonce order per sender.
    pub pending: Vec<RecoveredTx>,
    /// Waiting for an earlier nonce.
    pub queued: Vec<RecoveredTx>,
}

/// Submitting transactions and reading the pool.
pub trait Mempool: Send + Sync + 'static {
    /// Validates a raw signed transaction, adds it to the pool and sends it to the network.
    fn submit_transaction(&self, raw: &[u8]) -> Result<B256, SubmitError>;
    /// The next nonce of `address` counting its pending pool transactions, if it has any.
    fn pending_nonce(&self, address: &Address) -> Option<u64>;
    /// How many transactions are pending and queued.
    fn pool_counts(&self) -> (usize, usize);
    /// The pool's transactions.
    fn pool_content(&self) -> PoolContent;
    /// Hashes of transactions that become pending.
    fn subscribe_pending(&self) -> broadcast::Receiver<B256>;
}
