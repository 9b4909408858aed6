//! Batch updates: apply a sorted set of key changes to one tree and collect the node writes.

use std::collections::{BTreeMap, BTreeSet};

use std::{collections::hash_map::Entry, ops::Range};

use alloy_primitives::B256;

use crate::{
    EMPTY_ROOT, Node, NodeKey, NodeMap, NodeReader, Page, TreeId, TrieError, bit,
    page::{PageEdit, PageWalk, node_in},
};

/// Node writes produced by updates, not yet applied to the store. Applying them means:
/// first delete every node of each tree in `wiped`, then perform the puts and removals in
/// the order they were made. [`NodeWrites::page_writes`] turns them into the page records a
/// store keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeWrites {
    /// Trees whose previous nodes are all removed.
    pub wiped: BTreeSet<TreeId>,
    /// Node puts (`Some`) and removals (`None`) in the order they were made: a later entry
    /// for a position replaces an earlier one. A list, not a map: an update writes each of
    /// thousands of nodes once, and appending costs far less than hashing.
    log: Vec<(NodeKey, Option<Node>)>,
    /// Trees with entries in `log`, so that updates of other trees skip looking at it.
    written: BTreeSet<TreeId>,
    /// The pages the updates read from the store, as the store had them: the starting point
    /// of the pages that [`NodeWrites::page_writes`] produces.
    base_pages: NodeMap<Option<Page>>,
}

/// Page records to store: every page of each tree in `wiped` is removed first, then each
/// page in `pages` is put (`Some`) or removed (`None`, the page is now empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageWrites {
    /// Trees whose previous pages are all removed.
    pub wiped: BTreeSet<TreeId>,
    /// New page contents by page key, in key order.
    pub pages: Vec<(NodeKey, Option<Page>)>,
}

impl NodeWrites {
    /// Number of node puts and removals recorded.
    pub fn len(&self) -> usize {
        self.log.len()
    }

    /// Whether nothing is written.
    pub fn is_empty(&self) -> bool {
        self.log.is_empty() && self.wiped.is_empty()
    }

    /// The latest put or removal of each position written in `tree`.
    fn latest(&self, tree: &TreeId) -> NodeMap<Option<Node>> {
        self.log.iter().filter(|(k, _)| k.tree == *tree).map(|(k, n)| (*k, *n)).collect()
    }

    /// Marks every existing node of `tree` for removal; later updates of `tree` start empty.
    pub fn wipe(&mut self, tree: TreeId) {
        self.wiped.insert(tree);
        if self.written.remove(&tree) {
            self.log.retain(|(k, _)| k.tree != tree);
        }
    }

    /// Records a put (`Some`) or removal (`None`) at `key`.
    pub fn set(&mut self, key: NodeKey, node: Option<Node>) {
        if !self.written.contains(&key.tree) {
            self.written.insert(key.tree);
        }
        self.log.push((key, node));
    }

    /// The new contents of every page these writes change, starting from the pages the
    /// updates read and, for pages they did not read, from `reader`, which must show the
    /// state the updates started from.
    pub fn page_writes<R: NodeReader + ?Sized>(&self, reader: &R) -> Result<PageWrites, TrieError> {
        let mut pages: NodeMap<PageEdit> = NodeMap::default();
        pages.reserve(self.log.len() / 3);
        for (key, node) in &self.log {
            let page_key = key.page();
            let page = match pages.entry(page_key) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => {
                    let base = if self.wiped.contains(&key.tree) {
                        None
                    } else if let Some(base) = self.base_pages.get(&page_key) {
                        base.clone()
                    } else {
                        reader.page(&page_key)?
                    };
                    e.insert(base.map(|p| p.edit()).unwrap_or_default())
                }
            };
            page.set(key.slot(), *node);
        }
        let mut pages: Vec<(NodeKey, Option<Page>)> =
            pages.into_iter().map(|(key, page)| (key, page.finish())).collect();
        pages.sort_unstable_by_key(|(key, _)| *key);
        Ok(PageWrites { wiped: self.wiped.clone(), pages })
    }

    /// Whether reads of `tree` must look at these writes before the store.
    fn touches(&self, tree: &TreeId) -> bool {
        self.written.contains(tree) || self.wiped.contains(tree)
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
    // Reads look at earlier writes only if earlier updates in this set wrote the tree.
    let overlay = writes.touches(&tree);
    let wiped = writes.wiped.contains(&tree);
    // Earlier writes of this tree in the set, which reads must see.
    let earlier = overlay.then(|| writes.latest(&tree));
    // About log2(n / k) + 2 nodes and a quarter as many pages per changed key.
    writes.log.reserve(changes.len() * 16);
    writes.base_pages.reserve(changes.len() * 4);
    writes.written.insert(tree);
    let mut updater = Updater {
        reader,
        writes,
        earlier,
        overlay,
        wiped,
        walk: PageWalk::new(),
        preloaded: false,
    };
    let existing = updater.read(&root_key)?;
    let new_root = updater.update(root_key, existing, &changes)?;
    updater.writes.set(root_key, new_root);
    Ok(new_root.map_or(EMPTY_ROOT, |n| n.hash()))
}

struct Updater<'a, R> {
    reader: &'a R,
    writes: &'a mut NodeWrites,
    /// The latest earlier write of each position of the tree, when `overlay`.
    earlier: Option<NodeMap<Option<Node>>>,
    overlay: bool,
    wiped: bool,
    walk: PageWalk,
    /// Whether the walk is inside a subtree whose pages were preloaded.
    preloaded: bool,
}

/// Most changes under a page for its subtree to be preloaded as a whole: enough pages per
/// level to overlap their reads, few enough for the CPU caches to hold them all.
const PRELOAD_CHANGES: usize = 128;

impl<R: NodeReader> Updater<'_, R> {
    /// The node at `key` as this set of writes sees it.
    fn read(&mut self, key: &NodeKey) -> Result<Option<Node>, TrieError> {
        // An update reads each position before it writes it, so only writes of earlier
        // updates in the set can hide what the store has.
        if let Some(earlier) = &self.earlier {
            if let Some(node) = earlier.get(key) {
                return Ok(*node);
            }
            if self.wiped {
                return Ok(None);
            }
        }
        let page = key.page();
        if let Some(found) = self.walk.get(&page) {
            return Ok(node_in(found, key));
        }
        let found = match self.writes.base_pages.get(&page) {
            Some(found) => found.clone(),
            None => {
                let found = self.reader.page(&page)?;
                self.writes.base_pages.insert(page, found.clone());
                found
            }
        };
        let node = node_in(&found, key);
        self.walk.put(page, found);
        Ok(node)
    }

    /// Reads every stored page below the page at `top` (already read) that the update
    /// of `changes` will visit, one level of pages at a time so that the reader can overlap
    /// independent reads; the update then finds them in `base_pages`. Called for subtrees of
    /// at most [`PRELOAD_CHANGES`] changes, whose pages stay in the CPU caches until the
    /// update reaches them.
    fn preload(&mut self, top: NodeKey, changes: &[(B256, Option<B256>)]) -> Result<(), TrieError> {
        let Some(Some(page)) = self.walk.get(&top).cloned() else { return Ok(()) };
        let mut level = Vec::new();
        pages_below(&page, top, changes, 0..changes.len(), &mut level);
        let mut keys = Vec::new();
        let mut found = Vec::new();
        while !level.is_empty() {
            keys.clear();
            // Only an earlier update of this tree in the same set can have read these pages.
            let seen = &self.writes.base_pages;
            let overlay = self.overlay;
            keys.extend(
                level.iter().map(|(k, _)| *k).filter(|k| !overlay || !seen.contains_key(k)),
            );
            found.clear();
            self.reader.pages(&keys, &mut found)?;
            let mut next = Vec::new();
            let mut fetched = keys.iter().zip(&found).peekable();
            for (page_key, range) in &level {
                let page = match fetched.next_if(|(key, _)| *key == page_key) {
                    Some((_, page)) => page.as_ref(),
                    None => self.writes.base_pages.get(page_key).and_then(|p| p.as_ref()),
                };
                if let Some(page) = page {
                    pages_below(page, *page_key, changes, range.clone(), &mut next);
                }
            }
            self.writes.base_pages.extend(keys.iter().copied().zip(found.drain(..)));
            level = next;
        }
        Ok(())
    }

    /// [`NodeWrites::set`] for a tree already marked as written.
    fn put(&mut self, key: NodeKey, node: Option<Node>) {
        self.writes.log.push((key, node));
    }

    fn load(&mut self, key: &NodeKey) -> Result<Node, TrieError> {
        self.read(key)?.ok_or_else(|| TrieError::Missing(key.to_string()))
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
        if !self.preloaded
            && !self.wiped
            && pos.is_page()
            && changes.len() <= PRELOAD_CHANGES
            && let Some(Node::Internal { .. }) = existing
        {
            self.preload(pos, changes)?;
            self.preloaded = true;
            let result = self.update_node(pos, existing, changes);
            self.preloaded = false;
            return result;
        }
        self.update_node(pos, existing, changes)
    }

    /// [`Updater::update`] once read-ahead is settled.
    fn update_node(
        &mut self,
        pos: NodeKey,
        existing: Option<Node>,
        changes: &[(B256, Option<B256>)],
    ) -> Result<Option<Node>, TrieError> {
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
                        self.put(side_pos, None);
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
                        self.put(side_pos, None);
                        return Ok(Some(side_node));
                    }
                }
                for (side, side_pos) in [(new_left, left_pos), (new_right, right_pos)] {
                    if let Some(Some(node)) = side {
                        self.put(side_pos, Some(node));
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
                        self.put(child_pos, Some(node));
                    }
                }
                Some(Node::Internal { left: hashes[0], right: hashes[1] })
            }
        }
    }
}

/// The pages right below `page` that the changes in `range` (sorted) lead to, each with the
/// changes that lead there; `pos` is a position in `page`, its top to begin with.
fn pages_below(
    page: &Page,
    pos: NodeKey,
    changes: &[(B256, Option<B256>)],
    range: Range<usize>,
    next: &mut Vec<(NodeKey, Range<usize>)>,
) {
    let Some(Node::Internal { left, right }) = page.get(pos.slot()) else { return };
    let depth = pos.depth as usize;
    let split = range.start + changes[range.clone()].partition_point(|(k, _)| bit(k, depth) == 0);
    for (side, hash, part) in [(0u8, left, range.start..split), (1, right, split..range.end)] {
        if part.is_empty() || hash == EMPTY_ROOT {
            continue;
        }
        let child = pos.child(side);
        if child.is_page() {
            next.push((child, part));
        } else {
            pages_below(page, child, changes, part, next);
        }
    }
}
