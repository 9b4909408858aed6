//! The Ethereum methods.

use alloy_primitives::{Address, B256, Bytes};
use btcr_primitives::{Block, RecoveredTx};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::{
    RpcBackend, RpcError,
    format::{block_json, receipt_json, transaction_json, u64_json, u256_json},
};

/// Version string reported by `web3_clientVersion`.
const CLIENT_VERSION: &str = concat!("btcr/v", env!("CARGO_PKG_VERSION"));

/// Dispatches one call.
pub(crate) fn call(
    backend: &dyn RpcBackend,
    method: &str,
    params: &Params,
) -> Result<Value, RpcError> {
    match method {
        "web3_clientVersion" => Ok(json!(CLIENT_VERSION)),
        "net_version" => Ok(json!(backend.chain_id().to_string())),
        "net_listening" => Ok(json!(true)),
        "eth_chainId" => Ok(u64_json(backend.chain_id())),
        "eth_blockNumber" => Ok(u64_json(head(backend)?.number)),
        "eth_getBalance" => {
            let address: Address = params.required(0, "address")?;
            let _ = latest_only(backend, params.optional::<BlockTag>(1, "block")?)?;
            let account = backend.account(&address).map_err(RpcError::internal)?;
            Ok(u256_json(account.map(|a| a.balance).unwrap_or_default()))
        }
        "eth_getTransactionCount" => {
            let address: Address = params.required(0, "address")?;
            let tag = params.optional::<BlockTag>(1, "block")?;
            if tag == Some(BlockTag::Pending)
                && let Some(nonce) = backend.pending_nonce(&address)
            {
                return Ok(u64_json(nonce));
            }
            let _ = latest_only(backend, tag)?;
            let account = backend.account(&address).map_err(RpcError::internal)?;
            Ok(u64_json(account.map(|a| a.nonce).unwrap_or_default()))
        }
        "eth_sendRawTransaction" => {
            let raw: Bytes = params.required(0, "data")?;
            backend
                .submit_transaction(&raw)
                .map(|hash| json!(hash))
                .map_err(|e| RpcError::server(e.0))
        }
        "eth_getTransactionReceipt" => {
            let hash: B256 = params.required(0, "transaction hash")?;
            let Some((block, tx, index)) = included(backend, &hash)? else {
                return Ok(Value::Null);
            };
            let number = block.number();
            let receipts =
                backend.receipts(number).map_err(RpcError::internal)?.ok_or_else(|| {
                    RpcError::internal(format!("receipts of block {number} are missing"))
                })?;
            Ok(receipt_json(&block.header, block.hash(), &tx, index, &receipts))
        }
        "eth_getTransactionByHash" => {
            let hash: B256 = params.required(0, "transaction hash")?;
            let Some((block, tx, index)) = included(backend, &hash)? else {
                return Ok(Value::Null);
            };
            Ok(transaction_json(&tx, Some((&block.header, block.hash(), index as u64))))
        }
        "eth_getBlockByNumber" => {
            let tag: BlockTag = params.required(0, "block")?;
            let full: bool = params.optional(1, "full transactions")?.unwrap_or(false);
            let number = resolve(backend, tag)?;
            match backend.block(number).map_err(RpcError::internal)? {
                Some(block) => block_object(&block, full),
                None => Ok(Value::Null),
            }
        }
        "eth_getBlockByHash" => {
            let hash: B256 = params.required(0, "block hash")?;
            let full: bool = params.optional(1, "full transactions")?.unwrap_or(false);
            let Some(number) = backend.block_number(&hash).map_err(RpcError::internal)? else {
                return Ok(Value::Null);
            };
            block_object(&block_at(backend, number)?, full)
        }
        _ => Err(RpcError::method_not_found(method)),
    }
}

fn head(backend: &dyn RpcBackend) -> Result<btcr_primitives::Header, RpcError> {
    backend.head().map_err(RpcError::internal)
}

fn block_at(backend: &dyn RpcBackend, number: u64) -> Result<Block, RpcError> {
    backend
        .block(number)
        .map_err(RpcError::internal)?
        .ok_or_else(|| RpcError::internal(format!("indexed block {number} is missing")))
}

/// The block, the transaction and its index, for a transaction included in the chain.
fn included(
    backend: &dyn RpcBackend,
    hash: &B256,
) -> Result<Option<(Block, RecoveredTx, usize)>, RpcError> {
    let Some((number, index)) = backend.transaction_location(hash).map_err(RpcError::internal)?
    else {
        return Ok(None);
    };
    let block = block_at(backend, number)?;
    let tx = recovered(&block, index as usize)?;
    Ok(Some((block, tx, index as usize)))
}

fn recovered(block: &Block, index: usize) -> Result<RecoveredTx, RpcError> {
    let tx = block.body.transactions.get(index).ok_or_else(|| {
        RpcError::internal(format!("transaction {index} of block {} is missing", block.number()))
    })?;
    RecoveredTx::recover(tx.clone()).map_err(RpcError::internal)
}

fn block_object(block: &Block, full: bool) -> Result<Value, RpcError> {
    let hashes: Vec<B256> = block.body.transactions.iter().map(|tx| *tx.tx_hash()).collect();
    if !full {
        return Ok(block_json(block, &hashes, None));
    }
    let senders = block
        .body
        .transactions
        .iter()
        .map(|tx| RecoveredTx::recover(tx.clone()).map(|r| r.sender))
        .collect::<Result<Vec<_>, _>>()
        .map_err(RpcError::internal)?;
    Ok(block_json(block, &hashes, Some(&senders)))
}

/// A block named by number or tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlockTag {
    Number(u64),
    Latest,
    Earliest,
    Pending,
    Safe,
    Finalized,
}

impl<'de> serde::Deserialize<'de> for BlockTag {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.as_str() {
            "latest" => Self::Latest,
            "earliest" => Self::Earliest,
            "pending" => Self::Pending,
            "safe" => Self::Safe,
            "finalized" => Self::Finalized,
            hex => {
                let digits = hex.strip_prefix("0x").ok_or_else(|| {
                    serde::de::Error::custom(format!("invalid block number or tag {hex:?}"))
                })?;
                Self::Number(u64::from_str_radix(digits, 16).map_err(|_| {
                    serde::de::Error::custom(format!("invalid block number {hex:?}"))
                })?)
            }
        })
    }
}

/// The block a tag names. Every committed block is final under BFT (and a single validator),
/// so `safe` and `finalized` are the head; `pending` is the head too, since blocks are built
/// only inside their slot.
fn resolve(backend: &dyn RpcBackend, tag: BlockTag) -> Result<u64, RpcError> {
    Ok(match tag {
        BlockTag::Number(n) => n,
        BlockTag::Earliest => 0,
        BlockTag::Latest | BlockTag::Pending | BlockTag::Safe | BlockTag::Finalized => {
            head(backend)?.number
        }
    })
}

/// This node keeps the latest state only: a state query for an older block is refused
/// rather than answered with today's values.
fn latest_only(backend: &dyn RpcBackend, tag: Option<BlockTag>) -> Result<u64, RpcError> {
    let head = head(backend)?.number;
    let n = match tag {
        None => head,
        Some(tag) => resolve(backend, tag)?,
    };
    if n != head {
        return Err(RpcError::server(format!(
            "historical state is not available: requested block {n}, this node keeps the state at the head ({head})"
        )));
    }
    Ok(n)
}

/// A request's positional parameters.
pub(crate) struct Params(pub(crate) Vec<Value>);

impl Params {
    pub(crate) fn required<T: DeserializeOwned>(
        &self,
        i: usize,
        name: &str,
    ) -> Result<T, RpcError> {
        match self.0.get(i) {
            None | Some(Value::Null) => Err(RpcError::invalid_params(format!(
                "missing value for required argument {i} ({name})"
            ))),
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|e| RpcError::invalid_params(format!("argument {i} ({name}): {e}"))),
        }
    }

    pub(crate) fn optional<T: DeserializeOwned>(
        &self,
        i: usize,
        name: &str,
    ) -> Result<Option<T>, RpcError> {
        match self.0.get(i) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.required(i, name).map(Some),
        }
    }
}
