//! What the RPC server needs from the node.

use alloy_eips::eip2930::AccessList;
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rpc_types_eth::{TransactionRequest, state::StateOverride};
use btcr_execution::{AccountProof, CallError, CallOutcome};
use btcr_primitives::{
    Account, Block, BlockReceipt, CommitCertificate, Header, Misbehavior, ReceiptEnvelope,
    RecoveredTx, TxEnvelope,
};
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

/// A block's Proof-of-History chain checked again by the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PohReport {
    /// Hashes per tick (from genesis).
    pub hashes_per_tick: u64,
    /// Ticks per block (from genesis).
    pub ticks_per_block: u64,
    /// `Ok` when the entries verify from the header's start hash to its end hash, else why
    /// not.
    pub verified: Result<(), String>,
}

/// Identity and progress of the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// Software version.
    pub version: String,
    /// Hash of the genesis block.
    pub genesis_hash: B256,
    /// Connected peers.
    pub peers: u64,
    /// Highest block with a commit certificate.
    pub finalized: u64,
    /// Validators of the current set.
    pub validators: Vec<Address>,
}

/// Where a validator stands, as the staking contract says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidatorStatus {
    /// Registered, not in the current set.
    Candidate,
    /// In the current set.
    Active,
    /// Jailed for double signing.
    Jailed,
}

/// A registered validator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorView {
    /// Its address (that of its consensus key).
    pub address: Address,
    /// Its consensus public key, uncompressed without prefix (64 bytes).
    pub public_key: Bytes,
    /// Commission on rewards, in basis points.
    pub commission_bps: u16,
    /// Where it stands.
    pub status: ValidatorStatus,
    /// Bonded stake (wei).
    pub stake: U256,
    /// The part of `stake` its operator bonded.
    pub self_stake: U256,
    /// Stake unbonding from it (wei).
    pub unbonding: U256,
    /// Stake slashed from it so far (wei).
    pub slashed: U256,
    /// Epoch from which it may be elected again, when jailed.
    pub jailed_until_epoch: u64,
    /// Its voting power in the set deciding the next block (0 when not in it).
    pub voting_power: u64,
    /// Uptime: of the latest `window_blocks` blocks, how many carry its precommit in their
    /// commit certificate.
    pub signed_blocks: u64,
    /// The blocks its uptime counts: the latest ones (at most 100) decided by the set it is
    /// in now; 0 when it is not in the set.
    pub window_blocks: u64,
}

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

/// Read access to the chain and the transaction pool, as the node provides it. Every method
/// reads the latest committed data.
pub trait RpcBackend: Send + Sync + 'static {
    /// The chain id.
    fn chain_id(&self) -> u64;
    /// The head block's header.
    fn head(&self) -> Result<Header, String>;
    /// Header of block `number`.
    fn header(&self, number: u64) -> Result<Option<Header>, String>;
    /// Block `number`.
    fn block(&self, number: u64) -> Result<Option<Block>, String>;
    /// How many transactions block `number` holds.
    fn transaction_count(&self, number: u64) -> Result<Option<usize>, String>;
    /// Transaction `index` of block `number`, read without decoding the rest of the block.
    fn transaction_at(&self, number: u64, index: usize) -> Result<Option<TxEnvelope>, String>;
    /// Receipt `index` of block `number` with its gas used and first log index, read
    /// without decoding the others.
    fn receipt_at(&self, number: u64, index: usize) -> Result<Option<BlockReceipt>, String>;
    /// Number of the block with `hash`.
    fn block_number(&self, hash: &B256) -> Result<Option<u64>, String>;
    /// Evidence of validators signing conflicting messages that this node saw, latest
    /// first, at most `limit`.
    fn misbehavior(&self, limit: usize) -> Result<Vec<Misbehavior>, String>;
    /// The transactions concerning `address` (sent, received, contracts created), latest
    /// first, strictly before `before` (block, index) when given; at most `limit`.
    fn address_transactions(
        &self,
        address: &Address,
        before: Option<(u64, u32)>,
        limit: usize,
    ) -> Result<Vec<(u64, u32)>, String>;
    /// Every registered validator, from the staking contract, with its uptime.
    fn registered_validators(&self) -> Result<Vec<ValidatorView>, String>;
    /// The ERC-20 tokens that `holder` sent or received, in address order; at most `limit`.
    fn address_tokens(&self, holder: &Address, limit: usize) -> Result<Vec<Address>, String>;
    /// The sum of every balance after the head block (wei).
    fn supply(&self) -> Result<U256, String>;
    /// The latest committed blocks' sizes and times, oldest first (kept since the node
    /// started, a bounded window).
    fn recent_activity(&self) -> Vec<BlockActivity>;
    /// The commit certificate of block `number`: the validators' signatures that finalized it.
    fn certificate(&self, number: u64) -> Result<Option<CommitCertificate>, String>;
    /// Receipts of block `number`.
    fn receipts(&self, number: u64) -> Result<Option<Vec<ReceiptEnvelope>>, String>;
    /// Where a transaction was included: (block number, index).
    fn transaction_location(&self, hash: &B256) -> Result<Option<(u64, u32)>, String>;
    /// An account in the latest state.
    fn account(&self, address: &Address) -> Result<Option<Account>, String>;
    /// The code of an account in the latest state (empty if none).
    fn code(&self, address: &Address) -> Result<Bytes, String>;
    /// A storage slot in the latest state.
    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, String>;
    /// An account and some of its slots with proofs against the head's state root.
    fn proof(&self, address: &Address, slots: &[U256]) -> Result<AccountProof, String>;
    /// Runs `request` on the latest state in the context of the head block.
    fn call(
        &self,
        request: &TransactionRequest,
        overrides: Option<&StateOverride>,
        gas_cap: u64,
    ) -> Result<CallOutcome, CallError>;
    /// The least gas with which `request` succeeds on the latest state; a request that
    /// fails with all the gas allowed returns that failure as `Err(Ok(outcome))`.
    fn estimate_gas(
        &self,
        request: &TransactionRequest,
        overrides: Option<&StateOverride>,
        gas_cap: u64,
    ) -> Result<u64, Result<CallOutcome, CallError>>;
    /// The access list of `request` on the latest state and how its run with that list
    /// ended.
    fn create_access_list(
        &self,
        request: &TransactionRequest,
        overrides: Option<&StateOverride>,
        gas_cap: u64,
    ) -> Result<(AccessList, CallOutcome), CallError>;
    /// The next nonce of `address` counting its pending pool transactions, if it has any.
    fn pending_nonce(&self, address: &Address) -> Option<u64>;
    /// Validates a raw signed transaction and adds it to the pool.
    fn submit_transaction(&self, raw: &[u8]) -> Result<B256, SubmitError>;
    /// The pool's transactions.
    fn pool_content(&self) -> PoolContent;
    /// The Proof-of-History chain of `block`, verified again.
    fn verify_poh(&self, block: &Block) -> PohReport;
    /// Identity and progress of the node.
    fn node_info(&self) -> Result<NodeInfo, String>;
    /// Headers of newly committed blocks, in order.
    fn subscribe_new_heads(&self) -> broadcast::Receiver<Header>;
    /// Hashes of transactions that become pending in the pool.
    fn subscribe_pending(&self) -> broadcast::Receiver<B256>;
}
