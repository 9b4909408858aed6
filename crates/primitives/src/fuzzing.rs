//! Entry points for the fuzz targets over this crate's decoders (`fuzz/`): transactions and
//! the block stream an indexer reads.

use alloy_eips::eip2718::Encodable2718;

use crate::{RecoveredTx, decode_transaction};

/// Decodes `data` as `eth_sendRawTransaction` would; what decodes encodes back to the same
/// bytes, and its sender is recovered or refused without a panic.
pub fn transaction(data: &[u8]) {
    let Ok(tx) = decode_transaction(data) else { return };
    assert_eq!(tx.encoded_2718(), data, "a decoded transaction encodes to its bytes");
    let _ = RecoveredTx::recover(tx);
}

/// Reads `data` as a block stream (`StreamFrame`s, each after its length) the way an
/// indexer does: every frame is decoded or refused without a panic, and what decodes
/// encodes to a frame that decodes to the same.
pub fn block_stream(data: &[u8]) {
    let mut rest = data;
    while rest.len() >= 4 {
        let prefix: [u8; 4] = rest[..4].try_into().expect("four bytes");
        let Ok(length) = crate::StreamFrame::length(prefix) else { return };
        let Some(body) = rest.get(4..4 + length) else { return };
        if let Ok(frame) = crate::StreamFrame::decode(body) {
            let again = frame.encode();
            assert_eq!(crate::StreamFrame::decode(&again[4..]).as_ref(), Ok(&frame));
        }
        rest = &rest[4 + length..];
    }
}
