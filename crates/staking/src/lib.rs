//! BTCR's staking contract (`contracts/src/Staking.sol`), as the chain sees it.
//!
//! The contract lives at [`STAKING_ADDRESS`] from genesis on. Users call it like any
//! contract (register, delegate, undelegate, withdraw, claim rewards, submit evidence); the
//! chain calls it itself, from revm's system address:
//!
//! - at genesis, `initialize` bonds the genesis validators' self-stakes ([`genesis_state`]);
//! - at the end of every block, the block reward is minted to it and `onBlock` shares what it
//!   received (that reward and the block's priority fees) among the set ([`end_block`]);
//! - at the end of the last block of an epoch, `onEpochEnd` elects the next set.
//!
//! The set that decides a block is the contract's current set in the state after the block
//! before ([`validator_set`]). A proof-of-authority chain deploys the contract too, so that
//! calls to it are refused with a reason, but the chain never calls it and its set is the
//! genesis set.

use std::{collections::BTreeMap, sync::OnceLock};

use alloy_primitives::{Address, B256, Bytes, U256, address};
use alloy_sol_types::{SolCall, sol};
use btcr_execution::{BlockContext, BlockExecutor, ExecError};
use btcr_primitives::{
    Account, AccountChange, ConsensusMode, Genesis, GenesisValidator, Misbehavior, StateChanges,
    StateError, StateReader, WEI_PER_BTCR, keccak256,
};

sol!(
    #[sol(all_derives)]
    Staking,
    "../../contracts/build/Staking.json"
);

/// Where the staking contract lives.
pub const STAKING_ADDRESS: Address = address!("0000000000000000000000000000000000001000");

const ARTIFACT: &str = include_str!("../../../contracts/build/Staking.json");

/// The contract's code, from its build artifact.
pub fn runtime_code() -> Bytes {
    static CODE: OnceLock<Bytes> = OnceLock::new();
    CODE.get_or_init(|| {
        let json: serde_json::Value =
            serde_json::from_str(ARTIFACT).expect("the staking artifact is JSON");
        json["deployedBytecode"]
            .as_str()
            .and_then(|hex| hex.parse().ok())
            .expect("the staking artifact holds its runtime code")
    })
    .clone()
}

/// The staking contract could not be set up or read.
#[derive(Debug, thiserror::Error)]
pub enum StakingError {
    /// Genesis cannot hold the contract.
    #[error("{0}")]
    Genesis(String),
    /// Executing the contract failed.
    #[error("staking contract: {0}")]
    Exec(#[from] ExecError),
    /// The contract returned something that cannot be used.
    #[error("staking contract returned an unusable answer: {0}")]
    Answer(String),
}

/// The state while genesis is built: what has been allocated so far.
struct Allocated<'a>(&'a StateChanges);

impl StateReader for Allocated<'_> {
    fn account(&self, address: &Address) -> Result<Option<Account>, StateError> {
        Ok(self.0.accounts.get(address).and_then(|c| c.account))
    }
    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StateError> {
        Ok(self
            .0
            .accounts
            .get(address)
            .and_then(|c| c.storage.get(slot).copied())
            .unwrap_or_default())
    }
    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StateError> {
        Ok(self.0.codes.get(code_hash).cloned())
    }
    fn block_hash(&self, _: u64) -> Result<Option<B256>, StateError> {
        Ok(None)
    }
}

/// A genesis validator's self-stake in wei.
fn genesis_stake(v: &GenesisValidator) -> U256 {
    U256::from(v.power) * U256::from(WEI_PER_BTCR)
}

fn context(genesis: &Genesis, number: u64) -> BlockContext {
    BlockContext {
        chain_id: genesis.chain_id,
        number,
        timestamp_ms: genesis.timestamp_ms,
        fee_recipient: Address::ZERO,
        base_fee: 0,
        gas_limit: genesis.gas_limit,
        prev_randao: B256::ZERO,
    }
}

/// Adds the staking contract to the genesis state `changes` (the allocations): its code, the
/// genesis validators' bonded self-stakes as its balance (proof of stake), and the storage
/// that `initialize` writes.
pub fn genesis_state(genesis: &Genesis, changes: &mut StateChanges) -> Result<(), StakingError> {
    if genesis.alloc.contains_key(&STAKING_ADDRESS) {
        return Err(StakingError::Genesis(format!(
            "alloc may not hold {STAKING_ADDRESS}: the staking contract lives there"
        )));
    }
    let pos = genesis.consensus.mode == ConsensusMode::Pos;
    let code = runtime_code();
    let code_hash = keccak256(&code);
    let bonded: U256 =
        if pos { genesis.validators.iter().map(genesis_stake).sum() } else { U256::ZERO };
    changes.codes.insert(code_hash, code);
    changes.accounts.insert(
        STAKING_ADDRESS,
        AccountChange {
            account: Some(Account {
                nonce: 1,
                balance: bonded,
                code_hash,
                storage_root: B256::ZERO,
            }),
            storage_wiped: false,
            storage: BTreeMap::new(),
        },
    );
    let c = &genesis.consensus;
    let mut keys = Vec::with_capacity(genesis.validators.len());
    for v in &genesis.validators {
        let key = btcr_crypto::decompress_public_key(&v.public_key)
            .map_err(|e| StakingError::Genesis(format!("validator {}: {e}", v.address)))?;
        keys.push(Bytes::from(key.to_vec()));
    }
    let call = Staking::initializeCall {
        p: Staking::Params {
            epochLength: c.epoch_length,
            maxValidators: c.max_validators,
            minStake: c.min_stake,
            unbondingEpochs: c.unbonding_epochs,
            slashBps: c.slash_bps,
            jailEpochs: c.jail_epochs,
            poa: !pos,
        },
        addrs: genesis.validators.iter().map(|v| v.address).collect(),
        keys,
        stakes: genesis.validators.iter().map(genesis_stake).collect(),
    };
    let written = {
        let state = Allocated(changes);
        let mut executor = BlockExecutor::new(&state, &context(genesis, 0));
        executor.system_call(STAKING_ADDRESS, call.abi_encode().into()).map_err(|e| {
            StakingError::Genesis(format!("initializing the staking contract: {e}"))
        })?;
        executor.finish().changes
    };
    let Some(change) = written.accounts.get(&STAKING_ADDRESS) else {
        return Err(StakingError::Genesis("initialize wrote nothing".into()));
    };
    let entry = changes.accounts.get_mut(&STAKING_ADDRESS).expect("inserted above");
    entry.storage.extend(change.storage.iter().map(|(k, v)| (*k, *v)));
    entry.storage.retain(|_, v| !v.is_zero());
    Ok(())
}

/// The chain's calls at the end of block `number`, after its transactions: on a
/// proof-of-stake chain, the block reward is minted to the contract, `onBlock` shares the
/// rewards, and at the end of an epoch `onEpochEnd` elects the next set. Nothing on a
/// proof-of-authority chain.
pub fn end_block<S: StateReader + ?Sized>(
    executor: &mut BlockExecutor<'_, S>,
    genesis: &Genesis,
    number: u64,
) -> Result<(), ExecError> {
    let c = &genesis.consensus;
    if c.mode == ConsensusMode::Poa {
        return Ok(());
    }
    if !c.block_reward.is_zero() {
        executor.credit(STAKING_ADDRESS, c.block_reward)?;
    }
    executor.system_call(STAKING_ADDRESS, Staking::onBlockCall {}.abi_encode().into())?;
    if is_epoch_end(genesis, number) {
        executor.system_call(STAKING_ADDRESS, Staking::onEpochEndCall {}.abi_encode().into())?;
    }
    Ok(())
}

/// Whether block `number` is the last of its epoch.
pub fn is_epoch_end(genesis: &Genesis, number: u64) -> bool {
    (number + 1).is_multiple_of(genesis.consensus.epoch_length)
}

/// Who receives a block's priority fees: the staking contract, which shares them among the
/// validators by stake, or, on a proof-of-authority chain, the proposer.
pub fn fee_recipient(genesis: &Genesis, proposer: Address) -> Address {
    match genesis.consensus.mode {
        ConsensusMode::Pos => STAKING_ADDRESS,
        ConsensusMode::Poa => proposer,
    }
}

/// The set that decides the block after the one whose state is `state`: the contract's
/// current set (the genesis set on a proof-of-authority chain). Voting power is stake in
/// whole BTCR.
pub fn validator_set<S: StateReader + ?Sized>(
    state: &S,
    genesis: &Genesis,
) -> Result<Vec<GenesisValidator>, StakingError> {
    if genesis.consensus.mode == ConsensusMode::Poa {
        return Ok(genesis.validators.clone());
    }
    let data = call(state, genesis, Staking::activeValidatorsCall {}.abi_encode())?;
    let set = Staking::activeValidatorsCall::abi_decode_returns(&data)
        .map_err(|e| StakingError::Answer(e.to_string()))?;
    let mut out = Vec::with_capacity(set.addrs.len());
    for ((address, key), stake) in set.addrs.iter().zip(&set.keys).zip(&set.stakes) {
        let public_key = btcr_crypto::compress_public_key(key)
            .map_err(|e| StakingError::Answer(format!("validator {address}: {e}")))?;
        let power = u64::try_from(*stake / U256::from(WEI_PER_BTCR)).unwrap_or(u64::MAX);
        if power == 0 {
            return Err(StakingError::Answer(format!("validator {address} has no whole BTCR")));
        }
        out.push(GenesisValidator {
            address: *address,
            public_key: Bytes::from(public_key.to_vec()),
            power,
        });
    }
    if out.is_empty() || out.len() != set.keys.len() || out.len() != set.stakes.len() {
        return Err(StakingError::Answer("the validator set is empty or malformed".into()));
    }
    Ok(out)
}

/// Every registered validator as the contract's `getValidators` view lists it.
pub fn registered_validators<S: StateReader + ?Sized>(
    state: &S,
    genesis: &Genesis,
) -> Result<Vec<Staking::ValidatorInfo>, StakingError> {
    let data = call(state, genesis, Staking::getValidatorsCall {}.abi_encode())?;
    Staking::getValidatorsCall::abi_decode_returns(&data)
        .map_err(|e| StakingError::Answer(e.to_string()))
}

/// Whether the contract has already slashed `validator` for double signing at `height`.
pub fn already_slashed<S: StateReader + ?Sized>(
    state: &S,
    genesis: &Genesis,
    validator: Address,
    height: u64,
) -> Result<bool, StakingError> {
    let mut packed = Vec::with_capacity(28);
    packed.extend_from_slice(validator.as_slice());
    packed.extend_from_slice(&height.to_be_bytes());
    let data = call(state, genesis, Staking::evidenceUsedCall(keccak256(&packed)).abi_encode())?;
    Staking::evidenceUsedCall::abi_decode_returns(&data)
        .map_err(|e| StakingError::Answer(e.to_string()))
}

/// Runs a view of the contract against `state`.
fn call<S: StateReader + ?Sized>(
    state: &S,
    genesis: &Genesis,
    data: Vec<u8>,
) -> Result<Bytes, StakingError> {
    let mut executor = BlockExecutor::new(state, &context(genesis, 0));
    Ok(executor.system_call(STAKING_ADDRESS, data.into())?)
}

/// Calldata of `submitEvidence` for evidence of double signing.
pub fn submit_evidence_call(evidence: &Misbehavior) -> Bytes {
    let message = |m: &btcr_primitives::SignedValue| Staking::SignedMessage {
        value: m.value,
        polRound: m.pol_round,
        signature: m.signature.clone(),
    };
    Staking::submitEvidenceCall {
        validator: evidence.validator,
        height: evidence.height,
        round: evidence.round,
        kind: evidence.kind.code(),
        first: message(&evidence.first),
        second: message(&evidence.second),
    }
    .abi_encode()
    .into()
}

#[cfg(test)]
mod tests {
    use btcr_crypto::SecretKey;
    use btcr_primitives::{ConsensusParams, GenesisAccount, PohConfig};

    use super::*;

    fn genesis(keys: &[SecretKey], mode: ConsensusMode) -> Genesis {
        Genesis {
            chain_id: 9,
            timestamp_ms: 0,
            gas_limit: 30_000_000,
            base_fee_per_gas: 1_000_000_000,
            block_time_ms: 100,
            poh: PohConfig { hashes_per_tick: 10, ticks_per_block: 2 },
            consensus: ConsensusParams { mode, ..Default::default() },
            forks: btcr_primitives::Forks::ALL,
            validators: keys
                .iter()
                .enumerate()
                .map(|(i, k)| GenesisValidator {
                    address: k.address(),
                    public_key: k.public_key().to_vec().into(),
                    power: 1000 + i as u64,
                })
                .collect(),
            alloc: Default::default(),
        }
    }

    #[test]
    fn genesis_bonds_the_validators_and_the_contract_names_them_as_the_set() {
        let keys: Vec<SecretKey> = (0..3).map(|_| SecretKey::random()).collect();
        let g = genesis(&keys, ConsensusMode::Pos);
        let mut changes = StateChanges::default();
        genesis_state(&g, &mut changes).unwrap();
        let account = changes.accounts[&STAKING_ADDRESS].account.unwrap();
        assert_eq!(account.balance, U256::from(3003) * U256::from(WEI_PER_BTCR));
        assert!(!changes.accounts[&STAKING_ADDRESS].storage.is_empty());
        let set = validator_set(&Allocated(&changes), &g).unwrap();
        assert_eq!(set, g.validators, "the same keys, addresses and powers, in genesis order");
        assert_eq!(fee_recipient(&g, keys[0].address()), STAKING_ADDRESS);
    }

    #[test]
    fn a_proof_of_authority_genesis_bonds_nothing_and_keeps_its_set() {
        let keys: Vec<SecretKey> = (0..2).map(|_| SecretKey::random()).collect();
        let g = genesis(&keys, ConsensusMode::Poa);
        let mut changes = StateChanges::default();
        genesis_state(&g, &mut changes).unwrap();
        assert_eq!(changes.accounts[&STAKING_ADDRESS].account.unwrap().balance, U256::ZERO);
        assert_eq!(validator_set(&Allocated(&changes), &g).unwrap(), g.validators);
        assert_eq!(fee_recipient(&g, keys[0].address()), keys[0].address());
    }

    #[test]
    fn genesis_refuses_an_allocation_at_the_contract_or_a_key_of_another_address() {
        let keys: Vec<SecretKey> = (0..2).map(|_| SecretKey::random()).collect();
        let mut g = genesis(&keys, ConsensusMode::Pos);
        g.alloc.insert(STAKING_ADDRESS, GenesisAccount::default());
        let e = genesis_state(&g, &mut StateChanges::default()).unwrap_err();
        assert!(e.to_string().contains("staking contract lives there"), "{e}");
        let mut g = genesis(&keys, ConsensusMode::Pos);
        g.validators[0].public_key = keys[1].public_key().to_vec().into();
        let e = genesis_state(&g, &mut StateChanges::default()).unwrap_err();
        assert!(e.to_string().contains("does not match its address"), "{e}");
    }

    #[test]
    fn the_last_block_of_each_epoch_ends_it() {
        let mut g = genesis(&[SecretKey::random()], ConsensusMode::Pos);
        g.consensus.epoch_length = 5;
        let ends: Vec<u64> = (1..=15).filter(|h| is_epoch_end(&g, *h)).collect();
        assert_eq!(ends, vec![4, 9, 14]);
    }
}
