// The accounts service's REST API (`/api/v1/auth`, `/me`, `/admin`), with its types from
// the node's OpenAPI document like the explorer's (api.gen.ts).
//
// The access token lives in this module's memory only, never in storage a script could
// read later; the refresh token is an HttpOnly cookie the browser sends to
// `/api/v1/auth` alone. A reload resumes the session with one refresh. A request refused
// with 401 refreshes once and is sent again; when that fails the session is over and the
// listeners hear it. Refreshes are never run twice at once: the server rotates the token
// on each, and a rotated one sent again ends the whole session.
import type { components } from './api.gen';
import { ApiError, request } from './api';

type Schemas = components['schemas'];

export type User = Schemas['User'];
export type Me = Schemas['Me'];
export type Session = Schemas['Session'];
export type ApiKey = Schemas['ApiKey'];
export type Scope = Schemas['Scope'];
export type AuditRecord = Schemas['AuditRecord'];
export type Settings = Schemas['Settings'];
export type Limit = Schemas['Limit'];
export type RateLimits = Schemas['RateLimits'];
export type PublicSettings = Schemas['PublicSettings'];
export type UserPage = Schemas['UserPage'];
export type Stats = Schemas['Stats'];
export type KeystoreBackup = Schemas['KeystoreBackup'];
export type Watched = Schemas['Watched'];
type Signed = Schemas['Signed'];
type TotpChallenge = Schemas['TotpChallenge'];
type LoginAnswer = Schemas['LoginAnswer'];

let accessToken: string | null = null;
let refreshing: Promise<boolean> | null = null;
const listeners = new Set<() => void>();

/** Calls `listener` whenever the session starts or ends; returns its removal. */
export function onSessionChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function setToken(token: string | null) {
  const changed = (token === null) !== (accessToken === null);
  accessToken = token;
  if (changed) listeners.forEach((l) => l());
}

export const signedIn = () => accessToken !== null;

function json(method: string, body?: unknown, token?: string | null): RequestInit {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  return { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' };
}

/** Trades the cookie's refresh token for a new access token; false when there is no
 * session to resume. */
export function refresh(): Promise<boolean> {
  refreshing ??= request('/api/v1/auth/refresh', json('POST', {}))
    .then((answer) => {
      setToken((answer as Signed).accessToken);
      return true;
    })
    .catch((e: unknown) => {
      if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
        setToken(null);
        return false;
      }
      throw e;
    })
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

/** The access token, for a connection that cannot send it as a header (the live
 * notifications): refreshed first when there is none, or when `fresh` (it expired); null
 * when there is no session. */
export async function currentToken(fresh = false): Promise<string | null> {
  if ((fresh || accessToken === null) && !(await refresh())) return null;
  return accessToken;
}

/** A request with the access token; a 401 refreshes once and tries again. */
export async function authed<T>(method: string, path: string, body?: unknown): Promise<T> {
  if (accessToken === null && !(await refresh())) throw new ApiError(401, 'Sign in first.');
  try {
    return (await request(path, json(method, body, accessToken))) as T;
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401) throw e;
    if (!(await refresh())) throw new ApiError(401, 'The session ended: sign in again.');
    return (await request(path, json(method, body, accessToken))) as T;
  }
}

const isChallenge = (answer: LoginAnswer): answer is TotpChallenge => 'totpRequired' in answer;

export const accounts = {
  settings: () => request('/api/v1/settings') as Promise<PublicSettings>,
  register: (email: string, password: string) =>
    request('/api/v1/auth/register', json('POST', { email, password })) as Promise<User>,
  /** Signs in, or answers the challenge a TOTP code must complete. */
  async login(email: string, password: string): Promise<{ challenge: string } | null> {
    const answer = (await request('/api/v1/auth/login', json('POST', { email, password }))) as LoginAnswer;
    if (isChallenge(answer)) return { challenge: answer.challenge };
    setToken(answer.accessToken);
    return null;
  },
  async loginTotp(challenge: string, code: string): Promise<void> {
    const answer = (await request('/api/v1/auth/login/totp', json('POST', { challenge, code }))) as Signed;
    setToken(answer.accessToken);
  },
  async logout(): Promise<void> {
    try {
      await request('/api/v1/auth/logout', json('POST', {}));
    } finally {
      setToken(null);
    }
  },
  me: () => authed<Me>('GET', '/api/v1/me'),
  changePassword: (currentPassword: string, newPassword: string) =>
    authed<void>('PUT', '/api/v1/me/password', { currentPassword, newPassword }),
  sessions: () => authed<Session[]>('GET', '/api/v1/me/sessions'),
  endSession: (id: string) => authed<void>('DELETE', `/api/v1/me/sessions/${encodeURIComponent(id)}`),
  totpBegin: () => authed<Schemas['TotpSecret']>('POST', '/api/v1/me/totp'),
  totpConfirm: (code: string) => authed<Schemas['RecoveryCodes']>('POST', '/api/v1/me/totp/confirm', { code }),
  totpDisable: (code: string) => authed<void>('DELETE', '/api/v1/me/totp', { code }),
  recoveryCodes: (code: string) => authed<Schemas['RecoveryCodes']>('POST', '/api/v1/me/recovery-codes', { code }),
  apiKeys: () => authed<ApiKey[]>('GET', '/api/v1/me/api-keys'),
  createApiKey: (name: string, scopes: Scope[]) =>
    authed<Schemas['CreatedKey']>('POST', '/api/v1/me/api-keys', { name, scopes }),
  revokeApiKey: (id: number) => authed<void>('DELETE', `/api/v1/me/api-keys/${id}`),
  /** The backup, or null when there is none. */
  async keystore(): Promise<KeystoreBackup | null> {
    try {
      return await authed<KeystoreBackup>('GET', '/api/v1/me/keystore');
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return null;
      throw e;
    }
  },
  putKeystore: (keystore: unknown) => authed<KeystoreBackup>('PUT', '/api/v1/me/keystore', { keystore }),
  deleteKeystore: () => authed<void>('DELETE', '/api/v1/me/keystore'),
  watchlist: () => authed<Watched[]>('GET', '/api/v1/me/watchlist'),
  watch: (address: string, label: string) => authed<Watched>('POST', '/api/v1/me/watchlist', { address, label }),
  unwatch: (address: string) => authed<void>('DELETE', `/api/v1/me/watchlist/${encodeURIComponent(address)}`),
  users: (search: string, offset: number, limit: number) =>
    authed<UserPage>('GET', `/api/v1/admin/users?${new URLSearchParams({ search, offset: String(offset), limit: String(limit) })}`),
  updateUser: (id: number, change: Schemas['UserChange']) => authed<User>('PATCH', `/api/v1/admin/users/${id}`, change),
  audit: (after: number, limit: number) => authed<AuditRecord[]>('GET', `/api/v1/admin/audit?after=${after}&limit=${limit}`),
  stats: () => authed<Stats>('GET', '/api/v1/admin/stats'),
  adminSettings: () => authed<Settings>('GET', '/api/v1/admin/settings'),
  updateSettings: (settings: Settings) => authed<Settings>('PUT', '/api/v1/admin/settings', settings),
};
