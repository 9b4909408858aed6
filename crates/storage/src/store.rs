//! Opening the store and committing blocks.

use std::{path::Path, sync::Arc};

use parking_lot::{Mutex, RwLock};

use alloy_primitives::{Address, B256, U256};
use btcr_primitives::{
    Account, AccountBalance, Block, BlockAccounts, BlockBody, CommitCertificate, GenesisValidator,
    Misbehavior, ReceiptEnvelope, StateChanges,
};
use btcr_trie::{NodeCache, NodeKey, NodeReader, NodeWrites, Page, PageWrites, TreeId, TrieError};
use redb::{Database, Durability, ReadableDatabase, ReadableTable};

use crate::{Snapshot, StoreError, tables::*};

/// Version of the on-disk layout this node reads and writes.
pub const SCHEMA_VERSION: u32 = 8;
/// An older schema, which lacks the misbehavior table and the address indexes.
const SCHEMA_WITHOUT_MISBEHAVIOR: u32 = 3;
/// An older schema, which lacks the address indexes.
const SCHEMA_WITHOUT_ADDRESS_INDEX: u32 = 4;
/// An older schema, whose address index lacks token transfers and which has no token index.
const SCHEMA_WITHOUT_TOKEN_INDEX: u32 = 5;
/// An older schema: each commit wrote the address index itself (complete when its
/// `address_index_from` entry is at most 1); no consumer checkpoints, no validator sets.
const SCHEMA_INDEX_IN_COMMIT: u32 = 6;
/// The previous schema, which kept no senders and balances beside the blocks.
const SCHEMA_WITHOUT_BLOCK_ACCOUNTS: u32 = 7;

/// The consumer of committed blocks that keeps the address and token indexes in this store,
/// by the name its checkpoint is kept under.
pub const ADDRESS_INDEX: &str = "address-index";

/// What one block adds to the address indexes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockAddresses {
    /// For each transaction, in order, the addresses it concerns: sender, recipient or
    /// created contract, and the senders and recipients of the tokens it moved.
    pub transactions: Vec<Vec<Address>>,
    /// (holder, token) for each ERC-20 token transfer's sender and recipient.
    pub token_holders: Vec<(Address, Address)>,
}

/// Everything that one decided block writes.
#[derive(Debug, Clone, Copy)]
pub struct BlockCommit<'a> {
    /// The block.
    pub block: &'a Block,
    /// Hashes of its transactions, in order.
    pub tx_hashes: &'a [B256],
    /// The sender of each transaction, in order.
    pub senders: &'a [Address],
    /// Its receipts, in order.
    pub receipts: &'a [ReceiptEnvelope],
    /// Its state changes, with storage roots filled in.
    pub changes: &'a StateChanges,
    /// Its state-tree node writes.
    pub node_writes: &'a NodeWrites,
    /// The proof it was decided (none for genesis).
    pub certificate: Option<&'a CommitCertificate>,
    /// When the block ends an epoch (and for genesis): the set that decides the blocks from
    /// the next one on.
    pub next_validators: Option<&'a [GenesisValidator]>,
}

/// When a block's commit reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitDurability {
    /// Before the commit returns.
    Immediate,
    /// With the next immediate commit (or [`ChainStore::persist`]). A crash before then loses
    /// this commit and the deferred ones around it, and leaves the store as the last
    /// immediate commit left it.
    Deferred,
}

/// A block as a snapshot carries it: everything the store keeps of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlock {
    /// The block.
    pub block: Block,
    /// Its receipts, in order.
    pub receipts: Vec<ReceiptEnvelope>,
    /// The proof it was decided.
    pub certificate: Option<CommitCertificate>,
    /// Its senders and the balances it left, when known.
    pub accounts: Option<BlockAccounts>,
}

/// What a snapshot installs into an empty store: the head's state and the blocks before it
/// that a node needs to go on (see `btcr db snapshot`). The caller has verified all of it.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotInstall<'a> {
    /// Block 0, which the store always keeps.
    pub genesis: &'a Block,
    /// Consecutive blocks, the head last; the first is the earliest the store will keep.
    pub blocks: &'a [StoredBlock],
    /// The state after the head, as changes to an empty state (storage roots filled in).
    pub changes: &'a StateChanges,
    /// The state tree's nodes for `changes`.
    pub node_writes: &'a NodeWrites,
    /// The validator sets, each with the first block it decides.
    pub validator_sets: &'a [(u64, Vec<GenesisValidator>)],
}

/// Tuning of the store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Bytes of redb's page cache.
    pub page_cache_bytes: usize,
    /// Account-tree pages kept in memory (a page holds up to 15 nodes; about 300 bytes with
    /// its map entry, on average). The default, 2 million, holds the whole account tree of
    /// about 3 million accounts (1 million accounts take 655,000 pages); the cache fills only
    /// as the state grows.
    pub node_cache_pages: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self { page_cache_bytes: 256 * 1024 * 1024, node_cache_pages: 2_000_000 }
    }
}

/// The chain store. Cheap to clone; clones share one database.
#[derive(Clone)]
pub struct ChainStore {
    db: Arc<Database>,
    /// Nodes of the account tree at the head, shared with every snapshot of the head.
    node_cache: Arc<NodeCache>,
    /// A read view of the latest commit, replaced by each commit: readers share it instead
    /// of each opening a read transaction and its tables.
    latest: Arc<RwLock<Arc<Snapshot>>>,
    /// Held from the start of each write until `latest` shows it, so that two writers
    /// (a commit and a consumer's index write) never install their views out of order.
    write_lock: Arc<Mutex<()>>,
}

impl std::fmt::Debug for ChainStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainStore").finish_non_exhaustive()
    }
}

impl ChainStore {
    /// Opens (or creates) the store in `dir` with the default tuning.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(dir, &StoreConfig::default())
    }

    /// Opens (or creates) the store in `dir`, creating its tables and checking the schema.
    pub fn open_with(dir: &Path, config: &StoreConfig) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|source| StoreError::Io { path: dir.to_path_buf(), source })?;
        let db = Database::builder()
            .set_cache_size(config.page_cache_bytes)
            .create(dir.join("chain.redb"))?;
        let txn = db.begin_write()?;
        {
            let mut meta = txn.open_table(META)?;
            let found = meta.get("schema_version")?.map(|v| read_u32(v.value()));
            match found {
                None => {
                    meta.insert("schema_version", SCHEMA_VERSION.to_be_bytes().as_slice())?;
                }
                Some(Some(v)) if v == SCHEMA_VERSION => {}
                Some(Some(SCHEMA_WITHOUT_BLOCK_ACCOUNTS)) => {
                    // The table is created below; blocks stored until now have no entry.
                    meta.insert("schema_version", SCHEMA_VERSION.to_be_bytes().as_slice())?;
                }
                Some(Some(SCHEMA_INDEX_IN_COMMIT)) => {
                    // A complete index is the address index's output up to the head; a
                    // partial one (an upgrade from before the index, still filling in from
                    // the head down) is built again from genesis by its consumer.
                    let head = meta.get("head")?.and_then(|v| read_u64(v.value()));
                    let from = meta.get("address_index_from")?.and_then(|v| read_u64(v.value()));
                    match head {
                        Some(head) if from.unwrap_or(0) <= 1 => {
                            txn.open_table(CONSUMERS)?.insert(ADDRESS_INDEX, head)?;
                        }
                        _ => clear_address_index(&txn)?,
                    }
                    meta.remove("address_index_from")?;
                    meta.insert("schema_version", SCHEMA_VERSION.to_be_bytes().as_slice())?;
                }
                Some(Some(
                    SCHEMA_WITHOUT_MISBEHAVIOR
                    | SCHEMA_WITHOUT_ADDRESS_INDEX
                    | SCHEMA_WITHOUT_TOKEN_INDEX,
                )) => {
                    // The new tables are created below; the address index's consumer builds
                    // the index from genesis, having no checkpoint.
                    clear_address_index(&txn)?;
                    meta.remove("address_index_from")?;
                    meta.insert("schema_version", SCHEMA_VERSION.to_be_bytes().as_slice())?;
                }
                Some(v) => {
                    return Err(StoreError::Schema {
                        found: v.unwrap_or(0),
                        expected: SCHEMA_VERSION,
                    });
                }
            }
            // Creating every table up front lets snapshots open them without checks.
            txn.open_table(HEADERS)?;
            txn.open_table(BLOCK_NUMBERS)?;
            txn.open_table(BODIES)?;
            txn.open_table(RECEIPTS)?;
            txn.open_table(CERTIFICATES)?;
            txn.open_table(TX_INDEX)?;
            txn.open_table(ACCOUNTS)?;
            txn.open_table(STORAGE)?;
            txn.open_table(CODE)?;
            txn.open_table(TRIE_PAGES)?;
            txn.open_table(MISBEHAVIOR)?;
            txn.open_table(ADDRESS_TXS)?;
            txn.open_table(ADDRESS_TOKENS)?;
            txn.open_table(CONSUMERS)?;
            txn.open_table(VALIDATOR_SETS)?;
            txn.open_table(BLOCK_ACCOUNTS)?;
        }
        if txn.open_table(META)?.get("supply")?.is_none() {
            let supply = sum_balances(&txn)?;
            txn.open_table(META)?.insert("supply", supply.to_be_bytes::<32>().as_slice())?;
        }
        txn.commit()?;
        let node_cache = Arc::new(NodeCache::new(TreeId::ACCOUNTS, config.node_cache_pages));
        let latest = Snapshot::new(db.begin_read()?, node_cache.clone())?;
        if let Some(head) = latest.head_number() {
            node_cache.advance(&PageWrites::default(), head);
        }
        Ok(Self {
            db: Arc::new(db),
            node_cache,
            latest: Arc::new(RwLock::new(Arc::new(latest))),
            write_lock: Arc::new(Mutex::new(())),
        })
    }

    /// Keeps evidence of a validator's misbehavior, durably; `false` when the same validator,
    /// height and kind were already recorded.
    pub fn record_misbehavior(&self, evidence: &Misbehavior) -> Result<bool, StoreError> {
        let key = misbehavior_key(evidence.height, &evidence.validator.0.0, evidence.kind.code());
        let _writing = self.write_lock.lock();
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        let new = {
            let mut table = txn.open_table(MISBEHAVIOR)?;
            let new = table.get(&key)?.is_none();
            if new {
                table.insert(&key, alloy_rlp::encode(evidence).as_slice())?;
            }
            new
        };
        txn.commit()?;
        self.refresh()?;
        Ok(new)
    }

    /// Writes what blocks add to the address indexes, `blocks` being consecutive and the
    /// first of them following the [`ADDRESS_INDEX`] checkpoint, and moves the checkpoint to
    /// the last, in one transaction. `durable` waits for the disk (a catch-up batch); a
    /// live block's entries need not, since the next block's commit makes them durable,
    /// and a crash before it loses the checkpoint with them.
    pub fn index_blocks(
        &self,
        blocks: &[(u64, BlockAddresses)],
        durable: bool,
    ) -> Result<(), StoreError> {
        let Some((first, _)) = blocks.first() else { return Ok(()) };
        let _writing = self.write_lock.lock();
        let mut txn = self.db.begin_write()?;
        txn.set_durability(if durable { Durability::Immediate } else { Durability::None })?;
        {
            let mut consumers = txn.open_table(CONSUMERS)?;
            let checkpoint = consumers.get(ADDRESS_INDEX)?.map(|v| v.value());
            let mut next = checkpoint.map_or(0, |c| c + 1);
            for (number, addresses) in blocks {
                if *number != next {
                    return Err(StoreError::NotNextForConsumer {
                        consumer: ADDRESS_INDEX.into(),
                        first: *first,
                        checkpoint,
                    });
                }
                index_addresses(&txn, *number, addresses)?;
                next += 1;
            }
            consumers.insert(ADDRESS_INDEX, next - 1)?;
        }
        txn.commit()?;
        self.refresh()
    }

    /// Keeps `set` as the set deciding blocks from `first` on, when the store knows no set
    /// yet (a store made before the sets were kept); `false` when it knew one.
    pub fn seed_validator_set(
        &self,
        first: u64,
        set: &[GenesisValidator],
    ) -> Result<bool, StoreError> {
        let _writing = self.write_lock.lock();
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        let seeded = {
            let mut sets = txn.open_table(VALIDATOR_SETS)?;
            let empty = sets.first()?.is_none();
            if empty {
                sets.insert(first, encode_validator_set(set).as_slice())?;
            }
            empty
        };
        txn.commit()?;
        self.refresh()?;
        Ok(seeded)
    }

    /// A consistent read view of the latest committed block and state. Views are shared:
    /// this is cheap, and a view stays valid (and unchanged) however long it is held.
    pub fn snapshot(&self) -> Result<Arc<Snapshot>, StoreError> {
        Ok(self.latest.read().clone())
    }

    /// Writes a decided block, its receipts, state changes and tree nodes, and moves the head
    /// to it, in one transaction that is durable on disk when this returns.
    pub fn commit_block(&self, commit: BlockCommit<'_>) -> Result<(), StoreError> {
        self.commit_block_with(commit, CommitDurability::Immediate)
    }

    /// [`ChainStore::commit_block`], on disk when `durability` says.
    pub fn commit_block_with(
        &self,
        commit: BlockCommit<'_>,
        durability: CommitDurability,
    ) -> Result<(), StoreError> {
        let number = commit.block.header.number;
        let _writing = self.write_lock.lock();
        let mut txn = self.db.begin_write()?;
        txn.set_durability(match durability {
            CommitDurability::Immediate => Durability::Immediate,
            CommitDurability::Deferred => Durability::None,
        })?;
        let pages = write_commit(&txn, commit)?;
        txn.commit()?;
        self.node_cache.advance(&pages, number);
        self.refresh()
    }

    /// Starts writing consecutive decided blocks in one transaction (see [`crate::StoreBatch`]): a
    /// node catching up commits hundreds at a time. Other writers wait until it ends.
    pub fn begin_batch(&self) -> Result<crate::StoreBatch<'_>, StoreError> {
        let writing = self.write_lock.lock();
        let base = self.snapshot()?;
        let txn = self.db.begin_write()?;
        Ok(crate::StoreBatch::new(self, writing, txn, base))
    }

    /// Ends a batch: commits `txn` durably and moves the node cache through each block's
    /// page writes, in order. Called with the write lock held.
    pub(crate) fn finish_batch(
        &self,
        mut txn: redb::WriteTransaction,
        pages: Vec<(u64, PageWrites)>,
    ) -> Result<(), StoreError> {
        txn.set_durability(Durability::Immediate)?;
        txn.commit()?;
        for (number, writes) in &pages {
            self.node_cache.advance(writes, *number);
        }
        self.refresh()
    }

    /// Puts every commit made so far on disk (deferred ones included) before returning.
    pub fn persist(&self) -> Result<(), StoreError> {
        let _writing = self.write_lock.lock();
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        txn.commit()?;
        Ok(())
    }

    /// Removes every block below `head + 1 - keep` but genesis (headers, bodies, receipts,
    /// certificates, senders and the transaction index's entries), `batch` blocks per
    /// durable transaction that also moves the `earliest` mark, so a crash leaves a store
    /// that is pruned up to some batch and consistent. `progress(done, total)` after each
    /// batch. Returns the blocks removed (`from..to`), or `None` when none had to go.
    /// Refused while the address index has not applied the blocks to remove.
    pub fn prune_blocks(
        &self,
        keep: u64,
        batch: u64,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<Option<std::ops::Range<u64>>, StoreError> {
        let snapshot = self.snapshot()?;
        let Some(head) = snapshot.head_number() else { return Ok(None) };
        let from = snapshot.earliest().max(1);
        let to = (head + 1).saturating_sub(keep.max(1));
        if to <= from {
            return Ok(None);
        }
        let indexed = snapshot.consumer_checkpoint(ADDRESS_INDEX)?;
        if indexed.is_none_or(|i| i + 1 < to) {
            return Err(StoreError::Refused(format!(
                "the address index has applied blocks up to {}; blocks below {to} cannot be \
                 removed before it has (start the node and let it catch up first)",
                indexed.map_or("none".to_owned(), |i| i.to_string()),
            )));
        }
        drop(snapshot);
        let batch = batch.max(1);
        let mut next = from;
        while next < to {
            let end = (next + batch).min(to);
            let _writing = self.write_lock.lock();
            let mut txn = self.db.begin_write()?;
            txn.set_durability(Durability::Immediate)?;
            remove_blocks(&txn, next..end)?;
            txn.open_table(META)?.insert("earliest", end.to_be_bytes().as_slice())?;
            txn.commit()?;
            self.refresh()?;
            next = end;
            progress(next - from, to - from);
        }
        Ok(Some(from..to))
    }

    /// Writes a verified snapshot into this store, which must be empty, in one durable
    /// transaction: afterwards the head is the snapshot's, with its state, and blocks below
    /// the snapshot's first are [`StoreError::Pruned`].
    pub fn install_snapshot(&self, install: SnapshotInstall<'_>) -> Result<(), StoreError> {
        let (Some(first), Some(last)) = (install.blocks.first(), install.blocks.last()) else {
            return Err(StoreError::Refused("a snapshot without blocks".into()));
        };
        let (earliest, head) = (first.block.header.number, last.block.header.number);
        if earliest == 0 || install.genesis.header.number != 0 {
            return Err(StoreError::Refused("a snapshot's blocks start after genesis".into()));
        }
        let _writing = self.write_lock.lock();
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        {
            let mut meta = txn.open_table(META)?;
            if let Some(found) = meta.get("head")?.and_then(|v| read_u64(v.value())) {
                return Err(StoreError::Refused(format!(
                    "the store already holds blocks up to {found}: a snapshot goes into an \
                     empty data directory"
                )));
            }
            meta.insert("head", head.to_be_bytes().as_slice())?;
            meta.insert("earliest", earliest.to_be_bytes().as_slice())?;
            meta.insert("genesis_hash", install.genesis.hash().as_slice())?;
        }
        let genesis = StoredBlock {
            block: install.genesis.clone(),
            receipts: Vec::new(),
            certificate: None,
            accounts: None,
        };
        for (i, stored) in std::iter::once(&genesis).chain(install.blocks).enumerate() {
            let number = stored.block.header.number;
            if i > 1 && number != install.blocks[i - 2].block.header.number + 1 {
                return Err(StoreError::Refused(format!("block {number} does not follow")));
            }
            let tx_hashes: Vec<B256> =
                stored.block.body.transactions.iter().map(|tx| *tx.tx_hash()).collect();
            write_block(
                &txn,
                &stored.block,
                stored.block.hash(),
                &tx_hashes,
                &stored.receipts,
                stored.certificate.as_ref(),
                stored.accounts.as_ref(),
            )?;
        }
        {
            let mut sets = txn.open_table(VALIDATOR_SETS)?;
            for (from, set) in install.validator_sets {
                sets.insert(*from, encode_validator_set(set).as_slice())?;
            }
        }
        // The address index holds nothing below the snapshot: its consumer goes on from the
        // head.
        txn.open_table(CONSUMERS)?.insert(ADDRESS_INDEX, head)?;
        write_state(&txn, install.changes)?;
        let pages = write_pages(&txn, install.node_writes)?;
        txn.commit()?;
        self.node_cache.advance(&pages, head);
        self.refresh()
    }

    /// Installs a view of what is committed now as the latest; called by each writer while
    /// it holds the write lock.
    fn refresh(&self) -> Result<(), StoreError> {
        let latest = Snapshot::new(self.db.begin_read()?, self.node_cache.clone())?;
        *self.latest.write() = Arc::new(latest);
        Ok(())
    }
}

/// Writes one decided block on top of the head that `txn` holds (everything
/// [`ChainStore::commit_block`] writes) and returns its page writes, for the node cache.
pub(crate) fn write_commit(
    txn: &redb::WriteTransaction,
    commit: BlockCommit<'_>,
) -> Result<PageWrites, StoreError> {
    let block = commit.block;
    let number = block.header.number;
    let hash = block.hash();
    {
        let mut meta = txn.open_table(META)?;
        let head = meta.get("head")?.and_then(|v| read_u64(v.value()));
        let headers = txn.open_table(HEADERS)?;
        match head {
            None if number != 0 => {
                return Err(StoreError::NotNextBlock {
                    number,
                    reason: "store has no genesis".into(),
                });
            }
            None => {}
            Some(head) => {
                if number != head + 1 {
                    return Err(StoreError::NotNextBlock {
                        number,
                        reason: format!("head is {head}"),
                    });
                }
                let parent = headers.get(head)?.ok_or_else(|| StoreError::Corrupt {
                    what: format!("header {head}"),
                    reason: "missing".into(),
                })?;
                let parent_hash = alloy_primitives::keccak256(parent.value());
                if parent_hash != block.header.parent_hash {
                    return Err(StoreError::NotNextBlock {
                        number,
                        reason: format!(
                            "parent hash {} differs from head hash {parent_hash}",
                            block.header.parent_hash
                        ),
                    });
                }
            }
        }
        drop(headers);
        meta.insert("head", number.to_be_bytes().as_slice())?;
        if number == 0 {
            meta.insert("genesis_hash", hash.as_slice())?;
        }
    }
    if let Some(set) = commit.next_validators {
        txn.open_table(VALIDATOR_SETS)?.insert(number + 1, encode_validator_set(set).as_slice())?;
    }
    let accounts = BlockAccounts {
        senders: commit.senders.to_vec(),
        balances: commit
            .changes
            .accounts
            .iter()
            .map(|(address, change)| AccountBalance {
                address: *address,
                balance: change.account.as_ref().map_or(U256::ZERO, |a| a.balance),
            })
            .collect(),
    };
    write_block(
        txn,
        block,
        hash,
        commit.tx_hashes,
        commit.receipts,
        commit.certificate,
        Some(&accounts),
    )?;
    write_state(txn, commit.changes)?;
    write_pages(txn, commit.node_writes)
}

/// Writes what the store keeps of one block (header, hash, body, receipts, certificate,
/// senders and balances, the transaction index's entries); [`remove_blocks`] undoes it.
fn write_block(
    txn: &redb::WriteTransaction,
    block: &Block,
    hash: B256,
    tx_hashes: &[B256],
    receipts: &[ReceiptEnvelope],
    certificate: Option<&CommitCertificate>,
    accounts: Option<&BlockAccounts>,
) -> Result<(), StoreError> {
    let number = block.header.number;
    txn.open_table(HEADERS)?.insert(number, alloy_rlp::encode(&block.header).as_slice())?;
    txn.open_table(BLOCK_NUMBERS)?.insert(&hash.0, number)?;
    txn.open_table(BODIES)?.insert(number, alloy_rlp::encode(&block.body).as_slice())?;
    txn.open_table(RECEIPTS)?.insert(number, encode_receipts(receipts).as_slice())?;
    if let Some(cert) = certificate {
        txn.open_table(CERTIFICATES)?.insert(number, alloy_rlp::encode(cert).as_slice())?;
    }
    if let Some(accounts) = accounts {
        txn.open_table(BLOCK_ACCOUNTS)?.insert(number, alloy_rlp::encode(accounts).as_slice())?;
    }
    let mut index = txn.open_table(TX_INDEX)?;
    for (i, tx_hash) in tx_hashes.iter().enumerate() {
        index.insert(&tx_hash.0, (number, i as u32))?;
    }
    Ok(())
}

/// Removes blocks `range` (see [`ChainStore::prune_blocks`]).
fn remove_blocks(
    txn: &redb::WriteTransaction,
    range: std::ops::Range<u64>,
) -> Result<(), StoreError> {
    let mut headers = txn.open_table(HEADERS)?;
    let mut numbers = txn.open_table(BLOCK_NUMBERS)?;
    let mut bodies = txn.open_table(BODIES)?;
    let mut tx_index = txn.open_table(TX_INDEX)?;
    let mut receipts = txn.open_table(RECEIPTS)?;
    let mut certificates = txn.open_table(CERTIFICATES)?;
    let mut accounts = txn.open_table(BLOCK_ACCOUNTS)?;
    for number in range {
        let header = headers.remove(number)?.map(|v| alloy_primitives::keccak256(v.value()));
        if let Some(hash) = header {
            numbers.remove(&hash.0)?;
        }
        let body = bodies.remove(number)?.map(|v| v.value().to_vec());
        if let Some(body) = body {
            let body: BlockBody =
                alloy_rlp::Decodable::decode(&mut body.as_slice()).map_err(|e| {
                    StoreError::Corrupt { what: format!("body {number}"), reason: e.to_string() }
                })?;
            for tx in &body.transactions {
                tx_index.remove(&tx.tx_hash().0)?;
            }
        }
        receipts.remove(number)?;
        certificates.remove(number)?;
        accounts.remove(number)?;
    }
    Ok(())
}

/// Empties the address and token indexes (their consumer builds them again from genesis).
fn clear_address_index(txn: &redb::WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(ADDRESS_TXS)?.retain(|_, _| false)?;
    txn.open_table(ADDRESS_TOKENS)?.retain(|_, _| false)?;
    txn.open_table(CONSUMERS)?.remove(ADDRESS_INDEX)?;
    Ok(())
}

/// A validator as the store keeps it in a set.
#[derive(alloy_rlp::RlpEncodable, alloy_rlp::RlpDecodable)]
pub(crate) struct StoredValidator {
    address: Address,
    public_key: alloy_primitives::Bytes,
    power: u64,
}

fn encode_validator_set(set: &[GenesisValidator]) -> Vec<u8> {
    let stored: Vec<StoredValidator> = set
        .iter()
        .map(|v| StoredValidator {
            address: v.address,
            public_key: v.public_key.clone(),
            power: v.power,
        })
        .collect();
    alloy_rlp::encode(stored)
}

pub(crate) fn decode_validator_set(
    bytes: &[u8],
) -> Result<Vec<GenesisValidator>, alloy_rlp::Error> {
    let stored: Vec<StoredValidator> = alloy_rlp::Decodable::decode(&mut &bytes[..])?;
    Ok(stored
        .into_iter()
        .map(|v| GenesisValidator { address: v.address, public_key: v.public_key, power: v.power })
        .collect())
}

fn index_addresses(
    txn: &redb::WriteTransaction,
    number: u64,
    block: &BlockAddresses,
) -> Result<(), StoreError> {
    let mut table = txn.open_table(ADDRESS_TXS)?;
    for (i, addresses) in block.transactions.iter().enumerate() {
        for address in addresses {
            table.insert(&address_tx_key(&address.0.0, number, i as u32), ())?;
        }
    }
    let mut tokens = txn.open_table(ADDRESS_TOKENS)?;
    for (holder, token) in &block.token_holders {
        tokens.insert(&address_token_key(&holder.0.0, &token.0.0), ())?;
    }
    Ok(())
}

/// Writes a block's state changes and keeps the `supply` entry (the sum of all balances)
/// up to date with the balances they replace.
fn write_state(txn: &redb::WriteTransaction, changes: &StateChanges) -> Result<(), StoreError> {
    let mut accounts = txn.open_table(ACCOUNTS)?;
    let mut storage = txn.open_table(STORAGE)?;
    let (mut gained, mut lost) = (U256::ZERO, U256::ZERO);
    for (address, change) in &changes.accounts {
        let addr: &[u8; 20] = &address.0.0;
        if change.storage_wiped || change.account.is_none() {
            let start = storage_key(addr, &[0u8; 32]);
            let end = storage_key(addr, &[0xffu8; 32]);
            storage.retain_in::<&[u8; 52], _>(&start..=&end, |_, _| false)?;
        }
        let old = match &change.account {
            Some(account) => {
                gained += account.balance;
                accounts.insert(addr, alloy_rlp::encode(account).as_slice())?
            }
            None => accounts.remove(addr)?,
        };
        if let Some(old) = old {
            lost += decode_account(address, old.value())?.balance;
        }
        for (slot, value) in &change.storage {
            let key = storage_key(addr, &slot.to_be_bytes::<32>());
            if value.is_zero() {
                storage.remove(&key)?;
            } else {
                storage.insert(&key, &value.to_be_bytes::<32>())?;
            }
        }
    }
    let mut code = txn.open_table(CODE)?;
    for (hash, bytes) in &changes.codes {
        code.insert(&hash.0, bytes.as_ref())?;
    }
    let mut meta = txn.open_table(META)?;
    let supply = meta.get("supply")?.and_then(|v| read_u256(v.value())).unwrap_or_default();
    let supply = (supply + gained).checked_sub(lost).ok_or_else(|| StoreError::Corrupt {
        what: "supply".into(),
        reason: "the replaced balances exceed the recorded supply".into(),
    })?;
    meta.insert("supply", supply.to_be_bytes::<32>().as_slice())?;
    Ok(())
}

fn decode_account(address: &Address, bytes: &[u8]) -> Result<Account, StoreError> {
    alloy_rlp::Decodable::decode(&mut &bytes[..]).map_err(|e| StoreError::Corrupt {
        what: format!("account {address}"),
        reason: e.to_string(),
    })
}

/// The sum of every balance in the accounts table (for a store made before `supply` was
/// kept).
fn sum_balances(txn: &redb::WriteTransaction) -> Result<U256, StoreError> {
    let accounts = txn.open_table(ACCOUNTS)?;
    let mut sum = U256::ZERO;
    for entry in accounts.iter()? {
        let (key, value) = entry?;
        sum += decode_account(&Address::from(*key.value()), value.value())?.balance;
    }
    Ok(sum)
}

/// The page table inside a write transaction, as a reader of the state being replaced.
struct WritePages<'t>(redb::Table<'t, &'static [u8; 55], &'static [u8]>);

impl NodeReader for WritePages<'_> {
    fn page(&self, key: &NodeKey) -> Result<Option<Page>, TrieError> {
        crate::snapshot::read_page(&self.0, key)
    }
}

/// Turns the block's node writes into page writes on top of the stored pages and writes
/// them; returns them for the node cache.
fn write_pages(
    txn: &redb::WriteTransaction,
    writes: &NodeWrites,
) -> Result<PageWrites, StoreError> {
    let mut table = WritePages(txn.open_table(TRIE_PAGES)?);
    let pages = writes.page_writes(&table)?;
    let table = &mut table.0;
    for tree in &pages.wiped {
        let mut start = [0u8; NodeKey::ENCODED_LEN];
        start[..21].copy_from_slice(&tree.0);
        let mut end = [0xffu8; NodeKey::ENCODED_LEN];
        end[..21].copy_from_slice(&tree.0);
        table.retain_in::<&[u8; NodeKey::ENCODED_LEN], _>(&start..=&end, |_, _| false)?;
    }
    for (key, page) in &pages.pages {
        let key = key.to_bytes();
        match page {
            Some(page) => {
                table.insert(&key, page.as_bytes())?;
            }
            None => {
                table.remove(&key)?;
            }
        }
    }
    Ok(pages)
}

pub(crate) fn read_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

pub(crate) fn read_u256(bytes: &[u8]) -> Option<U256> {
    Some(U256::from_be_bytes::<32>(bytes.try_into().ok()?))
}

fn read_u32(bytes: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}

/// The receipts as one RLP list, encoded without copying them first.
fn encode_receipts(receipts: &[ReceiptEnvelope]) -> Vec<u8> {
    let mut out = Vec::new();
    alloy_rlp::encode_list::<ReceiptEnvelope, ReceiptEnvelope>(receipts, &mut out);
    out
}
