//! WebSocket subscriptions, polled filters, and every server limit: each one hit, answered
//! with a clear error, and the node still serving afterwards.

use std::time::{Duration, Instant};

use alloy_primitives::{Address, Bytes, U256};
use alloy_sol_types::{SolCall, SolEvent};
use btcr_testkit::{
    DevProcess, RpcClient, TxBuilder, WsClient,
    contracts::{BtcrToken, btcr_token_init_code},
    dev_key,
    rpc::{RpcErrorObject, quantity},
    ws::raw_http,
};
use serde_json::{Value, json};

use crate::{CHAIN_ID, btcr_bin};

fn ws_url(rpc: &RpcClient) -> String {
    rpc.url().replacen("http://", "ws://", 1)
}

fn addr(rpc: &RpcClient) -> String {
    rpc.url().trim_start_matches("http://").to_owned()
}

fn rpc_error<E: Into<eyre::Report>>(result: Result<Value, E>) -> RpcErrorObject {
    let report = result.map_err(Into::into).expect_err("the node should refuse this");
    btcr_testkit::rpc_error_of(report).expect("RPC error")
}

fn transfer_call(to: Address, amount: u64) -> Bytes {
    BtcrToken::transferCall { to, amount: U256::from(amount) }.abi_encode().into()
}

/// Polls a filter until it reports something, for up to 20 seconds.
fn poll_until_changes(rpc: &RpcClient, id: &Value) -> eyre::Result<Vec<Value>> {
    let mut changes = Vec::new();
    let reported = btcr_testkit::eventually(|| {
        let polled = rpc.call("eth_getFilterChanges", json!([id])).ok();
        changes = polled.and_then(|c| c.as_array().cloned()).unwrap_or_default();
        !changes.is_empty()
    });
    eyre::ensure!(reported, "filter {id} reported nothing");
    Ok(changes)
}

#[test]
fn subscriptions_and_filters() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let node = DevProcess::start(btcr_bin(), dir.path(), &["--block-time", "100ms"])?;
    let rpc = &node.rpc;
    let mut ws = WsClient::connect(&ws_url(rpc))?;
    assert_eq!(ws.call("eth_chainId", json!([]))?, format!("{CHAIN_ID:#x}"));

    // newHeads: a head arrives with Ethereum's header fields.
    let heads = ws.subscribe(json!(["newHeads"]))?;
    let head = ws.notification(&heads, Duration::from_secs(10))?;
    assert!(quantity(&head["number"])? >= 1);
    assert!(head["hash"].is_string() && head["parentHash"].is_string());
    assert!(head["baseFeePerGas"].is_string());
    assert_eq!(ws.call("eth_unsubscribe", json!([heads]))?, true);
    assert_eq!(ws.call("eth_unsubscribe", json!([heads]))?, false);

    // A token, then subscriptions and filters for its Transfer logs and for pending
    // transactions.
    let owner = dev_key(2);
    let init = btcr_token_init_code("Reload Token", "RLD", U256::from(1_000u64))?;
    let deploy = rpc.send_raw(&TxBuilder::create(CHAIN_ID, 0, init, 2_000_000).eip1559(&owner))?;
    let deploy = rpc.wait_for_receipt(deploy, Duration::from_secs(20))?;
    let token = owner.address().create(0);
    let logs_sub = ws.subscribe(json!(["logs", {
        "address": token,
        "topics": [BtcrToken::Transfer::SIGNATURE_HASH],
    }]))?;
    let pending_sub = ws.subscribe(json!(["newPendingTransactions"]))?;
    let log_filter = rpc.call("eth_newFilter", json!([{ "address": token }]))?;
    let block_filter = rpc.call("eth_newBlockFilter", json!([]))?;
    let pending_filter = rpc.call("eth_newPendingTransactionFilter", json!([]))?;

    let to = Address::repeat_byte(0x42);
    let hash = rpc.send_raw(
        &TxBuilder::call(CHAIN_ID, 1, token, transfer_call(to, 9), 100_000).eip1559(&owner),
    )?;
    assert_eq!(ws.notification(&pending_sub, Duration::from_secs(10))?, json!(hash));
    let log = ws.notification(&logs_sub, Duration::from_secs(20))?;
    assert_eq!(log["transactionHash"], json!(hash));
    assert_eq!(log["topics"][2], json!(to.into_word()));

    // The same events through polled filters over HTTP.
    let pending = poll_until_changes(rpc, &pending_filter)?;
    assert!(pending.contains(&json!(hash)));
    let logs = poll_until_changes(rpc, &log_filter)?;
    assert_eq!(logs[0]["transactionHash"], json!(hash));
    let blocks = poll_until_changes(rpc, &block_filter)?;
    assert!(blocks.iter().all(Value::is_string));
    // eth_getFilterLogs re-reads the whole range: the mint from the deploy block on is
    // there too once the filter starts early enough.
    let from_deploy = rpc
        .call("eth_newFilter", json!([{ "address": token, "fromBlock": deploy["blockNumber"] }]))?;
    let all = rpc.call("eth_getFilterLogs", json!([from_deploy]))?;
    assert_eq!(all.as_array().unwrap().len(), 2, "mint and transfer: {all}");
    assert_eq!(rpc.call("eth_uninstallFilter", json!([from_deploy]))?, true);
    let e = rpc_error(rpc.call("eth_getFilterChanges", json!([from_deploy])));
    assert_eq!(e.message, "filter not found");

    // Subscriptions need a WebSocket.
    let e = rpc_error(rpc.call("eth_subscribe", json!(["newHeads"])));
    assert_eq!(e.code, -32601);
    assert!(e.message.contains("WebSocket"), "{}", e.message);
    Ok(())
}

#[test]
fn every_limit_answers_clearly_and_the_node_keeps_serving() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let node = DevProcess::start(
        btcr_bin(),
        dir.path(),
        &[
            "--block-time",
            "100ms",
            "--rpc.max-body-bytes",
            "2000",
            "--rpc.max-batch",
            "3",
            "--rpc.max-ws-message-bytes",
            "1000",
            "--rpc.max-subscriptions",
            "2",
            "--rpc.max-filters",
            "2",
            "--rpc.max-connections",
            "3",
        ],
    )?;
    let rpc = &node.rpc;
    let addr = addr(rpc);
    let call = |id: u32| json!({ "jsonrpc": "2.0", "id": id, "method": "eth_blockNumber" });

    // Request body and batch length.
    let big = json!({ "jsonrpc": "2.0", "id": 1, "method": "web3_sha3", "params": [format!("0x{}", "ab".repeat(1500))] });
    let response =
        raw_http(&addr, "POST", &[("content-type", "application/json")], &big.to_string())?;
    assert_eq!(response.status, 413, "{}", response.body);
    let response = rpc.post(&json!([call(1), call(2), call(3), call(4)]))?;
    assert_eq!(response["error"]["code"], -32600);
    assert_eq!(
        response["error"]["message"],
        "invalid request: batch of 4 requests exceeds the limit of 3"
    );

    // Subscriptions per connection; a WebSocket message over the limit closes only that
    // connection.
    let mut ws = WsClient::connect(&format!("ws://{addr}"))?;
    ws.subscribe(json!(["newHeads"]))?;
    ws.subscribe(json!(["newPendingTransactions"]))?;
    let e = rpc_error(ws.call("eth_subscribe", json!(["newHeads"])));
    assert_eq!(e.message, "too many subscriptions on this connection (at most 2)");
    ws.send_text(json!({ "jsonrpc": "2.0", "id": 9, "method": "web3_sha3", "params": [format!("0x{}", "cd".repeat(1000))] }).to_string())?;
    let closed = (0..100).find_map(|_| ws.read().err());
    assert!(closed.is_some(), "the oversized message ends the connection");
    drop(ws);

    // Filters, across all clients.
    rpc.call("eth_newBlockFilter", json!([]))?;
    rpc.call("eth_newPendingTransactionFilter", json!([]))?;
    let e = rpc_error(rpc.call("eth_newBlockFilter", json!([])));
    assert!(e.message.starts_with("too many filters installed (at most 2)"), "{}", e.message);

    // Connections: three WebSockets take every place; a fourth connection and an HTTP
    // request are turned away until one leaves.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut open = Vec::new();
    while open.len() < 3 {
        // The closed connection above may still hold its place for a moment.
        match WsClient::connect(&format!("ws://{addr}")) {
            Ok(ws) => open.push(ws),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(e),
        }
    }
    assert!(WsClient::connect(&format!("ws://{addr}")).is_err());
    let response =
        raw_http(&addr, "POST", &[("content-type", "application/json")], &call(1).to_string())?;
    assert_eq!(response.status, 503, "{}", response.body);
    assert!(response.header("retry-after").is_some());
    assert!(response.body.contains("too many connections (at most 3)"), "{}", response.body);
    open.pop();
    assert!(
        btcr_testkit::eventually(|| rpc.block_number().is_ok()),
        "HTTP served again once a connection closed"
    );
    drop(open);

    // CORS: localhost pages may call, others may not.
    let preflight = |origin: &str| {
        raw_http(
            &addr,
            "OPTIONS",
            &[("origin", origin), ("access-control-request-method", "POST")],
            "",
        )
    };
    let response = preflight("http://localhost:5173")?;
    assert_eq!(response.status, 204);
    assert_eq!(response.header("access-control-allow-origin"), Some("http://localhost:5173"));
    assert_eq!(preflight("https://elsewhere.example")?.status, 403);
    let response = raw_http(
        &addr,
        "POST",
        &[("content-type", "application/json"), ("origin", "https://elsewhere.example")],
        &call(1).to_string(),
    )?;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("access-control-allow-origin"), None);

    // After all of it, the node serves and goes on producing blocks.
    let head = rpc.block_number()?;
    rpc.wait_for_block(head + 2, Duration::from_secs(20))?;
    Ok(())
}
