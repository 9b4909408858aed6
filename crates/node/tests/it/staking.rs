//! Staking through the whole pipeline, in one process: registration, delegation, the set
//! elected at each epoch's end, rewards, unbonding and withdrawal, and slashing by evidence
//! submitted in a transaction.

use std::collections::HashMap;

use alloy_primitives::{Address, B256, Bytes, U256};
use alloy_rpc_types_eth::TransactionRequest;
use alloy_sol_types::{SolCall, SolValue};
use btcr_consensus::{
    BlockPipeline,
    bft::certificate::{sign_commit, sign_proposal_stream, verify_misbehavior},
};
use btcr_crypto::SecretKey;
use btcr_execution::CallOutcome;
use btcr_node::Chain;
use btcr_primitives::{
    ConsensusMode, Genesis, Misbehavior, MisbehaviorKind, SignedValue, WEI_PER_BTCR,
};

use btcr_staking::{STAKING_ADDRESS, Staking, submit_evidence_call};
use btcr_testkit::{TxBuilder, dev_key};

use crate::{CHAIN_ID, certificate, genesis, node, propose};

fn btcr(n: u64) -> U256 {
    U256::from(n) * U256::from(WEI_PER_BTCR)
}

/// One validator's chain, driven block by block.
struct Harness {
    node: crate::Node,
    validator: SecretKey,
    nonces: HashMap<Address, u64>,
}

impl Harness {
    fn new(genesis: Genesis, validator: SecretKey) -> Self {
        Self { node: node(&genesis, &validator), validator, nonces: HashMap::new() }
    }

    fn chain(&self) -> &Chain {
        &self.node.chain
    }

    /// Sends `value` and `input` to the staking contract from `key`; returns the hash.
    fn send(&mut self, key: &SecretKey, value: U256, input: Vec<u8>) -> B256 {
        self.send_with_gas(key, value, input, 1_000_000)
    }

    /// Starts unbonding `amount` of `key`'s stake with `validator`; returns the hash.
    fn undelegate(&mut self, key: &SecretKey, validator: Address, amount: U256) -> B256 {
        let call = Staking::undelegateCall { validator, amount };
        self.send(key, U256::ZERO, call.abi_encode())
    }

    fn send_with_gas(&mut self, key: &SecretKey, value: U256, input: Vec<u8>, gas: u64) -> B256 {
        let nonce = self.nonces.entry(key.address()).or_default();
        let tx = TxBuilder {
            value,
            ..TxBuilder::call(CHAIN_ID, *nonce, STAKING_ADDRESS, input.into(), gas)
        };
        *nonce += 1;
        self.chain().submit_raw(&tx.eip1559(key)).unwrap()
    }

    /// Proposes and commits one block, and waits for the consumers to follow.
    fn block(&self) {
        let block = propose(self.chain());
        self.chain().commit(block.hash(), certificate(&self.validator, &block)).unwrap();
        self.node.wait();
    }

    /// Commits blocks until the head is `height`.
    fn until(&self, height: u64) {
        while self.chain().head_header().number < height {
            self.block();
        }
    }

    /// Whether the transaction `hash` succeeded.
    fn succeeded(&self, hash: B256) -> bool {
        let (number, index) =
            self.node.view().transaction_location(&hash).unwrap().expect("included");
        let receipts = self.node.view().receipts(number).unwrap().unwrap();
        receipts[index as usize].status()
    }

    /// Runs calldata (a view, or a would-be transaction from `from`) on the head state;
    /// a revert gives its reason.
    fn call_raw(&self, from: Address, data: Bytes) -> Result<Bytes, String> {
        self.call_with_value(from, U256::ZERO, data)
    }

    fn call_with_value(&self, from: Address, value: U256, data: Bytes) -> Result<Bytes, String> {
        let request = TransactionRequest::default()
            .from(from)
            .to(STAKING_ADDRESS)
            .value(value)
            .input(data.into());
        match self
            .node
            .view()
            .call(&request, None, &btcr_execution::CallBudget::new(30_000_000))
            .unwrap()
        {
            CallOutcome::Success { output, .. } => Ok(output),
            CallOutcome::Revert { output, .. } => {
                Err(String::abi_decode(&output[4..]).unwrap_or_else(|_| format!("revert {output}")))
            }
            CallOutcome::Halt { reason, .. } => Err(reason),
        }
    }

    fn call<C: SolCall>(&self, from: Address, call: C) -> Result<C::Return, String> {
        let output = self.call_raw(from, call.abi_encode().into())?;
        Ok(C::abi_decode_returns(&output).unwrap())
    }

    fn view<C: SolCall>(&self, call: C) -> C::Return {
        self.call(Address::ZERO, call).unwrap()
    }

    fn set(&self) -> Vec<(Address, u64)> {
        let next = self.chain().head_header().number + 1;
        self.chain().validators(next).unwrap().into_iter().map(|v| (v.address, v.power)).collect()
    }

    fn validator(&self, who: Address) -> Staking::ValidatorInfo {
        self.view(Staking::getValidatorCall { validator: who })
    }

    fn balance(&self, who: Address) -> U256 {
        self.node.view().account(&who).unwrap().unwrap_or_default().balance
    }
}

/// The addresses of the set that decides the next block, sorted.
fn set_of(h: &Harness) -> Vec<Address> {
    let mut set: Vec<Address> = h.set().into_iter().map(|(a, _)| a).collect();
    set.sort();
    set
}

fn sorted(mut v: Vec<Address>) -> Vec<Address> {
    v.sort();
    v
}

fn staking_genesis(validator: &SecretKey) -> Genesis {
    let mut g = genesis(validator);
    g.consensus.epoch_length = 5;
    g.consensus.max_validators = 2;
    g.consensus.unbonding_epochs = 1;
    g.consensus.slash_bps = 1_000;
    g.consensus.jail_epochs = 2;
    g
}

/// Two conflicting precommits of `key` at `height`, round 0.
fn double_sign(key: &SecretKey, height: u64) -> Misbehavior {
    let signed = |value: B256| {
        let s = sign_commit(key, CHAIN_ID, height, 0, value);
        SignedValue { value, pol_round: 0, signature: s.signature }
    };
    Misbehavior {
        validator: key.address(),
        height,
        round: 0,
        kind: MisbehaviorKind::DoublePrecommit,
        first: signed(B256::repeat_byte(1)),
        second: signed(B256::repeat_byte(2)),
    }
}

#[test]
fn stake_elects_the_set_each_epoch_and_rewards_unbonding_and_slashing_follow_the_rules() {
    let v0 = SecretKey::random();
    let mut h = Harness::new(staking_genesis(&v0), v0.clone());
    let (n, delegator, m, reporter) = (dev_key(1), dev_key(2), dev_key(3), dev_key(0));

    // Genesis: the genesis validator alone, its power its self-stake in BTCR.
    assert_eq!(h.set(), vec![(v0.address(), 1000)]);
    let info = h.validator(v0.address());
    assert_eq!((info.status, info.stake, info.selfStake), (1, btcr(1000), btcr(1000)));
    assert_eq!(h.balance(STAKING_ADDRESS), btcr(1000));

    // Registrations: a key that is not the sender's, and a stake below the minimum, are
    // refused with their reasons; two good ones pass.
    let register = |key: &SecretKey, commission: u16| Staking::registerCall {
        publicKey: key.public_key_uncompressed().to_vec().into(),
        commissionBps: commission,
    };
    let refused = h.call_raw(delegator.address(), register(&n, 0).abi_encode().into()).unwrap_err();
    assert!(refused.contains("not the sender's key"), "{refused}");
    let bad = h.send(&delegator, btcr(500), register(&n, 0).abi_encode());
    let low = h.send(&m, btcr(99), register(&m, 0).abi_encode());
    let reg_n = h.send(&n, btcr(800), register(&n, 1_000).abi_encode());
    h.block();
    assert!(!h.succeeded(bad) && !h.succeeded(low) && h.succeeded(reg_n));
    let reg_m = h.send(&m, btcr(150), register(&m, 0).abi_encode());
    // A delegation to N, 300 BTCR, of which 100 start unbonding right away.
    let del = h.send(
        &delegator,
        btcr(300),
        Staking::delegateCall { validator: n.address() }.abi_encode(),
    );
    h.block();
    assert!(h.succeeded(reg_m) && h.succeeded(del));
    let undel = h.undelegate(&delegator, n.address(), btcr(100));
    h.block();
    assert!(h.succeeded(undel));
    let early = h.call_raw(delegator.address(), Staking::withdrawCall {}.abi_encode().into());
    assert!(early.unwrap_err().contains("nothing to withdraw yet"));
    assert_eq!(h.validator(n.address()).stake, btcr(1_000));
    assert_eq!(h.validator(n.address()).status, 0, "registered, not in the set yet");

    // Epoch 0 ends at height 4: the next set holds the two largest stakes (max 2).
    h.until(4);
    assert_eq!(h.view(Staking::epochCall {}), 1);
    assert_eq!(set_of(&h), sorted(vec![n.address(), v0.address()]));
    assert!(h.set().iter().all(|(_, power)| *power == 1000), "{:?}", h.set());
    assert_eq!(h.validator(m.address()).status, 0, "third by stake: left out");
    assert_eq!(h.validator(n.address()).status, 1);

    // Rewards: block reward and fees, shared by stake, after N's 10% commission.
    h.until(6);
    let pending = h.view(Staking::pendingRewardsCall { delegator: delegator.address() });
    assert!(pending > U256::ZERO, "the delegator of a validator in the set earns");
    let v0_pending = h.view(Staking::pendingRewardsCall { delegator: v0.address() });
    assert!(
        v0_pending >= btcr(2),
        "the genesis validator earned every block's reward: {v0_pending}"
    );
    let contract = h.balance(STAKING_ADDRESS);
    assert!(contract >= h.view(Staking::accountedCall {}));

    // N signed two precommits at height 5: anyone may submit the evidence, once.
    let evidence = double_sign(&n, 5);
    verify_misbehavior(
        CHAIN_ID,
        &evidence,
        &btcr_consensus::bft::certificate::consensus_key(&n).public_key(),
    )
    .unwrap();
    let mut forged = evidence.clone();
    forged.second = double_sign(&m, 5).second;
    let forged_reason = h.call_raw(reporter.address(), submit_evidence_call(&forged)).unwrap_err();
    assert!(forged_reason.contains("does not verify"), "{forged_reason}");
    let slash = h.send(&reporter, U256::ZERO, submit_evidence_call(&evidence).to_vec());
    h.block();
    assert!(h.succeeded(slash));
    let again = h.call_raw(reporter.address(), submit_evidence_call(&evidence)).unwrap_err();
    assert!(again.contains("already slashed"), "{again}");
    let snapshot = h.chain().store().snapshot().unwrap();
    let genesis = h.chain().genesis();
    assert!(btcr_staking::already_slashed(&*snapshot, genesis, n.address(), 5).unwrap());
    assert!(!btcr_staking::already_slashed(&*snapshot, genesis, n.address(), 4).unwrap());
    assert!(!btcr_staking::already_slashed(&*snapshot, genesis, m.address(), 5).unwrap());
    let slashed = h.validator(n.address());
    assert_eq!(slashed.stake, btcr(900), "10% of the bonded stake");
    assert_eq!(slashed.unbonding, btcr(90), "10% of the unbonding stake");
    assert_eq!(slashed.slashed, btcr(110));
    assert_eq!(slashed.status, 2, "jailed");
    let positions = h.view(Staking::getPositionsCall { delegator: delegator.address() });
    assert_eq!(positions[0].stake, btcr(180), "the delegator's 200 BTCR lost 10% too");

    // Epoch 1 ends at height 9: N is jailed, so M enters.
    h.until(9);
    assert_eq!(set_of(&h), sorted(vec![v0.address(), m.address()]));

    // The unbonding period (one epoch) is over: the delegator withdraws 90 BTCR.
    let before = h.balance(delegator.address());
    let withdraw = h.send(&delegator, U256::ZERO, Staking::withdrawCall {}.abi_encode());
    // M unbonds all of its stake, so it leaves the set at the next epoch.
    let leave = h.undelegate(&m, m.address(), btcr(150));
    h.block();
    assert!(h.succeeded(withdraw) && h.succeeded(leave));
    let gained = h.balance(delegator.address()) + btcr(1) - before;
    assert!(gained > btcr(90) && gained <= btcr(91), "90 BTCR back, less gas: {gained}");

    // Claiming pays rewards out.
    let before = h.balance(delegator.address());
    let claim = h.send(&delegator, U256::ZERO, Staking::claimRewardsCall {}.abi_encode());
    h.block();
    assert!(h.succeeded(claim));
    assert!(h.balance(delegator.address()) + btcr(1) > before + btcr(1));

    // Epoch 2 ends at height 14: M left; N stays jailed (until epoch 4).
    h.until(14);
    assert_eq!(set_of(&h), vec![v0.address()]);
    // Below the minimum stake and out of the set, M is deregistered; its unbonding stake
    // is still its own to withdraw.
    let gone = h.call_raw(
        Address::ZERO,
        Staking::getValidatorCall { validator: m.address() }.abi_encode().into(),
    );
    assert!(gone.unwrap_err().contains("no such validator"));
    assert_eq!(h.view(Staking::getValidatorsCall {}).len(), 2);
    let pending = h.view(Staking::getUnbondingsCall { delegator: m.address() });
    assert_eq!(pending[0].amount, btcr(150));
    h.until(19);
    assert_eq!(set_of(&h), sorted(vec![v0.address(), n.address()]), "N is back after its jail");
    assert!(h.balance(STAKING_ADDRESS) >= h.view(Staking::accountedCall {}));

    // Uptime counts the blocks each validator's sets decided (the store keeps every set):
    // these certificates carry v0's precommit only, so v0 has signed each of blocks 1 to
    // 20, and N none of the six its sets decided: blocks 5 to 9 (elected at block 4, jailed
    // out at the epoch's end at 9) and 20 (back after its jail).
    h.block();
    let uptime = |who: Address| {
        let up = h.node.view().uptime().unwrap();
        let v = up.get(&who).copied().unwrap_or_default();
        (v.signed, v.window)
    };
    assert_eq!(uptime(v0.address()), (20, 20), "blocks 1 to 20: v0 was in every set");
    assert_eq!(uptime(n.address()), (0, 6));

    // The supply kept by the store equals the sum of every balance after rewards minted,
    // fees burned and stake slashed.
    let snapshot = h.node.store.snapshot().unwrap();
    let sum = snapshot.all_accounts().unwrap().iter().fold(U256::ZERO, |s, (_, a)| s + a.balance);
    assert_eq!(h.node.view().supply().unwrap(), sum);
}

#[test]
fn a_proof_of_authority_chain_refuses_staking_and_keeps_its_set() {
    let v0 = SecretKey::random();
    let mut g = staking_genesis(&v0);
    g.consensus.mode = ConsensusMode::Poa;
    let mut h = Harness::new(g, v0.clone());
    let n = dev_key(1);
    let register = Staking::registerCall {
        publicKey: n.public_key_uncompressed().to_vec().into(),
        commissionBps: 0,
    };
    let reason = h.call_raw(n.address(), register.abi_encode().into()).unwrap_err();
    assert!(reason.contains("proof-of-authority"), "{reason}");
    let tx = h.send(&n, btcr(500), register.abi_encode());
    h.until(9);
    assert!(!h.succeeded(tx), "the registration is refused on chain too");
    assert_eq!(h.set(), vec![(v0.address(), 1000)]);
    // Fees go to the proposer, and nothing is minted.
    assert_eq!(h.balance(STAKING_ADDRESS), U256::ZERO);
}

/// A chain whose genesis validator V0 (funded, to pay for reports) is joined by N at block
/// 5; returns the harness, V0 and N.
fn two_validators() -> (Harness, SecretKey, SecretKey) {
    let (v0, n) = (dev_key(3), dev_key(1));
    let mut h = Harness::new(staking_genesis(&v0), v0.clone());
    let register = Staking::registerCall {
        publicKey: n.public_key_uncompressed().to_vec().into(),
        commissionBps: 0,
    };
    let registered = h.send(&n, btcr(500), register.abi_encode());
    h.block();
    assert!(h.succeeded(registered));
    h.until(4);
    assert_eq!(set_of(&h), sorted(vec![v0.address(), n.address()]), "N joins at block 5");
    (h, v0, n)
}

/// Whether the staking contract has punished `validator` for `height`.
fn punished(h: &Harness, validator: Address, height: u64) -> bool {
    let mut packed = validator.to_vec();
    packed.extend_from_slice(&height.to_be_bytes());
    h.view(Staking::evidenceUsedCall(alloy_primitives::keccak256(&packed)))
}

#[test]
fn validators_take_turns_to_report_double_signing_and_a_later_turn_sends_nothing_once_punished() {
    // The genesis validator reports what it sees.
    let (mut h, v0, n) = two_validators();
    h.node.services.report_evidence(v0.clone()).unwrap();
    h.node.wait();
    let reporter = dev_key(0);

    // N signs twice at two heights; the two validators take turns at each, so v0 reports
    // one fault at once and waits its turn for the other.
    let (first, second) = (double_sign(&n, 3), double_sign(&n, 4));
    assert!(h.chain().record_misbehavior(&first).unwrap());
    assert!(h.chain().record_misbehavior(&second).unwrap());
    h.node.wait();
    let from_v0 = |h: &Harness| {
        h.chain().pool_content().pending.iter().filter(|t| t.sender == v0.address()).count()
    };
    assert_eq!(from_v0(&h), 1, "one report now, the other on its turn");
    // Someone else reports both before v0's second turn comes.
    for evidence in [&first, &second] {
        h.send(&reporter, U256::ZERO, submit_evidence_call(evidence).to_vec());
    }
    h.until(8);
    assert!(punished(&h, n.address(), 3) && punished(&h, n.address(), 4), "both faults punished");
    assert_eq!(from_v0(&h), 0);
    let nonce = h.node.view().account(&v0.address()).unwrap().unwrap_or_default().nonce;
    assert_eq!(nonce, 1, "v0's turn came after the fault was punished: it sent nothing more");
}

#[test]
fn double_signing_stored_before_the_reporter_was_known_is_reported_when_it_is() {
    // As after a restart: the evidence is in the store, and the validator's key comes later.
    let (h, v0, n) = two_validators();
    let (fault, stale) = (double_sign(&n, 6), double_sign(&n, 1));
    assert!(h.chain().record_misbehavior(&fault).unwrap());
    // Block 1 is by then older than the unbonding period (one epoch of 5 blocks) allows.
    h.until(7);
    assert!(h.chain().record_misbehavior(&stale).unwrap());
    h.node.wait();
    assert!(h.chain().pool_content().pending.is_empty(), "nobody to report yet");
    h.node.services.report_evidence(v0.clone()).unwrap();
    h.node.wait();
    h.until(12);
    assert!(punished(&h, n.address(), 6), "reported on v0's turn");
    assert!(!punished(&h, n.address(), 1));
    let nonce = h.node.view().account(&v0.address()).unwrap().unwrap_or_default().nonce;
    assert_eq!(nonce, 1, "one report; the fault too old to punish was not sent");
}

fn register(key: &SecretKey) -> Vec<u8> {
    Staking::registerCall {
        publicKey: key.public_key_uncompressed().to_vec().into(),
        commissionBps: 0,
    }
    .abi_encode()
}

/// Two proposal streams N signed for one round, as the engine records them.
fn double_stream(key: &SecretKey, height: u64) -> Misbehavior {
    let signed = |byte| sign_proposal_stream(key, CHAIN_ID, height, 0, B256::repeat_byte(byte));
    Misbehavior {
        validator: key.address(),
        height,
        round: 0,
        kind: MisbehaviorKind::DoubleProposalParts,
        first: signed(1),
        second: signed(2),
    }
}

/// A validator that undelegated everything was deregistered at the epoch's end, and from
/// then on evidence against it reverted ("no such validator") while its stake was still
/// unbonding. Now slashing reaches it for the whole window in which evidence is accepted,
/// and the stake cannot leave before that window has passed.
#[test]
fn a_validator_deregistered_after_undelegating_everything_is_slashed_while_its_stake_unbonds() {
    let (mut h, _, n) = two_validators();
    let reporter = dev_key(0);
    let leave = h.undelegate(&n, n.address(), btcr(500));
    h.until(9);
    assert!(h.succeeded(leave));
    let gone = h.call_raw(
        Address::ZERO,
        Staking::getValidatorCall { validator: n.address() }.abi_encode().into(),
    );
    assert!(gone.unwrap_err().contains("no such validator"), "deregistered at block 9");

    // N's two proposal streams for block 7, round 0: evidence of the kind the BFT engine
    // records, checked by the contract as the consensus crate checks it.
    let evidence = double_stream(&n, 7);
    let key = btcr_consensus::bft::certificate::consensus_key(&n).public_key();
    verify_misbehavior(CHAIN_ID, &evidence, &key).unwrap();
    let early = h.call_raw(n.address(), Staking::withdrawCall {}.abi_encode().into());
    assert!(early.unwrap_err().contains("nothing to withdraw yet"), "the window is not over");
    let slash = h.send(&reporter, U256::ZERO, submit_evidence_call(&evidence).to_vec());
    h.block();
    assert!(h.succeeded(slash), "evidence against a deregistered validator is taken");
    assert!(punished(&h, n.address(), 7));
    let unbonding = h.view(Staking::getUnbondingsCall { delegator: n.address() });
    assert_eq!(unbonding[0].amount, btcr(450), "10% of the unbonding stake");
    let never =
        h.call_raw(reporter.address(), submit_evidence_call(&double_stream(&dev_key(2), 7)));
    assert!(never.unwrap_err().contains("no such validator"), "never registered");

    // Once the window has passed (undelegated in epoch 1, one epoch of unbonding: from
    // epoch 3), the rest is N's again.
    h.until(14);
    let withdraw = h.send(&n, U256::ZERO, Staking::withdrawCall {}.abi_encode());
    h.block();
    assert!(h.succeeded(withdraw));
    assert!(h.balance(STAKING_ADDRESS) >= h.view(Staking::accountedCall {}));
}

/// A validator elected with 500 BTCR undelegates it all in its epoch; a 1-wei delegation
/// then held all of its shares and was paid the validator's whole part of each block's
/// reward, computed on the stake it was elected with. Now it earns on the stake still
/// bonded: a 1-wei part, next to nothing.
#[test]
fn a_one_wei_delegation_to_a_validator_emptied_since_its_election_earns_only_on_its_wei() {
    let (mut h, v0, n) = two_validators();
    let delegator = dev_key(2);
    let leave = h.undelegate(&n, n.address(), btcr(500));
    h.block();
    assert!(h.succeeded(leave));
    let wei = h.send(
        &delegator,
        U256::from(1),
        Staking::delegateCall { validator: n.address() }.abi_encode(),
    );
    h.block();
    assert!(h.succeeded(wei));
    assert_eq!(set_of(&h), sorted(vec![v0.address(), n.address()]), "N is in the set until 9");
    let v0_before = h.view(Staking::pendingRewardsCall { delegator: v0.address() });
    h.until(8);
    let captured = h.view(Staking::pendingRewardsCall { delegator: delegator.address() });
    assert!(captured < U256::from(1_000_000), "the wei earned {captured} wei");
    let v0_earned = h.view(Staking::pendingRewardsCall { delegator: v0.address() }) - v0_before;
    assert!(v0_earned >= btcr(2), "the stake still bonded earned the two blocks: {v0_earned}");
    assert!(h.balance(STAKING_ADDRESS) >= h.view(Staking::accountedCall {}));
}

/// 199 registrations at the minimum stake, beside the genesis validator, filled the
/// candidate list, and every later registration reverted for good. Now a registration with
/// more self-stake than the least candidate outside the set takes that candidate's place.
#[test]
fn registrations_at_the_minimum_stake_fill_the_candidate_list_only_until_a_larger_one_comes() {
    let v0 = SecretKey::random();
    let mut genesis = staking_genesis(&v0);
    let keys: Vec<SecretKey> = (0..201).map(|_| SecretKey::random()).collect();
    for key in &keys {
        let funded = btcr_primitives::GenesisAccount { balance: btcr(1_000), ..Default::default() };
        genesis.alloc.insert(key.address(), funded);
    }
    let mut h = Harness::new(genesis, v0.clone());
    let min = h.view(Staking::getParamsCall {}).minStake;
    let (fillers, late) = keys.split_at(199);
    let sent: Vec<B256> = fillers.iter().map(|k| h.send(k, min, register(k))).collect();
    while h.chain().pool_counts().0 > 0 {
        h.block();
    }
    assert!(sent.iter().all(|t| h.succeeded(*t)));
    assert_eq!(h.view(Staking::getValidatorsCall {}).len(), 200, "the list is full");

    let (equal, larger) = (&late[0], &late[1]);
    let refused = h.call_with_value(equal.address(), min, register(equal).into()).unwrap_err();
    assert!(refused.contains("above the least candidate's stake"), "{refused}");
    let joined = h.send_with_gas(larger, min + U256::from(1), register(larger), 5_000_000);
    h.block();
    assert!(h.succeeded(joined), "a larger self-stake takes a place");
    let listed: Vec<Address> =
        h.view(Staking::getValidatorsCall {}).iter().map(|v| v.validator).collect();
    assert_eq!(listed.len(), 200);
    assert!(listed.contains(&larger.address()) && listed.contains(&v0.address()));
    let gone: Vec<&SecretKey> = fillers.iter().filter(|k| !listed.contains(&k.address())).collect();
    assert_eq!(gone.len(), 1, "one candidate at the minimum gave way");
    // Its stake is still its own to take back.
    let back = h.undelegate(gone[0], gone[0].address(), min);
    h.block();
    assert!(h.succeeded(back));
}
