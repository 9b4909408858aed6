//! A bounded in-memory cache of committed pages of one tree, kept coherent with the store
//! by the block height it belongs to.
//!
//! Reading a page from the store costs a B-tree walk; a block touches about
//! `k · log2(n / k) / 4` pages, so with a large state those reads dominate the cost of a new
//! state root. The cache holds the pages at one committed height: the store fills it from
//! snapshots of that height and moves it to the next height with the pages that height
//! wrote. A snapshot of any other height bypasses it, so a reader never sees a page from the
//! wrong state.
//!
//! Eviction is crude and cheap: when the cache is full, about half of it, chosen by key
//! hash, is dropped. Sized to hold the whole account tree, it never evicts; a lookup is one
//! probe of one map.

use parking_lot::Mutex;

use crate::{FoldHasher, NodeKey, Page, PageWrites, TreeId};

/// Deepest page that is cached: its position fits the 64-bit key below. Deeper pages exist
/// only in trees of far more than 2^40 keys (or with crafted keys) and are read from the
/// store.
const DEEPEST_CACHED: u16 = 60;

/// A cached page's position in the cache's one tree in one word: the first 60 path bits
/// (all there are down to depth 60) and, in the low four bits, the depth divided by four.
/// An entry is then 24 bytes, a third of one keyed by a full [`NodeKey`], so that the map of
/// a large tree mostly stays in the CPU's last-level cache.
type ShortKey = u64;

type ShortMap<V> =
    std::collections::HashMap<ShortKey, V, std::hash::BuildHasherDefault<FoldHasher>>;

/// Cached pages of one tree at one committed height.
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
    pages: ShortMap<Page>,
}

impl NodeCache {
    /// A cache of `tree` holding up to about `capacity` pages.
    pub fn new(tree: TreeId, capacity: usize) -> Self {
        Self { tree, capacity: capacity.max(2), inner: Mutex::new(Inner::default()) }
    }

    /// The tree this cache holds.
    pub fn tree(&self) -> TreeId {
        self.tree
    }

    /// The page at `key` if cached for `height`.
    pub fn get(&self, key: &NodeKey, height: u64) -> Option<Page> {
        let short = self.short(key)?;
        let inner = self.inner.lock();
        if inner.height != Some(height) {
            return None;
        }
        inner.pages.get(&short).cloned()
    }

    /// The pages at `keys` if the cache holds `height`, appended to `out` in order (`None`
    /// for a page not cached); `false`, with nothing appended, if it holds another height.
    ///
    /// With a tree much larger than the CPU caches, a lookup waits on main memory for the
    /// map entry and again for the page; done key by key, those waits add up. Here each
    /// step is done for all keys before the next (see the body), so the waits overlap.
    pub fn get_many(&self, keys: &[NodeKey], height: u64, out: &mut Vec<Option<Page>>) -> bool {
        let inner = self.inner.lock();
        if inner.height != Some(height) {
            return false;
        }
        // Three passes, each with one memory access per key that does not depend on the
        // other keys' accesses: the processor runs them in parallel.
        let found: Vec<Option<&Page>> =
            keys.iter().map(|key| self.short(key).and_then(|s| inner.pages.get(&s))).collect();
        for page in found.iter().flatten() {
            // Every cache line of the page: the update reads a node on each level.
            for byte in page.as_bytes().iter().step_by(64) {
                std::hint::black_box(*byte);
            }
        }
        out.extend(found.into_iter().map(|p| p.cloned()));
        true
    }

    /// Caches a page read from a snapshot of `height`; ignored if the cache has moved on.
    pub fn fill(&self, key: NodeKey, page: Page, height: u64) {
        let Some(short) = self.short(&key) else { return };
        let mut inner = self.inner.lock();
        if inner.height == Some(height) {
            self.insert(&mut inner, short, page);
        }
    }

    /// Moves the cache to `height`, whose commit wrote `writes`. Must be called after the
    /// commit is durable and before anything else fills the cache for `height`.
    pub fn advance(&self, writes: &PageWrites, height: u64) {
        let mut inner = self.inner.lock();
        if writes.wiped.contains(&self.tree) || inner.height.is_some_and(|h| h + 1 != height) {
            // Wiped, or heights skipped: nothing cached is known to be current.
            inner.pages.clear();
        }
        for (key, page) in &writes.pages {
            let Some(short) = self.short(key) else { continue };
            match page {
                Some(page) => self.insert(&mut inner, short, page.clone()),
                None => {
                    inner.pages.remove(&short);
                }
            }
        }
        inner.height = Some(height);
    }

    /// Number of cached pages.
    pub fn len(&self) -> usize {
        self.inner.lock().pages.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The short key of `key`, if it is a page of this cache's tree shallow enough to cache.
    fn short(&self, key: &NodeKey) -> Option<ShortKey> {
        if key.tree != self.tree || key.depth > DEEPEST_CACHED || !key.is_page() {
            return None;
        }
        let prefix: [u8; 8] = key.path[..8].try_into().expect("8 bytes");
        // Bits at and below the depth are zero in a position, so the low four are free.
        Some(u64::from_be_bytes(prefix) & !0xf | u64::from(key.depth / crate::PAGE_LEVELS))
    }

    fn insert(&self, inner: &mut Inner, key: ShortKey, page: Page) {
        if inner.pages.len() >= self.capacity && !inner.pages.contains_key(&key) {
            // Drop about half, picked by a bit of the key's hash: no bookkeeping per entry.
            let hasher = std::hash::BuildHasherDefault::<FoldHasher>::default();
            inner.pages.retain(|k, _| std::hash::BuildHasher::hash_one(&hasher, k) & 1 == 0);
            if inner.pages.len() >= self.capacity {
                // An unlucky split (only possible for tiny caches): start over.
                inner.pages.clear();
            }
        }
        inner.pages.insert(key, page);
    }
}

#[cfg(test)]
mod tests {
    use alloy_primitives::B256;

    use super::*;
    use crate::{Node, PageEdit};

    fn key(i: u8) -> NodeKey {
        NodeKey { tree: TreeId::ACCOUNTS, depth: 4, path: B256::repeat_byte(i) }
    }

    fn page(i: u8) -> Page {
        let mut page = PageEdit::default();
        page.set(0, Some(Node::Leaf { key: B256::repeat_byte(i), value: B256::repeat_byte(i) }));
        page.finish().unwrap()
    }

    fn set(writes: &mut PageWrites, key: NodeKey, page: Option<Page>) {
        writes.pages.push((key, page));
    }

    #[test]
    fn only_the_current_height_is_served() {
        let cache = NodeCache::new(TreeId::ACCOUNTS, 8);
        cache.fill(key(1), page(1), 0);
        assert_eq!(cache.get(&key(1), 0), None, "nothing is cached before the first commit");
        cache.advance(&PageWrites::default(), 0);
        cache.fill(key(1), page(1), 0);
        assert_eq!(cache.get(&key(1), 0), Some(page(1)));
        assert_eq!(cache.get(&key(1), 1), None);

        let mut writes = PageWrites::default();
        set(&mut writes, key(1), None);
        set(&mut writes, key(2), Some(page(2)));
        cache.advance(&writes, 1);
        assert_eq!(cache.get(&key(1), 1), None, "removed by the commit");
        assert_eq!(cache.get(&key(2), 1), Some(page(2)), "written by the commit");
        // A late fill from a snapshot of the old height is ignored.
        cache.fill(key(3), page(3), 0);
        assert_eq!(cache.get(&key(3), 1), None);
    }

    #[test]
    fn skipped_heights_and_wipes_clear_the_cache() {
        let cache = NodeCache::new(TreeId::ACCOUNTS, 8);
        cache.advance(&PageWrites::default(), 0);
        cache.fill(key(1), page(1), 0);
        cache.advance(&PageWrites::default(), 5);
        assert!(cache.is_empty());
        cache.fill(key(1), page(1), 5);
        let mut writes = PageWrites::default();
        writes.wiped.insert(TreeId::ACCOUNTS);
        cache.advance(&writes, 6);
        assert!(cache.is_empty());
    }

    #[test]
    fn only_shallow_pages_of_the_tree_are_cached() {
        let cache = NodeCache::new(TreeId::ACCOUNTS, 8);
        cache.advance(&PageWrites::default(), 0);
        let deep = NodeKey { tree: TreeId::ACCOUNTS, depth: 64, path: B256::repeat_byte(1) };
        cache.fill(deep, page(1), 0);
        assert_eq!(cache.get(&deep, 0), None);
        let other = NodeKey { tree: TreeId::storage(Default::default()), ..key(1) };
        cache.fill(other, page(1), 0);
        assert_eq!(cache.get(&other, 0), None);
        let mut path = B256::repeat_byte(0xab);
        path[7] = 0xa0;
        path[8..].fill(0);
        let shallow = NodeKey { tree: TreeId::ACCOUNTS, depth: 60, path };
        cache.fill(shallow, page(2), 0);
        assert_eq!(cache.get(&shallow, 0), Some(page(2)));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn capacity_is_bounded() {
        let cache = NodeCache::new(TreeId::ACCOUNTS, 4);
        cache.advance(&PageWrites::default(), 0);
        for i in 0..50 {
            cache.fill(key(i), page(i), 0);
            assert!(cache.len() <= 4, "{} cached", cache.len());
            assert_eq!(cache.get(&key(i), 0), Some(page(i)), "the newest entry is kept");
        }
    }
}
