//! An in-memory node store, for tests, benchmarks and tools.

use crate::{Node, NodeKey, NodeMap, NodeReader, NodeWrites, TrieError};

/// Nodes kept in a hash map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryNodeStore {
    nodes: NodeMap<Node>,
}

impl MemoryNodeStore {
    /// Applies writes the way a persistent store does: wipes first, then puts and removals.
    pub fn apply(&mut self, writes: NodeWrites) {
        for tree in &writes.wiped {
            self.nodes.retain(|k, _| k.tree != *tree);
        }
        for (key, node) in writes.nodes {
            match node {
                Some(node) => self.nodes.insert(key, node),
                None => self.nodes.remove(&key),
            };
        }
    }

    /// Number of stored nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether no node is stored.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

impl NodeReader for MemoryNodeStore {
    fn node(&self, key: &NodeKey) -> Result<Option<Node>, TrieError> {
        Ok(self.nodes.get(key).copied())
    }
}
