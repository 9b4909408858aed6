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
pub mod wal;

pub use context::{
    BftSignature, BlockId, BtcrContext, Height, Proposal, ProposalPart, Scheme, Validator,
    ValidatorAddress, ValidatorKey, ValidatorPrivateKey, ValidatorSet, ValidatorSetError, Vote,
};
pub use engine::{BftConfig, BftEngine};
pub use signing::{BtcrSigner, BtcrVerifier};
