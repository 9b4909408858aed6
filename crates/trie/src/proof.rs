//! Inclusion and exclusion proofs.

use alloy_primitives::B256;

use crate::{
    EMPTY_ROOT, Node, NodeKey, NodeReader, TreeId, TrieError, bit, internal_hash, leaf_hash,
    page::node_in,
};

/// A proof that a key has a value in a tree, or has none.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Proof {
    /// Hashes of the sibling subtrees along the key's path, from the root down.
    pub siblings: Vec<B256>,
    /// The leaf found where the path ends, if any. For an absent key it is either missing
    /// (empty subtree) or another key that shares the path so far.
    pub leaf: Option<(B256, B256)>,
}

/// Why a proof does not check out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The recomputed root differs.
    #[error("proof does not lead to the root: computed {computed}, expected {expected}")]
    RootMismatch {
        /// Root computed from the proof.
        computed: B256,
        /// Root the verifier trusts.
        expected: B256,
    },
    /// The proof's leaf does not carry the claimed value.
    #[error("proof leaf does not match the claimed value")]
    LeafMismatch,
    /// The proof is longer than the key.
    #[error("proof has {0} siblings, more than 256")]
    TooLong(usize),
}

/// Produces the proof for `key` in `tree`.
pub fn prove<R: NodeReader>(reader: &R, tree: TreeId, key: &B256) -> Result<Proof, TrieError> {
    let mut proof = Proof::default();
    let mut pos = NodeKey::root(tree);
    // The walk only goes down, so one page at a time is enough.
    let mut page = (pos, reader.page(&pos)?);
    let mut node = node_in(&page.1, &pos);
    loop {
        match node {
            None => return Ok(proof),
            Some(Node::Leaf { key, value }) => {
                proof.leaf = Some((key, value));
                return Ok(proof);
            }
            Some(Node::Internal { left, right }) => {
                let b = bit(key, pos.depth as usize);
                let (next, sibling) = if b == 0 { (left, right) } else { (right, left) };
                proof.siblings.push(sibling);
                if next == EMPTY_ROOT {
                    return Ok(proof);
                }
                pos = pos.child(b);
                if pos.is_page() {
                    page = (pos, reader.page(&pos)?);
                }
                debug_assert_eq!(page.0, pos.page());
                node = Some(
                    node_in(&page.1, &pos).ok_or_else(|| TrieError::Missing(pos.to_string()))?,
                );
            }
        }
    }
}

/// Checks that `proof` shows `key` holding `value` (or, for `None`, holding nothing) in the
/// tree whose root is `root`.
pub fn verify_proof(
    root: B256,
    key: &B256,
    value: Option<&B256>,
    proof: &Proof,
) -> Result<(), ProofError> {
    let depth = proof.siblings.len();
    if depth > 256 {
        return Err(ProofError::TooLong(depth));
    }
    match (value, &proof.leaf) {
        (Some(v), Some((k, lv))) if k == key && lv == v => {}
        (Some(_), _) => return Err(ProofError::LeafMismatch),
        (None, None) => {}
        (None, Some((k, _))) => {
            // Another key may end the path only if it really lies on the same path.
            if k == key || (0..depth).any(|d| bit(k, d) != bit(key, d)) {
                return Err(ProofError::LeafMismatch);
            }
        }
    }
    let mut hash = proof.leaf.as_ref().map_or(EMPTY_ROOT, |(k, v)| leaf_hash(k, v));
    for d in (0..depth).rev() {
        let sibling = &proof.siblings[d];
        hash = if bit(key, d) == 0 {
            internal_hash(&hash, sibling)
        } else {
            internal_hash(sibling, &hash)
        };
    }
    if hash != root {
        return Err(ProofError::RootMismatch { computed: hash, expected: root });
    }
    Ok(())
}
