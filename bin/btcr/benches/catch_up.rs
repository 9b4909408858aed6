//! How fast a fresh full node catches up: a one-validator network's chain of N blocks is
//! written straight into the validator's store (each block proposed, executed and certified
//! by its key, as consensus would), the validator is started, then side by side two full
//! nodes with empty stores, one after the other: one syncs every block through the BFT
//! engine's sync alone (`BTCR_CATCH_UP_FROM=0`), the other catches up by ranges first (each
//! certificate checked, each block re-executed, hundreds committed per transaction) and
//! leaves the last few blocks to the engine. Printed for each: blocks/s from the full
//! node's first synced block to the last, and the whole time from its start.
//!
//! `cargo bench -p btcr --bench catch_up` runs 10,000 empty blocks, then 10,000 blocks of 100
//! transfers; `BTCR_BENCH_BLOCKS=N` and `BTCR_BENCH_TXS=T` (comma-separated block sizes)
//! change them.

use std::{
    path::Path,
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

use alloy_primitives::{Address, U256};
use btcr_consensus::{BlockPipeline, bft::certificate::sign_commit};
use btcr_crypto::SecretKey;
use btcr_node::ChainServices;
use btcr_primitives::{CommitCertificate, Genesis};
use btcr_storage::ChainStore;
use btcr_testkit::{DevProcess, TxBuilder, dev_key, free_ports};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

const CHAIN_ID: u64 = 4242;
const SENDERS: u32 = 10;

/// Set in the child process that builds a chain: `HOME,BLOCKS,TXS`.
const BUILD_ENV: &str = "BTCR_CATCH_UP_BUILD";

fn main() -> eyre::Result<()> {
    // The chain is built in a process of its own, whose exit releases the store.
    if let Ok(job) = std::env::var(BUILD_ENV) {
        let parts: Vec<&str> = job.split(',').collect();
        eyre::ensure!(parts.len() == 3, "{BUILD_ENV}={job}");
        let included = build_chain(Path::new(parts[0]), parts[1].parse()?, parts[2].parse()?)?;
        println!("{included}");
        return Ok(());
    }
    let blocks: u64 =
        std::env::var("BTCR_BENCH_BLOCKS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let sizes: Vec<u64> = std::env::var("BTCR_BENCH_TXS")
        .unwrap_or_else(|_| "0,100".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let binary = Path::new(env!("CARGO_BIN_EXE_btcr"));
    println!(
        "| path | transactions a block | blocks | built in | first synced after | synced in | blocks/s | tx/s |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for txs in sizes {
        for row in run(binary, blocks, txs)? {
            println!("{row}");
        }
    }
    Ok(())
}

fn run(binary: &Path, blocks: u64, txs: u64) -> eyre::Result<Vec<String>> {
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("net");
    let (p2p, gossip, rpc) = (free_ports(3)?, free_ports(3)?, free_ports(3)?);
    let status = Command::new(binary)
        .args(["testnet", "--validators", "1", "--full-nodes", "2", "--mode", "poa"])
        .args(["--block-time", "20ms", "--p2p-port", &p2p.to_string()])
        .args(["--gossip-port", &gossip.to_string(), "--rpc-port", &rpc.to_string()])
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()?;
    eyre::ensure!(status.success(), "btcr testnet failed");
    let validator_home = out.join("node0");
    // Genesis a day back, so that blocks built back to back keep the clock's time.
    for home in [out.clone(), validator_home.clone(), out.join("node1"), out.join("node2")] {
        let path = home.join("genesis.json");
        let mut genesis: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
        genesis["timestampMs"] = (now.as_millis() as u64 - 86_400_000).into();
        std::fs::write(&path, serde_json::to_vec_pretty(&genesis)?)?;
    }
    let building = Instant::now();
    let child = Command::new(std::env::current_exe()?)
        .env(BUILD_ENV, format!("{},{blocks},{txs}", validator_home.display()))
        .stderr(std::process::Stdio::inherit())
        .output()?;
    eyre::ensure!(child.status.success(), "building the chain failed");
    let included: u64 = String::from_utf8_lossy(&child.stdout).trim().parse()?;
    let built = building.elapsed();
    eprintln!("built {blocks} blocks, {included} transactions, in {built:.1?}");

    let _validator = DevProcess::start_node(binary, &validator_home)?;
    // Side by side from the same validator: a fresh full node through the consensus engine's
    // sync alone, then another that catches up by ranges first.
    let paths = [("engine sync", "node1", "0"), ("ranges, then engine", "node2", "256")];
    let mut rows = Vec::new();
    for (path, home, from) in paths {
        let full = DevProcess::start_node_with_env(
            binary,
            &out.join(home),
            &[],
            &[("BTCR_CATCH_UP_FROM", from)],
        )?;
        let (first_after, synced_in, rate) = follow(&full, blocks)?;
        full.kill()?;
        let per_block = included as f64 / blocks as f64;
        rows.push(format!(
            "| {path} | {per_block:.0} | {blocks} | {built:.1?} | {first_after:.1?} | {synced_in:.1?} | {rate:.0} | {:.0} |",
            rate * per_block,
        ));
    }
    Ok(rows)
}

/// Polls `full` until it holds `blocks` blocks: the time to its first synced block, the
/// whole time, and blocks/s from the first synced block to the last.
fn follow(full: &DevProcess, blocks: u64) -> eyre::Result<(Duration, Duration, f64)> {
    let started = Instant::now();
    let mut first = None;
    let mut last_print = Instant::now();
    loop {
        let height = full.rpc.block_number().unwrap_or(0);
        if height > 0 && first.is_none() {
            first = Some((Instant::now(), height));
        }
        if height >= blocks {
            break;
        }
        if last_print.elapsed() > Duration::from_secs(5) {
            eprintln!("synced {height} of {blocks} after {:.1?}", started.elapsed());
            last_print = Instant::now();
        }
        eyre::ensure!(started.elapsed() < Duration::from_secs(3_600), "no catch-up within an hour");
        std::thread::sleep(Duration::from_millis(5));
    }
    let done = Instant::now();
    let (first_at, first_height) = first.unwrap_or((done, blocks));
    let steady = done.duration_since(first_at).as_secs_f64().max(1e-3);
    let rate = (blocks - first_height) as f64 / steady;
    Ok((first_at.duration_since(started), done.duration_since(started), rate))
}

/// Writes `blocks` blocks of up to `txs` transfers each into the validator's store, each
/// with a certificate its key signs; the transactions included.
fn build_chain(home: &Path, blocks: u64, txs: u64) -> eyre::Result<u64> {
    let genesis = Genesis::load(&home.join("genesis.json"))?;
    let key = SecretKey::load(&home.join("validator.key"))?;
    let store = ChainStore::open(&home.join("data").join("chain"))?;
    let shutdown = CancellationToken::new();
    let services = ChainServices::open(
        store,
        genesis,
        key.address(),
        btcr_txpool::PoolConfig::default(),
        shutdown.clone(),
    )?;
    let chain = Arc::clone(&services.chain);
    let senders: Vec<SecretKey> = (0..SENDERS).map(dev_key).collect();
    let mut nonces = vec![0u64; senders.len()];
    let mut included = 0;
    for height in 1..=blocks {
        // Topped up to `txs` pending: what a block could not hold goes into the next one.
        let (pending, _) = chain.pool_counts();
        for i in 0..txs.saturating_sub(pending as u64) {
            let s = (i % u64::from(SENDERS)) as usize;
            let raw =
                TxBuilder::transfer(CHAIN_ID, nonces[s], Address::repeat_byte(0x77), U256::from(1))
                    .eip1559(&senders[s]);
            chain.submit_raw(&raw).map_err(|e| eyre::eyre!("transfer: {e}"))?;
            nonces[s] += 1;
        }
        let block = chain
            .propose(height, Instant::now() + Duration::from_millis(30))
            .map_err(|e| eyre::eyre!("proposing {height}: {e}"))?;
        included += block.body.transactions.len() as u64;
        let hash = block.hash();
        let certificate = CommitCertificate {
            height,
            round: 0,
            block_hash: hash,
            signatures: vec![sign_commit(&key, CHAIN_ID, height, 0, hash)],
        };
        chain.commit(hash, certificate).map_err(|e| eyre::eyre!("committing {height}: {e}"))?;
        if height % 1_000 == 0 {
            eprintln!("built {height} of {blocks}");
        }
    }
    services.wait_idle(blocks, Duration::from_secs(600));
    shutdown.cancel();
    Ok(included)
}
