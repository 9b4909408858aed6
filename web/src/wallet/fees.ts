// What a transfer will cost before it is sent, and whether the wallet can pay for it.
import { formatUnits } from '../lib/format';

export interface SendPlan {
  /** Gas the node estimated for the transaction. */
  gas: bigint;
  /** The most the wallet will offer per gas (base fee headroom plus tip). */
  maxFeePerGas: bigint;
  /** BTCR sent with the transaction (0 for a token transfer), in wei. */
  value: bigint;
  /** The wallet's BTCR balance, in wei. */
  balance: bigint;
  /** For a token transfer: the amount, the wallet's balance of it, its symbol and decimals. */
  token?: { amount: bigint; balance: bigint; symbol: string; decimals: number };
}

export interface FeePreview {
  /** The most the fee can be, in wei. */
  maxFee: bigint;
  /** BTCR that leaves the wallet at most: the value and the fee. */
  total: bigint;
  /** Why the wallet cannot send it, or null. */
  problem: string | null;
}

export function previewFee(plan: SendPlan): FeePreview {
  const maxFee = plan.gas * plan.maxFeePerGas;
  const total = plan.value + maxFee;
  let problem: string | null = null;
  if (plan.token && plan.token.amount > plan.token.balance) {
    const t = plan.token;
    problem = `Not enough ${t.symbol}: the wallet holds ${formatUnits(t.balance, t.decimals, t.decimals)}.`;
  } else if (total > plan.balance) {
    problem = plan.value
      ? `Not enough BTCR: the amount and the fee need up to ${formatUnits(total, 18, 8)}, the wallet holds ${formatUnits(plan.balance, 18, 8)}.`
      : `Not enough BTCR for the fee: it can reach ${formatUnits(total, 18, 8)}, the wallet holds ${formatUnits(plan.balance, 18, 8)}.`;
  }
  return { maxFee, total, problem };
}
