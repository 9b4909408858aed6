//! The worker threads that run request handlers off the async reactor.

use std::sync::Arc;

type Job = Box<dyn FnOnce() + Send>;

/// Jobs that may wait for a worker at once; past it a request is refused as busy at once
/// rather than queued behind minutes of work.
pub const MAX_QUEUED_JOBS: usize = 4_096;

/// Why a job handed to the workers gave no result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WorkerError {
    /// [`MAX_QUEUED_JOBS`] are waiting already: the job was not queued.
    #[error(
        "the node is busy: {MAX_QUEUED_JOBS} requests are waiting for a worker (--rpc.workers)"
    )]
    Busy,
    /// The job panicked, or the workers are gone.
    #[error("the request failed")]
    Failed,
}

/// The number of cores this process may use.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

/// Runs request handling off the async reactor, on a fixed number of threads of its own, so
/// that a flood of requests cannot crowd the consensus thread off the CPU. A worker that
/// finishes a request takes the next queued one itself, without a round trip through the
/// reactor. What waits in the queue is bounded by the server's connection permits (one
/// request per HTTP connection, and per WebSocket connection a budget of request bytes, the
/// JSON-RPC router's) and, whatever they allow, by [`MAX_QUEUED_JOBS`]. A job whose caller
/// has gone (its connection closed, its future dropped) is skipped unrun.
#[derive(Clone)]
pub struct Workers {
    jobs: std::sync::mpsc::SyncSender<Job>,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers").finish_non_exhaustive()
    }
}

impl Workers {
    /// Starts `n` workers (at least one), named `btcr-http-i`.
    pub fn new(n: usize) -> std::io::Result<Self> {
        Self::with_queue(n, MAX_QUEUED_JOBS)
    }

    /// [`Workers::new`] with room for `queued` waiting jobs.
    pub fn with_queue(n: usize, queued: usize) -> std::io::Result<Self> {
        let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(queued);
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for i in 0..n.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new().name(format!("btcr-http-{i}")).spawn(move || {
                loop {
                    // The lock is held only while waiting for the next job. The queue is
                    // closed (and the worker ends) once every `Workers` clone is dropped.
                    let job = match queue.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    // A panicking request answers nothing (the caller sees `None`); the
                    // worker lives on.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                }
            })?;
        }
        Ok(Self { jobs })
    }

    /// Runs `f`, which handles one request: right here when `quick` (a request known to be
    /// cheaper to answer where it arrived than to hand over), else on a worker.
    pub async fn handle<R: Send + 'static>(
        &self,
        quick: bool,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, WorkerError> {
        if quick { Ok(f()) } else { self.run(f).await }
    }

    /// Queues `f` for a worker and waits for its result. Dropping the future before the
    /// job starts cancels it.
    pub async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, WorkerError> {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // The caller has gone away (its connection closed): nobody wants the answer.
            if sender.is_closed() {
                return;
            }
            let _ = sender.send(f());
        });
        self.jobs.try_send(job).map_err(|e| match e {
            std::sync::mpsc::TrySendError::Full(_) => WorkerError::Busy,
            std::sync::mpsc::TrySendError::Disconnected(_) => WorkerError::Failed,
        })?;
        receiver.await.map_err(|_| WorkerError::Failed)
    }
}

#[cfg(test)]
mod tests {
    use std::{
        sync::atomic::{AtomicUsize, Ordering},
        time::Duration,
    };

    use super::*;

    /// The queue was unbounded, and jobs of closed connections ran all the same. Now a full
    /// queue refuses at once, and a job whose caller left is skipped.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_refuses_at_once_and_a_job_whose_caller_left_is_skipped() {
        let workers = Workers::with_queue(1, 2).unwrap();
        let (started_tx, started) = std::sync::mpsc::channel::<()>();
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let busy = workers.clone();
        let blocker = tokio::spawn(async move {
            busy.run(move || {
                started_tx.send(()).unwrap();
                wait.recv().unwrap();
            })
            .await
        });
        started.recv().unwrap();

        let ran = Arc::new(AtomicUsize::new(0));
        let job = |ran: &Arc<AtomicUsize>| {
            let ran = ran.clone();
            move || ran.fetch_add(1, Ordering::SeqCst)
        };
        // Queued, then its caller gives up waiting.
        let left = tokio::time::timeout(Duration::from_millis(20), workers.run(job(&ran))).await;
        assert!(left.is_err(), "still queued behind the blocker");
        // Queued (its first poll queues it), and waited for.
        let mut kept = Box::pin(workers.run(job(&ran)));
        assert!(futures::poll!(&mut kept).is_pending());
        assert_eq!(workers.run(job(&ran)).await, Err(WorkerError::Busy), "refused at once");

        release.send(()).unwrap();
        assert_eq!(blocker.await.unwrap(), Ok(()));
        assert_eq!(kept.await, Ok(0), "the first job to run");
        assert_eq!(ran.load(Ordering::SeqCst), 1, "the job whose caller left did not run");
        assert!(WorkerError::Busy.to_string().contains("--rpc.workers"));
    }
}
