//! From a block's state changes to the new state root and the tree nodes to write.

use std::collections::BTreeMap;

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use btcr_primitives::{Account, StateChanges, StateError, StateReader};
use btcr_trie::{
    MemoryNodeStore, NodeKey, NodeReader, NodeWrites, Page, TreeId, TrieError, update,
};

/// Key of an account in the account tree.
pub fn account_key(address: &Address) -> B256 {
    keccak256(address)
}

/// Key of a storage slot in its account's storage tree.
pub fn storage_key(slot: &U256) -> B256 {
    keccak256(slot.to_be_bytes::<32>())
}

/// The new state root, the tree nodes to write with the block, and the changes with every
/// account's `storage_root` filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRootOutput {
    /// Root of the account tree after the block.
    pub state_root: B256,
    /// Node writes for the store.
    pub node_writes: NodeWrites,
    /// The block's changes, storage roots filled in.
    pub changes: StateChanges,
}

/// Why the state root could not be computed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RootError {
    /// Reading accounts failed.
    #[error(transparent)]
    State(#[from] btcr_primitives::StateError),
    /// Reading tree nodes failed.
    #[error(transparent)]
    Trie(#[from] TrieError),
}

/// Applies `changes` to the trees of the state that `reader` shows. Work is proportional to
/// the number of changed accounts and slots, times the depth of the trees.
pub fn compute_state_root<R: StateReader + NodeReader + ?Sized>(
    reader: &R,
    mut changes: StateChanges,
) -> Result<StateRootOutput, RootError> {
    let mut writes = NodeWrites::default();
    let mut account_updates = BTreeMap::new();
    for (address, change) in changes.accounts.iter_mut() {
        let tree = TreeId::storage(*address);
        let Some(account) = change.account.as_mut() else {
            writes.wipe(tree);
            account_updates.insert(account_key(address), None);
            continue;
        };
        if change.storage_wiped {
            writes.wipe(tree);
        }
        account.storage_root = if change.storage.is_empty() {
            // Unchanged storage keeps the root the change carries (see `AccountChange`).
            if change.storage_wiped { B256::ZERO } else { account.storage_root }
        } else {
            let slots: BTreeMap<B256, Option<B256>> = change
                .storage
                .iter()
                .map(|(slot, value)| {
                    let value = (!value.is_zero()).then(|| B256::from(value.to_be_bytes::<32>()));
                    (storage_key(slot), value)
                })
                .collect();
            update(&reader, tree, &slots, &mut writes)?
        };
        account_updates.insert(account_key(address), Some(keccak256(alloy_rlp::encode(*account))));
    }
    let state_root = update(&reader, TreeId::ACCOUNTS, &account_updates, &mut writes)?;
    Ok(StateRootOutput { state_root, node_writes: writes, changes })
}

/// A state with nothing in it and no tree nodes: where genesis starts, and what tests run
/// calls against.
#[derive(Debug, Default)]
pub struct EmptyState(MemoryNodeStore);

impl StateReader for EmptyState {
    fn account(&self, _: &Address) -> Result<Option<Account>, StateError> {
        Ok(None)
    }
    fn storage(&self, _: &Address, _: &U256) -> Result<U256, StateError> {
        Ok(U256::ZERO)
    }
    fn code(&self, _: &B256) -> Result<Option<Bytes>, StateError> {
        Ok(None)
    }
    fn block_hash(&self, _: u64) -> Result<Option<B256>, StateError> {
        Ok(None)
    }
}

impl NodeReader for EmptyState {
    fn page(&self, key: &NodeKey) -> Result<Option<Page>, TrieError> {
        self.0.page(key)
    }
}
