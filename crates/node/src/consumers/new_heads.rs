//! New heads for subscribers (WebSocket `newHeads`, `logs`, polled block filters).

use std::sync::Arc;

use btcr_interfaces::{CommittedBlock, Consumer, ConsumerError};
use btcr_primitives::Header;
use tokio::sync::broadcast;

/// Capacity of the new-heads channel; a subscriber that falls this far behind misses heads
/// and is told so (`Lagged`), the chain never waits for it.
pub const NEW_HEADS_CAPACITY: usize = 256;

/// Forwards each committed header to the subscribers.
#[derive(Debug)]
pub struct NewHeads {
    sender: broadcast::Sender<Header>,
}

impl NewHeads {
    /// Forwards to `sender`.
    pub fn new(sender: broadcast::Sender<Header>) -> Self {
        Self { sender }
    }
}

impl Consumer for NewHeads {
    fn name(&self) -> &'static str {
        "new-heads"
    }

    fn start(&mut self, head: u64) -> Result<Option<u64>, ConsumerError> {
        Ok(Some(head))
    }

    fn replays(&self) -> bool {
        false
    }

    fn apply(&mut self, blocks: &[Arc<CommittedBlock>]) -> Result<(), ConsumerError> {
        for block in blocks {
            // Nobody listening is fine.
            let _ = self.sender.send(block.block.header.clone());
        }
        Ok(())
    }
}
