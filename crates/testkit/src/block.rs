//! Blocks for tests that store them without executing anything.

use alloy_primitives::{Address, B256};
use btcr_primitives::Header;

/// A header of block `number` on `parent_hash` with every other field empty or minimal.
pub fn empty_header(number: u64, parent_hash: B256) -> Header {
    Header {
        parent_hash,
        number,
        timestamp_ms: number,
        proposer: Address::ZERO,
        state_root: B256::ZERO,
        transactions_root: B256::ZERO,
        receipts_root: B256::ZERO,
        logs_bloom: Default::default(),
        gas_used: 0,
        gas_limit: 1,
        base_fee_per_gas: 1,
        poh_start_hash: B256::ZERO,
        poh_end_hash: B256::ZERO,
        poh_ticks: 0,
        extra_data: Default::default(),
        poh_entries_root: None,
    }
}
