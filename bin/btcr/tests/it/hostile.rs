//! What a hostile client or web page sends, and the refusal it gets: each test names the
//! weakness it closes, and checks that the node keeps serving afterwards.

use std::time::Duration;

use btcr_testkit::DevProcess;

use crate::{btcr_bin, raw_request};

/// [`raw_request`] for the status and body alone.
fn exchange(url: &str, head: &str, body: &str) -> eyre::Result<(u16, String)> {
    raw_request(url, head, body).map(|(status, _, body)| (status, body))
}

const CHAIN_ID_CALL: &str = r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#;

fn upgrade(origin: Option<&str>) -> String {
    let origin = origin.map(|o| format!("\r\nOrigin: {o}")).unwrap_or_default();
    format!(
        "GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=={origin}"
    )
}

/// A page on any site may POST `text/plain` (no preflight) and open a WebSocket (no
/// preflight either): JSON-RPC takes only `application/json`, and upgrades only from origins
/// `--rpc.cors` allows or from clients that name none.
#[test]
fn cross_site_posts_without_json_and_websockets_from_foreign_origins_are_refused()
-> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let node = DevProcess::start(btcr_bin(), dir.path(), &["--block-time", "100ms"])?;
    let url = node.rpc.url().to_owned();
    let post = |content_type: &str| {
        exchange(&url, &format!("POST / HTTP/1.1\r\nContent-Type: {content_type}"), CHAIN_ID_CALL)
    };
    for refused in ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded"] {
        let (status, body) = post(refused)?;
        assert_eq!(status, 415, "{refused}: {body}");
        assert!(body.contains("application/json"), "{refused}: {body}");
        assert!(!body.contains("0x539"), "{refused} was answered: {body}");
    }
    let (status, _) = exchange(&url, "POST / HTTP/1.1", CHAIN_ID_CALL)?;
    assert_eq!(status, 415, "no content type");
    for accepted in ["application/json", "application/json; charset=utf-8", "Application/JSON"] {
        let (status, body) = post(accepted)?;
        assert_eq!(status, 200, "{accepted}: {body}");
        assert!(body.contains("0x539"), "{accepted}: {body}");
    }

    for foreign in ["https://evil.example", "http://localhost.evil.example", "null"] {
        let (status, body) = exchange(&url, &upgrade(Some(foreign)), "")?;
        assert_eq!(status, 403, "{foreign}: {body}");
        assert!(body.contains("--rpc.cors"), "{foreign}: {body}");
    }
    let own = format!("http://{}", url.trim_start_matches("http://").trim_end_matches('/'));
    for allowed in [None, Some("http://localhost:5173"), Some("http://127.0.0.1"), Some(&*own)] {
        let (status, _) = exchange(&url, &upgrade(allowed), "")?;
        assert_eq!(status, 101, "{allowed:?}");
    }
    // The portal's own page, opened at whatever name reaches the node, is its own origin.
    let lan = format!("{}\r\nHost: node.lan:8545", upgrade(Some("http://node.lan:8545")));
    assert_eq!(exchange(&url, &lan, "")?.0, 101, "same origin");
    let other = format!("{}\r\nHost: node.lan:8545", upgrade(Some("http://node.lan:8546")));
    assert_eq!(exchange(&url, &other, "")?.0, 403, "another port is another origin");
    assert!(node.rpc.block_number().is_ok(), "the node keeps serving");
    Ok(())
}

/// A node's resident memory, in KiB (its high-water mark).
fn peak_rss_kib(pid: u32) -> eyre::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .ok_or_else(|| eyre::eyre!("no VmHWM in /proc/{pid}/status"))?;
    Ok(line.split_whitespace().nth(1).unwrap_or("0").parse()?)
}

/// A batch once collected every answer in memory with no budget: 1,000 × `txpool_content`
/// over a full pool took a node to 2 GiB. Answers are now written as they are made and
/// stop at `--rpc.max-response-bytes`; the rest of the batch is answered `-32005` without
/// running; and the calls of one batch share `--rpc.batch-gas-cap`, an estimate paying for
/// every run it makes.
#[test]
fn a_batch_stops_at_its_answer_budget_and_its_calls_share_one_gas_budget() -> eyre::Result<()> {
    use alloy_primitives::{Address, U256};
    use btcr_testkit::{TxBuilder, dev_key, http::HttpConnection};
    use serde_json::{Value, json};

    const BUDGET: usize = 1_000_000;
    let dir = tempfile::tempdir()?;
    let node = DevProcess::start(
        btcr_bin(),
        dir.path(),
        &[
            "--block-time",
            "100ms",
            "--rpc.max-response-bytes",
            &BUDGET.to_string(),
            "--rpc.batch-gas-cap",
            "100000",
            "--accounts",
            "20",
        ],
    )?;
    let rpc = &node.rpc;
    // Queued transactions (nonce 0 missing) stay in the pool, block after block.
    // 16 per sender, the most the pool queues for one.
    for sender in 3..18 {
        let key = dev_key(sender);
        for nonce in 1..=16 {
            let raw =
                TxBuilder::transfer(crate::CHAIN_ID, nonce, Address::repeat_byte(7), U256::from(1))
                    .eip1559(&key);
            rpc.send_raw(&raw)?;
        }
    }
    let one = serde_json::to_vec(&rpc.call("txpool_content", json!([]))?)?.len();
    assert!(one > 100_000, "a full answer is large: {one} bytes");

    let before = peak_rss_kib(node.pid())?;
    let batch: Vec<Value> = (0..1000)
        .map(|i| json!({ "jsonrpc": "2.0", "id": i, "method": "txpool_content", "params": [] }))
        .collect();
    let mut connection = HttpConnection::connect(rpc.url())?;
    let answer = connection.post(&Value::Array(batch))?;
    let answers = answer.as_array().expect("a batch answer");
    assert_eq!(answers.len(), 1000, "every request is answered");
    let size = serde_json::to_vec(&answer)?.len();
    assert!(size <= BUDGET + 1000 * 200, "{size} bytes answered, budget {BUDGET}");
    let served = answers.iter().take_while(|a| a.get("result").is_some()).count();
    assert!(served >= 1 && served <= BUDGET / one + 1, "{served} served of {one} bytes each");
    for (i, refused) in answers.iter().enumerate().skip(served) {
        assert_eq!(refused["id"], i, "in order, with its id");
        assert_eq!(refused["error"]["code"], -32005, "{refused}");
        assert!(refused["error"]["message"].as_str().unwrap().contains("--rpc.max-response-bytes"));
    }
    let after = peak_rss_kib(node.pid())?;
    println!("peak RSS {before} KiB before the batch, {after} KiB after ({one}-byte answers)");
    assert!(after < before + 256 * 1024, "peak RSS grew from {before} to {after} KiB");

    // The calls of one batch share 100,000 gas. Estimating a plain transfer takes two runs
    // (all the gas, then the 21,000 the first used): 42,000 each, so two fit; the 16,000
    // left is less than any call needs, and the rest are refused by name.
    let from = dev_key(1).address();
    let estimates: Vec<Value> = (0..5)
        .map(|i| {
            json!({ "jsonrpc": "2.0", "id": i, "method": "eth_estimateGas",
                    "params": [{ "from": from, "to": from, "value": "0x1" }] })
        })
        .collect();
    let answer = connection.post(&Value::Array(estimates))?;
    let answers = answer.as_array().expect("a batch answer");
    assert_eq!(answers[0]["result"], "0x5208", "{answer}");
    assert_eq!(answers[1]["result"], "0x5208", "{answer}");
    for refused in &answers[2..] {
        assert_eq!(refused["error"]["code"], -32005, "{answer}");
        assert!(refused["error"]["message"].as_str().unwrap().contains("--rpc.batch-gas-cap"));
    }
    // A lone request has the whole budget again, and the node keeps serving.
    assert_eq!(rpc.call("eth_estimateGas", json!([{ "from": from, "to": from }]))?, "0x5208");
    Ok(())
}

/// Log filters had no size bound: 1,000 installed filters of a 5 MiB body each would hold
/// gigabytes. A filter names at most 1,000 addresses and 100 alternatives per topic, over
/// HTTP and WebSocket alike.
#[test]
fn oversized_log_filters_are_refused_by_name() -> eyre::Result<()> {
    use serde_json::json;
    let dir = tempfile::tempdir()?;
    let node = DevProcess::start(btcr_bin(), dir.path(), &["--block-time", "100ms"])?;
    let rpc = &node.rpc;
    let addresses =
        |n: usize| -> Vec<String> { (0..n).map(|i| format!("{:#042x}", i + 1)).collect() };
    let topics = |n: usize| -> Vec<String> { (0..n).map(|i| format!("{:#066x}", i + 1)).collect() };
    let refusal = |method: &str, filter: serde_json::Value| {
        let e = crate::rpc::rpc_error(rpc.call(method, json!([filter])));
        (e.code, e.message)
    };

    let (code, message) = refusal("eth_newFilter", json!({ "address": addresses(1001) }));
    assert_eq!(code, -32602);
    assert!(message.contains("1001 addresses, at most 1000"), "{message}");
    let (code, message) =
        refusal("eth_getLogs", json!({ "topics": [null, topics(101)], "fromBlock": "0x0" }));
    assert_eq!(code, -32602);
    assert!(message.contains("topic 1 of the filter lists 101 alternatives"), "{message}");

    let mut ws = btcr_testkit::WsClient::connect(&rpc.url().replace("http://", "ws://"))?;
    let refused = ws.call("eth_subscribe", json!(["logs", { "address": addresses(1001) }]));
    let message = format!("{:#}", refused.expect_err("an oversized subscription"));
    assert!(message.contains("at most 1000"), "{message}");

    // At the bounds, they are accepted, and the node keeps serving.
    rpc.call("eth_newFilter", json!([{ "address": addresses(1000), "topics": [topics(100)] }]))?;
    ws.call("eth_subscribe", json!(["logs", { "address": addresses(1000) }]))?;
    assert!(rpc.block_number().is_ok());
    Ok(())
}

/// One client could take all 1,000 polled filters and lock everyone else out of them. Each
/// client (IP address) now holds at most `--rpc.max-filters-per-client`; uninstalling one
/// frees its place.
#[test]
fn one_client_cannot_take_every_filter() -> eyre::Result<()> {
    use serde_json::json;
    let dir = tempfile::tempdir()?;
    let node = DevProcess::start(
        btcr_bin(),
        dir.path(),
        &["--block-time", "100ms", "--rpc.max-filters-per-client", "3"],
    )?;
    let rpc = &node.rpc;
    let ids: Vec<serde_json::Value> = [
        rpc.call("eth_newBlockFilter", json!([]))?,
        rpc.call("eth_newPendingTransactionFilter", json!([]))?,
        rpc.call("eth_newFilter", json!([{}]))?,
    ]
    .into();
    for method in ["eth_newBlockFilter", "eth_newPendingTransactionFilter"] {
        let e = crate::rpc::rpc_error(rpc.call(method, json!([])));
        assert_eq!(e.code, -32005, "{}", e.message);
        assert!(e.message.contains("--rpc.max-filters-per-client"), "{}", e.message);
    }
    // Over WebSocket it is the same client.
    let mut ws = btcr_testkit::WsClient::connect(&rpc.url().replace("http://", "ws://"))?;
    let refused = ws.call("eth_newBlockFilter", json!([]));
    assert!(format!("{:#}", refused.expect_err("a fourth filter")).contains("per-client"));

    assert_eq!(rpc.call("eth_uninstallFilter", json!([ids[0]]))?, true);
    rpc.call("eth_newBlockFilter", json!([]))?;
    assert!(rpc.call("eth_getFilterChanges", json!([ids[1]])).is_ok(), "the others still work");
    Ok(())
}

/// REST handlers once took no connection permit, so REST requests could pile up past
/// `--rpc.max-connections`. Every request but a CORS preflight now takes one: with the only
/// place held by a WebSocket session, REST is answered 503 in the API's error shape, and
/// served again once the place is free.
#[test]
fn rest_requests_take_a_connection_place_like_json_rpc() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let node = DevProcess::start(
        btcr_bin(),
        dir.path(),
        &["--block-time", "100ms", "--rpc.max-connections", "1"],
    )?;
    let url = node.rpc.url().to_owned();
    let ws = btcr_testkit::WsClient::connect(&url.replace("http://", "ws://"))?;
    let (status, body) = exchange(&url, "GET /api/v1/summary HTTP/1.1", "")?;
    assert_eq!(status, 503, "{body}");
    let error: serde_json::Value = serde_json::from_str(&body)?;
    assert!(
        error["error"]["message"].as_str().unwrap_or_default().contains("too many connections"),
        "{body}"
    );
    drop(ws);
    let given_back = btcr_testkit::eventually(|| {
        let (status, body) = exchange(&url, "GET /api/v1/summary HTTP/1.1", "").unwrap();
        assert!(status == 200 || status == 503, "{status}: {body}");
        status == 200
    });
    assert!(given_back, "the place was never given back");
    Ok(())
}

/// Where [`looping_code`] puts its loop.
const LOOPING: &str = "0x0000000000000000000000000000000000000042";

/// State overrides placing `JUMPDEST PUSH1 0 JUMP` (a loop that ends when its gas does) at
/// [`LOOPING`] for one call.
fn looping_code() -> serde_json::Value {
    serde_json::json!({ LOOPING: { "code": "0x5b600056" } })
}

/// `eth_call` and `eth_estimateGas` had no time limit: 50 million gas of a tight loop held a
/// worker for as long as it ran. Past `--rpc.evm-timeout-ms` a call is now aborted with the
/// words Ethereum clients use, and the node keeps serving.
#[test]
fn a_call_running_past_its_time_is_aborted() -> eyre::Result<()> {
    use serde_json::json;
    let dir = tempfile::tempdir()?;
    let node = DevProcess::start(
        btcr_bin(),
        dir.path(),
        &["--block-time", "100ms", "--rpc.evm-timeout-ms", "50"],
    )?;
    let rpc = &node.rpc;
    let (looping, overrides) = (LOOPING, looping_code());
    let started = std::time::Instant::now();
    let aborted = rpc
        .call("eth_call", json!([{ "to": looping, "gas": "0x2faf080" }, "latest", overrides]))
        .unwrap_err();
    let took = started.elapsed();
    let error = btcr_testkit::rpc_error_of(aborted.into()).expect("a JSON-RPC error");
    assert_eq!(error.code, -32000, "{error:?}");
    assert!(error.message.starts_with("execution aborted (timeout = 50ms)"), "{error:?}");
    assert!(took < std::time::Duration::from_secs(2), "answered after {took:?}");
    let estimate =
        rpc.call("eth_estimateGas", json!([{ "to": looping }, "latest", overrides])).unwrap_err();
    let error = btcr_testkit::rpc_error_of(estimate.into()).expect("a JSON-RPC error");
    assert!(error.message.contains("execution aborted"), "{error:?}");
    assert!(rpc.block_number().is_ok(), "the node keeps serving");
    Ok(())
}

/// WebSocket requests outlived their connection: a client could queue hundreds of slow calls,
/// hang up, and the workers ran every one of them for nobody. Now the requests still queued
/// when a connection closes are dropped: here, with one worker and calls of 500 ms each, the
/// next client is served after the call already running, not after all 100.
#[test]
fn the_queued_requests_of_a_closed_websocket_are_dropped_unrun() -> eyre::Result<()> {
    use serde_json::json;
    let dir = tempfile::tempdir()?;
    let node = DevProcess::start(
        btcr_bin(),
        dir.path(),
        &["--block-time", "100ms", "--rpc.workers", "1", "--rpc.evm-timeout-ms", "500"],
    )?;
    let rpc = &node.rpc;
    let looping = LOOPING;
    let call = |id: u64| {
        json!({ "jsonrpc": "2.0", "id": id, "method": "eth_call",
                "params": [{ "to": looping }, "latest", looping_code()] })
    };
    let mut ws = btcr_testkit::WsClient::connect(&rpc.url().replace("http://", "ws://"))?;
    for id in 0..100 {
        ws.send_text(call(id).to_string())?;
    }
    // The first is running (aborted at 500 ms); the other 99 wait for the one worker.
    let first = ws.read()?;
    assert!(first["error"]["message"].as_str().unwrap_or("").contains("execution aborted"));
    drop(ws);
    let started = std::time::Instant::now();
    let answer = rpc.call("eth_call", json!([{ "to": looping }]))?;
    let waited = started.elapsed();
    println!("served {waited:?} after the connection with 99 queued calls closed");
    assert_eq!(answer, "0x");
    assert!(waited < Duration::from_secs(20), "waited {waited:?}: the queued calls ran (~50 s)");
    Ok(())
}
