//! The pool: one nonce-ordered map per sender, plus global indices for lookup by hash and for
//! choosing what to evict when the pool is full.
//!
//! A sender's transactions split into two runs. *Pending* is the contiguous run of nonces
//! starting at the sender's committed nonce: those can execute in the next block, in order.
//! *Queued* is everything after the first missing nonce. Only a count (`n_pending`) is stored
//! per sender; which run a transaction is in follows from its nonce, so the two can never
//! disagree.

use std::{
    collections::{BTreeSet, HashMap},
    fmt,
    sync::Arc,
    time::Instant,
};

use alloy_primitives::{Address, B256, U256};
use tokio::sync::broadcast;

use crate::{BestTransactions, PoolConfig, PoolError, PoolTransaction, best::SenderRun};
use sender::{Displaced, EvictionKey, PoolEntry, SenderTxs};

/// Capacity of the broadcast channel behind [`TxPool::subscribe_pending`].
///
/// The pool never waits for subscribers: once a receiver is this many hashes behind, the oldest
/// hashes are dropped for it and its next `recv` returns `RecvError::Lagged(n)` with the number
/// it lost. 4096 covers several full blocks of arrivals, so only a stalled subscriber lags.
pub const PENDING_SUBSCRIPTION_CAPACITY: usize = 4096;

/// A sender's committed account state, as of the latest block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SenderState {
    /// The next nonce the chain will accept from the sender.
    pub nonce: u64,
    /// The sender's balance in wei.
    pub balance: U256,
}

/// Where an accepted transaction went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    /// It is executable now: its nonce continues the sender's pending run.
    Pending,
    /// It waits for a missing lower nonce.
    Queued,
    /// It replaced the sender's transaction with the same nonce.
    Replaced {
        /// The hash of the transaction it replaced, which is no longer in the pool.
        old: B256,
        /// Whether the replacement is pending (otherwise it is queued).
        pending: bool,
    },
}

/// The transaction pool: validates incoming transactions against their sender's committed state,
/// keeps them as pending or queued per sender, hands executable ones to the block builder in fee
/// order, and evicts the cheapest when full.
///
/// It has no interior locking; the node owns it behind a mutex.
pub struct TxPool<T: PoolTransaction> {
    config: PoolConfig,
    /// The base fee the eviction indices were ranked at.
    base_fee: u128,
    senders: HashMap<Address, SenderTxs<T>>,
    by_hash: HashMap<B256, (Address, u64)>,
    /// Every queued transaction.
    queued_by_tip: BTreeSet<EvictionKey>,
    /// Each sender's highest pending transaction: the only pending one that can leave without
    /// opening a gap in front of the sender's other pending transactions.
    pending_tails_by_tip: BTreeSet<EvictionKey>,
    n_pending: usize,
    n_queued: usize,
    total_bytes: usize,
    next_id: u64,
    pending_hashes: broadcast::Sender<B256>,
}

impl<T: PoolTransaction> fmt::Debug for TxPool<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TxPool")
            .field("n_pending", &self.n_pending)
            .field("n_queued", &self.n_queued)
            .field("total_bytes", &self.total_bytes)
            .field("base_fee", &self.base_fee)
            .finish_non_exhaustive()
    }
}

impl<T: PoolTransaction> TxPool<T> {
    /// Creates an empty pool. Its base fee is zero until the first `add` or block commit.
    pub fn new(config: PoolConfig) -> Self {
        // The receiver is dropped: subscribers get their own from `subscribe_pending`, and a
        // send with no receivers is simply discarded.
        let (pending_hashes, _) = broadcast::channel(PENDING_SUBSCRIPTION_CAPACITY);
        Self {
            config,
            base_fee: 0,
            senders: HashMap::new(),
            by_hash: HashMap::new(),
            queued_by_tip: BTreeSet::new(),
            pending_tails_by_tip: BTreeSet::new(),
            n_pending: 0,
            n_queued: 0,
            total_bytes: 0,
            next_id: 0,
            pending_hashes,
        }
    }

    /// The pool's configuration.
    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// The base fee the pool last saw, from `add` or `on_block_committed`.
    pub fn base_fee(&self) -> u128 {
        self.base_fee
    }

    /// Validate against the sender's committed state and the current base fee, then insert.
    ///
    /// `sender` is the sender's state at the latest block. If the pool already knows a higher
    /// committed nonce for the sender (the caller read state just before a commit), the higher
    /// one wins. `base_fee` is the base fee the next block will have; when it differs from the
    /// pool's, the pool re-ranks its eviction order first.
    ///
    /// When the pool is at its count or byte limit, the transaction evicts other senders'
    /// transactions that pay a strictly lower effective tip: queued ones first, then senders'
    /// highest pending nonces (so no pending run gets a gap), cheapest first. If that cannot make
    /// room it fails with [`PoolError::PoolFull`].
    ///
    /// Once the transaction passes the stateless checks (fees, size), the pool adopts `base_fee`
    /// and the sender state even if a later check refuses the transaction, since both are newer
    /// information than what it had.
    ///
    /// Cost: O(log n), plus O(k log n) for the k queued transactions it promotes, or for the
    /// sender's k transactions when the sender's state changed.
    pub fn add(
        &mut self,
        tx: T,
        sender: SenderState,
        base_fee: u128,
    ) -> Result<AddOutcome, PoolError> {
        let hash = tx.hash();
        if self.by_hash.contains_key(&hash) {
            return Err(PoolError::AlreadyKnown);
        }
        let max_fee = tx.max_fee_per_gas();
        let max_tip = tx.max_priority_fee_per_gas();
        if max_tip > max_fee {
            return Err(PoolError::TipAboveFeeCap);
        }
        if max_tip < self.config.min_priority_fee {
            return Err(PoolError::TipBelowMinimum {
                tip: max_tip,
                min: self.config.min_priority_fee,
            });
        }
        let Some(tip) = tx.effective_tip(base_fee) else {
            return Err(PoolError::FeeCapBelowBaseFee { max_fee, base_fee });
        };
        let size = tx.encoded_len();
        if size > self.config.max_bytes {
            return Err(PoolError::Oversized { size, limit: self.config.max_bytes });
        }

        self.set_base_fee(base_fee);
        let address = tx.sender();
        let nonce = tx.nonce();
        self.refresh_sender(address, sender);

        // A sender the pool does not know yet starts from the caller's state.
        let fresh = SenderTxs::new(sender);
        let known = self.senders.get(&address).unwrap_or(&fresh);
        if nonce < known.committed_nonce {
            return Err(PoolError::NonceTooLow { expected: known.committed_nonce, got: nonce });
        }
        let displaced = known.txs.get(&nonce).map(Displaced::of);
        match &displaced {
            Some(old) => self.check_replacement(old, max_fee, max_tip)?,
            None => self.check_new_nonce(known, nonce)?,
        }

        // Checking the sender's whole pooled cost (not just this transaction's) keeps every
        // prefix of the sender's transactions affordable, so pending never needs a balance test.
        let cost = tx.cost();
        let displaced_cost = displaced.as_ref().map_or(U256::ZERO, |old| old.cost);
        let new_total = known.total_cost.saturating_sub(displaced_cost).saturating_add(cost);
        if new_total > known.balance {
            return Err(PoolError::InsufficientFunds { balance: known.balance, cost: new_total });
        }
        let state = SenderState { nonce: known.committed_nonce, balance: known.balance };

        let freed_bytes = displaced.as_ref().map_or(0, |old| old.size);
        let added_count = usize::from(displaced.is_none());
        let arriving_pending = nonce <= known.pending_end();
        let victims =
            self.plan_eviction(address, added_count, freed_bytes, size, tip, arriving_pending)?;
        for (victim, victim_nonce) in victims {
            self.remove_entry(victim, victim_nonce);
        }

        let entry =
            PoolEntry { tx: Arc::new(tx), id: self.next_id, cost, size, arrived: Instant::now() };
        self.next_id += 1;
        self.senders.entry(address).or_insert_with(|| SenderTxs::new(state));
        Ok(match displaced {
            Some(old) => AddOutcome::Replaced {
                old: old.hash,
                pending: self.replace_entry(address, nonce, entry),
            },
            None if self.insert_entry(address, nonce, entry) => AddOutcome::Pending,
            None => AddOutcome::Queued,
        })
    }

    /// Executable transactions for a block, as an iterator over a snapshot of the pending set.
    ///
    /// Ordered by effective tip at `base_fee` (highest first), ties by arrival order, never
    /// yielding a sender's nonce n+1 before n. A transaction whose max fee is below `base_fee` is
    /// skipped together with its sender's later nonces. Call
    /// [`BestTransactions::mark_invalid`] when a transaction fails, to skip the rest of its
    /// sender. Cost: O(pending) to build, O(log senders) per item.
    pub fn best(&self, base_fee: u128) -> BestTransactions<T> {
        self.best_after(base_fee, |_| None)
    }

    /// Like [`best`](Self::best), but each sender's run starts at the nonce `next(sender)`
    /// gives, where it gives one: a block builder that already holds a sender's lower nonces
    /// takes a fresh view of the pool without walking past them again.
    pub fn best_after(
        &self,
        base_fee: u128,
        next: impl Fn(&Address) -> Option<u64>,
    ) -> BestTransactions<T> {
        let mut txs = Vec::with_capacity(self.n_pending);
        let mut runs = Vec::new();
        for (&sender, sender_txs) in &self.senders {
            let from = next(&sender)
                .map_or(sender_txs.committed_nonce, |n| n.max(sender_txs.committed_nonce));
            if from >= sender_txs.pending_end() {
                continue;
            }
            let start = txs.len();
            txs.extend(
                sender_txs
                    .txs
                    .range(from..sender_txs.pending_end())
                    .map(|(_, e)| (Arc::clone(&e.tx), e.id)),
            );
            runs.push(SenderRun { sender, next: start, end: txs.len() });
        }
        BestTransactions::new(base_fee, txs, runs)
    }

    /// After a block commits: `senders` gives each affected sender's new committed state (nonce,
    /// balance); pass every sender whose nonce or balance the block changed.
    ///
    /// Removes included and stale transactions (nonce below the committed nonce), removes those
    /// the new balance can no longer pay for (in nonce order, so later ones may end up queued
    /// behind the gap), promotes queued transactions whose gap closed, re-ranks the pool at
    /// the new `base_fee`, and drops queued transactions past their lifetime.
    pub fn on_block_committed(
        &mut self,
        senders: impl IntoIterator<Item = (Address, SenderState)>,
        base_fee: u128,
    ) {
        for (address, state) in senders {
            self.apply_sender_state(address, state);
        }
        self.set_base_fee(base_fee);
        self.expire_queued(Instant::now());
    }

    /// Drops the queued transactions that arrived more than the configured lifetime before
    /// `now`; returns how many. Cost: O(queued), bounded by [`PoolConfig::max_queued`].
    pub fn expire_queued(&mut self, now: Instant) -> usize {
        let lifetime = self.config.queued_lifetime;
        let expired: Vec<(Address, u64)> = self
            .queued_by_tip
            .iter()
            .filter(|key| {
                let entry = self.senders.get(&key.sender).and_then(|s| s.txs.get(&key.nonce));
                entry.is_some_and(|e| now.saturating_duration_since(e.arrived) >= lifetime)
            })
            .map(|key| (key.sender, key.nonce))
            .collect();
        // Removing a queued transaction leaves every other where it was.
        for &(address, nonce) in &expired {
            self.remove_entry(address, nonce);
        }
        expired.len()
    }

    /// The transaction with this hash, if pooled.
    pub fn get(&self, hash: &B256) -> Option<T> {
        self.entry(hash).map(|entry| T::clone(&entry.tx))
    }

    /// Whether a transaction with this hash is pooled.
    pub fn contains(&self, hash: &B256) -> bool {
        self.by_hash.contains_key(hash)
    }

    /// Removes a transaction. The sender's later pending transactions become queued, since they
    /// can no longer execute until the nonce is filled again.
    pub fn remove(&mut self, hash: &B256) -> Option<T> {
        let &(sender, nonce) = self.by_hash.get(hash)?;
        self.remove_entry(sender, nonce).map(|entry| Arc::unwrap_or_clone(entry.tx))
    }

    /// The number of pending (executable) transactions.
    pub fn pending_count(&self) -> usize {
        self.n_pending
    }

    /// The number of queued transactions (waiting for a lower nonce).
    pub fn queued_count(&self) -> usize {
        self.n_queued
    }

    /// The number of pooled transactions.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether the pool holds no transactions.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// The summed encoded length of all pooled transactions.
    pub fn total_bytes(&self) -> usize {
        self.total_bytes
    }

    /// The next nonce for a sender counting its pending transactions (for
    /// `eth_getTransactionCount(.., "pending")`); `None` when the pool holds nothing from the
    /// sender, in which case the committed nonce is the answer.
    pub fn pending_nonce(&self, sender: &Address) -> Option<u64> {
        self.senders.get(sender).map(SenderTxs::pending_end)
    }

    /// All pending transactions, grouped by sender in nonce order.
    pub fn pending(&self) -> Vec<T> {
        self.senders
            .values()
            .flat_map(SenderTxs::pending_entries)
            .map(|(_, entry)| T::clone(&entry.tx))
            .collect()
    }

    /// All queued transactions, grouped by sender in nonce order.
    pub fn queued(&self) -> Vec<T> {
        self.senders
            .values()
            .flat_map(SenderTxs::queued_entries)
            .map(|(_, entry)| T::clone(&entry.tx))
            .collect()
    }

    /// Subscription for hashes of transactions that become pending: new ones, replacements of
    /// pending ones, and queued ones promoted when their gap closes.
    ///
    /// The channel holds [`PENDING_SUBSCRIPTION_CAPACITY`] hashes; a receiver that falls further
    /// behind loses the oldest (its next `recv` reports `Lagged`). The pool never blocks on it.
    pub fn subscribe_pending(&self) -> broadcast::Receiver<B256> {
        self.pending_hashes.subscribe()
    }

    fn entry(&self, hash: &B256) -> Option<&PoolEntry<T>> {
        let (sender, nonce) = self.by_hash.get(hash)?;
        self.senders.get(sender)?.txs.get(nonce)
    }

    fn notify_pending(&self, hash: B256) {
        // An error only means nobody is subscribed right now, which is fine.
        let _ = self.pending_hashes.send(hash);
    }

    /// A replacement must raise both fees by the configured bump, so that replacing cannot be
    /// used to flood the network with near-identical transactions for free.
    fn check_replacement(
        &self,
        old: &Displaced,
        max_fee: u128,
        max_tip: u128,
    ) -> Result<(), PoolError> {
        let min_max_fee = bumped_price(old.max_fee, self.config.price_bump_percent);
        let min_priority_fee = bumped_price(old.max_tip, self.config.price_bump_percent);
        if max_fee < min_max_fee || max_tip < min_priority_fee {
            return Err(PoolError::ReplacementUnderpriced { min_max_fee, min_priority_fee });
        }
        Ok(())
    }

    /// A transaction at a free nonce must fit the sender limit and the allowed nonce gap.
    fn check_new_nonce(&self, sender: &SenderTxs<T>, nonce: u64) -> Result<(), PoolError> {
        if sender.txs.len() >= self.config.max_per_sender {
            return Err(PoolError::SenderLimit { limit: self.config.max_per_sender });
        }
        // EIP-2681 caps nonces below u64::MAX; refusing it also keeps every `nonce + 1` in this
        // module from overflowing.
        let pending_end = sender.pending_end();
        if nonce > pending_end.saturating_add(self.config.max_nonce_gap) || nonce == u64::MAX {
            return Err(PoolError::NonceTooHigh {
                expected: pending_end,
                got: nonce,
                max_gap: self.config.max_nonce_gap,
            });
        }
        if nonce > pending_end {
            if sender.n_queued() >= self.config.max_queued_per_sender {
                return Err(PoolError::QueuedSenderLimit {
                    limit: self.config.max_queued_per_sender,
                });
            }
            if self.n_queued >= self.config.max_queued {
                return Err(PoolError::QueuedFull { limit: self.config.max_queued });
            }
        }
        Ok(())
    }

    /// Chooses what to evict so that a transaction paying `tip` fits, without evicting anything
    /// yet: queued transactions first (they cannot execute soon; for a pending arrival, any
    /// queued one, otherwise only those paying less), then senders' highest pending nonces (so
    /// no pending run gets a gap) paying strictly less than `tip`, each cheapest first. The
    /// arriving sender's own transactions are never chosen, and each sender's pending tail is
    /// considered once per call, which keeps planning O(victims · log n).
    fn plan_eviction(
        &self,
        arriving_sender: Address,
        added_count: usize,
        freed_bytes: usize,
        added_bytes: usize,
        tip: u128,
        arriving_pending: bool,
    ) -> Result<Vec<(Address, u64)>, PoolError> {
        let mut count = self.len() + added_count;
        let mut bytes = self.total_bytes - freed_bytes + added_bytes;
        let fits = |count: usize, bytes: usize| {
            count <= self.config.max_transactions && bytes <= self.config.max_bytes
        };
        let mut victims = Vec::new();
        if fits(count, bytes) {
            return Ok(victims);
        }
        let cheaper = |key: &&EvictionKey| key.tip < Some(tip);
        let candidates = self
            .queued_by_tip
            .iter()
            .take_while(|key| arriving_pending || cheaper(key))
            .chain(self.pending_tails_by_tip.iter().take_while(cheaper))
            .filter(|key| key.sender != arriving_sender);
        for key in candidates {
            let size = self
                .senders
                .get(&key.sender)
                .and_then(|s| s.txs.get(&key.nonce))
                .expect("eviction indices only name pooled transactions")
                .size;
            victims.push((key.sender, key.nonce));
            count -= 1;
            bytes -= size;
            if fits(count, bytes) {
                return Ok(victims);
            }
        }
        Err(PoolError::PoolFull)
    }

    /// Inserts a transaction at a free nonce at or above the committed nonce; returns whether it
    /// is pending. If it fills the first gap, the queued transactions after it are promoted.
    fn insert_entry(&mut self, address: Address, nonce: u64, entry: PoolEntry<T>) -> bool {
        let base_fee = self.base_fee;
        let hash = entry.tx.hash();
        self.by_hash.insert(hash, (address, nonce));
        self.total_bytes += entry.size;
        let sender = self.senders.get_mut(&address).expect("add creates the sender record first");
        sender.total_cost = sender.total_cost.saturating_add(entry.cost);
        sender.txs.insert(nonce, entry);
        if nonce != sender.pending_end() {
            self.queued_by_tip.insert(sender.key(base_fee, address, nonce));
            self.n_queued += 1;
            return false;
        }

        if let Some(old_tail) = sender.tail_key(base_fee, address) {
            self.pending_tails_by_tip.remove(&old_tail);
        }
        sender.n_pending += 1;
        self.n_pending += 1;
        // Subscribers hear of the new transaction first, then of what it unblocked, in nonce
        // order, which is the order they can execute in.
        let _ = self.pending_hashes.send(hash);
        loop {
            let next = sender.pending_end();
            let Some(promoted) = sender.txs.get(&next) else {
                break;
            };
            self.queued_by_tip.remove(&EvictionKey::new(base_fee, address, next, promoted));
            let _ = self.pending_hashes.send(promoted.tx.hash());
            sender.n_pending += 1;
            self.n_pending += 1;
            self.n_queued -= 1;
        }
        let tail = sender.tail_key(base_fee, address).expect("the new transaction is pending");
        self.pending_tails_by_tip.insert(tail);
        true
    }

    /// Swaps the transaction at an occupied nonce for `entry`; returns whether it is pending.
    fn replace_entry(&mut self, address: Address, nonce: u64, entry: PoolEntry<T>) -> bool {
        let base_fee = self.base_fee;
        let (new_hash, new_size, new_cost) = (entry.tx.hash(), entry.size, entry.cost);
        let sender = self.senders.get_mut(&address).expect("replacement targets a pooled sender");
        let pending = sender.is_pending(nonce);
        let old_key = sender.key(base_fee, address, nonce);
        let old = sender.txs.insert(nonce, entry).expect("replacement targets a pooled nonce");
        let new_key = sender.key(base_fee, address, nonce);
        if !pending {
            self.queued_by_tip.remove(&old_key);
            self.queued_by_tip.insert(new_key);
        } else if sender.pending_tail() == Some(nonce) {
            self.pending_tails_by_tip.remove(&old_key);
            self.pending_tails_by_tip.insert(new_key);
        }
        sender.total_cost = sender.total_cost.saturating_sub(old.cost).saturating_add(new_cost);
        self.by_hash.remove(&old.tx.hash());
        self.by_hash.insert(new_hash, (address, nonce));
        self.total_bytes = self.total_bytes - old.size + new_size;
        if pending {
            self.notify_pending(new_hash);
        }
        pending
    }

    /// Removes one transaction. If it was pending, the sender's later pending transactions are
    /// demoted to queued: they cannot execute until the nonce is filled again.
    fn remove_entry(&mut self, address: Address, nonce: u64) -> Option<PoolEntry<T>> {
        let base_fee = self.base_fee;
        let sender = self.senders.get_mut(&address)?;
        if sender.is_pending(nonce) {
            let old_tail =
                sender.tail_key(base_fee, address).expect("a pending nonce implies a tail");
            self.pending_tails_by_tip.remove(&old_tail);
            let n_before = sender.n_pending;
            sender.n_pending = nonce - sender.committed_nonce;
            self.n_pending -= to_count(n_before - sender.n_pending);
            self.n_queued += to_count(n_before - sender.n_pending - 1);
            // `range` panics on an inverted range, which removing the tail itself would give.
            let demoted = sender.txs.range(nonce..=old_tail.nonce).skip(1);
            for (&demoted, entry) in demoted {
                self.queued_by_tip.insert(EvictionKey::new(base_fee, address, demoted, entry));
            }
            if let Some(new_tail) = sender.tail_key(base_fee, address) {
                self.pending_tails_by_tip.insert(new_tail);
            }
        } else if sender.txs.contains_key(&nonce) {
            self.queued_by_tip.remove(&sender.key(base_fee, address, nonce));
            self.n_queued -= 1;
        } else {
            return None;
        }
        let entry = sender.txs.remove(&nonce).expect("checked to be pooled above");
        sender.total_cost = sender.total_cost.saturating_sub(entry.cost);
        if sender.txs.is_empty() {
            self.senders.remove(&address);
        }
        self.forget(&entry);
        Some(entry)
    }

    /// Applies state the caller read for `add`, unless it is what the pool already has. A lower
    /// nonce than the pool knows is stale (read before the latest commit) and ignored.
    fn refresh_sender(&mut self, address: Address, state: SenderState) {
        let Some(sender) = self.senders.get(&address) else {
            return;
        };
        let nonce = sender.committed_nonce.max(state.nonce);
        if nonce != sender.committed_nonce || state.balance != sender.balance {
            self.apply_sender_state(address, SenderState { nonce, balance: state.balance });
        }
    }

    /// Moves a sender to a new committed state: drops transactions below the nonce and those the
    /// balance cannot pay for, then recomputes its pending run and re-indexes it. O(k log n) for
    /// the sender's k transactions.
    fn apply_sender_state(&mut self, address: Address, state: SenderState) {
        let Some(mut sender) = self.senders.remove(&address) else {
            return;
        };
        let was_pending: Vec<B256> = sender.pending_entries().map(|(_, e)| e.tx.hash()).collect();
        self.unindex_sender(address, &sender);

        sender.committed_nonce = state.nonce;
        sender.balance = state.balance;
        // Below the committed nonce everything was included in a block (or lost to a
        // transaction that was) and can never execute again.
        let kept = sender.txs.split_off(&state.nonce);
        for stale in std::mem::replace(&mut sender.txs, kept).into_values() {
            self.forget(&stale);
        }
        // In nonce order, drop what the new balance cannot cover on top of the lower nonces.
        let mut total = U256::ZERO;
        let mut unaffordable = Vec::new();
        for (&nonce, entry) in &sender.txs {
            let with_this = total.saturating_add(entry.cost);
            if with_this > state.balance {
                unaffordable.push(nonce);
            } else {
                total = with_this;
            }
        }
        for nonce in unaffordable {
            let entry = sender.txs.remove(&nonce).expect("collected from this map above");
            self.forget(&entry);
        }
        sender.total_cost = total;
        if sender.txs.is_empty() {
            return;
        }

        sender.n_pending = sender.count_contiguous();
        self.index_sender(address, &sender);
        for (_, entry) in sender.pending_entries() {
            let hash = entry.tx.hash();
            if !was_pending.contains(&hash) {
                self.notify_pending(hash);
            }
        }
        self.senders.insert(address, sender);
    }

    /// Drops a removed entry from the hash index and the byte count.
    fn forget(&mut self, entry: &PoolEntry<T>) {
        self.by_hash.remove(&entry.tx.hash());
        self.total_bytes -= entry.size;
    }

    /// Takes a sender (already out of `senders`) out of the eviction indices and counts.
    fn unindex_sender(&mut self, address: Address, sender: &SenderTxs<T>) {
        for key in sender.queued_keys(self.base_fee, address) {
            self.queued_by_tip.remove(&key);
        }
        if let Some(tail) = sender.tail_key(self.base_fee, address) {
            self.pending_tails_by_tip.remove(&tail);
        }
        self.n_pending -= to_count(sender.n_pending);
        self.n_queued -= sender.n_queued();
    }

    /// Puts a sender with a correct `n_pending` into the eviction indices and counts.
    fn index_sender(&mut self, address: Address, sender: &SenderTxs<T>) {
        self.queued_by_tip.extend(sender.queued_keys(self.base_fee, address));
        self.pending_tails_by_tip.extend(sender.tail_key(self.base_fee, address));
        self.n_pending += to_count(sender.n_pending);
        self.n_queued += sender.n_queued();
    }

    /// Re-ranks the eviction indices when the base fee changes, since effective tips (and so the
    /// order) depend on it. O(n log n), once per base-fee change.
    fn set_base_fee(&mut self, base_fee: u128) {
        if base_fee == self.base_fee {
            return;
        }
        self.base_fee = base_fee;
        let senders = self.senders.iter();
        self.queued_by_tip =
            senders.clone().flat_map(|(&address, s)| s.queued_keys(base_fee, address)).collect();
        self.pending_tails_by_tip =
            senders.filter_map(|(&address, s)| s.tail_key(base_fee, address)).collect();
    }

    /// Checks every internal invariant, for tests: indices, counts and runs agree with the
    /// per-sender maps.
    #[cfg(test)]
    pub(crate) fn assert_consistent(&self) {
        let mut queued_keys = BTreeSet::new();
        let mut tail_keys = BTreeSet::new();
        let (mut n_pending, mut n_queued, mut bytes, mut n_txs) = (0, 0, 0, 0);
        for (&address, sender) in &self.senders {
            assert!(!sender.txs.is_empty(), "empty sender records are dropped");
            assert_eq!(sender.n_pending, sender.count_contiguous(), "pending run is maximal");
            let mut cost = U256::ZERO;
            for (&nonce, entry) in &sender.txs {
                assert!(nonce >= sender.committed_nonce);
                assert_eq!(entry.tx.nonce(), nonce);
                assert_eq!(entry.tx.sender(), address);
                assert_eq!(self.by_hash.get(&entry.tx.hash()), Some(&(address, nonce)));
                cost += entry.cost;
                bytes += entry.size;
                n_txs += 1;
            }
            assert_eq!(cost, sender.total_cost);
            assert!(sender.total_cost <= sender.balance);
            queued_keys.extend(sender.queued_keys(self.base_fee, address));
            tail_keys.extend(sender.tail_key(self.base_fee, address));
            n_pending += to_count(sender.n_pending);
            n_queued += sender.n_queued();
        }
        assert_eq!(queued_keys, self.queued_by_tip);
        assert_eq!(tail_keys, self.pending_tails_by_tip);
        assert_eq!(n_pending, self.n_pending);
        assert_eq!(n_queued, self.n_queued);
        assert_eq!(bytes, self.total_bytes);
        assert_eq!(n_txs, self.by_hash.len());
        assert_eq!(n_pending + n_queued, n_txs);
        assert!(n_txs <= self.config.max_transactions);
        assert!(bytes <= self.config.max_bytes);
    }
}

/// Converts a per-sender count, which the sender limit keeps small, to `usize`.
fn to_count(n: u64) -> usize {
    usize::try_from(n).expect("per-sender counts are bounded by the sender limit")
}

/// The lowest price a replacement may offer: `price * (100 + bump) / 100`, rounded up, computed
/// in 256 bits so that no price overflows, and saturating at `u128::MAX`.
fn bumped_price(price: u128, bump_percent: u128) -> u128 {
    let scaled = U256::from(price) * U256::from(bump_percent.saturating_add(100));
    let rounded_up = (scaled + U256::from(99u8)) / U256::from(100u8);
    u128::try_from(rounded_up).unwrap_or(u128::MAX)
}

mod sender;
#[cfg(test)]
mod tests;
