//! Store errors.

/// A failed store operation. Any failure to write is fatal for the node.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database engine failed (IO, corruption, lock held by another process).
    #[error("chain store: {0}")]
    Db(#[source] redb::Error),
    /// The data directory cannot be made or read.
    #[error("chain store: {}: {source}", path.display())]
    Io {
        /// The directory.
        path: std::path::PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The state tree failed while a commit turned its node writes into pages.
    #[error("chain store: {0}")]
    Tree(#[source] btcr_trie::TrieError),
    /// A consumer's output does not follow its checkpoint.
    #[error(
        "chain store: consumer {consumer} writes block {first}, but its checkpoint is {checkpoint:?}"
    )]
    NotNextForConsumer {
        /// The consumer.
        consumer: String,
        /// The first block it tried to write.
        first: u64,
        /// The last block it wrote before.
        checkpoint: Option<u64>,
    },
    /// A stored record does not decode.
    #[error("chain store: corrupt {what}: {reason}")]
    Corrupt {
        /// What was being read.
        what: String,
        /// Why it does not decode.
        reason: String,
    },
    /// The data directory was written by an incompatible version.
    #[error("chain store: schema version {found} is not supported (this node reads {expected})")]
    Schema {
        /// Version on disk.
        found: u32,
        /// Version this node writes.
        expected: u32,
    },
    /// A block below the earliest one the store keeps (`btcr db prune`, or a store that
    /// began from a snapshot).
    #[error("block {number} is pruned: this node keeps blocks from {earliest} on")]
    Pruned {
        /// The block asked for.
        number: u64,
        /// The lowest block kept (beside genesis).
        earliest: u64,
    },
    /// A prune or a snapshot's install that would break what the store holds.
    #[error("chain store: {0}")]
    Refused(String),
    /// A block that does not extend the head.
    #[error("chain store: block {number} does not extend the head ({reason})")]
    NotNextBlock {
        /// Number of the rejected block.
        number: u64,
        /// What does not match.
        reason: String,
    },
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(redb::Error::from(e))
            }
        }
    )*};
}
impl From<redb::Error> for StoreError {
    fn from(e: redb::Error) -> Self {
        StoreError::Db(e)
    }
}

from_redb!(
    redb::SetDurabilityError,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

impl From<StoreError> for btcr_primitives::StateError {
    fn from(e: StoreError) -> Self {
        btcr_primitives::StateError(e.to_string())
    }
}

impl From<StoreError> for btcr_trie::TrieError {
    fn from(e: StoreError) -> Self {
        btcr_trie::TrieError::Store(e.to_string())
    }
}

impl From<btcr_trie::TrieError> for StoreError {
    fn from(e: btcr_trie::TrieError) -> Self {
        use btcr_trie::TrieError;
        match e {
            e @ TrieError::Store(_) => StoreError::Tree(e),
            TrieError::Corrupt { key, reason } => {
                StoreError::Corrupt { what: format!("tree page {key}"), reason: reason.into() }
            }
            TrieError::Missing(key) => StoreError::Corrupt {
                what: format!("tree node {key}"),
                reason: "missing below an internal node".into(),
            },
        }
    }
}
