//! Store errors.

/// A failed store operation. Any failure to write is fatal for the node.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The database engine failed (IO, corruption, lock held by another process).
    #[error("chain store: {0}")]
    Db(String),
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
                StoreError::Db(e.to_string())
            }
        }
    )*};
}
from_redb!(
    redb::Error,
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
            TrieError::Store(message) => StoreError::Db(message),
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
