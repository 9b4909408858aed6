//! Recent activity: the latest committed blocks' sizes and times, kept in memory for the
//! explorer's block time and throughput. Refilled from the store on start.

use std::{collections::VecDeque, sync::Arc};

use btcr_interfaces::{BlockActivity, CommittedBlock, Consumer, ConsumerError, ReadError};
use btcr_storage::ChainStore;
use parking_lot::Mutex;

/// Blocks remembered.
const WINDOW: usize = 4096;
/// Blocks read back from the store on start (their headers and transaction counts).
const REFILL: u64 = 1024;

/// The window, shared between the consumer and its readers.
#[derive(Debug, Clone, Default)]
pub struct RecentActivity(Arc<Mutex<VecDeque<BlockActivity>>>);

impl RecentActivity {
    /// The blocks in the window, oldest first.
    pub fn blocks(&self) -> Vec<BlockActivity> {
        self.0.lock().iter().copied().collect()
    }

    fn push(&self, block: BlockActivity) {
        let mut window = self.0.lock();
        if window.len() == WINDOW {
            window.pop_front();
        }
        window.push_back(block);
    }
}

/// Keeps [`RecentActivity`].
#[derive(Debug)]
pub struct ActivityTracker {
    store: ChainStore,
    window: RecentActivity,
}

impl ActivityTracker {
    /// Tracks into `window`, refilling it from `store`.
    pub fn new(store: ChainStore, window: RecentActivity) -> Self {
        Self { store, window }
    }
}

impl Consumer for ActivityTracker {
    fn name(&self) -> &'static str {
        "activity"
    }

    fn start(&mut self, head: u64) -> Result<Option<u64>, ConsumerError> {
        // Headers and counts suffice: refilled here, without the bus reading whole blocks.
        let snapshot = self.store.snapshot().map_err(ReadError::store)?;
        for number in head.saturating_sub(REFILL - 1).max(snapshot.earliest()).max(1)..=head {
            let header = snapshot
                .header(number)
                .map_err(ReadError::store)?
                .ok_or_else(|| ReadError::missing(format!("header {number}")))?;
            let transactions = snapshot.transaction_count(number).map_err(ReadError::store)?;
            self.window.push(BlockActivity {
                number,
                timestamp_ms: header.timestamp_ms,
                transactions: transactions.unwrap_or(0) as u32,
            });
        }
        Ok(Some(head))
    }

    fn apply(&mut self, blocks: &[Arc<CommittedBlock>]) -> Result<(), ConsumerError> {
        for block in blocks {
            self.window.push(BlockActivity {
                number: block.number(),
                timestamp_ms: block.block.header.timestamp_ms,
                transactions: block.tx_hashes.len() as u32,
            });
        }
        Ok(())
    }
}
