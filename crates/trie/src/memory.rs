//! An in-memory page store, for tests, benchmarks and tools.

use crate::{NodeKey, NodeMap, NodeReader, NodeWrites, Page, PageWrites, TrieError};

/// Pages kept in a hash map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryNodeStore {
    pages: NodeMap<Page>,
}

impl MemoryNodeStore {
    /// Applies node writes the way a persistent store does.
    pub fn apply(&mut self, writes: NodeWrites) {
        let pages = writes.page_writes(self).expect("in-memory reads cannot fail");
        self.apply_pages(pages);
    }

    /// Applies page writes: wipes first, then puts and removals.
    pub fn apply_pages(&mut self, writes: PageWrites) {
        for tree in &writes.wiped {
            self.pages.retain(|k, _| k.tree != *tree);
        }
        for (key, page) in writes.pages {
            match page {
                Some(page) => self.pages.insert(key, page),
                None => self.pages.remove(&key),
            };
        }
    }

    /// Number of stored pages.
    pub fn len(&self) -> usize {
        self.pages.len()
    }

    /// Whether no page is stored.
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    /// Number of stored nodes.
    pub fn nodes(&self) -> usize {
        self.pages.values().map(|p| p.len()).sum()
    }
}

impl NodeReader for MemoryNodeStore {
    fn page(&self, key: &NodeKey) -> Result<Option<Page>, TrieError> {
        Ok(self.pages.get(key).cloned())
    }
}
