//! The tree alone: updating 1,000 keys (already hashed, with their new leaf values) in a
//! tree of 10k, 100k or 1M keys held in a plain in-memory page map. Its cost follows the
//! number of nodes on the changed paths, about `k · (2 + log2(n / k))`, which grows 2.2x
//! from 10k to 1M. The per-block figure, with the account hashing and the store's page
//! cache, is the `state_root_store` benchmark of the storage crate.

use std::{collections::BTreeMap, hint::black_box, time::Duration};

use alloy_primitives::{B256, keccak256};
use btcr_trie::{MemoryNodeStore, NodeWrites, TreeId, update};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rand::{Rng, SeedableRng, rngs::StdRng};

const CHANGED: usize = 1_000;

fn key(i: u64) -> B256 {
    keccak256(i.to_be_bytes())
}

fn populated(n: u64) -> MemoryNodeStore {
    let mut store = MemoryNodeStore::default();
    let mut writes = NodeWrites::default();
    let changes: BTreeMap<B256, Option<B256>> =
        (0..n).map(|i| (key(i), Some(keccak256(i.to_le_bytes())))).collect();
    update(&store, TreeId::ACCOUNTS, &changes, &mut writes).expect("in-memory reads cannot fail");
    store.apply(writes);
    store
}

fn bench_state_root(c: &mut Criterion) {
    let mut group = c.benchmark_group("state_root_update_1000_accounts");
    group.sample_size(20).measurement_time(Duration::from_secs(5));
    for n in [10_000u64, 100_000, 1_000_000] {
        let store = populated(n);
        let mut rng = StdRng::seed_from_u64(n);
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter_batched(
                || {
                    // 1,000 existing accounts whose leaf (balance, nonce) changes.
                    (0..CHANGED)
                        .map(|_| {
                            let i = rng.random_range(0..n);
                            (key(i), Some(B256::from(rng.random::<[u8; 32]>())))
                        })
                        .collect::<BTreeMap<_, _>>()
                },
                |changes| {
                    let mut writes = NodeWrites::default();
                    let root = update(&store, TreeId::ACCOUNTS, &changes, &mut writes)
                        .expect("in-memory reads cannot fail");
                    black_box((root, writes.len()))
                },
                criterion::BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench_state_root);
criterion_main!(benches);
