import { useQuery } from '@tanstack/react-query';
import { api } from '../lib/api';
import { formatUnits } from '../lib/format';
import { AddressLink, Badge, Card, Cell, Empty, ErrorNote, Loading, Table } from '../components/ui';

const tone = { active: 'green', candidate: 'zinc', jailed: 'red' } as const;

/** The staking contract's validators. Delegating from the browser comes with the wallet. */
export default function Staking() {
  const validators = useQuery({ queryKey: ['live', 'validators'], queryFn: api.validators });
  return (
    <Card title="Validators">
      <p className="mb-3 text-sm text-zinc-600 dark:text-zinc-400">
        Stake elects the validator set at the end of each epoch. The staking contract lives at{' '}
        <AddressLink address="0x0000000000000000000000000000000000001000" full />; any Ethereum wallet can call it.
      </p>
      {validators.isPending ? (
        <Loading what="validators" />
      ) : validators.error ? (
        <ErrorNote error={validators.error} />
      ) : validators.data.length === 0 ? (
        <Empty>No validator is registered.</Empty>
      ) : (
        <Table head={['Validator', 'Status', 'Stake (BTCR)', 'Self-stake', 'Commission', 'Voting power', 'Slashed']}>
          {validators.data.map((v) => (
            <tr key={v.address}>
              <Cell>
                <AddressLink address={v.address} />
              </Cell>
              <Cell>
                <Badge tone={tone[v.status]}>{v.status}</Badge>
              </Cell>
              <Cell>{formatUnits(v.stake, 18, 2)}</Cell>
              <Cell>{formatUnits(v.selfStake, 18, 2)}</Cell>
              <Cell>{(v.commissionBps / 100).toFixed(2)}%</Cell>
              <Cell>{v.votingPower.toLocaleString()}</Cell>
              <Cell>{formatUnits(v.slashed, 18, 2)}</Cell>
            </tr>
          ))}
        </Table>
      )}
    </Card>
  );
}
