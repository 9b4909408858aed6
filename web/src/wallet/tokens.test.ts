import { describe, expect, it } from 'vitest';
import { type Token, withToken } from './tokens';

const token = (address: string, symbol: string): Token => ({ address: address as `0x${string}`, name: symbol, symbol, decimals: 18 });

describe('withToken', () => {
  it('keeps each token once, by address in any case, sorted by symbol', () => {
    const a = token('0x00000000000000000000000000000000000000aa', 'ZED');
    const b = token('0x00000000000000000000000000000000000000bb', 'ABC');
    const list = withToken(withToken([], a), b);
    expect(list.map((t) => t.symbol)).toEqual(['ABC', 'ZED']);
    const renamed = { ...token('0x00000000000000000000000000000000000000AA', 'NEW') };
    expect(withToken(list, renamed).map((t) => t.symbol)).toEqual(['ABC', 'NEW']);
  });
});
