//! A transaction type for tests of the pool and of its users (feature `test-utils`).

use alloy_primitives::{Address, B256, U256};

use crate::PoolTransaction;

/// A minimal transaction for driving the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestTx {
    /// Unique per test transaction.
    pub hash: B256,
    /// The signer.
    pub sender: Address,
    /// The nonce.
    pub nonce: u64,
    /// The gas limit.
    pub gas_limit: u64,
    /// The fee cap per gas.
    pub max_fee: u128,
    /// The priority fee cap per gas.
    pub tip: u128,
    /// The transferred value.
    pub value: U256,
    /// The pretended encoded length.
    pub size: usize,
}

impl PoolTransaction for TestTx {
    fn hash(&self) -> B256 {
        self.hash
    }
    fn sender(&self) -> Address {
        self.sender
    }
    fn nonce(&self) -> u64 {
        self.nonce
    }
    fn gas_limit(&self) -> u64 {
        self.gas_limit
    }
    fn max_fee_per_gas(&self) -> u128 {
        self.max_fee
    }
    fn max_priority_fee_per_gas(&self) -> u128 {
        self.tip
    }
    fn value(&self) -> U256 {
        self.value
    }
    fn encoded_len(&self) -> usize {
        self.size
    }
}
