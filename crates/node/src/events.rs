//! The chain-event bus: each commit publishes one event; each consumer follows the events on
//! a thread of its own.
//!
//! ```text
//!  Chain::commit ──publish──▶ EventBus ──try_send──▶ [queue, 256] ──▶ consumer thread ──▶ Consumer::apply
//!                                 (never waits)        full: dropped      │ behind: reads the
//!                                                                         ▼ missed blocks back
//!                                                                StoreBlocks (the chain store)
//! ```
//!
//! A consumer starts from its checkpoint ([`Consumer::start`]): the bus replays what it
//! missed from the store before the live events, and whenever it finds a gap (its queue
//! filled, or the chain moved on while it was idle). Events are applied in height order,
//! each height once. A consumer that fails stops the node: its output would otherwise fall
//! behind for good.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
        mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use btcr_interfaces::{
    BlockSource, ChainEvent, CommittedBlock, Consumer, ConsumerError, ConsumerProgress, ReadError,
};
use btcr_storage::ChainStore;

use crate::reader::store_error;
use parking_lot::{Condvar, Mutex, RwLock};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

/// Events a consumer may hold unread. When its queue is full the bus drops further events
/// for it, and it reads the blocks they carried back from the store when it gets to them:
/// a slow consumer costs itself reads, never the commit a wait.
const QUEUE: usize = 256;
/// Blocks read back from the store and applied in one call (one write) while catching up.
const CATCH_UP_BATCH: u64 = 256;
/// How often an idle consumer checks whether the chain moved on without it (an event
/// dropped for a full queue, while nothing else came after).
const IDLE_CHECK: Duration = Duration::from_secs(1);
/// Catching up over more blocks than this logs its progress.
const LOUD_CATCH_UP: u64 = 2_000;

/// Where the bus reads the blocks a consumer missed: the chain store.
#[derive(Debug)]
pub struct StoreBlocks {
    store: ChainStore,
}

impl StoreBlocks {
    /// Reads from `store`.
    pub fn new(store: ChainStore) -> Self {
        Self { store }
    }
}

impl BlockSource for StoreBlocks {
    fn head_number(&self) -> Result<u64, ReadError> {
        let snapshot = self.store.snapshot().map_err(store_error)?;
        snapshot.head_number().ok_or_else(|| ReadError::missing("the head"))
    }

    fn committed_block(&self, number: u64) -> Result<Option<CommittedBlock>, ReadError> {
        let snapshot = self.store.snapshot().map_err(store_error)?;
        let Some(mut block) = snapshot.block(number).map_err(store_error)? else {
            return Ok(None);
        };
        let receipts = snapshot
            .receipts(number)
            .map_err(store_error)?
            .ok_or_else(|| ReadError::missing(format!("receipts of block {number}")))?;
        let certificate = snapshot.certificate(number).map_err(store_error)?;
        let next_validators = snapshot
            .validator_sets(number + 1, number + 1)
            .map_err(store_error)?
            .into_iter()
            .find(|(first, _)| *first == number + 1)
            .map(|(_, set)| set);
        // The senders the store kept beside the block; recovered (an ECDSA recovery per
        // transaction) only for a block stored before it kept them.
        let stored = snapshot.block_accounts(number).map_err(store_error)?;
        let (senders, tx_hashes) = match stored {
            Some(accounts) if accounts.senders.len() == block.body.transactions.len() => {
                let hashes = block.body.transactions.iter().map(|tx| *tx.tx_hash()).collect();
                (accounts.senders, hashes)
            }
            _ => {
                let envelopes = std::mem::take(&mut block.body.transactions);
                let recovered =
                    btcr_execution::recover_transactions(envelopes).map_err(|(i, e)| {
                        ReadError::store(format!("transaction {i} of stored block {number}: {e}"))
                    })?;
                let mut senders = Vec::with_capacity(recovered.len());
                let mut tx_hashes = Vec::with_capacity(recovered.len());
                for tx in recovered {
                    senders.push(tx.sender);
                    tx_hashes.push(tx.hash);
                    block.body.transactions.push(tx.tx);
                }
                (senders, tx_hashes)
            }
        };
        Ok(Some(CommittedBlock {
            hash: block.hash(),
            block,
            senders,
            tx_hashes,
            receipts,
            certificate,
            changes: None,
            next_validators,
        }))
    }
}

/// How far one consumer has come, shared between its thread and the bus.
#[derive(Debug)]
struct Progress {
    name: &'static str,
    /// The last height applied, `u64::MAX` before any.
    applied: AtomicU64,
    /// Events handled (or found already applied), against `Slot::sent`.
    handled: AtomicU64,
    changed: Condvar,
    lock: Mutex<()>,
}

impl Progress {
    fn applied(&self) -> Option<u64> {
        match self.applied.load(Ordering::Acquire) {
            u64::MAX => None,
            n => Some(n),
        }
    }

    fn set_applied(&self, height: Option<u64>) {
        self.applied.store(height.unwrap_or(u64::MAX), Ordering::Release);
        self.notify();
    }

    fn notify(&self) {
        let _guard = self.lock.lock();
        self.changed.notify_all();
    }
}

/// A consumer as the bus sees it.
struct Slot {
    queue: SyncSender<ChainEvent>,
    /// Events queued for it.
    sent: AtomicU64,
    progress: Arc<Progress>,
    thread: Option<JoinHandle<()>>,
}

struct Inner {
    slots: RwLock<Vec<Slot>>,
    source: Arc<dyn BlockSource>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the queues ends the threads; wait for them, so that what they hold (the
        // store among it) is released when the chain is.
        let slots = std::mem::take(&mut *self.slots.write());
        let me = std::thread::current().id();
        for mut slot in slots {
            let thread = slot.thread.take();
            drop(slot);
            if let Some(thread) = thread
                && thread.thread().id() != me
            {
                let _ = thread.join();
            }
        }
    }
}

/// The bus. Cheap to clone; the consumers' threads end when the last clone is dropped.
#[derive(Clone)]
pub struct EventBus {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for EventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventBus").field("consumers", &self.progress()).finish()
    }
}

impl EventBus {
    /// A bus whose consumers read missed blocks from `source`.
    pub fn new(source: Arc<dyn BlockSource>) -> Self {
        Self { inner: Arc::new(Inner { slots: RwLock::new(Vec::new()), source }) }
    }

    /// Hands `event` to every consumer without waiting: one whose queue is full misses it
    /// (and reads the block back from the store later).
    pub fn publish(&self, event: ChainEvent) {
        for slot in self.inner.slots.read().iter() {
            match slot.queue.try_send(event.clone()) {
                Ok(()) => {
                    slot.sent.fetch_add(1, Ordering::AcqRel);
                }
                Err(TrySendError::Full(_)) => {
                    debug!(target: "btcr::events", consumer = slot.progress.name, "queue full: the consumer reads the block back later");
                }
                Err(TrySendError::Disconnected(_)) => {}
            }
        }
    }

    /// Starts `consumer` on a thread of its own, from its checkpoint. If it fails, it logs
    /// why and cancels `on_failure` (the node's shutdown).
    pub fn attach(
        &self,
        consumer: impl Consumer,
        on_failure: CancellationToken,
    ) -> std::io::Result<()> {
        let name = consumer.name();
        let (queue, events) = std::sync::mpsc::sync_channel(QUEUE);
        let progress = Arc::new(Progress {
            name,
            applied: AtomicU64::new(u64::MAX),
            handled: AtomicU64::new(0),
            changed: Condvar::new(),
            lock: Mutex::new(()),
        });
        let source = self.inner.source.clone();
        let thread_progress = progress.clone();
        let thread = std::thread::Builder::new().name(format!("btcr-{name}")).spawn(move || {
            let mut runner = Runner { consumer, source, progress: thread_progress, next: 0 };
            if let Err(e) = runner.run(events) {
                error!(target: "btcr::events", consumer = name, error = %e, "consumer failed; stopping the node");
                on_failure.cancel();
            }
        })?;
        self.inner.slots.write().push(Slot {
            queue,
            sent: AtomicU64::new(0),
            progress,
            thread: Some(thread),
        });
        Ok(())
    }

    /// Each consumer and the last block it applied.
    pub fn progress(&self) -> Vec<ConsumerProgress> {
        self.inner
            .slots
            .read()
            .iter()
            .map(|s| ConsumerProgress { name: s.progress.name, applied: s.progress.applied() })
            .collect()
    }

    /// Waits until every consumer has handled every event published so far and applied
    /// `height` at least; `false` if `timeout` passed first. For tests and tools that need
    /// what the consumers write to be there.
    pub fn wait_idle(&self, height: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let slots = self.inner.slots.read();
        for slot in slots.iter() {
            let progress = &slot.progress;
            let done = || {
                progress.handled.load(Ordering::Acquire) >= slot.sent.load(Ordering::Acquire)
                    && progress.applied().is_some_and(|a| a >= height)
            };
            let mut guard = progress.lock.lock();
            while !done() {
                if progress.changed.wait_until(&mut guard, deadline).timed_out() && !done() {
                    return false;
                }
            }
        }
        true
    }
}

/// Set to `NAME` or `NAME@HEIGHT`, makes the consumer `NAME` stop applying blocks (after
/// `HEIGHT`, when given) and wait for good: a fault the crash tests use to kill the node
/// between a commit and that consumer's checkpoint.
const STALL_ENV: &str = "BTCR_FAULT_STALL_CONSUMER";

fn stall_after(name: &str) -> Option<u64> {
    let value = std::env::var(STALL_ENV).ok()?;
    let (target, height) = match value.split_once('@') {
        Some((target, height)) => (target.to_owned(), height.parse().ok()?),
        None => (value, 0),
    };
    (target == name).then_some(height)
}

/// One consumer's thread.
struct Runner<C> {
    consumer: C,
    source: Arc<dyn BlockSource>,
    progress: Arc<Progress>,
    /// The next height to apply.
    next: u64,
}

impl<C: Consumer> Runner<C> {
    fn run(&mut self, events: Receiver<ChainEvent>) -> Result<(), ConsumerError> {
        let name = self.consumer.name();
        let head = self.source.head_number()?;
        let checkpoint = self.consumer.start(head)?;
        self.next = checkpoint.map_or(0, |c| c + 1);
        self.progress.set_applied(checkpoint);
        let stall = stall_after(name);
        self.catch_up(head, stall)?;
        loop {
            match events.recv_timeout(IDLE_CHECK) {
                Ok(ChainEvent::Committed(block)) => {
                    let number = block.number();
                    if number >= self.next && !stalled(stall, number) {
                        if number > self.next {
                            self.catch_up(number - 1, stall)?;
                        }
                        self.consumer.apply(std::slice::from_ref(&block))?;
                        self.next = number + 1;
                        self.progress.set_applied(Some(number));
                    }
                }
                Ok(ChainEvent::Misbehavior(evidence)) => self.consumer.misbehavior(&evidence)?,
                Ok(other) => {
                    return Err(ConsumerError::Write {
                        context: format!("{name} cannot follow an event it does not know"),
                        source: format!("{other:?}").into(),
                    });
                }
                Err(RecvTimeoutError::Timeout) => {
                    let head = self.source.head_number()?;
                    self.catch_up(head, stall)?;
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            }
            self.progress.handled.fetch_add(1, Ordering::AcqRel);
            self.progress.notify();
        }
    }

    /// Applies the blocks from `next` to `to` read back from the store, in batches.
    fn catch_up(&mut self, to: u64, stall: Option<u64>) -> Result<(), ConsumerError> {
        if self.next > to || stalled(stall, self.next) {
            return Ok(());
        }
        if !self.consumer.replays() {
            // It wants live events only (new-head subscriptions): skip what it missed.
            self.next = to + 1;
            self.progress.set_applied(Some(to));
            return Ok(());
        }
        let name = self.consumer.name();
        let total = to + 1 - self.next;
        let loud = total > LOUD_CATCH_UP;
        if loud {
            info!(target: "btcr::events", consumer = name, from = self.next, to, "catching up from the store");
        }
        let started = Instant::now();
        while self.next <= to && !stalled(stall, self.next) {
            let last = (self.next + CATCH_UP_BATCH - 1).min(to);
            let last = stall.map_or(last, |s| last.min(s));
            let mut batch = Vec::with_capacity((last + 1 - self.next) as usize);
            let mut pruned = None;
            for number in self.next..=last {
                let block = match self.source.committed_block(number) {
                    Err(ReadError::Pruned { earliest, .. }) => {
                        pruned = Some(earliest);
                        break;
                    }
                    read => read?.ok_or_else(|| ReadError::missing(format!("block {number}")))?,
                };
                batch.push(Arc::new(block));
            }
            if let Some(applied) = batch.last().map(|b| b.number()) {
                self.consumer.apply(&batch)?;
                self.next = applied + 1;
                self.progress.set_applied(Some(applied));
            }
            if let Some(earliest) = pruned {
                // A node that pruned them, or began from a snapshot, has no blocks to give:
                // the consumer's output lacks them, and it goes on from the earliest kept.
                warn!(
                    target: "btcr::events",
                    consumer = name,
                    from = self.next,
                    to = earliest.saturating_sub(1),
                    "blocks pruned from this node are skipped"
                );
                self.next = self.next.max(earliest);
                continue;
            }
            let last = self.next - 1;
            if loud {
                info!(target: "btcr::events", consumer = name, applied = last, of = to, "catching up");
            }
        }
        if loud {
            info!(target: "btcr::events", consumer = name, blocks = total, elapsed = ?started.elapsed(), "caught up");
        }
        Ok(())
    }
}

/// Whether a stalled consumer (see [`STALL_ENV`]) must leave `height` alone.
fn stalled(stall: Option<u64>, height: u64) -> bool {
    match stall {
        Some(after) if height > after => {
            warn!(target: "btcr::events", height, "consumer stalled by {STALL_ENV}");
            // Stay stalled for good: the fault lasts until the process is killed.
            loop {
                std::thread::park();
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use btcr_primitives::{Block, BlockBody};

    use super::*;

    /// Blocks `0..=head`, made on demand: what the store would give back.
    struct Blocks {
        head: AtomicU64,
    }

    fn committed(number: u64) -> CommittedBlock {
        let header = btcr_testkit::empty_header(number, alloy_primitives::B256::ZERO);
        let block = Block { header, body: BlockBody::default() };
        CommittedBlock {
            hash: block.hash(),
            block,
            senders: vec![],
            tx_hashes: vec![],
            receipts: vec![],
            certificate: None,
            changes: None,
            next_validators: None,
        }
    }

    impl BlockSource for Blocks {
        fn head_number(&self) -> Result<u64, ReadError> {
            Ok(self.head.load(Ordering::Acquire))
        }
        fn committed_block(&self, number: u64) -> Result<Option<CommittedBlock>, ReadError> {
            Ok((number <= self.head.load(Ordering::Acquire)).then(|| committed(number)))
        }
    }

    /// Records the heights it applies; slow on its first call, so that its queue fills.
    struct Recorder {
        applied: Arc<Mutex<Vec<u64>>>,
        checkpoint: Option<u64>,
        slow: Arc<AtomicBool>,
    }

    impl Consumer for Recorder {
        fn name(&self) -> &'static str {
            "recorder"
        }
        fn start(&mut self, _head: u64) -> Result<Option<u64>, ConsumerError> {
            Ok(self.checkpoint)
        }
        fn apply(&mut self, blocks: &[Arc<CommittedBlock>]) -> Result<(), ConsumerError> {
            if self.slow.swap(false, Ordering::AcqRel) {
                std::thread::sleep(Duration::from_millis(300));
            }
            self.applied.lock().extend(blocks.iter().map(|b| b.number()));
            Ok(())
        }
    }

    #[test]
    fn a_consumer_replays_from_its_checkpoint_and_reads_back_what_its_full_queue_dropped() {
        let source = Arc::new(Blocks { head: AtomicU64::new(10) });
        let bus = EventBus::new(source.clone());
        let applied = Arc::new(Mutex::new(Vec::new()));
        let slow = Arc::new(AtomicBool::new(true));
        let recorder = Recorder { applied: applied.clone(), checkpoint: Some(4), slow };
        bus.attach(recorder, CancellationToken::new()).unwrap();
        // While it is busy replaying 5..=10, far more events come than its queue holds.
        let last = 10 + QUEUE as u64 * 3;
        for number in 11..=last {
            source.head.store(number, Ordering::Release);
            bus.publish(ChainEvent::Committed(Arc::new(committed(number))));
        }
        assert!(bus.wait_idle(last, Duration::from_secs(30)), "{:?}", bus.progress());
        let expected: Vec<u64> = (5..=last).collect();
        assert_eq!(*applied.lock(), expected, "every height once, in order, none before 5");
        assert_eq!(bus.progress()[0].applied, Some(last));
    }
}
