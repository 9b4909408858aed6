//! Methods that read the state or run code on it: balances, nonces, code, storage, proofs,
//! `eth_call` and `eth_estimateGas`.

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rpc_types_eth::{TransactionRequest, state::StateOverride};
use btcr_execution::{CallBudget, CallError, CallOutcome};
use btcr_trie::Proof;
use serde_json::{Value, json};

use crate::{
    RpcError,
    eth::{BlockTag, Ctx, Params, latest_only},
    format::{u64_json, u256_json},
};

pub(crate) fn get_balance(ctx: &Ctx<'_>, params: &Params) -> Result<Value, RpcError> {
    let address: Address = params.required(0, "address")?;
    latest_only(ctx.view, params.optional::<BlockTag>(1, "block")?)?;
    let account = ctx.view.account(&address).map_err(RpcError::read)?;
    Ok(u256_json(account.map(|a| a.balance).unwrap_or_default()))
}

pub(crate) fn get_transaction_count(ctx: &Ctx<'_>, params: &Params) -> Result<Value, RpcError> {
    let address: Address = params.required(0, "address")?;
    let tag = params.optional::<BlockTag>(1, "block")?;
    if tag == Some(BlockTag::Pending)
        && let Some(nonce) = ctx.pool.pending_nonce(&address)
    {
        return Ok(u64_json(nonce));
    }
    latest_only(ctx.view, tag)?;
    let account = ctx.view.account(&address).map_err(RpcError::read)?;
    Ok(u64_json(account.map(|a| a.nonce).unwrap_or_default()))
}

pub(crate) fn get_code(ctx: &Ctx<'_>, params: &Params) -> Result<Value, RpcError> {
    let address: Address = params.required(0, "address")?;
    latest_only(ctx.view, params.optional::<BlockTag>(1, "block")?)?;
    Ok(json!(ctx.view.code(&address).map_err(RpcError::read)?))
}

pub(crate) fn get_storage_at(ctx: &Ctx<'_>, params: &Params) -> Result<Value, RpcError> {
    let address: Address = params.required(0, "address")?;
    let slot: U256 = params.required(1, "storage slot")?;
    latest_only(ctx.view, params.optional::<BlockTag>(2, "block")?)?;
    let value = ctx.view.storage(&address, &slot).map_err(RpcError::read)?;
    Ok(json!(B256::from(value.to_be_bytes::<32>())))
}

/// Most slots one `eth_getProof` may ask for.
const MAX_PROOF_SLOTS: usize = 1024;

/// `eth_getProof` in EIP-1186's shape. BTCR's state is a binary sparse Merkle tree, not a
/// Merkle-Patricia trie, so `accountProof` and each `proof` list the sibling hashes from the
/// root down (32 bytes each), then, when the path ends at a leaf, that leaf as one 64-byte
/// element `key ‖ value`; the keys are `keccak256(address)` and `keccak256(slot)`.
pub(crate) fn get_proof(ctx: &Ctx<'_>, params: &Params) -> Result<Value, RpcError> {
    let address: Address = params.required(0, "address")?;
    let slots: Vec<U256> = params.required(1, "storage keys")?;
    if slots.len() > MAX_PROOF_SLOTS {
        return Err(RpcError::invalid_params(format!(
            "{} storage keys requested, at most {MAX_PROOF_SLOTS} allowed",
            slots.len()
        )));
    }
    latest_only(ctx.view, params.optional::<BlockTag>(2, "block")?)?;
    let proof = ctx.view.proof(&address, &slots).map_err(RpcError::read)?;
    let account = proof.account.unwrap_or_default();
    let storage: Vec<Value> = proof
        .storage
        .iter()
        .map(|s| {
            json!({
                "key": B256::from(s.slot.to_be_bytes::<32>()),
                "value": u256_json(s.value),
                "proof": proof_nodes(&s.proof),
            })
        })
        .collect();
    Ok(json!({
        "address": address,
        "accountProof": proof_nodes(&proof.proof),
        "balance": u256_json(account.balance),
        "codeHash": account.code_hash,
        "nonce": u64_json(account.nonce),
        "storageHash": account.storage_root,
        "storageProof": storage,
    }))
}

fn proof_nodes(proof: &Proof) -> Vec<Bytes> {
    let mut out: Vec<Bytes> =
        proof.siblings.iter().map(|h| Bytes::copy_from_slice(h.as_slice())).collect();
    if let Some((key, value)) = &proof.leaf {
        out.push([key.as_slice(), value.as_slice()].concat().into());
    }
    out
}

/// The request, block and state overrides of `eth_call` and `eth_estimateGas`.
fn call_params(
    ctx: &Ctx<'_>,
    params: &Params,
) -> Result<(TransactionRequest, Option<StateOverride>), RpcError> {
    let request: TransactionRequest = params.required(0, "transaction")?;
    latest_only(ctx.view, params.optional::<BlockTag>(1, "block")?)?;
    let overrides: Option<StateOverride> = params.optional(2, "state overrides")?;
    if let Some(o) = &overrides
        && o.len() > ctx.config.max_state_overrides
    {
        return Err(RpcError::invalid_params(format!(
            "{} accounts overridden, at most {} allowed",
            o.len(),
            ctx.config.max_state_overrides
        )));
    }
    Ok((request, overrides))
}

/// What a call may spend: each run at most [`RpcConfig::gas_cap`](crate::RpcConfig::gas_cap)
/// or what the calls before it in the same batch left of the batch's budget, all its runs
/// together no more than that budget, and [`RpcConfig::evm_timeout`](crate::RpcConfig::evm_timeout).
/// Refused when the calls before it left less than any transaction needs (21,000).
fn budget_for_call(ctx: &Ctx<'_>) -> Result<CallBudget, RpcError> {
    match ctx.gas_left.get() {
        left if left < 21_000 => Err(RpcError::limit_exceeded(format!(
            "the calls before this one in its batch used its {} gas (--rpc.batch-gas-cap)",
            ctx.config.batch_gas_cap
        ))),
        left => Ok(CallBudget::new(left.min(ctx.config.gas_cap))
            .with_total_gas(left)
            .with_timeout(ctx.config.evm_timeout)),
    }
}

/// Charges the batch for every run of a call, whatever the call answered.
fn charge(ctx: &Ctx<'_>, budget: &CallBudget) {
    ctx.gas_left.set(ctx.gas_left.get().saturating_sub(budget.spent()));
}

pub(crate) fn call(ctx: &Ctx<'_>, params: &Params) -> Result<Value, RpcError> {
    let (request, overrides) = call_params(ctx, params)?;
    let budget = budget_for_call(ctx)?;
    let outcome = ctx.view.call(&request, overrides.as_ref(), &budget);
    charge(ctx, &budget);
    match outcome.map_err(call_error)? {
        CallOutcome::Success { output, .. } => Ok(json!(output)),
        failure => Err(failed(failure, budget.gas())),
    }
}

pub(crate) fn estimate_gas(ctx: &Ctx<'_>, params: &Params) -> Result<Value, RpcError> {
    let (request, overrides) = call_params(ctx, params)?;
    let budget = budget_for_call(ctx)?;
    let estimate = ctx.view.estimate_gas(&request, overrides.as_ref(), &budget);
    charge(ctx, &budget);
    match estimate {
        Ok(gas) => Ok(u64_json(gas)),
        Err(Ok(outcome)) => Err(failed(outcome, request.gas.unwrap_or(budget.gas()))),
        Err(Err(e)) => Err(call_error(e)),
    }
}

/// A call that ran and failed, as Ethereum clients report it: code 3 with the revert data
/// for a revert (the reason decoded into the message when there is one), `-32000` with the
/// EVM's reason for a halt.
fn failed(outcome: CallOutcome, gas: u64) -> RpcError {
    match outcome {
        CallOutcome::Revert { output, .. } => RpcError::reverted(output),
        CallOutcome::Halt { reason, .. } if reason == "out of gas" => {
            RpcError::server(format!("out of gas: gas required exceeds allowance ({gas})"))
        }
        CallOutcome::Halt { reason, .. } => RpcError::server(reason),
        CallOutcome::Success { .. } => RpcError::internal("a successful call reported as failed"),
    }
}

fn call_error(e: CallError) -> RpcError {
    match e {
        CallError::Invalid(message) => RpcError::server(message),
        CallError::Fatal(message) => RpcError::internal(message),
        e @ CallError::Timeout(_) => RpcError::server(format!("{e} (--rpc.evm-timeout-ms)")),
        e @ CallError::Exhausted { .. } => {
            RpcError::limit_exceeded(format!("{e} (--rpc.gas-cap, --rpc.batch-gas-cap)"))
        }
    }
}

pub(crate) fn create_access_list(ctx: &Ctx<'_>, params: &Params) -> Result<Value, RpcError> {
    let (request, overrides) = call_params(ctx, params)?;
    let budget = budget_for_call(ctx)?;
    let listed = ctx.view.create_access_list(&request, overrides.as_ref(), &budget);
    charge(ctx, &budget);
    let (list, outcome) = listed.map_err(call_error)?;
    let mut out = json!({ "accessList": list, "gasUsed": u64_json(outcome.gas_used()) });
    if !matches!(outcome, CallOutcome::Success { .. }) {
        out["error"] = json!(failed(outcome, ctx.config.gas_cap).message);
    }
    Ok(out)
}
