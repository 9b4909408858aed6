//! The slot runner: one block's PoH on a dedicated std thread, paced over the block interval,
//! mixing in transaction batches as the proposer executes them.
//!
//! Pacing: tick `k` (1-based) is due at `start + block_duration * k / ticks_per_block`. The
//! thread hashes the tick at full speed, then waits for that instant on the mixin channel, so
//! a small config costs little CPU. Targets are absolute, so a slow tick does not push the
//! later ones back. Batches arriving while the thread waits at a tick boundary (where only
//! the tick's closing hash is left, see [`crate::poh`]) are recorded right after that tick.

use std::{
    collections::VecDeque,
    sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError, sync_channel},
    thread::JoinHandle,
    time::{Duration, Instant},
};

use alloy_primitives::B256;

use crate::{Poh, PohConfig, PohEntry, PohError, config::fraction_of};

/// Capacity of the mixin channel, in batches. The thread drains it between every
/// [`HASH_CHUNK`] hashes and while it waits, so it only fills if the proposer records batches
/// faster than a few microseconds each; then [`PohSlotHandle::record`] blocks until the
/// thread catches up, which is the back-pressure we want (executing further ahead of the PoH
/// chain would only grow the queue).
pub const MIXIN_CHANNEL_CAPACITY: usize = 1024;

/// Plain hashes between two looks at the channel: tens of microseconds, short enough that a
/// mixin waits very little, long enough that the channel check costs nothing measurable.
const HASH_CHUNK: u64 = 256;

/// What crosses the slot thread's channel.
#[derive(Debug)]
enum PohSlotMessage {
    /// Mix in a batch of executed transactions.
    Mixin { batch_hash: B256, n_transactions: u32 },
    /// Mix in everything queued, then finish the block's ticks without waiting.
    Finish,
}

/// Everything a proposer needs from a finished slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PohSlotOutput {
    /// The block's entries (its body), ending with the last tick.
    pub entries: Vec<PohEntry>,
    /// The chain's last hash (the header's end hash).
    pub end_hash: B256,
    /// Tick entries (the header's tick count).
    pub ticks: u64,
}

impl PohSlotOutput {
    /// Transactions covered by the mixin entries. Batches are mixed in arrival order, and
    /// those that arrive after the last tick are dropped, so this is the length of the prefix
    /// of the recorded transactions that made it into the block.
    pub fn n_transactions(&self) -> u64 {
        self.entries.iter().map(|entry| u64::from(entry.n_transactions)).sum()
    }
}

/// The slot thread's state; [`PohSlot::start`] spawns it and returns its handle.
#[derive(Debug)]
pub struct PohSlot {
    poh: Poh,
    receiver: Receiver<PohSlotMessage>,
    entries: Vec<PohEntry>,
    /// Batches received but not yet mixed in, in arrival order.
    pending: VecDeque<(B256, u32)>,
    started: Instant,
    block_duration: Duration,
    /// Set by `Finish`: stop waiting for tick targets.
    full_speed: bool,
}

impl PohSlot {
    /// Starts a block's PoH from `start` on a new thread, spreading its ticks over
    /// `block_duration` from now.
    pub fn start(
        start: B256,
        config: PohConfig,
        block_duration: Duration,
    ) -> Result<PohSlotHandle, PohError> {
        let poh = Poh::new(start, config)?;
        let (sender, receiver) = sync_channel(MIXIN_CHANNEL_CAPACITY);
        let slot = Self {
            poh,
            receiver,
            entries: Vec::new(),
            pending: VecDeque::new(),
            started: Instant::now(),
            block_duration,
            full_speed: false,
        };
        let thread = std::thread::Builder::new()
            .name("btcr-poh".into())
            .spawn(move || slot.run())
            .map_err(|error| PohError::Spawn { reason: error.to_string() })?;
        Ok(PohSlotHandle { sender: Some(sender), thread: Some(thread) })
    }

    /// Runs the block to its last tick; `None` if the handle was dropped first.
    fn run(mut self) -> Option<PohSlotOutput> {
        while !self.poh.is_block_complete() {
            loop {
                if !self.receive_ready() {
                    return None;
                }
                self.record_pending();
                if self.poh.hash(HASH_CHUNK) {
                    break;
                }
            }
            if !self.full_speed && !self.wait_for_tick_target() {
                return None;
            }
            let tick = self.poh.tick().expect("the block is not complete, so a tick is due");
            self.entries.push(tick);
        }
        // Batches still pending cannot fit after the last tick and are dropped; the output's
        // transaction count tells the proposer which of its transactions made it.
        Some(PohSlotOutput {
            end_hash: self.poh.current_hash(),
            ticks: self.poh.ticks_done(),
            entries: self.entries,
        })
    }

    /// Moves every message waiting in the channel into `pending`. Returns `false` when the
    /// handle was dropped without finishing (the slot must stop).
    fn receive_ready(&mut self) -> bool {
        loop {
            match self.receiver.try_recv() {
                Ok(message) => self.accept(message),
                Err(TryRecvError::Empty) => return true,
                // `finish` drops its sender after `Finish`, so a disconnect is expected then.
                Err(TryRecvError::Disconnected) => return self.full_speed,
            }
        }
    }

    /// Waits until the current tick's target instant, queueing batches that arrive meanwhile.
    /// Returns `false` when the handle was dropped.
    fn wait_for_tick_target(&mut self) -> bool {
        let config = self.poh.config();
        let offset =
            fraction_of(self.block_duration, self.poh.ticks_done() + 1, config.ticks_per_block);
        let target = self.started + offset;
        while !self.full_speed {
            let Some(timeout) = target.checked_duration_since(Instant::now()) else {
                break;
            };
            match self.receiver.recv_timeout(timeout) {
                Ok(message) => self.accept(message),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return false,
            }
        }
        true
    }

    fn accept(&mut self, message: PohSlotMessage) {
        match message {
            PohSlotMessage::Mixin { batch_hash, n_transactions } => {
                self.pending.push_back((batch_hash, n_transactions));
            }
            PohSlotMessage::Finish => self.full_speed = true,
        }
    }

    /// Mixes in pending batches, in order, until the tick has no room left.
    fn record_pending(&mut self) {
        while let Some(&(batch_hash, n_transactions)) = self.pending.front() {
            match self.poh.record(batch_hash, n_transactions) {
                Ok(entry) => self.entries.push(entry),
                Err(PohError::TickFull) => return,
                // The handle rejects empty batches and `run` stops at block completion, so
                // this cannot happen; dropping the batch keeps the slot going if it ever did.
                Err(_) => {}
            }
            self.pending.pop_front();
        }
    }
}

/// The proposer's side of a running slot. Dropping it stops the thread without output.
#[derive(Debug)]
pub struct PohSlotHandle {
    /// `None` only inside `finish`/`drop`.
    sender: Option<SyncSender<PohSlotMessage>>,
    /// `None` only inside `finish`/`drop`.
    thread: Option<JoinHandle<Option<PohSlotOutput>>>,
}

impl PohSlotHandle {
    /// Queues a batch of `n_transactions` executed transactions, identified by their
    /// [`batch_hash`](crate::batch_hash), to be mixed in after the batches recorded before
    /// it. Blocks while the channel is full. `Ok` means queued, not yet mixed in: a batch
    /// that reaches the thread after the last tick is dropped (see
    /// [`PohSlotOutput::n_transactions`]). Fails once the slot has finished.
    pub fn record(&self, batch_hash: B256, n_transactions: u32) -> Result<(), PohError> {
        if n_transactions == 0 {
            return Err(PohError::EmptyBatch);
        }
        let sender = self.sender.as_ref().expect("only finish and drop take the sender");
        sender
            .send(PohSlotMessage::Mixin { batch_hash, n_transactions })
            .map_err(|_| PohError::SlotFinished)
    }

    /// Whether the slot thread has stopped (all ticks done).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Mixes in every batch recorded before this call, completes the remaining ticks at full
    /// speed and returns the block's PoH.
    pub fn finish(mut self) -> PohSlotOutput {
        let sender = self.sender.take().expect("only finish and drop take the sender");
        // A failed send means the thread already did all ticks; its output is ready anyway.
        let _ = sender.send(PohSlotMessage::Finish);
        drop(sender);
        self.join()
    }

    /// Waits for the slot to end at its own pace (its last tick is due at the end of the
    /// block duration) and returns its PoH.
    pub fn wait(mut self) -> PohSlotOutput {
        self.join()
    }

    fn join(&mut self) -> PohSlotOutput {
        let thread = self.thread.take().expect("only finish, wait and drop take the thread");
        match thread.join() {
            // The sender stays alive (or `Finish` was sent) until here, so the thread ran
            // the block to its end.
            Ok(output) => {
                output.expect("the slot thread only stops early when the handle is dropped")
            }
            // A panic in the PoH thread is a bug; surface it in the proposer.
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl Drop for PohSlotHandle {
    fn drop(&mut self) {
        // Disconnecting wakes the thread from its wait, or it notices at its next channel
        // check (one hash chunk); joining makes "dropped" mean "stopped".
        drop(self.sender.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
