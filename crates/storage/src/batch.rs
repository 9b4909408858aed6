//! Many decided blocks in one write transaction, each executed on the state the ones before
//! it left: how a node catching up commits hundreds of blocks with one disk sync.
//!
//! ```text
//!  begin_batch ─▶ view() ─▶ execute block N on it (StateReader + NodeReader) ─▶ drop view
//!              ─▶ commit(block N)  (written into the transaction, head moves to N)
//!              ─▶ view() ─▶ block N+1 ... ─▶ finish()  (one durable commit, node cache moved)
//! ```
//!
//! Until `finish`, nothing is visible to snapshots; dropping the batch instead writes
//! nothing. A view reads the transaction's tables, which show the batch's own writes, and
//! the state tree's pages from the pages the batch wrote, else as the head the batch began
//! from has them (through the node cache, which stays at that head until the batch is on
//! disk).

use std::{
    collections::{BTreeSet, HashMap},
    sync::Arc,
};

use alloy_primitives::{Address, B256, Bytes, U256};
use btcr_primitives::{Account, Header, StateError, StateReader};
use btcr_trie::{NodeKey, NodeReader, Page, PageWrites, TreeId, TrieError};
use parking_lot::MutexGuard;
use redb::{Table, WriteTransaction};

use crate::{
    BlockCommit, ChainStore, Snapshot, StoreError,
    snapshot::{read_account, read_block_hash, read_code, read_storage},
    store::write_commit,
    tables::{ACCOUNTS, CODE, HEADERS, STORAGE},
};

/// Decided blocks being written in one transaction (see the module's documentation).
pub struct StoreBatch<'s> {
    store: &'s ChainStore,
    _writing: MutexGuard<'s, ()>,
    txn: WriteTransaction,
    /// The head when the batch began: what the node cache holds.
    base: Arc<Snapshot>,
    head: Option<Header>,
    /// Pages written by the batch's blocks so far, latest content (`None`: removed).
    pages: HashMap<NodeKey, Option<Page>>,
    /// Trees wiped by the batch's blocks (their pages not in `pages` are gone).
    wiped: BTreeSet<TreeId>,
    /// Each committed block's page writes, for the node cache once the batch is on disk.
    written: Vec<(u64, PageWrites)>,
}

impl std::fmt::Debug for StoreBatch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreBatch")
            .field("head", &self.head.as_ref().map(|h| h.number))
            .field("blocks", &self.written.len())
            .finish_non_exhaustive()
    }
}

impl<'s> StoreBatch<'s> {
    pub(crate) fn new(
        store: &'s ChainStore,
        writing: MutexGuard<'s, ()>,
        txn: WriteTransaction,
        base: Arc<Snapshot>,
    ) -> Self {
        let head = base.head().cloned();
        Self {
            store,
            _writing: writing,
            txn,
            base,
            head,
            pages: HashMap::new(),
            wiped: BTreeSet::new(),
            written: Vec::new(),
        }
    }

    /// The head as the batch has it: the last block committed into it, or the store's.
    pub fn head(&self) -> Option<&Header> {
        self.head.as_ref()
    }

    /// Blocks committed into the batch so far.
    pub fn len(&self) -> usize {
        self.written.len()
    }

    /// Whether no block was committed into it yet.
    pub fn is_empty(&self) -> bool {
        self.written.is_empty()
    }

    /// A read view of the state after the batch's last block (see [`BatchView`]); it must be
    /// dropped before the next [`StoreBatch::commit`].
    pub fn view(&self) -> Result<BatchView<'_>, StoreError> {
        Ok(BatchView {
            batch: self,
            headers: self.txn.open_table(HEADERS)?,
            accounts: self.txn.open_table(ACCOUNTS)?,
            storage: self.txn.open_table(STORAGE)?,
            code: self.txn.open_table(CODE)?,
        })
    }

    /// Writes a decided block on top of the batch's head (as [`ChainStore::commit_block`]
    /// does, but not yet committed).
    pub fn commit(&mut self, commit: BlockCommit<'_>) -> Result<(), StoreError> {
        let number = commit.block.header.number;
        let writes = write_commit(&self.txn, commit)?;
        for tree in &writes.wiped {
            self.pages.retain(|key, _| key.tree != *tree);
            self.wiped.insert(*tree);
        }
        for (key, page) in &writes.pages {
            self.pages.insert(*key, page.clone());
        }
        self.written.push((number, writes));
        self.head = Some(commit.block.header.clone());
        Ok(())
    }

    /// Commits every block of the batch in one transaction, on disk when this returns;
    /// snapshots show them from then on.
    pub fn finish(self) -> Result<(), StoreError> {
        if self.written.is_empty() {
            return Ok(());
        }
        let Self { store, _writing, txn, written, .. } = self;
        store.finish_batch(txn, written)
    }
}

/// The state after a batch's last block, for executing the next one.
pub struct BatchView<'b> {
    batch: &'b StoreBatch<'b>,
    headers: Table<'b, u64, &'static [u8]>,
    accounts: Table<'b, &'static [u8; 20], &'static [u8]>,
    storage: Table<'b, &'static [u8; 52], &'static [u8; 32]>,
    code: Table<'b, &'static [u8; 32], &'static [u8]>,
}

impl std::fmt::Debug for BatchView<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchView").field("batch", self.batch).finish_non_exhaustive()
    }
}

impl StateReader for BatchView<'_> {
    fn account(&self, address: &Address) -> Result<Option<Account>, StateError> {
        read_account(&self.accounts, address)
    }

    fn storage(&self, address: &Address, slot: &U256) -> Result<U256, StateError> {
        read_storage(&self.storage, address, slot)
    }

    fn code(&self, code_hash: &B256) -> Result<Option<Bytes>, StateError> {
        read_code(&self.code, code_hash)
    }

    fn block_hash(&self, number: u64) -> Result<Option<B256>, StateError> {
        read_block_hash(&self.headers, number)
    }
}

impl NodeReader for BatchView<'_> {
    fn page(&self, key: &NodeKey) -> Result<Option<Page>, TrieError> {
        let batch = self.batch;
        if let Some(page) = batch.pages.get(key) {
            return Ok(page.clone());
        }
        if batch.wiped.contains(&key.tree) {
            return Ok(None);
        }
        // Not written by the batch: as the head it began from has it (the account tree's
        // pages from the node cache, which holds that head until the batch is on disk).
        batch.base.page(key)
    }
}
