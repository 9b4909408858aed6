//! Parallel sender recovery for a block's transactions.

use btcr_primitives::{DecodeError, RecoveredTx, TxEnvelope};
use rayon::prelude::*;

/// Recovers the senders of `txs` in parallel on the rayon pool, keeping their order. On
/// failure, returns the index of the first transaction that does not recover.
pub fn recover_transactions(
    txs: Vec<TxEnvelope>,
) -> Result<Vec<RecoveredTx>, (usize, DecodeError)> {
    let known = vec![None; txs.len()];
    recover_transactions_reusing(txs, known)
}

/// Like [`recover_transactions`], but `known[i]`, when present, is transaction `i` with its
/// sender already recovered (the pool's copy, found by hash): only the others pay for
/// recovery. A transaction's hash covers its signature, so the same hash has the same
/// sender.
pub fn recover_transactions_reusing(
    txs: Vec<TxEnvelope>,
    known: Vec<Option<RecoveredTx>>,
) -> Result<Vec<RecoveredTx>, (usize, DecodeError)> {
    txs.into_par_iter()
        .zip(known)
        .enumerate()
        .map(|(i, (tx, known))| match known {
            Some(recovered) if recovered.hash == *tx.tx_hash() => Ok(recovered),
            _ => RecoveredTx::recover(tx).map_err(|e| (i, e)),
        })
        .collect()
}
