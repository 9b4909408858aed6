//! Ethereum JSON shapes for blocks, transactions and receipts.
//!
//! Block fields that BTCR gives its own meaning: `mixHash` carries the block's PoH end hash;
//! `miner` is the proposer; `difficulty` and `totalDifficulty` are 0; `nonce` is zero; and
//! the extra fields `pohStartHash`, `pohEndHash`, `pohTicks` and `timestampMs` expose the
//! PoH chain and the millisecond timestamp.

use alloy_consensus::transaction::TransactionInfo;
use alloy_consensus::{Transaction as _, transaction::Recovered};
use alloy_primitives::{Address, B256, U256};
use alloy_rpc_types_eth::{Log, Transaction, TransactionReceipt};
use btcr_primitives::{Block, BlockReceipt, Header, RecoveredTx};
use serde_json::{Value, json};

/// keccak256(rlp([])): the uncles hash of a block without uncles.
const EMPTY_OMMERS_HASH: &str =
    "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347";

fn quantity(v: u64) -> String {
    format!("{v:#x}")
}

/// The header fields of a block object.
pub(crate) fn header_json(
    header: &Header,
    hash: B256,
    size: usize,
) -> serde_json::Map<String, Value> {
    let v = json!({
        "number": quantity(header.number),
        "hash": hash,
        "parentHash": header.parent_hash,
        "nonce": "0x0000000000000000",
        "sha3Uncles": EMPTY_OMMERS_HASH,
        "logsBloom": header.logs_bloom,
        "transactionsRoot": header.transactions_root,
        "stateRoot": header.state_root,
        "receiptsRoot": header.receipts_root,
        "miner": header.proposer,
        "difficulty": "0x0",
        "totalDifficulty": "0x0",
        "extraData": header.extra_data,
        "size": quantity(size as u64),
        "gasLimit": quantity(header.gas_limit),
        "gasUsed": quantity(header.gas_used),
        "timestamp": quantity(header.timestamp_secs()),
        "baseFeePerGas": quantity(header.base_fee_per_gas),
        "mixHash": header.poh_end_hash,
        "uncles": [],
        "pohStartHash": header.poh_start_hash,
        "pohEndHash": header.poh_end_hash,
        "pohTicks": quantity(header.poh_ticks),
        "timestampMs": quantity(header.timestamp_ms),
    });
    match v {
        Value::Object(map) => map,
        _ => unreachable!("json! of an object literal"),
    }
}

/// A full block object; transactions as hashes, or as objects when `senders` is given.
pub(crate) fn block_json(block: &Block, tx_hashes: &[B256], senders: Option<&[Address]>) -> Value {
    let hash = block.hash();
    let size =
        alloy_rlp::Encodable::length(&block.header) + alloy_rlp::Encodable::length(&block.body);
    let mut map = header_json(&block.header, hash, size);
    let txs: Vec<Value> = match senders {
        None => tx_hashes.iter().map(|h| json!(h)).collect(),
        Some(senders) => block
            .body
            .transactions
            .iter()
            .zip(senders)
            .enumerate()
            .map(|(i, (tx, sender))| {
                transaction_json(
                    &RecoveredTx {
                        tx: tx.clone(),
                        sender: *sender,
                        hash: tx_hashes[i],
                        encoded_len: 0,
                    },
                    Some((&block.header, hash, i as u64)),
                )
            })
            .collect(),
    };
    map.insert("transactions".into(), Value::Array(txs));
    Value::Object(map)
}

/// A transaction object; `included` is (header, block hash, index) once mined.
pub(crate) fn transaction_json(tx: &RecoveredTx, included: Option<(&Header, B256, u64)>) -> Value {
    let info = match included {
        Some((header, block_hash, index)) => TransactionInfo {
            hash: Some(tx.hash),
            index: Some(index),
            block_hash: Some(block_hash),
            block_number: Some(header.number),
            base_fee: Some(header.base_fee_per_gas),
            block_timestamp: Some(header.timestamp_secs()),
        },
        None => TransactionInfo { hash: Some(tx.hash), ..Default::default() },
    };
    let rpc =
        Transaction::from_transaction(Recovered::new_unchecked(tx.tx.clone(), tx.sender), info);
    serde_json::to_value(rpc).unwrap_or(Value::Null)
}

/// The receipt of transaction `index` of a block.
pub(crate) fn receipt_json(
    header: &Header,
    block_hash: B256,
    tx: &RecoveredTx,
    index: usize,
    read: &BlockReceipt,
) -> Value {
    let mut log_index = read.first_log_index;
    let rpc_receipt = read.receipt.clone().map_logs(|log| {
        let rpc_log = Log {
            inner: log,
            block_hash: Some(block_hash),
            block_number: Some(header.number),
            block_timestamp: Some(header.timestamp_secs()),
            transaction_hash: Some(tx.hash),
            transaction_index: Some(index as u64),
            log_index: Some(log_index),
            removed: false,
        };
        log_index += 1;
        rpc_log
    });
    let effective_gas_price = header.effective_gas_price(&tx.tx);
    let contract_address = tx.created_contract();
    let out = TransactionReceipt {
        inner: rpc_receipt,
        transaction_hash: tx.hash,
        transaction_index: Some(index as u64),
        block_hash: Some(block_hash),
        block_number: Some(header.number),
        gas_used: read.gas_used,
        effective_gas_price,
        blob_gas_used: None,
        blob_gas_price: None,
        from: tx.sender,
        to: tx.tx.to(),
        contract_address,
    };
    serde_json::to_value(out).unwrap_or(Value::Null)
}

/// A quantity as `0x…` hex.
pub(crate) fn u256_json(v: U256) -> Value {
    json!(format!("{v:#x}"))
}

/// A u64 quantity as `0x…` hex.
pub(crate) fn u64_json(v: u64) -> Value {
    json!(quantity(v))
}
