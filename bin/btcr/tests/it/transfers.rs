//! Signed transfers of every transaction type get receipts, and fees are accounted for.

use std::time::Duration;

use alloy_primitives::{Address, B256, U256};
use btcr_testkit::{DevProcess, TxBuilder, dev_key, rpc::quantity};
use serde_json::json;

use crate::{CHAIN_ID, btcr_bin};

#[test]
fn transfers_of_every_type_get_receipts() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let node = DevProcess::start(btcr_bin(), dir.path(), &["--block-time", "100ms"])?;
    let rpc = &node.rpc;
    assert_eq!(quantity(&rpc.call("eth_chainId", json!([]))?)?, CHAIN_ID);

    let key = dev_key(0);
    let to = Address::repeat_byte(0x42);
    let before = rpc.balance(key.address())?;
    let raws = [
        TxBuilder::transfer(CHAIN_ID, 0, to, U256::from(1_000)).eip1559(&key),
        TxBuilder::transfer(CHAIN_ID, 1, to, U256::from(2_000)).eip2930(&key),
        TxBuilder::transfer(CHAIN_ID, 2, to, U256::from(3_000)).legacy(&key),
    ];
    let hashes: Vec<B256> = raws.iter().map(|raw| rpc.send_raw(raw)).collect::<Result<_, _>>()?;
    let mut total_fee = U256::ZERO;
    for (hash, ty) in hashes.iter().zip(["0x2", "0x1", "0x0"]) {
        let receipt = rpc.wait_for_receipt(*hash, Duration::from_secs(20))?;
        assert_eq!(receipt["status"], "0x1", "{receipt}");
        assert_eq!(receipt["type"], ty);
        assert_eq!(receipt["gasUsed"], "0x5208");
        assert_eq!(
            receipt["from"].as_str().unwrap().to_lowercase(),
            key.address().to_string().to_lowercase()
        );
        let gas_used = quantity(&receipt["gasUsed"])?;
        let price = quantity(&receipt["effectiveGasPrice"])?;
        total_fee += U256::from(gas_used) * U256::from(price);

        let block = rpc.block(receipt["blockNumber"].as_str().unwrap(), false)?;
        assert!(block["transactions"].as_array().unwrap().contains(&json!(hash)));
        assert_eq!(block["hash"], receipt["blockHash"]);
        let tx = rpc.call("eth_getTransactionByHash", json!([hash]))?;
        assert_eq!(tx["hash"], json!(hash));
        assert_eq!(tx["blockNumber"], receipt["blockNumber"]);
    }
    assert_eq!(rpc.balance(to)?, U256::from(6_000));
    assert_eq!(rpc.nonce(key.address())?, 3);
    assert_eq!(rpc.balance(key.address())?, before - U256::from(6_000) - total_fee);
    Ok(())
}

#[test]
fn blocks_follow_the_configured_block_time_and_carry_poh() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let node = DevProcess::start(btcr_bin(), dir.path(), &["--block-time", "200ms"])?;
    let rpc = &node.rpc;
    rpc.wait_for_block(2, Duration::from_secs(20))?;
    let first = rpc.block("latest", false)?;
    let first_number = quantity(&first["number"])?;
    rpc.wait_for_block(first_number + 5, Duration::from_secs(20))?;
    let later = rpc.block(&format!("{:#x}", first_number + 5), false)?;
    let elapsed_ms = quantity(&later["timestampMs"])? - quantity(&first["timestampMs"])?;
    // Five 200 ms slots; generous bounds because the machine is shared.
    assert!((800..=3000).contains(&elapsed_ms), "five blocks took {elapsed_ms} ms");
    assert_eq!(quantity(&later["pohTicks"])?, 32);
    let parent = rpc.block(&format!("{:#x}", first_number + 4), false)?;
    assert_eq!(later["pohStartHash"], parent["pohEndHash"]);
    assert_eq!(later["parentHash"], parent["hash"]);
    assert_eq!(later["mixHash"], later["pohEndHash"]);
    // Tags that name the head.
    for tag in ["safe", "finalized", "pending"] {
        assert!(quantity(&rpc.block(tag, false)?["number"])? >= first_number + 5);
    }
    assert_eq!(quantity(&rpc.block("earliest", false)?["number"])?, 0);
    assert!(rpc.block("0xffffff", false)?.is_null());
    Ok(())
}

#[test]
fn a_stopped_chain_reopens_where_it_stopped() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let node = DevProcess::start(btcr_bin(), dir.path(), &["--block-time", "100ms"])?;
    let key = dev_key(5);
    let hash = node.rpc.send_raw(
        &TxBuilder::transfer(CHAIN_ID, 0, Address::repeat_byte(1), U256::from(9)).eip1559(&key),
    )?;
    node.rpc.wait_for_receipt(hash, Duration::from_secs(20))?;
    let head = node.rpc.block_number()?;
    let status = node.terminate()?;
    assert!(status.success(), "SIGTERM should stop the node cleanly: {status}");

    // Reopened with another block time: the chain goes on from where it was.
    let node = DevProcess::start(btcr_bin(), dir.path(), &["--block-time", "50ms"])?;
    assert!(node.rpc.block_number()? >= head);
    assert!(node.rpc.receipt(hash)?.is_some());
    assert_eq!(node.rpc.nonce(key.address())?, 1);
    node.rpc.wait_for_block(head + 3, Duration::from_secs(20))?;
    Ok(())
}
