//! PoH benchmarks: generation against a bare SHA-256 chain, and verification on 1 vs 2
//! threads. Besides criterion's reports, each group prints a side-by-side summary line.

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use alloy_primitives::B256;
use btcr_poh::{Poh, PohConfig, PohEntry, batch_hash, verify_with_pool};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sha2::{Digest, Sha256};

/// Hashes per generation run: 80 ticks of 12,500.
const N_HASHES: u64 = 1_000_000;
const GENERATION_CONFIG: PohConfig = PohConfig { hashes_per_tick: 12_500, ticks_per_block: 80 };
/// The verification block: 64 ticks of 50,000 hashes.
const VERIFY_CONFIG: PohConfig = PohConfig { hashes_per_tick: 50_000, ticks_per_block: 64 };

/// The reference: `h = sha256(h)`, nothing else.
fn bare_chain(n: u64) -> [u8; 32] {
    let mut hash = [0u8; 32];
    for _ in 0..n {
        hash = Sha256::digest(hash).into();
    }
    hash
}

/// A whole block of `config` with `Poh`, ticks included.
fn poh_chain(config: PohConfig) -> B256 {
    let mut poh = Poh::new(B256::ZERO, config).expect("valid config");
    while !poh.is_block_complete() {
        poh.hash(u64::MAX);
        poh.tick();
    }
    poh.current_hash()
}

/// Wall time of one call of `f`, its result kept alive so the work is not optimised away.
fn time<T>(f: impl FnOnce() -> T) -> Duration {
    let started = Instant::now();
    black_box(f());
    started.elapsed()
}

fn generation(c: &mut Criterion) {
    assert_eq!(GENERATION_CONFIG.hashes_per_block(), N_HASHES);
    let mut group = c.benchmark_group("generation");
    group.sample_size(10).warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4)).throughput(Throughput::Elements(N_HASHES));
    group.bench_function("bare_sha256_chain", |b| b.iter(|| bare_chain(black_box(N_HASHES))));
    group.bench_function("poh", |b| b.iter(|| poh_chain(black_box(GENERATION_CONFIG))));
    group.finish();

    // Interleaved so that both see the same machine load.
    let (mut bare, mut poh) = (Duration::MAX, Duration::MAX);
    for _ in 0..10 {
        bare = bare.min(time(|| bare_chain(black_box(N_HASHES))));
        poh = poh.min(time(|| poh_chain(black_box(GENERATION_CONFIG))));
    }
    let rate = |elapsed: Duration| N_HASHES as f64 / elapsed.as_secs_f64() / 1e6;
    eprintln!(
        "generation summary: bare {:.2} Mhash/s, Poh {:.2} Mhash/s, Poh/bare = {:.1}%",
        rate(bare),
        rate(poh),
        100.0 * bare.as_secs_f64() / poh.as_secs_f64()
    );
}

/// A verification block with one 10-transaction batch mixed in at the start of every tick.
fn verify_block() -> (Vec<PohEntry>, Vec<B256>) {
    let mut poh = Poh::new(B256::ZERO, VERIFY_CONFIG).expect("valid config");
    let (mut entries, mut tx_hashes) = (Vec::new(), Vec::new());
    while !poh.is_block_complete() {
        let batch: Vec<B256> = (0..10).map(|_| B256::from(rand::random::<[u8; 32]>())).collect();
        entries.push(poh.record(batch_hash(&batch), 10).expect("fresh tick has room"));
        tx_hashes.extend(batch);
        poh.hash(u64::MAX);
        entries.extend(poh.tick());
    }
    (entries, tx_hashes)
}

fn verification(c: &mut Criterion) {
    let (entries, tx_hashes) = verify_block();
    let pool = |n| rayon::ThreadPoolBuilder::new().num_threads(n).build().expect("thread pool");
    let pools = [(1, pool(1)), (2, pool(2))];
    let run = |pool: &rayon::ThreadPool| {
        verify_with_pool(pool, B256::ZERO, &entries, &tx_hashes, &VERIFY_CONFIG).expect("valid")
    };

    let mut group = c.benchmark_group("verify");
    group.sample_size(10).warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Elements(VERIFY_CONFIG.hashes_per_block()));
    for (n_threads, pool) in &pools {
        group.bench_function(format!("{n_threads}_threads"), |b| b.iter(|| run(pool)));
    }
    group.finish();

    let (mut one, mut two) = (Duration::MAX, Duration::MAX);
    for _ in 0..6 {
        one = one.min(time(|| run(&pools[0].1)));
        two = two.min(time(|| run(&pools[1].1)));
    }
    eprintln!(
        "verify summary ({} hashes): 1 thread {:.1} ms, 2 threads {:.1} ms, speedup {:.2}x",
        VERIFY_CONFIG.hashes_per_block(),
        one.as_secs_f64() * 1e3,
        two.as_secs_f64() * 1e3,
        one.as_secs_f64() / two.as_secs_f64()
    );
}

criterion_group!(benches, generation, verification);
criterion_main!(benches);
