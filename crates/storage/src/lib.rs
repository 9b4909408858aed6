//! The embedded chain store: blocks, receipts, the transaction index, account state, code,
//! storage and the state tree's nodes, in one ACID database file (redb).
//!
//! ```text
//!  decided block + receipts + StateChanges + trie NodeWrites + certificate (+ next set)
//!        │ ChainStore::commit_block   (one write transaction, fsync'd before it returns)
//!        ▼                              ChainStore::index_blocks (the address index's
//!                                       consumer: rows and checkpoint in one transaction)
//!  chain.redb ──ChainStore::snapshot──▶ Snapshot (a consistent read view: blocks, StateReader,
//!                                                 NodeReader for the state tree)
//! ```
//!
//! Invariants: the `head` entry and every table change of a block are written in the same
//! transaction, so after any crash the store holds exactly the blocks up to `head` and the
//! state after `head`; a block is only ever committed on top of the current head; the store
//! keeps the latest state (historical state is not kept yet). Blocks below the `earliest` mark
//! (`ChainStore::prune_blocks`, or a store that began from a snapshot) are gone but for
//! genesis, and reading them fails with `StoreError::Pruned`.

mod batch;
mod error;
mod snapshot;
mod store;
mod tables;

pub use batch::{BatchView, StoreBatch};
pub use error::StoreError;
pub use snapshot::Snapshot;
pub use store::{
    ADDRESS_INDEX, BlockAddresses, BlockCommit, ChainStore, CommitDurability, SCHEMA_VERSION,
    SnapshotInstall, StoreConfig, StoredBlock,
};
