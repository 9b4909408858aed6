//! The authenticated state commitment: a compressed sparse Merkle tree over 256-bit keys.
//!
//! Every key is a 256-bit hash (keccak256 of an address, or of a storage slot), so the tree
//! is a binary tree of depth 256 in which almost every subtree is empty. It is stored
//! compressed: a leaf sits at the shallowest position where it is alone in its subtree, and
//! an internal node exists exactly where its subtree holds two or more leaves. That shape is
//! a function of the set of keys alone, so the root is too, whatever order the keys arrived
//! in.
//!
//! ```text
//!            root (depth 0)              hash(internal) = F(INTERNAL_IV, left ‖ right)
//!           /              \             hash(leaf)     = F(LEAF_IV, key ‖ value)
//!      internal            leaf C        hash(empty)    = 0x00…00
//!      /      \
//!  leaf A    leaf B
//! ```
//!
//! `F` is the SHA-256 compression function applied to one 64-byte block (see
//! [`leaf_hash`]).
//!
//! An update of `k` keys touches only the `k` root-to-leaf paths, each about `log2(n)` nodes
//! long for `n` keys in the tree, so a block's cost follows what it changed, not the size of
//! the state. Nodes are addressed by position (tree, depth, path prefix) and stored in
//! [`Page`]s of four levels, read through [`NodeReader`]; an update never writes: it returns the new root and a [`NodeWrites`] set
//! that the store applies in the same transaction as the block, so a proposal that is never
//! decided leaves nothing behind.
//!
//! Many trees share one node table: the account tree, and one storage tree per contract,
//! each named by a [`TreeId`].

mod cache;
mod memory;
mod node;
mod page;
mod proof;
mod update;

pub use cache::NodeCache;
pub use memory::MemoryNodeStore;
pub use node::{
    EMPTY_ROOT, FoldHasher, INTERNAL_IV, LEAF_IV, Node, NodeKey, NodeMap, TreeId, internal_hash,
    leaf_hash,
};
pub use page::{PAGE_LEVELS, PAGE_SLOTS, Page, PageEdit};
pub use proof::{Proof, ProofError, prove, verify_proof};
pub use update::{NodeWrites, PageWrites, update};

use alloy_primitives::B256;

/// A failure to read or decode tree nodes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrieError {
    /// The backing store failed.
    #[error("trie node store: {0}")]
    Store(String),
    /// A stored node does not decode.
    #[error("corrupt trie node at {key}: {reason}")]
    Corrupt {
        /// Position of the node.
        key: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// An internal node names a child that is not stored.
    #[error("missing trie node at {0}")]
    Missing(String),
}

/// Read access to stored pages.
pub trait NodeReader {
    /// The page at `key` (a position whose depth is a multiple of [`PAGE_LEVELS`]), if any
    /// node of it is stored.
    fn page(&self, key: &NodeKey) -> Result<Option<Page>, TrieError>;

    /// The pages at `keys`, appended to `out` in order. Updates read the pages of each tree
    /// level together through this, so a reader can overlap the latency of independent
    /// reads; the default reads them one by one.
    fn pages(&self, keys: &[NodeKey], out: &mut Vec<Option<Page>>) -> Result<(), TrieError> {
        for key in keys {
            out.push(self.page(key)?);
        }
        Ok(())
    }
}

impl<R: NodeReader + ?Sized> NodeReader for &R {
    fn page(&self, key: &NodeKey) -> Result<Option<Page>, TrieError> {
        (**self).page(key)
    }

    fn pages(&self, keys: &[NodeKey], out: &mut Vec<Option<Page>>) -> Result<(), TrieError> {
        (**self).pages(keys, out)
    }
}

/// Bit `depth` of `key`, counting from the most significant bit of byte 0.
pub(crate) fn bit(key: &B256, depth: usize) -> u8 {
    (key[depth / 8] >> (7 - (depth % 8))) & 1
}
