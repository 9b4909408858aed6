//! Limits and pricing rules of the pool.

use std::time::Duration;

/// Limits and pricing rules of the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// The most transactions one sender may hold in the pool, pending and queued together.
    pub max_per_sender: usize,
    /// The most transactions the pool holds in total.
    pub max_transactions: usize,
    /// The most encoded bytes the pool holds in total.
    pub max_bytes: usize,
    /// How far ahead of a sender's next pending nonce a queued transaction may be.
    pub max_nonce_gap: u64,
    /// The most queued (future-nonce) transactions one sender may hold.
    pub max_queued_per_sender: usize,
    /// The most queued transactions the pool holds in total; past it a queued arrival is
    /// refused, and a pending arrival evicts queued ones first.
    pub max_queued: usize,
    /// How long a transaction may stay queued before it is dropped.
    pub queued_lifetime: Duration,
    /// The percentage by which a replacement must raise both the max fee and the priority fee.
    pub price_bump_percent: u128,
    /// The lowest max priority fee per gas the pool accepts.
    pub min_priority_fee: u128,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_per_sender: 64,
            max_transactions: 50_000,
            max_bytes: 64 * 1024 * 1024,
            max_nonce_gap: 64,
            max_queued_per_sender: 16,
            max_queued: 5_000,
            queued_lifetime: Duration::from_secs(10 * 60),
            price_bump_percent: 10,
            min_priority_fee: 0,
        }
    }
}
