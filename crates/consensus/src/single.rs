//! The single-validator engine: one proposer that decides every block on its own.

use std::{
    sync::Arc,
    thread::JoinHandle,
    time::{Duration, Instant},
};

use btcr_crypto::SecretKey;
use btcr_primitives::CommitCertificate;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info};

use crate::{BlockPipeline, PipelineError, bft::certificate::sign_commit};

/// Settings of the single-validator engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Chain id (part of what the validator signs).
    pub chain_id: u64,
    /// Target interval between blocks.
    pub block_time: Duration,
}

/// Proposes and commits one block per block time.
#[derive(Debug)]
pub struct SingleValidatorEngine<P> {
    pipeline: Arc<P>,
    key: SecretKey,
    config: EngineConfig,
    shutdown: CancellationToken,
}

/// Controls a running engine. Dropping it stops the engine.
#[derive(Debug)]
pub struct EngineHandle {
    shutdown: CancellationToken,
    thread: Option<JoinHandle<Result<(), PipelineError>>>,
}

impl EngineHandle {
    /// Runs `engine` on a thread of its own (block building and voting must not wait on
    /// the async reactor or the RPC workers). However it ends, it cancels `shutdown`, so
    /// that whatever stops the engine stops the node too.
    pub(crate) fn spawn(
        shutdown: CancellationToken,
        engine: impl FnOnce() -> Result<(), PipelineError> + Send + 'static,
    ) -> Self {
        let token = shutdown.clone();
        let thread = std::thread::Builder::new()
            .name("consensus".into())
            .spawn(move || {
                let result = engine();
                if let Err(e) = &result {
                    error!(target: "btcr::consensus", error = %e, "consensus engine stopped");
                }
                token.cancel();
                result
            })
            .expect("spawning a thread only fails when the system is out of resources");
        Self { shutdown, thread: Some(thread) }
    }

    /// Asks the engine to stop after the block in progress and waits for it.
    pub fn stop(mut self) -> Result<(), PipelineError> {
        self.shutdown.cancel();
        self.join()
    }

    /// Whether the engine thread has ended (stopped, or failed).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Waits for the engine thread and returns how it ended.
    pub fn join(&mut self) -> Result<(), PipelineError> {
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(PipelineError::fatal("consensus engine panicked"))),
            None => Ok(()),
        }
    }
}

impl Drop for EngineHandle {
    fn drop(&mut self) {
        self.shutdown.cancel();
        let _ = self.join();
    }
}

impl<P: BlockPipeline> SingleValidatorEngine<P> {
    /// An engine proposing with `key`, which must be the genesis validator's key.
    pub fn new(
        pipeline: Arc<P>,
        key: SecretKey,
        config: EngineConfig,
        shutdown: CancellationToken,
    ) -> Self {
        Self { pipeline, key, config, shutdown }
    }

    /// Runs the engine on its own thread: block building is CPU work (PoH, EVM) that must
    /// not run on the async reactor.
    pub fn spawn(self) -> EngineHandle {
        EngineHandle::spawn(self.shutdown.clone(), move || self.run())
    }

    fn run(&self) -> Result<(), PipelineError> {
        let mut slot_start = Instant::now();
        while !self.shutdown.is_cancelled() {
            let head = self.pipeline.head()?;
            let height = head.number + 1;
            let deadline = slot_start + self.config.block_time;
            // One validator decides every height in its first round.
            self.pipeline.entered_round(height, 0);
            let block = match self.pipeline.propose(height, deadline) {
                Ok(block) => block,
                Err(PipelineError::Fatal(e)) => return Err(PipelineError::Fatal(e)),
                Err(e) => {
                    // Our own proposal failing validation is a bug, but retrying the slot is
                    // better than halting a single-validator chain.
                    error!(target: "btcr::consensus", height, error = %e, "proposal failed; retrying");
                    std::thread::sleep(Duration::from_millis(100));
                    slot_start = Instant::now();
                    continue;
                }
            };
            let hash = block.hash();
            let certificate = CommitCertificate {
                height,
                round: 0,
                block_hash: hash,
                signatures: vec![sign_commit(&self.key, self.config.chain_id, height, 0, hash)],
            };
            self.pipeline.commit(hash, certificate)?;
            let n_tx = block.body.transactions.len();
            if n_tx > 0 {
                info!(target: "btcr::consensus", height, %hash, n_tx, gas_used = block.header.gas_used, "committed block");
            } else {
                debug!(target: "btcr::consensus", height, %hash, "committed empty block");
            }
            // The next slot starts when this one was due to end, so block times do not drift;
            // after a long stall, start afresh rather than racing to catch up.
            let now = Instant::now();
            slot_start =
                now.checked_sub(self.config.block_time / 2).map_or(deadline, |t| deadline.max(t));
        }
        info!(target: "btcr::consensus", "consensus engine stopped");
        Ok(())
    }
}
