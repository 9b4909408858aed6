//! A bounded in-memory cache of committed nodes of one tree, kept coherent with the store
//! by the block height it belongs to.
//!
//! Reading a node from the store costs a B-tree walk; a block touches about
//! `k · log2(n / k)` nodes, so with a large state those reads dominate the cost of a new
//! state root. The cache holds the nodes at one committed height: the store fills it from
//! snapshots of that height and moves it to the next height with the nodes that height wrote.
//! A snapshot of any other height bypasses it, so a reader never sees a node from the wrong
//! state.
//!
//! Eviction is crude and cheap: when the cache is full, about half of it, chosen by key
//! hash, is dropped. Sized to hold the whole account tree (the default holds about two
//! million accounts), it never evicts; a lookup is one probe of one map.

use parking_lot::Mutex;

use crate::{Node, NodeKey, NodeMap, NodeWrites, TreeId};

/// Cached nodes of one tree at one committed height.
#[derive(Debug)]
pub struct NodeCache {
    tree: TreeId,
    /// Most entries kept.
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// The committed height the entries belong to; `None` until the first commit.
    height: Option<u64>,
    nodes: NodeMap<Node>,
}

impl NodeCache {
    /// A cache of `tree` holding up to about `capacity` nodes.
    pub fn new(tree: TreeId, capacity: usize) -> Self {
        Self { tree, capacity: capacity.max(2), inner: Mutex::new(Inner::default()) }
    }

    /// The tree this cache holds.
    pub fn tree(&self) -> TreeId {
        self.tree
    }

    /// The node at `key` if cached for `height`.
    pub fn get(&self, key: &NodeKey, height: u64) -> Option<Node> {
        let inner = self.inner.lock();
        if inner.height != Some(height) {
            return None;
        }
        inner.nodes.get(key).copied()
    }

    /// Caches a node read from a snapshot of `height`; ignored if the cache has moved on.
    pub fn fill(&self, key: NodeKey, node: Node, height: u64) {
        let mut inner = self.inner.lock();
        if inner.height == Some(height) {
            self.insert(&mut inner, key, node);
        }
    }

    /// Moves the cache to `height`, whose commit wrote `writes`. Must be called after the
    /// commit is durable and before anything else fills the cache for `height`.
    pub fn advance(&self, writes: &NodeWrites, height: u64) {
        let mut inner = self.inner.lock();
        if writes.wiped.contains(&self.tree) || inner.height.is_some_and(|h| h + 1 != height) {
            // Wiped, or heights skipped: nothing cached is known to be current.
            inner.nodes.clear();
        }
        for (key, node) in writes.nodes.iter().filter(|(k, _)| k.tree == self.tree) {
            match node {
                Some(node) => self.insert(&mut inner, *key, *node),
                None => {
                    inner.nodes.remove(key);
                }
            }
        }
        inner.height = Some(height);
    }

    /// Number of cached nodes.
    pub fn len(&self) -> usize {
        self.inner.lock().nodes.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn insert(&self, inner: &mut Inner, key: NodeKey, node: Node) {
        if inner.nodes.len() >= self.capacity && !inner.nodes.contains_key(&key) {
            // Drop about half, picked by a bit of the key's hash: no bookkeeping per entry.
            let hasher = std::hash::BuildHasherDefault::<crate::FoldHasher>::default();
            inner.nodes.retain(|k, _| std::hash::BuildHasher::hash_one(&hasher, k) & 1 == 0);
            if inner.nodes.len() >= self.capacity {
                // An unlucky split (only possible for tiny caches): start over.
                inner.nodes.clear();
            }
        }
        inner.nodes.insert(key, node);
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::B256;

    use super::*;

    fn key(i: u8) -> NodeKey {
        NodeKey { tree: TreeId::ACCOUNTS, depth: 1, path: B256::repeat_byte(i) }
    }

    fn node(i: u8) -> Node {
        Node::Leaf { key: B256::repeat_byte(i), value: B256::repeat_byte(i) }
    }

    #[test]
    fn only_the_current_height_is_served() {
        let cache = NodeCache::new(TreeId::ACCOUNTS, 8);
        cache.fill(key(1), node(1), 0);
        assert_eq!(cache.get(&key(1), 0), None, "nothing is cached before the first commit");
        cache.advance(&NodeWrites::default(), 0);
        cache.fill(key(1), node(1), 0);
        assert_eq!(cache.get(&key(1), 0), Some(node(1)));
        assert_eq!(cache.get(&key(1), 1), None);

        let mut writes = NodeWrites::default();
        writes.set(key(1), None);
        writes.set(key(2), Some(node(2)));
        cache.advance(&writes, 1);
        assert_eq!(cache.get(&key(1), 1), None, "removed by the commit");
        assert_eq!(cache.get(&key(2), 1), Some(node(2)), "written by the commit");
        // A late fill from a snapshot of the old height is ignored.
        cache.fill(key(3), node(3), 0);
        assert_eq!(cache.get(&key(3), 1), None);
    }

    #[test]
    fn skipped_heights_and_wipes_clear_the_cache() {
        let cache = NodeCache::new(TreeId::ACCOUNTS, 8);
        cache.advance(&NodeWrites::default(), 0);
        cache.fill(key(1), node(1), 0);
        cache.advance(&NodeWrites::default(), 5);
        assert!(cache.is_empty());
        cache.fill(key(1), node(1), 5);
        let mut writes = NodeWrites::default();
        writes.wipe(TreeId::ACCOUNTS);
        cache.advance(&writes, 6);
        assert!(cache.is_empty());
    }

    #[test]
    fn capacity_is_bounded() {
        let cache = NodeCache::new(TreeId::ACCOUNTS, 4);
        cache.advance(&NodeWrites::default(), 0);
        for i in 0..50 {
            cache.fill(key(i), node(i), 0);
            assert!(cache.len() <= 4, "{} cached", cache.len());
            assert_eq!(cache.get(&key(i), 0), Some(node(i)), "the newest entry is kept");
        }
    }
}
