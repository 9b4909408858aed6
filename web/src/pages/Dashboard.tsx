import { useQuery } from '@tanstack/react-query';
import { api } from '../lib/api';
import { formatUnits } from '../lib/format';
import { Card, Empty, ErrorNote, Loading, Stat } from '../components/ui';
import { BlockTable, TransactionTable } from '../components/tables';

/** The network at a glance; refreshed on every new head. */
export default function Dashboard() {
  const summary = useQuery({ queryKey: ['live', 'summary'], queryFn: api.summary });
  const blocks = useQuery({ queryKey: ['live', 'blocks', 'latest'], queryFn: () => api.blocks(undefined, 10) });
  const validators = useQuery({ queryKey: ['live', 'validators'], queryFn: api.validators });
  const withTxs = blocks.data?.items.find((b) => b.transactionCount > 0);
  const txs = useQuery({
    queryKey: ['live', 'block-txs', withTxs?.number],
    queryFn: () => api.blockTransactions(String(withTxs?.number), 1, 10),
    enabled: withTxs !== undefined,
  });
  const s = summary.data;
  return (
    <div className="space-y-4">
      {summary.error && <ErrorNote error={summary.error} />}
      <div className="grid grid-cols-2 gap-3 md:grid-cols-4">
        <Stat label="Height" value={s ? s.height.toLocaleString() : '…'} />
        <Stat label="Finalized" value={s ? s.finalizedHeight.toLocaleString() : '…'} hint="every committed block is final" />
        <Stat label="Transactions per second" value={s ? s.txPerSecond.toFixed(1) : '…'} hint="over the last minute" />
        <Stat
          label="Block time"
          value={s?.blockTimeMs != null ? `${Math.round(s.blockTimeMs)} ms` : '…'}
          hint={s ? `${s.validators} validator${s.validators === 1 ? '' : 's'}, ${s.peers} peer${s.peers === 1 ? '' : 's'}` : undefined}
        />
      </div>
      <div className="grid gap-4 lg:grid-cols-2">
        <Card title="Latest blocks">
          {blocks.isPending ? (
            <Loading what="blocks" />
          ) : blocks.error ? (
            <ErrorNote error={blocks.error} />
          ) : (
            <BlockTable blocks={blocks.data.items} />
          )}
        </Card>
        <Card title="Latest transactions">
          {!withTxs ? (
            <Empty>No transactions in the latest blocks.</Empty>
          ) : txs.isPending ? (
            <Loading what="transactions" />
          ) : txs.error ? (
            <ErrorNote error={txs.error} />
          ) : (
            <TransactionTable txs={txs.data.items} />
          )}
        </Card>
      </div>
      <Card title="Validators">
        {validators.isPending ? (
          <Loading what="validators" />
        ) : validators.error ? (
          <ErrorNote error={validators.error} />
        ) : (
          <p className="text-sm">
            {validators.data.filter((v) => v.status === 'active').length} active of {validators.data.length} registered,{' '}
            {formatUnits(validators.data.reduce((sum, v) => sum + BigInt(v.stake), 0n), 18, 0)} BTCR staked.
          </p>
        )}
      </Card>
    </div>
  );
}
