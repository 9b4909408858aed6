//! The PostgreSQL indexer (`btcr indexer`): follows a node's committed blocks and writes
//! them into PostgreSQL for analytics and explorers that want SQL: blocks, transactions,
//! receipts, logs, decoded ERC-20/721/1155 transfers, every changed account's balance after
//! each block, the validators that signed each block and each validator set (with a view of
//! their uptime).
//!
//! ```text
//!  node: GET /api/v1/blocks/stream?from=checkpoint+1 ──frames──▶ BlockStream (source.rs)
//!        │ block frames, a head frame every 5 s while waiting, reverted frames
//!        ▼
//!  batches of ≤ 1,000 blocks / 20,000 transactions, or what came within 250 ms
//!        │ rows.rs: each table as COPY text
//!        ▼
//!  PgIndex::write (store.rs): one transaction: COPY into each table + the checkpoint
//! ```
//!
//! Nothing is lost or written twice: the checkpoint moves in the same transaction as the
//! rows, the stream restarts after it, and a batch at or below it is skipped. A block whose
//! parent is not the last indexed block (a chain that changed its mind, which a
//! proof-of-work mode will do) makes the indexer take its last block back and read again
//! from there, at most [`MAX_WALK_BACK`] blocks; a `reverted` frame takes back every block
//! above the height it names.

mod rows;
mod source;
mod store;

use std::time::{Duration, Instant};

use btcr_primitives::{StreamFrame, StreamedBlock};
use tokio_util::sync::CancellationToken;

pub use rows::{MAX_BATCH_TRANSFERS, Rows, TokenTransfer, token_transfers};
pub use source::{BlockStream, FRAME_WITHIN};
pub use store::{BULK_KEYS, Checkpoint, PgIndex, SECONDARY_INDEXES, Written};

/// Blocks a batch may hold.
pub const BATCH_BLOCKS: usize = 1_000;
/// Transactions a batch may hold (a batch ends after the block that reaches it).
pub const BATCH_TRANSACTIONS: u64 = 20_000;
/// How long a partial batch waits for more blocks before it is written.
const FLUSH_AFTER: Duration = Duration::from_millis(250);
/// Blocks taken back, one at a time, looking for where the node's chain and the index meet.
pub const MAX_WALK_BACK: u64 = 64;
/// The first wait before reconnecting; it doubles up to 10 s.
const RECONNECT_MIN: Duration = Duration::from_millis(500);
const RECONNECT_MAX: Duration = Duration::from_secs(10);

/// Why indexing failed.
#[derive(Debug, thiserror::Error)]
pub enum IndexerError {
    /// A setting or a stored value is not usable.
    #[error("{0}")]
    Invalid(String),
    /// PostgreSQL failed.
    #[error("PostgreSQL: {0}")]
    Database(#[from] sqlx::Error),
    /// The node's stream failed (unreachable, cut, malformed).
    #[error("the block stream: {0}")]
    Stream(String),
    /// A block's parent is not the last indexed block.
    #[error("block {number} does not follow the last indexed block")]
    Fork {
        /// The block.
        number: u64,
    },
    /// A block is not the next one.
    #[error("expected block {expected}, got {got}")]
    Gap {
        /// The next block.
        expected: u64,
        /// What came.
        got: u64,
    },
}

/// What to index, from where to where.
#[derive(Debug, Clone)]
pub struct IndexerConfig {
    /// The node (`http://host:port`).
    pub node_url: String,
    /// The database (`postgres://…`).
    pub postgres_url: String,
    /// Stop after this block (a backfill); `None`: follow the chain.
    pub to: Option<u64>,
    /// How often progress is logged.
    pub progress_every: Duration,
    /// Backfill in bulk: drop the secondary indexes while catching up and make them when
    /// the stream reaches the node's head (or `to`, or a stop). On by default for an empty
    /// index; a bulk backfill that was interrupted goes on in bulk.
    pub bulk: Option<bool>,
}

/// Where indexing stands, for progress and for the caller at the end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Blocks written by this run.
    pub blocks: u64,
    /// Transactions written by this run.
    pub transactions: u64,
    /// The last block indexed.
    pub height: Option<u64>,
    /// The node's head, as last heard.
    pub head: Option<u64>,
}

/// How one reading of the stream ended.
enum Ended {
    /// `to` is indexed, or shutdown was asked for.
    Done,
    /// Read again from the checkpoint.
    Again,
}

/// Follows the node until `shutdown` (or `to`), reconnecting as needed; what it wrote.
pub async fn run(
    config: &IndexerConfig,
    shutdown: CancellationToken,
) -> Result<Progress, IndexerError> {
    let index = PgIndex::open(&config.postgres_url).await?;
    let fresh = index.checkpoint().await?.is_none();
    let interrupted = !index.missing_indexes().await?.is_empty() && !fresh;
    let bulk = config.bulk.unwrap_or(fresh || interrupted);
    if bulk {
        tracing::info!(target: "btcr::indexer", "bulk backfill: secondary indexes are made at the head");
        index.drop_indexes().await?;
    } else {
        index.ensure_indexes().await?;
    }
    let outcome = follow_until_done(config, &index, &shutdown, bulk).await;
    if bulk {
        tracing::info!(target: "btcr::indexer", "making the secondary indexes");
        index.ensure_indexes().await?;
    }
    outcome
}

/// [`run`]'s loop, once the indexes are set for it.
async fn follow_until_done(
    config: &IndexerConfig,
    index: &PgIndex,
    shutdown: &CancellationToken,
    bulk: bool,
) -> Result<Progress, IndexerError> {
    let mut progress = Progress::default();
    let mut indexes_made = !bulk;
    let mut reporter = Reporter::new(config.progress_every);
    let mut wait = RECONNECT_MIN;
    let mut walked_back = 0;
    loop {
        let checkpoint = index.checkpoint().await?;
        progress.height = checkpoint.map(|c| c.height);
        let from = checkpoint.map_or(0, |c| c.height + 1);
        if config.to.is_some_and(|to| from > to) || shutdown.is_cancelled() {
            return Ok(progress);
        }
        let outcome =
            follow(config, index, from, shutdown, &mut progress, &mut reporter, &mut indexes_made)
                .await;
        match outcome {
            Ok(Ended::Done) => return Ok(progress),
            Ok(Ended::Again) => {
                wait = RECONNECT_MIN;
            }
            Err(IndexerError::Fork { number }) => {
                walked_back += 1;
                if walked_back > MAX_WALK_BACK {
                    return Err(IndexerError::Invalid(format!(
                        "the node's chain and the index differ below {MAX_WALK_BACK} blocks \
                         back from block {number}: is this index of another chain?"
                    )));
                }
                tracing::warn!(
                    target: "btcr::indexer",
                    block = number,
                    "the node's block does not follow the index: taking back the last block"
                );
                index.revert_to(number.checked_sub(2)).await?;
                continue;
            }
            Err(e @ (IndexerError::Invalid(_) | IndexerError::Gap { .. })) => return Err(e),
            Err(e) => {
                tracing::warn!(
                    target: "btcr::indexer",
                    error = %e,
                    retry_in = ?wait,
                    "indexing interrupted; resuming from the checkpoint"
                );
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(progress),
                    _ = tokio::time::sleep(wait) => {}
                }
                wait = (wait * 2).min(RECONNECT_MAX);
            }
        }
    }
}

/// Reads the stream from `from`, writing batches, until it ends or fails. One batch is
/// written while the next is read: the node's stream and the rows are made beside
/// PostgreSQL's `COPY`.
async fn follow(
    config: &IndexerConfig,
    index: &PgIndex,
    from: u64,
    shutdown: &CancellationToken,
    progress: &mut Progress,
    reporter: &mut Reporter,
    indexes_made: &mut bool,
) -> Result<Ended, IndexerError> {
    let mut stream = BlockStream::open(&config.node_url, from, config.to).await?;
    let mut writer = Writer { index: index.clone(), in_flight: None };
    let mut batch: Vec<StreamedBlock> = Vec::new();
    let mut batch_transactions = 0u64;
    let mut flush_at: Option<tokio::time::Instant> = None;
    loop {
        let deadline = flush_at.unwrap_or_else(|| tokio::time::Instant::now() + FRAME_WITHIN);
        let frame = tokio::select! {
            _ = shutdown.cancelled() => {
                writer.write_now(&mut batch, progress).await?;
                return Ok(Ended::Done);
            }
            _ = tokio::time::sleep_until(deadline), if flush_at.is_some() => None,
            frame = stream.next() => Some(frame?),
        };
        match frame {
            // The partial batch waited long enough.
            None => {}
            Some(None) => {
                writer.write_now(&mut batch, progress).await?;
                let done = config.to.is_some_and(|to| progress.height.is_some_and(|h| h >= to));
                return Ok(if done { Ended::Done } else { Ended::Again });
            }
            Some(Some(StreamFrame::Block(block))) => {
                batch_transactions += block.block.body.transactions.len() as u64;
                progress.head = Some(progress.head.unwrap_or(0).max(block.block.header.number));
                batch.push(*block);
                if batch.len() < BATCH_BLOCKS && batch_transactions < BATCH_TRANSACTIONS {
                    flush_at.get_or_insert_with(|| tokio::time::Instant::now() + FLUSH_AFTER);
                    continue;
                }
            }
            Some(Some(StreamFrame::Head(head))) => {
                progress.head = Some(head);
                // Caught up: a bulk backfill makes its indexes now, before following on.
                if !*indexes_made {
                    writer.write_now(&mut batch, progress).await?;
                    tracing::info!(target: "btcr::indexer", "caught up: making the secondary indexes");
                    index.ensure_indexes().await?;
                    *indexes_made = true;
                }
            }
            Some(Some(StreamFrame::Reverted(height))) => {
                writer.write_now(&mut batch, progress).await?;
                tracing::warn!(target: "btcr::indexer", height, "the node reverted blocks above");
                index.revert_to(Some(height)).await?;
                progress.height = Some(height);
            }
        }
        writer.start(&mut batch, progress).await?;
        batch_transactions = 0;
        flush_at = None;
        reporter.report(progress);
    }
}

/// Writes batches one at a time, each while the next is read.
struct Writer {
    index: PgIndex,
    in_flight: Option<tokio::task::JoinHandle<Result<(Written, u64), IndexerError>>>,
}

impl Writer {
    /// Waits for the batch under way and counts it.
    async fn settle(&mut self, progress: &mut Progress) -> Result<(), IndexerError> {
        let Some(write) = self.in_flight.take() else { return Ok(()) };
        let (written, height) = write
            .await
            .map_err(|e| IndexerError::Invalid(format!("a batch's write stopped: {e}")))??;
        progress.blocks += written.blocks;
        progress.transactions += written.transactions;
        progress.height = Some(height);
        Ok(())
    }

    /// Starts writing `batch` (emptied) once the batch under way is written.
    async fn start(
        &mut self,
        batch: &mut Vec<StreamedBlock>,
        progress: &mut Progress,
    ) -> Result<(), IndexerError> {
        self.settle(progress).await?;
        let Some(height) = batch.last().map(|b| b.block.header.number) else { return Ok(()) };
        let blocks = std::mem::take(batch);
        let index = self.index.clone();
        self.in_flight =
            Some(tokio::spawn(async move { Ok((index.write(&blocks).await?, height)) }));
        Ok(())
    }

    /// Writes `batch` (emptied) and waits for every write to be done.
    async fn write_now(
        &mut self,
        batch: &mut Vec<StreamedBlock>,
        progress: &mut Progress,
    ) -> Result<(), IndexerError> {
        self.start(batch, progress).await?;
        self.settle(progress).await
    }
}

/// Logs progress now and then: how far, how fast.
struct Reporter {
    every: Duration,
    last: Instant,
    last_progress: Progress,
}

impl Reporter {
    fn new(every: Duration) -> Self {
        Self { every, last: Instant::now(), last_progress: Progress::default() }
    }

    fn report(&mut self, progress: &Progress) {
        let elapsed = self.last.elapsed();
        if elapsed < self.every {
            return;
        }
        let seconds = elapsed.as_secs_f64();
        let blocks = progress.blocks - self.last_progress.blocks;
        let transactions = progress.transactions - self.last_progress.transactions;
        tracing::info!(
            target: "btcr::indexer",
            height = progress.height,
            head = progress.head,
            blocks_per_s = (blocks as f64 / seconds).round(),
            tx_per_s = (transactions as f64 / seconds).round(),
            "indexed"
        );
        self.last = Instant::now();
        self.last_progress = *progress;
    }
}
