//! Stateless transaction checks: what can be decided without the sender's account.

use alloy_consensus::{Transaction, TxEnvelope};
use btcr_primitives::{MAX_TRANSACTION_SIZE, RecoveredTx, transaction_type_name};
use revm::context_interface::cfg::gas::calculate_initial_tx_gas;

use crate::SPEC;

/// Why a transaction can never be included, whatever the state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// EIP-4844 and EIP-7702 transactions are not executed by BTCR.
    #[error("transaction type not supported: {0}")]
    UnsupportedType(&'static str),
    /// The chain id differs from the chain's.
    #[error("invalid chain id: expected {expected}, got {got}")]
    WrongChainId {
        /// The chain's id.
        expected: u64,
        /// The transaction's.
        got: u64,
    },
    /// A legacy transaction without EIP-155 replay protection.
    #[error(
        "invalid chain id: transaction is not replay-protected (EIP-155), expected chain id {expected}"
    )]
    MissingChainId {
        /// The chain's id.
        expected: u64,
    },
    /// More gas needed before execution than the transaction allows.
    #[error("intrinsic gas too low: gas limit {gas_limit}, intrinsic gas {intrinsic}")]
    IntrinsicGasTooLow {
        /// The transaction's gas limit.
        gas_limit: u64,
        /// Gas needed before any code runs.
        intrinsic: u64,
    },
    /// The transaction alone exceeds a block.
    #[error("exceeds block gas limit: gas limit {gas_limit}, block gas limit {block_gas_limit}")]
    ExceedsBlockGasLimit {
        /// The transaction's gas limit.
        gas_limit: u64,
        /// The block gas limit.
        block_gas_limit: u64,
    },
    /// Larger than [`MAX_TRANSACTION_SIZE`].
    #[error("oversized data: transaction size {size}, limit {limit}")]
    Oversized {
        /// Encoded size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The tip exceeds the fee cap.
    #[error("max priority fee per gas higher than max fee per gas: tip {tip}, max fee {max_fee}")]
    TipAboveFeeCap {
        /// Priority fee.
        tip: u128,
        /// Fee cap.
        max_fee: u128,
    },
    /// A create transaction whose init code exceeds EIP-3860's limit.
    #[error("max initcode size exceeded: size {size}, limit {limit}")]
    InitCodeTooLarge {
        /// Init code size.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

/// EIP-3860 limit on init code.
const MAX_INITCODE_SIZE: usize = 2 * 24_576;

/// Gas a transaction needs before any code runs (including the EIP-7623 calldata floor).
pub fn intrinsic_gas(tx: &TxEnvelope) -> u64 {
    let (accounts, slots) = tx.access_list().map_or((0, 0), |list| {
        (list.len() as u64, list.iter().map(|item| item.storage_keys.len() as u64).sum())
    });
    let gas = calculate_initial_tx_gas(SPEC, tx.input(), tx.is_create(), accounts, slots, 0, None);
    (gas.initial_regular_gas + gas.initial_state_gas).max(gas.floor_gas)
}

/// Checks everything about `tx` that does not depend on state.
pub fn validate_transaction(
    tx: &RecoveredTx,
    chain_id: u64,
    block_gas_limit: u64,
) -> Result<(), TxError> {
    let envelope = &tx.tx;
    if matches!(envelope, TxEnvelope::Eip4844(_) | TxEnvelope::Eip7702(_)) {
        return Err(TxError::UnsupportedType(transaction_type_name(envelope)));
    }
    match envelope.chain_id() {
        Some(id) if id == chain_id => {}
        Some(got) => return Err(TxError::WrongChainId { expected: chain_id, got }),
        None => return Err(TxError::MissingChainId { expected: chain_id }),
    }
    if tx.encoded_len > MAX_TRANSACTION_SIZE {
        return Err(TxError::Oversized { size: tx.encoded_len, limit: MAX_TRANSACTION_SIZE });
    }
    let gas_limit = envelope.gas_limit();
    if gas_limit > block_gas_limit {
        return Err(TxError::ExceedsBlockGasLimit { gas_limit, block_gas_limit });
    }
    let tip = envelope.max_priority_fee_per_gas().unwrap_or(0);
    let max_fee = envelope.max_fee_per_gas();
    if tip > max_fee {
        return Err(TxError::TipAboveFeeCap { tip, max_fee });
    }
    if envelope.is_create() && envelope.input().len() > MAX_INITCODE_SIZE {
        return Err(TxError::InitCodeTooLarge {
            size: envelope.input().len(),
            limit: MAX_INITCODE_SIZE,
        });
    }
    let intrinsic = intrinsic_gas(envelope);
    if gas_limit < intrinsic {
        return Err(TxError::IntrinsicGasTooLow { gas_limit, intrinsic });
    }
    Ok(())
}
