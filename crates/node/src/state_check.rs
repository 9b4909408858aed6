//! A check that the committed state tree and the committed state agree: the state root
//! recomputed from the flat account and storage tables alone.

use std::collections::BTreeMap;

use alloy_primitives::B256;
use btcr_primitives::Account;
use btcr_storage::{Snapshot, StoreError};
use btcr_trie::{MemoryNodeStore, NodeWrites, TreeId, TrieError};

/// Recomputing the root failed.
#[derive(Debug, thiserror::Error)]
pub enum StateCheckError {
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The tree could not be built.
    #[error(transparent)]
    Tree(#[from] TrieError),
}

/// Recomputes the state root from the flat account and storage tables alone, ignoring the
/// stored tree: a check that the committed tree and the committed state agree.
pub fn recompute_state_root(snapshot: &Snapshot) -> Result<B256, StateCheckError> {
    let mut store = MemoryNodeStore::default();
    let mut writes = NodeWrites::default();
    let mut account_leaves = BTreeMap::new();
    for (address, account) in snapshot.all_accounts()? {
        let slots: BTreeMap<B256, Option<B256>> = snapshot
            .all_storage(&address)?
            .into_iter()
            .map(|(slot, value)| {
                (btcr_execution::storage_key(&slot), Some(B256::from(value.to_be_bytes::<32>())))
            })
            .collect();
        let storage_root =
            btcr_trie::update(&store, TreeId::storage(address), &slots, &mut writes)?;
        let account = Account { storage_root, ..account };
        account_leaves.insert(
            btcr_execution::account_key(&address),
            Some(alloy_primitives::keccak256(alloy_rlp::encode(account))),
        );
    }
    store.apply(std::mem::take(&mut writes));
    btcr_trie::update(&store, TreeId::ACCOUNTS, &account_leaves, &mut writes)
        .map_err(StateCheckError::from)
}
