//! The BFT engine for many validators, on Malachite. This is the only module in the
//! workspace that imports it; the rest of the node sees [`crate::BlockPipeline`].
//!
//! Built in steps: [`context`] holds BTCR's consensus types and how they are signed.

pub mod certificate;
pub mod codec;
pub mod context;
mod engine;
pub mod parts;
mod proposals;
pub mod signing;
pub mod sim;
pub mod wal;

pub use context::{
    BftSignature, BlockId, BtcrContext, Height, Proposal, ProposalPart, Scheme, Validator,
    ValidatorAddress, ValidatorKey, ValidatorPrivateKey, ValidatorSet, ValidatorSetError, Vote,
};
pub use engine::{BftConfig, BftEngine};
pub use signing::{BtcrSigner, BtcrVerifier};

/// Validators of power 1 holding `keys`, as genesis or the staking contract lists them.
#[cfg(test)]
pub(crate) fn test_validators(
    keys: &[btcr_crypto::SecretKey],
) -> Vec<btcr_primitives::GenesisValidator> {
    keys.iter()
        .map(|k| btcr_primitives::GenesisValidator {
            address: k.address(),
            public_key: k.public_key().to_vec().into(),
            power: 1,
        })
        .collect()
}

/// A header with every field set, for tests that need blocks but not their contents.
#[cfg(test)]
pub(crate) fn test_header(
    number: u64,
    proposer: alloy_primitives::Address,
) -> btcr_primitives::Header {
    use alloy_primitives::{B256, Bloom, Bytes};
    btcr_primitives::Header {
        parent_hash: B256::ZERO,
        number,
        timestamp_ms: 1,
        proposer,
        state_root: B256::ZERO,
        transactions_root: B256::ZERO,
        receipts_root: B256::ZERO,
        logs_bloom: Bloom::ZERO,
        gas_used: 0,
        gas_limit: 30_000_000,
        base_fee_per_gas: 1,
        poh_start_hash: B256::ZERO,
        poh_end_hash: B256::ZERO,
        poh_ticks: 1,
        extra_data: Bytes::new(),
        poh_entries_root: None,
    }
}
