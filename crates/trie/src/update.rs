//! Batch updates: apply a sorted set of key changes to one tree and collect the node writes.

use std::collections::{BTreeMap, BTreeSet};

use crate::NodeMap;

use alloy_primitives::B256;

use crate::{EMPTY_ROOT, Node, NodeKey, NodeReader, TreeId, TrieError, bit};

/// Node writes produced by updates, not yet applied to the store. The store applies them
/// atomically: first it deletes every node of each tree in `wiped`, then it performs `nodes`
/// (a `None` removes the node at that position).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeWrites {
    /// Trees whose previous nodes are all removed.
    pub wiped: BTreeSet<TreeId>,
    /// Node puts (`Some`) and removals (`None`), by position.
    pub nodes: NodeMap<Option<Node>>,
    /// Trees with entries in `nodes`, so that reads of other trees skip the overlay.
    written: BTreeSet<TreeId>,
}

impl NodeWrites {
    /// Number of node puts and removals.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether nothing is written.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty() && self.wiped.is_empty()
    }

    /// Marks every existing node of `tree` for removal; later updates of `tree` start empty.
    pub fn wipe(&mut self, tree: TreeId) {
        self.wiped.insert(tree);
        if self.written.remove(&tree) {
            self.nodes.retain(|k, _| k.tree != tree);
        }
    }

    /// A reader that sees `base` with these writes applied.
    pub fn over<'a, R: NodeReader>(&'a self, base: &'a R) -> Overlay<'a, R> {
        Overlay { writes: self, base }
    }

    /// Records a put (`Some`) or removal (`None`) at `key`.
    pub fn set(&mut self, key: NodeKey, node: Option<Node>) {
        if !self.written.contains(&key.tree) {
            self.written.insert(key.tree);
        }
        self.nodes.insert(key, node);
    }

    /// The puts and removals sorted by position, the order in which a B-tree store writes
    /// them fastest.
    pub fn sorted(&self) -> Vec<(&NodeKey, &Option<Node>)> {
        let mut all: Vec<_> = self.nodes.iter().collect();
        all.sort_unstable_by_key(|(k, _)| **k);
        all
    }

    /// Whether reads of `tree` must look at these writes before the store.
    fn touches(&self, tree: &TreeId) -> bool {
        self.written.contains(tree) || self.wiped.contains(tree)
    }
}

/// A [`NodeReader`] over a base reader with pending [`NodeWrites`] applied on top.
#[derive(Debug)]
pub struct Overlay<'a, R> {
    writes: &'a NodeWrites,
    base: &'a R,
}

impl<R: NodeReader> NodeReader for Overlay<'_, R> {
    fn node(&self, key: &NodeKey) -> Result<Option<Node>, TrieError> {
        if let Some(node) = self.writes.nodes.get(key) {
            return Ok(*node);
        }
        if self.writes.wiped.contains(&key.tree) {
            return Ok(None);
        }
        self.base.node(key)
    }
}

/// Applies `changes` to `tree` and returns its new root. `changes` maps each key to its new
/// value (`None` deletes it). Reads go through `reader` with `writes` applied on top, so
/// several updates of one tree may follow each other before the store commits.
///
/// Cost: `O(k · log n)` node reads and hashes for `k` changed keys in a tree of `n` keys.
pub fn update<R: NodeReader>(
    reader: &R,
    tree: TreeId,
    changes: &BTreeMap<B256, Option<B256>>,
    writes: &mut NodeWrites,
) -> Result<B256, TrieError> {
    let changes: Vec<(B256, Option<B256>)> = changes.iter().map(|(k, v)| (*k, *v)).collect();
    let root_key = NodeKey::root(tree);
    let existing = writes.over(reader).node(&root_key)?;
    // Reads go through the overlay only if earlier updates in this set wrote the tree.
    let overlay = writes.touches(&tree);
    // About log2(n / k) + 2 nodes per changed key; 16 covers trees of millions of keys.
    writes.nodes.reserve(changes.len() * 16);
    let mut updater = Updater { reader, writes, overlay };
    let new_root = updater.update(root_key, existing, &changes)?;
    updater.writes.set(root_key, new_root);
    Ok(new_root.map_or(EMPTY_ROOT, |n| n.hash()))
}

struct Updater<'a, R> {
    reader: &'a R,
    writes: &'a mut NodeWrites,
    overlay: bool,
}

impl<R: NodeReader> Updater<'_, R> {
    fn load(&self, key: &NodeKey) -> Result<Node, TrieError> {
        let node = if self.overlay {
            self.writes.over(self.reader).node(key)?
        } else {
            // Positions below the ones this update rewrites are read before they are written,
            // so the store alone has them.
            self.reader.node(key)?
        };
        node.ok_or_else(|| TrieError::Missing(key.to_string()))
    }

    /// Returns the node that now belongs at `pos` (the caller writes it); writes the changed
    /// nodes below `pos` itself.
    fn update(
        &mut self,
        pos: NodeKey,
        existing: Option<Node>,
        changes: &[(B256, Option<B256>)],
    ) -> Result<Option<Node>, TrieError> {
        if changes.is_empty() {
            return Ok(existing);
        }
        match existing {
            None | Some(Node::Leaf { .. }) => {
                // Nothing is stored below a leaf or an empty position: build the subtree
                // afresh from the surviving leaf and the new keys.
                let mut leaves: Vec<(B256, B256)> =
                    changes.iter().filter_map(|(k, v)| v.map(|v| (*k, v))).collect();
                if let Some(Node::Leaf { key, value }) = existing
                    && changes.binary_search_by(|(k, _)| k.cmp(&key)).is_err()
                {
                    let at = leaves.partition_point(|(k, _)| *k < key);
                    leaves.insert(at, (key, value));
                }
                Ok(self.build(pos, &leaves))
            }
            Some(Node::Internal { left, right }) => {
                let depth = pos.depth as usize;
                let split = changes.partition_point(|(k, _)| bit(k, depth) == 0);
                let (left_changes, right_changes) = changes.split_at(split);
                let left_pos = pos.child(0);
                let right_pos = pos.child(1);
                let new_left = self.update_child(left_pos, left, left_changes)?;
                let new_right = self.update_child(right_pos, right, right_changes)?;
                let hash_of = |side: &Option<Option<Node>>, old: B256| match side {
                    Some(node) => node.map_or(EMPTY_ROOT, |n| n.hash()),
                    None => old,
                };
                let left_hash = hash_of(&new_left, left);
                let right_hash = hash_of(&new_right, right);
                // Removals of emptied children.
                for (side, side_pos) in [(&new_left, left_pos), (&new_right, right_pos)] {
                    if let Some(None) = side {
                        self.writes.set(side_pos, None);
                    }
                }
                let lone = match (left_hash == EMPTY_ROOT, right_hash == EMPTY_ROOT) {
                    (true, true) => return Ok(None),
                    (false, true) => Some((left_pos, new_left)),
                    (true, false) => Some((right_pos, new_right)),
                    (false, false) => None,
                };
                if let Some((side_pos, side_new)) = lone {
                    let side_node = match side_new {
                        Some(Some(node)) => node,
                        Some(None) => unreachable!("a non-empty hash comes from a node"),
                        None => self.load(&side_pos)?,
                    };
                    if let Node::Leaf { .. } = side_node {
                        // Alone in this subtree: the leaf moves up to this position.
                        self.writes.set(side_pos, None);
                        return Ok(Some(side_node));
                    }
                }
                for (side, side_pos) in [(new_left, left_pos), (new_right, right_pos)] {
                    if let Some(Some(node)) = side {
                        self.writes.set(side_pos, Some(node));
                    }
                }
                Ok(Some(Node::Internal { left: left_hash, right: right_hash }))
            }
        }
    }

    /// `None` when the child is untouched, else `Some(new node or nothing)`.
    fn update_child(
        &mut self,
        pos: NodeKey,
        hash: B256,
        changes: &[(B256, Option<B256>)],
    ) -> Result<Option<Option<Node>>, TrieError> {
        if changes.is_empty() {
            return Ok(None);
        }
        let existing = if hash == EMPTY_ROOT { None } else { Some(self.load(&pos)?) };
        self.update(pos, existing, changes).map(Some)
    }

    /// Builds the canonical subtree holding exactly `leaves` (sorted) at `pos`, writing the
    /// nodes below `pos` and returning the node for `pos`.
    fn build(&mut self, pos: NodeKey, leaves: &[(B256, B256)]) -> Option<Node> {
        match leaves {
            [] => None,
            [(key, value)] => Some(Node::Leaf { key: *key, value: *value }),
            _ => {
                let depth = pos.depth as usize;
                let split = leaves.partition_point(|(k, _)| bit(k, depth) == 0);
                let mut hashes = [EMPTY_ROOT; 2];
                for (side, part) in [(0u8, &leaves[..split]), (1u8, &leaves[split..])] {
                    let child_pos = pos.child(side);
                    if let Some(node) = self.build(child_pos, part) {
                        hashes[side as usize] = node.hash();
                        self.writes.set(child_pos, Some(node));
                    }
                }
                Some(Node::Internal { left: hashes[0], right: hashes[1] })
            }
        }
    }
}
