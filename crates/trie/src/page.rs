//! Pages: the unit in which nodes are stored and cached.
//!
//! A page holds the nodes of four consecutive levels below one position whose depth is a
//! multiple of four: up to 1 + 2 + 4 + 8 = 15 nodes. A changed key's path of `d` nodes then
//! costs about `d / 4` store or cache lookups instead of `d`, and a block writes about a
//! quarter as many records. Pages only group nodes: hashes, roots and proofs are those of
//! the binary tree.

use std::sync::Arc;

use crate::{Node, NodeKey, TrieError};

/// Levels of the binary tree in one page.
pub const PAGE_LEVELS: u16 = 4;

/// Node positions in one page.
pub const PAGE_SLOTS: usize = (1 << PAGE_LEVELS) - 1;

impl NodeKey {
    /// Whether this position is the top of a page (its depth is a multiple of
    /// [`PAGE_LEVELS`]); page keys are such positions.
    pub fn is_page(&self) -> bool {
        self.depth.is_multiple_of(PAGE_LEVELS)
    }

    /// The key of the page that holds this node.
    pub fn page(&self) -> NodeKey {
        let depth = self.depth - self.depth % PAGE_LEVELS;
        let mut path = self.path;
        let full = depth as usize / 8;
        if full < 32 {
            path[full] &= !(0xffu8 >> (depth as usize % 8));
            path[full + 1..].fill(0);
        }
        NodeKey { tree: self.tree, path, depth }
    }

    /// This node's slot in its page, in breadth-first order: the page's top is slot 0, the
    /// nodes one level down are slots 1 and 2, and so on.
    pub fn slot(&self) -> usize {
        let top = (self.depth - self.depth % PAGE_LEVELS) as usize;
        let below = self.depth as usize - top;
        let mut index = 0usize;
        for d in top..self.depth as usize {
            index = index << 1 | crate::bit(&self.path, d) as usize;
        }
        (1 << below) - 1 + index
    }
}

/// The nodes stored in one page: shared, immutable, and kept in its encoded form (the slot
/// bitmap as a big-endian `u16`, then each present node's encoding in slot order), so that
/// a cached page is one allocation and reading a node from it touches one place in memory.
#[derive(Clone, PartialEq, Eq)]
pub struct Page(Arc<[u8]>);

impl std::fmt::Debug for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Page {
    /// Checks an encoded page; `key` names the page in errors. A stored page is never empty.
    pub fn decode(key: &NodeKey, bytes: &[u8]) -> Result<Self, TrieError> {
        let corrupt = |reason| TrieError::Corrupt { key: key.to_string(), reason };
        let (head, body) = bytes.split_at_checked(2).ok_or_else(|| corrupt("short page"))?;
        let present = u16::from_be_bytes([head[0], head[1]]);
        if present >> PAGE_SLOTS != 0 {
            return Err(corrupt("slot bitmap out of range"));
        }
        if present == 0 {
            return Err(corrupt("empty page"));
        }
        if body.len() != present.count_ones() as usize * Node::ENCODED_LEN {
            return Err(corrupt("page length does not match its slots"));
        }
        for chunk in body.chunks_exact(Node::ENCODED_LEN) {
            Node::decode(key, chunk)?;
        }
        Ok(Self(bytes.into()))
    }

    /// The encoding.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    fn present(&self) -> u16 {
        u16::from_be_bytes([self.0[0], self.0[1]])
    }

    /// The node in `slot`, if any.
    pub fn get(&self, slot: usize) -> Option<Node> {
        let present = self.present();
        if present & (1 << slot) == 0 {
            return None;
        }
        let at = 2 + (present & ((1u16 << slot) - 1)).count_ones() as usize * Node::ENCODED_LEN;
        Some(Node::from_checked(&self.0[at..at + Node::ENCODED_LEN]))
    }

    /// Number of nodes held.
    pub fn len(&self) -> usize {
        self.present().count_ones() as usize
    }

    /// Whether no slot holds a node (never true of a stored page).
    pub fn is_empty(&self) -> bool {
        self.present() == 0
    }

    /// The held nodes with their slots, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, Node)> + '_ {
        (0..PAGE_SLOTS).filter_map(|s| self.get(s).map(|n| (s, n)))
    }

    /// An editable copy.
    pub fn edit(&self) -> PageEdit {
        PageEdit { present: self.present(), nodes: self.iter().map(|(_, n)| n).collect() }
    }
}

/// A page being changed: [`PageEdit::finish`] turns it back into a [`Page`].
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct PageEdit {
    /// Bit `s` is set when slot `s` holds a node.
    present: u16,
    /// The present nodes, in slot order.
    nodes: Vec<Node>,
}

impl PageEdit {
    /// Puts `node` in `slot`, or empties the slot for `None`.
    pub fn set(&mut self, slot: usize, node: Option<Node>) {
        debug_assert!(slot < PAGE_SLOTS);
        let bit = 1u16 << slot;
        let at = (self.present & (bit - 1)).count_ones() as usize;
        match (self.present & bit != 0, node) {
            (true, Some(node)) => self.nodes[at] = node,
            (true, None) => {
                self.nodes.remove(at);
                self.present &= !bit;
            }
            (false, Some(node)) => {
                self.nodes.insert(at, node);
                self.present |= bit;
            }
            (false, None) => {}
        }
    }

    /// The finished page, or `None` if no slot holds a node.
    pub fn finish(&self) -> Option<Page> {
        if self.present == 0 {
            return None;
        }
        let mut out = Vec::with_capacity(2 + self.nodes.len() * Node::ENCODED_LEN);
        out.extend_from_slice(&self.present.to_be_bytes());
        for node in &self.nodes {
            out.extend_from_slice(&node.encode());
        }
        Some(Page(out.into()))
    }
}

/// Serves node reads from pages, remembering the page of each level on the current
/// root-to-leaf walk: a depth-first walk reads each page from the store once.
pub(crate) struct PageWalk {
    /// Slot `i` holds the page whose top is at depth `4 i` on the current walk.
    levels: Vec<Option<(NodeKey, Option<Page>)>>,
}

impl PageWalk {
    pub(crate) fn new() -> Self {
        Self { levels: vec![None; 256 / PAGE_LEVELS as usize + 1] }
    }

    /// The page remembered for `page`, if it is the one on the current walk.
    pub(crate) fn get(&self, page: &NodeKey) -> Option<&Option<Page>> {
        match &self.levels[(page.depth / PAGE_LEVELS) as usize] {
            Some((key, found)) if key == page => Some(found),
            _ => None,
        }
    }

    /// Remembers `found` as the page at `page`'s level on the current walk.
    pub(crate) fn put(&mut self, page: NodeKey, found: Option<Page>) {
        self.levels[(page.depth / PAGE_LEVELS) as usize] = Some((page, found));
    }
}

/// The node at `key` in `page`, the page that holds it.
pub(crate) fn node_in(page: &Option<Page>, key: &NodeKey) -> Option<Node> {
    page.as_ref().and_then(|p| p.get(key.slot()))
}

#[cfg(test)]
mod tests {
    use alloy_primitives::B256;

    use super::*;
    use crate::TreeId;

    fn leaf(i: u8) -> Node {
        Node::Leaf { key: B256::repeat_byte(i), value: B256::repeat_byte(i) }
    }

    #[test]
    fn slots_and_page_keys() {
        let root = NodeKey::root(TreeId::ACCOUNTS);
        assert!(root.is_page());
        assert_eq!(root.slot(), 0);
        assert_eq!(root.child(0).slot(), 1);
        assert_eq!(root.child(1).slot(), 2);
        assert_eq!(root.child(1).child(0).slot(), 5);
        let deep = root.child(1).child(1).child(1);
        assert_eq!(deep.slot(), 14);
        assert_eq!(deep.page(), root);
        let next = deep.child(1);
        assert!(next.is_page());
        assert_eq!(next.page(), next);
        assert_eq!(next.slot(), 0);
        let below = next.child(0).child(1);
        assert_eq!(below.page(), next);
        assert_eq!(below.slot(), 4);
        // Every position of a page has a distinct slot.
        let mut seen = std::collections::BTreeSet::new();
        let mut level = vec![root];
        for _ in 0..PAGE_LEVELS {
            for k in &level {
                assert!(seen.insert(k.slot()));
                assert_eq!(k.page(), root);
            }
            level = level.iter().flat_map(|k| [k.child(0), k.child(1)]).collect();
        }
        assert_eq!(seen.len(), PAGE_SLOTS);
    }

    #[test]
    fn page_set_get_and_encoding() {
        let key = NodeKey::root(TreeId::ACCOUNTS);
        let mut edit = PageEdit::default();
        assert_eq!(edit.finish(), None, "an empty page is no page");
        edit.set(7, Some(leaf(7)));
        edit.set(0, Some(leaf(0)));
        edit.set(14, Some(leaf(14)));
        edit.set(3, None);
        let page = edit.finish().unwrap();
        assert_eq!(page.len(), 3);
        assert_eq!(page.get(7), Some(leaf(7)));
        assert_eq!(page.get(3), None);
        assert_eq!(page.iter().map(|(s, _)| s).collect::<Vec<_>>(), [0, 7, 14]);
        let bytes = page.as_bytes();
        assert_eq!(bytes.len(), 2 + 3 * Node::ENCODED_LEN);
        assert_eq!(Page::decode(&key, bytes).unwrap(), page);
        let mut edit = page.edit();
        edit.set(7, None);
        let smaller = edit.finish().unwrap();
        assert_eq!(smaller.get(14), Some(leaf(14)));
        assert_eq!(smaller.len(), 2);

        assert!(Page::decode(&key, &bytes[..bytes.len() - 1]).is_err());
        assert!(Page::decode(&key, &[0, 0]).is_err(), "an empty page is never stored");
        assert!(Page::decode(&key, &[0x80, 0]).is_err(), "slot 15 does not exist");
        assert!(Page::decode(&key, &[0]).is_err());
        let mut bad_tag = bytes.to_vec();
        bad_tag[2] = 9;
        assert!(Page::decode(&key, &bad_tag).is_err());
    }
}
