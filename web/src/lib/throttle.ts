// A leading- and trailing-edge throttle: the first call runs at once, the calls that follow
// within `intervalMs` are folded into one that runs when the interval ends, with the latest
// arguments. So a burst runs at most twice per interval and its last call is never dropped.

/** A throttled function and the way to drop what it still owes. */
export interface Throttled<A extends unknown[]> {
  /** Runs `fn` now, or once at the end of the current interval with the latest arguments. */
  call: (...args: A) => void;
  /** Forgets a pending trailing call (on unmount); later calls start afresh. */
  cancel: () => void;
}

export function throttle<A extends unknown[]>(fn: (...args: A) => void, intervalMs: number): Throttled<A> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  // The arguments of the latest call made while the interval runs; null when there was none.
  let pending: A | null = null;
  const endInterval = () => {
    if (pending === null) {
      timer = undefined;
      return;
    }
    const args = pending;
    pending = null;
    // The trailing call opens an interval of its own, so calls keep at least `intervalMs` apart.
    timer = setTimeout(endInterval, intervalMs);
    fn(...args);
  };
  return {
    call: (...args: A) => {
      if (timer === undefined) {
        timer = setTimeout(endInterval, intervalMs);
        fn(...args);
      } else {
        pending = args;
      }
    },
    cancel: () => {
      clearTimeout(timer);
      timer = undefined;
      pending = null;
    },
  };
}
