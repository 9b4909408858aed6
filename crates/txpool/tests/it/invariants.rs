//! Random sequences of adds, block commits, removals and block building, with the pool's
//! invariants checked against a model of the chain after every step.

use std::collections::{BTreeMap, HashMap, HashSet};

use alloy_primitives::{Address, B256, U256};
use btcr_txpool::{AddOutcome, PoolConfig, PoolTransaction, SenderState, TxPool};
use proptest::{prelude::*, sample::Index};
use tokio::sync::broadcast::Receiver;

use crate::TestTx;

const N_SENDERS: u8 = 6;

/// Small limits so that random sequences hit every limit and eviction path.
fn config() -> PoolConfig {
    PoolConfig {
        max_per_sender: 4,
        max_transactions: 12,
        max_bytes: 1_500,
        max_nonce_gap: 3,
        max_queued_per_sender: 2,
        max_queued: 5,
        queued_lifetime: std::time::Duration::from_secs(600),
        price_bump_percent: 10,
        min_priority_fee: 0,
    }
}

#[derive(Debug, Clone)]
enum Op {
    Add {
        sender: u8,
        nonce_delta: i8,
        max_fee: u128,
        /// The priority fee as a percentage of the max fee; above 100 is invalid.
        tip_percent: u128,
        gas_limit: u64,
        value: u64,
        size: usize,
    },
    Commit {
        advances: Vec<u8>,
        balances: Vec<u64>,
        base_fee: u128,
    },
    Remove {
        pick: Index,
    },
    Build {
        invalidate_at: Index,
    },
    /// Time passes beyond the queued lifetime.
    Expire,
}

/// Mostly nonces near the sender's next one, so that gaps open and close often; sometimes stale
/// or too far ahead.
fn nonce_delta() -> impl Strategy<Value = i8> {
    prop_oneof![8 => 0i8..4, 1 => Just(-1i8), 1 => 4i8..10]
}

fn op() -> impl Strategy<Value = Op> {
    let n = usize::from(N_SENDERS);
    let add =
        (1..=N_SENDERS, nonce_delta(), 0u128..60, 0u128..105, 1u64..4, 0u64..20, 50usize..200)
            .prop_map(|(sender, nonce_delta, max_fee, tip_percent, gas_limit, value, size)| {
                Op::Add { sender, nonce_delta, max_fee, tip_percent, gas_limit, value, size }
            });
    // Blocks mostly leave a sender alone, so that the pool fills up between them.
    let commit = (
        prop::collection::vec(prop_oneof![3 => Just(0u8), 1 => 1u8..3], n),
        prop::collection::vec(prop_oneof![1 => 0u64..300, 4 => 300u64..2_000], n),
        0u128..30,
    )
        .prop_map(|(advances, balances, base_fee)| Op::Commit { advances, balances, base_fee });
    prop_oneof![
        12 => add,
        2 => commit,
        1 => any::<Index>().prop_map(|pick| Op::Remove { pick }),
        1 => any::<Index>().prop_map(|invalidate_at| Op::Build { invalidate_at }),
        1 => Just(Op::Expire),
    ]
}

/// What the chain says, which the pool must agree with.
struct Model {
    states: HashMap<Address, SenderState>,
    base_fee: u128,
    next_hash: u64,
}

impl Model {
    fn new() -> Self {
        let states = (1..=N_SENDERS)
            .map(|n| {
                (Address::with_last_byte(n), SenderState { nonce: 0, balance: U256::from(1_000) })
            })
            .collect();
        Self { states, base_fee: 5, next_hash: 1 }
    }
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut pool = TxPool::<TestTx>::new(config());
    let mut rx = pool.subscribe_pending();
    let mut model = Model::new();
    for op in ops {
        let pending_before: HashSet<B256> = pool.pending().iter().map(|t| t.hash).collect();
        apply(&mut pool, &mut model, op)?;
        check_announcements(&pool, &pending_before, &mut rx)?;
        check_invariants(&pool, &model)?;
    }
    Ok(())
}

fn apply(pool: &mut TxPool<TestTx>, model: &mut Model, op: Op) -> Result<(), TestCaseError> {
    match op {
        Op::Add { sender, nonce_delta, max_fee, tip_percent, gas_limit, value, size } => {
            let tip = max_fee * tip_percent / 100;
            let sender = Address::with_last_byte(sender);
            let state = model.states[&sender];
            let nonce = u64::try_from(i64::try_from(state.nonce).unwrap() + i64::from(nonce_delta))
                .unwrap_or(0);
            let hash = B256::left_padding_from(&model.next_hash.to_be_bytes());
            model.next_hash += 1;
            let tx = TestTx {
                hash,
                sender,
                nonce,
                gas_limit,
                max_fee,
                tip,
                value: U256::from(value),
                size,
            };
            let result = pool.add(tx.clone(), state, model.base_fee);
            let in_pending = pool.pending().iter().any(|t| t.hash == hash);
            let in_queued = pool.queued().iter().any(|t| t.hash == hash);
            match result {
                Ok(outcome) => {
                    prop_assert!(nonce >= state.nonce);
                    prop_assert!(tip <= max_fee && max_fee >= model.base_fee);
                    prop_assert!(tx.cost() <= state.balance);
                    prop_assert_eq!(pool.get(&hash), Some(tx));
                    match outcome {
                        AddOutcome::Pending => prop_assert!(in_pending),
                        AddOutcome::Queued => prop_assert!(in_queued),
                        AddOutcome::Replaced { old, pending } => {
                            prop_assert!(!pool.contains(&old));
                            prop_assert_eq!(pending, in_pending);
                            prop_assert_eq!(!pending, in_queued);
                        }
                    }
                }
                Err(_) => prop_assert!(!pool.contains(&hash)),
            }
        }
        Op::Commit { advances, balances, base_fee } => {
            let mut updates = Vec::new();
            for (i, (advance, balance)) in advances.into_iter().zip(balances).enumerate() {
                let sender = Address::with_last_byte(u8::try_from(i).unwrap() + 1);
                let state = model.states.get_mut(&sender).unwrap();
                state.nonce += u64::from(advance);
                state.balance = U256::from(balance);
                updates.push((sender, *state));
            }
            model.base_fee = base_fee;
            pool.on_block_committed(updates, base_fee);
        }
        Op::Remove { pick } => {
            let mut all: Vec<B256> =
                pool.pending().iter().chain(&pool.queued()).map(|t| t.hash).collect();
            all.sort();
            if all.is_empty() {
                prop_assert_eq!(pool.remove(&B256::repeat_byte(0xee)), None);
            } else {
                let hash = all[pick.index(all.len())];
                let len = pool.len();
                prop_assert_eq!(pool.remove(&hash).map(|t| t.hash), Some(hash));
                prop_assert!(!pool.contains(&hash));
                prop_assert_eq!(pool.len(), len - 1);
            }
        }
        Op::Expire => {
            let (pending, queued) = (pool.pending_count(), pool.queued_count());
            let later = std::time::Instant::now() + pool.config().queued_lifetime;
            prop_assert_eq!(pool.expire_queued(later), queued);
            prop_assert_eq!((pool.pending_count(), pool.queued_count()), (pending, 0));
        }
        Op::Build { invalidate_at } => {
            let mut best = pool.best(model.base_fee);
            let stop = invalidate_at.index(pool.pending_count().max(1));
            let mut invalid = None;
            let mut seen = 0;
            while let Some(tx) = best.next() {
                prop_assert_ne!(Some(tx.sender), invalid, "a sender marked invalid yielded again");
                if seen == stop {
                    best.mark_invalid(tx.sender);
                    invalid = Some(tx.sender);
                }
                seen += 1;
            }
        }
    }
    Ok(())
}

/// Every transaction that became pending during the step was announced, and only pooled ones
/// that are or were pending were.
fn check_announcements(
    pool: &TxPool<TestTx>,
    pending_before: &HashSet<B256>,
    rx: &mut Receiver<B256>,
) -> Result<(), TestCaseError> {
    let announced: Vec<B256> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
    let pending_now: HashSet<B256> = pool.pending().iter().map(|t| t.hash).collect();
    for hash in &announced {
        prop_assert!(
            pending_now.contains(hash) && !pending_before.contains(hash),
            "{} announced but not newly pending",
            hash
        );
    }
    let announced: HashSet<B256> = announced.into_iter().collect();
    for tx in pool.pending() {
        if !pending_before.contains(&tx.hash) {
            prop_assert!(announced.contains(&tx.hash), "newly pending {} not announced", tx.hash);
        }
    }
    Ok(())
}

fn check_invariants(pool: &TxPool<TestTx>, model: &Model) -> Result<(), TestCaseError> {
    let config = pool.config().clone();
    let pending = pool.pending();
    let queued = pool.queued();

    // Counts, bytes and limits.
    prop_assert_eq!(pending.len(), pool.pending_count());
    prop_assert_eq!(queued.len(), pool.queued_count());
    prop_assert_eq!(pending.len() + queued.len(), pool.len());
    prop_assert_eq!(pool.is_empty(), pending.is_empty() && queued.is_empty());
    let bytes: usize = pending.iter().chain(&queued).map(|t| t.size).sum();
    prop_assert_eq!(bytes, pool.total_bytes());
    prop_assert!(pool.len() <= config.max_transactions);
    prop_assert!(bytes <= config.max_bytes);

    // Each hash in exactly one place, and findable.
    let mut hashes = HashSet::new();
    for tx in pending.iter().chain(&queued) {
        prop_assert!(hashes.insert(tx.hash), "hash {} listed twice", tx.hash);
        prop_assert!(pool.contains(&tx.hash));
        prop_assert_eq!(pool.get(&tx.hash), Some(tx.clone()));
    }

    // Per sender: unique nonces, pending contiguous from the committed nonce, queued after a gap,
    // nothing stale, within the sender limit and the balance.
    let mut by_sender: BTreeMap<Address, (Vec<&TestTx>, Vec<&TestTx>)> = BTreeMap::new();
    for tx in &pending {
        by_sender.entry(tx.sender).or_default().0.push(tx);
    }
    for tx in &queued {
        by_sender.entry(tx.sender).or_default().1.push(tx);
    }
    for (sender, state) in &model.states {
        let Some((sender_pending, sender_queued)) = by_sender.get(sender) else {
            prop_assert_eq!(pool.pending_nonce(sender), None);
            continue;
        };
        let pending_nonces: Vec<u64> = sender_pending.iter().map(|t| t.nonce).collect();
        let expected: Vec<u64> = (state.nonce..state.nonce + pending_nonces.len() as u64).collect();
        prop_assert_eq!(&pending_nonces, &expected, "pending of {} not contiguous", sender);
        let pending_end = state.nonce + pending_nonces.len() as u64;
        prop_assert_eq!(pool.pending_nonce(sender), Some(pending_end));
        let mut queued_nonces: Vec<u64> = sender_queued.iter().map(|t| t.nonce).collect();
        prop_assert!(queued_nonces.iter().all(|&n| n > pending_end), "queued without a gap");
        queued_nonces.dedup();
        prop_assert_eq!(queued_nonces.len(), sender_queued.len(), "duplicate queued nonce");
        prop_assert!(sender_pending.len() + sender_queued.len() <= config.max_per_sender);
        let cost =
            sender_pending.iter().chain(sender_queued).fold(U256::ZERO, |sum, t| sum + t.cost());
        prop_assert!(cost <= state.balance, "{} overdrawn", sender);
    }

    check_best(pool, model.base_fee, &by_sender)
}

/// `best` yields only pending transactions, each sender's in nonce order, every yielded one
/// paying at least as much as every other sender's next one, and stops a sender only at a
/// transaction that cannot pay the base fee.
fn check_best(
    pool: &TxPool<TestTx>,
    base_fee: u128,
    by_sender: &BTreeMap<Address, (Vec<&TestTx>, Vec<&TestTx>)>,
) -> Result<(), TestCaseError> {
    let mut cursors: BTreeMap<Address, usize> = by_sender.keys().map(|&s| (s, 0)).collect();
    let head_tip = |sender: &Address, cursor: usize| {
        by_sender[sender].0.get(cursor).and_then(|t| t.effective_tip(base_fee))
    };
    for tx in pool.best(base_fee) {
        let cursor = cursors.get(&tx.sender).copied();
        prop_assert!(cursor.is_some(), "yielded a transaction from an unknown sender");
        let cursor = cursor.unwrap_or_default();
        prop_assert_eq!(
            by_sender[&tx.sender].0.get(cursor).copied(),
            Some(&tx),
            "out of nonce order"
        );
        let tip = tx.effective_tip(base_fee);
        prop_assert!(tip.is_some(), "yielded a transaction below the base fee");
        for (other, &other_cursor) in &cursors {
            if *other != tx.sender {
                prop_assert!(head_tip(other, other_cursor) <= tip, "a better head was waiting");
            }
        }
        cursors.insert(tx.sender, cursor + 1);
    }
    for (sender, cursor) in cursors {
        let done = cursor == by_sender[&sender].0.len();
        prop_assert!(done || head_tip(&sender, cursor).is_none(), "{} stopped early", sender);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_operations_keep_the_pool_consistent(ops in prop::collection::vec(op(), 1..80)) {
        run(ops)?;
    }
}
