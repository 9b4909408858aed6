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
