//! Every rejection reason reaches the client as a readable JSON-RPC error.

use std::time::Duration;

use alloy_consensus::TxEip7702;
use alloy_primitives::{Address, Bytes, TxKind, U256};
use btcr_testkit::{DevProcess, RpcClient, TxBuilder, dev_key, rpc::RpcErrorObject, tx::sign};
use serde_json::json;

use crate::{CHAIN_ID, btcr_bin};

fn rejection(rpc: &RpcClient, raw: &Bytes) -> RpcErrorObject {
    let err = rpc.send_raw(raw).expect_err("the node should refuse this transaction");
    btcr_testkit::rpc_error_of(err.into()).expect("a JSON-RPC error")
}

#[test]
fn every_rejection_reason_is_readable() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let node = DevProcess::start(btcr_bin(), dir.path(), &["--block-time", "100ms"])?;
    let rpc = &node.rpc;
    let key = dev_key(1);
    let to = Address::repeat_byte(7);

    // Nonce too low: nonce 0 is used by a mined transaction.
    let first = rpc.send_raw(&TxBuilder::transfer(CHAIN_ID, 0, to, U256::from(1)).eip1559(&key))?;
    rpc.wait_for_receipt(first, Duration::from_secs(20))?;
    let e = rejection(rpc, &TxBuilder::transfer(CHAIN_ID, 0, to, U256::from(2)).eip1559(&key));
    assert_eq!(e.code, -32000);
    assert_eq!(e.message, "nonce too low: expected 1, got 0");

    // Insufficient funds: a key that holds nothing.
    let poor = btcr_crypto::SecretKey::random();
    let e = rejection(rpc, &TxBuilder::transfer(CHAIN_ID, 0, to, U256::from(5)).eip1559(&poor));
    assert_eq!(
        e.message,
        format!("insufficient funds: balance 0, cost {}", 21_000u128 * 10_000_000_000 + 5)
    );

    // Max fee below the base fee.
    let mut cheap = TxBuilder::transfer(CHAIN_ID, 1, to, U256::from(1));
    cheap.max_fee_per_gas = 1;
    cheap.max_priority_fee_per_gas = 1;
    let e = rejection(rpc, &cheap.eip1559(&key));
    assert!(e.message.starts_with("max fee per gas below base fee"), "{}", e.message);

    // A type BTCR does not execute.
    let set_code = TxEip7702 {
        chain_id: CHAIN_ID,
        nonce: 1,
        gas_limit: 100_000,
        max_fee_per_gas: 10_000_000_000,
        max_priority_fee_per_gas: 1,
        to,
        value: U256::ZERO,
        access_list: Default::default(),
        authorization_list: vec![],
        input: Bytes::new(),
    };
    let e = rejection(rpc, &sign(set_code, &key));
    assert_eq!(e.message, "transaction type not supported: EIP-7702");

    // Wrong chain id, and no chain id at all.
    let mut other_chain = TxBuilder::transfer(CHAIN_ID, 1, to, U256::from(1));
    other_chain.chain_id = Some(1);
    let e = rejection(rpc, &other_chain.eip1559(&key));
    assert_eq!(e.message, format!("invalid chain id: expected {CHAIN_ID}, got 1"));
    let mut unprotected = TxBuilder::transfer(CHAIN_ID, 1, to, U256::from(1));
    unprotected.chain_id = None;
    let e = rejection(rpc, &unprotected.legacy(&key));
    assert!(
        e.message.starts_with("invalid chain id: transaction is not replay-protected"),
        "{}",
        e.message
    );

    // Intrinsic gas.
    let mut low_gas = TxBuilder::transfer(CHAIN_ID, 1, to, U256::from(1));
    low_gas.gas_limit = 20_000;
    let e = rejection(rpc, &low_gas.eip1559(&key));
    assert_eq!(e.message, "intrinsic gas too low: gas limit 20000, intrinsic gas 21000");

    // Size limit (128 KiB).
    let big = TxBuilder::call(CHAIN_ID, 1, to, Bytes::from(vec![1u8; 130 * 1024]), 29_000_000)
        .eip1559(&key);
    let e = rejection(rpc, &big);
    assert!(e.message.starts_with("oversized data: transaction size"), "{}", e.message);
    assert!(e.message.ends_with("limit 131072"), "{}", e.message);

    // Bytes that are no transaction.
    let e = rejection(rpc, &Bytes::from_static(&[0xde, 0xad, 0xbe, 0xef]));
    assert!(e.message.starts_with("invalid transaction encoding"), "{}", e.message);

    // A bad signature: flip a byte inside the signature of a valid transaction.
    let mut raw = TxBuilder::transfer(CHAIN_ID, 1, to, U256::from(1)).eip1559(&key).to_vec();
    let n = raw.len();
    raw[n - 10] ^= 0xff;
    let e = rpc.send_raw(&raw.into()).expect_err("tampered signature");
    let e = btcr_testkit::rpc_error_of(e.into()).expect("a JSON-RPC error");
    // Either the signature no longer recovers, or it recovers to an unfunded account.
    assert!(
        e.message.starts_with("invalid sender") || e.message.starts_with("insufficient funds"),
        "{}",
        e.message
    );

    // Duplicates and replacements in the queue (nonce 5 leaves a gap).
    let queued = TxBuilder::transfer(CHAIN_ID, 5, to, U256::from(1)).eip1559(&key);
    rpc.send_raw(&queued)?;
    assert_eq!(rejection(rpc, &queued).message, "already known");
    let e = rejection(rpc, &TxBuilder::transfer(CHAIN_ID, 5, to, U256::from(2)).eip1559(&key));
    assert!(e.message.starts_with("replacement transaction underpriced"), "{}", e.message);
    let mut bumped = TxBuilder::transfer(CHAIN_ID, 5, to, U256::from(2));
    bumped.max_fee_per_gas = 11_000_000_000;
    bumped.max_priority_fee_per_gas = 1_100_000_000;
    rpc.send_raw(&bumped.eip1559(&key))?;

    // Malformed JSON-RPC input gets the standard codes.
    let r =
        rpc.post(&json!({"jsonrpc": "2.0", "id": 1, "method": "eth_noSuchMethod", "params": []}))?;
    assert_eq!(r["error"]["code"], -32601);
    let r = rpc.post(
        &json!({"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": ["0x12"]}),
    )?;
    assert_eq!(r["error"]["code"], -32602);
    let r = rpc.post(&json!([]))?;
    assert_eq!(r["error"]["code"], -32600);
    let _ = TxKind::Create;
    Ok(())
}
