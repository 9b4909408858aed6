//! Admission: what enters the pool, from RPC or from peers, and what is sent on to the other
//! validators. Cheap checks come before costly ones: a transaction already pooled or committed
//! is known by its hash before its sender is recovered.

use std::sync::atomic::Ordering;

use alloy_primitives::B256;
use btcr_execution::validate_transaction;
use btcr_interfaces::SubmitError;
use btcr_network::{TxPublisher, TxSink, Verdict};
use btcr_primitives::{RecoveredTx, StateReader, decode_transaction};
use btcr_storage::Snapshot;
use btcr_txpool::{AddOutcome, PoolError, SenderState};

use super::Chain;

/// Whose fault a refused transaction is, which decides what a peer that sent it is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// The transaction is invalid: whoever sent it is at fault.
    Invalid,
    /// This node has it already (pooled, committed, or its nonce used).
    Stale,
    /// Unwanted now, through no fault of the sender (pool full, funds not there yet, a node
    /// error).
    None,
}

impl Fault {
    fn of_pool(error: &PoolError) -> Self {
        match error {
            PoolError::AlreadyKnown | PoolError::NonceTooLow { .. } => Self::Stale,
            _ => Self::None,
        }
    }
}

impl Chain {
    /// Adds a raw signed transaction to the pool after every check that does not need
    /// execution, returning its hash or the reason it is refused.
    pub fn submit_raw(&self, raw: &[u8]) -> Result<B256, SubmitError> {
        self.admit(raw).map(|(hash, _)| hash).map_err(|(_, e)| e)
    }

    /// Adds a transaction to the pool and, when it can execute now, sends it to the other
    /// validators. A queued one (its sender's nonce gap not yet filled) stays here: gossiping
    /// transactions that cannot execute would let anyone fill every node's pool for free.
    pub fn submit_transaction(&self, raw: &[u8]) -> Result<B256, SubmitError> {
        let (hash, executable) = self.admit(raw).map_err(|(_, e)| e)?;
        if executable && let Some(publisher) = self.publisher.get() {
            // A full queue only delays the transaction until this node proposes.
            publisher.publish(bytes::Bytes::copy_from_slice(raw));
        }
        Ok(hash)
    }

    /// Adds a transaction to the pool; an error says whose fault the refusal is.
    /// On success, the hash and whether the transaction is executable (pending, not queued).
    fn admit(&self, raw: &[u8]) -> Result<(B256, bool), (Fault, SubmitError)> {
        let invalid = |e: &dyn std::fmt::Display| (Fault::Invalid, SubmitError(e.to_string()));
        let envelope = decode_transaction(raw).map_err(|e| invalid(&e))?;
        self.admission_recoveries.fetch_add(1, Ordering::Relaxed);
        let tx = RecoveredTx::recover(envelope).map_err(|e| invalid(&e))?;
        validate_transaction(&tx, self.genesis.chain_id, self.genesis.gas_limit)
            .map_err(|e| invalid(&e))?;
        let node_error =
            |e: &dyn std::fmt::Display| (Fault::None, SubmitError(format!("node error: {e}")));
        let hash = tx.hash;
        // The sender's state is read under the pool's lock: a commit installs its state in
        // the store before it prunes the pool (under this lock), so what is read here is never
        // older than what the pool last pruned with. Read before taking the lock, a commit in
        // between would let a transaction it included back into the pool as pending.
        let mut pool = self.pool.lock();
        let account = self
            .store
            .snapshot()
            .map_err(|e| node_error(&e))?
            .account(&tx.sender)
            .map_err(|e| node_error(&e))?
            .unwrap_or_default();
        let base_fee = u128::from(self.head.read().next_base_fee());
        let outcome = pool
            .add(tx, SenderState { nonce: account.nonce, balance: account.balance }, base_fee)
            .map_err(|e| (Fault::of_pool(&e), SubmitError(e.to_string())))?;
        drop(pool);
        let executable =
            matches!(outcome, AddOutcome::Pending | AddOutcome::Replaced { pending: true, .. });
        Ok((hash, executable))
    }

    /// How many senders admission has recovered (an ECDSA recovery each) since opening.
    pub fn admission_recoveries(&self) -> u64 {
        self.admission_recoveries.load(Ordering::Relaxed)
    }

    /// Whether a transaction offered by a peer is one this node has already: pooled, or
    /// committed. Checked by hash before anything costly, so that replaying transactions
    /// costs the replayer as much as this node.
    fn already_have(&self, raw: &[u8], snapshot: Option<&Snapshot>) -> bool {
        let hash = alloy_primitives::keccak256(raw);
        self.pool.lock().contains(&hash)
            || snapshot.is_some_and(|s| matches!(s.transaction_location(&hash), Ok(Some(_))))
    }

    fn admit_from_peer(
        &self,
        raw: &[u8],
        snapshot: Option<&Snapshot>,
    ) -> Result<(B256, bool), (Fault, SubmitError)> {
        if self.already_have(raw, snapshot) {
            return Err((Fault::Stale, SubmitError("already known".into())));
        }
        self.admit(raw)
    }

    /// Sends transactions accepted over RPC to the network from now on.
    pub fn set_publisher(&self, publisher: TxPublisher) {
        let _ = self.publisher.set(publisher);
    }
}

impl TxSink for Chain {
    fn receive(&self, transactions: &[bytes::Bytes]) -> Vec<Verdict> {
        let snapshot = self.store.snapshot().ok();
        transactions
            .iter()
            .map(|raw| match self.admit_from_peer(raw, snapshot.as_deref()) {
                Ok(_) => Verdict::Accept,
                Err((Fault::Invalid, _)) => Verdict::Reject,
                Err((Fault::Stale, _)) => Verdict::Stale,
                Err((Fault::None, _)) => Verdict::Ignore,
            })
            .collect()
    }
}
