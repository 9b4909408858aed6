//! The chain: the block pipeline (propose, verify, commit) over the store, the pool and the
//! execution layer, and the RPC backend over the same state.

use std::{
    collections::{BTreeMap, HashMap, HashSet, VecDeque},
    sync::{Arc, OnceLock},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use alloy_consensus::TxEip1559;
use alloy_consensus::proofs::{calculate_receipt_root, calculate_transaction_root};
use alloy_eips::eip2930::AccessList;
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_rpc_types_eth::{TransactionRequest, state::StateOverride};
use btcr_consensus::{BlockPipeline, PipelineError};
use btcr_crypto::SecretKey;
use btcr_execution::{
    AccountProof, BlockContext, BlockExecutor, CallError, CallOutcome, ExecError, StateRootOutput,
    account_proof, compute_state_root, create_access_list, estimate_gas,
    recover_transactions_reusing, simulate, validate_transaction,
};
use btcr_network::{TxPublisher, TxSink, Verdict};
use btcr_poh::{PohSlot, batch_hash};
use btcr_primitives::{
    Account, Block, BlockBody, BlockReceipt, CommitCertificate, ConsensusMode, Genesis,
    GenesisValidator, Header, Misbehavior, ReceiptEnvelope, RecoveredTx, StateReader,
    TokenTransferLog, TxEnvelope, decode_transaction,
};
use btcr_rpc::{
    BlockActivity, NodeInfo, PohReport, PoolContent, RpcBackend, SubmitError, ValidatorStatus,
    ValidatorView,
};
use btcr_storage::{BlockAddresses, BlockCommit, ChainStore, Snapshot, StoreError};
use btcr_trie::{MemoryNodeStore, NodeWrites, TreeId};
use btcr_txpool::{PoolConfig, SenderState, TxPool};
use parking_lot::{Mutex, RwLock};
use tokio::sync::broadcast;
use tracing::{debug, info, warn};

use crate::{genesis_block, uptime::DecidingSets};

/// Committed blocks remembered for throughput figures.
const ACTIVITY_WINDOW: usize = 4096;
/// Gas of a transaction reporting double signing (it checks two signatures).
const EVIDENCE_GAS: u64 = 500_000;
/// Transactions mixed into PoH as one batch.
const BATCH_SIZE: usize = 256;
/// How far ahead of our clock a proposer's timestamp may be.
const MAX_CLOCK_DRIFT_MS: u64 = 2_000;
/// Capacity of the new-heads channel; a subscriber that falls this far behind misses heads
/// and is told so (`Lagged`), the chain never waits for it.
const NEW_HEADS_CAPACITY: usize = 256;

/// Opening the chain failed.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The data directory holds another chain.
    #[error(
        "the data directory holds another chain: its genesis hash is {found}, this genesis file gives {expected}"
    )]
    GenesisMismatch {
        /// Stored genesis hash.
        found: B256,
        /// Hash computed from the genesis file.
        expected: B256,
    },
    /// The genesis file cannot be turned into a block.
    #[error("invalid genesis: {0}")]
    Genesis(String),
    /// The validator set cannot be read from the stored state.
    #[error("reading the validator set: {0}")]
    ValidatorSet(String),
    /// Stored evidence of double signing cannot be scheduled for reporting.
    #[error("scheduling a report of double signing: {0}")]
    Evidence(String),
}

/// A block executed here and waiting to be committed.
struct Executed {
    block: Block,
    tx_hashes: Vec<B256>,
    /// Per transaction, the addresses the address index lists it under.
    addresses: BlockAddresses,
    receipts: Vec<ReceiptEnvelope>,
    root: StateRootOutput,
}

/// The chain pipeline and its shared state.
pub struct Chain {
    store: ChainStore,
    genesis: Genesis,
    proposer: Address,
    pool: Mutex<TxPool<RecoveredTx>>,
    head: RwLock<Header>,
    executed: Mutex<HashMap<B256, Executed>>,
    new_heads: broadcast::Sender<Header>,
    /// Where transactions submitted over RPC go to reach the other validators.
    publisher: OnceLock<TxPublisher>,
    /// The key that signs the transactions reporting double signing to the staking
    /// contract (a validator's own key).
    reporter: OnceLock<SecretKey>,
    /// The latest committed blocks' sizes and times, for throughput figures.
    activity: Mutex<VecDeque<BlockActivity>>,
    /// The validator sets that decided the latest blocks, for uptime.
    deciding_sets: Mutex<DecidingSets>,
    /// Evidence this node will report when its turn comes: (due height, evidence).
    pending_reports: Mutex<Vec<(u64, Misbehavior)>>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain").field("head", &self.head.read().number).finish_non_exhaustive()
    }
}

/// Blocks between one validator's turn to report double signing and the next one's: time
/// for the earlier report to land, so that the later reporter sees it and sends nothing.
const REPORT_TURN_BLOCKS: u64 = 2;
/// Reports waiting for their turn, at most.
const MAX_PENDING_REPORTS: usize = 1_000;

/// A reporter's turn (0 first) to report double signing seen at `height`: the validators
/// of `set` take turns in address order, starting from a different one at each height;
/// anyone outside the set comes after them all.
pub(crate) fn report_turn(set: &[Address], reporter: Address, height: u64) -> u64 {
    let mut sorted = set.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let n = sorted.len() as u64;
    match sorted.iter().position(|a| *a == reporter) {
        Some(position) => (position as u64 + n - height % n) % n,
        None => n,
    }
}

/// Blocks indexed per write when a store made before the address index is filled in.
const INDEX_BATCH: u64 = 1_000;

/// Indexes the addresses of blocks stored before the address index existed, from the head
/// down, a batch per write: a crash loses at most the batch in progress.
fn fill_address_index(store: &ChainStore) -> Result<(), ChainError> {
    let mut from = store.address_index_from()?;
    if from <= 1 {
        return Ok(());
    }
    let total = from - 1;
    info!(target: "btcr::chain", blocks = total, "indexing the transactions of stored blocks by address");
    while from > 1 {
        let first = from.saturating_sub(INDEX_BATCH).max(1);
        let snapshot = store.snapshot()?;
        let mut batch = Vec::with_capacity((from - first) as usize);
        for number in first..from {
            let body = snapshot.body(number)?.ok_or_else(|| StoreError::Corrupt {
                what: format!("body {number}"),
                reason: "missing".into(),
            })?;
            let transactions =
                btcr_execution::recover_transactions(body.transactions).map_err(|(i, e)| {
                    StoreError::Corrupt {
                        what: format!("transaction {i} of block {number}"),
                        reason: e.to_string(),
                    }
                })?;
            let receipts = snapshot.receipts(number)?.ok_or_else(|| StoreError::Corrupt {
                what: format!("receipts {number}"),
                reason: "missing".into(),
            })?;
            batch.push(block_addresses(&transactions, &receipts));
        }
        store.index_addresses(first, &batch)?;
        from = first;
        info!(target: "btcr::chain", indexed = total - (from - 1), of = total, "address index");
    }
    Ok(())
}

/// What a block's transactions add to the address indexes: each transaction concerns its
/// sender, its recipient or the contract it creates, and the senders and recipients of the
/// ERC-20 tokens it moved; those holders and tokens go to the token index.
pub(crate) fn block_addresses(
    transactions: &[RecoveredTx],
    receipts: &[ReceiptEnvelope],
) -> BlockAddresses {
    use alloy_consensus::Transaction;
    let mut out = BlockAddresses::default();
    for (tx, receipt) in transactions.iter().zip(receipts) {
        let mut addresses = vec![tx.sender];
        addresses.extend(tx.tx.to().or_else(|| tx.created_contract()));
        for transfer in receipt.logs().iter().filter_map(TokenTransferLog::decode) {
            for holder in transfer.holders() {
                addresses.push(holder);
                out.token_holders.push((holder, transfer.token));
            }
        }
        addresses.sort_unstable();
        addresses.dedup();
        out.transactions.push(addresses);
    }
    out.token_holders.sort_unstable();
    out.token_holders.dedup();
    out
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn fatal(e: impl std::fmt::Display) -> PipelineError {
    PipelineError::Fatal(e.to_string())
}

impl Chain {
    /// Opens the chain in `store`, writing genesis first if the store is empty and checking
    /// that a non-empty store holds this genesis.
    pub fn open(
        store: ChainStore,
        genesis: Genesis,
        proposer: Address,
        pool: PoolConfig,
    ) -> Result<Self, ChainError> {
        let (genesis_block, genesis_state) =
            genesis_block(&genesis).map_err(ChainError::Genesis)?;
        let snapshot = store.snapshot()?;
        match snapshot.header(0)? {
            Some(stored) => {
                if stored.hash() != genesis_block.hash() {
                    return Err(ChainError::GenesisMismatch {
                        found: stored.hash(),
                        expected: genesis_block.hash(),
                    });
                }
            }
            None => {
                store.commit_block(BlockCommit {
                    block: &genesis_block,
                    tx_hashes: &[],
                    receipts: &[],
                    addresses: &BlockAddresses::default(),
                    changes: &genesis_state.changes,
                    node_writes: &genesis_state.node_writes,
                    certificate: None,
                })?;
            }
        }
        fill_address_index(&store)?;
        let snapshot = store.snapshot()?;
        let head = snapshot.head_header()?.expect("genesis was written above");
        // The set that decides the next block has decided the blocks since its epoch began.
        let next = head.number + 1;
        let since = match genesis.consensus.mode {
            ConsensusMode::Pos => next - next % genesis.consensus.epoch_length,
            ConsensusMode::Poa => 1,
        };
        let members = btcr_staking::validator_set(&*snapshot, &genesis)
            .map_err(|e| ChainError::ValidatorSet(e.to_string()))?;
        let deciding_sets = DecidingSets::new(since, members.iter().map(|v| v.address).collect());
        let (new_heads, _) = broadcast::channel(NEW_HEADS_CAPACITY);
        let mut pool = TxPool::new(pool);
        pool.on_block_committed([], u128::from(head.next_base_fee()));
        Ok(Self {
            store,
            genesis,
            proposer,
            pool: Mutex::new(pool),
            head: RwLock::new(head),
            executed: Mutex::new(HashMap::new()),
            new_heads,
            publisher: OnceLock::new(),
            reporter: OnceLock::new(),
            activity: Mutex::new(VecDeque::with_capacity(ACTIVITY_WINDOW)),
            deciding_sets: Mutex::new(deciding_sets),
            pending_reports: Mutex::new(Vec::new()),
        })
    }

    /// The genesis parameters.
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// The store.
    pub fn store(&self) -> &ChainStore {
        &self.store
    }

    /// The head header.
    pub fn head_header(&self) -> Header {
        self.head.read().clone()
    }

    /// Subscribes to committed headers.
    pub fn subscribe_new_heads(&self) -> broadcast::Receiver<Header> {
        self.new_heads.subscribe()
    }

    /// Number of transactions in the pool (pending, queued).
    pub fn pool_counts(&self) -> (usize, usize) {
        let pool = self.pool.lock();
        (pool.pending_count(), pool.queued_count())
    }

    fn snapshot(&self) -> Result<Arc<Snapshot>, PipelineError> {
        self.store.snapshot().map_err(fatal)
    }

    /// The state and header that block `height` builds on: the head's, when `height` is the
    /// next block; any other height is refused.
    fn parent_of(&self, height: u64) -> Result<(Arc<Snapshot>, Header), PipelineError> {
        let snapshot = self.snapshot()?;
        let head =
            snapshot.head_header().map_err(fatal)?.ok_or_else(|| fatal("store has no head"))?;
        if height != head.number + 1 {
            return Err(PipelineError::InvalidBlock(format!(
                "height {height} does not follow the head ({})",
                head.number
            )));
        }
        Ok((snapshot, head))
    }

    fn block_context(
        &self,
        parent: &Header,
        number: u64,
        timestamp_ms: u64,
        proposer: Address,
    ) -> BlockContext {
        BlockContext {
            chain_id: self.genesis.chain_id,
            number,
            timestamp_ms,
            fee_recipient: btcr_staking::fee_recipient(&self.genesis, proposer),
            base_fee: parent.next_base_fee(),
            gas_limit: self.genesis.gas_limit,
            prev_randao: parent.poh_end_hash,
        }
    }

    /// Adds a raw signed transaction to the pool after every check that does not need
    /// execution, returning its hash or the reason it is refused.
    pub fn submit_raw(&self, raw: &[u8]) -> Result<B256, SubmitError> {
        self.admit(raw).map_err(|(_, e)| e)
    }

    /// Adds a transaction to the pool; an error says whether the transaction itself is
    /// invalid (`true`: whoever sent it is at fault) or only unwanted now (nonce used, pool
    /// full, already known, not enough funds at this state).
    fn admit(&self, raw: &[u8]) -> Result<B256, (bool, SubmitError)> {
        let invalid = |e: &dyn std::fmt::Display| (true, SubmitError(e.to_string()));
        let envelope = decode_transaction(raw).map_err(|e| invalid(&e))?;
        let tx = RecoveredTx::recover(envelope).map_err(|e| invalid(&e))?;
        validate_transaction(&tx, self.genesis.chain_id, self.genesis.gas_limit)
            .map_err(|e| invalid(&e))?;
        let node_error =
            |e: &dyn std::fmt::Display| (false, SubmitError(format!("node error: {e}")));
        let account = self
            .store
            .snapshot()
            .map_err(|e| node_error(&e))?
            .account(&tx.sender)
            .map_err(|e| node_error(&e))?
            .unwrap_or_default();
        let base_fee = u128::from(self.head.read().next_base_fee());
        let hash = tx.hash;
        self.pool
            .lock()
            .add(tx, SenderState { nonce: account.nonce, balance: account.balance }, base_fee)
            .map_err(|e| (false, SubmitError(e.to_string())))?;
        Ok(hash)
    }

    /// Reports double signing that consensus sees to the staking contract from now on, in
    /// transactions signed by `key`, whose account pays their gas.
    ///
    /// The evidence already stored (seen before a restart, say) is scheduled again: a fault
    /// not punished yet, and still recent enough to be, is reported on this validator's turn.
    pub fn set_evidence_reporter(&self, key: SecretKey) -> Result<(), ChainError> {
        let _ = self.reporter.set(key);
        for evidence in self.store.misbehavior(MAX_PENDING_REPORTS)? {
            self.schedule_report(&evidence).map_err(ChainError::Evidence)?;
        }
        Ok(())
    }

    /// Reports `evidence` on this validator's turn: every honest validator sees the fault,
    /// and they take turns so that one report lands and the others, seeing it, send nothing.
    fn schedule_report(&self, evidence: &Misbehavior) -> Result<(), String> {
        let Some(key) = self.reporter.get() else { return Ok(()) };
        let snapshot = self.store.snapshot().map_err(|e| e.to_string())?;
        let set =
            btcr_staking::validator_set(&*snapshot, &self.genesis).map_err(|e| e.to_string())?;
        let set: Vec<Address> = set.iter().map(|v| v.address).collect();
        let delay = report_turn(&set, key.address(), evidence.height) * REPORT_TURN_BLOCKS;
        if delay == 0 {
            self.send_report(evidence);
        } else {
            let due = self.head.read().number + delay;
            let mut pending = self.pending_reports.lock();
            if pending.len() < MAX_PENDING_REPORTS {
                pending.push((due, evidence.clone()));
            }
        }
        Ok(())
    }

    /// Reports `evidence` now, unless the contract has punished it already; says how in the
    /// log.
    fn send_report(&self, evidence: &Misbehavior) {
        match self.report(evidence) {
            Ok(Some(hash)) => {
                info!(target: "btcr::chain", validator = %evidence.validator, height = evidence.height, tx = %hash, "reported double signing to the staking contract");
            }
            Ok(None) => {}
            Err(reason) => {
                warn!(target: "btcr::chain", validator = %evidence.validator, %reason, "could not report double signing");
            }
        }
    }

    /// Sends `submitEvidence` for `evidence` to the staking contract, signed by the
    /// reporter key, unless the contract has punished it already (one fault is punished
    /// once).
    fn report(&self, evidence: &Misbehavior) -> Result<Option<B256>, String> {
        let Some(key) = self.reporter.get() else { return Ok(None) };
        if self.genesis.consensus.mode == ConsensusMode::Poa {
            return Ok(None);
        }
        let snapshot = self.store.snapshot().map_err(|e| e.to_string())?;
        // The contract takes evidence only as long as the stake it would cut is still bonded
        // or unbonding.
        let window = u64::from(self.genesis.consensus.unbonding_epochs)
            * self.genesis.consensus.epoch_length;
        if (self.head.read().number + 1).saturating_sub(evidence.height) > window {
            return Ok(None);
        }
        // Another validator's report may have landed already: one fault is punished once.
        if btcr_staking::already_slashed(
            &*snapshot,
            &self.genesis,
            evidence.validator,
            evidence.height,
        )
        .map_err(|e| e.to_string())?
        {
            return Ok(None);
        }
        let sender = key.address();
        let nonce = match self.pool.lock().pending_nonce(&sender) {
            Some(nonce) => nonce,
            None => snapshot.account(&sender).map_err(|e| e.to_string())?.unwrap_or_default().nonce,
        };
        let tip = 1_000_000_000u128;
        let tx = TxEip1559 {
            chain_id: self.genesis.chain_id,
            nonce,
            gas_limit: EVIDENCE_GAS,
            max_fee_per_gas: 2 * u128::from(self.head.read().next_base_fee()) + tip,
            max_priority_fee_per_gas: tip,
            to: TxKind::Call(btcr_staking::STAKING_ADDRESS),
            value: U256::ZERO,
            access_list: AccessList::default(),
            input: btcr_staking::submit_evidence_call(evidence),
        };
        let raw = btcr_wallet::sign(tx, key);
        self.submit_transaction(&raw).map(Some).map_err(|e| e.0)
    }

    /// Sends transactions accepted over RPC to the network from now on.
    pub fn set_publisher(&self, publisher: TxPublisher) {
        let _ = self.publisher.set(publisher);
    }

    #[allow(clippy::too_many_arguments)]
    fn seal(
        &self,
        parent: &Header,
        ctx: &BlockContext,
        proposer: Address,
        transactions: Vec<RecoveredTx>,
        poh: btcr_poh::PohSlotOutput,
        snapshot: &Snapshot,
        outcome: btcr_execution::ExecutionOutcome,
    ) -> Result<Executed, PipelineError> {
        let root = compute_state_root(snapshot, outcome.changes).map_err(fatal)?;
        let envelopes: Vec<_> = transactions.iter().map(|t| t.tx.clone()).collect();
        let header = Header {
            parent_hash: parent.hash(),
            number: ctx.number,
            timestamp_ms: ctx.timestamp_ms,
            proposer,
            state_root: root.state_root,
            transactions_root: calculate_transaction_root(&envelopes),
            receipts_root: calculate_receipt_root(&outcome.receipts),
            logs_bloom: outcome.logs_bloom,
            gas_used: outcome.gas_used,
            gas_limit: ctx.gas_limit,
            base_fee_per_gas: ctx.base_fee,
            poh_start_hash: parent.poh_end_hash,
            poh_end_hash: poh.end_hash,
            poh_ticks: poh.ticks,
            extra_data: Bytes::new(),
        };
        let tx_hashes = transactions.iter().map(|t| t.hash).collect();
        let addresses = block_addresses(&transactions, &outcome.receipts);
        let block =
            Block { header, body: BlockBody { transactions: envelopes, poh_entries: poh.entries } };
        Ok(Executed { block, tx_hashes, addresses, receipts: outcome.receipts, root })
    }
}

impl BlockPipeline for Chain {
    fn head(&self) -> Result<Header, PipelineError> {
        Ok(self.head_header())
    }

    fn validators(&self, height: u64) -> Result<Vec<GenesisValidator>, PipelineError> {
        let (snapshot, _) = self.parent_of(height)?;
        btcr_staking::validator_set(&*snapshot, &self.genesis).map_err(fatal)
    }

    fn record_misbehavior(&self, evidence: &Misbehavior) -> Result<bool, PipelineError> {
        let new = self.store.record_misbehavior(evidence).map_err(fatal)?;
        if new {
            self.schedule_report(evidence).map_err(fatal)?;
        }
        Ok(new)
    }

    fn decided(&self, height: u64) -> Result<Option<(Block, CommitCertificate)>, PipelineError> {
        let snapshot = self.snapshot()?;
        let Some(block) = snapshot.block(height).map_err(fatal)? else { return Ok(None) };
        let Some(certificate) = snapshot.certificate(height).map_err(fatal)? else {
            return Ok(None);
        };
        Ok(Some((block, certificate)))
    }

    fn propose(&self, height: u64, deadline: Instant) -> Result<Block, PipelineError> {
        let (snapshot, parent) = self.parent_of(height)?;
        let ctx = self.block_context(
            &parent,
            height,
            now_ms().max(parent.timestamp_ms + 1),
            self.proposer,
        );
        let slot = deadline.saturating_duration_since(Instant::now());
        let poh = PohSlot::start(parent.poh_end_hash, self.genesis.poh, slot).map_err(fatal)?;
        // Stop executing a little before the deadline so that the last ticks and sealing fit.
        let stop_at = deadline.checked_sub(slot / 10).unwrap_or(deadline);

        let mut executor = BlockExecutor::new(&*snapshot, &ctx);
        let mut included: Vec<RecoveredTx> = Vec::new();
        // Per sender, the nonce after its last transaction in the block: the next view of the
        // pool resumes there instead of walking past what the block already holds.
        let mut next_nonce: HashMap<Address, u64> = HashMap::new();
        let mut skipped_senders: HashSet<Address> = HashSet::new();
        let mut batch_start = 0;
        'slot: while Instant::now() < stop_at && !poh.is_finished() {
            // A view of what is pending now, taken under the lock and walked without it; once
            // it is used up, the next one picks up what arrived meanwhile.
            let mut candidates = self.pool.lock().best_after(u128::from(ctx.base_fee), |sender| {
                if skipped_senders.contains(sender) {
                    Some(u64::MAX)
                } else {
                    next_nonce.get(sender).copied()
                }
            });
            let mut any = false;
            while let Some(tx) = candidates.next() {
                any = true;
                match executor.execute(&tx) {
                    Ok(_) => {
                        next_nonce.insert(tx.sender, tx.nonce().saturating_add(1));
                        included.push(tx);
                    }
                    Err(ExecError::Invalid(reason)) => {
                        debug!(target: "btcr::chain", hash = %tx.hash, %reason, "left out of block");
                        skipped_senders.insert(tx.sender);
                        candidates.mark_invalid(tx.sender);
                    }
                    Err(ExecError::BlockFull { .. }) => break 'slot,
                    Err(e @ ExecError::Fatal(_)) => return Err(fatal(e)),
                }
                if included.len() - batch_start == BATCH_SIZE {
                    if !record_batch(&poh, &included[batch_start..])? {
                        break 'slot;
                    }
                    batch_start = included.len();
                }
                if Instant::now() >= stop_at {
                    break 'slot;
                }
            }
            if !any {
                std::thread::sleep(
                    Duration::from_millis(5).min(stop_at.saturating_duration_since(Instant::now())),
                );
                continue;
            }
            if included.len() > batch_start {
                if !record_batch(&poh, &included[batch_start..])? {
                    break 'slot;
                }
                batch_start = included.len();
            }
        }
        if included.len() > batch_start {
            // If the slot has ended, these are simply not mixed in: the count below says so.
            record_batch(&poh, &included[batch_start..])?;
        }
        let poh = poh.finish();
        let recorded = usize::try_from(poh.n_transactions()).map_err(fatal)?;
        let outcome = if recorded == included.len() {
            btcr_staking::end_block(&mut executor, &self.genesis, height).map_err(fatal)?;
            executor.finish()
        } else {
            // The slot's last tick came before the last batches were mixed in (a starved
            // thread, or a slot shortened by a slow commit). The block can only hold what the
            // PoH holds: execute that prefix again on its own; the rest stays in the pool.
            warn!(
                target: "btcr::chain",
                height,
                recorded,
                executed = included.len(),
                "the PoH slot ended before every executed transaction was mixed in"
            );
            drop(executor);
            included.truncate(recorded);
            let mut executor = BlockExecutor::new(&*snapshot, &ctx);
            for tx in &included {
                executor.execute(tx).map_err(|e| {
                    fatal(format!("re-executing transaction {} of the block: {e}", tx.hash))
                })?;
            }
            btcr_staking::end_block(&mut executor, &self.genesis, height).map_err(fatal)?;
            executor.finish()
        };
        let executed =
            self.seal(&parent, &ctx, self.proposer, included, poh, &snapshot, outcome)?;
        let block = executed.block.clone();
        self.executed.lock().insert(block.hash(), executed);
        Ok(block)
    }

    fn verify(&self, block: &Block) -> Result<(), PipelineError> {
        let invalid = |m: String| PipelineError::InvalidBlock(m);
        let snapshot = self.snapshot()?;
        let parent =
            snapshot.head_header().map_err(fatal)?.ok_or_else(|| fatal("store has no head"))?;
        let header = &block.header;
        if header.number != parent.number + 1 || header.parent_hash != parent.hash() {
            return Err(invalid(format!(
                "block {} does not extend head {}",
                header.number, parent.number
            )));
        }
        if header.timestamp_ms <= parent.timestamp_ms {
            return Err(invalid("timestamp does not increase".into()));
        }
        if header.timestamp_ms > now_ms() + MAX_CLOCK_DRIFT_MS {
            return Err(invalid(format!("timestamp {} is in the future", header.timestamp_ms)));
        }
        if header.extra_data.len() > 32 {
            return Err(invalid("extra data longer than 32 bytes".into()));
        }
        if header.poh_start_hash != parent.poh_end_hash {
            return Err(invalid("PoH does not start at the parent's end hash".into()));
        }
        // Transactions this node already pooled were recovered when they arrived.
        let known: Vec<Option<RecoveredTx>> = {
            let pool = self.pool.lock();
            block.body.transactions.iter().map(|tx| pool.get(tx.tx_hash())).collect()
        };
        let transactions = recover_transactions_reusing(block.body.transactions.clone(), known)
            .map_err(|(i, e)| invalid(format!("transaction {i}: {e}")))?;
        for (i, tx) in transactions.iter().enumerate() {
            validate_transaction(tx, self.genesis.chain_id, self.genesis.gas_limit)
                .map_err(|e| invalid(format!("transaction {i}: {e}")))?;
        }
        let tx_hashes: Vec<B256> = transactions.iter().map(|t| t.hash).collect();
        let poh = btcr_poh::verify(
            header.poh_start_hash,
            &block.body.poh_entries,
            &tx_hashes,
            &self.genesis.poh,
        )
        .map_err(|e| invalid(format!("PoH: {e}")))?;
        if poh.end_hash != header.poh_end_hash || poh.ticks != header.poh_ticks {
            return Err(invalid("PoH end hash or tick count differs from the header".into()));
        }
        let ctx = self.block_context(&parent, header.number, header.timestamp_ms, header.proposer);
        let mut executor = BlockExecutor::new(&*snapshot, &ctx);
        for (i, tx) in transactions.iter().enumerate() {
            executor.execute(tx).map_err(|e| match e {
                ExecError::Fatal(m) => fatal(m),
                other => invalid(format!("transaction {i}: {other}")),
            })?;
        }
        btcr_staking::end_block(&mut executor, &self.genesis, header.number).map_err(fatal)?;
        let outcome = executor.finish();
        let poh_output = btcr_poh::PohSlotOutput {
            entries: block.body.poh_entries.clone(),
            end_hash: poh.end_hash,
            ticks: poh.ticks,
        };
        let executed = self.seal(
            &parent,
            &ctx,
            header.proposer,
            transactions,
            poh_output,
            &snapshot,
            outcome,
        )?;
        if executed.block.header != *header {
            let ours = &executed.block.header;
            let what = if ours.state_root != header.state_root {
                "state root"
            } else if ours.receipts_root != header.receipts_root {
                "receipts root"
            } else if ours.gas_used != header.gas_used {
                "gas used"
            } else if ours.transactions_root != header.transactions_root {
                "transactions root"
            } else if ours.base_fee_per_gas != header.base_fee_per_gas {
                "base fee"
            } else if ours.logs_bloom != header.logs_bloom {
                "logs bloom"
            } else {
                "header"
            };
            return Err(invalid(format!("{what} differs after re-execution")));
        }
        self.executed.lock().insert(block.hash(), executed);
        Ok(())
    }

    fn commit(
        &self,
        block_hash: B256,
        certificate: CommitCertificate,
    ) -> Result<(), PipelineError> {
        let executed = {
            let mut map = self.executed.lock();
            let executed =
                map.remove(&block_hash).ok_or(PipelineError::UnknownBlock(block_hash))?;
            // Other candidates for this height can never be committed now.
            map.clear();
            executed
        };
        self.store
            .commit_block(BlockCommit {
                block: &executed.block,
                tx_hashes: &executed.tx_hashes,
                receipts: &executed.receipts,
                addresses: &executed.addresses,
                changes: &executed.root.changes,
                node_writes: &executed.root.node_writes,
                certificate: Some(&certificate),
            })
            .map_err(|e| fatal(format!("committing block {}: {e}", executed.block.number())))?;
        let header = executed.block.header.clone();
        if self.genesis.consensus.mode == ConsensusMode::Pos
            && btcr_staking::is_epoch_end(&self.genesis, header.number)
        {
            let snapshot = self.snapshot()?;
            let set = btcr_staking::validator_set(&*snapshot, &self.genesis).map_err(fatal)?;
            self.deciding_sets
                .lock()
                .advance(header.number + 1, set.iter().map(|v| v.address).collect());
        }
        {
            let mut activity = self.activity.lock();
            if activity.len() == ACTIVITY_WINDOW {
                activity.pop_front();
            }
            activity.push_back(BlockActivity {
                number: header.number,
                timestamp_ms: header.timestamp_ms,
                transactions: executed.tx_hashes.len() as u32,
            });
        }
        let base_fee = u128::from(header.next_base_fee());
        let senders: Vec<(Address, SenderState)> = executed
            .root
            .changes
            .accounts
            .iter()
            .map(|(address, change)| {
                let a = change.account.unwrap_or_default();
                (*address, SenderState { nonce: a.nonce, balance: a.balance })
            })
            .collect();
        self.pool.lock().on_block_committed(senders, base_fee);
        *self.head.write() = header.clone();
        let due: Vec<Misbehavior> = {
            let mut pending = self.pending_reports.lock();
            let (due, later) = std::mem::take(&mut *pending)
                .into_iter()
                .partition::<Vec<_>, _>(|(at, _)| *at <= header.number);
            *pending = later;
            due.into_iter().map(|(_, evidence)| evidence).collect()
        };
        for evidence in &due {
            self.send_report(evidence);
        }
        // Nobody listening is fine.
        let _ = self.new_heads.send(header);
        Ok(())
    }
}

impl TxSink for Chain {
    fn receive(&self, transactions: &[bytes::Bytes]) -> Vec<Verdict> {
        transactions
            .iter()
            .map(|raw| match self.admit(raw) {
                Ok(_) => Verdict::Accept,
                Err((true, _)) => Verdict::Reject,
                Err((false, _)) => Verdict::Ignore,
            })
            .collect()
    }
}

/// Queues executed transactions for the PoH; `false` when the slot has already ended (they
/// will not be in this block).
fn record_batch(poh: &btcr_poh::PohSlotHandle, txs: &[RecoveredTx]) -> Result<bool, PipelineError> {
    let hashes: Vec<B256> = txs.iter().map(|t| t.hash).collect();
    let n = u32::try_from(hashes.len()).map_err(fatal)?;
    match poh.record(batch_hash(&hashes), n) {
        Ok(()) => Ok(true),
        Err(btcr_poh::PohError::SlotFinished) => Ok(false),
        Err(e) => Err(fatal(e)),
    }
}

/// Recomputes the state root from the flat account and storage tables alone, ignoring the
/// stored tree: a check that the committed tree and the committed state agree.
pub fn recompute_state_root(snapshot: &Snapshot) -> Result<B256, String> {
    let mut store = MemoryNodeStore::default();
    let mut writes = NodeWrites::default();
    let mut account_leaves = BTreeMap::new();
    for (address, account) in snapshot.all_accounts().map_err(|e| e.to_string())? {
        let slots: BTreeMap<B256, Option<B256>> = snapshot
            .all_storage(&address)
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|(slot, value)| {
                (btcr_execution::storage_key(&slot), Some(B256::from(value.to_be_bytes::<32>())))
            })
            .collect();
        let storage_root = btcr_trie::update(&store, TreeId::storage(address), &slots, &mut writes)
            .map_err(|e| e.to_string())?;
        let account = Account { storage_root, ..account };
        account_leaves.insert(
            btcr_execution::account_key(&address),
            Some(alloy_primitives::keccak256(alloy_rlp::encode(account))),
        );
    }
    store.apply(std::mem::take(&mut writes));
    btcr_trie::update(&store, TreeId::ACCOUNTS, &account_leaves, &mut writes)
        .map_err(|e| e.to_string())
}

impl Chain {
    /// The context in which RPC calls run: the head block's own.
    fn call_context(&self, head: &Header) -> BlockContext {
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

    /// A snapshot and the head header it holds.
    fn head_snapshot(&self) -> Result<(Arc<Snapshot>, Header), String> {
        let snapshot = self.store.snapshot().map_err(|e| e.to_string())?;
        let head = snapshot
            .head_header()
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "store has no head".to_string())?;
        Ok((snapshot, head))
    }
}

impl RpcBackend for Chain {
    fn chain_id(&self) -> u64 {
        self.genesis.chain_id
    }

    fn head(&self) -> Result<Header, String> {
        Ok(self.head_header())
    }

    fn header(&self, number: u64) -> Result<Option<Header>, String> {
        self.store.snapshot().and_then(|s| s.header(number)).map_err(|e| e.to_string())
    }

    fn block(&self, number: u64) -> Result<Option<Block>, String> {
        self.store.snapshot().and_then(|s| s.block(number)).map_err(|e| e.to_string())
    }

    fn block_number(&self, hash: &B256) -> Result<Option<u64>, String> {
        self.store.snapshot().and_then(|s| s.block_number(hash)).map_err(|e| e.to_string())
    }

    fn misbehavior(&self, limit: usize) -> Result<Vec<Misbehavior>, String> {
        self.store.misbehavior(limit).map_err(|e| e.to_string())
    }

    fn address_transactions(
        &self,
        address: &Address,
        before: Option<(u64, u32)>,
        limit: usize,
    ) -> Result<Vec<(u64, u32)>, String> {
        let snapshot = self.store.snapshot().map_err(|e| e.to_string())?;
        snapshot.address_transactions(address, before, limit).map_err(|e| e.to_string())
    }

    fn registered_validators(&self) -> Result<Vec<ValidatorView>, String> {
        let snapshot = self.store.snapshot().map_err(|e| e.to_string())?;
        let set =
            btcr_staking::validator_set(&*snapshot, &self.genesis).map_err(|e| e.to_string())?;
        let registered = btcr_staking::registered_validators(&*snapshot, &self.genesis)
            .map_err(|e| e.to_string())?;
        let head = snapshot.head_number().unwrap_or(0);
        let sets = self.deciding_sets.lock().clone();
        let uptime = sets
            .uptime(head, |h| {
                let signatures = snapshot.certificate(h)?.map(|c| c.signatures);
                Ok::<_, StoreError>(
                    signatures.unwrap_or_default().iter().map(|s| s.validator).collect(),
                )
            })
            .map_err(|e| e.to_string())?;
        Ok(registered
            .into_iter()
            .map(|v| {
                let in_set = set.iter().find(|s| s.address == v.validator);
                ValidatorView {
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
                    voting_power: in_set.map_or(0, |s| s.power),
                    signed_blocks: uptime.get(&v.validator).map_or(0, |u| u.signed),
                    window_blocks: uptime.get(&v.validator).map_or(0, |u| u.window),
                }
            })
            .collect())
    }

    fn transaction_count(&self, number: u64) -> Result<Option<usize>, String> {
        self.store.snapshot().and_then(|s| s.transaction_count(number)).map_err(|e| e.to_string())
    }

    fn transaction_at(&self, number: u64, index: usize) -> Result<Option<TxEnvelope>, String> {
        self.store.snapshot().and_then(|s| s.transaction(number, index)).map_err(|e| e.to_string())
    }

    fn receipt_at(&self, number: u64, index: usize) -> Result<Option<BlockReceipt>, String> {
        self.store.snapshot().and_then(|s| s.receipt(number, index)).map_err(|e| e.to_string())
    }

    fn address_tokens(&self, holder: &Address, limit: usize) -> Result<Vec<Address>, String> {
        self.store
            .snapshot()
            .and_then(|s| s.address_tokens(holder, limit))
            .map_err(|e| e.to_string())
    }

    fn supply(&self) -> Result<U256, String> {
        self.store.snapshot().map(|s| s.supply()).map_err(|e| e.to_string())
    }

    fn recent_activity(&self) -> Vec<BlockActivity> {
        self.activity.lock().iter().copied().collect()
    }

    fn certificate(&self, number: u64) -> Result<Option<CommitCertificate>, String> {
        self.store.snapshot().and_then(|s| s.certificate(number)).map_err(|e| e.to_string())
    }

    fn receipts(&self, number: u64) -> Result<Option<Vec<ReceiptEnvelope>>, String> {
        self.store.snapshot().and_then(|s| s.receipts(number)).map_err(|e| e.to_string())
    }

    fn transaction_location(&self, hash: &B256) -> Result<Option<(u64, u32)>, String> {
        self.store.snapshot().and_then(|s| s.transaction_location(hash)).map_err(|e| e.to_string())
    }

    fn account(&self, address: &Address) -> Result<Option<Account>, String> {
        let snapshot = self.store.snapshot().map_err(|e| e.to_string())?;
        snapshot.account(address).map_err(|e| e.to_string())
    }

    fn code(&self, address: &Address) -> Result<Bytes, String> {
        let snapshot = self.store.snapshot().map_err(|e| e.to_string())?;
        let Some(account) = snapshot.account(address).map_err(|e| e.to_string())? else {
            return Ok(Bytes::new());
        };
        if !account.has_code() {
            return Ok(Bytes::new());
        }
        snapshot
            .code(&account.code_hash)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("code {} of {address} is missing", account.code_hash))
    }

    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, String> {
        let snapshot = self.store.snapshot().map_err(|e| e.to_string())?;
        snapshot.storage(address, slot).map_err(|e| e.to_string())
    }

    fn proof(&self, address: &Address, slots: &[U256]) -> Result<AccountProof, String> {
        let snapshot = self.store.snapshot().map_err(|e| e.to_string())?;
        account_proof(&*snapshot, *address, slots).map_err(|e| e.to_string())
    }

    fn call(
        &self,
        request: &TransactionRequest,
        overrides: Option<&StateOverride>,
        gas_cap: u64,
    ) -> Result<CallOutcome, CallError> {
        let (snapshot, head) = self.head_snapshot().map_err(CallError::Fatal)?;
        simulate(&*snapshot, &self.call_context(&head), request, overrides, gas_cap)
    }

    fn estimate_gas(
        &self,
        request: &TransactionRequest,
        overrides: Option<&StateOverride>,
        gas_cap: u64,
    ) -> Result<u64, Result<CallOutcome, CallError>> {
        let (snapshot, head) = self.head_snapshot().map_err(|e| Err(CallError::Fatal(e)))?;
        estimate_gas(&*snapshot, &self.call_context(&head), request, overrides, gas_cap)
    }

    fn create_access_list(
        &self,
        request: &TransactionRequest,
        overrides: Option<&StateOverride>,
        gas_cap: u64,
    ) -> Result<(AccessList, CallOutcome), CallError> {
        let (snapshot, head) = self.head_snapshot().map_err(CallError::Fatal)?;
        create_access_list(&*snapshot, &self.call_context(&head), request, overrides, gas_cap)
    }

    fn pending_nonce(&self, address: &Address) -> Option<u64> {
        self.pool.lock().pending_nonce(address)
    }

    fn submit_transaction(&self, raw: &[u8]) -> Result<B256, SubmitError> {
        let hash = self.submit_raw(raw)?;
        if let Some(publisher) = self.publisher.get() {
            // A full queue only delays the transaction until this node proposes.
            publisher.publish(bytes::Bytes::copy_from_slice(raw));
        }
        Ok(hash)
    }

    fn pool_content(&self) -> PoolContent {
        let pool = self.pool.lock();
        PoolContent { pending: pool.pending(), queued: pool.queued() }
    }

    fn verify_poh(&self, block: &Block) -> PohReport {
        let poh = &self.genesis.poh;
        let tx_hashes: Vec<B256> = block.body.transactions.iter().map(|t| *t.tx_hash()).collect();
        let header = &block.header;
        let verified =
            btcr_poh::verify(header.poh_start_hash, &block.body.poh_entries, &tx_hashes, poh)
                .map_err(|e| e.to_string())
                .and_then(|summary| {
                    if summary.end_hash != header.poh_end_hash || summary.ticks != header.poh_ticks
                    {
                        Err("the entries end elsewhere than the header says".into())
                    } else {
                        Ok(())
                    }
                });
        PohReport {
            hashes_per_tick: poh.hashes_per_tick,
            ticks_per_block: poh.ticks_per_block,
            verified,
        }
    }

    fn node_info(&self) -> Result<NodeInfo, String> {
        let snapshot = self.store.snapshot().map_err(|e| e.to_string())?;
        let genesis_hash = snapshot
            .header(0)
            .map_err(|e| e.to_string())?
            .map(|h| h.hash())
            .ok_or_else(|| "store has no genesis".to_string())?;
        Ok(NodeInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            genesis_hash,
            peers: self.publisher.get().map_or(0, |p| p.peers() as u64),
            // Every committed block carries its certificate.
            finalized: self.head_header().number,
            // The set that decides the next block.
            validators: btcr_staking::validator_set(&*snapshot, &self.genesis)
                .map_err(|e| e.to_string())?
                .iter()
                .map(|v| v.address)
                .collect(),
        })
    }

    fn subscribe_new_heads(&self) -> broadcast::Receiver<Header> {
        self.new_heads.subscribe()
    }

    fn subscribe_pending(&self) -> broadcast::Receiver<B256> {
        self.pool.lock().subscribe_pending()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validators_take_turns_to_report_starting_from_another_at_each_height() {
        let set: Vec<Address> = (1..=4).map(Address::repeat_byte).collect();
        for height in 0..8 {
            let mut turns: Vec<u64> = set.iter().map(|v| report_turn(&set, *v, height)).collect();
            turns.sort_unstable();
            assert_eq!(turns, [0, 1, 2, 3], "each turn once at height {height}");
        }
        let first = |height| set.iter().find(|v| report_turn(&set, **v, height) == 0).copied();
        assert_ne!(first(0), first(1), "the first reporter rotates");
        assert_eq!(report_turn(&set, Address::repeat_byte(9), 0), 4, "outsiders come last");
        assert_eq!(report_turn(&[], Address::ZERO, 3), 0, "no set: report at once");
    }
}
