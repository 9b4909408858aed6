//! Reading the chain: one consistent view per request.

use std::{collections::HashMap, sync::Arc};

use alloy_eips::eip2930::AccessList;
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rpc_types_eth::{TransactionRequest, state::StateOverride};
use btcr_execution::{AccountProof, CallBudget, CallError, CallOutcome};
use btcr_primitives::{
    Account, Block, BlockAccounts, BlockReceipt, CommitCertificate, GenesisValidator, Header,
    Misbehavior, ReceiptEnvelope, TxEnvelope,
};
use tokio::sync::broadcast;

/// Any error, kept as the source of ours.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A read that failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The store could not be read.
    #[error("reading the chain store: {source}")]
    Store {
        /// What the store said.
        #[source]
        source: BoxError,
    },
    /// Something the store must hold (a block below the head, a receipt of a stored block)
    /// is not there.
    #[error("{what} is missing from the chain store")]
    Missing {
        /// What was looked for.
        what: String,
    },
    /// The block asked for was pruned from this node (`btcr db prune`, or a node that began
    /// from a snapshot): a refusal the client can act on, not a failure.
    #[error("block {number} is pruned: this node keeps blocks from {earliest} on")]
    Pruned {
        /// The block asked for.
        number: u64,
        /// The lowest block this node keeps beside genesis.
        earliest: u64,
    },
    /// A view of a system contract (the staking contract) failed or answered something
    /// unusable.
    #[error("{context}: {source}")]
    Contract {
        /// Which view.
        context: &'static str,
        /// Why.
        #[source]
        source: BoxError,
    },
}

impl ReadError {
    /// A failure of the store.
    pub fn store(source: impl Into<BoxError>) -> Self {
        Self::Store { source: source.into() }
    }

    /// Something the store should hold is missing.
    pub fn missing(what: impl Into<String>) -> Self {
        Self::Missing { what: what.into() }
    }
}

/// The chain as routers see it: a view per request, and the stream of new heads.
pub trait ChainReader: Send + Sync + 'static {
    /// The chain id.
    fn chain_id(&self) -> u64;
    /// A consistent view of the latest committed block and state. Everything read through
    /// it sees the same head, however long it is held; opening one is cheap.
    fn view(&self) -> Result<Arc<dyn ChainView>, ReadError>;
    /// Headers of newly committed blocks, in order. A subscriber that falls behind misses
    /// heads (it is told, `Lagged`) and never slows the chain.
    fn subscribe_new_heads(&self) -> broadcast::Receiver<Header>;
}

/// One snapshot of the chain: its blocks, its state at the head, the address index and the
/// staking contract's views.
pub trait ChainView: BlockReader + StateView + IndexReader + StakingView + Send + Sync {}

impl<T: BlockReader + StateView + IndexReader + StakingView + Send + Sync> ChainView for T {}

/// Blocks, receipts and what the store keeps about them.
pub trait BlockReader {
    /// The head block's header.
    fn head(&self) -> &Header;
    /// Header of block `number`.
    fn header(&self, number: u64) -> Result<Option<Header>, ReadError>;
    /// Block `number`.
    fn block(&self, number: u64) -> Result<Option<Block>, ReadError>;
    /// Number of the block with `hash`.
    fn block_number(&self, hash: &B256) -> Result<Option<u64>, ReadError>;
    /// How many transactions block `number` holds.
    fn transaction_count(&self, number: u64) -> Result<Option<usize>, ReadError>;
    /// Transaction `index` of block `number`, read without decoding the rest of the block.
    fn transaction_at(&self, number: u64, index: usize) -> Result<Option<TxEnvelope>, ReadError>;
    /// Receipt `index` of block `number` with its gas used and first log index, read
    /// without decoding the others.
    fn receipt_at(&self, number: u64, index: usize) -> Result<Option<BlockReceipt>, ReadError>;
    /// Receipts of block `number`.
    fn receipts(&self, number: u64) -> Result<Option<Vec<ReceiptEnvelope>>, ReadError>;
    /// The commit certificate of block `number`: the signatures that finalized it.
    fn certificate(&self, number: u64) -> Result<Option<CommitCertificate>, ReadError>;
    /// Where a transaction was included: (block number, index).
    fn transaction_location(&self, hash: &B256) -> Result<Option<(u64, u32)>, ReadError>;
    /// Evidence of validators signing conflicting messages that this node saw, latest
    /// first, at most `limit`.
    fn misbehavior(&self, limit: usize) -> Result<Vec<Misbehavior>, ReadError>;
    /// The senders of block `number`'s transactions and the balances it left, when the
    /// store kept them (blocks stored before it did have none).
    fn block_accounts(&self, number: u64) -> Result<Option<BlockAccounts>, ReadError>;
    /// The validator set that starts deciding blocks at `first`, when one starts there
    /// (genesis's at 0, then the set each epoch's end elects).
    fn validator_set_starting(
        &self,
        first: u64,
    ) -> Result<Option<Vec<GenesisValidator>>, ReadError>;
}

/// The state after the head block, and code run on it.
pub trait StateView {
    /// An account.
    fn account(&self, address: &Address) -> Result<Option<Account>, ReadError>;
    /// The code of an account (empty if none).
    fn code(&self, address: &Address) -> Result<Bytes, ReadError>;
    /// A storage slot.
    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, ReadError>;
    /// An account and some of its slots with proofs against the head's state root.
    fn proof(&self, address: &Address, slots: &[U256]) -> Result<AccountProof, ReadError>;
    /// The sum of every balance (wei).
    fn supply(&self) -> Result<U256, ReadError>;
    /// Runs `request` in the context of the head block, changing nothing, within `budget`.
    fn call(
        &self,
        request: &TransactionRequest,
        overrides: Option<&StateOverride>,
        budget: &CallBudget,
    ) -> Result<CallOutcome, CallError>;
    /// The least gas with which `request` succeeds; a request that fails with all the gas
    /// allowed returns that failure as `Err(Ok(outcome))`.
    fn estimate_gas(
        &self,
        request: &TransactionRequest,
        overrides: Option<&StateOverride>,
        budget: &CallBudget,
    ) -> Result<u64, Result<CallOutcome, CallError>>;
    /// The access list of `request` and how its run with that list ended.
    fn create_access_list(
        &self,
        request: &TransactionRequest,
        overrides: Option<&StateOverride>,
        budget: &CallBudget,
    ) -> Result<(AccessList, CallOutcome), CallError>;
}

/// The address index, kept by its consumer of committed blocks.
pub trait IndexReader {
    /// The transactions concerning `address` (sent, received, contracts created, tokens
    /// moved), latest first, strictly before `before` (block, index) when given; at most
    /// `limit`.
    fn address_transactions(
        &self,
        address: &Address,
        before: Option<(u64, u32)>,
        limit: usize,
    ) -> Result<Vec<(u64, u32)>, ReadError>;
    /// The ERC-20 tokens that `holder` sent or received, in address order; at most `limit`.
    fn address_tokens(&self, holder: &Address, limit: usize) -> Result<Vec<Address>, ReadError>;
    /// The last block the index holds (it follows the head a little behind).
    fn indexed_height(&self) -> Result<Option<u64>, ReadError>;
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

/// A registered validator, as the staking contract lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredValidator {
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
}

/// A validator's uptime over the latest blocks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Uptime {
    /// Blocks of the window whose commit certificate holds its precommit.
    pub signed: u64,
    /// Blocks of the window decided by a set it was in.
    pub window: u64,
}

/// The validators: the staking contract's views and the sets that decided blocks.
pub trait StakingView {
    /// The set that decides the block after the head.
    fn validators(&self) -> Result<Vec<GenesisValidator>, ReadError>;
    /// Every registered validator.
    fn registered_validators(&self) -> Result<Vec<RegisteredValidator>, ReadError>;
    /// Each validator's uptime over the latest blocks (at most 100): of the blocks decided
    /// by a set it was in, those whose certificate holds its precommit.
    fn uptime(&self) -> Result<HashMap<Address, Uptime>, ReadError>;
}
