//! Waiting on state instead of sleeping: a test says what it waits for, and goes on the
//! moment it holds, so that it is neither slow on a fast machine nor flaky on a slow one.

use std::{
    future::Future,
    time::{Duration, Instant},
};

/// How long [`eventually`] and [`eventually_async`] wait before giving up: long enough for
/// a loaded machine, short enough that a broken test fails in reasonable time.
pub const PATIENCE: Duration = Duration::from_secs(30);
/// How often they look.
const POLL: Duration = Duration::from_millis(20);

/// Checks `condition` until it holds (`true`) or [`PATIENCE`] has passed (`false`).
pub fn eventually(condition: impl FnMut() -> bool) -> bool {
    eventually_within(PATIENCE, condition)
}

/// [`eventually`], with its own limit.
pub fn eventually_within(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

/// Checks `condition` throughout `window`: `false` the first time it does not hold. For what
/// must stay true, which no single look can show (a halted chain stays halted).
pub fn holds_for(window: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + window;
    loop {
        if !condition() {
            return false;
        }
        if Instant::now() >= end {
            return true;
        }
        std::thread::sleep(POLL);
    }
}

/// [`eventually`] for async tests: the condition is a future, made afresh for each look,
/// and the wait between looks does not hold the runtime's thread.
pub async fn eventually_async<F: Future<Output = bool>>(mut condition: impl FnMut() -> F) -> bool {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if condition().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[test]
    fn eventually_returns_when_the_condition_holds_and_gives_up_when_it_never_does() {
        let mut looks = 0;
        assert!(eventually(|| {
            looks += 1;
            looks == 3
        }));
        assert_eq!(looks, 3);
        let started = Instant::now();
        assert!(!eventually_within(Duration::from_millis(100), || false));
        assert!(started.elapsed() >= Duration::from_millis(100));
    }

    #[test]
    fn holds_for_watches_the_whole_window_and_stops_at_the_first_failure() {
        let started = Instant::now();
        assert!(holds_for(Duration::from_millis(100), || true));
        assert!(started.elapsed() >= Duration::from_millis(100));
        let mut looks = 0;
        assert!(!holds_for(Duration::from_secs(60), || {
            looks += 1;
            looks < 3
        }));
        assert_eq!(looks, 3);
    }

    #[tokio::test]
    async fn eventually_async_awaits_each_look() {
        let looks = AtomicU32::new(0);
        let holds = || async { looks.fetch_add(1, Ordering::SeqCst) == 2 };
        assert!(eventually_async(holds).await);
        assert_eq!(looks.load(Ordering::SeqCst), 3);
    }
}
