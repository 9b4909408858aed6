//! The Ethereum methods.

use alloy_primitives::{B256, Bytes, keccak256};
use btcr_primitives::{Block, BlockReceipt, RecoveredTx};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use btcr_interfaces::{ChainView, Mempool, NodeStatus};

use crate::{
    RpcConfig, RpcError, btcr, fees,
    filters::{self, Filters},
    format::{block_json, receipt_json, transaction_json, u64_json},
    logs, state,
    ws::Session,
};

/// Version string reported by `web3_clientVersion`.
const CLIENT_VERSION: &str = concat!("btcr/v", env!("CARGO_PKG_VERSION"));

/// What a method sees: one view of the chain (shared by every request of a batch), the
/// pool, the node's status, the server's limits and filters, and the connection when it is
/// a WebSocket.
pub(crate) struct Ctx<'a> {
    pub(crate) chain_id: u64,
    pub(crate) view: &'a dyn ChainView,
    pub(crate) pool: &'a dyn Mempool,
    pub(crate) status: &'a dyn NodeStatus,
    pub(crate) config: &'a RpcConfig,
    pub(crate) filters: &'a Filters,
    pub(crate) tips: &'a fees::TipCache,
    pub(crate) session: Option<&'a dyn Session>,
    /// The client's address, when the server knows it (limits per client).
    pub(crate) client: Option<std::net::IpAddr>,
    /// Gas the calls of this request or batch may still use
    /// ([`RpcConfig::batch_gas_cap`](crate::RpcConfig::batch_gas_cap)).
    pub(crate) gas_left: std::cell::Cell<u64>,
}

/// Dispatches one call.
pub(crate) fn call(ctx: &Ctx<'_>, method: &str, params: &Params) -> Result<Value, RpcError> {
    let view = ctx.view;
    match method {
        "web3_clientVersion" => Ok(json!(CLIENT_VERSION)),
        "web3_sha3" => {
            let data: Bytes = params.required(0, "data")?;
            Ok(json!(keccak256(&data)))
        }
        "net_version" => Ok(json!(ctx.chain_id.to_string())),
        "net_listening" => Ok(json!(true)),
        "net_peerCount" => Ok(u64_json(ctx.status.peers())),
        "eth_chainId" => Ok(u64_json(ctx.chain_id)),
        "eth_syncing" => Ok(json!(false)),
        "eth_blockNumber" => Ok(u64_json(view.head().number)),
        "eth_gasPrice" => fees::gas_price(ctx),
        "eth_maxPriorityFeePerGas" => fees::max_priority_fee(ctx),
        "eth_feeHistory" => fees::fee_history(ctx, params),
        "eth_getBalance" => state::get_balance(ctx, params),
        "eth_getTransactionCount" => state::get_transaction_count(ctx, params),
        "eth_getCode" => state::get_code(ctx, params),
        "eth_getStorageAt" => state::get_storage_at(ctx, params),
        "eth_getProof" => state::get_proof(ctx, params),
        "eth_call" => state::call(ctx, params),
        "eth_estimateGas" => state::estimate_gas(ctx, params),
        "eth_createAccessList" => state::create_access_list(ctx, params),
        "eth_sendRawTransaction" => {
            let raw: Bytes = params.required(0, "data")?;
            ctx.pool
                .submit_transaction(&raw)
                .map(|hash| json!(hash))
                .map_err(|e| RpcError::server(e.0))
        }
        "eth_getTransactionReceipt" => {
            let hash: B256 = params.required(0, "transaction hash")?;
            let Some((header, tx, index)) = included(view, &hash)? else {
                return Ok(Value::Null);
            };
            let read = view.receipt_at(header.number, index).map_err(RpcError::read)?.ok_or_else(
                || {
                    RpcError::internal(format!(
                        "receipt {index} of block {} is missing",
                        header.number
                    ))
                },
            )?;
            Ok(receipt_json(&header, header.hash(), &tx, index, &read))
        }
        "eth_getBlockReceipts" => {
            let Some(number) = block_param(view, params)? else { return Ok(Value::Null) };
            let Some(block) = view.block(number).map_err(RpcError::read)? else {
                return Ok(Value::Null);
            };
            let receipts = BlockReceipt::all(&receipts_of(view, number)?);
            let hash = block.hash();
            let out = receipts
                .iter()
                .enumerate()
                .map(|(i, read)| {
                    Ok(receipt_json(&block.header, hash, &recovered(&block, i)?, i, read))
                })
                .collect::<Result<Vec<_>, RpcError>>()?;
            Ok(Value::Array(out))
        }
        "eth_getTransactionByHash" => {
            let hash: B256 = params.required(0, "transaction hash")?;
            let Some((header, tx, index)) = included(view, &hash)? else {
                return Ok(Value::Null);
            };
            Ok(transaction_json(&tx, Some((&header, header.hash(), index as u64))))
        }
        "eth_getTransactionByBlockHashAndIndex" | "eth_getTransactionByBlockNumberAndIndex" => {
            let number = if method.ends_with("HashAndIndex") {
                let hash: B256 = params.required(0, "block hash")?;
                view.block_number(&hash).map_err(RpcError::read)?
            } else {
                Some(resolve(view, params.required::<BlockTag>(0, "block")?)?)
            };
            let index: alloy_primitives::U64 = params.required(1, "transaction index")?;
            let Some(number) = number else { return Ok(Value::Null) };
            let Some(block) = view.block(number).map_err(RpcError::read)? else {
                return Ok(Value::Null);
            };
            let index = index.to::<u64>() as usize;
            if index >= block.body.transactions.len() {
                return Ok(Value::Null);
            }
            let tx = recovered(&block, index)?;
            Ok(transaction_json(&tx, Some((&block.header, block.hash(), index as u64))))
        }
        "eth_getBlockByNumber" => {
            let tag: BlockTag = params.required(0, "block")?;
            let full: bool = params.optional(1, "full transactions")?.unwrap_or(false);
            let number = resolve(view, tag)?;
            match view.block(number).map_err(RpcError::read)? {
                Some(block) => block_object(&block, full),
                None => Ok(Value::Null),
            }
        }
        "eth_getBlockByHash" => {
            let hash: B256 = params.required(0, "block hash")?;
            let full: bool = params.optional(1, "full transactions")?.unwrap_or(false);
            let Some(number) = view.block_number(&hash).map_err(RpcError::read)? else {
                return Ok(Value::Null);
            };
            block_object(&block_at(view, number)?, full)
        }
        "eth_getBlockTransactionCountByHash" => {
            let hash: B256 = params.required(0, "block hash")?;
            let Some(number) = view.block_number(&hash).map_err(RpcError::read)? else {
                return Ok(Value::Null);
            };
            Ok(u64_json(block_at(view, number)?.body.transactions.len() as u64))
        }
        "eth_getBlockTransactionCountByNumber" => {
            let number = resolve(view, params.required::<BlockTag>(0, "block")?)?;
            match view.block(number).map_err(RpcError::read)? {
                Some(block) => Ok(u64_json(block.body.transactions.len() as u64)),
                None => Ok(Value::Null),
            }
        }
        "eth_getLogs" => logs::get_logs(ctx, params),
        "eth_newFilter" => filters::new_filter(ctx, params),
        "eth_newBlockFilter" => filters::new_block_filter(ctx),
        "eth_newPendingTransactionFilter" => filters::new_pending_filter(ctx),
        "eth_getFilterChanges" => filters::changes(ctx, params),
        "eth_getFilterLogs" => filters::filter_logs(ctx, params),
        "eth_uninstallFilter" => filters::uninstall(ctx, params),
        "eth_subscribe" | "eth_unsubscribe" => {
            let Some(session) = ctx.session else {
                return Err(RpcError::not_supported(
                    "subscriptions need a WebSocket connection; over HTTP, poll a filter",
                ));
            };
            if method == "eth_subscribe" {
                session.subscribe(params)
            } else {
                session.unsubscribe(params)
            }
        }
        "txpool_status" => btcr::txpool_status(ctx),
        "txpool_content" => btcr::txpool_content(ctx),
        "btcr_nodeInfo" => btcr::node_info(ctx),
        "btcr_getPoh" => btcr::get_poh(ctx, params),
        "btcr_getFinality" => btcr::get_finality(ctx, params),
        "btcr_getMisbehavior" => btcr::get_misbehavior(ctx, params),
        _ => Err(RpcError::method_not_found(method)),
    }
}

/// A block named by number, tag or hash (`eth_getBlockReceipts`); `None` for an unknown
/// hash.
fn block_param(view: &dyn ChainView, params: &Params) -> Result<Option<u64>, RpcError> {
    if let Some(Value::String(s)) = params.0.first()
        && s.len() == 66
    {
        let hash: B256 = params.required(0, "block hash")?;
        return view.block_number(&hash).map_err(RpcError::read);
    }
    resolve(view, params.required::<BlockTag>(0, "block")?).map(Some)
}

fn receipts_of(
    view: &dyn ChainView,
    number: u64,
) -> Result<Vec<btcr_primitives::ReceiptEnvelope>, RpcError> {
    view.receipts(number)
        .map_err(RpcError::read)?
        .ok_or_else(|| RpcError::internal(format!("receipts of block {number} are missing")))
}

fn block_at(view: &dyn ChainView, number: u64) -> Result<Block, RpcError> {
    view.block(number)
        .map_err(RpcError::read)?
        .ok_or_else(|| RpcError::internal(format!("indexed block {number} is missing")))
}

/// The block's header, the transaction and its index, for a transaction included in the
/// chain; only that transaction of the block is decoded.
fn included(
    view: &dyn ChainView,
    hash: &B256,
) -> Result<Option<(btcr_primitives::Header, RecoveredTx, usize)>, RpcError> {
    let Some((number, index)) = view.transaction_location(hash).map_err(RpcError::read)? else {
        return Ok(None);
    };
    let missing =
        || RpcError::internal(format!("transaction {index} of block {number} is missing"));
    let header = view.header(number).map_err(RpcError::read)?.ok_or_else(missing)?;
    let envelope =
        view.transaction_at(number, index as usize).map_err(RpcError::read)?.ok_or_else(missing)?;
    let tx = RecoveredTx::recover(envelope).map_err(RpcError::internal)?;
    Ok(Some((header, tx, index as usize)))
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
pub(crate) fn resolve(view: &dyn ChainView, tag: BlockTag) -> Result<u64, RpcError> {
    Ok(match tag {
        BlockTag::Number(n) => n,
        BlockTag::Earliest => 0,
        BlockTag::Latest | BlockTag::Pending | BlockTag::Safe | BlockTag::Finalized => {
            view.head().number
        }
    })
}

/// This node keeps the latest state only: a state query for an older block is refused
/// rather than answered with today's values.
pub(crate) fn latest_only(view: &dyn ChainView, tag: Option<BlockTag>) -> Result<u64, RpcError> {
    let head = view.head().number;
    let n = match tag {
        None => head,
        Some(tag) => resolve(view, tag)?,
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
