import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { throttle } from './throttle';

describe('throttle', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs the first call at once', () => {
    const fn = vi.fn();
    throttle(fn, 1000).call(1);
    expect(fn).toHaveBeenCalledExactlyOnceWith(1);
  });

  it('folds the calls within the interval into one at its end, with the latest arguments', () => {
    const fn = vi.fn();
    const t = throttle(fn, 1000);
    t.call(1);
    t.call(2);
    t.call(3);
    vi.advanceTimersByTime(999);
    expect(fn.mock.calls).toEqual([[1]]);
    vi.advanceTimersByTime(1);
    expect(fn.mock.calls).toEqual([[1], [3]]);
  });

  it('runs nothing at the end of an interval without further calls', () => {
    const fn = vi.fn();
    const t = throttle(fn, 1000);
    t.call(1);
    vi.advanceTimersByTime(5000);
    expect(fn).toHaveBeenCalledTimes(1);
    // Once the interval is over, the next call is a leading one again.
    t.call(2);
    expect(fn.mock.calls).toEqual([[1], [2]]);
  });

  it('calls about once a second under a head every 100 ms, and keeps the last', () => {
    const fn = vi.fn();
    const t = throttle(fn, 1000);
    // Ten seconds of heads, one every 100 ms: heights 1 to 100.
    for (let height = 1; height <= 100; height++) {
      t.call(height);
      vi.advanceTimersByTime(100);
    }
    expect(fn.mock.calls.length).toBeLessThanOrEqual(11);
    expect(fn.mock.calls.length).toBeGreaterThanOrEqual(10);
    vi.advanceTimersByTime(1000);
    expect(fn.mock.lastCall).toEqual([100]);
    // Every pair of calls is at least an interval apart.
    const times: number[] = [];
    const timed = throttle(() => times.push(Date.now()), 1000);
    for (let i = 0; i < 50; i++) {
      timed.call();
      vi.advanceTimersByTime(100);
    }
    vi.advanceTimersByTime(1000);
    for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(1000);
  });

  it('drops the trailing call once cancelled', () => {
    const fn = vi.fn();
    const t = throttle(fn, 1000);
    t.call(1);
    t.call(2);
    t.cancel();
    vi.advanceTimersByTime(2000);
    expect(fn.mock.calls).toEqual([[1]]);
    t.call(3);
    expect(fn.mock.calls).toEqual([[1], [3]]);
  });
});
