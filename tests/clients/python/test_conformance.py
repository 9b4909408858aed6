"""Every method BTCR serves, called with valid parameters, answers with a result that
validates against the Ethereum JSON-RPC specification's schema; every method of the
specification BTCR does not serve answers -32601."""

import json
import time

import jsonschema
import pytest
from eth_account import Account
from eth_utils import to_checksum_address

from conftest import CHAIN_ID, DEV_KEYS, SPEC
from rpc import RpcError, call

with open(SPEC) as f:
    METHODS = {m["name"]: m for m in json.load(f)["methods"]}

# BTCR serves these; the rest of the specification answers -32601.
SERVED = {
    "eth_blockNumber", "eth_call", "eth_chainId", "eth_createAccessList", "eth_estimateGas",
    "eth_feeHistory", "eth_gasPrice", "eth_getBalance", "eth_getBlockByHash",
    "eth_getBlockByNumber", "eth_getBlockReceipts", "eth_getBlockTransactionCountByHash",
    "eth_getBlockTransactionCountByNumber", "eth_getCode", "eth_getFilterChanges",
    "eth_getFilterLogs", "eth_getLogs", "eth_getProof", "eth_getStorageAt",
    "eth_getTransactionByBlockHashAndIndex", "eth_getTransactionByBlockNumberAndIndex",
    "eth_getTransactionByHash", "eth_getTransactionCount", "eth_getTransactionReceipt",
    "eth_maxPriorityFeePerGas", "eth_newBlockFilter", "eth_newFilter",
    "eth_newPendingTransactionFilter", "eth_sendRawTransaction", "eth_syncing",
    "eth_uninstallFilter", "net_version", "txpool_content", "txpool_status",
}

# ERC-20 creation code is not needed here: a tiny contract that stores 42 in slot 0 and
# emits one log with topic 0x…01 on every call is enough to exercise state and logs.
# Runtime: PUSH1 42 PUSH1 0 SSTORE PUSH1 1 PUSH1 0 PUSH1 0 LOG1 STOP
RUNTIME = "602a60005560016000806000a100"
INIT = "600e600c600039600e6000f3" + RUNTIME  # copy the runtime to memory and return it


def validate(method, result):
    schema = METHODS[method]["result"]["schema"]
    jsonschema.Draft202012Validator(schema).validate(result)


def wait_receipt(url, tx_hash):
    for _ in range(200):
        receipt = call(url, "eth_getTransactionReceipt", [tx_hash])
        if receipt is not None:
            return receipt
        time.sleep(0.05)
    raise AssertionError(f"no receipt for {tx_hash}")


def send(url, key, nonce, to=None, data="0x", value=0, gas=100_000):
    tx = {
        "type": 2, "chainId": CHAIN_ID, "nonce": nonce, "gas": gas, "value": value,
        "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9, "data": data,
    }
    if to is not None:
        tx["to"] = to
    signed = Account.sign_transaction(tx, key)
    tx_hash = call(url, "eth_sendRawTransaction", ["0x" + signed.raw_transaction.hex().removeprefix("0x")])
    return tx_hash, wait_receipt(url, tx_hash)


@pytest.fixture(scope="module")
def chain(node):
    url = node.url
    key = DEV_KEYS[3]
    sender = Account.from_key(key).address
    nonce = int(call(url, "eth_getTransactionCount", [sender, "pending"]), 16)
    deploy_hash, deploy = send(url, key, nonce, data="0x" + INIT)
    contract = to_checksum_address(deploy["contractAddress"])
    log_filter = call(url, "eth_newFilter", [{"address": contract}])
    block_filter = call(url, "eth_newBlockFilter", [])
    pending_filter = call(url, "eth_newPendingTransactionFilter", [])
    tx_hash, receipt = send(url, key, nonce + 1, to=contract)
    # A future nonce waits in the pool's queue, so txpool_content has something to show.
    future = Account.sign_transaction(
        {"type": 2, "chainId": CHAIN_ID, "nonce": nonce + 10, "gas": 21_000, "value": 1,
         "to": sender, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9}, key)
    return {
        "url": url, "sender": sender, "contract": contract, "tx": tx_hash, "receipt": receipt,
        "block_hash": receipt["blockHash"], "block_number": receipt["blockNumber"],
        "deploy_block": deploy["blockNumber"], "log_filter": log_filter,
        "block_filter": block_filter, "pending_filter": pending_filter,
        "future": "0x" + future.raw_transaction.hex().removeprefix("0x"), "key": key,
        "nonce": nonce,
    }


def params_for(method, c):
    call_object = {"from": c["sender"], "to": c["contract"], "data": "0x"}
    return {
        "eth_blockNumber": [],
        "eth_call": [call_object, "latest"],
        "eth_chainId": [],
        "eth_createAccessList": [call_object, "latest"],
        "eth_estimateGas": [call_object],
        "eth_feeHistory": ["0x4", "latest", [10, 50, 90]],
        "eth_gasPrice": [],
        "eth_getBalance": [c["sender"], "latest"],
        "eth_getBlockByHash": [c["block_hash"], True],
        "eth_getBlockByNumber": [c["block_number"], False],
        "eth_getBlockReceipts": [c["block_number"]],
        "eth_getBlockTransactionCountByHash": [c["block_hash"]],
        "eth_getBlockTransactionCountByNumber": [c["block_number"]],
        "eth_getCode": [c["contract"], "latest"],
        "eth_getFilterChanges": [c["block_filter"]],
        "eth_getFilterLogs": [c["log_filter"]],
        "eth_getLogs": [{"fromBlock": c["deploy_block"], "toBlock": "latest", "address": c["contract"]}],
        "eth_getProof": [c["contract"], ["0x0"], "latest"],
        "eth_getStorageAt": [c["contract"], "0x0", "latest"],
        "eth_getTransactionByBlockHashAndIndex": [c["block_hash"], "0x0"],
        "eth_getTransactionByBlockNumberAndIndex": [c["block_number"], "0x0"],
        "eth_getTransactionByHash": [c["tx"]],
        "eth_getTransactionCount": [c["sender"], "latest"],
        "eth_getTransactionReceipt": [c["tx"]],
        "eth_maxPriorityFeePerGas": [],
        "eth_newBlockFilter": [],
        "eth_newFilter": [{"address": c["contract"]}],
        "eth_newPendingTransactionFilter": [],
        "eth_sendRawTransaction": [c["future"]],
        "eth_syncing": [],
        "eth_uninstallFilter": [c["pending_filter"]],
        "net_version": [],
        "txpool_content": [],
        "txpool_status": [],
    }[method]


@pytest.mark.parametrize("method", sorted(SERVED))
def test_served_method_results_match_the_specification(chain, method):
    assert method in METHODS, f"{method} is not in the specification"
    result = call(chain["url"], method, params_for(method, chain))
    validate(method, result)


def test_results_with_content_are_checked_too(chain):
    url = chain["url"]
    # Logs, a storage value and a proof that are not empty.
    logs = call(url, "eth_getLogs", [{"fromBlock": chain["deploy_block"], "address": chain["contract"]}])
    assert len(logs) == 1
    validate("eth_getLogs", logs)
    assert int(call(url, "eth_getStorageAt", [chain["contract"], "0x0", "latest"]), 16) == 42
    block = call(url, "eth_getBlockByNumber", [chain["block_number"], True])
    assert block["transactions"] and isinstance(block["transactions"][0], dict)
    validate("eth_getBlockByNumber", block)
    content = call(url, "txpool_content", [])
    validate("txpool_content", content)
    assert content["queued"], content


@pytest.mark.parametrize("method", sorted(set(METHODS) - SERVED))
def test_methods_not_served_answer_method_not_found(node, method):
    with pytest.raises(RpcError) as error:
        call(node.url, method, [])
    assert error.value.code == -32601, error.value.message
