//! The index in PostgreSQL: its tables (`migrations/`), the checkpoint, a batch of blocks
//! written with bulk `COPY` and the checkpoint in one transaction, and reverting blocks.

use alloy_primitives::B256;
use btcr_primitives::StreamedBlock;
use sqlx::{
    Connection as _, PgConnection,
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions},
};

use crate::{
    IndexerError,
    rows::{COLUMNS, Rows},
};

static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// The tables whose rows belong to a block, with the column that names it.
const BY_BLOCK: [(&str, &str); 8] = [
    ("blocks", "number"),
    ("transactions", "block_number"),
    ("receipts", "block_number"),
    ("logs", "block_number"),
    ("token_transfers", "block_number"),
    ("balances", "block_number"),
    ("block_signers", "block_number"),
    // A set starting at `b + 1` was elected by block `b`.
    ("validator_sets", "first_block - 1"),
];

/// The secondary indexes, which queries use and writes keep up to date: made once the
/// index has caught up, dropped for a bulk backfill (building one at the end costs far
/// less than keeping it through millions of inserts).
pub const SECONDARY_INDEXES: [(&str, &str); 10] = [
    ("blocks_by_proposer", "blocks (proposer, number)"),
    ("transactions_by_sender", "transactions (sender, block_number)"),
    ("transactions_by_recipient", "transactions (recipient, block_number)"),
    ("receipts_by_block", "receipts (block_number)"),
    ("logs_by_address", "logs (address, block_number)"),
    ("token_transfers_by_token", "token_transfers (token, block_number)"),
    ("token_transfers_by_sender", "token_transfers (sender, block_number)"),
    ("token_transfers_by_recipient", "token_transfers (recipient, block_number)"),
    ("balances_by_block", "balances (block_number)"),
    ("block_signers_by_validator", "block_signers (validator, block_number)"),
];

/// The keys of the big tables, which a bulk backfill drops with the secondary indexes and
/// adds back at the head: inserting 10 million random hashes into a B-tree costs more than
/// the rows themselves, and adding the key at the end still proves every row unique (a
/// duplicate would fail it, loudly). `blocks` keeps its key throughout.
pub const BULK_KEYS: [(&str, &str, &str); 7] = [
    ("transactions", "transactions_pkey", "PRIMARY KEY (hash)"),
    ("transactions", "transactions_block_number_tx_index_key", "UNIQUE (block_number, tx_index)"),
    ("receipts", "receipts_pkey", "PRIMARY KEY (tx_hash)"),
    ("logs", "logs_pkey", "PRIMARY KEY (block_number, log_index)"),
    (
        "token_transfers",
        "token_transfers_pkey",
        "PRIMARY KEY (block_number, log_index, batch_index)",
    ),
    ("balances", "balances_pkey", "PRIMARY KEY (address, block_number)"),
    ("block_signers", "block_signers_pkey", "PRIMARY KEY (block_number, validator)"),
];

/// The advisory lock a writer holds for its transaction ("btcr-idx" in ASCII).
const WRITER_LOCK: i64 = 0x6274_6372_2d69_6478;

/// How far the index has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    /// The last block indexed.
    pub height: u64,
    /// Its hash.
    pub hash: B256,
}

/// What a write did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// Blocks written (those at or below the checkpoint are skipped).
    pub blocks: u64,
    /// Their transactions.
    pub transactions: u64,
}

/// The index on one PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgIndex {
    pool: sqlx::PgPool,
}

impl PgIndex {
    /// Connects to `url` (`postgres://…`) and creates or updates the tables.
    pub async fn open(url: &str) -> Result<Self, IndexerError> {
        let options: PgConnectOptions =
            url.parse().map_err(|e| IndexerError::Invalid(format!("the PostgreSQL URL: {e}")))?;
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect_with(options)
            .await?;
        MIGRATIONS.run(&pool).await.map_err(|e| IndexerError::Database(e.into()))?;
        Ok(Self { pool })
    }

    /// The pool, for queries of the caller's own (tests, tools).
    pub fn pool(&self) -> &sqlx::PgPool {
        &self.pool
    }

    /// Adds the keys and makes the secondary indexes that are missing; how many.
    pub async fn ensure_indexes(&self) -> Result<usize, IndexerError> {
        let missing = self.missing_indexes().await?;
        let wanted = |name: &str| missing.iter().any(|m| m == name);
        for (table, name, key) in BULK_KEYS.iter().filter(|(_, n, _)| wanted(n)) {
            sqlx::query(&format!("ALTER TABLE {table} ADD CONSTRAINT {name} {key}"))
                .execute(&self.pool)
                .await?;
        }
        for (name, on) in SECONDARY_INDEXES.iter().filter(|(n, _)| wanted(n)) {
            sqlx::query(&format!("CREATE INDEX IF NOT EXISTS {name} ON {on}"))
                .execute(&self.pool)
                .await?;
        }
        Ok(missing.len())
    }

    /// Drops the secondary indexes and the big tables' keys, for a bulk backfill.
    pub async fn drop_indexes(&self) -> Result<(), IndexerError> {
        for (name, _) in SECONDARY_INDEXES {
            sqlx::query(&format!("DROP INDEX IF EXISTS {name}")).execute(&self.pool).await?;
        }
        for (table, name, _) in BULK_KEYS {
            sqlx::query(&format!("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}"))
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// The keys and secondary indexes that do not exist (a bulk backfill under way, or
    /// stopped).
    pub async fn missing_indexes(&self) -> Result<Vec<String>, IndexerError> {
        let existing: Vec<(String,)> = sqlx::query_as(
            "SELECT indexname::TEXT FROM pg_indexes WHERE schemaname = current_schema()",
        )
        .fetch_all(&self.pool)
        .await?;
        let keys = BULK_KEYS.iter().map(|(_, name, _)| *name);
        let names = keys.chain(SECONDARY_INDEXES.iter().map(|(name, _)| *name));
        Ok(names.map(str::to_owned).filter(|name| !existing.iter().any(|(e,)| e == name)).collect())
    }

    /// The checkpoint; `None` before the first block.
    pub async fn checkpoint(&self) -> Result<Option<Checkpoint>, IndexerError> {
        let mut connection = self.pool.acquire().await?;
        read_checkpoint(&mut connection, false).await
    }

    /// Writes `blocks` (consecutive) and moves the checkpoint to the last of them, in one
    /// transaction. Blocks at or below the checkpoint are skipped, so writing a batch again
    /// changes nothing; a block that does not follow the checkpoint (its parent is not the
    /// last indexed block) is refused with [`IndexerError::Fork`] or [`IndexerError::Gap`].
    pub async fn write(&self, blocks: &[StreamedBlock]) -> Result<Written, IndexerError> {
        let mut connection = self.pool.acquire().await?;
        let mut tx = connection.begin().await?;
        let checkpoint = read_checkpoint(&mut tx, true).await?;
        let fresh: Vec<&StreamedBlock> = blocks
            .iter()
            .filter(|b| checkpoint.is_none_or(|c| b.block.header.number > c.height))
            .collect();
        let Some(last) = fresh.last() else {
            return Ok(Written::default());
        };
        let (mut expected_number, mut expected_parent) = match checkpoint {
            Some(c) => (c.height + 1, Some(c.hash)),
            None => (0, None),
        };
        let mut rows = Rows::default();
        for block in &fresh {
            let header = &block.block.header;
            if header.number != expected_number {
                return Err(IndexerError::Gap { expected: expected_number, got: header.number });
            }
            if expected_parent.is_some_and(|parent| parent != header.parent_hash) {
                return Err(IndexerError::Fork { number: header.number });
            }
            rows.add(block);
            expected_number += 1;
            expected_parent = Some(block.block.hash());
        }
        for (table, columns) in COLUMNS {
            let text = rows.table(table);
            if text.is_empty() {
                continue;
            }
            let mut copy = tx.copy_in_raw(&format!("COPY {table} ({columns}) FROM STDIN")).await?;
            copy.send(text.as_bytes()).await?;
            copy.finish().await?;
        }
        let height = last.block.header.number;
        sqlx::query(
            "INSERT INTO indexer_checkpoint (id, height, hash) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET height = excluded.height, hash = excluded.hash",
        )
        .bind(height as i64)
        .bind(last.block.hash().as_slice())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Written { blocks: fresh.len() as u64, transactions: rows.n_transactions })
    }

    /// Removes every row of the blocks above `height` and moves the checkpoint back to it
    /// (no checkpoint when nothing is left), in one transaction.
    pub async fn revert_to(&self, height: Option<u64>) -> Result<(), IndexerError> {
        let above = height.map_or(-1, |h| h as i64);
        let mut connection = self.pool.acquire().await?;
        let mut tx = connection.begin().await?;
        read_checkpoint(&mut tx, true).await?;
        for (table, column) in BY_BLOCK {
            sqlx::query(&format!("DELETE FROM {table} WHERE {column} > $1"))
                .bind(above)
                .execute(&mut *tx)
                .await?;
        }
        let kept: Option<(Vec<u8>,)> = sqlx::query_as("SELECT hash FROM blocks WHERE number = $1")
            .bind(above)
            .fetch_optional(&mut *tx)
            .await?;
        match kept {
            Some((hash,)) => {
                sqlx::query("UPDATE indexer_checkpoint SET height = $1, hash = $2 WHERE id = 1")
                    .bind(above)
                    .bind(hash)
                    .execute(&mut *tx)
                    .await?;
            }
            None => {
                sqlx::query("DELETE FROM indexer_checkpoint").execute(&mut *tx).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

async fn read_checkpoint(
    connection: &mut PgConnection,
    lock: bool,
) -> Result<Option<Checkpoint>, IndexerError> {
    if lock {
        // One writer at a time (a second indexer on the same database waits here), even
        // before there is a checkpoint row to lock.
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(WRITER_LOCK)
            .execute(&mut *connection)
            .await?;
    }
    let row: Option<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT height, hash FROM indexer_checkpoint WHERE id = 1")
            .fetch_optional(&mut *connection)
            .await?;
    row.map(|(height, hash)| {
        let hash: [u8; 32] = hash
            .try_into()
            .map_err(|_| IndexerError::Invalid("the checkpoint's hash is not 32 bytes".into()))?;
        Ok(Checkpoint { height: height as u64, hash: B256::from(hash) })
    })
    .transpose()
}
