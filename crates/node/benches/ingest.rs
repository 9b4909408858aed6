//! What one incoming transaction costs the node before any block is built: decoding,
//! recovering its sender (secp256k1), and the whole `Chain::submit_raw` (decode, recover,
//! checks, the sender's account read and the pool insert). The load benchmark's node CPU per
//! transaction is best read against these figures.

use std::{hint::black_box, time::Duration};

use alloy_primitives::{Address, Bytes, U256};
use btcr_crypto::SecretKey;
use btcr_node::Chain;
use btcr_primitives::{
    Genesis, GenesisAccount, GenesisValidator, PohConfig, RecoveredTx, decode_transaction,
};
use btcr_storage::ChainStore;
use btcr_testkit::{TxBuilder, dev_key};
use btcr_txpool::PoolConfig;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

const CHAIN_ID: u64 = 1337;
/// Senders, each with the pool's per-sender limit of transactions.
const SENDERS: u32 = 64;
const PER_SENDER: u64 = 64;

fn genesis(validator: &SecretKey) -> Genesis {
    let balance = U256::from(10u64).pow(U256::from(24));
    Genesis {
        chain_id: CHAIN_ID,
        timestamp_ms: 1_700_000_000_000,
        gas_limit: 1_000_000_000,
        base_fee_per_gas: 1_000_000_000,
        block_time_ms: 1000,
        poh: PohConfig { hashes_per_tick: 200, ticks_per_block: 8 },
        consensus: Default::default(),
        forks: btcr_primitives::Forks::ALL,
        validators: vec![GenesisValidator {
            address: validator.address(),
            public_key: validator.public_key().to_vec().into(),
            power: 1000,
        }],
        alloc: (0..SENDERS)
            .map(|i| (dev_key(i).address(), GenesisAccount { balance, ..Default::default() }))
            .collect(),
    }
}

/// Signed transfers, every sender's nonces 0..PER_SENDER, senders interleaved.
fn transfers() -> Vec<Bytes> {
    let keys: Vec<SecretKey> = (0..SENDERS).map(dev_key).collect();
    let mut out = Vec::new();
    for nonce in 0..PER_SENDER {
        for key in &keys {
            let mut tx =
                TxBuilder::transfer(CHAIN_ID, nonce, Address::repeat_byte(7), U256::from(1));
            tx.max_fee_per_gas = 4_000_000_000;
            tx.max_priority_fee_per_gas = 1_000_000_000;
            out.push(tx.eip1559(key));
        }
    }
    out
}

fn ingest(c: &mut Criterion) {
    let raws = transfers();
    let mut group = c.benchmark_group("ingest");
    group.measurement_time(Duration::from_secs(5));
    let mut i = 0;
    group.bench_function("decode", |b| {
        b.iter(|| {
            i = (i + 1) % raws.len();
            black_box(decode_transaction(&raws[i]).expect("valid"))
        })
    });
    group.bench_function("recover_sender", |b| {
        b.iter_batched(
            || {
                i = (i + 1) % raws.len();
                decode_transaction(&raws[i]).expect("valid")
            },
            |envelope| black_box(RecoveredTx::recover(envelope).expect("valid")),
            BatchSize::SmallInput,
        )
    });
    // Every transaction once into a fresh chain's pool; the time is per transaction.
    let validator = SecretKey::random();
    let genesis = genesis(&validator);
    group.bench_function("submit_raw", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                let dir = tempfile::tempdir().expect("temporary directory");
                let store = ChainStore::open(dir.path()).expect("store");
                let chain =
                    Chain::open(store, genesis.clone(), validator.address(), PoolConfig::default())
                        .expect("chain");
                let n = (iters - done).min(raws.len() as u64) as usize;
                let start = std::time::Instant::now();
                for raw in &raws[..n] {
                    chain.submit_raw(raw).expect("accepted");
                }
                total += start.elapsed();
                done += n as u64;
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
