//! Entry point for the transaction-decoding fuzz target (`fuzz/`).

use alloy_eips::eip2718::Encodable2718;

use crate::{RecoveredTx, decode_transaction};

/// Decodes `data` as `eth_sendRawTransaction` would; what decodes encodes back to the same
/// bytes, and its sender is recovered or refused without a panic.
pub fn transaction(data: &[u8]) {
    let Ok(tx) = decode_transaction(data) else { return };
    assert_eq!(tx.encoded_2718(), data, "a decoded transaction encodes to its bytes");
    let _ = RecoveredTx::recover(tx);
}
