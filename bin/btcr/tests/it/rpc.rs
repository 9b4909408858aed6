//! The JSON-RPC methods beyond sending and receipts: state reads, proofs, calls, gas
//! estimation, block and transaction lookups, fees, logs, the pool and BTCR's own methods,
//! with their limits.

use std::time::Duration;

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_sol_types::{SolCall, SolEvent, SolValue};
use btcr_testkit::{
    DevProcess, RpcClient, TxBuilder,
    contracts::{BtcrToken, btcr_token_init_code},
    dev_key,
    rpc::{RpcErrorObject, quantity},
};
use serde_json::{Value, json};

use crate::{CHAIN_ID, btcr_bin};

/// Deploys a token from dev key 2 (nonce 0) and returns its address and the deploy receipt.
fn deploy_token(rpc: &RpcClient, supply: U256) -> eyre::Result<(Address, Value)> {
    let owner = dev_key(2);
    let init = btcr_token_init_code("Reload Token", "RLD", supply)?;
    let hash = rpc.send_raw(&TxBuilder::create(CHAIN_ID, 0, init, 2_000_000).eip1559(&owner))?;
    let receipt = rpc.wait_for_receipt(hash, Duration::from_secs(20))?;
    assert_eq!(receipt["status"], "0x1", "{receipt}");
    Ok((owner.address().create(0), receipt))
}

pub(crate) fn rpc_error<E: Into<eyre::Report>>(result: Result<Value, E>) -> RpcErrorObject {
    let report = result.map_err(Into::into).expect_err("the node should refuse this");
    btcr_testkit::rpc_error_of(report).expect("RPC error")
}

#[test]
fn state_reads_calls_estimates_and_proofs() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let node = DevProcess::start(btcr_bin(), dir.path(), &["--block-time", "100ms"])?;
    let rpc = &node.rpc;
    let supply = U256::from(1_000_000u64);
    let (token, _) = deploy_token(rpc, supply)?;
    let owner = dev_key(2).address();

    // Code and storage: totalSupply sits in slot 2.
    let code: Bytes = serde_json::from_value(rpc.call("eth_getCode", json!([token, "latest"]))?)?;
    assert!(code.len() > 100, "runtime code of the token");
    let eoa_code = rpc.call("eth_getCode", json!([owner, "latest"]))?;
    assert_eq!(eoa_code, "0x");
    let slot2: B256 = serde_json::from_value(rpc.call("eth_getStorageAt", json!([token, "0x2"]))?)?;
    assert_eq!(U256::from_be_bytes(slot2.0), supply);

    // eth_call: balanceOf through the ABI.
    let data = Bytes::from(BtcrToken::balanceOfCall { account: owner }.abi_encode());
    let out: Bytes = serde_json::from_value(
        rpc.call("eth_call", json!([{ "to": token, "data": data }, "latest"]))?,
    )?;
    assert_eq!(U256::abi_decode(&out)?, supply);

    // A reverting call: code 3, the reason in the message and the revert data in `data`.
    let stranger = Address::repeat_byte(0x55);
    let transfer =
        Bytes::from(BtcrToken::transferCall { to: owner, amount: U256::from(1) }.abi_encode());
    let request = json!({ "from": stranger, "to": token, "data": transfer });
    let response = rpc.post(
        &json!({ "jsonrpc": "2.0", "id": 7, "method": "eth_call", "params": [request, "latest"] }),
    )?;
    let error = &response["error"];
    assert_eq!(error["code"], 3, "{response}");
    assert_eq!(error["message"], "execution reverted: BtcrToken: transfer amount exceeds balance");
    let revert: Bytes = serde_json::from_value(error["data"].clone())?;
    assert_eq!(&revert[..4], &[0x08, 0xc3, 0x79, 0xa0], "Error(string) selector");

    // The same call with the stranger's balance slot overridden succeeds:
    // balances live in the mapping at slot 3.
    let balance_slot = keccak256((stranger, U256::from(3)).abi_encode());
    let overrides = json!({ token.to_string(): {
        "stateDiff": { balance_slot.to_string(): B256::from(U256::from(10).to_be_bytes::<32>()) }
    }});
    let out: Bytes =
        serde_json::from_value(rpc.call("eth_call", json!([request, "latest", overrides]))?)?;
    assert!(bool::abi_decode(&out)?);

    // eth_estimateGas: enough gas to succeed, not wildly more than used.
    let send =
        Bytes::from(BtcrToken::transferCall { to: stranger, amount: U256::from(7) }.abi_encode());
    let estimate = quantity(
        &rpc.call("eth_estimateGas", json!([{ "from": owner, "to": token, "data": send }]))?,
    )?;
    assert!((30_000..80_000).contains(&estimate), "estimate {estimate}");
    let hash = rpc.send_raw(
        &TxBuilder::call(CHAIN_ID, 1, token, send.clone(), estimate).eip1559(&dev_key(2)),
    )?;
    let receipt = rpc.wait_for_receipt(hash, Duration::from_secs(20))?;
    assert_eq!(receipt["status"], "0x1", "the estimate is enough: {receipt}");
    assert!(quantity(&receipt["gasUsed"])? <= estimate);
    // eth_createAccessList: the token with the two balance slots the transfer touches.
    let listed = rpc.call(
        "eth_createAccessList",
        json!([{ "from": owner, "to": stranger, "data": send.clone() }, "latest"]),
    )?;
    assert_eq!(listed["accessList"], json!([]), "a call to an account without code: {listed}");
    let listed =
        rpc.call("eth_createAccessList", json!([{ "from": owner, "to": token, "data": send }]))?;
    let list = listed["accessList"].as_array().unwrap();
    assert!(list.is_empty(), "the recipient is warm already: {listed}");
    let over = Bytes::from(
        BtcrToken::transferCall { to: owner, amount: U256::from(1_000_000) }.abi_encode(),
    );
    let through =
        rpc.call("eth_createAccessList", json!([{ "from": stranger, "to": token, "data": over }]))?;
    assert_eq!(through["error"], "execution reverted: BtcrToken: transfer amount exceeds balance");
    assert!(quantity(&through["gasUsed"])? > 21_000);
    // A call through another contract (code given as a state override) lists the token and
    // the balance slot it reads. The router copies its input, calls the token with it and
    // returns what the token returned.
    let router = Address::repeat_byte(0x77);
    let code = format!(
        "0x36600060003760006000366000600073{}5af1503d6000803e3d6000f3",
        alloy_primitives::hex::encode(token)
    );
    let listed = rpc.call(
        "eth_createAccessList",
        json!([{ "from": owner, "to": router, "data": send }, "latest", { router.to_string(): { "code": code } }]),
    )?;
    let list = listed["accessList"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{listed}");
    assert_eq!(serde_json::from_value::<Address>(list[0]["address"].clone())?, token);
    let router_balance = keccak256((router, U256::from(3)).abi_encode());
    assert!(
        list[0]["storageKeys"].as_array().unwrap().contains(&json!(router_balance)),
        "{listed}"
    );
    // A plain transfer needs exactly 21,000.
    let plain =
        rpc.call("eth_estimateGas", json!([{ "from": owner, "to": stranger, "value": "0x1" }]))?;
    assert_eq!(quantity(&plain)?, 21_000);
    // A request's nonce is not checked, ahead of the state's or behind it: a wallet
    // estimates each of several pipelined sends with the nonce it will use.
    let nonce = quantity(&rpc.call("eth_getTransactionCount", json!([owner, "latest"]))?)?;
    for other in [nonce + 1, nonce + 5, 0] {
        let request = json!({ "from": owner, "to": stranger, "value": "0x1", "nonce": format!("{other:#x}") });
        assert_eq!(quantity(&rpc.call("eth_estimateGas", json!([request.clone()]))?)?, 21_000);
        assert_eq!(rpc.call("eth_call", json!([request, "latest"]))?, "0x");
    }
    // With a fee named, a sender who cannot pay the value and the least fee hears why, as
    // wallets show it, rather than of a gas limit of zero.
    let e = rpc_error(rpc.call(
        "eth_estimateGas",
        json!([{ "from": stranger, "to": owner, "value": "0x56bc75e2d63100000",
                 "maxFeePerGas": "0x3b9aca00", "maxPriorityFeePerGas": "0x1" }]),
    ));
    assert!(e.message.starts_with("insufficient funds for gas * price + value"), "{}", e.message);
    // Estimating a call that reverts with any gas reports the revert (the stranger now holds
    // 7 tokens, not 1,000).
    let too_much =
        Bytes::from(BtcrToken::transferCall { to: owner, amount: U256::from(1_000) }.abi_encode());
    let e = rpc_error(
        rpc.call("eth_estimateGas", json!([{ "from": stranger, "to": token, "data": too_much }])),
    );
    assert_eq!(e.code, 3);
    assert_eq!(e.message, "execution reverted: BtcrToken: transfer amount exceeds balance");

    // eth_getProof: the account's fields, and sibling hashes then a 64-byte leaf.
    let proof = rpc.call("eth_getProof", json!([token, ["0x2"], "latest"]))?;
    assert_eq!(proof["nonce"], "0x1");
    assert_eq!(proof["storageProof"][0]["value"], format!("{supply:#x}"));
    let nodes: Vec<Bytes> = serde_json::from_value(proof["accountProof"].clone())?;
    let (leaf, siblings) = nodes.split_last().expect("a present account ends at its leaf");
    assert_eq!(leaf.len(), 64);
    assert_eq!(&leaf[..32], keccak256(token).as_slice());
    assert!(siblings.iter().all(|s| s.len() == 32));
    // It verifies against the head's state root, with the account's fields as the leaf.
    let account = btcr_primitives::Account {
        nonce: quantity(&proof["nonce"])?,
        balance: serde_json::from_value(proof["balance"].clone())?,
        code_hash: serde_json::from_value(proof["codeHash"].clone())?,
        storage_root: serde_json::from_value(proof["storageHash"].clone())?,
    };
    let tree_proof = btcr_trie::Proof {
        siblings: siblings.iter().map(|s| B256::from_slice(s)).collect(),
        leaf: Some((B256::from_slice(&leaf[..32]), B256::from_slice(&leaf[32..]))),
    };
    let head = rpc.block("latest", false)?;
    let state_root: B256 = serde_json::from_value(head["stateRoot"].clone())?;
    let leaf_value = keccak256(alloy_rlp::encode(account));
    btcr_trie::verify_proof(state_root, &keccak256(token), Some(&leaf_value), &tree_proof)?;

    // Only the head's state is kept: older blocks are refused, clearly.
    let e = rpc_error(rpc.call("eth_getBalance", json!([owner, "0x0"])));
    assert_eq!(e.code, -32000);
    assert!(e.message.starts_with("historical state is not available"), "{}", e.message);
    Ok(())
}

#[test]
fn blocks_transactions_fees_logs_pool_and_node_methods() -> eyre::Result<()> {
    let dir = tempfile::tempdir()?;
    let node = DevProcess::start(
        btcr_bin(),
        dir.path(),
        &["--block-time", "100ms", "--rpc.max-logs-range", "50", "--rpc.max-logs", "2"],
    )?;
    let rpc = &node.rpc;
    let (token, deploy) = deploy_token(rpc, U256::from(1_000u64))?;
    let key = dev_key(2);
    let mut hashes = Vec::new();
    for (nonce, to) in [(1, 0x11u8), (2, 0x12)] {
        let data = Bytes::from(
            BtcrToken::transferCall { to: Address::repeat_byte(to), amount: U256::from(5) }
                .abi_encode(),
        );
        hashes.push(
            rpc.send_raw(&TxBuilder::call(CHAIN_ID, nonce, token, data, 100_000).eip1559(&key))?,
        );
    }
    let receipt = rpc.wait_for_receipt(hashes[1], Duration::from_secs(20))?;
    let number = quantity(&receipt["blockNumber"])?;
    let block_hash = receipt["blockHash"].clone();

    // Lookups by block and index agree with the receipt.
    let index = receipt["transactionIndex"].clone();
    let by_number = rpc
        .call("eth_getTransactionByBlockNumberAndIndex", json!([format!("{number:#x}"), index]))?;
    let by_hash = rpc.call("eth_getTransactionByBlockHashAndIndex", json!([block_hash, index]))?;
    assert_eq!(by_number["hash"], json!(hashes[1]));
    assert_eq!(by_number, by_hash);
    assert_eq!(
        rpc.call(
            "eth_getTransactionByBlockNumberAndIndex",
            json!([format!("{number:#x}"), "0x99"])
        )?,
        Value::Null
    );
    let count = rpc.call("eth_getBlockTransactionCountByHash", json!([block_hash]))?;
    assert_eq!(
        count,
        rpc.call("eth_getBlockTransactionCountByNumber", json!([format!("{number:#x}")]))?
    );
    let receipts = rpc.call("eth_getBlockReceipts", json!([format!("{number:#x}")]))?;
    assert_eq!(receipts.as_array().unwrap().len() as u64, quantity(&count)?);
    assert!(receipts.as_array().unwrap().contains(&receipt));
    assert_eq!(rpc.call("eth_getBlockReceipts", json!([block_hash]))?, receipts);
    for tag in ["earliest", "safe", "finalized", "pending", "latest"] {
        assert!(
            rpc.call("eth_getBlockByNumber", json!([tag, false]))?["hash"].is_string(),
            "{tag}"
        );
    }

    // Fees: the gas price covers the next base fee; the history has one more base fee than
    // blocks, and one reward row per block.
    let head = rpc.block("latest", false)?;
    let price = quantity(&rpc.call("eth_gasPrice", json!([]))?)?;
    assert!(price >= quantity(&head["baseFeePerGas"])? / 2);
    quantity(&rpc.call("eth_maxPriorityFeePerGas", json!([]))?)?;
    let history =
        rpc.call("eth_feeHistory", json!(["0x4", format!("{number:#x}"), [25.0, 75.0]]))?;
    let blocks = (number + 1).min(4) as usize;
    assert_eq!(quantity(&history["oldestBlock"])?, number + 1 - blocks as u64);
    assert_eq!(history["baseFeePerGas"].as_array().unwrap().len(), blocks + 1);
    assert_eq!(history["gasUsedRatio"].as_array().unwrap().len(), blocks);
    let rewards = history["reward"].as_array().unwrap();
    assert_eq!(rewards.len(), blocks);
    assert_eq!(rewards[blocks - 1].as_array().unwrap().len(), 2);
    let e = rpc_error(rpc.call("eth_feeHistory", json!(["0x4", "latest", [75.0, 25.0]])));
    assert_eq!(e.code, -32602);

    // Logs by address and topic: the mint and the two transfers, found from their block.
    let deploy_block = deploy["blockNumber"].clone();
    let filter = json!({
        "fromBlock": deploy_block,
        "toBlock": "latest",
        "address": token,
        "topics": [BtcrToken::Transfer::SIGNATURE_HASH, null, Address::repeat_byte(0x12).into_word()],
    });
    let logs = rpc.call("eth_getLogs", json!([filter]))?;
    let logs = logs.as_array().unwrap();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(logs[0]["transactionHash"], json!(hashes[1]));
    // Limits: more than 2 results, then a range wider than 50 blocks.
    let all = json!({ "fromBlock": deploy_block, "address": token });
    let e = rpc_error(rpc.call("eth_getLogs", json!([all])));
    assert_eq!(e.code, -32000);
    assert!(e.message.contains("more than 2 results"), "{}", e.message);
    rpc.wait_for_block(60, Duration::from_secs(30))?;
    let e =
        rpc_error(rpc.call("eth_getLogs", json!([{ "fromBlock": "0x0", "toBlock": "latest" }])));
    assert!(e.message.starts_with("block range too large"), "{}", e.message);
    // The node still serves after refusing.
    assert!(rpc.block_number()? >= 60);

    // The pool: a future nonce waits in the queue.
    let future = rpc.send_raw(
        &TxBuilder::transfer(CHAIN_ID, 10, Address::repeat_byte(1), U256::from(1)).eip1559(&key),
    )?;
    let status = rpc.call("txpool_status", json!([]))?;
    assert_eq!(status["queued"], "0x1", "{status}");
    let content = rpc.call("txpool_content", json!([]))?;
    assert_eq!(content["queued"][key.address().to_checksum(None)]["10"]["hash"], json!(future));

    // Stateless and node methods.
    assert_eq!(rpc.call("web3_sha3", json!(["0x68656c6c6f"]))?, json!(keccak256("hello")));
    assert_eq!(rpc.call("net_peerCount", json!([]))?, "0x0");
    assert_eq!(rpc.call("eth_syncing", json!([]))?, false);
    let info = rpc.call("btcr_nodeInfo", json!([]))?;
    assert_eq!(info["chainId"], format!("{CHAIN_ID:#x}"));
    assert_eq!(info["genesisHash"], rpc.block("earliest", false)?["hash"]);
    // One validator decides each height in its first round, past the head it has.
    let quantity =
        |v: &Value| u64::from_str_radix(v.as_str().unwrap_or("").trim_start_matches("0x"), 16);
    assert_eq!(info["consensus"]["round"], "0x0", "{info}");
    assert!(quantity(&info["consensus"]["height"])? > quantity(&info["head"]["number"])?, "{info}");
    let poh = rpc.call("btcr_getPoh", json!([format!("{number:#x}")]))?;
    assert_eq!(poh["verified"], true, "{poh}");
    assert_eq!(poh["endHash"], head_of(rpc, number)?["mixHash"]);
    assert!(poh["entries"].as_array().unwrap().iter().any(|e| e["transactions"] != "0x0"));
    let finality = rpc.call("btcr_getFinality", json!([format!("{number:#x}")]))?;
    assert_eq!(finality["hash"], head_of(rpc, number)?["hash"], "{finality}");
    assert_eq!(finality["signatures"].as_array().map(Vec::len), Some(1), "{finality}");
    assert_eq!(rpc.call("btcr_getFinality", json!(["earliest"]))?, Value::Null);
    assert_eq!(rpc.call("btcr_getMisbehavior", json!([]))?, json!([]));
    assert_eq!(rpc.call("btcr_getMisbehavior", json!(["0x5"]))?, json!([]));
    for bad in [json!(["0x0"]), json!(["0x3e9"]), json!(["ten"])] {
        assert_eq!(rpc_error(rpc.call("btcr_getMisbehavior", bad)).code, -32602);
    }
    let e = rpc_error(rpc.call("eth_mining", json!([])));
    assert_eq!(e.code, -32601);
    Ok(())
}

fn head_of(rpc: &RpcClient, number: u64) -> eyre::Result<Value> {
    Ok(rpc.call("eth_getBlockByNumber", json!([format!("{number:#x}"), false]))?)
}
