//! Reading one transaction and its receipt out of a stored block of 5,000 transfers: the
//! whole body and receipt list decoded (how the explorer and the transaction and receipt
//! lookups of JSON-RPC read them before) against the one transaction found by skipping the
//! others' RLP headers and the one receipt decoded after reading only the cumulative gas and
//! log count of the earlier ones.

use std::hint::black_box;

use alloy_primitives::{Address, B256, U256};
use btcr_primitives::{Block, BlockBody, Header, ReceiptEnvelope, StateChanges};
use btcr_storage::{BlockCommit, ChainStore};
use btcr_testkit::{TxBuilder, dev_key};
use criterion::{Criterion, criterion_group, criterion_main};

const TRANSACTIONS: usize = 5_000;

fn header(number: u64, parent_hash: B256) -> Header {
    btcr_testkit::empty_header(number, parent_hash)
}

fn store_with_a_full_block(dir: &std::path::Path) -> ChainStore {
    let store = ChainStore::open(dir).expect("store opens");
    let key = dev_key(0);
    let transactions = (0..TRANSACTIONS as u64)
        .map(|nonce| {
            let raw =
                TxBuilder::transfer(1, nonce, Address::repeat_byte(9), U256::from(1)).eip1559(&key);
            btcr_primitives::decode_transaction(&raw).expect("decodes")
        })
        .collect();
    let receipts: Vec<ReceiptEnvelope> = (0..TRANSACTIONS as u64)
        .map(|i| {
            let receipt = alloy_consensus::Receipt {
                status: true.into(),
                cumulative_gas_used: 21_000 * (i + 1),
                logs: vec![],
            };
            ReceiptEnvelope::Eip1559(receipt.with_bloom())
        })
        .collect();
    let genesis = Block { header: header(0, B256::ZERO), body: BlockBody::default() };
    let full = Block {
        header: header(1, genesis.hash()),
        body: BlockBody { transactions, poh_entries: vec![] },
    };
    for (block, receipts) in [(&genesis, &[][..]), (&full, &receipts[..])] {
        store
            .commit_block(BlockCommit {
                block,
                tx_hashes: &[],
                senders: &[],
                receipts,
                next_validators: None,
                changes: &StateChanges::default(),
                node_writes: &Default::default(),
                certificate: None,
            })
            .expect("commits");
    }
    store
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = store_with_a_full_block(dir.path());
    let snapshot = store.snapshot().expect("snapshot");
    let index = TRANSACTIONS / 2;
    let mut group = c.benchmark_group("one transaction and receipt of a 5,000-transaction block");
    group.bench_function("whole block and receipts decoded", |b| {
        b.iter(|| {
            let block = snapshot.block(1).expect("reads").expect("stored");
            let receipts = snapshot.receipts(1).expect("reads").expect("stored");
            black_box((block.body.transactions[index].clone(), receipts[index].clone()))
        })
    });
    group.bench_function("the one item read", |b| {
        b.iter(|| {
            let tx = snapshot.transaction(1, index).expect("reads").expect("stored");
            let receipt = snapshot.receipt(1, index).expect("reads").expect("stored").receipt;
            black_box((tx, receipt))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
