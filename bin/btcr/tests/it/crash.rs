//! Crash safety: the node is killed with SIGKILL at random moments while it commits blocks
//! under load, and after every kill the store's head must be a complete block whose state
//! root matches the state recomputed from scratch, with nothing acknowledged lost.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use alloy_primitives::{Address, B256, U256};
use btcr_storage::ChainStore;
use btcr_testkit::{DevProcess, TxBuilder, dev_key};
use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::{CHAIN_ID, btcr_bin};

/// Kills the node this many times.
const KILLS: usize = 20;

/// Checks the store in `datadir` as a restarted node would find it; returns the head.
fn check_store(datadir: &std::path::Path) -> eyre::Result<(u64, B256)> {
    let store = ChainStore::open(&datadir.join("chain"))?;
    let snapshot = store.snapshot()?;
    let head = snapshot.head_header()?.expect("genesis is always there");
    let block = snapshot.block(head.number)?.expect("the head block has a body");
    assert_eq!(block.hash(), head.hash());
    let receipts = snapshot.receipts(head.number)?.expect("the head block has receipts");
    assert_eq!(receipts.len(), block.body.transactions.len());
    for (i, tx) in block.body.transactions.iter().enumerate() {
        assert_eq!(snapshot.transaction_location(tx.tx_hash())?, Some((head.number, i as u32)));
    }
    if head.number > 0 {
        let parent = snapshot.header(head.number - 1)?.expect("parent header");
        assert_eq!(parent.hash(), head.parent_hash);
        assert!(snapshot.certificate(head.number)?.is_some(), "decided blocks carry a certificate");
    }
    let recomputed = btcr_node::recompute_state_root(&snapshot).map_err(|e| eyre::eyre!(e))?;
    assert_eq!(
        recomputed, head.state_root,
        "state root of head {} differs from the state",
        head.number
    );
    Ok((head.number, head.hash()))
}

#[test]
fn sigkill_at_random_moments_never_leaves_a_partial_block() -> eyre::Result<()> {
    let seed: u64 = std::env::var("BTCR_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    eprintln!("crash test seed {seed} (set BTCR_CRASH_SEED to replay)");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir()?;
    let senders: Vec<_> = (4..8).map(dev_key).collect();
    let to = Address::repeat_byte(0x55);
    // Transactions whose receipts were seen before a kill: acknowledged, so never lost.
    let mut acknowledged: HashMap<B256, u64> = HashMap::new();
    let mut last_head = (0u64, B256::ZERO);
    let mut n_blocks_at_kill = Vec::new();

    for round in 0..KILLS {
        let node = DevProcess::start(btcr_bin(), dir.path(), &["--block-time", "50ms"])?;
        let rpc = &node.rpc;
        // The restarted node serves the head that the store check found.
        let head_now = rpc.block_number()?;
        assert!(
            head_now >= last_head.0,
            "round {round}: head went back from {} to {head_now}",
            last_head.0
        );
        for (hash, number) in &acknowledged {
            let receipt = rpc.receipt(*hash)?.unwrap_or_else(|| panic!("acknowledged {hash} lost"));
            assert_eq!(btcr_testkit::rpc::quantity(&receipt["blockNumber"])?, *number);
        }

        // Load: transfers from several senders, submitted until a random moment.
        let kill_after = Duration::from_millis(rng.random_range(100..700));
        let start = Instant::now();
        let mut nonces: Vec<u64> =
            senders.iter().map(|k| rpc.nonce(k.address())).collect::<Result<_, _>>()?;
        let mut sent = Vec::new();
        while start.elapsed() < kill_after {
            for (key, nonce) in senders.iter().zip(nonces.iter_mut()) {
                let raw = TxBuilder::transfer(CHAIN_ID, *nonce, to, U256::from(1)).eip1559(key);
                if let Ok(hash) = rpc.send_raw(&raw) {
                    sent.push(hash);
                    *nonce += 1;
                }
            }
            std::thread::sleep(Duration::from_millis(rng.random_range(1..20)));
            // Learn which of them are acknowledged as committed.
            if let Some(hash) = sent.first().copied()
                && let Some(receipt) = rpc.receipt(hash)?
            {
                acknowledged.insert(hash, btcr_testkit::rpc::quantity(&receipt["blockNumber"])?);
                sent.remove(0);
            }
        }
        n_blocks_at_kill.push(rpc.block_number().unwrap_or_default());
        node.kill()?;

        let head = check_store(dir.path())?;
        assert!(head.0 >= last_head.0, "round {round}: store head went back");
        last_head = head;
    }
    eprintln!(
        "killed {KILLS} times at heights {n_blocks_at_kill:?}; {} transactions acknowledged",
        acknowledged.len()
    );
    assert!(
        last_head.0 > 20,
        "the chain should have advanced across restarts (head {})",
        last_head.0
    );
    Ok(())
}

/// The last block the consumer `name` applied, as `btcr_nodeInfo` reports it, and the head.
fn consumer_progress(
    rpc: &btcr_testkit::RpcClient,
    name: &str,
) -> eyre::Result<(Option<u64>, u64)> {
    let info = rpc.call("btcr_nodeInfo", serde_json::json!([]))?;
    let head = btcr_testkit::rpc::quantity(&info["head"]["number"])?;
    let consumer = info["consumers"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["name"] == name))
        .ok_or_else(|| eyre::eyre!("no consumer {name} in {info}"))?;
    let applied = match &consumer["applied"] {
        serde_json::Value::Null => None,
        n => Some(btcr_testkit::rpc::quantity(n)?),
    };
    Ok((applied, head))
}

/// Waits for the receipt of `hash`: its block is committed.
fn wait_receipt(rpc: &btcr_testkit::RpcClient, hash: B256) -> eyre::Result<()> {
    let found = btcr_testkit::eventually(|| rpc.receipt(hash).is_ok_and(|r| r.is_some()));
    eyre::ensure!(found, "no receipt for {hash}");
    Ok(())
}

/// The hashes an address's history lists, every page of it.
fn history(rpc: &btcr_testkit::RpcClient, address: Address) -> eyre::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/addresses/{address}/transactions?limit=7&before={c}"),
            None => format!("/api/v1/addresses/{address}/transactions?limit=7"),
        };
        let (status, page) = rpc.get(&path)?;
        assert_eq!(status, 200, "{path}: {page}");
        for item in page["items"].as_array().expect("items") {
            out.push(item["hash"].as_str().expect("hash").to_owned());
        }
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return Ok(out),
        }
    }
}

/// The address index is a consumer of committed blocks with a checkpoint of its own: the
/// node is killed while blocks are committed but the index is held back (by the fault hook
/// that stalls it after block 2), and after a restart the index holds every transaction of
/// every block exactly once.
#[test]
fn a_kill_between_a_commit_and_the_index_checkpoint_loses_and_repeats_no_row() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let stall = [("BTCR_FAULT_STALL_CONSUMER", "address-index@2")];
    let node =
        DevProcess::start_with_env(btcr_bin(), dir.path(), &["--block-time", "50ms"], &stall)?;
    let rpc = &node.rpc;
    let sender = dev_key(4);
    let recipients = [Address::repeat_byte(0x61), Address::repeat_byte(0x62)];
    let mut sent: HashMap<Address, Vec<String>> = HashMap::new();
    for nonce in 0..24u64 {
        let to = recipients[nonce as usize % 2];
        let raw = TxBuilder::transfer(CHAIN_ID, nonce, to, U256::from(1)).eip1559(&sender);
        let hash = rpc.send_raw(&raw)?;
        sent.entry(to).or_default().push(hash.to_string());
        sent.entry(sender.address()).or_default().push(hash.to_string());
        // Some transfers wait for their block, so that they spread over many blocks.
        if nonce % 3 == 2 {
            wait_receipt(rpc, hash)?;
        }
    }
    let last = sent[&sender.address()].last().cloned().expect("sent");
    wait_receipt(rpc, last.parse()?)?;
    let (applied, head) = consumer_progress(rpc, "address-index")?;
    assert!(applied.is_some_and(|a| a <= 2), "the index is held back: {applied:?}");
    assert!(head > 4, "blocks were committed past the index's checkpoint (head {head})");
    node.kill()?;

    // On restart the index replays from its checkpoint, in one pass, no fault this time.
    let node = DevProcess::start(btcr_bin(), dir.path(), &["--block-time", "50ms"])?;
    let rpc = &node.rpc;
    let caught_up = btcr_testkit::eventually(|| {
        consumer_progress(rpc, "address-index").is_ok_and(|(applied, _)| applied >= Some(head))
    });
    assert!(caught_up, "the index did not catch up to {head}");
    for (address, expected) in &sent {
        let listed = history(rpc, *address)?;
        let mut unique = listed.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), listed.len(), "{address}: a transaction is listed twice");
        let mut expected = expected.clone();
        expected.sort();
        assert_eq!(unique, expected, "{address}: the history is every transaction, once");
    }
    Ok(())
}

/// A node whose standard output nobody reads any more (a closed pipe) keeps running: the
/// banner it prints at start is not worth stopping the chain for.
#[test]
fn a_closed_standard_output_does_not_stop_the_node() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut child = std::process::Command::new(btcr_bin())
        .args(["dev", "--datadir"])
        .arg(dir.path())
        .args(["--rpc.addr", "127.0.0.1:0", "--block-time", "100ms"])
        .env("BTCR_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    drop(child.stdout.take());
    // The banner is written once the chain is open; give it time to be written and fail.
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            eyre::bail!("the node stopped ({status}) when its standard output closed");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill()?;
    child.wait()?;
    Ok(())
}
