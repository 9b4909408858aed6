//! The REST API against a `btcr dev` node: every endpoint, its 400s and 404s, and the
//! pagination bounds; the OpenAPI document it serves names exactly these routes.

use std::time::Duration;

use alloy_primitives::{Address, U256};
use alloy_sol_types::SolCall;
use btcr_testkit::{
    DevProcess, RpcClient, TxBuilder,
    contracts::{BtcrToken, btcr_token_init_code, greedy_token_init_code},
    dev_key,
};
use serde_json::Value;

use crate::{CHAIN_ID, btcr_bin};

fn ok(rpc: &RpcClient, path: &str) -> Value {
    let (status, body) = rpc.get(path).unwrap();
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

fn refused(rpc: &RpcClient, path: &str, status: u16, needle: &str) {
    let (got, body) = rpc.get(path).unwrap();
    assert_eq!(got, status, "GET {path}: {body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(needle), "GET {path}: {message:?} should mention {needle:?}");
    let code = body["error"]["code"].as_str().unwrap_or_default();
    assert_eq!(code, if status == 400 { "bad_request" } else { "not_found" });
}

#[test]
fn the_rest_api_serves_blocks_transactions_addresses_validators_and_search() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let node = DevProcess::start(btcr_bin(), dir.path(), &["--block-time", "100ms"])?;
    let rpc = &node.rpc;

    // Three transfers from one account, and an ERC-20 token moving between two.
    let alice = dev_key(1);
    let bob = Address::repeat_byte(0xb0);
    let mut hashes = Vec::new();
    for nonce in 0..3 {
        let raw =
            TxBuilder::transfer(CHAIN_ID, nonce, bob, U256::from(1_000 + nonce)).eip1559(&alice);
        hashes.push(rpc.send_raw(&raw)?);
    }
    let owner = dev_key(2);
    let init = btcr_token_init_code("Reload Token", "RLD", U256::from(1_000_000u64))?;
    let deploy = rpc.send_raw(&TxBuilder::create(CHAIN_ID, 0, init, 2_000_000).eip1559(&owner))?;
    let token = owner.address().create(0);
    rpc.wait_for_receipt(deploy, Duration::from_secs(20))?;
    let call = BtcrToken::transferCall { to: bob, amount: U256::from(77) }.abi_encode();
    let moved =
        rpc.send_raw(&TxBuilder::call(CHAIN_ID, 1, token, call.into(), 200_000).eip1559(&owner))?;
    for h in hashes.iter().chain([&moved]) {
        rpc.wait_for_receipt(*h, Duration::from_secs(20))?;
    }

    // Summary.
    let summary = ok(rpc, "/api/v1/summary");
    assert_eq!(summary["chainId"], CHAIN_ID);
    assert_eq!(summary["validators"], 1);
    assert!(summary["height"].as_u64().unwrap() >= 2);
    assert_eq!(summary["height"], summary["finalizedHeight"]);
    // At least the validator's stake and the dev accounts' funds exist.
    let supply: U256 = summary["supply"].as_str().unwrap().parse()?;
    assert!(supply > U256::from(1_000u64) * U256::from(10u64).pow(U256::from(18)), "{supply}");
    refused(rpc, "/api/v1/summary?x=1", 400, "unknown parameter");

    // Blocks: newest first, pages chained by cursor down to genesis.
    let head = summary["height"].as_u64().unwrap();
    let first = ok(rpc, "/api/v1/blocks?limit=2");
    let items = first["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items[0]["number"].as_u64() > items[1]["number"].as_u64());
    let mut seen = items.len();
    let mut cursor = first["nextCursor"].as_str().map(str::to_owned);
    while let Some(c) = cursor {
        let page = ok(rpc, &format!("/api/v1/blocks?limit=500&before={c}"));
        seen += page["items"].as_array().unwrap().len();
        cursor = page["nextCursor"].as_str().map(str::to_owned);
    }
    assert!(seen as u64 > head, "every block down to genesis: {seen} of {}", head + 1);
    let default_page = ok(rpc, "/api/v1/blocks")["items"].as_array().unwrap().len() as u64;
    assert!(default_page <= 50 && default_page >= (head + 1).min(50), "{default_page}");
    refused(rpc, "/api/v1/blocks?limit=0", 400, "limit");
    refused(rpc, "/api/v1/blocks?limit=501", 400, "limit");
    refused(rpc, "/api/v1/blocks?before=abc", 400, "before");
    ok(rpc, "/api/v1/blocks?limit=500");

    // A transaction, its block (by height and by hash) and the block's transactions.
    let tx = ok(rpc, &format!("/api/v1/transactions/{}", hashes[0]));
    assert_eq!(tx["from"], alice.address().to_string());
    assert_eq!(tx["to"], bob.to_string());
    assert_eq!(tx["value"], "1000");
    assert_eq!(tx["status"], "success");
    assert_eq!(tx["gasUsed"], 21_000);
    assert_eq!(tx["type"], "eip1559");
    let fee: U256 = tx["fee"].as_str().unwrap().parse()?;
    let price: U256 = tx["effectiveGasPrice"].as_str().unwrap().parse()?;
    assert_eq!(fee, price * U256::from(21_000));
    let number = tx["blockNumber"].as_u64().unwrap();
    let by_height = ok(rpc, &format!("/api/v1/blocks/{number}"));
    let by_hash = ok(rpc, &format!("/api/v1/blocks/{}", tx["blockHash"].as_str().unwrap()));
    assert_eq!(by_height, by_hash);
    assert!(by_height["transactions"].as_array().unwrap().contains(&tx["hash"]));
    assert_eq!(by_height["certificate"]["signatures"].as_array().unwrap().len(), 1);
    assert!(by_height["poh"]["ticks"].as_u64().unwrap() > 0);
    assert_eq!(ok(rpc, "/api/v1/blocks/0")["certificate"], Value::Null);
    let in_block = ok(rpc, &format!("/api/v1/blocks/{number}/transactions?page=1&limit=500"));
    assert!(in_block["items"].as_array().unwrap().iter().any(|t| t["hash"] == tx["hash"]));
    let past_end = ok(rpc, &format!("/api/v1/blocks/{number}/transactions?page=99"));
    assert!(past_end["items"].as_array().unwrap().is_empty());
    refused(rpc, &format!("/api/v1/blocks/{number}/transactions?page=0"), 400, "page");
    refused(rpc, "/api/v1/blocks/99999999", 404, "above the head");
    refused(rpc, &format!("/api/v1/blocks/0x{}", "ab".repeat(32)), 404, "no block");
    refused(rpc, "/api/v1/blocks/latest", 400, "neither a block height nor a block hash");
    refused(rpc, "/api/v1/transactions/0x1234", 400, "not a hash");
    refused(rpc, &format!("/api/v1/transactions/0x{}", "cd".repeat(32)), 404, "no transaction");

    // The token transfer is decoded from its log.
    let token_tx = ok(rpc, &format!("/api/v1/transactions/{moved}"));
    let transfers = token_tx["tokenTransfers"].as_array().unwrap();
    assert_eq!(transfers.len(), 1);
    assert_eq!(transfers[0]["token"], token.to_string());
    assert_eq!(transfers[0]["to"], bob.to_string());
    assert_eq!(transfers[0]["value"], "77");

    // Addresses: an account, a contract, and the history of both ends of the transfers.
    let account = ok(rpc, &format!("/api/v1/addresses/{}", alice.address()));
    assert_eq!(account["nonce"], 3);
    assert_eq!(account["isContract"], false);
    let contract = ok(rpc, &format!("/api/v1/addresses/{token}"));
    assert_eq!(contract["isContract"], true);
    assert!(contract["codeSize"].as_u64().unwrap() > 0);
    refused(rpc, "/api/v1/addresses/0x12", 400, "not an address");
    // bob received 3 transfers and the token: the token transfer names bob in its log.
    let page = ok(rpc, &format!("/api/v1/addresses/{bob}/transactions?limit=2"));
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["hash"], moved.to_string(), "newest first");
    assert_eq!(items[1]["hash"], hashes[2].to_string());
    let next = page["nextCursor"].as_str().expect("two transfers follow");
    let rest = ok(rpc, &format!("/api/v1/addresses/{bob}/transactions?before={next}"));
    let rest_items = rest["items"].as_array().unwrap();
    assert_eq!(rest_items.len(), 2);
    assert_eq!(rest_items[1]["hash"], hashes[0].to_string());
    assert_eq!(rest["nextCursor"], Value::Null);
    // Token balances: bob's 77, the owner's remainder; alice holds none.
    let bobs = ok(rpc, &format!("/api/v1/addresses/{bob}"));
    let tokens = bobs["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1, "{bobs}");
    assert_eq!(tokens[0]["token"], token.to_string());
    assert_eq!(
        (&tokens[0]["name"], &tokens[0]["symbol"], &tokens[0]["decimals"], &tokens[0]["balance"]),
        (&Value::from("Reload Token"), &Value::from("RLD"), &Value::from(18), &Value::from("77"))
    );
    let owners = ok(rpc, &format!("/api/v1/addresses/{}", owner.address()));
    assert_eq!(owners["tokens"][0]["balance"], "999923");
    assert_eq!(account["tokens"], Value::Array(vec![]));
    // The token itself; an account and a contract that is no token are 404s.
    let info = ok(rpc, &format!("/api/v1/tokens/{token}"));
    assert_eq!(
        (&info["name"], &info["symbol"], &info["decimals"], &info["totalSupply"]),
        (
            &Value::from("Reload Token"),
            &Value::from("RLD"),
            &Value::from(18),
            &Value::from("1000000")
        )
    );
    refused(rpc, &format!("/api/v1/tokens/{bob}"), 404, "no contract");
    refused(rpc, "/api/v1/tokens/0x0000000000000000000000000000000000001000", 404, "ERC-20");
    refused(rpc, "/api/v1/tokens/bob", 400, "not an address");
    let created = ok(rpc, &format!("/api/v1/addresses/{token}/transactions"));
    assert_eq!(created["items"].as_array().unwrap().len(), 2, "its creation and the call");
    refused(rpc, &format!("/api/v1/addresses/{bob}/transactions?before=7"), 400, "cursor");
    refused(rpc, &format!("/api/v1/addresses/{bob}/transactions?limit=501"), 400, "limit");

    // Validators, from the staking contract.
    let validators = ok(rpc, "/api/v1/validators");
    let list = validators.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["status"], "active");
    assert_eq!(list[0]["votingPower"], 1000);
    assert_eq!(list[0]["stake"], "1000000000000000000000");
    // The only validator signs every certificate.
    let window = list[0]["windowBlocks"].as_u64().unwrap();
    assert!(window > 0 && window <= 100, "{window}");
    assert_eq!(list[0]["signedBlocks"], window);
    assert_eq!(list[0]["uptime"], 1.0);

    // Search.
    let found = ok(rpc, &format!("/api/v1/search?q={}", hashes[1]));
    assert_eq!(
        (found["kind"].as_str(), found["id"].as_str()),
        (Some("transaction"), Some(hashes[1].to_string().as_str()))
    );
    assert_eq!(ok(rpc, &format!("/api/v1/search?q={number}"))["kind"], "block");
    assert_eq!(
        ok(rpc, &format!("/api/v1/search?q={}", by_height["hash"].as_str().unwrap()))["id"],
        number.to_string()
    );
    assert_eq!(ok(rpc, &format!("/api/v1/search?q={bob}"))["kind"], "address");
    refused(rpc, "/api/v1/search", 400, "q is required");
    refused(rpc, "/api/v1/search?q=hello", 400, "not a height");
    refused(
        rpc,
        &format!("/api/v1/search?q=0x{}", "ef".repeat(32)),
        404,
        "no block or transaction",
    );

    // The OpenAPI document and its page; an unknown endpoint is a JSON 404.
    let doc = ok(rpc, "/api/v1/openapi.json");
    assert_eq!(doc["openapi"], "3.1.0");
    let built: serde_json::Value = serde_json::from_str(&btcr_node::openapi_document())?;
    assert_eq!(doc, built, "the node serves the document its handlers make");
    refused(rpc, "/api/v1/nothing", 404, "no such endpoint");
    let (status, kind, page) = rpc.get_text("/api/v1/docs")?;
    assert_eq!((status, kind.as_str()), (200, "text/html; charset=utf-8"));
    assert!(page.contains("openapi.json") && page.contains("docs.js"));
    let (status, kind, script) = rpc.get_text("/api/v1/docs.js")?;
    assert_eq!((status, kind.as_str()), (200, "text/javascript; charset=utf-8"));
    assert!(script.contains("fetch('openapi.json')"));
    Ok(())
}

#[test]
fn an_address_holding_many_costly_tokens_gets_a_bounded_answer() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let node = DevProcess::start(btcr_bin(), dir.path(), &["--block-time", "100ms"])?;
    let rpc = &node.rpc;
    // 40 tokens whose every view burns the 100,000 gas it may use: reading them all would
    // take 160 views and 16 million gas; the answer stops at its 5 million gas budget.
    let owner = dev_key(2);
    let init = greedy_token_init_code()?;
    let mut last = None;
    for nonce in 0..40 {
        let raw = TxBuilder::create(CHAIN_ID, nonce, init.clone(), 400_000).eip1559(&owner);
        last = Some(rpc.send_raw(&raw)?);
    }
    let receipt = rpc.wait_for_receipt(last.expect("40 sent"), Duration::from_secs(30))?;
    assert_eq!(receipt["status"], "0x1");
    let view = ok(rpc, &format!("/api/v1/addresses/{}", owner.address()));
    let listed = view["tokens"].as_array().unwrap().len();
    // Each view uses about 95,000 gas (the rest of its 100,000 is left when it answers):
    // the budget covers about 13 tokens' four views.
    assert!((10..=15).contains(&listed), "{listed} tokens listed of 40");
    Ok(())
}

#[test]
fn the_node_serves_the_portal_at_every_route_of_the_app_and_its_assets() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let node = DevProcess::start(btcr_bin(), dir.path(), &["--block-time", "100ms"])?;
    let rpc = &node.rpc;
    let (status, kind, index) = rpc.get_text("/")?;
    assert_eq!((status, kind.as_str()), (200, "text/html; charset=utf-8"));
    assert!(index.contains("<div id=\"root\">"), "{index}");
    // The app's own routes get the same page, for the browser's router to show.
    for route in [
        "/blocks",
        "/blocks/1",
        "/staking",
        "/admin",
        "/address/0x0000000000000000000000000000000000001000",
    ] {
        assert_eq!(rpc.get_text(route)?.2, index, "{route}");
    }
    // Every script and style the page names is served, with its type.
    let assets: Vec<String> = index
        .split("\"/assets/")
        .skip(1)
        .map(|rest| rest.chars().take_while(|c| *c != '"').collect())
        .collect();
    assert!(
        assets.iter().any(|a| a.ends_with(".js")) && assets.iter().any(|a| a.ends_with(".css"))
    );
    for asset in &assets {
        let (status, kind, body) = rpc.get_text(&format!("/assets/{asset}"))?;
        assert_eq!(status, 200, "{asset}");
        assert!(kind.starts_with(if asset.ends_with(".js") {
            "text/javascript"
        } else {
            "text/css"
        }));
        assert!(!body.is_empty());
    }
    assert_eq!(rpc.get_text("/assets/missing.js")?.0, 404);
    // JSON-RPC still answers at the root, over HTTP POST and WebSocket.
    assert!(rpc.block_number().is_ok());
    let mut ws = btcr_testkit::WsClient::connect(&rpc.url().replace("http://", "ws://"))?;
    let answer = ws.call("eth_chainId", serde_json::json!([]))?;
    assert_eq!(answer, format!("{CHAIN_ID:#x}"));
    Ok(())
}

/// `GET path` on a fresh connection, with the `extra` header lines (each ending in CRLF).
fn raw_get(url: &str, path: &str, extra: &str) -> eyre::Result<crate::RawAnswer> {
    let head: String = std::iter::once(format!("GET {path} HTTP/1.1"))
        .chain(extra.lines().map(|line| format!("\r\n{line}")))
        .collect();
    crate::raw_request(url, &head, "")
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// What every answer carries (a request id, headers that keep browsers from misreading it,
/// a content security policy on the portal's page), and what a hostile client gets: query
/// strings that are too long, repeated, unknown or encoded to hide a value are read as
/// they mean or refused by name, and the node keeps serving.
#[test]
fn every_answer_carries_its_request_id_and_security_headers_and_odd_queries_are_refused()
-> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let node = DevProcess::start(btcr_bin(), dir.path(), &["--block-time", "100ms"])?;
    let url = node.rpc.url().to_owned();

    let (status, headers, _) = raw_get(&url, "/api/v1/summary", "X-Request-Id: trace-42\r\n")?;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "x-request-id"), Some("trace-42"), "the client's id is kept");
    assert_eq!(header(&headers, "x-content-type-options"), Some("nosniff"));
    assert_eq!(header(&headers, "x-frame-options"), Some("DENY"));
    assert_eq!(header(&headers, "referrer-policy"), Some("no-referrer"));
    // An id that could smuggle anything into a log is replaced.
    let spaced = format!("X-Request-Id: {}\r\n", "<script> ".repeat(3));
    let (_, headers, _) = raw_get(&url, "/api/v1/summary", &spaced)?;
    let id = header(&headers, "x-request-id").unwrap_or_default();
    assert!(id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id:?}");

    // The portal's page may load only what the node serves.
    let (status, headers, page) = raw_get(&url, "/", "")?;
    assert_eq!(status, 200);
    assert!(page.contains("<div id=\"root\">"));
    let policy = header(&headers, "content-security-policy").unwrap_or_default();
    assert!(policy.contains("default-src 'self'") && policy.contains("frame-ancestors 'none'"));
    // JSON-RPC still answers on `/`.
    assert!(node.rpc.block_number().is_ok());

    // Percent-escapes are decoded: `%35%30%30` is 500, the largest page.
    let (status, _, body) = raw_get(&url, "/api/v1/blocks?limit=%35%30%30", "")?;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = raw_get(&url, "/api/v1/blocks?limit=%35%30%31", "")?;
    assert_eq!(status, 400);
    assert!(body.contains("limit must be a whole number from 1 to 500"), "{body}");
    for (path, needle) in [
        (format!("/api/v1/search?q={}", "1".repeat(5000)), "4096"),
        ("/api/v1/blocks?limit=5&limit=6".to_owned(), "duplicate parameter `limit`"),
        ("/api/v1/blocks?limits=5".to_owned(), "unknown parameter `limits`"),
        ("/api/v1/summary?%00=1".to_owned(), "unknown parameter"),
        ("/api/v1/blocks?before=-1".to_owned(), "before must be a block height"),
    ] {
        let (status, headers, body) = raw_get(&url, &path, "")?;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains(needle), "{path}: {body} should say {needle:?}");
        assert_eq!(header(&headers, "content-type"), Some("application/json"));
    }
    // A flood of bad requests leaves the node serving.
    for _ in 0..200 {
        raw_get(&url, "/api/v1/blocks?limit=abc", "")?;
    }
    let (status, _, _) = raw_get(&url, "/api/v1/summary", "")?;
    assert_eq!(status, 200);
    Ok(())
}
