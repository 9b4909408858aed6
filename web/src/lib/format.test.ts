import { describe, expect, it } from 'vitest';
import { ago, formatUnits, formatUptime, parseUnits, shortHash } from './format';

describe('formatUnits', () => {
  it('groups thousands and drops trailing zeros', () => {
    expect(formatUnits(1234500000000000000000n)).toBe('1,234.5');
    expect(formatUnits('1000000000000000000')).toBe('1');
    expect(formatUnits(0n)).toBe('0');
  });
  it('keeps at most the asked fraction digits', () => {
    expect(formatUnits(1n)).toBe('0');
    expect(formatUnits(1n, 18, 18)).toBe('0.000000000000000001');
    expect(formatUnits(123456789n, 6, 2)).toBe('123.45');
  });
  it('shows negative amounts', () => {
    expect(formatUnits(-1500000000000000000n)).toBe('-1.5');
  });
});

describe('parseUnits', () => {
  it('reads what people type, exactly', () => {
    expect(parseUnits('1.5')).toBe(1500000000000000000n);
    expect(parseUnits('0.000000000000000001')).toBe(1n);
    expect(parseUnits('.5')).toBe(500000000000000000n);
    expect(parseUnits('7')).toBe(7000000000000000000n);
    expect(parseUnits(' 1_000 ')).toBe(1000000000000000000000n);
  });
  it('refuses what is not an amount, saying why', () => {
    expect(() => parseUnits('')).toThrow(/not an amount/);
    expect(() => parseUnits('1.2.3')).toThrow(/not an amount/);
    expect(() => parseUnits('-1')).toThrow(/not an amount/);
    expect(() => parseUnits('1e18')).toThrow(/not an amount/);
    expect(() => parseUnits('0.0000000000000000001')).toThrow(/at most 18 digits/);
  });
  it('round-trips with formatUnits', () => {
    for (const text of ['1', '0.5', '123456.789', '0.000001']) {
      expect(formatUnits(parseUnits(text)).replace(/,/g, '')).toBe(text);
    }
  });
});

describe('shortHash and ago', () => {
  it('shortens long hashes only', () => {
    expect(shortHash('0x' + 'ab'.repeat(32))).toBe('0xababab…ababab');
    expect(shortHash('0x1234')).toBe('0x1234');
  });
  it('says how long ago', () => {
    expect(ago(1000, 4000)).toBe('3 s ago');
    expect(ago(0, 5 * 60_000)).toBe('5 min ago');
    expect(ago(0, 2 * 3_600_000)).toBe('2 h ago');
    expect(ago(5000, 1000)).toBe('0 s ago');
  });
});

import { throughput } from '../components/TxChart';

describe('throughput', () => {
  it('is each block’s transactions over the time since the one before', () => {
    const block = (number: number, timestampMs: number, transactionCount: number) => ({
      number, timestampMs, transactionCount, hash: `0x${number}`, proposer: '0x', gasUsed: 0,
    });
    // Newest first, as the API lists them.
    const series = throughput([block(3, 3000, 30), block(2, 2500, 10), block(1, 2000, 99)]);
    expect(series).toEqual([
      { number: 2, tps: 20 },
      { number: 3, tps: 60 },
    ]);
    expect(throughput([block(1, 0, 5)])).toEqual([]);
  });
});

describe('formatUptime', () => {
  it('shows a percentage, or a dash outside the set', () => {
    expect(formatUptime({ uptime: 1, windowBlocks: 100 })).toBe('100%');
    expect(formatUptime({ uptime: 0.995, windowBlocks: 200 })).toBe('99.5%');
    expect(formatUptime({ uptime: 0, windowBlocks: 3 })).toBe('0%');
    expect(formatUptime({ uptime: null, windowBlocks: 0 })).toBe('—');
    expect(formatUptime({ windowBlocks: 0 })).toBe('—');
  });
});
