import { useQuery } from '@tanstack/react-query';
import { useParams } from 'react-router';
import { api } from '../lib/api';
import { ago, formatUnits } from '../lib/format';
import { AddressLink, Badge, BlockLink, Card, Cell, ErrorNote, Fields, Loading, Table } from '../components/ui';

/** An amount of a token in its own units and symbol, once the token is read; raw until then
 * (or when the contract does not say). */
function TokenAmount({ token, value }: { token: string; value: string }) {
  const info = useQuery({ queryKey: ['token', token], queryFn: () => api.token(token), staleTime: Infinity, retry: false });
  if (!info.data) return <span>{value} (smallest units)</span>;
  return (
    <span>
      {formatUnits(value, info.data.decimals, info.data.decimals)} {info.data.symbol ?? ''}
    </span>
  );
}

/** One transaction: status, fee, and its ERC-20 transfers. */
export default function Transaction() {
  const { hash = '' } = useParams();
  const tx = useQuery({ queryKey: ['tx', hash], queryFn: () => api.transaction(hash) });
  if (tx.isPending) return <Loading what="the transaction" />;
  if (tx.error) return <ErrorNote error={tx.error} />;
  const t = tx.data;
  return (
    <div className="space-y-4">
      <Card title="Transaction">
        <Fields
          rows={[
            ['Hash', <span className="font-mono text-xs">{t.hash}</span>],
            ['Status', <Badge tone={t.status === 'success' ? 'green' : 'red'}>{t.status}</Badge>],
            ['Block', <span>
              <BlockLink number={t.blockNumber} /> (final), {ago(t.timestampMs)}
            </span>],
            ['From', <AddressLink address={t.from} full />],
            ['To', t.to ? <AddressLink address={t.to} full /> : <span>contract creation: {t.contractAddress && <AddressLink address={t.contractAddress} full />}</span>],
            ['Value', `${formatUnits(t.value, 18, 18)} BTCR`],
            ['Fee', `${formatUnits(t.fee, 18, 18)} BTCR (${t.gasUsed.toLocaleString()} gas at ${formatUnits(t.effectiveGasPrice, 9)} gwei)`],
            ['Nonce, type', `${t.nonce}, ${t.type}`],
            ['Logs', String(t.logCount)],
            ['Input', <span className="font-mono text-xs">{t.input === '0x' ? 'none' : t.input}</span>],
          ]}
        />
      </Card>
      {t.tokenTransfers.length > 0 && (
        <Card title="Token transfers">
          <Table head={['Token', 'From', 'To', 'Amount']}>
            {t.tokenTransfers.map((x, i) => (
              <tr key={i} data-testid="token-transfer">
                <Cell>
                  <AddressLink address={x.token} />
                </Cell>
                <Cell>
                  <AddressLink address={x.from} />
                </Cell>
                <Cell>
                  <AddressLink address={x.to} />
                </Cell>
                <Cell>
                  <TokenAmount token={x.token} value={x.value} />
                </Cell>
              </tr>
            ))}
          </Table>
        </Card>
      )}
    </div>
  );
}
