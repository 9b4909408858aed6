//! Account and storage proofs against a state root.

use alloy_primitives::{Address, B256, U256, keccak256};
use btcr_primitives::{Account, StateReader};
use btcr_trie::{EMPTY_ROOT, NodeReader, Proof, ProofError, TreeId, prove, verify_proof};

use crate::{RootError, account_key, storage_key};

/// One storage slot's value and its proof against the account's storage root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageProof {
    /// The slot.
    pub slot: U256,
    /// Its value (zero when unset).
    pub value: U256,
    /// The path in the account's storage tree.
    pub proof: Proof,
}

/// An account (or its absence) and some of its storage, provable against a state root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountProof {
    /// The account's address.
    pub address: Address,
    /// The account, `None` if it does not exist.
    pub account: Option<Account>,
    /// The path in the account tree.
    pub proof: Proof,
    /// Proofs of the requested slots.
    pub storage: Vec<StorageProof>,
}

/// Builds the proof of `address` and of its `slots` in the state `reader` shows.
pub fn account_proof<R: StateReader + NodeReader + ?Sized>(
    reader: &R,
    address: Address,
    slots: &[U256],
) -> Result<AccountProof, RootError> {
    let account = reader.account(&address)?;
    let proof = prove(&reader, TreeId::ACCOUNTS, &account_key(&address))?;
    let mut storage = Vec::with_capacity(slots.len());
    for slot in slots {
        let value = reader.storage(&address, slot)?;
        let proof = prove(&reader, TreeId::storage(address), &storage_key(slot))?;
        storage.push(StorageProof { slot: *slot, value, proof });
    }
    Ok(AccountProof { address, account, proof, storage })
}

impl AccountProof {
    /// Checks the account against `state_root` and every slot against the account's
    /// storage root.
    pub fn verify(&self, state_root: B256) -> Result<(), ProofError> {
        let leaf = self.account.map(|a| keccak256(alloy_rlp::encode(a)));
        verify_proof(state_root, &account_key(&self.address), leaf.as_ref(), &self.proof)?;
        let storage_root = self.account.map_or(EMPTY_ROOT, |a| a.storage_root);
        for s in &self.storage {
            let value = (!s.value.is_zero()).then(|| B256::from(s.value.to_be_bytes::<32>()));
            verify_proof(storage_root, &storage_key(&s.slot), value.as_ref(), &s.proof)?;
        }
        Ok(())
    }
}
