//! Why the pool refused a transaction.

use alloy_primitives::U256;

/// Why the pool refused a transaction. The messages follow go-ethereum's where one exists, since
/// wallets and tools match on them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// A transaction with the same hash is already in the pool.
    #[error("already known")]
    AlreadyKnown,
    /// The nonce was already used by a committed transaction.
    #[error("nonce too low: expected {expected}, got {got}")]
    NonceTooLow {
        /// The sender's committed nonce, the lowest nonce still usable.
        expected: u64,
        /// The transaction's nonce.
        got: u64,
    },
    /// The nonce is further ahead of the sender's next pending nonce than the pool queues.
    #[error("nonce too high: expected {expected}, got {got} (at most {max_gap} ahead)")]
    NonceTooHigh {
        /// The sender's next pending nonce.
        expected: u64,
        /// The transaction's nonce.
        got: u64,
        /// How far ahead of `expected` the pool accepts.
        max_gap: u64,
    },
    /// The sender's balance cannot pay for this transaction together with the sender's other
    /// pooled transactions.
    #[error("insufficient funds: balance {balance}, cost {cost}")]
    InsufficientFunds {
        /// The sender's committed balance.
        balance: U256,
        /// The summed cost of the sender's pooled transactions with this one added.
        cost: U256,
    },
    /// The fee cap does not cover the current base fee.
    #[error("max fee per gas below base fee: max fee {max_fee}, base fee {base_fee}")]
    FeeCapBelowBaseFee {
        /// The transaction's max fee per gas.
        max_fee: u128,
        /// The current base fee.
        base_fee: u128,
    },
    /// The priority fee is higher than the fee cap, which no valid transaction has.
    #[error("max priority fee per gas higher than max fee per gas")]
    TipAboveFeeCap,
    /// The priority fee is below the pool's configured minimum.
    #[error("max priority fee per gas below minimum: tip {tip}, minimum {min}")]
    TipBelowMinimum {
        /// The transaction's max priority fee per gas.
        tip: u128,
        /// The configured minimum.
        min: u128,
    },
    /// A replacement for the same sender and nonce does not raise both fees enough.
    #[error(
        "replacement transaction underpriced: need max fee per gas >= {min_max_fee} \
         and max priority fee per gas >= {min_priority_fee}"
    )]
    ReplacementUnderpriced {
        /// The lowest max fee per gas a replacement may have.
        min_max_fee: u128,
        /// The lowest max priority fee per gas a replacement may have.
        min_priority_fee: u128,
    },
    /// The sender already holds the most transactions one sender may.
    #[error("too many transactions from sender: limit {limit}")]
    SenderLimit {
        /// The configured per-sender limit.
        limit: usize,
    },
    /// The sender already holds the most queued transactions one sender may.
    #[error("too many queued transactions from sender (nonces ahead of the next): limit {limit}")]
    QueuedSenderLimit {
        /// The configured per-sender queued limit.
        limit: usize,
    },
    /// The pool holds the most queued transactions it may.
    #[error(
        "too many queued transactions in the pool: limit {limit}; send the missing nonce first"
    )]
    QueuedFull {
        /// The configured queued limit.
        limit: usize,
    },
    /// The pool is at a limit and nothing cheaper could be evicted to make room.
    #[error("transaction pool is full and the transaction pays too little to evict another")]
    PoolFull,
    /// The transaction alone is larger than the pool's whole byte budget.
    #[error("transaction too large for the pool: {size} bytes, limit {limit}")]
    Oversized {
        /// The transaction's encoded length.
        size: usize,
        /// The pool's byte limit.
        limit: usize,
    },
}
