//! Property tests: after any sequence of batch updates the stored tree is exactly the
//! canonical tree of its key set, and proofs check out for present and absent keys.

use std::collections::BTreeMap;

use alloy_primitives::{B256, keccak256};
use btcr_trie::{
    EMPTY_ROOT, MemoryNodeStore, NodeWrites, ProofError, TreeId, prove, update, verify_proof,
};
use proptest::prelude::*;

fn key(i: u16) -> B256 {
    keccak256(i.to_be_bytes())
}

/// Builds the tree holding `model` from scratch in a fresh store.
fn from_scratch(model: &BTreeMap<B256, B256>) -> (MemoryNodeStore, B256) {
    let mut store = MemoryNodeStore::default();
    let mut writes = NodeWrites::default();
    let changes = model.iter().map(|(k, v)| (*k, Some(*v))).collect();
    let root = update(&store, TreeId::ACCOUNTS, &changes, &mut writes).unwrap();
    store.apply(writes);
    (store, root)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn incremental_updates_equal_a_fresh_build(
        batches in prop::collection::vec(
            prop::collection::vec((0u16..200, prop::option::of(1u8..=255)), 0..40),
            1..12,
        )
    ) {
        let mut store = MemoryNodeStore::default();
        let mut model = BTreeMap::new();
        let mut root = EMPTY_ROOT;
        for batch in batches {
            let mut changes = BTreeMap::new();
            for (k, v) in batch {
                let v = v.map(B256::repeat_byte);
                changes.insert(key(k), v);
            }
            for (k, v) in &changes {
                match v {
                    Some(v) => { model.insert(*k, *v); }
                    None => { model.remove(k); }
                }
            }
            let mut writes = NodeWrites::default();
            root = update(&store, TreeId::ACCOUNTS, &changes, &mut writes).unwrap();
            store.apply(writes);

            let (fresh, fresh_root) = from_scratch(&model);
            prop_assert_eq!(root, fresh_root);
            // No stale node is left behind and none is missing.
            prop_assert_eq!(&store, &fresh);
        }
        for i in 0u16..220 {
            let k = key(i);
            let proof = prove(&store, TreeId::ACCOUNTS, &k).unwrap();
            prop_assert!(verify_proof(root, &k, model.get(&k), &proof).is_ok());
            if let Some(v) = model.get(&k) {
                // A present key cannot be proven absent or holding another value.
                prop_assert!(verify_proof(root, &k, None, &proof).is_err());
                let other = B256::repeat_byte(!v[0]);
                prop_assert!(verify_proof(root, &k, Some(&other), &proof).is_err());
            } else {
                prop_assert!(verify_proof(root, &k, Some(&B256::repeat_byte(1)), &proof).is_err());
            }
        }
    }
}

#[test]
fn empty_tree_has_zero_root_and_proves_absence() {
    let store = MemoryNodeStore::default();
    let proof = prove(&store, TreeId::ACCOUNTS, &key(1)).unwrap();
    assert_eq!(proof.siblings.len(), 0);
    verify_proof(EMPTY_ROOT, &key(1), None, &proof).unwrap();
}

#[test]
fn tampered_proofs_are_rejected() {
    let model: BTreeMap<B256, B256> =
        (0..50).map(|i| (key(i), B256::repeat_byte(i as u8 + 1))).collect();
    let (store, root) = from_scratch(&model);
    let k = key(7);
    let v = model[&k];
    let mut proof = prove(&store, TreeId::ACCOUNTS, &k).unwrap();
    verify_proof(root, &k, Some(&v), &proof).unwrap();
    proof.siblings[0] = B256::repeat_byte(0xee);
    assert!(matches!(
        verify_proof(root, &k, Some(&v), &proof),
        Err(ProofError::RootMismatch { .. })
    ));
    // A leaf from elsewhere in the tree cannot stand in for an absent key's path.
    let absent = key(999);
    let mut proof = prove(&store, TreeId::ACCOUNTS, &absent).unwrap();
    verify_proof(root, &absent, None, &proof).unwrap();
    proof.leaf = Some((key(8), model[&key(8)]));
    assert!(verify_proof(root, &absent, None, &proof).is_err());
}

#[test]
fn trees_are_independent_and_wipe_removes_one() {
    use alloy_primitives::Address;
    let mut store = MemoryNodeStore::default();
    let a = TreeId::storage(Address::repeat_byte(1));
    let b = TreeId::storage(Address::repeat_byte(2));
    let changes: BTreeMap<_, _> = (0..10).map(|i| (key(i), Some(B256::repeat_byte(5)))).collect();
    let mut writes = NodeWrites::default();
    let root_a = update(&store, a, &changes, &mut writes).unwrap();
    let root_b = update(&store, b, &changes, &mut writes).unwrap();
    assert_eq!(root_a, root_b);
    store.apply(writes);

    let mut writes = NodeWrites::default();
    writes.wipe(a);
    let one: BTreeMap<_, _> = [(key(3), Some(B256::repeat_byte(9)))].into();
    let root_a2 = update(&store, a, &one, &mut writes).unwrap();
    store.apply(writes);
    let mut fresh = MemoryNodeStore::default();
    let mut w = NodeWrites::default();
    update(&fresh, b, &changes, &mut w).unwrap();
    let expect_a = update(&fresh, a, &one, &mut w).unwrap();
    fresh.apply(w);
    assert_eq!(root_a2, expect_a);
    assert_eq!(store, fresh);
}
