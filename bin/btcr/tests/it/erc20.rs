//! The repository's ERC-20 contract deploys, transfers, emits its Transfer log, and reverts
//! a transfer that exceeds the balance.

use std::time::Duration;

use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_sol_types::{SolCall, SolEvent};
use btcr_testkit::{
    DevProcess, TxBuilder,
    contracts::{BtcrToken, btcr_token_init_code},
    dev_key,
    rpc::quantity,
};

use crate::{CHAIN_ID, btcr_bin};

#[test]
fn erc20_deploys_and_transfers_with_a_transfer_log() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let node = DevProcess::start(btcr_bin(), dir.path(), &["--block-time", "100ms"])?;
    let rpc = &node.rpc;
    let owner = dev_key(2);
    let supply = U256::from(1_000_000u64) * U256::from(10u64).pow(U256::from(18));

    let init = btcr_token_init_code("Reload Token", "RLD", supply)?;
    let deploy = rpc.send_raw(&TxBuilder::create(CHAIN_ID, 0, init, 2_000_000).eip1559(&owner))?;
    let receipt = rpc.wait_for_receipt(deploy, Duration::from_secs(20))?;
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    let token: Address = serde_json::from_value(receipt["contractAddress"].clone())?;
    assert_eq!(token, owner.address().create(0));
    // The constructor mints to the deployer: Transfer(0x0 → owner, supply).
    let mint = &receipt["logs"][0];
    assert_eq!(mint["topics"][0], serde_json::json!(BtcrToken::Transfer::SIGNATURE_HASH));
    assert!(quantity(&receipt["gasUsed"])? > 21_000);

    let recipient = Address::repeat_byte(0x99);
    let amount = U256::from(12_345u64);
    let call = BtcrToken::transferCall { to: recipient, amount }.abi_encode();
    let hash =
        rpc.send_raw(&TxBuilder::call(CHAIN_ID, 1, token, call.into(), 200_000).eip1559(&owner))?;
    let receipt = rpc.wait_for_receipt(hash, Duration::from_secs(20))?;
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    let logs = receipt["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 1);
    let log = &logs[0];
    assert_eq!(serde_json::from_value::<Address>(log["address"].clone())?, token);
    let topics: Vec<B256> = serde_json::from_value(log["topics"].clone())?;
    assert_eq!(topics[0], keccak256("Transfer(address,address,uint256)"));
    assert_eq!(topics[1], owner.address().into_word());
    assert_eq!(topics[2], recipient.into_word());
    let data: alloy_primitives::Bytes = serde_json::from_value(log["data"].clone())?;
    assert_eq!(U256::from_be_slice(&data), amount);
    assert_eq!(log["transactionHash"], serde_json::json!(hash));
    assert_eq!(log["blockNumber"], receipt["blockNumber"]);
    // The bloom of the receipt and of the block admit the token's address.
    let bloom: alloy_primitives::Bloom = serde_json::from_value(receipt["logsBloom"].clone())?;
    assert!(bloom.contains_input(alloy_primitives::BloomInput::Raw(token.as_slice())));

    // A holder without tokens cannot transfer: the call reverts, is still mined, pays gas
    // and logs nothing.
    let stranger = dev_key(3);
    let call = BtcrToken::transferCall { to: recipient, amount }.abi_encode();
    let hash = rpc
        .send_raw(&TxBuilder::call(CHAIN_ID, 0, token, call.into(), 200_000).eip1559(&stranger))?;
    let receipt = rpc.wait_for_receipt(hash, Duration::from_secs(20))?;
    assert_eq!(receipt["status"], "0x0", "{receipt}");
    assert!(receipt["logs"].as_array().unwrap().is_empty());
    assert_eq!(rpc.nonce(stranger.address())?, 1);
    Ok(())
}

#[test]
fn receipts_read_one_by_one_agree_with_the_blocks_receipts_and_logs() -> eyre::Result<()> {
    // A long block time puts every transaction below in one block.
    let dir = tempfile::tempdir()?;
    let node = DevProcess::start(btcr_bin(), dir.path(), &["--block-time", "1500ms"])?;
    let rpc = &node.rpc;
    let owner = dev_key(2);
    let init = btcr_token_init_code("Reload Token", "RLD", U256::from(1_000_000u64))?;
    let deploy = rpc.send_raw(&TxBuilder::create(CHAIN_ID, 0, init, 2_000_000).eip1559(&owner))?;
    rpc.wait_for_receipt(deploy, Duration::from_secs(20))?;
    let token = owner.address().create(0);

    // Token transfers (a log each) around a plain transfer (none), from two senders.
    let other = dev_key(1);
    let transfer = |nonce, to| {
        let call = BtcrToken::transferCall { to, amount: U256::from(5) }.abi_encode();
        TxBuilder::call(CHAIN_ID, nonce, token, call.into(), 200_000).eip1559(&owner)
    };
    let hashes = [
        rpc.send_raw(&transfer(1, Address::repeat_byte(1)))?,
        rpc.send_raw(
            &TxBuilder::transfer(CHAIN_ID, 0, Address::repeat_byte(2), U256::from(1))
                .eip1559(&other),
        )?,
        rpc.send_raw(&transfer(2, Address::repeat_byte(3)))?,
        rpc.send_raw(&transfer(3, Address::repeat_byte(4)))?,
    ];
    let receipts: Vec<_> = hashes
        .iter()
        .map(|h| rpc.wait_for_receipt(*h, Duration::from_secs(20)))
        .collect::<Result<_, _>>()?;
    let block = receipts[0]["blockNumber"].clone();
    assert!(receipts.iter().all(|r| r["blockNumber"] == block), "one block: {receipts:?}");

    // Each receipt read alone equals the block's receipt at its index; the log indexes run
    // through the block as eth_getLogs numbers them.
    let all = rpc.call("eth_getBlockReceipts", serde_json::json!([block]))?;
    for receipt in &receipts {
        let index = quantity(&receipt["transactionIndex"])? as usize;
        assert_eq!(receipt, &all[index], "receipt {index}");
    }
    let logs =
        rpc.call("eth_getLogs", serde_json::json!([{ "fromBlock": block, "toBlock": block }]))?;
    let indexes: Vec<u64> = logs
        .as_array()
        .unwrap()
        .iter()
        .map(|l| quantity(&l["logIndex"]))
        .collect::<Result<_, _>>()?;
    assert_eq!(indexes, [0, 1, 2]);
    let from_receipts: Vec<u64> = receipts
        .iter()
        .flat_map(|r| r["logs"].as_array().unwrap().clone())
        .map(|l| quantity(&l["logIndex"]))
        .collect::<Result<_, _>>()?;
    assert_eq!(from_receipts.len(), 3);
    let mut sorted = from_receipts.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [0, 1, 2]);
    // Gas: each receipt's gasUsed is its share of the cumulative gas.
    let mut cumulative = 0;
    for r in all.as_array().unwrap() {
        let used = quantity(&r["gasUsed"])?;
        cumulative += used;
        assert_eq!(quantity(&r["cumulativeGasUsed"])?, cumulative);
    }
    Ok(())
}
