"""web3.py, unmodified, against a `btcr dev` node: what a Python dapp or script does."""

import asyncio
import json
import threading

import pytest
from eth_account import Account
from web3 import AsyncWeb3, Web3
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.providers.persistent import WebSocketProvider

from conftest import CHAIN_ID, DEV_KEYS, ROOT

with open(ROOT / "contracts" / "build" / "BtcrToken.json") as f:
    TOKEN = json.load(f)


@pytest.fixture(scope="module")
def w3(node):
    return Web3(Web3.HTTPProvider(node.url))


def send(w3, key, tx):
    """Fills nonce, chain id, fees and gas the way a wallet does, signs, sends, waits."""
    sender = Account.from_key(key).address
    tx = {
        "from": sender,
        "chainId": w3.eth.chain_id,
        "nonce": w3.eth.get_transaction_count(sender, "pending"),
        "maxPriorityFeePerGas": w3.eth.max_priority_fee,
        "maxFeePerGas": 2 * w3.eth.get_block("latest")["baseFeePerGas"] + w3.eth.max_priority_fee,
        **tx,
    }
    if "gas" not in tx:
        tx["gas"] = w3.eth.estimate_gas(tx)
    signed = Account.sign_transaction(tx, key)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.05)


@pytest.fixture(scope="module")
def token(w3):
    key = DEV_KEYS[1]
    contract = w3.eth.contract(abi=TOKEN["abi"], bytecode=TOKEN["bytecode"])
    owner = Account.from_key(key).address
    data = contract.constructor("Reload Token", "RLD", 10**24).build_transaction(
        {"from": owner, "gas": 2_000_000, "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 10**9,
         "nonce": 0, "chainId": CHAIN_ID})["data"]
    receipt = send(w3, key, {"data": data, "gas": 2_000_000})
    assert receipt["status"] == 1
    return w3.eth.contract(address=receipt["contractAddress"], abi=TOKEN["abi"])


def test_chain_id_and_block_fields(w3):
    assert w3.eth.chain_id == CHAIN_ID
    assert w3.is_connected()
    block = w3.eth.get_block("latest")
    for field in ["number", "hash", "parentHash", "timestamp", "gasLimit", "gasUsed",
                  "baseFeePerGas", "logsBloom", "stateRoot", "transactionsRoot", "miner",
                  "mixHash", "transactions"]:
        assert field in block, field
    assert w3.eth.get_block(block["hash"])["number"] == block["number"]
    assert w3.eth.get_block("finalized")["number"] >= block["number"]
    assert w3.eth.get_block("earliest")["number"] == 0


def test_signed_transfer_and_receipt(w3):
    key = DEV_KEYS[0]
    recipient = Account.create().address
    receipt = send(w3, key, {"to": recipient, "value": Web3.to_wei(1.25, "ether")})
    assert receipt["status"] == 1
    assert receipt["gasUsed"] == 21_000
    assert w3.eth.get_balance(recipient) == Web3.to_wei(1.25, "ether")
    tx = w3.eth.get_transaction(receipt["transactionHash"])
    assert tx["to"] == recipient and tx["type"] == 2


def test_eip1559_fee_fields(w3):
    history = w3.eth.fee_history(4, "latest", [25, 75])
    assert len(history["baseFeePerGas"]) == len(history["gasUsedRatio"]) + 1
    assert all(len(r) == 2 for r in history["reward"])
    assert w3.eth.max_priority_fee >= 0
    assert w3.eth.gas_price >= w3.eth.get_block("latest")["baseFeePerGas"] // 2
    receipt = send(w3, DEV_KEYS[0], {"to": Account.create().address, "value": 1})
    block = w3.eth.get_block(receipt["blockNumber"])
    tx = w3.eth.get_transaction(receipt["transactionHash"])
    assert receipt["effectiveGasPrice"] == min(
        tx["maxFeePerGas"], block["baseFeePerGas"] + tx["maxPriorityFeePerGas"])


def test_erc20_transfer_balance_and_logs(w3, token):
    owner = Account.from_key(DEV_KEYS[1]).address
    recipient = Account.create().address
    call = token.functions.transfer(recipient, 5 * 10**18)
    receipt = send(w3, DEV_KEYS[1], {"to": token.address, "data": call._encode_transaction_data()})
    assert receipt["status"] == 1
    assert token.functions.balanceOf(recipient).call() == 5 * 10**18
    assert token.functions.balanceOf(owner).call() == 10**24 - 5 * 10**18
    events = token.events.Transfer().process_receipt(receipt)
    assert events[0]["args"]["to"] == recipient
    logs = token.events.Transfer().get_logs(from_block=receipt["blockNumber"] - 1)
    assert any(l["args"]["to"] == recipient and l["args"]["value"] == 5 * 10**18 for l in logs)


def test_revert_reason_is_decoded(w3, token):
    poor = Account.create().address
    with pytest.raises(ContractLogicError) as error:
        token.functions.transfer(poor, 1).call({"from": poor})
    assert "BtcrToken: transfer amount exceeds balance" in str(error.value)


def test_nonce_too_low_and_insufficient_funds(w3):
    key = DEV_KEYS[2]
    sender = Account.from_key(key).address
    send(w3, key, {"to": sender, "value": 1})
    stale = Account.sign_transaction(
        {"to": sender, "value": 1, "gas": 21_000, "nonce": 0, "chainId": CHAIN_ID,
         "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 10**9}, key)
    with pytest.raises(Web3RPCError) as error:
        w3.eth.send_raw_transaction(stale.raw_transaction)
    assert "nonce too low" in str(error.value)
    poor = Account.create()
    broke = Account.sign_transaction(
        {"to": sender, "value": 1, "gas": 21_000, "nonce": 0, "chainId": CHAIN_ID,
         "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 10**9}, poor.key)
    with pytest.raises(Web3RPCError) as error:
        w3.eth.send_raw_transaction(broke.raw_transaction)
    assert "insufficient funds" in str(error.value)


def test_batch_request(w3):
    sender = Account.from_key(DEV_KEYS[0]).address
    with w3.batch_requests() as batch:
        batch.add(w3.eth.get_block(0))
        batch.add(w3.eth.get_balance(sender))
        batch.add(w3.eth.get_transaction_count(sender))
        genesis, balance, nonce = batch.execute()
    assert genesis["number"] == 0
    assert balance > 0 and nonce >= 0


def test_websocket_new_heads_and_log_subscriptions(node, w3, token):
    recipient = Account.create().address

    def transfer_soon():
        call = token.functions.transfer(recipient, 7)
        send(w3, DEV_KEYS[1], {"to": token.address, "data": call._encode_transaction_data()})

    sender = threading.Thread(target=transfer_soon, daemon=True)

    async def listen():
        async with AsyncWeb3(WebSocketProvider(node.ws_url)) as aw3:
            assert await aw3.eth.chain_id == CHAIN_ID
            heads = await aw3.eth.subscribe("newHeads")
            logs = await aw3.eth.subscribe("logs", {"address": token.address})
            sender.start()
            seen_head = seen_log = None
            async for message in aw3.socket.process_subscriptions():
                if message["subscription"] == heads and seen_head is None:
                    seen_head = message["result"]
                if message["subscription"] == logs:
                    seen_log = message["result"]
                if seen_head is not None and seen_log is not None:
                    break
            return seen_head, seen_log

    head, log = asyncio.run(asyncio.wait_for(listen(), timeout=60))
    sender.join(timeout=60)

    def number(v):
        return int(v, 16) if isinstance(v, str) else v

    def as_bytes(v):
        return Web3.to_bytes(hexstr=v) if isinstance(v, str) else bytes(v)

    assert number(head["number"]) >= 1
    assert str(log["address"]).lower() == token.address.lower()
    topics = [as_bytes(t) for t in log["topics"]]
    assert topics[0] == Web3.keccak(text="Transfer(address,address,uint256)")
    assert topics[2][-20:] == as_bytes(recipient)
    assert int.from_bytes(as_bytes(log["data"]), "big") == 7
