//! Unit tests for the pool: every error with its message, replacement, promotion, block commits,
//! eviction and block ordering. Each test ends by checking the internal indices.

use alloy_primitives::{Address, B256, U256};

use crate::{AddOutcome, PoolConfig, PoolError, SenderState, TxPool};

use crate::test_utils::TestTx as MockTx;

fn addr(n: u8) -> Address {
    Address::with_last_byte(n)
}

/// A transaction whose hash is derived from all its fields, so distinct test transactions get
/// distinct hashes.
fn tx(sender: u8, nonce: u64, max_fee: u128, tip: u128) -> MockTx {
    let mut bytes = [0u8; 32];
    bytes[0] = sender;
    bytes[1..9].copy_from_slice(&nonce.to_be_bytes());
    bytes[9..17].copy_from_slice(&(max_fee as u64).to_be_bytes());
    bytes[17..25].copy_from_slice(&(tip as u64).to_be_bytes());
    MockTx {
        hash: B256::from(bytes),
        sender: addr(sender),
        nonce,
        gas_limit: 21_000,
        max_fee,
        tip,
        value: U256::ZERO,
        size: 100,
    }
}

fn rich(nonce: u64) -> SenderState {
    SenderState { nonce, balance: U256::from(10u128.pow(30)) }
}

fn pool() -> TxPool<MockTx> {
    TxPool::new(PoolConfig::default())
}

fn add(pool: &mut TxPool<MockTx>, tx: &MockTx) -> Result<AddOutcome, PoolError> {
    let result = pool.add(tx.clone(), rich(0), 10);
    pool.assert_consistent();
    result
}

fn err_message(
    pool: &mut TxPool<MockTx>,
    tx: MockTx,
    state: SenderState,
    base_fee: u128,
) -> String {
    let err = pool.add(tx, state, base_fee).expect_err("the transaction is invalid");
    pool.assert_consistent();
    err.to_string()
}

fn hashes(txs: impl IntoIterator<Item = MockTx>) -> Vec<B256> {
    txs.into_iter().map(|t| t.hash).collect()
}

#[test]
fn already_known() {
    let mut pool = pool();
    let t = tx(1, 0, 20, 2);
    assert_eq!(add(&mut pool, &t), Ok(AddOutcome::Pending));
    assert_eq!(add(&mut pool, &t), Err(PoolError::AlreadyKnown));
    assert_eq!(PoolError::AlreadyKnown.to_string(), "already known");
}

#[test]
fn nonce_too_low() {
    let mut pool = pool();
    assert_eq!(
        err_message(&mut pool, tx(1, 3, 20, 2), rich(5), 10),
        "nonce too low: expected 5, got 3"
    );
}

#[test]
fn stale_state_does_not_lower_a_known_committed_nonce() {
    let mut pool = pool();
    pool.add(tx(1, 5, 20, 2), rich(5), 10).unwrap();
    // State read before the block that moved the nonce to 5 still says 4.
    assert_eq!(
        err_message(&mut pool, tx(1, 4, 20, 2), rich(4), 10),
        "nonce too low: expected 5, got 4"
    );
}

#[test]
fn nonce_too_high() {
    let mut pool = TxPool::new(PoolConfig { max_nonce_gap: 2, ..PoolConfig::default() });
    pool.add(tx(1, 0, 20, 2), rich(0), 10).unwrap();
    assert_eq!(pool.add(tx(1, 3, 20, 2), rich(0), 10), Ok(AddOutcome::Queued));
    assert_eq!(
        err_message(&mut pool, tx(1, 4, 20, 2), rich(0), 10),
        "nonce too high: expected 1, got 4 (at most 2 ahead)"
    );
    assert_eq!(
        err_message(&mut pool, tx(2, u64::MAX, 20, 2), rich(u64::MAX - 1), 10),
        format!("nonce too high: expected {}, got {} (at most 2 ahead)", u64::MAX - 1, u64::MAX)
    );
}

#[test]
fn insufficient_funds_counts_the_senders_other_transactions() {
    let mut pool = pool();
    let first = tx(1, 0, 10, 1); // cost 21_000 * 10 = 210_000
    let state = SenderState { nonce: 0, balance: U256::from(300_000) };
    assert_eq!(pool.add(first, state, 10), Ok(AddOutcome::Pending));
    assert_eq!(
        err_message(&mut pool, tx(1, 1, 10, 1), state, 10),
        "insufficient funds: balance 300000, cost 420000"
    );
    let mut expensive = tx(2, 0, 10, 1);
    expensive.value = U256::from(1);
    let poor = SenderState { nonce: 0, balance: U256::from(210_000) };
    assert_eq!(
        err_message(&mut pool, expensive, poor, 10),
        "insufficient funds: balance 210000, cost 210001"
    );
}

#[test]
fn fee_cap_below_base_fee() {
    let mut pool = pool();
    assert_eq!(
        err_message(&mut pool, tx(1, 0, 9, 1), rich(0), 10),
        "max fee per gas below base fee: max fee 9, base fee 10"
    );
}

#[test]
fn tip_above_fee_cap() {
    let mut pool = pool();
    assert_eq!(
        err_message(&mut pool, tx(1, 0, 20, 21), rich(0), 10),
        "max priority fee per gas higher than max fee per gas"
    );
}

#[test]
fn tip_below_minimum() {
    let mut pool = TxPool::new(PoolConfig { min_priority_fee: 3, ..PoolConfig::default() });
    assert_eq!(
        err_message(&mut pool, tx(1, 0, 20, 2), rich(0), 10),
        "max priority fee per gas below minimum: tip 2, minimum 3"
    );
}

#[test]
fn oversized() {
    let mut pool = TxPool::new(PoolConfig { max_bytes: 99, ..PoolConfig::default() });
    assert_eq!(
        err_message(&mut pool, tx(1, 0, 20, 2), rich(0), 10),
        "transaction too large for the pool: 100 bytes, limit 99"
    );
}

#[test]
fn sender_limit_counts_pending_and_queued() {
    let mut pool = TxPool::new(PoolConfig { max_per_sender: 2, ..PoolConfig::default() });
    add(&mut pool, &tx(1, 0, 20, 2)).unwrap();
    add(&mut pool, &tx(1, 2, 20, 2)).unwrap();
    assert_eq!(
        err_message(&mut pool, tx(1, 1, 20, 2), rich(0), 10),
        "too many transactions from sender: limit 2"
    );
    // Replacing does not add a transaction, so the limit does not apply.
    assert!(matches!(add(&mut pool, &tx(1, 2, 22, 3)), Ok(AddOutcome::Replaced { .. })));
}

#[test]
fn replacement_needs_the_bump_on_both_fees() {
    let mut pool = pool();
    let original = tx(1, 0, 100, 10);
    add(&mut pool, &original).unwrap();
    let expected = "replacement transaction underpriced: need max fee per gas >= 110 \
                    and max priority fee per gas >= 11";
    assert_eq!(err_message(&mut pool, tx(1, 0, 200, 10), rich(0), 10), expected);
    assert_eq!(err_message(&mut pool, tx(1, 0, 109, 50), rich(0), 10), expected);

    let mut rx = pool.subscribe_pending();
    let replacement = tx(1, 0, 110, 11);
    assert_eq!(
        add(&mut pool, &replacement),
        Ok(AddOutcome::Replaced { old: original.hash, pending: true })
    );
    assert!(!pool.contains(&original.hash));
    assert_eq!(pool.get(&replacement.hash), Some(replacement.clone()));
    assert_eq!((pool.len(), pool.pending_count()), (1, 1));
    assert_eq!(rx.try_recv(), Ok(replacement.hash));

    // A queued replacement stays queued and is not announced.
    add(&mut pool, &tx(1, 5, 100, 10)).unwrap();
    assert_eq!(
        add(&mut pool, &tx(1, 5, 110, 11)),
        Ok(AddOutcome::Replaced { old: tx(1, 5, 100, 10).hash, pending: false })
    );
    assert!(rx.try_recv().is_err());
}

#[test]
fn filling_a_gap_promotes_queued_transactions_and_announces_them() {
    let mut pool = pool();
    let mut rx = pool.subscribe_pending();
    let (t0, t1, t2, t4) = (tx(1, 0, 20, 2), tx(1, 1, 20, 2), tx(1, 2, 20, 2), tx(1, 4, 20, 2));
    assert_eq!(add(&mut pool, &t0), Ok(AddOutcome::Pending));
    assert_eq!(add(&mut pool, &t2), Ok(AddOutcome::Queued));
    assert_eq!(add(&mut pool, &t4), Ok(AddOutcome::Queued));
    assert_eq!((pool.pending_count(), pool.queued_count()), (1, 2));
    assert_eq!(pool.pending_nonce(&addr(1)), Some(1));

    assert_eq!(add(&mut pool, &t1), Ok(AddOutcome::Pending));
    assert_eq!((pool.pending_count(), pool.queued_count()), (3, 1));
    assert_eq!(pool.pending_nonce(&addr(1)), Some(3));
    assert_eq!(hashes(pool.pending()), vec![t0.hash, t1.hash, t2.hash]);
    assert_eq!(hashes(pool.queued()), vec![t4.hash]);
    let announced: Vec<B256> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
    assert_eq!(announced, vec![t0.hash, t1.hash, t2.hash]);
}

#[test]
fn removing_a_pending_transaction_demotes_its_successors() {
    let mut pool = pool();
    let txs: Vec<MockTx> = (0..4).map(|n| tx(1, n, 20, 2)).collect();
    for t in &txs {
        add(&mut pool, t).unwrap();
    }
    assert_eq!(pool.remove(&txs[1].hash), Some(txs[1].clone()));
    pool.assert_consistent();
    assert_eq!(hashes(pool.pending()), vec![txs[0].hash]);
    assert_eq!(hashes(pool.queued()), vec![txs[2].hash, txs[3].hash]);
    assert_eq!(pool.remove(&txs[1].hash), None);
    pool.remove(&txs[0].hash);
    pool.remove(&txs[2].hash);
    pool.remove(&txs[3].hash);
    pool.assert_consistent();
    assert!(pool.is_empty());
    assert_eq!(pool.pending_nonce(&addr(1)), None);
}

#[test]
fn block_commit_removes_included_and_promotes() {
    let mut pool = pool();
    let mut rx = pool.subscribe_pending();
    let (t0, t1, t3, t4) = (tx(1, 0, 20, 2), tx(1, 1, 20, 2), tx(1, 3, 20, 2), tx(1, 4, 20, 2));
    let other = tx(2, 0, 20, 2);
    for t in [&t0, &t1, &t3, &t4, &other] {
        add(&mut pool, t).unwrap();
    }
    while rx.try_recv().is_ok() {}

    // Nonces 0..=2 were included (2 reached the block builder from elsewhere).
    pool.on_block_committed([(addr(1), rich(3))], 12);
    pool.assert_consistent();
    assert!(!pool.contains(&t0.hash) && !pool.contains(&t1.hash));
    assert_eq!(pool.pending_nonce(&addr(1)), Some(5));
    assert_eq!((pool.pending_count(), pool.queued_count()), (3, 0));
    assert_eq!(pool.base_fee(), 12);
    let announced: Vec<B256> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
    assert_eq!(announced, vec![t3.hash, t4.hash]);
    assert!(pool.contains(&other.hash), "senders not in the block are untouched");
}

#[test]
fn block_commit_drops_what_the_new_balance_cannot_pay() {
    let mut pool = pool();
    let txs: Vec<MockTx> = (0..3).map(|n| tx(1, n, 10, 1)).collect(); // 210_000 each
    for t in &txs {
        add(&mut pool, t).unwrap();
    }
    pool.on_block_committed(
        [(addr(1), SenderState { nonce: 0, balance: U256::from(450_000) })],
        10,
    );
    pool.assert_consistent();
    assert_eq!(hashes(pool.pending()), vec![txs[0].hash, txs[1].hash]);
    assert!(!pool.contains(&txs[2].hash));
    pool.on_block_committed([(addr(1), SenderState { nonce: 1, balance: U256::ZERO })], 10);
    pool.assert_consistent();
    assert!(pool.is_empty());
}

#[test]
fn full_pool_evicts_queued_before_pending_and_pending_only_for_a_better_tip() {
    let config = PoolConfig { max_transactions: 3, ..PoolConfig::default() };
    let mut pool = TxPool::new(config);
    let cheap_pending = tx(1, 0, 20, 1);
    let queued = tx(2, 5, 20, 3);
    let other = tx(3, 0, 20, 4);
    for t in [&cheap_pending, &queued, &other] {
        add(&mut pool, t).unwrap();
    }
    // A pending arrival evicts a queued transaction whatever it pays: queued ones cannot
    // execute, and would otherwise let future nonces lock executable ones out.
    let newcomer = tx(4, 0, 20, 2);
    assert_eq!(add(&mut pool, &newcomer), Ok(AddOutcome::Pending));
    assert!(!pool.contains(&queued.hash), "queued evicted first, though it pays more");
    assert!(pool.contains(&cheap_pending.hash));

    // With no queued left, pending ones go only for a better tip, the cheapest first.
    let newcomer2 = tx(5, 0, 20, 5);
    assert_eq!(add(&mut pool, &newcomer2), Ok(AddOutcome::Pending));
    assert!(!pool.contains(&cheap_pending.hash), "cheapest pending evicted");
    assert!(pool.contains(&newcomer.hash));

    assert_eq!(add(&mut pool, &tx(6, 0, 20, 2)), Err(PoolError::PoolFull));
    assert_eq!(
        PoolError::PoolFull.to_string(),
        "transaction pool is full and the transaction pays too little to evict another"
    );
    // A queued arrival evicts pending ones only for a better tip, too.
    assert_eq!(add(&mut pool, &tx(7, 3, 20, 1)), Err(PoolError::PoolFull));
    pool.assert_consistent();
}

/// ~800 funded accounts queuing 64 future nonces each once filled every pool and locked
/// everyone else out at no cost: queued transactions now have a cap per sender and overall,
/// and a lifetime.
#[test]
fn queued_transactions_are_capped_per_sender_and_overall_and_expire() {
    let config = PoolConfig {
        max_queued_per_sender: 3,
        max_queued: 5,
        queued_lifetime: std::time::Duration::from_secs(60),
        ..PoolConfig::default()
    };
    let mut pool = TxPool::new(config);
    for nonce in 1..=3 {
        assert_eq!(add(&mut pool, &tx(1, nonce, 20, 1)), Ok(AddOutcome::Queued));
    }
    let refused = add(&mut pool, &tx(1, 4, 20, 1));
    assert_eq!(refused, Err(PoolError::QueuedSenderLimit { limit: 3 }));
    assert_eq!(
        refused.unwrap_err().to_string(),
        "too many queued transactions from sender (nonces ahead of the next): limit 3"
    );
    // Pending ones from the same sender are still welcome, and close the gap.
    assert_eq!(add(&mut pool, &tx(1, 0, 20, 1)), Ok(AddOutcome::Pending));
    assert_eq!((pool.pending_count(), pool.queued_count()), (4, 0));

    for nonce in 1..=3 {
        assert_eq!(add(&mut pool, &tx(2, nonce, 20, 1)), Ok(AddOutcome::Queued));
    }
    for nonce in 1..=2 {
        assert_eq!(add(&mut pool, &tx(3, nonce, 20, 1)), Ok(AddOutcome::Queued));
    }
    let full = add(&mut pool, &tx(4, 1, 20, 9));
    assert_eq!(full, Err(PoolError::QueuedFull { limit: 5 }));
    assert!(full.unwrap_err().to_string().contains("send the missing nonce first"));
    assert_eq!(add(&mut pool, &tx(4, 0, 20, 1)), Ok(AddOutcome::Pending), "pending still enters");
    pool.assert_consistent();

    // Nothing expires before its lifetime; every queued one after it; pending ones stay.
    let start = std::time::Instant::now();
    assert_eq!(pool.expire_queued(start), 0);
    assert_eq!(pool.expire_queued(start + std::time::Duration::from_secs(61)), 5);
    assert_eq!((pool.pending_count(), pool.queued_count()), (5, 0));
    pool.assert_consistent();
    assert_eq!(add(&mut pool, &tx(4, 2, 20, 1)), Ok(AddOutcome::Queued), "room again");
}

#[test]
fn eviction_takes_a_senders_highest_pending_nonce() {
    let config = PoolConfig { max_transactions: 3, ..PoolConfig::default() };
    let mut pool = TxPool::new(config);
    // The sender's first transaction pays least, but evicting it would strand the others.
    let txs = [tx(1, 0, 20, 1), tx(1, 1, 20, 5), tx(1, 2, 20, 6)];
    for t in &txs {
        add(&mut pool, t).unwrap();
    }
    assert_eq!(add(&mut pool, &tx(2, 0, 20, 6)), Err(PoolError::PoolFull));
    assert_eq!(add(&mut pool, &tx(2, 0, 20, 7)), Ok(AddOutcome::Pending));
    assert_eq!(
        hashes(pool.best(10).filter(|t| t.sender == addr(1))),
        vec![txs[0].hash, txs[1].hash]
    );
}

#[test]
fn byte_limit_evicts_as_many_as_needed() {
    let config = PoolConfig { max_bytes: 300, ..PoolConfig::default() };
    let mut pool = TxPool::new(config);
    for sender in 1..=3 {
        add(&mut pool, &tx(sender, 0, 20, 1)).unwrap();
    }
    let mut big = tx(9, 0, 20, 2);
    big.size = 250;
    assert_eq!(add(&mut pool, &big), Ok(AddOutcome::Pending));
    assert_eq!((pool.len(), pool.total_bytes()), (1, 250));
}

#[test]
fn base_fee_change_reranks_eviction() {
    let config = PoolConfig { max_transactions: 2, ..PoolConfig::default() };
    let mut pool = TxPool::new(config);
    let high_cap = tx(1, 0, 100, 5); // tip 5 at any base fee up to 95
    let low_cap = tx(2, 0, 16, 8); // tip 6 at base fee 10, none at base fee 20
    add(&mut pool, &high_cap).unwrap();
    add(&mut pool, &low_cap).unwrap();
    pool.on_block_committed([], 20);
    pool.assert_consistent();
    let newcomer = tx(3, 0, 100, 1);
    assert_eq!(pool.add(newcomer, rich(0), 20), Ok(AddOutcome::Pending));
    pool.assert_consistent();
    assert!(!pool.contains(&low_cap.hash) && pool.contains(&high_cap.hash));
}

#[test]
fn best_orders_by_tip_then_arrival_with_nonces_in_order() {
    let mut pool = pool();
    let a0 = tx(1, 0, 100, 1);
    let a1 = tx(1, 1, 100, 9);
    let b0 = tx(2, 0, 100, 5);
    let c0 = tx(3, 0, 100, 5);
    let d0 = tx(4, 0, 100, 7);
    let queued = tx(5, 1, 100, 50);
    for t in [&a0, &a1, &b0, &c0, &d0, &queued] {
        add(&mut pool, t).unwrap();
    }
    // d0 (7), then b0 and c0 (5, by arrival), then a0 (1) which unlocks a1 (9).
    assert_eq!(hashes(pool.best(10)), vec![d0.hash, b0.hash, c0.hash, a0.hash, a1.hash]);
    // At base fee 96 the tips are capped at 4: d0, b0, c0 tie (arrival order) above a0's 1.
    assert_eq!(hashes(pool.best(96)), vec![b0.hash, c0.hash, d0.hash, a0.hash, a1.hash]);
}

#[test]
fn best_after_starts_each_sender_past_the_nonces_a_builder_already_holds() {
    let mut pool = pool();
    let a: Vec<MockTx> = (0..3).map(|n| tx(1, n, 100, 9)).collect();
    let b: Vec<MockTx> = (0..2).map(|n| tx(2, n, 100, 5)).collect();
    let c0 = tx(3, 0, 100, 1);
    for t in a.iter().chain(&b).chain([&c0]) {
        add(&mut pool, t).unwrap();
    }
    let next = |sender: &Address| match sender.0[19] {
        1 => Some(2),
        2 => Some(7),
        _ => None,
    };
    // a resumes at nonce 2, b is done (nonce 7 is past its run), c starts from its first.
    assert_eq!(hashes(pool.best_after(10, next)), vec![a[2].hash, c0.hash]);
    // Nothing held: the same as best.
    assert_eq!(hashes(pool.best_after(10, |_| None)), hashes(pool.best(10)));
    pool.assert_consistent();
}

#[test]
fn best_skips_a_sender_below_the_base_fee_and_its_later_nonces() {
    let mut pool = pool();
    let a0 = tx(1, 0, 15, 1);
    let a1 = tx(1, 1, 100, 9);
    let b0 = tx(2, 0, 100, 2);
    let b1 = tx(2, 1, 15, 2);
    let b2 = tx(2, 2, 100, 2);
    for t in [&a0, &a1, &b0, &b1, &b2] {
        add(&mut pool, t).unwrap();
    }
    assert_eq!(hashes(pool.best(20)), vec![b0.hash]);
}

#[test]
fn mark_invalid_skips_the_rest_of_a_sender() {
    let mut pool = pool();
    let a: Vec<MockTx> = (0..3).map(|n| tx(1, n, 100, 9)).collect();
    let b: Vec<MockTx> = (0..2).map(|n| tx(2, n, 100, 5)).collect();
    for t in a.iter().chain(&b) {
        add(&mut pool, t).unwrap();
    }
    let mut best = pool.best(10);
    let first = best.next().unwrap();
    assert_eq!(first.hash, a[0].hash);
    best.mark_invalid(first.sender);
    assert_eq!(hashes(best), hashes(b.clone()));
    // The pool itself is unchanged by the builder's view.
    assert_eq!(pool.pending_count(), 5);
}

/// Random operations with the internal indices checked after each one; the integration tests
/// check the same sequences from the outside, where index corruption would go unseen.
mod random {
    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        Add { sender: u8, nonce: u64, max_fee: u128, tip: u128, size: usize },
        Commit { sender: u8, nonce: u64, balance: u64, base_fee: u128 },
        Remove { sender: u8, nonce: u64 },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => (1u8..5, 0u64..8, 10u128..40, 0u128..10, 50usize..200)
                .prop_map(|(sender, nonce, max_fee, tip, size)| Op::Add { sender, nonce, max_fee, tip, size }),
            2 => (1u8..5, 0u64..6, 0u64..4_000_000, 0u128..30)
                .prop_map(|(sender, nonce, balance, base_fee)| Op::Commit { sender, nonce, balance, base_fee }),
            1 => (1u8..5, 0u64..8).prop_map(|(sender, nonce)| Op::Remove { sender, nonce }),
        ]
    }

    proptest! {
        #[test]
        fn indices_stay_consistent(ops in prop::collection::vec(op(), 1..60)) {
            let config = PoolConfig {
                max_per_sender: 4,
                max_transactions: 10,
                max_bytes: 1_200,
                max_nonce_gap: 3,
                ..PoolConfig::default()
            };
            let mut pool = TxPool::new(config);
            let mut nonces = [0u64; 5];
            let mut base_fee = 10;
            for op in ops {
                match op {
                    Op::Add { sender, nonce, max_fee, tip, size } => {
                        let mut t = tx(sender, nonce, max_fee, tip);
                        t.size = size;
                        let _ = pool.add(t, rich(nonces[usize::from(sender)]), base_fee);
                    }
                    Op::Commit { sender, nonce, balance, base_fee: new_base_fee } => {
                        let committed = &mut nonces[usize::from(sender)];
                        *committed = (*committed).max(nonce);
                        base_fee = new_base_fee;
                        let state = SenderState { nonce: *committed, balance: U256::from(balance) };
                        pool.on_block_committed([(addr(sender), state)], base_fee);
                    }
                    Op::Remove { sender, nonce } => {
                        let hash = pool.pending().into_iter().chain(pool.queued())
                            .find(|t| t.sender == addr(sender) && t.nonce == nonce)
                            .map(|t| t.hash);
                        if let Some(hash) = hash {
                            prop_assert!(pool.remove(&hash).is_some());
                        }
                    }
                }
                pool.assert_consistent();
            }
        }
    }
}
