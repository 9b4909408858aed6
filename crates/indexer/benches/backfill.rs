//! Backfill benchmark: a chain of `BTCR_BENCH_BLOCKS` blocks (default 100,000) of
//! `BTCR_BENCH_TXS` transactions each (default 100: half BTCR transfers, half ERC-20
//! transfers with their `Transfer` log, each changing two balances), served by a node of
//! this process, indexed into a PostgreSQL of the benchmark's own. Prints the stream alone
//! (what the node serves) and the whole backfill (stream, rows, `COPY`), in blocks/s and
//! tx/s, and the index's size.
//!
//! The chain is written straight into the node's store before the node starts (a dev
//! chain's genesis, then the blocks, whose transactions carry placeholder signatures and
//! whose senders are kept beside them, as every commit keeps them): executing 10 million
//! transactions through consensus would take hours, and the indexer reads the stored
//! blocks the same way either way. The store lives in `BTCR_BENCH_STORE_DIR` (default: the
//! temporary directory; `/dev/shm` keeps the fsyncs of writing it cheap). PostgreSQL runs
//! from Debian's binaries in the temporary directory (on disk, unless `TMPDIR` says
//! otherwise) with `fsync=on` and the memory and WAL settings of [`POSTGRES`].
//!
//! ```sh
//! BTCR_BENCH_STORE_DIR=/dev/shm cargo bench -p btcr-indexer --bench backfill
//! BTCR_BENCH_BLOCKS=10000 cargo bench -p btcr-indexer --bench backfill
//! ```

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use alloy_consensus::{
    Eip658Value, Receipt, ReceiptEnvelope, ReceiptWithBloom, SignableTransaction as _, TxEip1559,
};
use alloy_primitives::{Address, B256, Bytes, Log, LogData, Signature, TxKind, U256};
use btcr_indexer::{BlockStream, IndexerConfig};
use btcr_node::{Chain, dev};
use btcr_primitives::{
    Account, AccountChange, Block, BlockBody, CommitCertificate, EMPTY_CODE_HASH, StateChanges,
    StreamFrame, TRANSFER_TOPIC, TxEnvelope, ValidatorSignature,
};
use btcr_storage::{BlockCommit, ChainStore};
use btcr_testkit::TempPostgres;
use btcr_trie::NodeWrites;

const TOKEN: Address = Address::repeat_byte(0x70);
/// PostgreSQL as an operator would run it for an index of this size (README, "PostgreSQL
/// indexer"): durable commits, and memory and WAL room for a bulk load of many gigabytes.
const POSTGRES: [(&str, &str); 6] = [
    ("fsync", "on"),
    ("shared_buffers", "2GB"),
    ("maintenance_work_mem", "1GB"),
    ("max_wal_size", "16GB"),
    ("checkpoint_timeout", "30min"),
    ("wal_compression", "on"),
];
const SENDERS: u64 = 10_000;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn address(kind: u8, n: u64) -> Address {
    let mut bytes = [0u8; 20];
    bytes[0] = kind;
    bytes[12..].copy_from_slice(&n.to_be_bytes());
    Address::from(bytes)
}

/// Block `number`'s transactions, receipts, senders and balance changes.
fn contents(
    number: u64,
    txs: u64,
) -> (Vec<TxEnvelope>, Vec<ReceiptEnvelope>, Vec<Address>, StateChanges) {
    let mut transactions = Vec::with_capacity(txs as usize);
    let mut receipts = Vec::with_capacity(txs as usize);
    let mut senders = Vec::with_capacity(txs as usize);
    let mut changes = StateChanges::default();
    let mut cumulative = 0;
    for i in 0..txs {
        let n = number * txs + i;
        let sender = address(1, n % SENDERS);
        let recipient = address(2, n % (SENDERS * 10));
        let token_call = i % 2 == 1;
        let mut input = Vec::new();
        let mut logs = Vec::new();
        if token_call {
            input.extend_from_slice(&[0xa9, 0x05, 0x9c, 0xbb]);
            input.extend_from_slice(recipient.into_word().as_slice());
            input.extend_from_slice(&U256::from(n).to_be_bytes::<32>());
            logs.push(Log {
                address: TOKEN,
                data: LogData::new_unchecked(
                    vec![TRANSFER_TOPIC, sender.into_word(), recipient.into_word()],
                    U256::from(n).to_be_bytes::<32>().to_vec().into(),
                ),
            });
        }
        let gas = if token_call { 51_000 } else { 21_000 };
        let tx = TxEip1559 {
            chain_id: dev::DEV_CHAIN_ID,
            nonce: n / SENDERS,
            gas_limit: gas,
            max_fee_per_gas: 2_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to: TxKind::Call(if token_call { TOKEN } else { recipient }),
            value: if token_call { U256::ZERO } else { U256::from(n) },
            access_list: Default::default(),
            input: Bytes::from(input),
        };
        // A placeholder signature: nothing on the indexer's path recovers senders.
        let signature = Signature::new(U256::from(n + 1), U256::from(1), false);
        transactions.push(TxEnvelope::Eip1559(tx.into_signed(signature)));
        cumulative += gas;
        let receipt =
            Receipt { status: Eip658Value::Eip658(true), cumulative_gas_used: cumulative, logs };
        receipts.push(ReceiptEnvelope::Eip1559(ReceiptWithBloom::new(receipt, Default::default())));
        senders.push(sender);
        for (who, balance) in [(sender, U256::from(10u64.pow(20) - n)), (recipient, U256::from(n))]
        {
            let account = Account {
                nonce: n / SENDERS + 1,
                balance,
                storage_root: B256::ZERO,
                code_hash: EMPTY_CODE_HASH,
            };
            changes
                .accounts
                .insert(who, AccountChange { account: Some(account), ..Default::default() });
        }
    }
    (transactions, receipts, senders, changes)
}

/// Writes blocks `1..=blocks` on the dev chain's genesis in `datadir`.
fn write_chain(setup: &dev::DevSetup, blocks: u64, txs: u64) -> eyre::Result<()> {
    let store = ChainStore::open(&setup.config.datadir.join("chain"))?;
    let proposer = Address::repeat_byte(0x33);
    drop(Chain::open(store.clone(), setup.config.genesis.clone(), proposer, Default::default())?);
    let genesis = store.snapshot()?.head_header()?.expect("genesis");
    let mut parent = genesis.clone();
    let started = Instant::now();
    for number in 1..=blocks {
        let (transactions, receipts, senders, changes) = contents(number, txs);
        let tx_hashes: Vec<B256> = transactions.iter().map(|tx| *tx.tx_hash()).collect();
        let mut header = parent.clone();
        header.parent_hash = parent.hash();
        header.number = number;
        header.timestamp_ms = genesis.timestamp_ms + number;
        header.gas_used = receipts.last().map_or(0, |r| r.cumulative_gas_used());
        let block = Block { header, body: BlockBody { transactions, poh_entries: Vec::new() } };
        let certificate = CommitCertificate {
            height: number,
            round: 0,
            block_hash: block.hash(),
            signatures: vec![ValidatorSignature {
                validator: proposer,
                signature: Bytes::from(vec![1; 64]),
            }],
        };
        store.commit_block(BlockCommit {
            block: &block,
            tx_hashes: &tx_hashes,
            senders: &senders,
            receipts: &receipts,
            changes: &changes,
            node_writes: &NodeWrites::default(),
            certificate: Some(&certificate),
            next_validators: None,
        })?;
        parent = block.header;
        if number % 10_000 == 0 {
            eprintln!("  wrote {number} blocks ({:.0} s)", started.elapsed().as_secs_f64());
        }
    }
    Ok(())
}

/// The address index would catch up over the whole chain while the indexer reads it: held
/// back (a fault the node's tests use), so that the figures are the stream's and the
/// indexer's alone. The environment is set by running this benchmark again with it.
const STALL: (&str, &str) = ("BTCR_FAULT_STALL_CONSUMER", "address-index");

fn main() -> eyre::Result<()> {
    if std::env::var(STALL.0).as_deref() != Ok(STALL.1) {
        let status = std::process::Command::new(std::env::current_exe()?)
            .args(std::env::args_os().skip(1))
            .env(STALL.0, STALL.1)
            .status()?;
        std::process::exit(status.code().unwrap_or(1));
    }
    let blocks = env_number("BTCR_BENCH_BLOCKS", 100_000);
    let txs = env_number("BTCR_BENCH_TXS", 100);
    let dir = match std::env::var_os("BTCR_BENCH_STORE_DIR") {
        Some(parent) => tempfile::tempdir_in(parent)?,
        None => tempfile::tempdir()?,
    };
    let setup = dev::prepare(dev::DevOptions {
        block_time: Duration::from_secs(1),
        datadir: Some(dir.path().to_path_buf()),
        n_accounts: 10,
        balance_btcr: 1_000,
        gas_limit: 30_000_000,
        http: btcr_http::HttpConfig {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            ..Default::default()
        },
        rpc: Default::default(),
    })?;
    eprintln!(
        "writing a chain of {blocks} blocks of {txs} transactions into {}",
        dir.path().display()
    );
    let started = Instant::now();
    write_chain(&setup, blocks, txs)?;
    eprintln!("  written in {:.0} s", started.elapsed().as_secs_f64());

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut figures = BTreeMap::new();
    runtime.block_on(async {
        let node = btcr_node::launch(setup.config).await?;
        let url = format!("http://{}", node.rpc_addr);

        // The stream alone: what the node serves, read and decoded, nothing written.
        let started = Instant::now();
        let mut stream = BlockStream::open(&url, 0, Some(blocks)).await?;
        let (mut read, mut read_txs) = (0u64, 0u64);
        while let Some(frame) = stream.next().await? {
            if let StreamFrame::Block(block) = frame {
                read += 1;
                read_txs += block.block.body.transactions.len() as u64;
            }
        }
        figures.insert("1. stream only", (read, read_txs, started.elapsed()));

        // The stream and the rows made of it, nothing written.
        let started = Instant::now();
        let mut stream = BlockStream::open(&url, 0, Some(blocks)).await?;
        let (mut made, mut made_txs, mut bytes) = (0u64, 0u64, 0usize);
        let mut rows = btcr_indexer::Rows::default();
        while let Some(frame) = stream.next().await? {
            if let StreamFrame::Block(block) = frame {
                rows.add(&block);
                made += 1;
                made_txs += block.block.body.transactions.len() as u64;
                if made % 1_000 == 0 {
                    bytes += rows.len();
                    rows = btcr_indexer::Rows::default();
                }
            }
        }
        bytes += rows.len();
        figures.insert("2. stream and rows", (made, made_txs, started.elapsed()));
        eprintln!("  rows: {} MB of COPY text", bytes / 1_000_000);

        let postgres =
            tokio::task::spawn_blocking(|| TempPostgres::start_with(&POSTGRES)).await??;
        let database = postgres.create_database("index")?;
        let config = IndexerConfig {
            node_url: url.clone(),
            postgres_url: database.clone(),
            to: Some(blocks),
            progress_every: Duration::from_secs(10),
            bulk: None,
        };
        let started = Instant::now();
        let done = btcr_indexer::run(&config, Default::default()).await?;
        figures.insert(
            "2. backfill into PostgreSQL",
            (done.blocks, done.transactions, started.elapsed()),
        );
        let pool = sqlx::PgPool::connect(&database).await?;
        let (size,): (String,) =
            sqlx::query_as("SELECT pg_size_pretty(pg_database_size(current_database()))")
                .fetch_one(&pool)
                .await?;
        println!();
        println!("backfill of {blocks} blocks x {txs} transactions (index size {size})");
        println!(
            "{:<30} {:>10} {:>12} {:>9} {:>10} {:>12}",
            "", "blocks", "tx", "seconds", "blocks/s", "tx/s"
        );
        for (name, (b, t, elapsed)) in &figures {
            let s = elapsed.as_secs_f64();
            println!(
                "{name:<30} {b:>10} {t:>12} {s:>9.1} {:>10.0} {:>12.0}",
                *b as f64 / s,
                *t as f64 / s
            );
        }
        pool.close().await;
        node.stop()?;
        Ok::<_, eyre::Report>(())
    })?;
    Ok(())
}
