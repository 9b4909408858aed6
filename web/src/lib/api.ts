// The node's REST API (`/api/v1`, described by /api/v1/openapi.json). Errors come back as
// `{"error": {"code", "message"}}`; they are thrown as ApiError with the node's message.

export interface Summary {
  chainId: number;
  height: number;
  finalizedHeight: number;
  blockTimeMs: number | null;
  txPerSecond: number;
  validators: number;
  peers: number;
  /** Every coin in existence, staked ones included (wei). */
  supply: string;
}

export interface BlockSummary {
  number: number;
  hash: string;
  timestampMs: number;
  proposer: string;
  transactionCount: number;
  gasUsed: number;
}

export interface BlockPage {
  items: BlockSummary[];
  nextCursor: string | null;
}

export interface BlockDetail {
  number: number;
  hash: string;
  parentHash: string;
  timestampMs: number;
  proposer: string;
  stateRoot: string;
  transactionsRoot: string;
  receiptsRoot: string;
  gasUsed: number;
  gasLimit: number;
  baseFeePerGas: number;
  poh: { startHash: string; endHash: string; ticks: number; entries: number };
  certificate: { round: number; signatures: { validator: string; signature: string }[] } | null;
  transactionCount: number;
  transactions: string[];
}

export interface TokenTransfer {
  token: string;
  from: string;
  to: string;
  value: string;
}

export interface TransactionView {
  hash: string;
  blockNumber: number;
  blockHash: string;
  index: number;
  timestampMs: number;
  from: string;
  to: string | null;
  contractAddress: string | null;
  value: string;
  nonce: number;
  type: string;
  gasLimit: number;
  gasUsed: number;
  effectiveGasPrice: string;
  fee: string;
  status: 'success' | 'failed';
  input: string;
  logCount: number;
  tokenTransfers: TokenTransfer[];
}

export interface TransactionPage {
  items: TransactionView[];
  nextCursor: string | null;
}

export interface AddressView {
  address: string;
  balance: string;
  nonce: number;
  isContract: boolean;
  codeSize: number;
  tokens: TokenBalance[];
}

/** A non-zero balance of an ERC-20 token the address sent or received. */
export interface TokenBalance {
  token: string;
  name: string | null;
  symbol: string | null;
  decimals: number | null;
  balance: string;
}

export interface TokenInfo {
  token: string;
  name: string | null;
  symbol: string | null;
  decimals: number;
  totalSupply: string;
}

export interface ValidatorRow {
  address: string;
  publicKey: string;
  commissionBps: number;
  status: 'active' | 'candidate' | 'jailed';
  stake: string;
  selfStake: string;
  unbonding: string;
  slashed: string;
  jailedUntilEpoch: number;
  votingPower: number;
  /** signedBlocks / windowBlocks; null when not in the set. */
  uptime: number | null;
  signedBlocks: number;
  windowBlocks: number;
}

export interface SearchResult {
  kind: 'block' | 'transaction' | 'address';
  id: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function get<T>(path: string): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`/api/v1${path}`);
  } catch {
    throw new ApiError(0, 'The node cannot be reached. Is it running?');
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, body?.error?.message ?? `the node answered ${response.status}`);
  }
  return body as T;
}

const q = (params: Record<string, string | number | undefined>) => {
  const entries = Object.entries(params).filter(([, v]) => v !== undefined) as [string, string][];
  return entries.length ? `?${new URLSearchParams(entries.map(([k, v]) => [k, String(v)]))}` : '';
};

export const api = {
  summary: () => get<Summary>('/summary'),
  blocks: (before?: string, limit?: number) => get<BlockPage>(`/blocks${q({ before, limit })}`),
  block: (id: string) => get<BlockDetail>(`/blocks/${id}`),
  blockTransactions: (id: string, page = 1, limit = 50) =>
    get<TransactionPage>(`/blocks/${id}/transactions${q({ page, limit })}`),
  transaction: (hash: string) => get<TransactionView>(`/transactions/${hash}`),
  address: (address: string) => get<AddressView>(`/addresses/${address}`),
  addressTransactions: (address: string, before?: string, limit?: number) =>
    get<TransactionPage>(`/addresses/${address}/transactions${q({ before, limit })}`),
  validators: () => get<ValidatorRow[]>('/validators'),
  search: (query: string) => get<SearchResult>(`/search${q({ q: query })}`),
  token: (address: string) => get<TokenInfo>(`/tokens/${address}`),
};
