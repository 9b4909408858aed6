//! The chain: the block pipeline (propose, verify, commit) over the store, the pool and the
//! execution layer, and the admission of transactions into the pool.
//!
//! A commit stores the block, prunes the pool, moves the head and publishes one chain event;
//! everything else that follows committed blocks (the address index, activity, new-head
//! subscriptions, reports of double signing) is a consumer of those events (`events`).

use std::{
    collections::HashMap,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use alloy_primitives::{Address, B256};
use btcr_consensus::{BlockPipeline, PipelineError, bft::ValidatorSet};
use btcr_execution::{
    BlockContext, BlockExecutor, ExecError, StateRootOutput, recover_transactions_reusing,
    validate_transaction,
};
use btcr_interfaces::{ChainEvent, CommittedBlock, ConsensusPosition, PoolContent};
use btcr_network::TxPublisher;
use btcr_primitives::{
    Block, CommitCertificate, ConsensusMode, Genesis, GenesisValidator, Header, Misbehavior,
    ReceiptEnvelope, RecoveredTx, StateReader,
};
use btcr_storage::{BlockCommit, ChainStore, CommitDurability, Snapshot, StoreError};
use btcr_trie::NodeReader;
use btcr_txpool::{PoolConfig, SenderState, TxPool};
use parking_lot::{Mutex, RwLock};
use tokio::sync::broadcast;

use crate::{events::EventBus, genesis_block};

mod admission;
mod build;

/// Transactions mixed into PoH as one batch.
const BATCH_SIZE: usize = 256;
/// How far ahead of our clock a proposer's timestamp may be.
const MAX_CLOCK_DRIFT_MS: u64 = 2_000;
/// Blocks executed and not committed that are kept at once (consensus executes one per
/// round of a height; a height needing more rounds than this is far gone already).
const MAX_EXECUTED: usize = 32;

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
    ValidatorSet(#[source] btcr_staking::StakingError),
    /// A consumer's thread could not be started.
    #[error("starting a consumer of committed blocks: {0}")]
    Thread(#[from] std::io::Error),
}

/// A block executed here and waiting to be committed.
struct Executed {
    block: Block,
    senders: Vec<Address>,
    tx_hashes: Vec<B256>,
    receipts: Vec<ReceiptEnvelope>,
    root: StateRootOutput,
    /// The set elected by the block, when it ends an epoch.
    next_validators: Option<Vec<GenesisValidator>>,
}

impl Executed {
    /// What the store writes for this block, decided by `certificate`.
    fn commit<'a>(&'a self, certificate: &'a CommitCertificate) -> BlockCommit<'a> {
        BlockCommit {
            block: &self.block,
            tx_hashes: &self.tx_hashes,
            senders: &self.senders,
            receipts: &self.receipts,
            changes: &self.root.changes,
            node_writes: &self.root.node_writes,
            certificate: Some(certificate),
            next_validators: self.next_validators.as_deref(),
        }
    }
}

/// The chain pipeline and its shared state.
pub struct Chain {
    store: ChainStore,
    genesis: Arc<Genesis>,
    proposer: Address,
    pool: Mutex<TxPool<RecoveredTx>>,
    head: RwLock<Header>,
    executed: Mutex<HashMap<B256, Executed>>,
    /// Where transactions submitted over RPC go to reach the other validators.
    publisher: OnceLock<TxPublisher>,
    /// Where each commit publishes its chain event.
    events: EventBus,
    /// Senders recovered from transactions offered to the pool (the costly step of
    /// admission, which the cheap checks before it spare for known and replayed ones).
    admission_recoveries: AtomicU64,
    /// The height and round the consensus engine last started.
    position: Mutex<Option<ConsensusPosition>>,
    /// Validators in the set that decides the next block (for the metrics: how many
    /// signatures each certificate lacks).
    set_size: AtomicUsize,
    /// When a commit last waited for the disk (synced blocks' commits may not).
    last_durable: Mutex<Instant>,
}

/// A synced block's commit reaches the disk without waiting for it, unless this long has
/// passed since the last commit that waited, or its height is a multiple of
/// [`DURABLE_EVERY`]: what a crash of a catching-up node can lose is bounded by both.
const DURABLE_AFTER: std::time::Duration = std::time::Duration::from_secs(1);
/// See [`DURABLE_AFTER`].
const DURABLE_EVERY: u64 = 512;

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chain").field("head", &self.head.read().number).finish_non_exhaustive()
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Turns a failure while doing `context` into a fatal pipeline error.
fn fatal<E: std::error::Error + Send + Sync + 'static>(
    context: &'static str,
) -> impl FnOnce(E) -> PipelineError {
    move |e| PipelineError::fatal_because(context, e)
}

/// The head header a snapshot holds.
fn head_of(snapshot: &Snapshot) -> Result<Header, PipelineError> {
    snapshot
        .head_header()
        .map_err(fatal("reading the head"))?
        .ok_or_else(|| PipelineError::fatal("the store has no head"))
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
                    senders: &[],
                    receipts: &[],
                    changes: &genesis_state.changes,
                    node_writes: &genesis_state.node_writes,
                    certificate: None,
                    next_validators: None,
                })?;
            }
        }
        let snapshot = store.snapshot()?;
        let head = snapshot.head_header()?.expect("genesis was written above");
        // A new store, or one from before the sets were kept, starts from the set that
        // decides the next block, which has decided the blocks since its epoch began.
        let next = head.number + 1;
        let since = match genesis.consensus.mode {
            ConsensusMode::Pos => next - next % genesis.consensus.epoch_length,
            ConsensusMode::Poa => 1,
        };
        let set =
            btcr_staking::validator_set(&*snapshot, &genesis).map_err(ChainError::ValidatorSet)?;
        store.seed_validator_set(since, &set)?;
        let mut pool = TxPool::new(pool);
        pool.on_block_committed([], u128::from(head.next_base_fee()));
        let events = EventBus::new(Arc::new(crate::events::StoreBlocks::new(store.clone())));
        Ok(Self {
            store,
            genesis: Arc::new(genesis),
            proposer,
            pool: Mutex::new(pool),
            head: RwLock::new(head),
            executed: Mutex::new(HashMap::new()),
            publisher: OnceLock::new(),
            events,
            admission_recoveries: AtomicU64::new(0),
            position: Mutex::new(None),
            set_size: AtomicUsize::new(set.len()),
            last_durable: Mutex::new(Instant::now()),
        })
    }

    /// The genesis parameters.
    pub fn genesis(&self) -> &Arc<Genesis> {
        &self.genesis
    }

    /// The store.
    pub fn store(&self) -> &ChainStore {
        &self.store
    }

    /// Where commits publish their chain events, and consumers attach.
    pub fn events(&self) -> &EventBus {
        &self.events
    }

    /// The head header.
    pub fn head_header(&self) -> Header {
        self.head.read().clone()
    }

    /// Number of transactions in the pool (pending, queued).
    pub fn pool_counts(&self) -> (usize, usize) {
        let pool = self.pool.lock();
        (pool.pending_count(), pool.queued_count())
    }

    /// The pool's transactions.
    pub fn pool_content(&self) -> PoolContent {
        let pool = self.pool.lock();
        PoolContent { pending: pool.pending(), queued: pool.queued() }
    }

    /// The next nonce of `address` counting its pending pool transactions, if it has any.
    pub fn pending_nonce(&self, address: &Address) -> Option<u64> {
        self.pool.lock().pending_nonce(address)
    }

    /// Hashes of transactions that become pending in the pool.
    pub fn subscribe_pending(&self) -> broadcast::Receiver<B256> {
        self.pool.lock().subscribe_pending()
    }

    /// Where the consensus engine stands; `None` before its first round.
    pub fn consensus_position(&self) -> Option<ConsensusPosition> {
        *self.position.lock()
    }

    /// Connected peers on the transaction network.
    pub fn peers(&self) -> u64 {
        self.publisher.get().map_or(0, |p| p.peers() as u64)
    }

    fn snapshot(&self) -> Result<Arc<Snapshot>, PipelineError> {
        self.store.snapshot().map_err(fatal("opening a snapshot"))
    }

    /// The state and header that block `height` builds on: the head's, when `height` is the
    /// next block; any other height is refused.
    fn parent_of(&self, height: u64) -> Result<(Arc<Snapshot>, Header), PipelineError> {
        let snapshot = self.snapshot()?;
        let head = head_of(&snapshot)?;
        if height != head.number + 1 {
            return Err(PipelineError::invalid(format!(
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

    /// Stores a decided block that `verify_block` (or `propose`) executed; a `synced` one
    /// may reach the disk with a later commit (see [`DURABLE_AFTER`]).
    fn store_decided(
        &self,
        block_hash: B256,
        certificate: CommitCertificate,
        synced: bool,
    ) -> Result<(), PipelineError> {
        let executed = {
            let mut map = self.executed.lock();
            let executed =
                map.remove(&block_hash).ok_or(PipelineError::UnknownBlock(block_hash))?;
            // Other candidates for this height can never be committed now.
            map.clear();
            executed
        };
        let started = Instant::now();
        let parent_timestamp_ms = self.head.read().timestamp_ms;
        if let Some(delay) = *SLOW_DISK {
            std::thread::sleep(delay);
        }
        let durability = {
            let mut last = self.last_durable.lock();
            if synced
                && last.elapsed() < DURABLE_AFTER
                && executed.block.number() % DURABLE_EVERY != 0
            {
                CommitDurability::Deferred
            } else {
                *last = Instant::now();
                CommitDurability::Immediate
            }
        };
        self.store.commit_block_with(executed.commit(&certificate), durability).map_err(|e| {
            PipelineError::fatal_because(format!("committing block {}", executed.block.number()), e)
        })?;
        self.after_commit(
            block_hash,
            executed,
            certificate,
            parent_timestamp_ms,
            started.elapsed(),
        );
        Ok(())
    }

    /// What follows a block's commit: the pool, the metrics, the head, the chain event.
    fn after_commit(
        &self,
        block_hash: B256,
        executed: Executed,
        certificate: CommitCertificate,
        parent_timestamp_ms: u64,
        took: std::time::Duration,
    ) {
        let Executed { block, senders, tx_hashes, receipts, root, next_validators } = executed;
        let header = block.header.clone();
        let base_fee = u128::from(header.next_base_fee());
        let senders_state: Vec<(Address, SenderState)> = root
            .changes
            .accounts
            .iter()
            .map(|(address, change)| {
                let a = change.account.unwrap_or_default();
                (*address, SenderState { nonce: a.nonce, balance: a.balance })
            })
            .collect();
        self.pool.lock().on_block_committed(senders_state, base_fee);
        record_commit(&header, block.body.transactions.len(), parent_timestamp_ms, took);
        let set_size = match &next_validators {
            // The new set decides from the next block on.
            Some(next) => self.set_size.swap(next.len(), Ordering::Relaxed),
            None => self.set_size.load(Ordering::Relaxed),
        };
        record_certificate(set_size, certificate.signatures.len());
        *self.head.write() = header;
        self.events.publish(ChainEvent::Committed(Arc::new(CommittedBlock {
            hash: block_hash,
            block,
            senders,
            tx_hashes,
            receipts,
            certificate: Some(certificate),
            changes: Some(Arc::new(root.changes)),
            next_validators,
        })));
    }

    /// Applies consecutive decided blocks that a peer sent with their certificates, on top
    /// of the head, while the consensus engine is not running (a node catching up): each
    /// certificate is checked against the set that the state before its block names, each
    /// block as `verify_certified` checks a synced one, on the state the blocks before it
    /// in `blocks` left; all of them are committed in one transaction that is on disk when
    /// this returns. Returns how many were applied, and why the next one was not: the
    /// blocks before a refused one are applied all the same.
    pub fn apply_certified(
        &self,
        blocks: &[(Block, CommitCertificate)],
    ) -> (usize, Result<(), PipelineError>) {
        let started = Instant::now();
        let parent_timestamp_ms = self.head.read().timestamp_ms;
        let mut batch = match self.store.begin_batch() {
            Ok(batch) => batch,
            Err(e) => return (0, Err(fatal("starting a batch of blocks")(e))),
        };
        let mut done: Vec<(B256, Executed, &CommitCertificate)> = Vec::new();
        let mut set: Option<ValidatorSet> = None;
        let mut outcome = (|| -> Result<(), PipelineError> {
            for (block, certificate) in blocks {
                let parent = batch.head().cloned().ok_or(PipelineError::fatal("no head"))?;
                let (number, hash) = (block.header.number, block.hash());
                if certificate.height != number || certificate.block_hash != hash {
                    return Err(PipelineError::invalid(format!(
                        "the certificate sent with block {number} decides block {} at {}",
                        certificate.block_hash, certificate.height
                    )));
                }
                let view = batch.view().map_err(fatal("reading a batch of blocks"))?;
                let current = match set.take() {
                    Some(current) => current,
                    None => {
                        let list = btcr_staking::validator_set(&view, &self.genesis)
                            .map_err(fatal("reading the validator set"))?;
                        btcr_consensus::bft::certificate::validator_set(&list)
                            .map_err(|e| PipelineError::fatal(format!("the validator set: {e}")))?
                    }
                };
                btcr_consensus::bft::certificate::verify_certificate(
                    self.genesis.chain_id,
                    certificate,
                    &current,
                )
                .map_err(|e| {
                    PipelineError::invalid_because(format!("the certificate of block {number}"), e)
                })?;
                let executed = self.execute_checked(&view, &parent, block, true)?;
                drop(view);
                // After an epoch's end the next block's set is read from the state it left.
                if executed.next_validators.is_none() {
                    set = Some(current);
                }
                batch.commit(executed.commit(certificate)).map_err(|e| {
                    PipelineError::fatal_because(format!("committing block {number}"), e)
                })?;
                done.push((hash, executed, certificate));
            }
            Ok(())
        })();
        if !done.is_empty()
            && let Err(e) = batch.finish()
        {
            return (0, Err(fatal("writing a batch of blocks")(e)));
        }
        self.executed.lock().clear();
        let applied = done.len();
        let took = started.elapsed() / applied.max(1) as u32;
        let mut parent_timestamp_ms = parent_timestamp_ms;
        for (hash, executed, certificate) in done {
            let timestamp_ms = executed.block.header.timestamp_ms;
            self.after_commit(hash, executed, certificate.clone(), parent_timestamp_ms, took);
            parent_timestamp_ms = timestamp_ms;
        }
        if outcome.is_ok() && applied < blocks.len() {
            outcome = Err(PipelineError::fatal("a batch stopped early"));
        }
        (applied, outcome)
    }

    /// Checks a block on top of the head and keeps its execution for the commit. `certified`:
    /// the engine checked a commit certificate for it (see `BlockPipeline::verify_certified`).
    fn verify_block(&self, block: &Block, certified: bool) -> Result<(), PipelineError> {
        let snapshot = self.snapshot()?;
        let parent = head_of(&snapshot)?;
        let executed = self.execute_checked(&*snapshot, &parent, block, certified)?;
        self.keep_executed(executed);
        Ok(())
    }

    /// Checks `block` as the child of `parent`, whose state `state` shows, by executing it;
    /// returns the execution, and counts its time (and a refusal) in the chain metrics.
    /// `certified`: see [`Chain::verify_block`].
    fn execute_checked<S: StateReader + NodeReader + ?Sized>(
        &self,
        state: &S,
        parent: &Header,
        block: &Block,
        certified: bool,
    ) -> Result<Executed, PipelineError> {
        let started = Instant::now();
        let result = self.execute_unmeasured(state, parent, block, certified);
        let metrics = &btcr_metrics::metrics().chain;
        metrics.block_verify.observe(started.elapsed().as_secs_f64());
        if matches!(result, Err(PipelineError::InvalidBlock(_))) {
            metrics.invalid_blocks.inc();
        }
        result
    }

    /// [`Chain::execute_checked`] without its metrics.
    fn execute_unmeasured<S: StateReader + NodeReader + ?Sized>(
        &self,
        state: &S,
        parent: &Header,
        block: &Block,
        certified: bool,
    ) -> Result<Executed, PipelineError> {
        let header = &block.header;
        if header.number != parent.number + 1 || header.parent_hash != parent.hash() {
            return Err(PipelineError::invalid(format!(
                "block {} does not extend head {}",
                header.number, parent.number
            )));
        }
        let earliest = parent.timestamp_ms + self.genesis.min_block_interval_ms();
        if header.timestamp_ms < earliest {
            return Err(PipelineError::invalid(format!(
                "timestamp {} is less than {} ms after the parent's {}",
                header.timestamp_ms,
                self.genesis.min_block_interval_ms(),
                parent.timestamp_ms
            )));
        }
        if header.timestamp_ms > now_ms() + MAX_CLOCK_DRIFT_MS {
            return Err(PipelineError::too_early(format!(
                "timestamp {} is in the future",
                header.timestamp_ms
            )));
        }
        if header.extra_data.len() > 32 {
            return Err(PipelineError::invalid("extra data longer than 32 bytes"));
        }
        if header.poh_start_hash != parent.poh_end_hash {
            return Err(PipelineError::invalid("PoH does not start at the parent's end hash"));
        }
        // Bounds that need no signature: every transaction costs at least its intrinsic gas,
        // so a block cannot hold more than its gas limit pays for (a 64 MiB block of tiny
        // transactions would otherwise cost each validator 600,000 recoveries first).
        if header.gas_limit != self.genesis.gas_limit {
            return Err(PipelineError::invalid(format!(
                "gas limit {} is not the chain's {}",
                header.gas_limit, self.genesis.gas_limit
            )));
        }
        let mut intrinsic = 0u64;
        for tx in &block.body.transactions {
            intrinsic = intrinsic.saturating_add(btcr_execution::intrinsic_gas(tx));
            if intrinsic > header.gas_limit {
                return Err(PipelineError::invalid(format!(
                    "{} transactions need more than the gas limit of {} before executing",
                    block.body.transactions.len(),
                    header.gas_limit
                )));
            }
        }
        // Transactions this node already pooled were recovered when they arrived.
        let known: Vec<Option<RecoveredTx>> = {
            let pool = self.pool.lock();
            block.body.transactions.iter().map(|tx| pool.get(tx.tx_hash())).collect()
        };
        let transactions = recover_transactions_reusing(block.body.transactions.clone(), known)
            .map_err(|(i, e)| PipelineError::invalid_because(format!("transaction {i}"), e))?;
        for (i, tx) in transactions.iter().enumerate() {
            validate_transaction(tx, self.genesis.chain_id, self.genesis.gas_limit)
                .map_err(|e| PipelineError::invalid_because(format!("transaction {i}"), e))?;
        }
        let tx_hashes: Vec<B256> = transactions.iter().map(|t| t.hash).collect();
        let poh_started = Instant::now();
        let (start, entries, config) =
            (header.poh_start_hash, &block.body.poh_entries, &self.genesis.poh);
        // A certified header that commits to its entries vouches for their hash chains:
        // the re-sealed header below must carry the same root over these very entries.
        let poh = if certified && header.poh_entries_root.is_some() {
            btcr_poh::verify_structure(start, entries, tx_hashes.len(), config)
        } else {
            btcr_poh::verify(start, entries, &tx_hashes, config)
        };
        btcr_metrics::metrics().chain.poh_verify.observe(poh_started.elapsed().as_secs_f64());
        let poh = poh.map_err(|e| PipelineError::invalid_because("PoH", e))?;
        if poh.end_hash != header.poh_end_hash || poh.ticks != header.poh_ticks {
            return Err(PipelineError::invalid(
                "PoH end hash or tick count differs from the header",
            ));
        }
        let ctx = self.block_context(parent, header.number, header.timestamp_ms, header.proposer);
        let mut executor = BlockExecutor::new(state, &ctx);
        for (i, tx) in transactions.iter().enumerate() {
            executor.execute(tx).map_err(|e| match e {
                e @ ExecError::Fatal(_) => fatal("executing")(e),
                other => PipelineError::invalid_because(format!("transaction {i}"), other),
            })?;
        }
        btcr_staking::end_block(&mut executor, &self.genesis, header.number)
            .map_err(fatal("the staking contract's block end"))?;
        let outcome = executor.finish();
        let poh_output = btcr_poh::PohSlotOutput {
            entries: block.body.poh_entries.clone(),
            end_hash: poh.end_hash,
            ticks: poh.ticks,
        };
        let executed =
            self.seal(parent, &ctx, header.proposer, transactions, poh_output, state, outcome)?;
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
            } else if ours.poh_entries_root != header.poh_entries_root {
                "PoH entries root"
            } else {
                "header"
            };
            return Err(PipelineError::invalid(format!("{what} differs after re-execution")));
        }
        Ok(executed)
    }
}

impl BlockPipeline for Chain {
    fn head(&self) -> Result<Header, PipelineError> {
        Ok(self.head_header())
    }

    fn validators(&self, height: u64) -> Result<Vec<GenesisValidator>, PipelineError> {
        let (snapshot, _) = self.parent_of(height)?;
        btcr_staking::validator_set(&*snapshot, &self.genesis)
            .map_err(fatal("reading the validator set"))
    }

    fn record_misbehavior(&self, evidence: &Misbehavior) -> Result<bool, PipelineError> {
        let new = self.store.record_misbehavior(evidence).map_err(fatal("storing evidence"))?;
        if new {
            self.events.publish(ChainEvent::Misbehavior(Arc::new(evidence.clone())));
        }
        Ok(new)
    }

    fn entered_round(&self, height: u64, round: u32) {
        *self.position.lock() = Some(ConsensusPosition { height, round });
    }

    fn decided(&self, height: u64) -> Result<Option<(Block, CommitCertificate)>, PipelineError> {
        let snapshot = self.snapshot()?;
        if snapshot.kept(height).is_err() {
            return Ok(None);
        }
        let Some(block) = snapshot.block(height).map_err(fatal("reading a block"))? else {
            return Ok(None);
        };
        let Some(certificate) =
            snapshot.certificate(height).map_err(fatal("reading a certificate"))?
        else {
            return Ok(None);
        };
        Ok(Some((block, certificate)))
    }

    fn history_start(&self) -> Result<u64, PipelineError> {
        Ok(self.snapshot()?.earliest().max(1))
    }

    fn propose(&self, height: u64, deadline: Instant) -> Result<Block, PipelineError> {
        self.build(height, deadline)
    }

    fn verify(&self, block: &Block) -> Result<(), PipelineError> {
        self.verify_block(block, false)
    }

    fn verify_certified(&self, block: &Block) -> Result<(), PipelineError> {
        self.verify_block(block, true)
    }

    fn commit(
        &self,
        block_hash: B256,
        certificate: CommitCertificate,
    ) -> Result<(), PipelineError> {
        self.store_decided(block_hash, certificate, false)
    }

    fn commit_synced(
        &self,
        block_hash: B256,
        certificate: CommitCertificate,
    ) -> Result<(), PipelineError> {
        self.store_decided(block_hash, certificate, true)
    }
}

/// `BTCR_FAULT_SLOW_DISK_MS=N`: each commit waits `N` ms (at most 10 s) before its write,
/// as on a disk slow to sync: a fault the fault-injection harness starts nodes with.
static SLOW_DISK: std::sync::LazyLock<Option<std::time::Duration>> =
    std::sync::LazyLock::new(|| {
        let ms: u64 = std::env::var("BTCR_FAULT_SLOW_DISK_MS").ok()?.parse().ok()?;
        Some(std::time::Duration::from_millis(ms.min(10_000)))
    });

/// Adds a committed block to the chain's metrics.
fn record_commit(
    header: &Header,
    n_transactions: usize,
    parent_timestamp_ms: u64,
    took: std::time::Duration,
) {
    let m = &btcr_metrics::metrics().chain;
    let height = i64::try_from(header.number).unwrap_or(i64::MAX);
    m.head_height.set(height);
    // Finality is BFT's: a committed block is final.
    m.finalized_height.set(height);
    m.commit_latency.observe(took.as_secs_f64());
    let interval_ms = header.timestamp_ms.saturating_sub(parent_timestamp_ms);
    m.block_interval.observe(interval_ms as f64 / 1_000.0);
    let age_ms = now_ms().saturating_sub(header.timestamp_ms);
    m.finality_latency.observe(age_ms as f64 / 1_000.0);
    m.blocks.inc();
    m.block_transactions.observe(n_transactions as f64);
    m.transactions.inc_by(n_transactions as u64);
    m.block_gas.observe(header.gas_used as f64);
    m.gas_used.inc_by(header.gas_used);
}

/// Adds a committed block's certificate to the metrics: its signers, and the validators of
/// the set it lacks (late or absent precommits).
fn record_certificate(set_size: usize, n_signers: usize) {
    let m = &btcr_metrics::metrics().chain;
    m.validator_set_size.set(i64::try_from(set_size).unwrap_or(i64::MAX));
    m.certificate_signers.set(i64::try_from(n_signers).unwrap_or(i64::MAX));
    m.certificate_missing_signers.inc_by(set_size.saturating_sub(n_signers) as u64);
}
