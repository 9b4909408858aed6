//! Building, signing and sending a transfer of BTCR or of an ERC-20 token.

use std::time::{Duration, Instant};

use crate::error::{Context as _, WalletResult, bail, invalid};
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_primitives::{Address, B256, Bytes, TxKind, U256};
use alloy_sol_types::{SolCall, sol};
use btcr_crypto::SecretKey;
use serde_json::json;

use crate::{RpcClient, rpc::quantity};

sol! {
    /// The ERC-20 functions the wallet calls.
    interface Erc20 {
        function transfer(address to, uint256 amount) external returns (bool);
        function balanceOf(address account) external view returns (uint256);
        function decimals() external view returns (uint8);
        function symbol() external view returns (string);
    }
}

/// What to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asset {
    /// The chain's own coin.
    Native,
    /// An ERC-20 token at this address.
    Token(Address),
}

/// A transfer that made it into a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The transaction hash.
    pub hash: B256,
    /// The block that includes it.
    pub block: u64,
    /// Whether it succeeded (a failed transfer is included and pays its fee too).
    pub success: bool,
    /// Gas it used.
    pub gas_used: u64,
    /// What it cost the sender in fees (gas used × effective gas price), in wei.
    pub fee: U256,
}

/// Signs any transaction and returns its EIP-2718 encoding.
pub fn sign<T>(tx: T, key: &SecretKey) -> Bytes
where
    T: SignableTransaction<alloy_primitives::Signature>,
    TxEnvelope: From<alloy_consensus::Signed<T>>,
{
    key.sign_transaction(tx)
}

fn call(rpc: &RpcClient, to: Address, data: Vec<u8>) -> WalletResult<Bytes> {
    let out = rpc.call("eth_call", json!([{ "to": to, "data": Bytes::from(data) }, "latest"]))?;
    serde_json::from_value(out).wrap_err("call result")
}

/// A token's `decimals()`.
pub fn token_decimals(rpc: &RpcClient, token: Address) -> WalletResult<u8> {
    let out = call(rpc, token, Erc20::decimalsCall {}.abi_encode())
        .wrap_err_with(|| format!("reading decimals() of {token}"))?;
    Erc20::decimalsCall::abi_decode_returns(&out)
        .wrap_err_with(|| format!("{token} is not an ERC-20 token"))
}

/// A token's `symbol()`, if it has one.
pub fn token_symbol(rpc: &RpcClient, token: Address) -> Option<String> {
    let out = call(rpc, token, Erc20::symbolCall {}.abi_encode()).ok()?;
    Erc20::symbolCall::abi_decode_returns(&out).ok()
}

/// `holder`'s balance of `token`.
pub fn token_balance(rpc: &RpcClient, token: Address, holder: Address) -> WalletResult<U256> {
    let out = call(rpc, token, Erc20::balanceOfCall { account: holder }.abi_encode())
        .wrap_err_with(|| format!("reading balanceOf() of {token}"))?;
    Erc20::balanceOfCall::abi_decode_returns(&out)
        .wrap_err_with(|| format!("{token} is not an ERC-20 token"))
}

/// Sends `amount` (base units) of `asset` from `key` to `to` as an EIP-1559 transaction
/// with the node's fee suggestion and gas estimate, then waits up to `timeout` for its
/// receipt, calling `waiting` between polls.
pub fn send(
    rpc: &RpcClient,
    key: &SecretKey,
    to: Address,
    amount: U256,
    asset: Asset,
    timeout: Duration,
    mut waiting: impl FnMut(Duration),
) -> WalletResult<Sent> {
    let from = key.address();
    let chain_id = quantity(&rpc.call("eth_chainId", json!([]))?)?;
    let nonce = quantity(&rpc.call("eth_getTransactionCount", json!([from, "pending"]))?)?;
    let head = rpc.block("latest", false)?;
    let base_fee = u128::from(quantity(&head["baseFeePerGas"])?);
    let tip = u128::from(quantity(&rpc.call("eth_maxPriorityFeePerGas", json!([]))?)?);
    let (target, value, input) = match asset {
        Asset::Native => (to, amount, Bytes::new()),
        Asset::Token(token) => {
            (token, U256::ZERO, Erc20::transferCall { to, amount }.abi_encode().into())
        }
    };
    let gas = quantity(&rpc.call(
        "eth_estimateGas",
        json!([{ "from": from, "to": target, "value": value, "data": input }]),
    )?)?;
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: gas,
        // Room for the base fee to double before the transaction is included.
        max_fee_per_gas: 2 * base_fee + tip,
        max_priority_fee_per_gas: tip,
        to: TxKind::Call(target),
        value,
        access_list: Default::default(),
        input,
    };
    let hash: B256 =
        serde_json::from_value(rpc.call("eth_sendRawTransaction", json!([sign(tx, key)]))?)?;
    let start = Instant::now();
    let receipt = loop {
        if let Some(receipt) = rpc.receipt(hash)? {
            break receipt;
        }
        if start.elapsed() > timeout {
            bail!(
                "transaction {hash} was sent but not included within {timeout:?}; check it later with its hash"
            );
        }
        waiting(start.elapsed());
        std::thread::sleep(Duration::from_millis(100));
    };
    let gas_used = quantity(&receipt["gasUsed"])?;
    let price: U256 = serde_json::from_value(receipt["effectiveGasPrice"].clone())
        .map_err(|e| invalid!("receipt without effectiveGasPrice: {e}"))?;
    Ok(Sent {
        hash,
        block: quantity(&receipt["blockNumber"])?,
        success: receipt["status"] == "0x1",
        gas_used,
        fee: price * U256::from(gas_used),
    })
}
