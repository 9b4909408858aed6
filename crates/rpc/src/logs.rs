//! `eth_getLogs`: a scan of the blocks in range, skipping those whose bloom rules out the
//! filter, bounded in blocks and in results. Log filters and `logs` subscriptions use the
//! same scan.

use alloy_eips::BlockNumberOrTag;
use alloy_primitives::B256;
use alloy_rpc_types_eth::{Filter, FilterBlockOption, Log};
use serde_json::Value;

use btcr_interfaces::ChainView;

use crate::{
    RpcError,
    eth::{Ctx, Params},
};

/// Most addresses one log filter may name.
pub(crate) const MAX_FILTER_ADDRESSES: usize = 1_000;
/// Most alternatives one topic position of a log filter may list.
pub(crate) const MAX_FILTER_TOPICS: usize = 100;

/// A log filter within [`MAX_FILTER_ADDRESSES`] and [`MAX_FILTER_TOPICS`]: an installed
/// filter or a subscription keeps it for as long as it lives, and every log is matched
/// against it.
pub(crate) fn bounded(filter: Filter) -> Result<Filter, RpcError> {
    if filter.address.len() > MAX_FILTER_ADDRESSES {
        return Err(RpcError::invalid_params(format!(
            "the filter names {} addresses, at most {MAX_FILTER_ADDRESSES} allowed",
            filter.address.len()
        )));
    }
    if let Some((position, topics)) =
        filter.topics.iter().enumerate().find(|(_, t)| t.len() > MAX_FILTER_TOPICS)
    {
        return Err(RpcError::invalid_params(format!(
            "topic {position} of the filter lists {} alternatives, at most {MAX_FILTER_TOPICS} allowed",
            topics.len()
        )));
    }
    Ok(filter)
}

pub(crate) fn get_logs(ctx: &Ctx<'_>, params: &Params) -> Result<Value, RpcError> {
    let filter = bounded(params.required(0, "filter")?)?;
    let logs = match range(ctx.view, &filter)? {
        Some((from, to)) => collect(ctx, &filter, from, to)?,
        None => Vec::new(),
    };
    serde_json::to_value(logs).map_err(RpcError::internal)
}

/// The blocks `filter` names, clamped to the head; `None` when they all lie past the head.
pub(crate) fn range(view: &dyn ChainView, filter: &Filter) -> Result<Option<(u64, u64)>, RpcError> {
    let head = view.head().number;
    let (from, to) = match filter.block_option {
        FilterBlockOption::AtBlockHash(hash) => {
            let number = view
                .block_number(&hash)
                .map_err(RpcError::read)?
                .ok_or_else(|| RpcError::server(format!("unknown block {hash}")))?;
            (number, number)
        }
        FilterBlockOption::Range { from_block, to_block } => {
            let number = |b: Option<BlockNumberOrTag>| match b {
                None
                | Some(BlockNumberOrTag::Latest)
                | Some(BlockNumberOrTag::Pending)
                | Some(BlockNumberOrTag::Safe)
                | Some(BlockNumberOrTag::Finalized) => head,
                Some(BlockNumberOrTag::Earliest) => 0,
                Some(BlockNumberOrTag::Number(n)) => n,
            };
            (number(from_block), number(to_block).min(head))
        }
    };
    if from > head {
        return Ok(None);
    }
    if from > to {
        return Err(RpcError::invalid_params(format!("fromBlock {from} is after toBlock {to}")));
    }
    Ok(Some((from, to)))
}

/// The logs matching `filter` in blocks `from..=to`, within the server's limits.
pub(crate) fn collect(
    ctx: &Ctx<'_>,
    filter: &Filter,
    from: u64,
    to: u64,
) -> Result<Vec<Log>, RpcError> {
    let blocks = to - from + 1;
    if blocks > ctx.config.max_logs_block_range {
        return Err(RpcError::server(format!(
            "block range too large: {blocks} blocks requested, at most {} allowed",
            ctx.config.max_logs_block_range
        )));
    }
    let mut out = Vec::new();
    for number in from..=to {
        block_logs(ctx.view, filter, number, &mut out)?;
        if out.len() > ctx.config.max_logs {
            return Err(RpcError::server(format!(
                "query returned more than {} results; narrow the block range or the filter",
                ctx.config.max_logs
            )));
        }
    }
    Ok(out)
}

/// Appends the logs of block `number` that match `filter`.
pub(crate) fn block_logs(
    view: &dyn ChainView,
    filter: &Filter,
    number: u64,
    out: &mut Vec<Log>,
) -> Result<(), RpcError> {
    let header = view
        .header(number)
        .map_err(RpcError::read)?
        .ok_or_else(|| RpcError::internal(format!("header {number} is missing")))?;
    if !filter.matches_bloom(header.logs_bloom) {
        return Ok(());
    }
    let block = view
        .block(number)
        .map_err(RpcError::read)?
        .ok_or_else(|| RpcError::internal(format!("block {number} is missing")))?;
    let receipts = view
        .receipts(number)
        .map_err(RpcError::read)?
        .ok_or_else(|| RpcError::internal(format!("receipts of {number} are missing")))?;
    let block_hash = header.hash();
    let mut log_index = 0u64;
    for (tx_index, (tx, receipt)) in block.body.transactions.iter().zip(&receipts).enumerate() {
        for log in receipt.logs() {
            if filter.matches(log) {
                out.push(Log {
                    inner: log.clone(),
                    block_hash: Some(block_hash),
                    block_number: Some(number),
                    block_timestamp: Some(header.timestamp_secs()),
                    transaction_hash: Some(B256::from(*tx.tx_hash())),
                    transaction_index: Some(tx_index as u64),
                    log_index: Some(log_index),
                    removed: false,
                });
            }
            log_index += 1;
        }
    }
    Ok(())
}
