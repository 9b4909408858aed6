//! Reporting double signing to the staking contract: a consumer of chain events that sends
//! `submitEvidence` in a transaction signed with the validator's key (whose account pays
//! the gas), on this validator's turn.
//!
//! Every honest validator sees the same fault, so they take turns ([`report_turn`]: address
//! order, rotated by the fault's height, [`REPORT_TURN_BLOCKS`] apart): the first report
//! lands, and the later reporters, seeing the fault punished, send nothing. A fault older
//! than the contract's unbonding window is not sent either, since the contract would refuse
//! it. The evidence stored before a restart is scheduled again at start.

use std::sync::{Arc, Weak};

use alloy_consensus::TxEip1559;
use alloy_eips::eip2930::AccessList;
use alloy_primitives::{Address, B256, TxKind, U256};
use btcr_crypto::SecretKey;
use btcr_interfaces::{CommittedBlock, Consumer, ConsumerError, ReadError};
use btcr_primitives::{ConsensusMode, Misbehavior, StateReader};
use tracing::{info, warn};

use crate::Chain;

/// Gas of a transaction reporting double signing (it checks two signatures).
const EVIDENCE_GAS: u64 = 500_000;
/// Blocks between one validator's turn to report double signing and the next one's: time
/// for the earlier report to land, so that the later reporter sees it and sends nothing.
pub(crate) const REPORT_TURN_BLOCKS: u64 = 2;
/// Reports waiting for their turn, at most.
const MAX_PENDING_REPORTS: usize = 1_000;
/// The priority fee of a report (1 gwei).
const REPORT_TIP: u128 = 1_000_000_000;

/// A reporter's turn (0 first) to report double signing seen at `height`: the validators
/// of `set` take turns in address order, starting from a different one at each height;
/// anyone outside the set comes after them all.
pub(crate) fn report_turn(set: &[Address], reporter: Address, height: u64) -> u64 {
    let mut sorted = set.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let n = sorted.len() as u64;
    match sorted.iter().position(|a| *a == reporter) {
        Some(position) => (position as u64 + n - height % n) % n,
        None => n,
    }
}

/// Reports the double signing this node sees.
pub struct EvidenceReporter {
    /// The chain whose pool takes the reports; weak, so that the reporter (a thread the
    /// chain's bus owns) does not keep the chain alive.
    chain: Weak<Chain>,
    key: SecretKey,
    /// Evidence waiting for this validator's turn: (due height, evidence).
    pending: Vec<(u64, Misbehavior)>,
}

impl std::fmt::Debug for EvidenceReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvidenceReporter")
            .field("reporter", &self.key.address())
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl EvidenceReporter {
    /// Reports into `chain`'s pool, signing with `key`.
    pub fn new(chain: &Arc<Chain>, key: SecretKey) -> Self {
        Self { chain: Arc::downgrade(chain), key, pending: Vec::new() }
    }

    fn chain(&self) -> Result<Arc<Chain>, ConsumerError> {
        self.chain.upgrade().ok_or_else(|| ConsumerError::Write {
            context: "reporting double signing".into(),
            source: "the chain is closed".into(),
        })
    }

    /// Reports `evidence` on this validator's turn.
    fn schedule(&mut self, evidence: &Misbehavior) -> Result<(), ConsumerError> {
        let chain = self.chain()?;
        let snapshot = chain.store().snapshot().map_err(ReadError::store)?;
        let set = btcr_staking::validator_set(&*snapshot, chain.genesis()).map_err(|e| {
            ReadError::Contract { context: "the validator set", source: Box::new(e) }
        })?;
        let set: Vec<Address> = set.iter().map(|v| v.address).collect();
        let delay = report_turn(&set, self.key.address(), evidence.height) * REPORT_TURN_BLOCKS;
        if delay == 0 {
            self.send(&chain, evidence);
        } else if self.pending.len() < MAX_PENDING_REPORTS {
            let due = snapshot.head_number().unwrap_or(0) + delay;
            self.pending.push((due, evidence.clone()));
        }
        Ok(())
    }

    /// Reports `evidence` now, unless the contract has punished it already; says how in the
    /// log.
    fn send(&self, chain: &Chain, evidence: &Misbehavior) {
        match self.report(chain, evidence) {
            Ok(Some(hash)) => {
                info!(target: "btcr::evidence", validator = %evidence.validator, height = evidence.height, tx = %hash, "reported double signing to the staking contract");
            }
            Ok(None) => {}
            Err(reason) => {
                warn!(target: "btcr::evidence", validator = %evidence.validator, %reason, "could not report double signing");
            }
        }
    }

    /// Sends `submitEvidence` for `evidence`, unless there is nothing to gain: a
    /// proof-of-authority chain, a fault too old for the contract, or one punished already.
    fn report(&self, chain: &Chain, evidence: &Misbehavior) -> Result<Option<B256>, String> {
        let genesis = chain.genesis();
        if genesis.consensus.mode == ConsensusMode::Poa {
            return Ok(None);
        }
        let snapshot = chain.store().snapshot().map_err(|e| e.to_string())?;
        let head = snapshot.head_header().map_err(|e| e.to_string())?.ok_or("no head")?;
        // The contract takes evidence only as long as the stake it would cut is still bonded
        // or unbonding.
        let window = u64::from(genesis.consensus.unbonding_epochs) * genesis.consensus.epoch_length;
        if (head.number + 1).saturating_sub(evidence.height) > window {
            return Ok(None);
        }
        if btcr_staking::already_slashed(&*snapshot, genesis, evidence.validator, evidence.height)
            .map_err(|e| e.to_string())?
        {
            return Ok(None);
        }
        let sender = self.key.address();
        let nonce = match chain.pending_nonce(&sender) {
            Some(nonce) => nonce,
            None => snapshot.account(&sender).map_err(|e| e.to_string())?.unwrap_or_default().nonce,
        };
        let tx = TxEip1559 {
            chain_id: genesis.chain_id,
            nonce,
            gas_limit: EVIDENCE_GAS,
            max_fee_per_gas: 2 * u128::from(head.next_base_fee()) + REPORT_TIP,
            max_priority_fee_per_gas: REPORT_TIP,
            to: TxKind::Call(btcr_staking::STAKING_ADDRESS),
            value: U256::ZERO,
            access_list: AccessList::default(),
            input: btcr_staking::submit_evidence_call(evidence),
        };
        let raw = self.key.sign_transaction(tx);
        chain.submit_transaction(&raw).map(Some).map_err(|e| e.0)
    }
}

impl Consumer for EvidenceReporter {
    fn name(&self) -> &'static str {
        "evidence-reporter"
    }

    fn start(&mut self, head: u64) -> Result<Option<u64>, ConsumerError> {
        // The evidence already stored (seen before a restart, say) is scheduled again: a
        // fault not punished yet, and still recent enough to be, is reported on this
        // validator's turn.
        let stored = {
            let chain = self.chain()?;
            let snapshot = chain.store().snapshot().map_err(ReadError::store)?;
            snapshot.misbehavior(MAX_PENDING_REPORTS).map_err(ReadError::store)?
        };
        for evidence in &stored {
            self.schedule(evidence)?;
        }
        Ok(Some(head))
    }

    fn replays(&self) -> bool {
        false
    }

    fn apply(&mut self, blocks: &[Arc<CommittedBlock>]) -> Result<(), ConsumerError> {
        let Some(last) = blocks.last() else { return Ok(()) };
        let (due, later): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.pending).into_iter().partition(|(at, _)| *at <= last.number());
        self.pending = later;
        if !due.is_empty() {
            let chain = self.chain()?;
            for (_, evidence) in &due {
                self.send(&chain, evidence);
            }
        }
        Ok(())
    }

    fn misbehavior(&mut self, evidence: &Misbehavior) -> Result<(), ConsumerError> {
        self.schedule(evidence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validators_take_turns_to_report_starting_from_another_at_each_height() {
        let set: Vec<Address> = (1..=4).map(Address::repeat_byte).collect();
        for height in 0..8 {
            let mut turns: Vec<u64> = set.iter().map(|v| report_turn(&set, *v, height)).collect();
            turns.sort_unstable();
            assert_eq!(turns, [0, 1, 2, 3], "each turn once at height {height}");
        }
        let first = |height| set.iter().find(|v| report_turn(&set, **v, height) == 0).copied();
        assert_ne!(first(0), first(1), "the first reporter rotates");
        assert_eq!(report_turn(&set, Address::repeat_byte(9), 0), 4, "outsiders come last");
        assert_eq!(report_turn(&[], Address::ZERO, 3), 0, "no set: report at once");
    }
}
