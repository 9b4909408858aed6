// The node's REST API (`/api/v1`). Its types are generated from the node's OpenAPI document
// (web/openapi.json, what `/api/v1/openapi.json` serves) into api.gen.ts by `npm run
// gen:api`; nothing here restates a schema, so a change to the API shows up as a type error
// where the portal relies on what changed. Errors come back as `{"error": {"code",
// "message"}}`; they are thrown as ApiError with the node's message.
//
// The document leaves fields the node writes as `null` out of `required`, so they read as
// optional here (`nextCursor?: string | null`): test them with `== null`, which covers both.
// Fields with a fixed set of values (a validator's status, a search result's kind) are
// plain strings in the document, so the pages treat an unknown value as a possibility.
import type { components, paths } from './api.gen';

type Schemas = components['schemas'];

export type Summary = Schemas['Summary'];
export type BlockSummary = Schemas['BlockSummary'];
export type BlockPage = Schemas['BlockPage'];
export type BlockDetail = Schemas['BlockDetail'];
export type TokenTransfer = Schemas['TokenTransfer'];
export type TransactionView = Schemas['TransactionView'];
export type TransactionPage = Schemas['TransactionPage'];
export type AddressView = Schemas['AddressView'];
/** A non-zero balance of an ERC-20 token the address sent or received. */
export type TokenBalance = Schemas['TokenBalance'];
export type TokenInfo = Schemas['TokenInfo'];
export type ValidatorRow = Schemas['ValidatorRow'];
export type SearchResult = Schemas['SearchResult'];
type ApiErrorBody = Schemas['ApiErrorBody'];

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The document's paths that answer a GET (the explorer's; the accounts client is in
 * accounts.ts). */
type Path = { [P in keyof paths]: paths[P] extends { get: object } ? P : never }[keyof paths];
type Operation<P extends Path> = paths[P]['get'];
/** What a path answers with 200, as the document says. */
type Ok<P extends Path> = Operation<P>['responses'][200]['content']['application/json'];
/** A path's parameters: `path` fills its `{name}` segments, `query` its query string. */
type Params<P extends Path> = Pick<Operation<P>['parameters'], 'path' | 'query'>;

/** GETs `template` with its parameters; the answer's type is the document's for that path. */
async function get<P extends Path>(template: P, params: Params<P>): Promise<Ok<P>> {
  const { path, query } = params as { path?: Record<string, string>; query?: Record<string, string | number | undefined> };
  const url = template.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(path?.[name] ?? ''));
  const entries = Object.entries(query ?? {}).filter(([, v]) => v !== undefined) as [string, string | number][];
  const search = entries.length ? `?${new URLSearchParams(entries.map(([k, v]) => [k, String(v)]))}` : '';
  return (await request(`${url}${search}`)) as Ok<P>;
}

/** Fetches `url`: the answer's JSON (`undefined` for 204), or an ApiError with the node's
 * message (status 0 when the node cannot be reached). */
export async function request(url: string, init?: RequestInit): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch {
    throw new ApiError(0, 'The node cannot be reached. Is it running?');
  }
  if (response.status === 204) return undefined;
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const message = (body as Partial<ApiErrorBody> | null)?.error?.message;
    throw new ApiError(response.status, message ?? `the node answered ${response.status}`);
  }
  return body;
}

export const api = {
  summary: () => get('/api/v1/summary', {}),
  // A page's `nextCursor` is the height to list below, as text; the parameter is a number.
  blocks: (before?: string, limit?: number) =>
    get('/api/v1/blocks', { query: { before: before === undefined ? undefined : Number(before), limit } }),
  block: (id: string) => get('/api/v1/blocks/{id}', { path: { id } }),
  blockTransactions: (id: string, page = 1, limit = 50) =>
    get('/api/v1/blocks/{id}/transactions', { path: { id }, query: { page, limit } }),
  transaction: (hash: string) => get('/api/v1/transactions/{hash}', { path: { hash } }),
  address: (address: string) => get('/api/v1/addresses/{address}', { path: { address } }),
  addressTransactions: (address: string, before?: string, limit?: number) =>
    get('/api/v1/addresses/{address}/transactions', { path: { address }, query: { before, limit } }),
  validators: () => get('/api/v1/validators', {}),
  search: (query: string) => get('/api/v1/search', { query: { q: query } }),
  token: (address: string) => get('/api/v1/tokens/{address}', { path: { address } }),
};
