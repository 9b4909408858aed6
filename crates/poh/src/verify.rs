//! Block verification: a cheap sequential pass over the entries' structure, then the
//! expensive hash chains in parallel on rayon.
//!
//! Every entry's chain starts from the previous entry's *claimed* hash, so entries are
//! independent once the structure is known. They are cut into segments of roughly equal hash
//! counts (a few per thread) and each segment is re-hashed sequentially on the pool; a single
//! entry is never split, which is fine because a block has tens of ticks of equal size.

use std::ops::Range;

use alloy_primitives::B256;
use rayon::prelude::*;

use crate::{
    PohConfig, PohEntry, PohError,
    entry::{batch_hash, next_hash},
};

/// Segments per pool thread: more than one so work stealing can even out uneven segments.
const SEGMENTS_PER_THREAD: usize = 4;

/// What a verified block's entries amount to; the header's PoH fields must match it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PohSummary {
    /// Hash of the last entry (the block's end hash).
    pub end_hash: B256,
    /// Tick entries in the block.
    pub ticks: u64,
    /// Hashes in the block, mixin hashes included.
    pub n_hashes: u64,
}

/// Verifies a block's entries from `start` against its transaction hashes (in execution
/// order) on the current rayon pool (the global one outside `ThreadPool::install`).
///
/// Structural errors are reported before any hashing, so a malformed block costs no more
/// than one pass over its entries; hash errors name the first bad entry.
pub fn verify(
    start: B256,
    entries: &[PohEntry],
    tx_hashes: &[B256],
    config: &PohConfig,
) -> Result<PohSummary, PohError> {
    let tx_offsets = check_structure(entries, tx_hashes.len(), config)?;
    if let Some((index, computed)) = first_hash_mismatch(start, entries, tx_hashes, &tx_offsets) {
        let claimed = entries[index].hash;
        return Err(PohError::HashMismatch { index, claimed, computed });
    }
    Ok(summary(start, entries, config))
}

/// What entries that passed the structure check amount to.
fn summary(start: B256, entries: &[PohEntry], config: &PohConfig) -> PohSummary {
    PohSummary {
        end_hash: entries.last().map_or(start, |entry| entry.hash),
        ticks: config.ticks_per_block,
        // The structure check pinned this to exactly hashes_per_tick * ticks_per_block.
        n_hashes: config.hashes_per_block(),
    }
}

/// What [`verify`] concludes, from the entries' structure alone (one pass, no hashing): for
/// a block that validators holding more than two thirds of the power have signed, each after
/// running [`verify`] on it, and whose header commits to these very entries (through
/// [`crate::entries_root`]), so that the hash chains they checked are the ones given here.
/// Anything else must go through [`verify`].
pub fn verify_structure(
    start: B256,
    entries: &[PohEntry],
    n_transactions: usize,
    config: &PohConfig,
) -> Result<PohSummary, PohError> {
    check_structure(entries, n_transactions, config)?;
    Ok(summary(start, entries, config))
}

/// [`verify`] on a given pool, so callers (and benchmarks) choose the parallelism.
pub fn verify_with_pool(
    pool: &rayon::ThreadPool,
    start: B256,
    entries: &[PohEntry],
    tx_hashes: &[B256],
    config: &PohConfig,
) -> Result<PohSummary, PohError> {
    pool.install(|| verify(start, entries, tx_hashes, config))
}

/// Checks counts only (no hashing) and returns, per entry, the index of the first
/// transaction its batch covers.
fn check_structure(
    entries: &[PohEntry],
    n_tx_total: usize,
    config: &PohConfig,
) -> Result<Vec<usize>, PohError> {
    config.validate()?;
    let expected = config.hashes_per_tick;
    let mut tx_offsets = Vec::with_capacity(entries.len());
    let mut tx_cursor = 0usize;
    let mut ticks = 0u64;
    let mut hashes_in_tick = 0u64;

    for (index, entry) in entries.iter().enumerate() {
        tx_offsets.push(tx_cursor);
        if entry.is_tick() {
            if entry.num_hashes == 0 {
                return Err(PohError::ZeroHashTick { index });
            }
        } else {
            if entry.num_hashes == 0 {
                return Err(PohError::EmptyMixin { index });
            }
            let available = n_tx_total - tx_cursor;
            let needed = usize::try_from(entry.n_transactions).unwrap_or(usize::MAX);
            if needed > available {
                let needed = entry.n_transactions;
                return Err(PohError::TransactionsOverconsumed { index, needed, available });
            }
            tx_cursor += needed;
        }
        // Saturating: num_hashes comes from the network, and any overflow is far too many
        // hashes anyway. Rejecting here also bounds the hashing work of the second pass.
        hashes_in_tick = hashes_in_tick.saturating_add(entry.num_hashes);
        let tick_closes = entry.is_tick();
        if hashes_in_tick > expected || (tick_closes && hashes_in_tick != expected) {
            let got = hashes_in_tick;
            return Err(PohError::WrongHashesPerTick { tick: ticks, index, expected, got });
        }
        if tick_closes {
            ticks += 1;
            hashes_in_tick = 0;
        }
    }

    if let Some(index) = entries.len().checked_sub(1)
        && !entries[index].is_tick()
    {
        return Err(PohError::DoesNotEndWithTick { index });
    }
    if ticks != config.ticks_per_block {
        return Err(PohError::WrongTickCount { expected: config.ticks_per_block, got: ticks });
    }
    if tx_cursor != n_tx_total {
        return Err(PohError::TransactionsNotConsumed { consumed: tx_cursor, total: n_tx_total });
    }
    Ok(tx_offsets)
}

/// Re-hashes every entry in parallel and returns the lowest index whose claimed hash is wrong,
/// with the hash it should have. Requires a structure that `check_structure` accepted.
fn first_hash_mismatch(
    start: B256,
    entries: &[PohEntry],
    tx_hashes: &[B256],
    tx_offsets: &[usize],
) -> Option<(usize, B256)> {
    let check_entry = |index: usize| {
        let entry = &entries[index];
        let prev = index.checked_sub(1).map_or(start, |prev| entries[prev].hash);
        // In bounds: check_structure verified every batch against the transaction count.
        let mixin = (!entry.is_tick()).then(|| {
            let offset = tx_offsets[index];
            batch_hash(&tx_hashes[offset..offset + entry.n_transactions as usize])
        });
        let computed = next_hash(prev, entry.num_hashes, mixin);
        (computed != entry.hash).then_some((index, computed))
    };
    segments(entries, rayon::current_num_threads() * SEGMENTS_PER_THREAD)
        .into_par_iter()
        .filter_map(|segment| segment.into_iter().find_map(check_entry))
        // find_first keeps entry order across segments, so the reported index is the lowest.
        .find_first(|_| true)
}

/// Cuts `entries` into about `n_segments` consecutive ranges of similar total `num_hashes`.
fn segments(entries: &[PohEntry], n_segments: usize) -> Vec<Range<usize>> {
    let total: u64 = entries.iter().map(|entry| entry.num_hashes).sum();
    let target = (total / n_segments.max(1) as u64).max(1);
    let mut ranges = Vec::with_capacity(n_segments + 1);
    let (mut begin, mut weight) = (0, 0u64);
    for (index, entry) in entries.iter().enumerate() {
        weight += entry.num_hashes;
        if weight >= target {
            ranges.push(begin..index + 1);
            (begin, weight) = (index + 1, 0);
        }
    }
    if begin < entries.len() {
        ranges.push(begin..entries.len());
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: PohConfig = PohConfig { hashes_per_tick: 4, ticks_per_block: 2 };

    fn tick(num_hashes: u64) -> PohEntry {
        PohEntry { num_hashes, hash: B256::ZERO, n_transactions: 0 }
    }

    fn mixin(num_hashes: u64, n_transactions: u32) -> PohEntry {
        PohEntry { num_hashes, hash: B256::ZERO, n_transactions }
    }

    fn structure(entries: &[PohEntry], n_tx: usize) -> Result<Vec<usize>, PohError> {
        check_structure(entries, n_tx, &CONFIG)
    }

    #[test]
    fn structure_accepts_well_formed_blocks() {
        let entries = [mixin(2, 3), tick(2), mixin(1, 1), mixin(1, 2), tick(2)];
        assert_eq!(structure(&entries, 6), Ok(vec![0, 3, 3, 4, 6]));
    }

    #[test]
    fn structure_errors_carry_context() {
        use PohError::*;
        let cases: [(&[PohEntry], usize, PohError); 9] = [
            (&[tick(0)], 0, ZeroHashTick { index: 0 }),
            (&[tick(4), mixin(0, 1)], 1, EmptyMixin { index: 1 }),
            (&[tick(3)], 0, WrongHashesPerTick { tick: 0, index: 0, expected: 4, got: 3 }),
            (
                &[tick(4), mixin(u64::MAX, 1)],
                1,
                WrongHashesPerTick { tick: 1, index: 1, expected: 4, got: u64::MAX },
            ),
            (&[tick(4)], 0, WrongTickCount { expected: 2, got: 1 }),
            (&[tick(4), tick(4), tick(4)], 0, WrongTickCount { expected: 2, got: 3 }),
            (&[tick(4), mixin(1, 1)], 1, DoesNotEndWithTick { index: 1 }),
            (
                &[mixin(1, 2), tick(3), tick(4)],
                1,
                TransactionsOverconsumed { index: 0, needed: 2, available: 1 },
            ),
            (
                &[mixin(1, 2), tick(3), tick(4)],
                3,
                TransactionsNotConsumed { consumed: 2, total: 3 },
            ),
        ];
        for (entries, n_tx, expected) in cases {
            assert_eq!(structure(entries, n_tx), Err(expected.clone()), "{entries:?}");
            // Every message names what went wrong in words, not just a variant name.
            assert!(expected.to_string().len() > 20);
        }
        assert!(matches!(structure(&[], 0), Err(WrongTickCount { expected: 2, got: 0 })));
    }

    #[test]
    fn segments_balance_by_hash_count() {
        let entries = [tick(10), mixin(1, 1), mixin(1, 1), tick(8), tick(10), tick(10)];
        let ranges = segments(&entries, 4);
        assert_eq!(ranges, vec![0..1, 1..4, 4..5, 5..6]);
        assert_eq!(segments(&[], 4), Vec::<Range<usize>>::new());
    }
}
