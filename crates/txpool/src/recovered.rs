//! The node's transaction type in the pool.

use alloy_consensus::Transaction;
use alloy_primitives::{Address, B256, U256};
use btcr_primitives::RecoveredTx;

use crate::PoolTransaction;

impl PoolTransaction for RecoveredTx {
    fn hash(&self) -> B256 {
        self.hash
    }

    fn sender(&self) -> Address {
        self.sender
    }

    fn nonce(&self) -> u64 {
        self.tx.nonce()
    }

    fn gas_limit(&self) -> u64 {
        self.tx.gas_limit()
    }

    fn max_fee_per_gas(&self) -> u128 {
        self.tx.max_fee_per_gas()
    }

    fn max_priority_fee_per_gas(&self) -> u128 {
        // Legacy and EIP-2930 transactions pay their gas price as both cap and tip.
        self.tx.max_priority_fee_per_gas().unwrap_or_else(|| self.tx.max_fee_per_gas())
    }

    fn value(&self) -> U256 {
        self.tx.value()
    }

    fn encoded_len(&self) -> usize {
        self.encoded_len
    }
}
