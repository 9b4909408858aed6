import { useQuery } from '@tanstack/react-query';
import { useParams } from 'react-router';
import { api } from '../lib/api';
import { ago, formatUnits } from '../lib/format';
import { AddressLink, BlockLink, Card, Cell, Empty, ErrorNote, Fields, Loaded, Loading, Table } from '../components/ui';
import { TransactionTable } from '../components/tables';

/** One block: header, PoH, commit certificate and transactions. */
export default function Block() {
  const { id = '' } = useParams();
  const block = useQuery({ queryKey: ['block', id], queryFn: () => api.block(id) });
  const txs = useQuery({ queryKey: ['block-txs', id], queryFn: () => api.blockTransactions(id, 1, 100) });
  if (block.isPending) return <Loading what={`block ${id}`} />;
  if (block.error) return <ErrorNote error={block.error} />;
  const b = block.data;
  return (
    <div className="space-y-4">
      <Card title={`Block ${b.number.toLocaleString()}`}>
        <Fields
          rows={[
            ['Hash', <span className="font-mono text-xs">{b.hash}</span>],
            ['Parent', b.number > 0 ? <BlockLink number={b.number - 1} /> : 'none (genesis)'],
            ['Time', `${new Date(b.timestampMs).toLocaleString()} (${ago(b.timestampMs)})`],
            ['Proposer', <AddressLink address={b.proposer} full />],
            ['Gas used', `${b.gasUsed.toLocaleString()} of ${b.gasLimit.toLocaleString()}`],
            ['Base fee', `${formatUnits(BigInt(b.baseFeePerGas), 9)} gwei`],
            ['State root', <span className="font-mono text-xs">{b.stateRoot}</span>],
            ['PoH', `${b.poh.ticks} ticks, ${b.poh.entries} entries, ending ${b.poh.endHash.slice(0, 18)}…`],
            [
              'Finality',
              b.certificate
                ? `final: ${b.certificate.signatures.length} validator signature${b.certificate.signatures.length === 1 ? '' : 's'}, round ${b.certificate.round}`
                : 'genesis',
            ],
          ]}
        />
      </Card>
      {b.certificate && (
        <Card title="Commit certificate">
          <Table head={['Validator', 'Signature']}>
            {b.certificate.signatures.map((s) => (
              <tr key={s.validator}>
                <Cell>
                  <AddressLink address={s.validator} />
                </Cell>
                <Cell mono>{s.signature.slice(0, 34)}…</Cell>
              </tr>
            ))}
          </Table>
        </Card>
      )}
      <Card title={`Transactions (${b.transactionCount})`}>
        {b.transactionCount === 0 ? (
          <Empty>This block holds no transactions.</Empty>
        ) : (
          <Loaded query={txs} what="transactions">
            {(page) => <TransactionTable txs={page.items} />}
          </Loaded>
        )}
      </Card>
    </div>
  );
}
