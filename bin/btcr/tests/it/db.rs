//! `btcr db`: pruning a stopped node's old blocks, and moving a chain to a new data
//! directory through a snapshot file that the import verifies, refusing forged ones.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    time::Duration,
};

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_rlp::{Decodable, Encodable, RlpDecodable, RlpEncodable};
use btcr_primitives::{Account, CommitCertificate};
use btcr_storage::ChainStore;
use btcr_testkit::{DevProcess, TxBuilder, dev_key, rpc_error_of};
use serde_json::{Value, json};

use crate::{CHAIN_ID, btcr_bin};

fn db(args: &[&str]) -> eyre::Result<Output> {
    Ok(Command::new(btcr_bin()).arg("db").args(args).output()?)
}

fn path(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

/// Runs `btcr db ARGS`, which must succeed; its standard error.
fn db_ok(args: &[&str]) -> eyre::Result<String> {
    let out = db(args)?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    eyre::ensure!(out.status.success(), "btcr db {args:?} failed: {stderr}");
    Ok(stderr)
}

/// Runs `btcr db ARGS`, which must fail; its standard error.
fn db_refused(args: &[&str]) -> eyre::Result<String> {
    let out = db(args)?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    eyre::ensure!(!out.status.success(), "btcr db {args:?} should have failed: {stderr}");
    Ok(stderr)
}

/// A dev chain in `dir` run until its head passes `height`, with one transfer of `amount`
/// to `to` in an early block; stopped. The transfer's hash and block.
fn chain_past(dir: &Path, height: u64, to: Address, amount: u64) -> eyre::Result<(B256, u64)> {
    let node = DevProcess::start(btcr_bin(), dir, &["--block-time", "20ms"])?;
    let raw = TxBuilder::transfer(CHAIN_ID, 0, to, U256::from(amount)).eip1559(&dev_key(3));
    let hash = node.rpc.send_raw(&raw)?;
    let receipt = node.rpc.wait_for_receipt(hash, Duration::from_secs(30))?;
    let block = btcr_testkit::rpc::quantity(&receipt["blockNumber"])?;
    node.rpc.wait_for_block(height, Duration::from_secs(120))?;
    node.terminate()?;
    Ok((hash, block))
}

fn is_pruned(error: impl Into<eyre::Report>, number: u64) -> bool {
    rpc_error_of(error.into()).is_some_and(|e| {
        e.code == -32000 && e.message.starts_with(&format!("block {number} is pruned"))
    })
}

#[test]
fn a_pruned_node_answers_pruned_for_old_blocks_and_goes_on() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let to = Address::repeat_byte(0x71);
    let (tx, tx_block) = chain_past(dir.path(), 400, to, 5)?;
    let datadir = path(dir.path());

    // Refusals: too few blocks kept, no place, an empty place, a running node's store.
    let err = db_refused(&["prune", "--datadir", datadir, "--keep-blocks", "100"])?;
    assert!(err.contains("at least 256"), "{err}");
    let err = db_refused(&["prune", "--keep-blocks", "300"])?;
    assert!(err.contains("--home") && err.contains("--datadir"), "{err}");
    let empty = tempfile::tempdir()?;
    let err = db_refused(&["prune", "--datadir", path(empty.path()), "--keep-blocks", "300"])?;
    assert!(err.contains("holds no chain store"), "{err}");
    {
        let running = DevProcess::start(btcr_bin(), dir.path(), &["--block-time", "20ms"])?;
        let err = db_refused(&["prune", "--datadir", datadir, "--keep-blocks", "300"])?;
        assert!(err.contains("is the node still running"), "{err}");
        running.terminate()?;
    }

    let said = db_ok(&["prune", "--datadir", datadir, "--keep-blocks", "300"])?;
    let store = ChainStore::open(&dir.path().join("chain"))?;
    let snapshot = store.snapshot()?;
    let head = snapshot.head_number().expect("a head");
    let earliest = snapshot.earliest();
    assert_eq!(earliest, head + 1 - 300, "{said}");
    assert!(said.contains(&format!("keeps genesis and blocks from {earliest} on")), "{said}");
    assert!(snapshot.header(0)?.is_some(), "genesis is kept");
    assert!(snapshot.header(earliest)?.is_some());
    for number in [1, tx_block, earliest - 1] {
        let err = snapshot.block(number).unwrap_err().to_string();
        assert_eq!(
            err,
            format!("block {number} is pruned: this node keeps blocks from {earliest} on")
        );
    }
    assert_eq!(snapshot.transaction_location(&tx)?, None, "the index forgets pruned blocks");
    // The state is whole: the recomputed root is the head's.
    let root = btcr_node::recompute_state_root(&snapshot).map_err(|e| eyre::eyre!(e))?;
    assert_eq!(root, snapshot.head().expect("head").state_root);
    drop((snapshot, store));
    // Pruning again to the same depth has nothing to do.
    let said = db_ok(&["prune", "--datadir", datadir, "--keep-blocks", "300"])?;
    assert!(said.contains("Nothing to prune"), "{said}");

    // The node starts on the pruned store, refuses old blocks with a reason, serves the
    // rest, and makes new blocks.
    let node = DevProcess::start(btcr_bin(), dir.path(), &["--block-time", "20ms"])?;
    let rpc = &node.rpc;
    assert!(is_pruned(rpc.block(&format!("{tx_block:#x}"), false).unwrap_err(), tx_block));
    let err = rpc.call("btcr_getFinality", json!([format!("{:#x}", earliest - 1)])).unwrap_err();
    assert!(is_pruned(err, earliest - 1));
    let (status, body) = rpc.get(&format!("/api/v1/blocks/{tx_block}"))?;
    assert_eq!(status, 410, "{body}");
    assert_eq!(body["error"]["code"], "gone");
    assert_eq!(rpc.block("0x0", false)?["number"], "0x0");
    assert_eq!(rpc.block(&format!("{earliest:#x}"), false)?["number"], format!("{earliest:#x}"));
    assert_eq!(rpc.receipt(tx)?, None);
    assert_eq!(rpc.balance(to)?, U256::from(5), "the state outlives the blocks");
    rpc.wait_for_block(head + 20, Duration::from_secs(60))?;
    let (status, history) = rpc.get(&format!("/api/v1/addresses/{to}/transactions"))?;
    assert_eq!(status, 200, "an address's history skips what was pruned: {history}");
    Ok(())
}

/// A snapshot's frames, as the documented layout gives them: kind, payload.
struct SnapshotBytes {
    frames: Vec<(u8, Vec<u8>)>,
    manifest: Value,
}

impl SnapshotBytes {
    fn read(path: &Path) -> eyre::Result<Self> {
        let bytes = std::fs::read(path)?;
        assert_eq!(&bytes[..8], b"BTCRSNAP");
        let offset = u64::from_be_bytes(bytes[bytes.len() - 8..].try_into()?) as usize;
        let mut frames = Vec::new();
        let mut at = 8;
        while at < offset {
            let len = u32::from_be_bytes(bytes[at + 1..at + 5].try_into()?) as usize;
            frames.push((bytes[at], bytes[at + 5..at + 5 + len].to_vec()));
            at += 5 + len;
        }
        let manifest = serde_json::from_slice(&bytes[offset + 5..bytes.len() - 8])?;
        Ok(Self { frames, manifest })
    }

    /// Writes the frames back with a manifest that lists them truly (as a forger would).
    fn write(&mut self, path: &Path) -> eyre::Result<()> {
        let mut out = b"BTCRSNAP".to_vec();
        for (i, (kind, payload)) in self.frames.iter().enumerate() {
            out.push(*kind);
            out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
            out.extend_from_slice(payload);
            self.manifest["frames"][i]["bytes"] = json!(payload.len());
            self.manifest["frames"][i]["hash"] = json!(keccak256(payload));
        }
        let offset = out.len() as u64;
        let json = serde_json::to_vec(&self.manifest)?;
        out.push(0xff);
        out.extend_from_slice(&(json.len() as u32).to_be_bytes());
        out.extend_from_slice(&json);
        out.extend_from_slice(&offset.to_be_bytes());
        std::fs::write(path, out)?;
        Ok(())
    }

    /// The items of the first frame of `kind`, for editing.
    fn edit<T: Decodable + Encodable>(&mut self, kind: u8, f: impl FnOnce(&mut Vec<T>)) {
        let frame = self.frames.iter_mut().find(|(k, _)| *k == kind).expect("a frame of kind");
        let mut items: Vec<T> = Decodable::decode(&mut frame.1.as_slice()).expect("items");
        f(&mut items);
        frame.1 = alloy_rlp::encode(&items);
    }
}

/// The layout of an account in a snapshot.
#[derive(RlpEncodable, RlpDecodable)]
struct SnapAccount {
    address: Address,
    account: Account,
}

/// The layout of a block in a snapshot.
#[derive(RlpEncodable, RlpDecodable)]
struct SnapBlock {
    block: Bytes,
    receipts: Bytes,
    certificate: Bytes,
    accounts: Bytes,
}

/// A data directory ready to import into: the chain's genesis and its validator's key.
fn fresh_datadir(parent: &Path, name: &str, from: &Path) -> eyre::Result<PathBuf> {
    let dir = parent.join(name);
    std::fs::create_dir_all(&dir)?;
    std::fs::copy(from.join("genesis.json"), dir.join("genesis.json"))?;
    std::fs::copy(from.join("validator.key"), dir.join("validator.key"))?;
    Ok(dir)
}

fn empty_store(dir: &Path) -> bool {
    !dir.join("chain").join("chain.redb").exists()
        || ChainStore::open(&dir.join("chain"))
            .is_ok_and(|s| s.snapshot().is_ok_and(|v| v.head_number().is_none()))
}

#[test]
fn a_snapshot_starts_a_new_data_directory_and_forged_ones_are_refused() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let source = dir.path().join("source");
    let to = Address::repeat_byte(0x72);
    chain_past(&source, 320, to, 7)?;
    let file = dir.path().join("chain.snap");
    let out = db(&["snapshot", "export", "--datadir", path(&source), "--out", path(&file)])?;
    eyre::ensure!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let manifest: Value = serde_json::from_slice(&out.stdout)?;
    let store = ChainStore::open(&source.join("chain"))?;
    let view = store.snapshot()?;
    let head = view.head().expect("head").clone();
    assert_eq!(manifest["height"], head.number);
    assert_eq!(manifest["blockHash"], json!(head.hash()));
    assert_eq!(manifest["stateRoot"], json!(head.state_root));
    assert_eq!(manifest["earliest"], head.number + 1 - 256);
    assert_eq!(manifest["accounts"], view.all_accounts()?.len());
    drop((view, store));
    let inspected: Value =
        serde_json::from_slice(&db(&["snapshot", "inspect", path(&file)])?.stdout)?;
    assert_eq!(inspected, manifest);

    // Forgeries and mistakes, each refused with its reason and nothing written.
    let target = fresh_datadir(dir.path(), "target", &source)?;
    let import = |file: &Path| -> eyre::Result<String> {
        let err =
            db_refused(&["snapshot", "import", "--datadir", path(&target), "--file", path(file)])?;
        assert!(empty_store(&target), "a refused import wrote nothing");
        Ok(err)
    };
    let forged = dir.path().join("forged.snap");
    // A byte flipped in a frame.
    let mut bytes = std::fs::read(&file)?;
    bytes[100] ^= 0x01;
    std::fs::write(&forged, &bytes)?;
    let err = import(&forged)?;
    assert!(err.contains("does not match its hash in the manifest"), "{err}");
    // Cut short, and not a snapshot at all.
    std::fs::write(&forged, &bytes[..bytes.len() / 2])?;
    assert!(import(&forged)?.contains("is not a BTCR snapshot"));
    std::fs::write(&forged, b"BTCRSNAP but nothing that follows makes sense at all")?;
    assert!(import(&forged)?.contains("is not a BTCR snapshot"));
    // A manifest that claims a huge frame: refused before anything that size is read.
    let mut edited = SnapshotBytes::read(&file)?;
    edited.write(&forged)?;
    let mut bytes = std::fs::read(&forged)?;
    bytes[9..13].copy_from_slice(&u32::MAX.to_be_bytes());
    std::fs::write(&forged, &bytes)?;
    assert!(import(&forged)?.contains("not the one its manifest lists"));
    // A richer account, every hash made to match: the state root gives it away.
    let mut edited = SnapshotBytes::read(&file)?;
    edited.edit::<SnapAccount>(3, |accounts| {
        let a = accounts.iter_mut().find(|a| a.address == to).expect("the recipient");
        a.account.balance += U256::from(1_000_000u64);
    });
    edited.write(&forged)?;
    let err = import(&forged)?;
    assert!(err.contains("the snapshot's state has root"), "{err}");
    // The head's certificate stripped of its signatures.
    let mut edited = SnapshotBytes::read(&file)?;
    let blocks_frames: Vec<usize> =
        (0..edited.frames.len()).filter(|i| edited.frames[*i].0 == 1).collect();
    let last = *blocks_frames.last().expect("a blocks frame");
    let mut blocks: Vec<SnapBlock> = Decodable::decode(&mut edited.frames[last].1.as_slice())?;
    let head_block = blocks.last_mut().expect("the head");
    let mut certificate = CommitCertificate::decode(&mut head_block.certificate.as_ref())?;
    certificate.signatures.clear();
    head_block.certificate = alloy_rlp::encode(&certificate).into();
    edited.frames[last].1 = alloy_rlp::encode(&blocks);
    edited.write(&forged)?;
    let err = import(&forged)?;
    assert!(err.contains("the head's certificate"), "{err}");
    // A block's PoH entries changed under its header, every hash made to match.
    let mut edited = SnapshotBytes::read(&file)?;
    let mut blocks: Vec<SnapBlock> = Decodable::decode(&mut edited.frames[last].1.as_slice())?;
    let mut block = btcr_primitives::Block::decode(&mut blocks[0].block.as_ref())?;
    assert!(block.header.poh_entries_root.is_some(), "a new chain's headers commit to the entries");
    block.body.poh_entries[0].hash = B256::repeat_byte(7);
    blocks[0].block = alloy_rlp::encode(&block).into();
    edited.frames[last].1 = alloy_rlp::encode(&blocks);
    edited.write(&forged)?;
    let err = import(&forged)?;
    assert!(err.contains("a body or receipts its header does not commit to"), "{err}");
    // Another chain's node.
    let mut genesis: Value = serde_json::from_slice(&std::fs::read(source.join("genesis.json"))?)?;
    genesis["chainId"] = json!(999);
    let stranger = fresh_datadir(dir.path(), "stranger", &source)?;
    std::fs::write(stranger.join("genesis.json"), serde_json::to_vec(&genesis)?)?;
    let err =
        db_refused(&["snapshot", "import", "--datadir", path(&stranger), "--file", path(&file)])?;
    assert!(err.contains("this node's genesis file gives chain 999"), "{err}");
    // A wrong trusted hash.
    let err = db_refused(&[
        "snapshot",
        "import",
        "--datadir",
        path(&target),
        "--file",
        path(&file),
        "--trust-hash",
        &format!("{}", B256::repeat_byte(9)),
    ])?;
    assert!(err.contains("not the trusted"), "{err}");
    // Into a store that holds a chain.
    let err =
        db_refused(&["snapshot", "import", "--datadir", path(&source), "--file", path(&file)])?;
    assert!(err.contains("already holds blocks"), "{err}");

    // The true snapshot: imported, and the chain goes on from it in the new directory.
    let said = db_ok(&["snapshot", "import", "--datadir", path(&target), "--file", path(&file)])?;
    assert!(said.contains("trusted through genesis validators"), "{said}");
    let node = DevProcess::start(btcr_bin(), &target, &["--block-time", "20ms"])?;
    let rpc = &node.rpc;
    assert_eq!(rpc.balance(to)?, U256::from(7));
    let number = head.number;
    assert_eq!(rpc.block(&format!("{number:#x}"), false)?["hash"], json!(head.hash()));
    assert!(is_pruned(rpc.block("0x1", false).unwrap_err(), 1));
    rpc.wait_for_block(number + 30, Duration::from_secs(60))?;
    let raw = TxBuilder::transfer(CHAIN_ID, 1, to, U256::from(1)).eip1559(&dev_key(3));
    let hash = rpc.send_raw(&raw)?;
    rpc.wait_for_receipt(hash, Duration::from_secs(30))?;
    assert_eq!(rpc.balance(to)?, U256::from(8));
    Ok(())
}
