//! Per-sender state and the pieces the pool's indices are built from.

use std::{cmp::Reverse, collections::BTreeMap, sync::Arc, time::Instant};

use alloy_primitives::{Address, B256, U256};

use crate::{PoolTransaction, SenderState};

/// One pooled transaction with what the pool derived from it on arrival.
pub(super) struct PoolEntry<T> {
    /// Shared so that `TxPool::best` can snapshot the pending set without deep copies.
    pub(super) tx: Arc<T>,
    /// Arrival order across the whole pool; breaks ties between equal tips.
    pub(super) id: u64,
    pub(super) cost: U256,
    pub(super) size: usize,
    /// When it came: a queued transaction older than the pool's lifetime is dropped.
    pub(super) arrived: Instant,
}

/// What `add` needs to know about the transaction an arriving one would replace.
pub(super) struct Displaced {
    pub(super) hash: B256,
    pub(super) max_fee: u128,
    pub(super) max_tip: u128,
    pub(super) cost: U256,
    pub(super) size: usize,
}

impl Displaced {
    pub(super) fn of<T: PoolTransaction>(entry: &PoolEntry<T>) -> Self {
        Self {
            hash: entry.tx.hash(),
            max_fee: entry.tx.max_fee_per_gas(),
            max_tip: entry.tx.max_priority_fee_per_gas(),
            cost: entry.cost,
            size: entry.size,
        }
    }
}

/// Everything the pool holds for one sender.
pub(super) struct SenderTxs<T> {
    pub(super) committed_nonce: u64,
    pub(super) balance: U256,
    pub(super) txs: BTreeMap<u64, PoolEntry<T>>,
    /// `txs` holds every nonce in `committed_nonce..committed_nonce + n_pending`, and not the
    /// one after.
    pub(super) n_pending: u64,
    /// The summed cost of `txs`; kept at or below `balance`.
    pub(super) total_cost: U256,
}

impl<T: PoolTransaction> SenderTxs<T> {
    pub(super) fn new(state: SenderState) -> Self {
        Self {
            committed_nonce: state.nonce,
            balance: state.balance,
            txs: BTreeMap::new(),
            n_pending: 0,
            total_cost: U256::ZERO,
        }
    }

    /// The next nonce after the pending run. Pooled nonces are below `u64::MAX` (the pool
    /// refuses that nonce), so the sum cannot overflow; saturating keeps it panic-free anyway.
    pub(super) fn pending_end(&self) -> u64 {
        self.committed_nonce.saturating_add(self.n_pending)
    }

    pub(super) fn is_pending(&self, nonce: u64) -> bool {
        nonce >= self.committed_nonce && nonce < self.pending_end()
    }

    /// The highest pending nonce, if any transaction is pending.
    pub(super) fn pending_tail(&self) -> Option<u64> {
        (self.n_pending > 0).then(|| self.pending_end() - 1)
    }

    /// Recomputes the length of the contiguous run starting at the committed nonce.
    pub(super) fn count_contiguous(&self) -> u64 {
        let mut expected = self.committed_nonce;
        let mut n = 0;
        for &nonce in self.txs.range(self.committed_nonce..).map(|(nonce, _)| nonce) {
            if nonce != expected {
                break;
            }
            n += 1;
            expected = expected.saturating_add(1);
        }
        n
    }

    pub(super) fn pending_entries(&self) -> impl Iterator<Item = (&u64, &PoolEntry<T>)> {
        self.txs.range(self.committed_nonce..self.pending_end())
    }

    pub(super) fn queued_entries(&self) -> impl Iterator<Item = (&u64, &PoolEntry<T>)> {
        self.txs.range(self.pending_end()..)
    }

    pub(super) fn n_queued(&self) -> usize {
        // Every pooled nonce is at or above the committed nonce, so the rest are queued.
        self.txs.len() - usize::try_from(self.n_pending).expect("bounded by the sender limit")
    }

    /// The eviction key of the transaction at `nonce`, which must be pooled.
    pub(super) fn key(&self, base_fee: u128, address: Address, nonce: u64) -> EvictionKey {
        let entry = self.txs.get(&nonce).expect("keys are only taken for pooled nonces");
        EvictionKey::new(base_fee, address, nonce, entry)
    }

    /// The eviction keys of the queued transactions.
    pub(super) fn queued_keys(
        &self,
        base_fee: u128,
        address: Address,
    ) -> impl Iterator<Item = EvictionKey> {
        self.queued_entries()
            .map(move |(&nonce, entry)| EvictionKey::new(base_fee, address, nonce, entry))
    }

    /// The eviction key of the highest pending transaction, if any is pending.
    pub(super) fn tail_key(&self, base_fee: u128, address: Address) -> Option<EvictionKey> {
        self.pending_tail().map(|tail| self.key(base_fee, address, tail))
    }
}

/// Orders eviction candidates: lowest effective tip first, and among equal tips the most recent
/// arrival first, so that long-waiting transactions are not pushed out by a burst of equal bids.
/// `None` (fee cap below the base fee) sorts before every tip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct EvictionKey {
    pub(super) tip: Option<u128>,
    pub(super) newest_first: Reverse<u64>,
    pub(super) sender: Address,
    pub(super) nonce: u64,
}

impl EvictionKey {
    pub(super) fn new<T: PoolTransaction>(
        base_fee: u128,
        sender: Address,
        nonce: u64,
        entry: &PoolEntry<T>,
    ) -> Self {
        Self {
            tip: entry.tx.effective_tip(base_fee),
            newest_first: Reverse(entry.id),
            sender,
            nonce,
        }
    }
}
