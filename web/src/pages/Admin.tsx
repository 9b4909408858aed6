// The operators' dashboard, for administrators only (the node checks the role on every
// request; this page only hides what it would refuse): the network, users, the audit log,
// statistics and the service's settings.
import { type FormEvent, useEffect, useState } from 'react';
import { Link } from 'react-router';
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Bar, BarChart, CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { api } from '../lib/api';
import { accounts, type Limit, type RateLimits, type Settings, type User } from '../lib/accounts';
import { formatUptime } from '../lib/format';
import { useSession } from '../lib/session';
import { AddressLink, Badge, Card, Cell, ErrorNote, Loaded, Stat, Table } from '../components/ui';
import { Button, Field, Input, Textarea } from '../components/forms';
import { Tabs } from '../components/controls';

const when = (ms: number) => new Date(ms).toLocaleString();

/** Milliseconds between each block and the one before it. */
function blockTimes(blocks: { number: number; timestampMs: number }[]) {
  const ordered = [...blocks].sort((a, b) => a.number - b.number);
  return ordered.slice(1).map((b, i) => ({ number: b.number, ms: b.timestampMs - ordered[i].timestampMs }));
}

function Network() {
  const stats = useQuery({ queryKey: ['live', 'admin', 'stats'], queryFn: accounts.stats, refetchInterval: 2_000 });
  const blocks = useQuery({ queryKey: ['live', 'admin', 'blocks'], queryFn: () => api.blocks(undefined, 60), refetchInterval: 2_000 });
  const validators = useQuery({ queryKey: ['live', 'validators'], queryFn: api.validators, refetchInterval: 5_000 });
  const chain = stats.data?.chain;
  return (
    <div className="space-y-4">
      {stats.data?.chainError && <ErrorNote error={`The node's figures are missing: ${stats.data.chainError}`} />}
      {stats.error && <ErrorNote error={stats.error} />}
      <div className="grid grid-cols-2 gap-3 md:grid-cols-4">
        <Stat label="Height" value={chain ? chain.height.toLocaleString() : '—'} />
        <Stat label="Finalized" value={chain ? chain.finalizedHeight.toLocaleString() : '—'} />
        <Stat label="Block time" value={chain?.blockTimeMs != null ? `${Math.round(chain.blockTimeMs)} ms` : '—'} />
        <Stat label="Tx per second" value={chain ? chain.txPerSecond.toFixed(1) : '—'} />
        <Stat label="Validators" value={chain ? chain.validators : '—'} />
        <Stat label="Peers" value={chain ? chain.peers : '—'} />
        <Stat label="Pool pending" value={chain ? chain.pendingTransactions : '—'} />
        <Stat label="Pool queued" value={chain ? chain.queuedTransactions : '—'} />
      </div>
      <Card title="Block time (ms), latest blocks">
        <Loaded query={blocks} what="blocks">
          {(page) => (
            <div className="h-48 w-full" data-testid="block-time-chart">
              <ResponsiveContainer width="100%" height="100%">
                <LineChart data={blockTimes(page.items)} margin={{ top: 4, right: 8, bottom: 0, left: -8 }}>
                  <CartesianGrid strokeDasharray="3 3" strokeOpacity={0.2} />
                  <XAxis dataKey="number" tick={{ fontSize: 11 }} minTickGap={24} />
                  <YAxis tick={{ fontSize: 11 }} allowDecimals={false} />
                  <Tooltip formatter={(v) => [`${v} ms`, 'since the block before']} labelFormatter={(n) => `block ${n}`} />
                  <Line type="monotone" dataKey="ms" stroke="#0284c7" dot={false} isAnimationActive={false} />
                </LineChart>
              </ResponsiveContainer>
            </div>
          )}
        </Loaded>
      </Card>
      <Card title="Validators">
        <Loaded query={validators} what="validators">
          {(list) => (
            <Table head={['Validator', 'Status', 'Voting power', 'Uptime']}>
              {list.map((v) => (
                <tr key={v.address}>
                  <Cell>
                    <AddressLink address={v.address} />
                  </Cell>
                  <Cell>
                    <Badge tone={v.status === 'active' ? 'green' : 'amber'}>{v.status}</Badge>
                  </Cell>
                  <Cell>{v.votingPower.toLocaleString()}</Cell>
                  <Cell>
                    <span data-testid="admin-uptime">{formatUptime(v)}</span>
                  </Cell>
                </tr>
              ))}
            </Table>
          )}
        </Loaded>
      </Card>
    </div>
  );
}

const PAGE = 20;

function Users() {
  const { me } = useSession();
  const queries = useQueryClient();
  const [search, setSearch] = useState('');
  const [offset, setOffset] = useState(0);
  const users = useQuery({
    queryKey: ['admin', 'users', search, offset],
    queryFn: () => accounts.users(search, offset, PAGE),
    placeholderData: keepPreviousData,
  });
  const update = useMutation({
    mutationFn: ({ user, change }: { user: User; change: { role?: 'user' | 'admin'; disabled?: boolean } }) =>
      accounts.updateUser(user.id, change),
    onSuccess: () => {
      queries.invalidateQueries({ queryKey: ['admin'] });
    },
  });
  return (
    <Card title="Users">
      <div className="space-y-3">
        <div className="w-72">
          <Input
            size="md"
            type="search"
            aria-label="Search users by e-mail"
            placeholder="Search by e-mail"
            value={search}
            onChange={(e) => {
              setSearch(e.target.value);
              setOffset(0);
            }}
          />
        </div>
        <Loaded query={users} what="users">
          {(page) => (
            <>
              <Table head={['E-mail', 'Role', 'Status', 'Since', '']}>
                {page.users.map((u) => (
                  <tr key={u.id} data-testid="user-row">
                    <Cell>{u.email}</Cell>
                    <Cell>
                      <Badge tone={u.role === 'admin' ? 'amber' : 'zinc'}>{u.role}</Badge>
                    </Cell>
                    <Cell>
                      <Badge tone={u.disabled ? 'red' : 'green'}>{u.disabled ? 'disabled' : 'active'}</Badge>
                    </Cell>
                    <Cell>{when(u.created_ms)}</Cell>
                    <Cell>
                      {u.id !== me?.id && (
                        <span className="flex gap-2">
                          <Button size="sm" disabled={update.isPending} onClick={() => update.mutate({ user: u, change: { role: u.role === 'admin' ? 'user' : 'admin' } })}>
                            {u.role === 'admin' ? 'Make user' : 'Make admin'}
                          </Button>
                          <Button
                            size="sm"
                            variant={u.disabled ? 'secondary' : 'danger'}
                            disabled={update.isPending}
                            onClick={() => update.mutate({ user: u, change: { disabled: !u.disabled } })}
                          >
                            {u.disabled ? 'Enable' : 'Disable'}
                          </Button>
                        </span>
                      )}
                    </Cell>
                  </tr>
                ))}
              </Table>
              <div className="flex items-center gap-3 text-sm">
                <span data-testid="users-total">
                  {page.total === 0 ? 'No user matches.' : `${offset + 1}–${offset + page.users.length} of ${page.total}`}
                </span>
                <Button size="sm" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE))}>
                  ← Previous
                </Button>
                <Button size="sm" disabled={offset + PAGE >= page.total} onClick={() => setOffset(offset + PAGE)}>
                  Next →
                </Button>
              </div>
            </>
          )}
        </Loaded>
        {update.error && <ErrorNote error={update.error} />}
      </div>
    </Card>
  );
}

const AUDIT_PAGE = 100;

function Audit() {
  // The log is read forward from a sequence number; each page starts after the last one.
  const [starts, setStarts] = useState<number[]>([0]);
  const after = starts[starts.length - 1];
  const records = useQuery({ queryKey: ['admin', 'audit', after], queryFn: () => accounts.audit(after, AUDIT_PAGE) });
  return (
    <Card title="Audit log">
      <div className="space-y-3">
        <p className="text-sm text-zinc-600 dark:text-zinc-400">
          Every security event and administrator's action, oldest first. Each record holds the hash of the one before it;{' '}
          <span className="font-mono text-xs">btcr accounts audit-verify</span> checks the whole chain.
        </p>
        <Loaded query={records} what="the audit log" isEmpty={(list) => list.length === 0} empty="No record here.">
          {(list) => (
            <Table head={['#', 'When', 'Actor', 'Action', 'Subject', 'From', 'Detail']}>
              {list.map((r) => (
                <tr key={r.seq} data-testid="audit-row">
                  <Cell>{r.seq}</Cell>
                  <Cell>{when(r.at_ms)}</Cell>
                  <Cell>{r.actor ?? '—'}</Cell>
                  <Cell mono>{r.action}</Cell>
                  <Cell>{r.subject ?? '—'}</Cell>
                  <Cell mono>{r.ip ?? '—'}</Cell>
                  <Cell mono>
                    <span className="block max-w-80 truncate" title={r.detail}>
                      {r.detail}
                    </span>
                  </Cell>
                </tr>
              ))}
            </Table>
          )}
        </Loaded>
        <div className="flex gap-2">
          <Button size="sm" disabled={starts.length === 1} onClick={() => setStarts(starts.slice(0, -1))}>
            ← Earlier
          </Button>
          <Button
            size="sm"
            disabled={(records.data?.length ?? 0) < AUDIT_PAGE}
            onClick={() => records.data && setStarts([...starts, records.data[records.data.length - 1].seq])}
          >
            Later →
          </Button>
        </div>
      </div>
    </Card>
  );
}

function Statistics() {
  const stats = useQuery({ queryKey: ['admin', 'stats'], queryFn: accounts.stats });
  return (
    <Loaded query={stats} what="the statistics">
      {({ accounts: a, chain }) => (
        <div className="space-y-4">
          <div className="grid grid-cols-2 gap-3 md:grid-cols-3">
            <Stat label="Users" value={a.users} />
            <Stat label="Administrators" value={a.admins} />
            <Stat label="Disabled" value={a.disabled} />
            <Stat label="With TOTP" value={a.withTotp} />
            <Stat label="Active sessions" value={a.activeSessions} />
            <Stat label="API keys" value={a.apiKeys} />
          </div>
          <Card title="Sign-ups per day (UTC), last 30 days">
            <div className="h-48 w-full" data-testid="signups-chart">
              <ResponsiveContainer width="100%" height="100%">
                <BarChart data={a.signupsPerDay} margin={{ top: 4, right: 8, bottom: 0, left: -16 }}>
                  <CartesianGrid strokeDasharray="3 3" strokeOpacity={0.2} />
                  <XAxis dataKey="day" tick={{ fontSize: 11 }} minTickGap={24} />
                  <YAxis tick={{ fontSize: 11 }} allowDecimals={false} />
                  <Tooltip formatter={(v) => [v, 'sign-ups']} />
                  <Bar dataKey="count" fill="#0284c7" isAnimationActive={false} />
                </BarChart>
              </ResponsiveContainer>
            </div>
          </Card>
          {chain && (
            <div className="grid grid-cols-2 gap-3 md:grid-cols-3">
              <Stat label="Chain tx per second" value={chain.txPerSecond.toFixed(1)} />
              <Stat label="Blocks" value={chain.height.toLocaleString()} />
              <Stat label="Transactions in the pool" value={chain.pendingTransactions + chain.queuedTransactions} />
            </div>
          )}
        </div>
      )}
    </Loaded>
  );
}

const limitNames: [keyof RateLimits, string][] = [
  ['registerPerIp', 'Registrations per address'],
  ['loginFailuresPerAccount', 'Failed sign-ins per account'],
  ['loginFailuresPerIp', 'Failed sign-ins per address'],
  ['refreshPerIp', 'Token refreshes per address'],
];

function LimitRow({ label, limit, onChange }: { label: string; limit: Limit; onChange: (l: Limit) => void }) {
  const number = (key: keyof Limit, text: string) => (
    <Field label={`${label}: ${text}`}>
      <Input type="number" min={1} required value={limit[key]} onChange={(e) => onChange({ ...limit, [key]: Number(e.target.value) })} />
    </Field>
  );
  return (
    <div className="grid grid-cols-1 gap-2 sm:grid-cols-3">
      {number('max', 'at most')}
      {number('windowS', 'in seconds')}
      {number('lockoutS', 'then locked (s)')}
    </div>
  );
}

function SettingsForm() {
  const queries = useQueryClient();
  const current = useQuery({ queryKey: ['admin', 'settings'], queryFn: accounts.adminSettings });
  const [draft, setDraft] = useState<Settings | null>(null);
  useEffect(() => {
    if (current.data && draft === null) setDraft(current.data);
  }, [current.data, draft]);
  const save = useMutation({
    mutationFn: (s: Settings) => accounts.updateSettings(s),
    onSuccess: (s) => {
      setDraft(s);
      queries.setQueryData(['admin', 'settings'], s);
      queries.invalidateQueries({ queryKey: ['accounts', 'settings'] });
      queries.invalidateQueries({ queryKey: ['admin', 'audit'] });
    },
  });
  if (current.error) return <ErrorNote error={current.error} />;
  if (!draft) return <p className="text-sm text-zinc-500">Loading the settings…</p>;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    save.mutate({ ...draft, banner: draft.banner?.trim() ? draft.banner.trim() : null });
  };
  return (
    <Card title="Settings">
      <form className="max-w-3xl space-y-4" onSubmit={submit}>
        <label className="flex items-center gap-2 text-sm">
          <input type="checkbox" checked={draft.registrationOpen} onChange={(e) => setDraft({ ...draft, registrationOpen: e.target.checked })} />
          Registration open (new users may sign up)
        </label>
        <Field label="Banner" hint="Shown at the top of every page; empty for none. At most 500 characters.">
          <Textarea rows={2} maxLength={500} value={draft.banner ?? ''} onChange={(e) => setDraft({ ...draft, banner: e.target.value })} />
        </Field>
        <fieldset className="space-y-3">
          <legend className="text-sm font-medium">Rate limits</legend>
          {limitNames.map(([key, label]) => (
            <LimitRow key={key} label={label} limit={draft.limits[key]} onChange={(l) => setDraft({ ...draft, limits: { ...draft.limits, [key]: l } })} />
          ))}
        </fieldset>
        {save.error && <ErrorNote error={save.error} />}
        {save.isSuccess && (
          <p role="status" className="text-sm text-emerald-700 dark:text-emerald-400">
            Saved: in force now, and on every replica within 2 seconds.
          </p>
        )}
        <Button type="submit" variant="primary" busy={save.isPending} busyLabel="Saving…">
          Save the settings
        </Button>
      </form>
    </Card>
  );
}

export default function Admin() {
  const { me, ready } = useSession();
  const [tab, setTab] = useState('network');
  if (!ready) return <p className="text-sm text-zinc-500">Loading…</p>;
  if (!me) {
    return (
      <Card title="Administration">
        <p className="text-sm">
          <Link className="text-sky-700 hover:underline dark:text-sky-400" to="/signin" state={{ from: '/admin' }}>
            Sign in
          </Link>{' '}
          as an administrator to see the network, the users, the audit log, the statistics and the settings.
        </p>
      </Card>
    );
  }
  if (me.role !== 'admin') {
    return <ErrorNote error="Only administrators may see this page." />;
  }
  return (
    <Tabs
      label="Administration"
      value={tab}
      onChange={setTab}
      tabs={[
        ['network', 'Network'],
        ['users', 'Users'],
        ['audit', 'Audit log'],
        ['stats', 'Statistics'],
        ['settings', 'Settings'],
      ]}
    >
      {{
        network: <Network />,
        users: <Users />,
        audit: <Audit />,
        stats: <Statistics />,
        settings: <SettingsForm />,
      }}
    </Tabs>
  );
}
