//! The read side of the node, as the HTTP routers see it: [`NodeApi`] implements the
//! interfaces of `btcr-interfaces` over the chain store (one snapshot per view), the pool
//! and the read models that consumers keep.

use std::{collections::HashMap, sync::Arc};

use alloy_eips::eip2930::AccessList;
use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rpc_types_eth::{TransactionRequest, state::StateOverride};
use btcr_execution::{AccountProof, BlockContext, CallError, CallOutcome};
use btcr_interfaces::{
    BlockActivity, BlockReader, ChainReader, ChainView, ConsensusPosition, ConsumerProgress,
    IndexReader, Mempool, NodeStatus, PoolContent, ReadError, RegisteredValidator, StakingView,
    StateView, SubmitError, Uptime, ValidatorStatus,
};
use btcr_primitives::{
    Account, Block, BlockAccounts, BlockReceipt, CommitCertificate, Genesis, GenesisValidator,
    Header, Misbehavior, PohConfig, ReceiptEnvelope, StateReader, TxEnvelope,
};
use btcr_storage::{ADDRESS_INDEX, Snapshot, StoreError};
use tokio::sync::broadcast;

use crate::{Chain, consumers::RecentActivity, uptime::DecidingSets};

/// A failed read of the store as the readers report it: a pruned block is a refusal of its
/// own ([`ReadError::Pruned`]), everything else a failure of the store.
pub(crate) fn store_error(e: StoreError) -> ReadError {
    match e {
        StoreError::Pruned { number, earliest } => ReadError::Pruned { number, earliest },
        e => ReadError::store(e),
    }
}

/// The node's chain, pool and status, for the routers.
#[derive(Debug)]
pub struct NodeApi {
    chain: Arc<Chain>,
    genesis_hash: B256,
    new_heads: broadcast::Sender<Header>,
    activity: RecentActivity,
}

impl NodeApi {
    /// Reads `chain`; new heads come from `new_heads` (fed by the new-heads consumer), the
    /// recent activity from `activity`.
    pub fn new(
        chain: Arc<Chain>,
        new_heads: broadcast::Sender<Header>,
        activity: RecentActivity,
    ) -> Result<Self, StoreError> {
        let genesis_hash =
            chain.store().snapshot()?.header(0)?.map(|h| h.hash()).ok_or_else(|| {
                StoreError::Corrupt { what: "genesis".into(), reason: "missing".into() }
            })?;
        Ok(Self { chain, genesis_hash, new_heads, activity })
    }

    /// A view of `snapshot`.
    fn view_of(&self, snapshot: Arc<Snapshot>) -> Result<SnapshotView, ReadError> {
        if snapshot.head().is_none() {
            return Err(ReadError::missing("the head"));
        }
        Ok(SnapshotView { snapshot, genesis: self.chain.genesis().clone() })
    }
}

impl ChainReader for NodeApi {
    fn chain_id(&self) -> u64 {
        self.chain.genesis().chain_id
    }

    fn view(&self) -> Result<Arc<dyn ChainView>, ReadError> {
        let snapshot = self.chain.store().snapshot().map_err(store_error)?;
        Ok(Arc::new(self.view_of(snapshot)?))
    }

    fn subscribe_new_heads(&self) -> broadcast::Receiver<Header> {
        self.new_heads.subscribe()
    }
}

impl Mempool for NodeApi {
    fn submit_transaction(&self, raw: &[u8]) -> Result<B256, SubmitError> {
        self.chain.submit_transaction(raw)
    }

    fn pending_nonce(&self, address: &Address) -> Option<u64> {
        self.chain.pending_nonce(address)
    }

    fn pool_counts(&self) -> (usize, usize) {
        self.chain.pool_counts()
    }

    fn pool_content(&self) -> PoolContent {
        self.chain.pool_content()
    }

    fn subscribe_pending(&self) -> broadcast::Receiver<B256> {
        self.chain.subscribe_pending()
    }
}

/// The chain as the administrators' statistics read it from this node, on the blocking pool.
pub(crate) struct NodeFigures(pub(crate) Arc<NodeApi>);

impl btcr_accounts::ChainSource for NodeFigures {
    fn figures(&self) -> btcr_accounts::FiguresFuture<'_> {
        let api = self.0.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let view = api.view().map_err(|e| e.to_string())?;
                let summary = btcr_explorer::network_summary(&*view, &*api, api.chain_id())
                    .map_err(|e| e.to_string())?;
                let (pending, queued) = api.pool_counts();
                Ok(btcr_accounts::ChainFigures {
                    height: summary.height,
                    finalized_height: summary.finalized_height,
                    block_time_ms: summary.block_time_ms,
                    tx_per_second: summary.tx_per_second,
                    validators: summary.validators as u64,
                    peers: summary.peers,
                    pending_transactions: pending as u64,
                    queued_transactions: queued as u64,
                })
            })
            .await
            .map_err(|e| format!("reading the chain failed: {e}"))?
        })
    }
}

impl NodeStatus for NodeApi {
    fn version(&self) -> &str {
        env!("CARGO_PKG_VERSION")
    }

    fn genesis_hash(&self) -> B256 {
        self.genesis_hash
    }

    fn poh_config(&self) -> PohConfig {
        self.chain.genesis().poh
    }

    fn peers(&self) -> u64 {
        self.chain.peers()
    }

    fn recent_activity(&self) -> Vec<BlockActivity> {
        self.activity.blocks()
    }

    fn consumers(&self) -> Vec<ConsumerProgress> {
        self.chain.events().progress()
    }

    fn consensus(&self) -> Option<ConsensusPosition> {
        self.chain.consensus_position()
    }
}

/// One snapshot of the store (which holds a head: checked when the view is made).
pub struct SnapshotView {
    snapshot: Arc<Snapshot>,
    genesis: Arc<Genesis>,
}

impl SnapshotView {
    fn head_header(&self) -> &Header {
        self.snapshot.head().expect("a view is made only of a snapshot with a head")
    }

    /// The context in which calls run: the head block's own.
    fn call_context(&self) -> BlockContext {
        let head = self.head_header();
        BlockContext {
            chain_id: self.genesis.chain_id,
            number: head.number,
            timestamp_ms: head.timestamp_ms,
            fee_recipient: btcr_staking::fee_recipient(&self.genesis, head.proposer),
            base_fee: head.base_fee_per_gas,
            gas_limit: head.gas_limit,
            // The head's PREVRANDAO was its parent's PoH end hash, where its own PoH started.
            prev_randao: head.poh_start_hash,
        }
    }
}

fn contract(context: &'static str) -> impl Fn(btcr_staking::StakingError) -> ReadError {
    move |e| ReadError::Contract { context, source: Box::new(e) }
}

impl BlockReader for SnapshotView {
    fn head(&self) -> &Header {
        self.head_header()
    }

    fn header(&self, number: u64) -> Result<Option<Header>, ReadError> {
        self.snapshot.header(number).map_err(store_error)
    }

    fn block(&self, number: u64) -> Result<Option<Block>, ReadError> {
        self.snapshot.block(number).map_err(store_error)
    }

    fn block_number(&self, hash: &B256) -> Result<Option<u64>, ReadError> {
        self.snapshot.block_number(hash).map_err(store_error)
    }

    fn transaction_count(&self, number: u64) -> Result<Option<usize>, ReadError> {
        self.snapshot.transaction_count(number).map_err(store_error)
    }

    fn transaction_at(&self, number: u64, index: usize) -> Result<Option<TxEnvelope>, ReadError> {
        self.snapshot.transaction(number, index).map_err(store_error)
    }

    fn receipt_at(&self, number: u64, index: usize) -> Result<Option<BlockReceipt>, ReadError> {
        self.snapshot.receipt(number, index).map_err(store_error)
    }

    fn receipts(&self, number: u64) -> Result<Option<Vec<ReceiptEnvelope>>, ReadError> {
        self.snapshot.receipts(number).map_err(store_error)
    }

    fn certificate(&self, number: u64) -> Result<Option<CommitCertificate>, ReadError> {
        self.snapshot.certificate(number).map_err(store_error)
    }

    fn transaction_location(&self, hash: &B256) -> Result<Option<(u64, u32)>, ReadError> {
        self.snapshot.transaction_location(hash).map_err(store_error)
    }

    fn misbehavior(&self, limit: usize) -> Result<Vec<Misbehavior>, ReadError> {
        self.snapshot.misbehavior(limit).map_err(store_error)
    }

    fn block_accounts(&self, number: u64) -> Result<Option<BlockAccounts>, ReadError> {
        self.snapshot.block_accounts(number).map_err(store_error)
    }

    fn validator_set_starting(
        &self,
        first: u64,
    ) -> Result<Option<Vec<GenesisValidator>>, ReadError> {
        let sets = self.snapshot.validator_sets(first, first).map_err(store_error)?;
        Ok(sets.into_iter().find(|(from, _)| *from == first).map(|(_, set)| set))
    }
}

impl StateView for SnapshotView {
    fn account(&self, address: &Address) -> Result<Option<Account>, ReadError> {
        self.snapshot.account(address).map_err(ReadError::store)
    }

    fn code(&self, address: &Address) -> Result<Bytes, ReadError> {
        let Some(account) = self.account(address)? else { return Ok(Bytes::new()) };
        if !account.has_code() {
            return Ok(Bytes::new());
        }
        self.snapshot
            .code(&account.code_hash)
            .map_err(ReadError::store)?
            .ok_or_else(|| ReadError::missing(format!("code {} of {address}", account.code_hash)))
    }

    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, ReadError> {
        self.snapshot.storage(address, slot).map_err(ReadError::store)
    }

    fn proof(&self, address: &Address, slots: &[U256]) -> Result<AccountProof, ReadError> {
        btcr_execution::account_proof(&*self.snapshot, *address, slots).map_err(ReadError::store)
    }

    fn supply(&self) -> Result<U256, ReadError> {
        Ok(self.snapshot.supply())
    }

    fn call(
        &self,
        request: &TransactionRequest,
        overrides: Option<&StateOverride>,
        budget: &btcr_execution::CallBudget,
    ) -> Result<CallOutcome, CallError> {
        btcr_execution::simulate(&*self.snapshot, &self.call_context(), request, overrides, budget)
    }

    fn estimate_gas(
        &self,
        request: &TransactionRequest,
        overrides: Option<&StateOverride>,
        budget: &btcr_execution::CallBudget,
    ) -> Result<u64, Result<CallOutcome, CallError>> {
        let ctx = self.call_context();
        btcr_execution::estimate_gas(&*self.snapshot, &ctx, request, overrides, budget)
    }

    fn create_access_list(
        &self,
        request: &TransactionRequest,
        overrides: Option<&StateOverride>,
        budget: &btcr_execution::CallBudget,
    ) -> Result<(AccessList, CallOutcome), CallError> {
        let ctx = self.call_context();
        btcr_execution::create_access_list(&*self.snapshot, &ctx, request, overrides, budget)
    }
}

impl IndexReader for SnapshotView {
    fn address_transactions(
        &self,
        address: &Address,
        before: Option<(u64, u32)>,
        limit: usize,
    ) -> Result<Vec<(u64, u32)>, ReadError> {
        self.snapshot.address_transactions(address, before, limit).map_err(store_error)
    }

    fn address_tokens(&self, holder: &Address, limit: usize) -> Result<Vec<Address>, ReadError> {
        self.snapshot.address_tokens(holder, limit).map_err(store_error)
    }

    fn indexed_height(&self) -> Result<Option<u64>, ReadError> {
        self.snapshot.consumer_checkpoint(ADDRESS_INDEX).map_err(store_error)
    }
}

impl StakingView for SnapshotView {
    fn validators(&self) -> Result<Vec<GenesisValidator>, ReadError> {
        btcr_staking::validator_set(&*self.snapshot, &self.genesis)
            .map_err(contract("the validator set"))
    }

    fn registered_validators(&self) -> Result<Vec<RegisteredValidator>, ReadError> {
        let set = self.validators()?;
        let registered = btcr_staking::registered_validators(&*self.snapshot, &self.genesis)
            .map_err(contract("the registered validators"))?;
        Ok(registered
            .into_iter()
            .map(|v| RegisteredValidator {
                address: v.validator,
                public_key: v.publicKey,
                commission_bps: v.commissionBps,
                status: match v.status {
                    1 => ValidatorStatus::Active,
                    2 => ValidatorStatus::Jailed,
                    _ => ValidatorStatus::Candidate,
                },
                stake: v.stake,
                self_stake: v.selfStake,
                unbonding: v.unbonding,
                slashed: v.slashed,
                jailed_until_epoch: v.jailedUntil,
                voting_power: set.iter().find(|s| s.address == v.validator).map_or(0, |s| s.power),
            })
            .collect())
    }

    fn uptime(&self) -> Result<HashMap<Address, Uptime>, ReadError> {
        let head = self.head_header().number;
        let first = (head + 1)
            .saturating_sub(crate::uptime::UPTIME_WINDOW)
            .max(self.snapshot.earliest())
            .max(1);
        let sets = self.snapshot.validator_sets(first, head).map_err(store_error)?;
        let Some(sets) = DecidingSets::from_latest_first(sets) else {
            return Ok(HashMap::new());
        };
        sets.uptime(head, |h| {
            let signatures = self.snapshot.certificate(h)?.map(|c| c.signatures);
            Ok::<_, StoreError>(
                signatures.unwrap_or_default().iter().map(|s| s.validator).collect(),
            )
        })
        .map_err(store_error)
    }
}
