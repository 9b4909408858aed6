//! BTCR's own methods and the pool's: `btcr_nodeInfo`, `btcr_getPoh`, `btcr_getFinality`,
//! `btcr_getMisbehavior`, `txpool_status`,
//! `txpool_content`.

use std::collections::BTreeMap;

use alloy_consensus::Transaction as _;
use serde_json::{Map, Value, json};

use crate::{
    RpcError,
    eth::{BlockTag, Ctx, Params, resolve},
    format::{transaction_json, u64_json},
};

/// The node's identity and progress, with how far each consumer of committed blocks has
/// come (`applied`: the last block it applied, `null` before the first).
pub(crate) fn node_info(ctx: &Ctx<'_>) -> Result<Value, RpcError> {
    let head = ctx.view.head();
    let validators: Vec<_> =
        ctx.view.validators().map_err(RpcError::read)?.into_iter().map(|v| v.address).collect();
    let consumers: Vec<Value> = ctx
        .status
        .consumers()
        .into_iter()
        .map(|c| json!({ "name": c.name, "applied": c.applied.map(u64_json) }))
        .collect();
    Ok(json!({
        "version": ctx.status.version(),
        "chainId": u64_json(ctx.chain_id),
        "genesisHash": ctx.status.genesis_hash(),
        "head": { "number": u64_json(head.number), "hash": head.hash() },
        // Every committed block carries its commit certificate: it is final.
        "finalized": u64_json(head.number),
        "peers": u64_json(ctx.status.peers()),
        "validators": validators,
        "consumers": consumers,
        "consensus": ctx.status.consensus().map(|p| json!({
            "height": u64_json(p.height),
            "round": u64_json(p.round.into()),
        })),
    }))
}

pub(crate) fn get_poh(ctx: &Ctx<'_>, params: &Params) -> Result<Value, RpcError> {
    let number = resolve(ctx.view, params.required::<BlockTag>(0, "block")?)?;
    let Some(block) = ctx.view.block(number).map_err(RpcError::read)? else {
        return Ok(Value::Null);
    };
    let poh = ctx.status.poh_config();
    let tx_hashes: Vec<_> = block.body.transactions.iter().map(|t| *t.tx_hash()).collect();
    let header = &block.header;
    let verified =
        btcr_poh::verify(header.poh_start_hash, &block.body.poh_entries, &tx_hashes, &poh)
            .map_err(|e| e.to_string())
            .and_then(|summary| {
                if summary.end_hash != header.poh_end_hash || summary.ticks != header.poh_ticks {
                    Err("the entries end elsewhere than the header says".to_owned())
                } else {
                    Ok(())
                }
            });
    let entries: Vec<Value> = block
        .body
        .poh_entries
        .iter()
        .map(|e| {
            json!({
                "numHashes": u64_json(e.num_hashes),
                "hash": e.hash,
                "transactions": u64_json(u64::from(e.n_transactions)),
            })
        })
        .collect();
    Ok(json!({
        "number": u64_json(number),
        "hash": block.hash(),
        "startHash": header.poh_start_hash,
        "endHash": header.poh_end_hash,
        "ticks": u64_json(header.poh_ticks),
        "hashesPerTick": u64_json(poh.hashes_per_tick),
        "ticksPerBlock": u64_json(poh.ticks_per_block),
        "entries": entries,
        "verified": verified.is_ok(),
        "error": verified.err(),
    }))
}

/// A block's commit certificate: the round it was decided in and the validators' precommit
/// signatures. `null` for a block not yet decided (or genesis, which needs none).
pub(crate) fn get_finality(ctx: &Ctx<'_>, params: &Params) -> Result<Value, RpcError> {
    let number = resolve(ctx.view, params.required::<BlockTag>(0, "block")?)?;
    let Some(certificate) = ctx.view.certificate(number).map_err(RpcError::read)? else {
        return Ok(Value::Null);
    };
    let signatures: Vec<Value> = certificate
        .signatures
        .iter()
        .map(|s| json!({ "validator": s.validator, "signature": s.signature }))
        .collect();
    Ok(json!({
        "number": u64_json(certificate.height),
        "hash": certificate.block_hash,
        "round": u64_json(u64::from(certificate.round)),
        "signatures": signatures,
    }))
}

/// The most evidence records one `btcr_getMisbehavior` returns.
const MAX_MISBEHAVIOR: u64 = 1000;

/// Evidence of double signing that this node saw, latest first: `[limit]`, default 100.
pub(crate) fn get_misbehavior(ctx: &Ctx<'_>, params: &Params) -> Result<Value, RpcError> {
    let limit =
        params.optional::<alloy_primitives::U64>(0, "limit")?.map_or(100, |l| l.to::<u64>());
    if limit == 0 || limit > MAX_MISBEHAVIOR {
        return Err(RpcError::invalid_params(format!(
            "limit must be between 1 and {MAX_MISBEHAVIOR}"
        )));
    }
    let records = ctx.view.misbehavior(limit as usize).map_err(RpcError::read)?;
    serde_json::to_value(records).map_err(RpcError::internal)
}

pub(crate) fn txpool_status(ctx: &Ctx<'_>) -> Result<Value, RpcError> {
    let (pending, queued) = ctx.pool.pool_counts();
    Ok(json!({ "pending": u64_json(pending as u64), "queued": u64_json(queued as u64) }))
}

/// Transactions by sender, then by nonce, as Ethereum nodes list them.
pub(crate) fn txpool_content(ctx: &Ctx<'_>) -> Result<Value, RpcError> {
    let content = ctx.pool.pool_content();
    let group = |txs: &[btcr_primitives::RecoveredTx]| {
        let mut by_sender: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
        for tx in txs {
            by_sender
                .entry(tx.sender.to_checksum(None))
                .or_default()
                .insert(tx.tx.nonce().to_string(), transaction_json(tx, None));
        }
        json!(by_sender)
    };
    Ok(json!({ "pending": group(&content.pending), "queued": group(&content.queued) }))
}
