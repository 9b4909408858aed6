//! The block builder's view of the pool: pending transactions in the order a block should
//! include them.
//!
//! A snapshot of every sender's pending run is merged through a max-heap that holds only each
//! sender's next transaction, so a sender's nonces come out in order while different senders
//! interleave by tip.

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashSet},
    fmt,
    sync::Arc,
};

use alloy_primitives::Address;

use crate::PoolTransaction;

/// One sender's pending run inside the snapshot: indices `next..end` not yet yielded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SenderRun {
    pub(crate) sender: Address,
    pub(crate) next: usize,
    pub(crate) end: usize,
}

/// A sender's next transaction, ranked by tip and then by arrival (earlier first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Head {
    tip: u128,
    earliest_first: Reverse<u64>,
    run: usize,
}

/// Pending transactions in inclusion order, from [`crate::TxPool::best`].
///
/// It owns a snapshot, so the pool can change (and its lock be released) while a block is built;
/// what changes afterwards is not seen.
pub struct BestTransactions<T> {
    base_fee: u128,
    /// Every pending transaction with its arrival id, each sender's run contiguous in nonce order.
    txs: Vec<(Arc<T>, u64)>,
    runs: Vec<SenderRun>,
    heads: BinaryHeap<Head>,
    invalid: HashSet<Address>,
}

impl<T> fmt::Debug for BestTransactions<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BestTransactions")
            .field("base_fee", &self.base_fee)
            .field("n_snapshot", &self.txs.len())
            .field("n_heads", &self.heads.len())
            .field("n_invalid_senders", &self.invalid.len())
            .finish()
    }
}

impl<T: PoolTransaction> BestTransactions<T> {
    pub(crate) fn new(base_fee: u128, txs: Vec<(Arc<T>, u64)>, runs: Vec<SenderRun>) -> Self {
        let mut best = Self {
            base_fee,
            txs,
            heads: BinaryHeap::with_capacity(runs.len()),
            runs,
            invalid: HashSet::new(),
        };
        for run in 0..best.runs.len() {
            best.push_head(run);
        }
        best
    }

    /// Skips every later transaction from `sender`: call it when one of its transactions failed
    /// in the block, since its higher nonces cannot execute after that.
    pub fn mark_invalid(&mut self, sender: Address) {
        self.invalid.insert(sender);
    }

    /// Queues the run's next transaction, unless the run is done or that transaction cannot pay
    /// the base fee (then neither can anything after it execute, as they need its nonce).
    fn push_head(&mut self, run: usize) {
        let SenderRun { next, end, .. } = self.runs[run];
        if next >= end {
            return;
        }
        let (tx, id) = &self.txs[next];
        if let Some(tip) = tx.effective_tip(self.base_fee) {
            self.heads.push(Head { tip, earliest_first: Reverse(*id), run });
        }
    }
}

impl<T: PoolTransaction> Iterator for BestTransactions<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        loop {
            let Head { run, .. } = self.heads.pop()?;
            let sender_run = &mut self.runs[run];
            if self.invalid.contains(&sender_run.sender) {
                // The run is dropped by not pushing its successor.
                continue;
            }
            let tx = Arc::clone(&self.txs[sender_run.next].0);
            sender_run.next += 1;
            self.push_head(run);
            return Some(T::clone(&tx));
        }
    }
}
