//! The one error type of the crate: rejected configs, generator misuse and verification
//! failures, each with the context (entry index, tick index, counts) needed to debug a block.

use alloy_primitives::B256;

/// Why a PoH config, a generator call or a block's entries were rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PohError {
    /// The config cannot describe a block.
    #[error("invalid PoH config: {reason}")]
    InvalidConfig {
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A mixin entry (`n_transactions > 0`) with `num_hashes == 0`: the mixin needs a hash.
    #[error("entry {index}: mixin entry has num_hashes 0")]
    EmptyMixin {
        /// Position of the entry in the block.
        index: usize,
    },
    /// A tick entry with `num_hashes == 0`.
    #[error("entry {index}: tick entry has num_hashes 0")]
    ZeroHashTick {
        /// Position of the entry in the block.
        index: usize,
    },
    /// A tick closed (or would close) after a number of hashes other than `hashes_per_tick`.
    #[error("tick {tick} (at entry {index}): expected {expected} hashes, got {got}")]
    WrongHashesPerTick {
        /// Zero-based tick number within the block.
        tick: u64,
        /// Entry at which the mismatch was found.
        index: usize,
        /// `hashes_per_tick` of the config.
        expected: u64,
        /// Hashes counted (saturating at `u64::MAX`).
        got: u64,
    },
    /// The block has more or fewer ticks than `ticks_per_block`.
    #[error("expected {expected} ticks, got {got}")]
    WrongTickCount {
        /// `ticks_per_block` of the config.
        expected: u64,
        /// Ticks found.
        got: u64,
    },
    /// The last entry is a mixin; a block's entries must end with a tick.
    #[error("entries must end with a tick, but entry {index} (the last) is a mixin")]
    DoesNotEndWithTick {
        /// Position of the last entry.
        index: usize,
    },
    /// A mixin entry covers more transactions than the block has left.
    #[error("entry {index}: mixes in {needed} transactions but only {available} remain")]
    TransactionsOverconsumed {
        /// Position of the entry.
        index: usize,
        /// The entry's `n_transactions`.
        needed: u32,
        /// Transactions of the block not yet consumed by earlier entries.
        available: usize,
    },
    /// The mixin entries cover only some of the block's transactions.
    #[error("entries consume {consumed} of the block's {total} transactions")]
    TransactionsNotConsumed {
        /// Transactions covered by mixin entries.
        consumed: usize,
        /// Transactions in the block.
        total: usize,
    },
    /// Re-hashing from the previous entry's hash does not give the entry's hash.
    #[error("entry {index}: hash mismatch (claimed {claimed}, computed {computed})")]
    HashMismatch {
        /// Position of the first bad entry.
        index: usize,
        /// The hash the entry carries.
        claimed: B256,
        /// The hash the chain actually gives.
        computed: B256,
    },
    /// A mixin of zero transactions was offered; it would read as a tick.
    #[error("a mixin must cover at least one transaction")]
    EmptyBatch,
    /// The current tick has a single hash left, which belongs to the tick entry; call `tick`
    /// and record again.
    #[error("no room for a mixin in the current tick; tick first")]
    TickFull,
    /// All ticks of the block are done; nothing more can be recorded.
    #[error("the block's ticks are all done")]
    BlockComplete,
    /// The slot thread has stopped, so the mixin cannot be recorded in this block.
    #[error("the PoH slot has already finished")]
    SlotFinished,
    /// The OS refused to start the slot thread.
    #[error("cannot spawn the PoH slot thread: {reason}")]
    Spawn {
        /// The OS error, as text so that the error stays `Clone + Eq`.
        reason: String,
    },
}
