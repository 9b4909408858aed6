//! The genesis file: chain parameters, initial allocations and the initial validators.

use std::{collections::BTreeMap, path::Path, time::Duration};

use alloy_primitives::{Address, B256, Bytes, U256};
use btcr_poh::PohConfig;
use serde::{Deserialize, Serialize};

/// A genesis file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// The file could not be read.
    #[error("cannot read genesis file {path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid genesis JSON.
    #[error("invalid genesis JSON: {0}")]
    Parse(#[from] serde_json::Error),
    /// A parameter is out of range.
    #[error("invalid genesis: {0}")]
    Invalid(String),
}

/// An account funded (or deployed) at genesis.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenesisAccount {
    /// Balance in wei.
    pub balance: U256,
    /// Starting nonce.
    #[serde(default)]
    pub nonce: u64,
    /// Contract code, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Bytes>,
    /// Initial storage of a contract.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub storage: BTreeMap<B256, B256>,
}

/// A validator of the genesis set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenesisValidator {
    /// Address derived from the validator's secp256k1 consensus key.
    pub address: Address,
    /// The consensus public key, compressed (33 bytes); its address must be `address`.
    pub public_key: Bytes,
    /// Voting power. On a proof-of-stake chain this is also the validator's self-stake in
    /// whole BTCR, bonded in the staking contract at genesis.
    pub power: u64,
}

/// How the validator set is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConsensusMode {
    /// Proof of stake: voting power is stake (the genesis powers, until staking changes
    /// them).
    #[default]
    Pos,
    /// Proof of authority: the genesis validators, each with the same power, for good.
    Poa,
}

/// One BTCR in wei.
pub const WEI_PER_BTCR: u128 = 1_000_000_000_000_000_000;

/// Consensus and staking parameters. Every field has a default, so `{}` is a valid value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ConsensusParams {
    /// `pos` (the default) or `poa`.
    pub mode: ConsensusMode,
    /// Blocks per epoch; the validator set changes only between epochs. Block `h` is in
    /// epoch `h / epochLength`.
    pub epoch_length: u64,
    /// The largest validator set.
    pub max_validators: u32,
    /// The smallest stake (wei) that a validator needs to be in the set, and to register.
    pub min_stake: U256,
    /// Epochs that undelegated stake waits before it can be withdrawn; evidence of double
    /// signing is accepted for as many epochs.
    pub unbonding_epochs: u32,
    /// Share of a double-signing validator's stake that is burned, in basis points.
    pub slash_bps: u32,
    /// Epochs a double-signing validator is left out of the set.
    pub jail_epochs: u32,
    /// Wei minted at every block for the validators (proof of stake only).
    pub block_reward: U256,
}

impl Default for ConsensusParams {
    fn default() -> Self {
        Self {
            mode: ConsensusMode::Pos,
            epoch_length: 100,
            max_validators: 100,
            min_stake: U256::from(100 * WEI_PER_BTCR),
            unbonding_epochs: 2,
            slash_bps: 500,
            jail_epochs: 2,
            block_reward: U256::from(WEI_PER_BTCR),
        }
    }
}

/// The most validators a set may hold (the staking contract's limit on registrations).
pub const MAX_VALIDATORS: u32 = 200;

/// Chain parameters and initial state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Genesis {
    /// EIP-155 chain id; every transaction must carry it.
    pub chain_id: u64,
    /// Timestamp of the genesis block, in milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// Gas limit of every block.
    pub gas_limit: u64,
    /// Base fee of the first block, in wei.
    pub base_fee_per_gas: u64,
    /// Target interval between blocks, in milliseconds.
    pub block_time_ms: u64,
    /// Proof-of-History parameters.
    pub poh: PohConfig,
    /// Consensus parameters (`{"mode": "pos"}` when absent).
    #[serde(default)]
    pub consensus: ConsensusParams,
    /// Heights from which later block rules apply (`{}` when absent: a chain made before a
    /// rule existed keeps it off, so its blocks stay valid).
    #[serde(default, skip_serializing_if = "Forks::is_empty")]
    pub forks: Forks,
    /// The validator set.
    pub validators: Vec<GenesisValidator>,
    /// Initial accounts.
    pub alloc: BTreeMap<Address, GenesisAccount>,
}

/// The heights at which block rules added after a chain's start take effect; `None` is never.
/// Every node of a chain must agree on them, so they live in its genesis (whose hash covers
/// them when set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Forks {
    /// From this height on, each header carries `pohEntriesRoot`, the keccak256 of its PoH
    /// entries, so that a node syncing blocks the validators certified checks the entries
    /// against the header instead of re-running their hash chains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poh_entries_root: Option<u64>,
}

impl Forks {
    /// Every rule from the first block: what a new chain starts with.
    pub const ALL: Forks = Forks { poh_entries_root: Some(0) };

    /// Whether no rule is set (a genesis written before any existed).
    pub fn is_empty(&self) -> bool {
        *self == Forks::default()
    }

    /// Whether the block at `number` commits to its PoH entries.
    pub fn poh_entries_root_at(&self, number: u64) -> bool {
        self.poh_entries_root.is_some_and(|from| number >= from)
    }
}

impl Genesis {
    /// Reads and validates a genesis file.
    pub fn load(path: &Path) -> Result<Self, GenesisError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| GenesisError::Read { path: path.display().to_string(), source })?;
        let genesis: Self = serde_json::from_str(&text)?;
        genesis.validate()?;
        Ok(genesis)
    }

    /// The target block interval.
    pub fn block_time(&self) -> Duration {
        Duration::from_millis(self.block_time_ms)
    }

    /// The least time a block's timestamp may be after its parent's: half the block
    /// interval (at least 1 ms). Each block's PoH is paced over its slot, and a slot runs at
    /// least half the interval (a proposer catching up after a slow block shortens it no
    /// more than that), so honest proposers never need less; a byzantine one can no longer
    /// stamp its blocks a millisecond apart and slow the chain's clock at will.
    pub fn min_block_interval_ms(&self) -> u64 {
        (self.block_time_ms / 2).max(1)
    }

    /// Checks that the parameters can run a chain.
    pub fn validate(&self) -> Result<(), GenesisError> {
        let invalid = |m: String| Err(GenesisError::Invalid(m));
        if self.chain_id == 0 {
            return invalid("chainId must be positive".into());
        }
        if self.gas_limit < 21_000 {
            return invalid(format!("gasLimit {} is below one transfer (21000)", self.gas_limit));
        }
        if !(10..=60_000).contains(&self.block_time_ms) {
            return invalid(format!("blockTimeMs {} is outside 10..=60000", self.block_time_ms));
        }
        if let Err(e) = self.poh.validate() {
            return invalid(format!("poh: {e}"));
        }
        if self.validators.is_empty() {
            return invalid("at least one validator is required".into());
        }
        if self.validators.iter().any(|v| v.power == 0) {
            return invalid("validator power must be positive".into());
        }
        if self.consensus.mode == ConsensusMode::Poa
            && self.validators.iter().any(|v| v.power != self.validators[0].power)
        {
            return invalid("in proof-of-authority mode every validator has the same power".into());
        }
        let c = &self.consensus;
        if c.epoch_length == 0 {
            return invalid("consensus.epochLength must be positive".into());
        }
        if !(1..=MAX_VALIDATORS).contains(&c.max_validators) {
            return invalid(format!(
                "consensus.maxValidators {} is outside 1..={MAX_VALIDATORS}",
                c.max_validators
            ));
        }
        if self.validators.len() > c.max_validators as usize {
            return invalid(format!(
                "{} genesis validators, more than consensus.maxValidators ({})",
                self.validators.len(),
                c.max_validators
            ));
        }
        if c.unbonding_epochs == 0 {
            return invalid(
                "consensus.unbondingEpochs must be positive: evidence is accepted for as long"
                    .into(),
            );
        }
        if c.slash_bps > 10_000 {
            return invalid(format!("consensus.slashBps {} is above 10000", c.slash_bps));
        }
        if c.min_stake < U256::from(WEI_PER_BTCR) {
            return invalid("consensus.minStake must be at least 1 BTCR (1e18 wei)".into());
        }
        if c.mode == ConsensusMode::Pos
            && let Some(v) = self
                .validators
                .iter()
                .find(|v| U256::from(v.power) * U256::from(WEI_PER_BTCR) < c.min_stake)
        {
            return invalid(format!(
                "validator {}: power {} (its self-stake in BTCR) is below consensus.minStake",
                v.address, v.power
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for v in &self.validators {
            if !seen.insert(v.address) {
                return invalid(format!("validator {} is listed twice", v.address));
            }
            if v.public_key.len() != 33 {
                return invalid(format!(
                    "validator {}: publicKey must be a compressed secp256k1 key (33 bytes)",
                    v.address
                ));
            }
        }
        Ok(())
    }

    /// Serialises the genesis as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("genesis always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Genesis {
        Genesis {
            chain_id: 1337,
            timestamp_ms: 0,
            gas_limit: 30_000_000,
            base_fee_per_gas: 1_000_000_000,
            block_time_ms: 1000,
            poh: PohConfig { hashes_per_tick: 1000, ticks_per_block: 8 },
            consensus: ConsensusParams::default(),
            forks: Forks::ALL,
            validators: vec![GenesisValidator {
                address: Address::repeat_byte(1),
                public_key: Bytes::from(vec![2u8; 33]),
                power: 1000,
            }],
            alloc: [(
                Address::repeat_byte(2),
                GenesisAccount { balance: U256::from(5), ..Default::default() },
            )]
            .into(),
        }
    }

    #[test]
    fn json_roundtrip() {
        let g = sample();
        let back: Genesis = serde_json::from_str(&g.to_json()).unwrap();
        assert_eq!(back, g);
        back.validate().unwrap();
    }

    #[test]
    fn rejects_bad_parameters() {
        let mut g = sample();
        g.chain_id = 0;
        assert!(g.validate().unwrap_err().to_string().contains("chainId"));
        let mut g = sample();
        g.validators.clear();
        assert!(g.validate().unwrap_err().to_string().contains("validator"));
        let mut g = sample();
        g.block_time_ms = 1;
        assert!(g.validate().unwrap_err().to_string().contains("blockTimeMs"));
        let mut g = sample();
        g.validators.push(g.validators[0].clone());
        assert!(g.validate().unwrap_err().to_string().contains("twice"));
        // Proof of authority: one power for all.
        let mut g = sample();
        let mut other = g.validators[0].clone();
        other.address = Address::repeat_byte(7);
        other.power = 2000;
        g.validators.push(other);
        assert!(g.validate().is_ok(), "proof of stake takes any powers");
        g.consensus.mode = ConsensusMode::Poa;
        assert!(g.validate().unwrap_err().to_string().contains("same power"));
    }

    #[test]
    fn rejects_bad_staking_parameters() {
        let check = |f: &dyn Fn(&mut Genesis), needle: &str| {
            let mut g = sample();
            f(&mut g);
            let e = g.validate().unwrap_err().to_string();
            assert!(e.contains(needle), "{e:?} should mention {needle:?}");
        };
        check(&|g| g.consensus.epoch_length = 0, "epochLength");
        check(&|g| g.consensus.max_validators = 0, "maxValidators");
        check(&|g| g.consensus.max_validators = MAX_VALIDATORS + 1, "maxValidators");
        check(&|g| g.consensus.slash_bps = 10_001, "slashBps");
        check(&|g| g.consensus.unbonding_epochs = 0, "unbondingEpochs");
        check(&|g| g.consensus.min_stake = U256::from(1), "minStake");
        check(&|g| g.validators[0].power = 99, "below consensus.minStake");
        let mut g = sample();
        g.validators[0].power = 99;
        g.consensus.mode = ConsensusMode::Poa;
        assert!(g.validate().is_ok(), "a proof-of-authority power is not a stake");
    }

    #[test]
    fn the_consensus_mode_defaults_to_proof_of_stake_and_reads_poa() {
        let mut v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        v.as_object_mut().unwrap().remove("consensus");
        assert_eq!(
            serde_json::from_value::<Genesis>(v.clone()).unwrap().consensus.mode,
            ConsensusMode::Pos
        );
        v["consensus"] = serde_json::json!({ "mode": "poa" });
        assert_eq!(
            serde_json::from_value::<Genesis>(v.clone()).unwrap().consensus.mode,
            ConsensusMode::Poa
        );
        v["consensus"] = serde_json::json!({ "mode": "pow" });
        assert!(serde_json::from_value::<Genesis>(v).is_err());
    }

    #[test]
    fn rejects_unknown_fields() {
        let mut v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        v["surprise"] = 1.into();
        assert!(serde_json::from_value::<Genesis>(v).is_err());
    }
}
