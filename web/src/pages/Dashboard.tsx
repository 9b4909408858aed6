import { useQuery } from '@tanstack/react-query';
import { api, type ValidatorRow } from '../lib/api';
import { formatUnits, formatUptime } from '../lib/format';
import { Card, Empty, ErrorNote, Loaded, Loading, Stat } from '../components/ui';
import { BlockTable, TransactionTable } from '../components/tables';
import { TxChart } from '../components/TxChart';

/** The mean uptime of the validators in the set, or null when none has one. */
function meanUptime(validators: ValidatorRow[]): number | null {
  const inSet = validators.filter((v) => v.uptime != null);
  return inSet.length ? inSet.reduce((sum, v) => sum + v.uptime!, 0) / inSet.length : null;
}

/** The network at a glance; refreshed as new heads arrive (at most about once a second). */
export default function Dashboard() {
  const summary = useQuery({ queryKey: ['live', 'summary'], queryFn: api.summary });
  const recent = useQuery({ queryKey: ['live', 'blocks', 'recent'], queryFn: () => api.blocks(undefined, 60) });
  const latest = recent.data?.items.slice(0, 10);
  const validators = useQuery({ queryKey: ['live', 'validators'], queryFn: api.validators });
  const withTxs = latest?.find((b) => b.transactionCount > 0);
  const txs = useQuery({
    queryKey: ['live', 'block-txs', withTxs?.number],
    queryFn: () => api.blockTransactions(String(withTxs?.number), 1, 10),
    enabled: withTxs !== undefined,
  });
  const s = summary.data;
  return (
    <div className="space-y-4">
      {summary.error && <ErrorNote error={summary.error} />}
      <div className="grid grid-cols-2 gap-3 md:grid-cols-3 xl:grid-cols-5">
        <Stat label="Height" value={s ? s.height.toLocaleString() : '…'} />
        <Stat label="Finalized" value={s ? s.finalizedHeight.toLocaleString() : '…'} hint="every committed block is final" />
        <Stat label="Transactions per second" value={s ? s.txPerSecond.toFixed(1) : '…'} hint="over the last minute" />
        <Stat
          label="Block time"
          value={s?.blockTimeMs != null ? `${Math.round(s.blockTimeMs)} ms` : '…'}
          hint={s ? `${s.validators} validator${s.validators === 1 ? '' : 's'}, ${s.peers} peer${s.peers === 1 ? '' : 's'}` : undefined}
        />
        <Stat label="Supply" value={s ? `${formatUnits(s.supply, 18, 0)}` : '…'} hint="BTCR in existence, staked included" />
      </div>
      <Card title="Transactions per second, last blocks">
        {recent.data ? <TxChart blocks={recent.data.items} /> : recent.error ? <ErrorNote error={recent.error} /> : <Loading what="blocks" />}
      </Card>
      <div className="grid gap-4 lg:grid-cols-2">
        <Card title="Latest blocks">
          {latest ? <BlockTable blocks={latest} /> : recent.error ? <ErrorNote error={recent.error} /> : <Loading what="blocks" />}
        </Card>
        <Card title="Latest transactions">
          {!withTxs ? (
            <Empty>No transactions in the latest blocks.</Empty>
          ) : (
            <Loaded query={txs} what="transactions">
              {(page) => <TransactionTable txs={page.items} />}
            </Loaded>
          )}
        </Card>
      </div>
      <Card title="Validators">
        <Loaded query={validators} what="validators">
          {(list) => (
            <p className="text-sm">
              {list.filter((v) => v.status === 'active').length} active of {list.length} registered,{' '}
              {formatUnits(list.reduce((sum, v) => sum + BigInt(v.stake), 0n), 18, 0)} BTCR staked
              {meanUptime(list) !== null && <>, mean uptime {formatUptime({ uptime: meanUptime(list), windowBlocks: 1 })}</>}.
            </p>
          )}
        </Loaded>
      </Card>
    </div>
  );
}
