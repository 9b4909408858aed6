//! Integration tests for `btcr-txpool`, through its public API only.

mod invariants;

use alloy_primitives::{Address, B256, U256};
use btcr_txpool::PoolTransaction;

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

#[test]
fn provided_cost_and_effective_tip() {
    let tx = TestTx {
        hash: B256::ZERO,
        sender: Address::ZERO,
        nonce: 0,
        gas_limit: 21_000,
        max_fee: 30,
        tip: 5,
        value: U256::from(7),
        size: 110,
    };
    assert_eq!(tx.cost(), U256::from(21_000 * 30 + 7));
    assert_eq!(tx.effective_tip(20), Some(5));
    assert_eq!(tx.effective_tip(27), Some(3));
    assert_eq!(tx.effective_tip(30), Some(0));
    assert_eq!(tx.effective_tip(31), None);
    let huge = TestTx { gas_limit: u64::MAX, max_fee: u128::MAX, value: U256::MAX, ..tx };
    assert_eq!(huge.cost(), U256::MAX);
}
