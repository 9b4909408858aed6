//! Parallel sender recovery for a block's transactions.

use btcr_primitives::{DecodeError, RecoveredTx, TxEnvelope};
use rayon::prelude::*;

/// Recovers the senders of `txs` in parallel on the rayon pool, keeping their order. On
/// failure, returns the index of the first transaction that does not recover.
pub fn recover_transactions(
    txs: Vec<TxEnvelope>,
) -> Result<Vec<RecoveredTx>, (usize, DecodeError)> {
    txs.into_par_iter()
        .enumerate()
        .map(|(i, tx)| RecoveredTx::recover(tx).map_err(|e| (i, e)))
        .collect()
}
