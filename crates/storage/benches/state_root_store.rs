//! State-root update cost with the real store: a block changes 1,000 accounts (balance and
//! nonce) in a state of 10k, 100k or 1M accounts kept in redb. Each iteration hashes the
//! changed accounts into their keys and leaves, reads the tree pages on their paths from a
//! store snapshot of the head (through the store's page cache) and computes the new root and
//! node writes, exactly as block building does after execution. The three medians should
//! stay within 2x of each other.
//!
//! A second group measures the whole state update of such a block: the new root, then the
//! durable commit (accounts, tree pages, head, fsync) that makes it the chain's state.

use std::{collections::BTreeMap, hint::black_box, time::Duration};

use alloy_primitives::{Address, B256, U256};
use btcr_execution::compute_state_root;
use btcr_primitives::{
    Account, AccountChange, Block, BlockBody, EMPTY_CODE_HASH, Header, StateChanges, StateReader,
};
use btcr_storage::{BlockCommit, ChainStore, StoreConfig};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rand::{Rng, SeedableRng, rngs::StdRng};

const CHANGED: usize = 1_000;

fn address(i: u64) -> Address {
    let mut a = [0u8; 20];
    a[12..].copy_from_slice(&i.to_be_bytes());
    Address::from(a)
}

fn account(balance: u64, nonce: u64) -> Account {
    Account {
        nonce,
        balance: U256::from(balance),
        code_hash: EMPTY_CODE_HASH,
        storage_root: B256::ZERO,
    }
}

fn changes(accounts: impl Iterator<Item = (Address, Account)>) -> StateChanges {
    StateChanges {
        accounts: accounts
            .map(|(a, acc)| (a, AccountChange { account: Some(acc), ..Default::default() }))
            .collect::<BTreeMap<_, _>>(),
        codes: BTreeMap::new(),
    }
}

/// New balances for `CHANGED` random accounts among the first `n`.
fn random_changes(rng: &mut StdRng, n: u64) -> StateChanges {
    changes((0..CHANGED).map(|_| (address(rng.random_range(0..n)), account(rng.random(), 1))))
}

/// A store whose genesis holds `n` accounts.
fn populated(n: u64) -> (tempfile::TempDir, ChainStore) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = StoreConfig {
        node_cache_pages: std::env::var("BTCR_BENCH_NODE_CACHE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(StoreConfig::default().node_cache_pages),
        ..StoreConfig::default()
    };
    let store = ChainStore::open_with(dir.path(), &config).expect("open store");
    let snapshot = store.snapshot().expect("snapshot");
    let root =
        compute_state_root(&*snapshot, changes((0..n).map(|i| (address(i), account(i + 1, 0)))))
            .expect("genesis root");
    let block =
        Block { header: header(0, B256::ZERO, root.state_root), body: BlockBody::default() };
    store
        .commit_block(BlockCommit {
            block: &block,
            tx_hashes: &[],
            senders: &[],
            next_validators: None,
            receipts: &[],
            changes: &root.changes,
            node_writes: &root.node_writes,
            certificate: None,
        })
        .expect("commit genesis");
    (dir, store)
}

fn bench_state_root_store(c: &mut Criterion) {
    let mut group = c.benchmark_group("state_root_store_1000_accounts");
    group.sample_size(20).measurement_time(Duration::from_secs(6));
    for n in [10_000u64, 100_000, 1_000_000] {
        let (_dir, store) = populated(n);
        let snapshot = store.snapshot().expect("snapshot");
        let mut rng = StdRng::seed_from_u64(n);
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter_batched(
                || random_changes(&mut rng, n),
                |changes| {
                    let out = compute_state_root(&*snapshot, changes).expect("root");
                    black_box((out.state_root, out.node_writes.len()))
                },
                criterion::BatchSize::SmallInput,
            )
        });
        // Keep the reader type in use so the snapshot is a real StateReader.
        black_box(snapshot.account(&address(0)).expect("read"));
    }
    group.finish();
}

fn header(number: u64, parent_hash: B256, state_root: B256) -> Header {
    Header {
        parent_hash,
        number,
        timestamp_ms: number,
        proposer: Address::ZERO,
        state_root,
        transactions_root: B256::ZERO,
        receipts_root: B256::ZERO,
        logs_bloom: Default::default(),
        gas_used: 0,
        gas_limit: 30_000_000,
        base_fee_per_gas: 1,
        poh_start_hash: B256::ZERO,
        poh_end_hash: B256::ZERO,
        poh_ticks: 0,
        extra_data: Default::default(),
        poh_entries_root: None,
    }
}

fn bench_block_state_update(c: &mut Criterion) {
    let mut group = c.benchmark_group("block_state_update_1000_accounts");
    group.sample_size(20).measurement_time(Duration::from_secs(8));
    for n in [10_000u64, 100_000, 1_000_000] {
        let (_dir, store) = populated(n);
        let mut parent =
            store.snapshot().expect("snapshot").head_header().expect("head").expect("genesis");
        let mut rng = StdRng::seed_from_u64(n);
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter_batched(
                || random_changes(&mut rng, n),
                |changes| {
                    let snapshot = store.snapshot().expect("snapshot");
                    let out = compute_state_root(&*snapshot, changes).expect("root");
                    let block = Block {
                        header: header(parent.number + 1, parent.hash(), out.state_root),
                        body: BlockBody::default(),
                    };
                    store
                        .commit_block(BlockCommit {
                            block: &block,
                            tx_hashes: &[],
                            senders: &[],
                            next_validators: None,
                            receipts: &[],
                            changes: &out.changes,
                            node_writes: &out.node_writes,
                            certificate: None,
                        })
                        .expect("commit");
                    parent = block.header;
                },
                criterion::BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench_state_root_store, bench_block_state_update);
criterion_main!(benches);
