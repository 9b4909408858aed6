import { type FormEvent, useId, useMemo, useState } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router';
import { privateKeyToAccount } from 'viem/accounts';
import { api, type ValidatorRow } from '../lib/api';
import { formatUnits, formatUptime, parseUnits } from '../lib/format';
import { AddressLink, Badge, Card, Cell, Empty, ErrorNote, Loaded, Loading, Table } from '../components/ui';
import { Button, Input } from '../components/forms';
import { useAnnounce } from '../components/announcer';
import { clients, explain } from '../wallet/chain';
import { STAKING_ABI, STAKING_ADDRESS } from '../wallet/staking';
import { useWallet } from '../wallet/store';

/** The badge of each validator status the API documents; another one shows grey. */
const tone = (status: string) => (status === 'active' ? 'green' : status === 'jailed' ? 'red' : 'zinc');

type Position = { validator: string; stake: bigint; shares: bigint; pendingRewards: bigint };
type Unbonding = { validator: string; amount: bigint; releaseEpoch: bigint };

/** The wallet's part: its positions, unbondings and rewards, and the calls that change them. */
function useStaker(chainId: number | undefined) {
  const { saved, key } = useWallet();
  const account = useMemo(() => (key ? privateKeyToAccount(key) : undefined), [key]);
  const c = useMemo(() => (chainId && account ? clients(chainId, account) : undefined), [chainId, account]);
  const address = saved?.address;
  const read = useQuery({
    queryKey: ['live', 'staker', address, chainId],
    enabled: !!c && !!address,
    queryFn: async () => {
      const call = (functionName: string, args: unknown[]) =>
        c!.public.readContract({ address: STAKING_ADDRESS, abi: STAKING_ABI, functionName, args });
      const [positions, unbondings, rewards, epoch] = await Promise.all([
        call('getPositions', [address]) as Promise<Position[]>,
        call('getUnbondings', [address]) as Promise<Unbonding[]>,
        call('pendingRewards', [address]) as Promise<bigint>,
        call('epoch', []) as Promise<bigint>,
      ]);
      return { positions, unbondings, rewards, epoch };
    },
  });
  const client = useQueryClient();
  const announce = useAnnounce();
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const send = async (label: string, functionName: string, args: unknown[], value?: bigint) => {
    if (!c?.wallet || !account) return;
    setBusy(label);
    setError(null);
    setDone(null);
    announce(`${label}: waiting for the block.`);
    try {
      const hash = await c.wallet.writeContract({
        address: STAKING_ADDRESS,
        abi: STAKING_ABI,
        functionName,
        args,
        value,
        account,
        chain: c.wallet.chain,
      });
      const receipt = await c.public.waitForTransactionReceipt({ hash, timeout: 120_000 });
      if (receipt.status !== 'success') throw new Error(`${label} failed on chain (transaction ${hash}).`);
      const done = `${label}: finalized in block ${receipt.blockNumber}.`;
      setDone(done);
      announce(done);
      await client.invalidateQueries({ queryKey: ['live'] });
    } catch (err) {
      setError(explain(err));
    }
    setBusy(null);
  };
  return { unlocked: !!c, read, send, busy, error, done };
}

function AmountAction({ label, onSubmit, disabled }: { label: string; onSubmit: (wei: bigint) => void; disabled: boolean }) {
  const [text, setText] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const problemId = useId();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    try {
      const wei = parseUnits(text);
      if (wei === 0n) throw new Error('Enter an amount above zero.');
      setProblem(null);
      onSubmit(wei);
    } catch (err) {
      setProblem((err as Error).message);
    }
  };
  return (
    <form onSubmit={submit} className="flex items-center gap-1">
      <Input
        size="sm"
        className="w-28"
        value={text}
        onChange={(e) => setText(e.target.value)}
        placeholder="BTCR"
        aria-label={`${label} amount`}
        aria-invalid={problem ? true : undefined}
        aria-describedby={problem ? problemId : undefined}
      />
      <Button type="submit" size="sm" disabled={disabled}>
        {label}
      </Button>
      {problem && (
        <span id={problemId} className="text-xs text-amber-700 dark:text-amber-400">
          {problem}
        </span>
      )}
    </form>
  );
}

/** The staking contract's validators, and the wallet's delegations when it is unlocked. */
export default function Staking() {
  const validators = useQuery({ queryKey: ['live', 'validators'], queryFn: api.validators });
  const summary = useQuery({ queryKey: ['live', 'summary'], queryFn: api.summary });
  const staker = useStaker(summary.data?.chainId);
  const data = staker.read.data;
  return (
    <div className="space-y-4">
      <Card title="Validators">
        <p className="mb-3 text-sm text-zinc-600 dark:text-zinc-400">
          Stake elects the validator set at the end of each epoch; rewards are shared by stake after each validator's
          commission. The staking contract lives at <AddressLink address={STAKING_ADDRESS} full />; any Ethereum wallet can
          call it.
        </p>
        <Loaded query={validators} what="validators" isEmpty={(list) => list.length === 0} empty="No validator is registered.">
          {(list) => (
          <Table head={['Validator', 'Status', 'Stake (BTCR)', 'Self-stake', 'Commission', 'Voting power', 'Uptime', 'Slashed', ...(staker.unlocked ? ['Delegate'] : [])]}>
            {list.map((v: ValidatorRow) => (
              <tr key={v.address}>
                <Cell>
                  <AddressLink address={v.address} />
                </Cell>
                <Cell>
                  <Badge tone={tone(v.status)}>{v.status}</Badge>
                </Cell>
                <Cell>{formatUnits(v.stake, 18, 2)}</Cell>
                <Cell>{formatUnits(v.selfStake, 18, 2)}</Cell>
                <Cell>{(v.commissionBps / 100).toFixed(2)}%</Cell>
                <Cell>{v.votingPower.toLocaleString()}</Cell>
                <Cell>
                  <span title={`${v.signedBlocks} of the latest ${v.windowBlocks} blocks carry its vote`} data-testid="uptime">
                    {formatUptime(v)}
                  </span>
                </Cell>
                <Cell>{formatUnits(v.slashed, 18, 2)}</Cell>
                {staker.unlocked && (
                  <Cell>
                    <AmountAction
                      label="Delegate"
                      disabled={staker.busy !== null}
                      onSubmit={(wei) => staker.send('Delegation', 'delegate', [v.address], wei)}
                    />
                  </Cell>
                )}
              </tr>
            ))}
          </Table>
          )}
        </Loaded>
      </Card>
      <Card title="Your stake">
        {!staker.unlocked ? (
          <p className="text-sm">
            <Link className="text-sky-700 hover:underline dark:text-sky-400" to="/wallet">
              Unlock your wallet
            </Link>{' '}
            to delegate, undelegate, withdraw and claim rewards; every transaction is signed in this browser.
          </p>
        ) : staker.read.isPending ? (
          <Loading what="your positions" />
        ) : staker.read.error ? (
          <ErrorNote error={staker.read.error} />
        ) : (
          <div className="space-y-4">
            <div className="flex flex-wrap items-center gap-3 text-sm">
              <span data-testid="pending-rewards">Pending rewards: {formatUnits(data!.rewards, 18, 8)} BTCR</span>
              <Button size="sm" disabled={staker.busy !== null || data!.rewards === 0n} onClick={() => staker.send('Claim', 'claimRewards', [])}>
                Claim rewards
              </Button>
              <span className="text-zinc-500">Epoch {data!.epoch.toString()}</span>
            </div>
            {data!.positions.length === 0 ? (
              <Empty>No delegations yet.</Empty>
            ) : (
              <Table head={['Validator', 'Stake (BTCR)', 'Pending rewards', 'Undelegate']}>
                {data!.positions.map((p) => (
                  <tr key={p.validator} data-testid="position">
                    <Cell>
                      <AddressLink address={p.validator} />
                    </Cell>
                    <Cell>{formatUnits(p.stake, 18, 6)}</Cell>
                    <Cell>{formatUnits(p.pendingRewards, 18, 8)}</Cell>
                    <Cell>
                      <AmountAction
                        label="Undelegate"
                        disabled={staker.busy !== null}
                        onSubmit={(wei) => staker.send('Undelegation', 'undelegate', [p.validator, wei])}
                      />
                    </Cell>
                  </tr>
                ))}
              </Table>
            )}
            {data!.unbondings.length > 0 && (
              <div className="space-y-2">
                <Table head={['Unbonding from', 'Amount (BTCR)', 'Withdrawable from epoch']}>
                  {data!.unbondings.map((u, i) => (
                    <tr key={i}>
                      <Cell>
                        <AddressLink address={u.validator} />
                      </Cell>
                      <Cell>{formatUnits(u.amount, 18, 6)}</Cell>
                      <Cell>{u.releaseEpoch.toString()}</Cell>
                    </tr>
                  ))}
                </Table>
                <Button
                  size="sm"
                  disabled={staker.busy !== null || !data!.unbondings.some((u) => u.releaseEpoch <= data!.epoch)}
                  onClick={() => staker.send('Withdrawal', 'withdraw', [])}
                >
                  Withdraw what is released
                </Button>
              </div>
            )}
          </div>
        )}
        {staker.busy && <p className="mt-2 text-sm text-amber-700 dark:text-amber-400">{staker.busy}: waiting for the block…</p>}
        {staker.done && (
          <p className="mt-2 text-sm text-emerald-700 dark:text-emerald-400" data-testid="staking-done">
            {staker.done}
          </p>
        )}
        {staker.error && <ErrorNote error={staker.error} />}
      </Card>
    </div>
  );
}
