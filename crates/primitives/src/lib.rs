//! Core BTCR types: block headers and bodies, commit certificates, recovered transactions,
//! account state, the genesis file, and their encodings. No IO lives here.
//!
//! ```text
//!  raw bytes (RPC / network)
//!      │ decode_transaction
//!      ▼
//!  TxEnvelope ──recover──▶ RecoveredTx ──▶ pool ──▶ Block { Header, transactions, poh_entries }
//!                                                        │ keccak(rlp(Header))
//!                                                        ▼
//!                                                   block hash, signed in a CommitCertificate
//! ```

mod block;
#[doc(hidden)]
pub mod fuzzing;
mod genesis;
mod state;
mod stream;
mod token;
mod transaction;

pub use block::{
    Block, BlockBody, BlockReceipt, CommitCertificate, Header, Misbehavior, MisbehaviorKind,
    SignedValue, ValidatorSignature,
};
pub use genesis::{
    ConsensusMode, ConsensusParams, Forks, Genesis, GenesisAccount, GenesisError, GenesisValidator,
    MAX_VALIDATORS, WEI_PER_BTCR,
};
pub use state::{
    Account, AccountChange, EMPTY_CODE_HASH, StateChanges, StateError, StateOverlay, StateReader,
};
pub use stream::{
    AccountBalance, BlockAccounts, MAX_STREAM_FRAME, StreamError, StreamFrame, StreamValidator,
    StreamedBlock,
};
pub use token::{TRANSFER_TOPIC, TokenTransferLog};
pub use transaction::{
    DecodeError, RecoveredTx, created_contract, decode_transaction, transaction_type_name,
};

pub use alloy_consensus::{ReceiptEnvelope, TxEnvelope};
pub use alloy_primitives::{Address, B256, Bloom, Bytes, U256, keccak256};
pub use btcr_poh::{PohConfig, PohEntry};

/// The largest encoded transaction the chain accepts (128 KiB), like Ethereum clients' pools.
pub const MAX_TRANSACTION_SIZE: usize = 128 * 1024;
