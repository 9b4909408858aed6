//! The node's own consumers of committed blocks: the address and token index (durable, in
//! the chain store), the recent activity behind the explorer's throughput figures, and the
//! new-head stream of WebSocket subscriptions. Reports of double signing are another
//! (`crate::evidence`).

mod activity;
mod address_index;
mod new_heads;

pub use activity::{ActivityTracker, RecentActivity};
pub use address_index::{AddressIndexer, block_addresses};
pub use new_heads::{NEW_HEADS_CAPACITY, NewHeads};
