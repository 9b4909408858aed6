// The signed-in user's notifications: the list the bell counts, the watch list they follow,
// the subscriptions that say which events go where, and webhook endpoints with their
// secret, a test message and the delivery log of every attempt.
import { useState } from 'react';
import { Link } from 'react-router';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { accounts } from '../lib/accounts';
import { type Channel, describe, EVENT_KINDS, type EventKind, notify, type Endpoint } from '../lib/notifications';
import { useSession } from '../lib/session';
import { AddressLink, Badge, Card, Cell, Done, Empty, ErrorNote, Loaded, Table, TxLink } from '../components/ui';
import { Button, Field, Input, Select } from '../components/forms';

const when = (ms: number | null | undefined) => (ms == null ? '—' : new Date(ms).toLocaleString());
const LIST = ['notifications'];

function NotificationList() {
  const queries = useQueryClient();
  // The bell's live connection refreshes it at each new notification.
  const list = useQuery({ queryKey: [...LIST, 'list'], queryFn: () => notify.list(50), refetchInterval: 30_000 });
  const read = useMutation({
    mutationFn: notify.markRead,
    onSuccess: () => queries.invalidateQueries({ queryKey: LIST }),
  });
  const newest = list.data?.notifications[0]?.id;
  return (
    <Card
      title={`Notifications${list.data ? ` (${list.data.unread} unread)` : ''}`}
      action={
        newest !== undefined && list.data?.unread ? (
          <Button size="sm" onClick={() => read.mutate(newest)} busy={read.isPending}>
            Mark all read
          </Button>
        ) : undefined
      }
    >
      <Loaded query={list} what="notifications" isEmpty={(p) => p.notifications.length === 0} empty="Nothing yet: subscribe below to events on the addresses you watch.">
        {(p) => (
          <ul className="divide-y divide-zinc-200 dark:divide-zinc-800" data-testid="notifications">
            {p.notifications.map((n) => {
              const data = (n.payload as { data?: Record<string, unknown> })?.data ?? {};
              return (
                <li key={n.id} className={`flex flex-wrap items-center gap-3 py-2 text-sm ${n.readMs == null ? 'font-medium' : 'text-zinc-500'}`} data-testid="notification">
                  {n.readMs == null && <span className="h-2 w-2 rounded-full bg-sky-500" aria-label="unread" />}
                  <Badge tone={n.kind === 'validator.slashed' ? 'red' : n.kind.startsWith('transfer') ? 'green' : 'zinc'}>{n.kind}</Badge>
                  <span data-testid="notification-text">{describe(n.kind, n.payload)}</span>
                  {typeof data.address === 'string' && <AddressLink address={data.address} />}
                  {typeof data.transactionHash === 'string' && <TxLink hash={data.transactionHash} />}
                  <span className="ml-auto text-xs text-zinc-500">{when(n.createdMs)}</span>
                </li>
              );
            })}
          </ul>
        )}
      </Loaded>
      {read.error && <ErrorNote error={read.error} />}
    </Card>
  );
}

function WatchList() {
  const queries = useQueryClient();
  const list = useQuery({ queryKey: ['account', 'watchlist'], queryFn: accounts.watchlist });
  const [address, setAddress] = useState('');
  const [label, setLabel] = useState('');
  const changed = () => queries.invalidateQueries({ queryKey: ['account', 'watchlist'] });
  const watch = useMutation({
    mutationFn: () => accounts.watch(address.trim(), label.trim()),
    onSuccess: () => {
      setAddress('');
      setLabel('');
      changed();
    },
  });
  const unwatch = useMutation({ mutationFn: accounts.unwatch, onSuccess: changed });
  return (
    <Card title="Watch list">
      <div className="space-y-3">
        <Loaded query={list} what="the watch list" isEmpty={(l) => l.length === 0} empty="No address watched yet.">
          {(l) => (
            <Table head={['Address', 'Label', 'Since', '']}>
              {l.map((w) => (
                <tr key={w.address} data-testid="watched-row">
                  <Cell mono>
                    <AddressLink address={w.address} full />
                  </Cell>
                  <Cell>{w.label || '—'}</Cell>
                  <Cell>{when(w.createdMs)}</Cell>
                  <Cell>
                    <Button size="sm" onClick={() => unwatch.mutate(w.address)} disabled={unwatch.isPending}>
                      Stop watching
                    </Button>
                  </Cell>
                </tr>
              ))}
            </Table>
          )}
        </Loaded>
        <form
          className="flex flex-wrap items-end gap-3"
          onSubmit={(e) => {
            e.preventDefault();
            watch.mutate();
          }}
        >
          <div className="w-96 max-w-full">
            <Field label="Address to watch">
              <Input mono required placeholder="0x…" value={address} onChange={(e) => setAddress(e.target.value)} />
            </Field>
          </div>
          <div className="w-48">
            <Field label="Label">
              <Input maxLength={64} value={label} onChange={(e) => setLabel(e.target.value)} />
            </Field>
          </div>
          <Button type="submit" variant="primary" busy={watch.isPending}>
            Watch
          </Button>
        </form>
        {(watch.error || unwatch.error) && <ErrorNote error={watch.error ?? unwatch.error} />}
      </div>
    </Card>
  );
}

function Subscriptions({ endpoints }: { endpoints: Endpoint[] }) {
  const queries = useQueryClient();
  const list = useQuery({ queryKey: [...LIST, 'subscriptions'], queryFn: notify.subscriptions });
  const watched = useQuery({ queryKey: ['account', 'watchlist'], queryFn: accounts.watchlist });
  const [address, setAddress] = useState('');
  const [kinds, setKinds] = useState<EventKind[]>(['transfer.in', 'transfer.out']);
  const [channel, setChannel] = useState<Channel>('portal');
  const [endpoint, setEndpoint] = useState('');
  // The e-mail destination is the account's own address, chosen by the email channel.
  const webhooks = endpoints.filter((e) => !e.url.startsWith('mailto:'));
  const changed = () => queries.invalidateQueries({ queryKey: [...LIST, 'subscriptions'] });
  const subscribe = useMutation({
    mutationFn: () =>
      notify.subscribe({
        address: address || null,
        kinds,
        channel,
        endpointId: channel === 'webhook' ? Number(endpoint || webhooks[0]?.id) : null,
      }),
    onSuccess: changed,
  });
  const unsubscribe = useMutation({ mutationFn: notify.unsubscribe, onSuccess: changed });
  const toggle = (kind: EventKind) => setKinds((k) => (k.includes(kind) ? k.filter((x) => x !== kind) : [...k, kind]));
  const urlOf = (id: number | null | undefined) => endpoints.find((e) => e.id === id)?.url ?? `endpoint ${id}`;
  return (
    <Card title="Subscriptions">
      <div className="space-y-3">
        <Loaded query={list} what="subscriptions" isEmpty={(l) => l.length === 0} empty="No subscription yet.">
          {(l) => (
            <Table head={['Address', 'Events', 'Goes to', 'Since', '']}>
              {l.map((s) => (
                <tr key={s.id} data-testid="subscription-row">
                  <Cell mono>{s.address ?? 'every watched address'}</Cell>
                  <Cell>{s.kinds.join(', ')}</Cell>
                  <Cell>
                    {s.channel === 'portal'
                      ? 'this portal'
                      : s.channel === 'email'
                        ? `e-mail to ${urlOf(s.endpointId).replace('mailto:', '')}`
                        : urlOf(s.endpointId)}
                  </Cell>
                  <Cell>{when(s.createdMs)}</Cell>
                  <Cell>
                    <Button size="sm" onClick={() => unsubscribe.mutate(s.id)} disabled={unsubscribe.isPending}>
                      Unsubscribe
                    </Button>
                  </Cell>
                </tr>
              ))}
            </Table>
          )}
        </Loaded>
        <form
          className="space-y-3"
          onSubmit={(e) => {
            e.preventDefault();
            subscribe.mutate();
          }}
        >
          <div className="flex flex-wrap gap-3">
            <div className="w-96 max-w-full">
              <Field label="Address">
                <Select value={address} onChange={(e) => setAddress(e.target.value)}>
                  <option value="">Every watched address</option>
                  {watched.data?.map((w) => (
                    <option key={w.address} value={w.address}>
                      {w.label ? `${w.label} (${w.address})` : w.address}
                    </option>
                  ))}
                </Select>
              </Field>
            </div>
            <div className="w-40">
              <Field label="Deliver to">
                <Select value={channel} onChange={(e) => setChannel(e.target.value as Channel)}>
                  <option value="portal">This portal</option>
                  <option value="webhook" disabled={webhooks.length === 0}>
                    A webhook
                  </option>
                  <option value="email">My e-mail</option>
                </Select>
              </Field>
            </div>
            {channel === 'webhook' && (
              <div className="w-80 max-w-full">
                <Field label="Endpoint">
                  <Select value={endpoint} onChange={(e) => setEndpoint(e.target.value)}>
                    {webhooks.map((e) => (
                      <option key={e.id} value={e.id}>
                        {e.url}
                      </option>
                    ))}
                  </Select>
                </Field>
              </div>
            )}
          </div>
          <fieldset className="flex flex-wrap gap-4 text-sm">
            <legend className="mb-1 text-sm font-medium">Events</legend>
            {EVENT_KINDS.map(({ kind, label }) => (
              <label key={kind} className="flex items-center gap-1">
                <input type="checkbox" checked={kinds.includes(kind)} onChange={() => toggle(kind)} /> {label}
              </label>
            ))}
          </fieldset>
          <Button type="submit" variant="primary" busy={subscribe.isPending} disabled={kinds.length === 0}>
            Subscribe
          </Button>
        </form>
        {(subscribe.error || unsubscribe.error) && <ErrorNote error={subscribe.error ?? unsubscribe.error} />}
      </div>
    </Card>
  );
}

function DeliveryLog({ endpoint }: { endpoint: Endpoint }) {
  const queries = useQueryClient();
  const messages = useQuery({
    queryKey: [...LIST, 'messages', endpoint.id],
    queryFn: () => notify.messages(endpoint.id, 50),
    refetchInterval: 2000,
  });
  const replay = useMutation({
    mutationFn: (messageId: string) => notify.replay(endpoint.id, messageId),
    onSuccess: () => queries.invalidateQueries({ queryKey: [...LIST, 'messages', endpoint.id] }),
  });
  return (
    <div className="space-y-2" data-testid="delivery-log">
      <h3 className="text-sm font-medium">Delivery log of {endpoint.url}</h3>
      <Loaded query={messages} what="the delivery log" isEmpty={(l) => l.length === 0} empty="No message yet.">
        {(l) => (
          <Table head={['Written', 'Event', 'webhook-id', 'State', 'Attempts', 'Last answer', '']}>
            {l.map((m) => {
              const last = m.log[m.log.length - 1];
              return (
                <tr key={m.messageId} data-testid="delivery-row">
                  <Cell>{when(m.createdMs)}</Cell>
                  <Cell>{describe(m.kind, m.payload)}</Cell>
                  <Cell mono>{m.messageId}</Cell>
                  <Cell>
                    <Badge tone={m.state === 'delivered' ? 'green' : m.state === 'failed' ? 'red' : 'amber'}>{m.state}</Badge>
                  </Cell>
                  <Cell>{m.attempts}</Cell>
                  <Cell>
                    <span data-testid="delivery-answer">
                      {last ? (last.status != null ? `HTTP ${last.status}` : '') + (last.error ? ` ${last.error}` : '') + ` · ${last.durationMs} ms` : '—'}
                    </span>
                  </Cell>
                  <Cell>
                    {m.state !== 'pending' && (
                      <Button size="sm" onClick={() => replay.mutate(m.messageId)} disabled={replay.isPending}>
                        Replay
                      </Button>
                    )}
                  </Cell>
                </tr>
              );
            })}
          </Table>
        )}
      </Loaded>
      {replay.error && <ErrorNote error={replay.error} />}
    </div>
  );
}

function Webhooks({ endpoints }: { endpoints: ReturnType<typeof useEndpoints> }) {
  const queries = useQueryClient();
  const [url, setUrl] = useState('');
  const [description, setDescription] = useState('');
  const [secret, setSecret] = useState<{ id: number; secret: string } | null>(null);
  const [shown, setShown] = useState<number | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const changed = () => queries.invalidateQueries({ queryKey: LIST });
  const create = useMutation({
    mutationFn: () => notify.createEndpoint(url.trim(), description.trim()),
    onSuccess: (made) => {
      setSecret({ id: made.endpoint.id, secret: made.secret });
      setShown(made.endpoint.id);
      setUrl('');
      setDescription('');
      changed();
    },
  });
  const act = useMutation({
    mutationFn: async ({ id, what }: { id: number; what: 'test' | 'rotate' | 'enable' | 'delete' }) => {
      setDone(null);
      if (what === 'test') {
        const queued = await notify.sendTest(id);
        setShown(id);
        setDone(`Test message ${queued.messageId} queued.`);
      } else if (what === 'rotate') {
        const rotated = await notify.rotateSecret(id);
        setSecret({ id, secret: rotated.secret });
        setDone(`New secret; the old one still signs until ${when(rotated.previousSecretUntilMs)}.`);
      } else if (what === 'enable') {
        await notify.enable(id);
        setDone('Enabled: its waiting messages go out now.');
      } else {
        await notify.deleteEndpoint(id);
        if (shown === id) setShown(null);
      }
    },
    onSuccess: changed,
  });
  const selected = endpoints.data?.find((e) => e.id === shown);
  return (
    <Card title="Webhooks">
      <div className="space-y-3">
        <p className="text-sm text-zinc-600 dark:text-zinc-400">
          Each message is a signed <span className="font-mono text-xs">POST</span> (Standard Webhooks: check{' '}
          <span className="font-mono text-xs">webhook-signature</span> with the endpoint's secret; use{' '}
          <span className="font-mono text-xs">webhook-id</span> to ignore a message you already have). A failed attempt is
          retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h; an endpoint failing for 5 days is disabled.
        </p>
        <Loaded query={endpoints} what="webhook endpoints" isEmpty={(l) => l.length === 0} empty="No endpoint yet.">
          {(l) => (
            <Table head={['URL', 'Note', 'State', 'Waiting', '']}>
              {l.map((e) => (
                <tr key={e.id} data-testid="endpoint-row">
                  <Cell mono>{e.url}</Cell>
                  <Cell>{e.description || '—'}</Cell>
                  <Cell>
                    {e.disabledMs != null ? (
                      <span title={e.disabledReason ?? undefined}>
                        <Badge tone="red">disabled</Badge>
                      </span>
                    ) : e.failingSinceMs != null ? (
                      <Badge tone="amber">failing since {when(e.failingSinceMs)}</Badge>
                    ) : (
                      <Badge tone="green">enabled</Badge>
                    )}
                  </Cell>
                  <Cell>{e.pending}</Cell>
                  <Cell>
                    <div className="flex flex-wrap gap-1">
                      <Button size="sm" onClick={() => act.mutate({ id: e.id, what: 'test' })} disabled={act.isPending}>
                        Send a test
                      </Button>
                      <Button size="sm" onClick={() => setShown(shown === e.id ? null : e.id)}>
                        {shown === e.id ? 'Hide the log' : 'Delivery log'}
                      </Button>
                      <Button size="sm" onClick={() => act.mutate({ id: e.id, what: 'rotate' })} disabled={act.isPending}>
                        Rotate secret
                      </Button>
                      {e.disabledMs != null && (
                        <Button size="sm" onClick={() => act.mutate({ id: e.id, what: 'enable' })} disabled={act.isPending}>
                          Enable
                        </Button>
                      )}
                      <Button size="sm" variant="danger" onClick={() => act.mutate({ id: e.id, what: 'delete' })} disabled={act.isPending}>
                        Delete
                      </Button>
                    </div>
                  </Cell>
                </tr>
              ))}
            </Table>
          )}
        </Loaded>
        {secret && (
          <div className="space-y-2 rounded-lg border border-amber-300 bg-amber-50 p-3 dark:border-amber-800 dark:bg-amber-950">
            <p className="text-sm">The endpoint's signing secret, shown only now:</p>
            <code className="block font-mono text-sm break-all" data-testid="webhook-secret">
              {secret.secret}
            </code>
            <Button size="sm" onClick={() => setSecret(null)}>
              I copied it
            </Button>
          </div>
        )}
        {done && <Done>{done}</Done>}
        <form
          className="flex flex-wrap items-end gap-3"
          onSubmit={(e) => {
            e.preventDefault();
            create.mutate();
          }}
        >
          <div className="w-96 max-w-full">
            <Field label="Endpoint URL">
              <Input mono required type="url" placeholder="https://…" value={url} onChange={(e) => setUrl(e.target.value)} />
            </Field>
          </div>
          <div className="w-48">
            <Field label="Note">
              <Input maxLength={200} value={description} onChange={(e) => setDescription(e.target.value)} />
            </Field>
          </div>
          <Button type="submit" variant="primary" busy={create.isPending}>
            Add endpoint
          </Button>
        </form>
        {(create.error || act.error) && <ErrorNote error={create.error ?? act.error} />}
        {selected && <DeliveryLog endpoint={selected} />}
      </div>
    </Card>
  );
}

function useEndpoints(enabled: boolean) {
  return useQuery({ queryKey: [...LIST, 'endpoints'], queryFn: notify.endpoints, refetchInterval: 5000, enabled });
}

export default function Notifications() {
  const { me, ready } = useSession();
  const endpoints = useEndpoints(me !== null);
  if (!ready) return <Empty>Loading…</Empty>;
  if (!me) {
    return (
      <Card title="Notifications">
        <p className="text-sm">
          <Link className="text-sky-700 hover:underline dark:text-sky-400" to="/signin" state={{ from: '/notifications' }}>
            Sign in
          </Link>{' '}
          to follow addresses and get notified.
        </p>
      </Card>
    );
  }
  return (
    <div className="space-y-4">
      <NotificationList />
      <WatchList />
      <Subscriptions endpoints={endpoints.data ?? []} />
      <Webhooks endpoints={endpoints} />
    </div>
  );
}
