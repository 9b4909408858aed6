// Transactions per second, block by block, over the latest blocks.
import { Area, AreaChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { BlockSummary } from '../lib/api';

/** Each block's transactions over the time since the block before it. */
export function throughput(blocks: BlockSummary[]): { number: number; tps: number }[] {
  const ordered = [...blocks].sort((a, b) => a.number - b.number);
  return ordered.slice(1).map((b, i) => {
    const ms = Math.max(1, b.timestampMs - ordered[i].timestampMs);
    return { number: b.number, tps: Math.round((b.transactionCount * 1000 * 10) / ms) / 10 };
  });
}

export function TxChart({ blocks }: { blocks: BlockSummary[] }) {
  const data = throughput(blocks);
  return (
    <div className="h-48 w-full" data-testid="tx-chart">
      <ResponsiveContainer width="100%" height="100%">
        <AreaChart data={data} margin={{ top: 4, right: 8, bottom: 0, left: -16 }}>
          <CartesianGrid strokeDasharray="3 3" strokeOpacity={0.2} />
          <XAxis dataKey="number" tick={{ fontSize: 11 }} minTickGap={24} />
          <YAxis tick={{ fontSize: 11 }} allowDecimals={false} />
          <Tooltip formatter={(v) => [`${v} tx/s`, 'throughput']} labelFormatter={(n) => `block ${n}`} />
          <Area type="monotone" dataKey="tps" stroke="#0284c7" fill="#0284c7" fillOpacity={0.2} isAnimationActive={false} />
        </AreaChart>
      </ResponsiveContainer>
    </div>
  );
}
