//! The state a block executes against: the committed state behind a write overlay holding
//! what the block's earlier transactions changed, with a read cache in front of the store.

use std::collections::{BTreeMap, HashMap};

use alloy_primitives::{Address, B256, Bytes, U256};
use btcr_primitives::{Account, AccountChange, EMPTY_CODE_HASH, StateChanges, StateReader};
use revm::{
    Database, DatabaseCommit,
    bytecode::Bytecode,
    database_interface::DBErrorMarker,
    primitives::{AddressMap, StorageKey, StorageValue},
    state::{Account as EvmAccount, AccountInfo},
};

/// A state read failed during execution.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DbError(pub String);

impl DBErrorMarker for DbError {}

/// What the block changed for one account.
#[derive(Debug, Default, Clone)]
struct Written {
    /// `None` when the account was deleted.
    account: Option<Account>,
    /// Previous storage is gone.
    wiped: bool,
    storage: BTreeMap<U256, U256>,
}

/// The block's view of the state.
pub(crate) struct BlockDb<'a, S: ?Sized> {
    base: &'a S,
    written: HashMap<Address, Written>,
    codes: BTreeMap<B256, Bytes>,
    /// Reads from the committed state, kept for the rest of the block.
    account_cache: HashMap<Address, Option<Account>>,
    storage_cache: HashMap<(Address, U256), U256>,
}

impl<'a, S: StateReader + ?Sized> BlockDb<'a, S> {
    pub(crate) fn new(base: &'a S) -> Self {
        Self {
            base,
            written: HashMap::new(),
            codes: BTreeMap::new(),
            account_cache: HashMap::new(),
            storage_cache: HashMap::new(),
        }
    }

    fn base_account(&mut self, address: Address) -> Result<Option<Account>, DbError> {
        if let Some(a) = self.account_cache.get(&address) {
            return Ok(*a);
        }
        let a = self.base.account(&address).map_err(|e| DbError(e.to_string()))?;
        self.account_cache.insert(address, a);
        Ok(a)
    }

    /// The changes made so far, in deterministic order.
    pub(crate) fn changes(&self) -> StateChanges {
        let accounts = self
            .written
            .iter()
            .map(|(address, w)| {
                (
                    *address,
                    AccountChange {
                        account: w.account,
                        storage_wiped: w.wiped,
                        storage: w.storage.clone(),
                    },
                )
            })
            .collect();
        StateChanges { accounts, codes: self.codes.clone() }
    }

    pub(crate) fn commit_account(&mut self, address: Address, account: EvmAccount) {
        if !account.is_touched() {
            return;
        }
        let entry = self.written.entry(address).or_default();
        if account.is_selfdestructed() {
            *entry = Written { account: None, wiped: true, storage: BTreeMap::new() };
            return;
        }
        if account.is_created() {
            // A new contract starts with empty storage, whatever was stored before.
            entry.wiped = true;
            entry.storage.clear();
        }
        let info = &account.info;
        let is_empty =
            info.nonce == 0 && info.balance.is_zero() && info.code_hash == EMPTY_CODE_HASH;
        if is_empty {
            // EIP-161: touched empty accounts are removed.
            entry.account = None;
            entry.wiped = true;
            entry.storage.clear();
            return;
        }
        if let Some(code) = &info.code
            && info.code_hash != EMPTY_CODE_HASH
            && !self.codes.contains_key(&info.code_hash)
        {
            self.codes.insert(info.code_hash, code.original_bytes());
        }
        // The storage root before this block's slot writes: the state root computation
        // starts from it and does not read the account again.
        let previous_root = if entry.wiped {
            B256::ZERO
        } else if let Some(written) = entry.account {
            written.storage_root
        } else {
            self.account_cache
                .get(&address)
                .copied()
                .flatten()
                .map_or(B256::ZERO, |a| a.storage_root)
        };
        entry.account = Some(Account {
            nonce: info.nonce,
            balance: info.balance,
            code_hash: info.code_hash,
            storage_root: previous_root,
        });
        for (slot, value) in account.storage {
            if value.is_changed() {
                entry.storage.insert(slot, value.present_value());
            }
        }
    }
}

impl<S: StateReader + ?Sized> Database for BlockDb<'_, S> {
    type Error = DbError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, DbError> {
        let account = match self.written.get(&address) {
            Some(w) => w.account,
            None => self.base_account(address)?,
        };
        Ok(account.map(|a| AccountInfo {
            balance: a.balance,
            nonce: a.nonce,
            code_hash: a.code_hash,
            // Code is loaded on demand through `code_by_hash`.
            code: if a.code_hash == EMPTY_CODE_HASH { Some(Bytecode::default()) } else { None },
            ..Default::default()
        }))
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, DbError> {
        if code_hash == EMPTY_CODE_HASH {
            return Ok(Bytecode::default());
        }
        if let Some(code) = self.codes.get(&code_hash) {
            return Ok(Bytecode::new_raw(code.clone()));
        }
        let code = self
            .base
            .code(&code_hash)
            .map_err(|e| DbError(e.to_string()))?
            .ok_or_else(|| DbError(format!("code {code_hash} is missing from the store")))?;
        Ok(Bytecode::new_raw(code))
    }

    fn storage(&mut self, address: Address, index: StorageKey) -> Result<StorageValue, DbError> {
        if let Some(w) = self.written.get(&address) {
            if let Some(v) = w.storage.get(&index) {
                return Ok(*v);
            }
            if w.wiped {
                return Ok(U256::ZERO);
            }
        }
        if let Some(v) = self.storage_cache.get(&(address, index)) {
            return Ok(*v);
        }
        let v = self.base.storage(&address, &index).map_err(|e| DbError(e.to_string()))?;
        self.storage_cache.insert((address, index), v);
        Ok(v)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, DbError> {
        Ok(self.base.block_hash(number).map_err(|e| DbError(e.to_string()))?.unwrap_or_default())
    }
}

impl<S: StateReader + ?Sized> DatabaseCommit for BlockDb<'_, S> {
    fn commit(&mut self, changes: AddressMap<EvmAccount>) {
        for (address, account) in changes {
            self.commit_account(address, account);
        }
    }
}
