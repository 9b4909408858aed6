//! Account state as the execution layer reads it and as a block changes it.

use std::collections::BTreeMap;

use alloy_primitives::{Address, B256, Bytes, U256, b256};
use alloy_rlp::{RlpDecodable, RlpEncodable};

/// keccak256 of empty code: the code hash of every account without code.
pub const EMPTY_CODE_HASH: B256 =
    b256!("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");

/// An account as stored in the state and committed to by the state root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, RlpEncodable, RlpDecodable)]
pub struct Account {
    /// Number of transactions sent (or contracts created, for a contract).
    pub nonce: u64,
    /// Balance in wei.
    pub balance: U256,
    /// keccak256 of the account's code ([`EMPTY_CODE_HASH`] without code).
    pub code_hash: B256,
    /// Root of the account's storage tree (zero when the storage is empty).
    pub storage_root: B256,
}

impl Default for Account {
    fn default() -> Self {
        Self { nonce: 0, balance: U256::ZERO, code_hash: EMPTY_CODE_HASH, storage_root: B256::ZERO }
    }
}

impl Account {
    /// Whether the account has code.
    pub fn has_code(&self) -> bool {
        self.code_hash != EMPTY_CODE_HASH
    }
}

/// A failure to read state. Reading state never fails for a well-formed store; when it does,
/// the node cannot execute blocks and stops.
#[derive(Debug, Clone, thiserror::Error)]
#[error("state read failed: {0}")]
pub struct StateError(pub String);

/// Read access to the state at one block. The execution layer sees only this, never the
/// concrete store.
pub trait StateReader: Send + Sync {
    /// The account at `address`, or `None` if it does not exist.
    fn account(&self, address: &Address) -> Result<Option<Account>, StateError>;
    /// The value of a storage slot (zero when unset).
    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StateError>;
    /// Contract code by its hash.
    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StateError>;
    /// Hash of the block at `number`, for the `BLOCKHASH` opcode.
    fn block_hash(&self, number: u64) -> Result<Option<B256>, StateError>;
}

/// What a block did to one account.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccountChange {
    /// The account's new nonce, balance and code hash; `None` when the account was deleted.
    /// Its `storage_root` is the root before `storage` applies (zero for a new account or
    /// when `storage_wiped`); the state root computation replaces it with the root after.
    pub account: Option<Account>,
    /// Whether all of the account's previous storage was removed before `storage` applies.
    pub storage_wiped: bool,
    /// Changed storage slots; a zero value deletes the slot.
    pub storage: BTreeMap<U256, U256>,
}

/// Every state change made by a block, keyed by address in a deterministic order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StateChanges {
    /// Changed accounts.
    pub accounts: BTreeMap<Address, AccountChange>,
    /// Code deployed by the block, by hash.
    pub codes: BTreeMap<B256, Bytes>,
}

/// The state after a block's `changes`, read through its parent's state `base` for
/// everything the block left alone (used to read the staking contract's newly elected set
/// before the block is committed).
pub struct StateOverlay<'a, S: ?Sized> {
    /// The state the block started from.
    pub base: &'a S,
    /// What the block changed.
    pub changes: &'a StateChanges,
}

impl<S: StateReader + ?Sized> StateReader for StateOverlay<'_, S> {
    fn account(&self, address: &Address) -> Result<Option<Account>, StateError> {
        match self.changes.accounts.get(address) {
            Some(change) => Ok(change.account),
            None => self.base.account(address),
        }
    }

    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StateError> {
        match self.changes.accounts.get(address) {
            Some(change) => match change.storage.get(slot) {
                Some(value) => Ok(*value),
                None if change.storage_wiped || change.account.is_none() => Ok(U256::ZERO),
                None => self.base.storage(address, slot),
            },
            None => self.base.storage(address, slot),
        }
    }

    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StateError> {
        match self.changes.codes.get(code_hash) {
            Some(code) => Ok(Some(code.clone())),
            None => self.base.code(code_hash),
        }
    }

    fn block_hash(&self, number: u64) -> Result<Option<B256>, StateError> {
        self.base.block_hash(number)
    }
}
