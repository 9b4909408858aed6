//! The chain with the consumers that follow it and the read API over both: what `launch`
//! runs, and what in-process tests drive block by block.

use std::{sync::Arc, time::Duration};

use alloy_primitives::Address;
use btcr_crypto::SecretKey;
use btcr_primitives::Genesis;
use btcr_storage::ChainStore;
use btcr_txpool::PoolConfig;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::{
    Chain, ChainError,
    consumers::{ActivityTracker, AddressIndexer, NewHeads, RecentActivity},
    evidence::EvidenceReporter,
    reader::NodeApi,
};

/// The chain, its consumers and its read API.
#[derive(Debug, Clone)]
pub struct ChainServices {
    /// The block pipeline and the pool.
    pub chain: Arc<Chain>,
    /// What the HTTP routers read.
    pub api: Arc<NodeApi>,
    /// Cancelled when a consumer fails (the node's shutdown, in `launch`).
    shutdown: CancellationToken,
}

impl ChainServices {
    /// Opens the chain (see [`Chain::open`]) and starts its consumers: the address index,
    /// the recent activity and the new heads. A consumer that fails cancels `shutdown`.
    pub fn open(
        store: ChainStore,
        genesis: Genesis,
        proposer: Address,
        pool: PoolConfig,
        shutdown: CancellationToken,
    ) -> Result<Self, ChainError> {
        let chain = Arc::new(Chain::open(store.clone(), genesis, proposer, pool)?);
        let events = chain.events();
        let (new_heads, _) = broadcast::channel(crate::consumers::NEW_HEADS_CAPACITY);
        let activity = RecentActivity::default();
        events.attach(AddressIndexer::new(store.clone()), shutdown.clone())?;
        events.attach(ActivityTracker::new(store, activity.clone()), shutdown.clone())?;
        events.attach(NewHeads::new(new_heads.clone()), shutdown.clone())?;
        let api = Arc::new(NodeApi::new(chain.clone(), new_heads, activity)?);
        Ok(Self { chain, api, shutdown })
    }

    /// Reports the double signing consensus sees to the staking contract from now on, in
    /// transactions signed by `key` (a validator's own key, whose account pays the gas);
    /// the evidence stored before is scheduled again.
    pub fn report_evidence(&self, key: SecretKey) -> Result<(), ChainError> {
        let reporter = EvidenceReporter::new(&self.chain, key);
        Ok(self.chain.events().attach(reporter, self.shutdown.clone())?)
    }

    /// Waits until every consumer has handled what was published and applied `height`;
    /// `false` after `timeout`.
    pub fn wait_idle(&self, height: u64, timeout: Duration) -> bool {
        self.chain.events().wait_idle(height, timeout)
    }
}
