import { describe, expect, it } from 'vitest';
import { previewFee } from './fees';

const gwei = 1_000_000_000n;
const btcr = 10n ** 18n;

describe('previewFee', () => {
  it('prices a transfer at the estimated gas times the most offered per gas', () => {
    const p = previewFee({ gas: 21_000n, maxFeePerGas: 2n * gwei, value: btcr, balance: 2n * btcr });
    expect(p.maxFee).toBe(42_000n * gwei);
    expect(p.total).toBe(btcr + 42_000n * gwei);
    expect(p.problem).toBeNull();
  });
  it('says when the amount and the fee exceed the balance', () => {
    const p = previewFee({ gas: 21_000n, maxFeePerGas: gwei, value: btcr, balance: btcr });
    expect(p.problem).toMatch(/^Not enough BTCR: the amount and the fee need up to 1\.000021, the wallet holds 1\./);
  });
  it('says when only the fee cannot be paid', () => {
    const p = previewFee({ gas: 50_000n, maxFeePerGas: gwei, value: 0n, balance: 10n });
    expect(p.problem).toMatch(/^Not enough BTCR for the fee/);
  });
  it('checks a token transfer against the token balance first', () => {
    const token = { amount: 5_000_000n, balance: 4_000_000n, symbol: 'USDX', decimals: 6 };
    const p = previewFee({ gas: 60_000n, maxFeePerGas: gwei, value: 0n, balance: btcr, token });
    expect(p.problem).toBe('Not enough USDX: the wallet holds 4.');
    const enough = previewFee({ gas: 60_000n, maxFeePerGas: gwei, value: 0n, balance: btcr, token: { ...token, amount: 4_000_000n } });
    expect(enough.problem).toBeNull();
    expect(enough.total).toBe(60_000n * gwei);
  });
});
