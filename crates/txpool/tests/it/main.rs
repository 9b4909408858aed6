//! Integration tests for `btcr-txpool`, through its public API only.

mod invariants;

use alloy_primitives::{Address, B256, U256};
use btcr_txpool::PoolTransaction;

pub use btcr_txpool::test_utils::TestTx;

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
