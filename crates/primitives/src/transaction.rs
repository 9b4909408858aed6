//! Signed Ethereum transactions (legacy with EIP-155, EIP-2930, EIP-1559) and their senders.

use alloy_consensus::{Transaction, TxEnvelope, transaction::SignerRecoverable};
use alloy_eips::eip2718::{Decodable2718, Encodable2718};
use alloy_primitives::{Address, B256};

/// Why raw bytes are not a transaction BTCR accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// More bytes than [`crate::MAX_TRANSACTION_SIZE`].
    #[error("oversized data: transaction size {size}, limit {limit}")]
    Oversized {
        /// Encoded size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Bytes that do not decode as any transaction type.
    #[error("invalid transaction encoding: {0}")]
    Malformed(String),
    /// A type BTCR does not execute (EIP-4844 blobs, EIP-7702 set-code).
    #[error("transaction type not supported: {0}")]
    UnsupportedType(&'static str),
    /// The signature does not recover to a sender.
    #[error("invalid sender: {0}")]
    InvalidSignature(String),
    /// Trailing bytes after the transaction.
    #[error("invalid transaction encoding: {0} trailing bytes")]
    TrailingBytes(usize),
}

/// A name for a transaction type, for error messages.
pub fn transaction_type_name(tx: &TxEnvelope) -> &'static str {
    match tx {
        TxEnvelope::Legacy(_) => "legacy",
        TxEnvelope::Eip2930(_) => "EIP-2930",
        TxEnvelope::Eip1559(_) => "EIP-1559",
        TxEnvelope::Eip4844(_) => "EIP-4844",
        TxEnvelope::Eip7702(_) => "EIP-7702",
    }
}

/// Decodes an EIP-2718 transaction as `eth_sendRawTransaction` receives it, refusing types
/// BTCR does not execute and anything over [`crate::MAX_TRANSACTION_SIZE`].
pub fn decode_transaction(raw: &[u8]) -> Result<TxEnvelope, DecodeError> {
    if raw.len() > crate::MAX_TRANSACTION_SIZE {
        return Err(DecodeError::Oversized { size: raw.len(), limit: crate::MAX_TRANSACTION_SIZE });
    }
    let mut buf = raw;
    let tx =
        TxEnvelope::decode_2718(&mut buf).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if !buf.is_empty() {
        return Err(DecodeError::TrailingBytes(buf.len()));
    }
    match tx {
        TxEnvelope::Eip4844(_) | TxEnvelope::Eip7702(_) => {
            Err(DecodeError::UnsupportedType(transaction_type_name(&tx)))
        }
        tx => Ok(tx),
    }
}

/// A transaction with its sender recovered and its hash and size computed once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveredTx {
    /// The signed transaction.
    pub tx: TxEnvelope,
    /// The address that signed it.
    pub sender: Address,
    /// Its hash (keccak256 of the EIP-2718 encoding).
    pub hash: B256,
    /// Length of the EIP-2718 encoding in bytes.
    pub encoded_len: usize,
}

impl RecoveredTx {
    /// Recovers the sender of `tx` (secp256k1, low-s enforced).
    pub fn recover(tx: TxEnvelope) -> Result<Self, DecodeError> {
        let sender =
            tx.recover_signer().map_err(|e| DecodeError::InvalidSignature(e.to_string()))?;
        let hash = *tx.tx_hash();
        let encoded_len = tx.encode_2718_len();
        Ok(Self { tx, sender, hash, encoded_len })
    }

    /// Nonce of the transaction.
    pub fn nonce(&self) -> u64 {
        self.tx.nonce()
    }

    /// The contract a creation makes (at the sender's address and nonce); `None` for a call.
    pub fn created_contract(&self) -> Option<Address> {
        created_contract(&self.tx, self.sender)
    }
}

/// The contract that `tx`, sent by `sender`, creates (at the sender's address and nonce);
/// `None` for a call.
pub fn created_contract(tx: &TxEnvelope, sender: Address) -> Option<Address> {
    tx.kind().is_create().then(|| sender.create(tx.nonce()))
}
