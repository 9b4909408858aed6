//! The worker threads that run request handlers off the async reactor.

use std::sync::Arc;

type Job = Box<dyn FnOnce() + Send>;

/// The number of cores this process may use.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

/// Runs request handling off the async reactor, on a fixed number of threads of its own, so
/// that a flood of requests cannot crowd the consensus thread off the CPU. A worker that
/// finishes a request takes the next queued one itself, without a round trip through the
/// reactor. What waits in the queue is bounded by the server's connection permits: one
/// request per HTTP connection, and per WebSocket connection a budget of request bytes (the
/// JSON-RPC router's); both kinds hold a permit.
#[derive(Clone)]
pub struct Workers {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl std::fmt::Debug for Workers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workers").finish_non_exhaustive()
    }
}

impl Workers {
    /// Starts `n` workers (at least one), named `btcr-http-i`.
    pub fn new(n: usize) -> std::io::Result<Self> {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
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
    ) -> Option<R> {
        if quick { Some(f()) } else { self.run(f).await }
    }

    /// Queues `f` for a worker and waits for its result; `None` if it panicked or the
    /// workers are gone.
    pub async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Option<R> {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // The caller may have gone away (its connection closed); nothing to do then.
            let _ = sender.send(f());
        });
        self.jobs.send(job).ok()?;
        receiver.await.ok()
    }
}
