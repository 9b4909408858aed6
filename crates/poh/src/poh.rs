//! The PoH generator: a SHA-256 chain that emits tick entries at fixed hash counts and mixin
//! entries whenever a batch of transactions is recorded.
//!
//! The mixin rule: a mixin hash counts toward its tick, and a tick entry always ends with
//! at least one plain hash of its own. So `record` only mixes in while the current tick has
//! at least 2 hashes left; when only the tick's closing hash remains it returns
//! [`PohError::TickFull`] and the caller calls [`Poh::tick`] and records again, landing the
//! mixin at the start of the next tick.

use alloy_primitives::B256;

use crate::{
    PohConfig, PohEntry, PohError,
    entry::{hash_mixin, hash_n},
};

/// The generator state for one block.
///
/// Invariant: until the block is complete, `remaining_in_tick >= 1`, the last remaining hash
/// being reserved for the tick entry.
#[derive(Debug, Clone)]
pub struct Poh {
    hash: B256,
    config: PohConfig,
    /// Hashes done since the last entry, which the next entry will report.
    hashes_since_entry: u64,
    /// Hashes still due before the current tick is complete, its closing hash included.
    remaining_in_tick: u64,
    ticks_done: u64,
}

impl Poh {
    /// Starts a block's chain at `start` (the parent block's end hash).
    pub fn new(start: B256, config: PohConfig) -> Result<Self, PohError> {
        config.validate()?;
        Ok(Self {
            hash: start,
            config,
            hashes_since_entry: 0,
            remaining_in_tick: config.hashes_per_tick,
            ticks_done: 0,
        })
    }

    /// Does up to `max` plain hashes, never past the next tick boundary. Returns `true` when
    /// the boundary is reached (only the tick's closing hash is left), so the caller must call
    /// [`Poh::tick`]; also `true`, doing nothing, once the block is complete.
    pub fn hash(&mut self, max: u64) -> bool {
        if self.is_block_complete() {
            return true;
        }
        let n = max.min(self.remaining_in_tick - 1);
        hash_n(&mut self.hash.0, n);
        self.remaining_in_tick -= n;
        self.hashes_since_entry += n;
        self.remaining_in_tick == 1
    }

    /// Mixes `mixin` (a [`batch_hash`](crate::batch_hash)) of `n_transactions` transactions
    /// into the chain now and returns the mixin entry.
    ///
    /// Fails with [`PohError::TickFull`] when the current tick has only its closing hash left
    /// (tick, then record again), [`PohError::BlockComplete`] after the last tick, and
    /// [`PohError::EmptyBatch`] for zero transactions. The state is unchanged on error.
    pub fn record(&mut self, mixin: B256, n_transactions: u32) -> Result<PohEntry, PohError> {
        if n_transactions == 0 {
            return Err(PohError::EmptyBatch);
        }
        if self.is_block_complete() {
            return Err(PohError::BlockComplete);
        }
        if self.remaining_in_tick < 2 {
            return Err(PohError::TickFull);
        }
        self.hash = B256::from(hash_mixin(&self.hash.0, &mixin));
        self.remaining_in_tick -= 1;
        let entry =
            PohEntry { num_hashes: self.hashes_since_entry + 1, hash: self.hash, n_transactions };
        self.hashes_since_entry = 0;
        Ok(entry)
    }

    /// Completes the current tick, hashing whatever it still lacks, and returns the tick
    /// entry; `None` once all `ticks_per_block` ticks are done.
    pub fn tick(&mut self) -> Option<PohEntry> {
        if self.is_block_complete() {
            return None;
        }
        hash_n(&mut self.hash.0, self.remaining_in_tick);
        let entry = PohEntry {
            num_hashes: self.hashes_since_entry + self.remaining_in_tick,
            hash: self.hash,
            n_transactions: 0,
        };
        self.ticks_done += 1;
        self.hashes_since_entry = 0;
        self.remaining_in_tick = self.config.hashes_per_tick;
        Some(entry)
    }

    /// The chain's latest hash; after the last tick, the block's end hash.
    pub fn current_hash(&self) -> B256 {
        self.hash
    }

    /// Tick entries emitted so far.
    pub fn ticks_done(&self) -> u64 {
        self.ticks_done
    }

    /// Hashes still due in the current tick, its closing hash included.
    pub fn remaining_hashes_in_tick(&self) -> u64 {
        self.remaining_in_tick
    }

    /// Whether all ticks of the block are done.
    pub fn is_block_complete(&self) -> bool {
        self.ticks_done >= self.config.ticks_per_block
    }

    /// The config the generator runs with.
    pub fn config(&self) -> &PohConfig {
        &self.config
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{batch_hash, verify};

    const CONFIG: PohConfig = PohConfig { hashes_per_tick: 10, ticks_per_block: 3 };

    #[test]
    fn hash_stops_at_tick_boundary() {
        let mut poh = Poh::new(B256::ZERO, CONFIG).unwrap();
        assert!(!poh.hash(4));
        assert_eq!(poh.remaining_hashes_in_tick(), 6);
        assert!(poh.hash(100));
        assert_eq!(poh.remaining_hashes_in_tick(), 1);
        let tick = poh.tick().unwrap();
        assert_eq!((tick.num_hashes, tick.n_transactions), (10, 0));
        assert_eq!(poh.ticks_done(), 1);
    }

    #[test]
    fn mixin_counts_toward_tick_and_needs_room() {
        let mut poh = Poh::new(B256::ZERO, CONFIG).unwrap();
        let txs = [B256::repeat_byte(1)];
        let mixin = poh.record(batch_hash(&txs), 1).unwrap();
        assert_eq!(mixin.num_hashes, 1);
        assert!(poh.hash(u64::MAX));
        assert_eq!(poh.record(batch_hash(&txs), 1), Err(PohError::TickFull));
        assert_eq!(poh.record(batch_hash(&txs), 0), Err(PohError::EmptyBatch));
        let tick = poh.tick().unwrap();
        assert_eq!(mixin.num_hashes + tick.num_hashes, CONFIG.hashes_per_tick);

        let mut entries = vec![mixin, tick];
        while let Some(tick) = poh.tick() {
            entries.push(tick);
        }
        assert_eq!(poh.record(batch_hash(&txs), 1), Err(PohError::BlockComplete));
        assert!(poh.hash(5));
        let summary = verify(B256::ZERO, &entries, &txs, &CONFIG).unwrap();
        assert_eq!(summary.end_hash, poh.current_hash());
        assert_eq!(summary.ticks, 3);
        assert_eq!(summary.n_hashes, 30);
    }

    #[test]
    fn new_rejects_invalid_config() {
        let config = PohConfig { hashes_per_tick: 1, ticks_per_block: 3 };
        assert!(matches!(Poh::new(B256::ZERO, config), Err(PohError::InvalidConfig { .. })));
    }
}
