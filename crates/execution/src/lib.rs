//! Block execution with revm, over any [`StateReader`]; the concrete store stays out of sight.
//!
//! ```text
//!  RecoveredTx ──validate_transaction──▶ (stateless checks: type, chain id, gas, size)
//!       │
//!       ▼
//!  BlockExecutor::execute ──▶ revm ──▶ receipt ──▶ overlay of changed accounts / storage
//!       │ finish
//!       ▼
//!  ExecutionOutcome { receipts, StateChanges } ──state_root──▶ (root, trie NodeWrites)
//! ```
//!
//! Fees: the EIP-1559 base fee is burned (it is credited to nobody, so supply shrinks with
//! use); the priority fee goes to the block's proposer. Signature recovery for a block runs
//! in parallel on rayon ([`recover_transactions`]).

mod call;
mod db;
mod executor;
mod proof;
mod recover;
mod root;
mod validate;

pub use call::{
    CallBudget, CallError, CallOutcome, STEPS_PER_CLOCK_READ, create_access_list, estimate_gas,
    simulate,
};
pub use db::DbError;
pub use executor::{BlockContext, BlockExecutor, ExecError, ExecutionOutcome, SPEC};
pub use proof::{AccountProof, StorageProof, account_proof};
pub use recover::{recover_transactions, recover_transactions_reusing};
pub use root::{
    EmptyState, RootError, StateRootOutput, account_key, compute_state_root, storage_key,
};
pub use validate::{TxError, intrinsic_gas, validate_transaction};
