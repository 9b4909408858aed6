//! What the RPC server needs from the node.

use alloy_primitives::{Address, B256};
use btcr_primitives::{Account, Block, Header, ReceiptEnvelope};

/// A transaction the node would not accept, with the reason a user reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SubmitError(pub String);

/// Read access to the chain and the transaction pool, as the node provides it. Every method
/// reads the latest committed data.
pub trait RpcBackend: Send + Sync + 'static {
    /// The chain id.
    fn chain_id(&self) -> u64;
    /// The head block's header.
    fn head(&self) -> Result<Header, String>;
    /// Block `number`.
    fn block(&self, number: u64) -> Result<Option<Block>, String>;
    /// Number of the block with `hash`.
    fn block_number(&self, hash: &B256) -> Result<Option<u64>, String>;
    /// Receipts of block `number`.
    fn receipts(&self, number: u64) -> Result<Option<Vec<ReceiptEnvelope>>, String>;
    /// Where a transaction was included: (block number, index).
    fn transaction_location(&self, hash: &B256) -> Result<Option<(u64, u32)>, String>;
    /// An account in the latest state.
    fn account(&self, address: &Address) -> Result<Option<Account>, String>;
    /// The next nonce of `address` counting its pending pool transactions, if it has any.
    fn pending_nonce(&self, address: &Address) -> Option<u64>;
    /// Validates a raw signed transaction and adds it to the pool.
    fn submit_transaction(&self, raw: &[u8]) -> Result<B256, SubmitError>;
}
