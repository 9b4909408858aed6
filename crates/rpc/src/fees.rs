//! Fee suggestions: `eth_gasPrice`, `eth_maxPriorityFeePerGas`, `eth_feeHistory`.

use alloy_consensus::Transaction as _;
use alloy_primitives::B256;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::{
    RpcError,
    eth::{BlockTag, Ctx, Params, resolve},
    format::u64_json,
};

/// Blocks looked at for the priority fee suggestion.
const TIP_BLOCKS: u64 = 20;
/// The suggestion when those blocks hold no transaction: 1 gwei, the usual default.
const DEFAULT_TIP: u128 = 1_000_000_000;
/// Most blocks one `eth_feeHistory` covers.
const MAX_HISTORY_BLOCKS: u64 = 1024;
/// Most reward percentiles one `eth_feeHistory` asks for.
const MAX_PERCENTILES: usize = 100;

/// The last suggestion and the head it was computed at: wallets ask for fees before every
/// transaction, and the answer only changes with the head.
#[derive(Default)]
pub(crate) struct TipCache(parking_lot::Mutex<Option<(B256, u128)>>);

/// The priority fee to suggest: the median tip paid in the last blocks.
fn suggested_tip(ctx: &Ctx<'_>) -> Result<u128, RpcError> {
    let header = ctx.view.head().clone();
    let hash = header.hash();
    if let Some((at, tip)) = *ctx.tips.0.lock()
        && at == hash
    {
        return Ok(tip);
    }
    let tip = median_tip(ctx, header.number)?;
    *ctx.tips.0.lock() = Some((hash, tip));
    Ok(tip)
}

fn median_tip(ctx: &Ctx<'_>, head: u64) -> Result<u128, RpcError> {
    let mut tips = Vec::new();
    for number in head.saturating_sub(TIP_BLOCKS - 1)..=head {
        let Some(block) = ctx.view.block(number).map_err(RpcError::read)? else {
            continue;
        };
        let base_fee = block.header.base_fee_per_gas;
        tips.extend(
            block.body.transactions.iter().filter_map(|tx| tx.effective_tip_per_gas(base_fee)),
        );
    }
    if tips.is_empty() {
        return Ok(DEFAULT_TIP);
    }
    tips.sort_unstable();
    Ok(tips[tips.len() / 2])
}

pub(crate) fn max_priority_fee(ctx: &Ctx<'_>) -> Result<Value, RpcError> {
    Ok(json!(format!("{:#x}", suggested_tip(ctx)?)))
}

/// The next block's base fee plus the suggested tip: what a legacy transaction should offer.
pub(crate) fn gas_price(ctx: &Ctx<'_>) -> Result<Value, RpcError> {
    let head = ctx.view.head().clone();
    let price = u128::from(head.next_base_fee()) + suggested_tip(ctx)?;
    Ok(json!(format!("{price:#x}")))
}

/// A block count given as a hex quantity or a plain number.
#[derive(Deserialize)]
#[serde(untagged)]
enum Count {
    Number(u64),
    Hex(String),
}

pub(crate) fn fee_history(ctx: &Ctx<'_>, params: &Params) -> Result<Value, RpcError> {
    let count = match params.required::<Count>(0, "block count")? {
        Count::Number(n) => n,
        Count::Hex(s) => s
            .strip_prefix("0x")
            .and_then(|d| u64::from_str_radix(d, 16).ok())
            .ok_or_else(|| RpcError::invalid_params(format!("invalid block count {s:?}")))?,
    };
    if count == 0 || count > MAX_HISTORY_BLOCKS {
        return Err(RpcError::invalid_params(format!(
            "block count {count} out of range 1..={MAX_HISTORY_BLOCKS}"
        )));
    }
    let newest = resolve(ctx.view, params.required::<BlockTag>(1, "newest block")?)?;
    let head = ctx.view.head().number;
    if newest > head {
        return Err(RpcError::invalid_params(format!(
            "newest block {newest} is past the head ({head})"
        )));
    }
    let percentiles: Option<Vec<f64>> = params.optional(2, "reward percentiles")?;
    if let Some(p) = &percentiles {
        if p.len() > MAX_PERCENTILES {
            return Err(RpcError::invalid_params(format!(
                "{} reward percentiles, at most {MAX_PERCENTILES} allowed",
                p.len()
            )));
        }
        if p.iter().any(|v| !(0.0..=100.0).contains(v)) || p.windows(2).any(|w| w[0] > w[1]) {
            return Err(RpcError::invalid_params(
                "reward percentiles must be increasing values between 0 and 100",
            ));
        }
    }
    let oldest = newest.saturating_sub(count - 1);
    let mut base_fees = Vec::new();
    let mut ratios = Vec::new();
    let mut rewards = Vec::new();
    let mut last = None;
    for number in oldest..=newest {
        let missing = || RpcError::internal(format!("block {number} is missing"));
        // Only the rewards need the transactions; the fees and ratios are in the header.
        let header = match &percentiles {
            Some(p) => {
                let block = ctx.view.block(number).map_err(RpcError::read)?.ok_or_else(missing)?;
                let receipts =
                    ctx.view.receipts(number).map_err(RpcError::read)?.ok_or_else(|| {
                        RpcError::internal(format!("receipts of {number} are missing"))
                    })?;
                rewards.push(block_rewards(&block, &receipts, p));
                block.header
            }
            None => ctx.view.header(number).map_err(RpcError::read)?.ok_or_else(missing)?,
        };
        base_fees.push(u64_json(header.base_fee_per_gas));
        ratios.push(json!(header.gas_used as f64 / header.gas_limit.max(1) as f64));
        last = Some(header);
    }
    let last = last.expect("at least one block");
    base_fees.push(u64_json(last.next_base_fee()));
    let mut out = json!({
        "oldestBlock": u64_json(oldest),
        "baseFeePerGas": base_fees,
        "gasUsedRatio": ratios,
    });
    if percentiles.is_some() {
        out["reward"] = json!(rewards);
    }
    Ok(out)
}

/// The tip at each percentile of the block's gas, transactions sorted by tip.
fn block_rewards(
    block: &btcr_primitives::Block,
    receipts: &[btcr_primitives::ReceiptEnvelope],
    percentiles: &[f64],
) -> Vec<Value> {
    let base_fee = block.header.base_fee_per_gas;
    let mut previous = 0;
    let mut paid: Vec<(u128, u64)> = block
        .body
        .transactions
        .iter()
        .zip(receipts)
        .map(|(tx, receipt)| {
            let gas = receipt.cumulative_gas_used() - previous;
            previous = receipt.cumulative_gas_used();
            (tx.effective_tip_per_gas(base_fee).unwrap_or_default(), gas)
        })
        .collect();
    if paid.is_empty() {
        return percentiles.iter().map(|_| json!("0x0")).collect();
    }
    paid.sort_unstable_by_key(|(tip, _)| *tip);
    let total: u64 = paid.iter().map(|(_, gas)| gas).sum();
    percentiles
        .iter()
        .map(|p| {
            let threshold = (total as f64 * p / 100.0) as u64;
            let mut sum = 0;
            let tip = paid
                .iter()
                .find(|(_, gas)| {
                    sum += gas;
                    sum >= threshold
                })
                .unwrap_or(&paid[paid.len() - 1])
                .0;
            json!(format!("{tip:#x}"))
        })
        .collect()
}
