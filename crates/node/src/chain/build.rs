//! Building a block: the proposer's walk through the pool inside its PoH slot, and the
//! sealing of an executed block (roots, header, the set an epoch's end elects), shared with
//! verification.

use std::{
    collections::{HashMap, HashSet},
    time::{Duration, Instant},
};

use alloy_consensus::proofs::{calculate_receipt_root, calculate_transaction_root};
use alloy_primitives::{Address, B256, Bytes};
use btcr_consensus::PipelineError;
use btcr_execution::{BlockContext, BlockExecutor, ExecError, compute_state_root};
use btcr_poh::{PohSlot, batch_hash};
use btcr_primitives::{
    Block, BlockBody, ConsensusMode, Header, RecoveredTx, StateOverlay, StateReader,
};
use btcr_trie::NodeReader;
use tracing::{debug, warn};

use super::{BATCH_SIZE, Chain, Executed, fatal, now_ms};

impl Chain {
    /// Builds the block at `height` from the pool while the PoH slot runs until `deadline`
    /// (see [`BlockPipeline::propose`]), and keeps its execution for the commit.
    pub(super) fn build(&self, height: u64, deadline: Instant) -> Result<Block, PipelineError> {
        let (snapshot, parent) = self.parent_of(height)?;
        let ctx = self.block_context(
            &parent,
            height,
            now_ms().max(parent.timestamp_ms + self.genesis.min_block_interval_ms()),
            self.proposer,
        );
        let slot = deadline.saturating_duration_since(Instant::now());
        let poh = PohSlot::start(parent.poh_end_hash, self.genesis.poh, slot)
            .map_err(fatal("starting the PoH slot"))?;
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
                    Err(e @ ExecError::Fatal(_)) => return Err(fatal("executing")(e)),
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
        let recorded = usize::try_from(poh.n_transactions()).map_err(fatal("PoH count"))?;
        let outcome = if recorded == included.len() {
            btcr_staking::end_block(&mut executor, &self.genesis, height)
                .map_err(fatal("the staking contract's block end"))?;
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
                    PipelineError::fatal_because(
                        format!("re-executing transaction {} of the block", tx.hash),
                        e,
                    )
                })?;
            }
            btcr_staking::end_block(&mut executor, &self.genesis, height)
                .map_err(fatal("the staking contract's block end"))?;
            executor.finish()
        };
        let executed =
            self.seal(&parent, &ctx, self.proposer, included, poh, &*snapshot, outcome)?;
        let block = executed.block.clone();
        self.keep_executed(executed);
        Ok(block)
    }

    /// Keeps an executed block until it is committed: only blocks of its height, and at
    /// most [`super::MAX_EXECUTED`] of them.
    pub(super) fn keep_executed(&self, executed: super::Executed) {
        let number = executed.block.number();
        let mut map = self.executed.lock();
        map.retain(|_, e| e.block.number() == number);
        while map.len() >= super::MAX_EXECUTED {
            let Some(any) = map.keys().next().copied() else { break };
            map.remove(&any);
        }
        map.insert(executed.block.hash(), executed);
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn seal<S: StateReader + NodeReader + ?Sized>(
        &self,
        parent: &Header,
        ctx: &BlockContext,
        proposer: Address,
        transactions: Vec<RecoveredTx>,
        poh: btcr_poh::PohSlotOutput,
        state: &S,
        outcome: btcr_execution::ExecutionOutcome,
    ) -> Result<Executed, PipelineError> {
        let root = compute_state_root(state, outcome.changes).map_err(fatal("state root"))?;
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
            poh_entries_root: (self.genesis.forks.poh_entries_root_at(ctx.number))
                .then(|| btcr_poh::entries_root(&poh.entries)),
        };
        let tx_hashes = transactions.iter().map(|t| t.hash).collect();
        let senders = transactions.iter().map(|t| t.sender).collect();
        // The set this block elects, read from the state it leaves, travels with it to the
        // store (and the chain event), so that the set deciding any block can be read back.
        let next_validators = (self.genesis.consensus.mode == ConsensusMode::Pos
            && btcr_staking::is_epoch_end(&self.genesis, ctx.number))
        .then(|| {
            let after = StateOverlay { base: state, changes: &root.changes };
            btcr_staking::validator_set(&after, &self.genesis)
        })
        .transpose()
        .map_err(fatal("reading the set the epoch's end elects"))?;
        let block =
            Block { header, body: BlockBody { transactions: envelopes, poh_entries: poh.entries } };
        Ok(Executed {
            block,
            senders,
            tx_hashes,
            receipts: outcome.receipts,
            root,
            next_validators,
        })
    }
}

/// Queues executed transactions for the PoH; `false` when the slot has already ended (they
/// will not be in this block).
fn record_batch(poh: &btcr_poh::PohSlotHandle, txs: &[RecoveredTx]) -> Result<bool, PipelineError> {
    let hashes: Vec<B256> = txs.iter().map(|t| t.hash).collect();
    let n = u32::try_from(hashes.len()).map_err(fatal("batch size"))?;
    match poh.record(batch_hash(&hashes), n) {
        Ok(()) => Ok(true),
        Err(btcr_poh::PohError::SlotFinished) => Ok(false),
        Err(e) => Err(fatal("recording a PoH batch")(e)),
    }
}
