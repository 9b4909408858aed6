import { useQuery } from '@tanstack/react-query';
import { Link, useParams, useSearchParams } from 'react-router';
import { api } from '../lib/api';
import { formatUnits } from '../lib/format';
import { AddressLink, Card, Cell, Empty, ErrorNote, Fields, Loading, Table } from '../components/ui';
import { HistoryCard } from '../components/tables';

/** An account or contract and its history, newest first. */
export default function Address() {
  const { address = '' } = useParams();
  const [params] = useSearchParams();
  const before = params.get('before') ?? undefined;
  const account = useQuery({ queryKey: ['live', 'address', address], queryFn: () => api.address(address) });
  const history = useQuery({
    queryKey: ['live', 'address-txs', address, before],
    queryFn: () => api.addressTransactions(address, before, 25),
  });
  if (account.isPending) return <Loading what="the address" />;
  if (account.error) return <ErrorNote error={account.error} />;
  const a = account.data;
  return (
    <div className="space-y-4">
      <Card title={a.isContract ? 'Contract' : 'Address'}>
        <Fields
          rows={[
            ['Address', <span className="font-mono text-xs">{a.address}</span>],
            ['Balance', <span data-testid="balance">{formatUnits(a.balance, 18, 18)} BTCR</span>],
            ['Transactions sent', String(a.nonce)],
            ['Kind', a.isContract ? `contract (${a.codeSize.toLocaleString()} bytes of code)` : 'account'],
          ]}
        />
      </Card>
      <Card title="Tokens">
        {a.tokens.length === 0 ? (
          <Empty>No ERC-20 token balances.</Empty>
        ) : (
          <Table head={['Token', 'Name', 'Balance', 'Contract']}>
            {a.tokens.map((t) => (
              <tr key={t.token} data-testid="token-row">
                <Cell>{t.symbol ?? '?'}</Cell>
                <Cell>{t.name ?? '—'}</Cell>
                <Cell>
                  {t.decimals == null ? `${t.balance} (smallest units)` : formatUnits(t.balance, t.decimals, t.decimals)}
                </Cell>
                <Cell>
                  <AddressLink address={t.token} />
                </Cell>
              </tr>
            ))}
          </Table>
        )}
      </Card>
      <HistoryCard
        history={history}
        address={a.address}
        empty="No transactions yet."
        action={
          history.data?.nextCursor && (
            <Link className="text-sm text-sky-700 hover:underline dark:text-sky-400" to={`?before=${history.data.nextCursor}`}>
              Older →
            </Link>
          )
        }
      />
    </div>
  );
}
