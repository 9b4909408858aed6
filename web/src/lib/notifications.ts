// The notifications' REST API (`/api/v1/me/notifications`, `subscriptions`, `webhooks`),
// with its types from the node's OpenAPI document, called with the signed-in user's token,
// and the live connection that tells the page of each new notification as it is written.
import { useEffect } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import type { components } from './api.gen';
import { authed, currentToken } from './accounts';
import { formatUnits, shortHash } from './format';

type Schemas = components['schemas'];

export type EventKind = Schemas['EventKind'];
export type Channel = Schemas['Channel'];
export type Notification = Schemas['Notification'];
export type NotificationPage = Schemas['NotificationPage'];
export type Subscription = Schemas['Subscription'];
export type NewSubscription = Schemas['NewSubscription'];
export type Endpoint = Schemas['Endpoint'];
export type Message = Schemas['Message'];

/** Every kind, in the order the settings show them. */
export const EVENT_KINDS: { kind: EventKind; label: string }[] = [
  { kind: 'transfer.in', label: 'BTCR or tokens received' },
  { kind: 'transfer.out', label: 'BTCR or tokens sent' },
  { kind: 'transaction.finalized', label: 'A transaction finalized' },
  { kind: 'validator.slashed', label: 'The validator was slashed' },
  { kind: 'rewards.claimable', label: 'Staking rewards to claim' },
];

const page = (before: number | undefined, limit: number) =>
  new URLSearchParams({ limit: String(limit), ...(before === undefined ? {} : { before: String(before) }) });

export const notify = {
  list: (limit = 50, before?: number) => authed<NotificationPage>('GET', `/api/v1/me/notifications?${page(before, limit)}`),
  markRead: (upTo: number) => authed<Schemas['ReadCount']>('POST', '/api/v1/me/notifications/read', { upTo }),
  subscriptions: () => authed<Subscription[]>('GET', '/api/v1/me/subscriptions'),
  subscribe: (subscription: NewSubscription) => authed<Subscription>('POST', '/api/v1/me/subscriptions', subscription),
  unsubscribe: (id: number) => authed<void>('DELETE', `/api/v1/me/subscriptions/${id}`),
  endpoints: () => authed<Endpoint[]>('GET', '/api/v1/me/webhooks'),
  createEndpoint: (url: string, description: string) =>
    authed<Schemas['NewEndpoint']>('POST', '/api/v1/me/webhooks', { url, description }),
  deleteEndpoint: (id: number) => authed<void>('DELETE', `/api/v1/me/webhooks/${id}`),
  rotateSecret: (id: number) => authed<Schemas['RotatedSecret']>('POST', `/api/v1/me/webhooks/${id}/secret`),
  enable: (id: number) => authed<Endpoint>('POST', `/api/v1/me/webhooks/${id}/enable`),
  sendTest: (id: number) => authed<Schemas['Queued']>('POST', `/api/v1/me/webhooks/${id}/test`),
  messages: (id: number, limit = 50) => authed<Message[]>('GET', `/api/v1/me/webhooks/${id}/messages?limit=${limit}`),
  replay: (id: number, messageId: string) =>
    authed<Schemas['Queued']>('POST', `/api/v1/me/webhooks/${id}/messages/${encodeURIComponent(messageId)}/replay`),
};

type EventData = Record<string, unknown>;

/** One line saying what an event was, from its webhook body (`{type, timestamp, data}`). */
export function describe(kind: string, payload: unknown): string {
  const data = ((payload as { data?: EventData } | null)?.data ?? {}) as EventData;
  const text = (k: string) => (typeof data[k] === 'string' ? (data[k] as string) : '');
  const amount = () =>
    text('asset') === 'BTCR' ? `${formatUnits(text('value'))} BTCR` : `${text('value')} units of token ${shortHash(text('asset'))}`;
  switch (kind) {
    case 'transfer.in':
      return `Received ${amount()} from ${shortHash(text('from'))}`;
    case 'transfer.out':
      return `Sent ${amount()} to ${shortHash(text('to'))}`;
    case 'transaction.finalized':
      return `Transaction ${shortHash(text('transactionHash'))} finalized${data.succeeded === false ? ' (reverted)' : ''}`;
    case 'validator.slashed':
      return `Validator ${shortHash(text('validator'))} slashed and jailed until epoch ${String(data.jailedUntilEpoch ?? '?')}`;
    case 'rewards.claimable':
      return `${formatUnits(text('amount'))} BTCR of staking rewards to claim`;
    case 'webhook.test':
      return 'A test message';
    default:
      return kind;
  }
}

/** The node's live notifications (a WebSocket; the token is its first message). */
export const LIVE_PATH = '/api/v1/me/notifications/live';
/** Close codes the node uses: the token is refused or expired; too many connections. */
const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_TOO_MANY = 4429;

/** While `enabled` (signed in), keeps a live connection open and refreshes the
 * notification queries at each notification it pushes. An expired token is refreshed and
 * the connection opened again; a dropped one comes back after a second (30 s when the
 * user has too many open). */
export function useLiveNotifications(enabled: boolean): void {
  const client = useQueryClient();
  useEffect(() => {
    if (!enabled) return;
    let socket: WebSocket | null = null;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let closed = false;
    const open = async (fresh: boolean) => {
      const token = await currentToken(fresh).catch(() => null);
      if (closed || token === null) return;
      const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
      socket = new WebSocket(`${scheme}://${window.location.host}${LIVE_PATH}`);
      socket.onopen = () => socket?.send(JSON.stringify({ accessToken: token }));
      socket.onmessage = (event) => {
        const message = JSON.parse(String(event.data)) as { type?: string };
        if (message.type === 'notification' || message.type === 'unread') {
          void client.invalidateQueries({ queryKey: ['notifications'] });
        }
      };
      socket.onclose = (event) => {
        if (closed) return;
        const wait = event.code === CLOSE_TOO_MANY ? 30_000 : 1000;
        retry = setTimeout(() => void open(event.code === CLOSE_UNAUTHORIZED), wait);
      };
    };
    void open(false);
    return () => {
      closed = true;
      clearTimeout(retry);
      socket?.close();
    };
  }, [client, enabled]);
}
