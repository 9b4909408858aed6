// The block and transaction tables that several pages show.
import type { ReactNode } from 'react';
import type { UseQueryResult } from '@tanstack/react-query';
import type { BlockSummary, TransactionPage, TransactionView } from '../lib/api';
import { ago, formatUnits } from '../lib/format';
import { AddressLink, Badge, BlockLink, Card, Cell, Loaded, Table, TxLink } from './ui';

export function BlockTable({ blocks, gas }: { blocks: BlockSummary[]; gas?: boolean }) {
  return (
    <Table head={['Block', 'Age', 'Transactions', ...(gas ? ['Gas used'] : []), 'Proposer']}>
      {blocks.map((b) => (
        <tr key={b.hash}>
          <Cell>
            <BlockLink number={b.number} />
          </Cell>
          <Cell>{ago(b.timestampMs)}</Cell>
          <Cell>{b.transactionCount}</Cell>
          {gas && <Cell>{b.gasUsed.toLocaleString()}</Cell>}
          <Cell>
            <AddressLink address={b.proposer} />
          </Cell>
        </tr>
      ))}
    </Table>
  );
}

/** Transactions; seen from `perspective` (an address), each row says in or out and names
 * the other party, else it names both. */
export function TransactionTable({ txs, perspective }: { txs: TransactionView[]; perspective?: string }) {
  const own = perspective?.toLowerCase();
  const head = own
    ? ['Hash', 'Block', 'Age', 'Direction', 'Counterparty', 'Value (BTCR)', 'Status']
    : ['Hash', 'Block', 'From', 'To', 'Value (BTCR)', 'Status'];
  return (
    <Table head={head}>
      {txs.map((t) => {
        const out = t.from.toLowerCase() === own;
        const to = t.to ?? t.contractAddress;
        const other = out ? to : t.from;
        return (
          <tr key={t.hash}>
            <Cell>
              <TxLink hash={t.hash} />
            </Cell>
            <Cell>
              <BlockLink number={t.blockNumber} />
            </Cell>
            {own ? (
              <>
                <Cell>{ago(t.timestampMs)}</Cell>
                <Cell>
                  <Badge tone={out ? 'amber' : 'green'}>{out ? 'out' : 'in'}</Badge>
                </Cell>
                <Cell>{other ? <AddressLink address={other} /> : '—'}</Cell>
              </>
            ) : (
              <>
                <Cell>
                  <AddressLink address={t.from} />
                </Cell>
                <Cell>{to ? <AddressLink address={to} /> : '—'}</Cell>
              </>
            )}
            <Cell>
              {formatUnits(t.value)}
              {t.tokenTransfers.length > 0 && (
                <span className="ml-2" title="It moved ERC-20 tokens: see the transaction">
                  <Badge tone="zinc">+ token</Badge>
                </span>
              )}
            </Cell>
            <Cell>
              <Badge tone={t.status === 'success' ? 'green' : 'red'}>{t.status}</Badge>
            </Cell>
          </tr>
        );
      })}
    </Table>
  );
}

/** An address's transactions as a card: loading, error, empty, or the table seen from it. */
export function HistoryCard({
  history,
  address,
  action,
  empty,
}: {
  history: UseQueryResult<TransactionPage>;
  address: string;
  action?: ReactNode;
  empty: string;
}) {
  return (
    <Card title="History" action={action}>
      <Loaded query={history} what="the history" isEmpty={(page) => page.items.length === 0} empty={empty}>
        {(page) => <TransactionTable txs={page.items} perspective={address} />}
      </Loaded>
    </Card>
  );
}
