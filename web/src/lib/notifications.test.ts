import { describe as group, expect, it } from 'vitest';
import { describe } from './notifications';

group('describe', () => {
  const data = {
    asset: 'BTCR',
    from: '0x70997970c51812dc3a010c7d01b50e0d17dc79c8',
    to: '0x00000000000000000000000000000000000000e2',
    value: '500000000000000000',
    transactionHash: '0x' + 'ab'.repeat(32),
  };
  it('says what moved, and where', () => {
    expect(describe('transfer.out', { data })).toBe('Sent 0.5 BTCR to 0x000000…0000e2');
    expect(describe('transfer.in', { data })).toBe('Received 0.5 BTCR from 0x709979…dc79c8');
    const token = { ...data, asset: '0x00000000000000000000000000000000000000aa', value: '7' };
    expect(describe('transfer.in', { data: token })).toMatch(/^Received 7 units of token 0x0000/);
  });
  it('names finality, reverts, slashing, rewards and tests', () => {
    expect(describe('transaction.finalized', { data: { ...data, succeeded: true } })).toMatch(/finalized$/);
    expect(describe('transaction.finalized', { data: { ...data, succeeded: false } })).toMatch(/\(reverted\)$/);
    expect(describe('validator.slashed', { data: { validator: data.from, jailedUntilEpoch: 9 } })).toMatch(/until epoch 9$/);
    expect(describe('rewards.claimable', { data: { amount: '2500000000000000000' } })).toBe('2.5 BTCR of staking rewards to claim');
    expect(describe('webhook.test', { data: {} })).toBe('A test message');
  });
  it('does not fail on what it does not know', () => {
    expect(describe('something.new', null)).toBe('something.new');
    expect(describe('transfer.in', { data: { value: 3 } })).toMatch(/^Received/);
  });
});
