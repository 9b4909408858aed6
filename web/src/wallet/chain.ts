// viem clients for the node that served the page: JSON-RPC on the same origin.
import { createPublicClient, createWalletClient, defineChain, http, type Account, type Chain } from 'viem';

/** The node's JSON-RPC address (`npm run dev` proxies it under /rpc). */
export function rpcUrl(location: Location = window.location): string {
  return new URL(import.meta.env.DEV ? '/rpc' : '/', location.href).toString();
}

export function btcrChain(chainId: number): Chain {
  return defineChain({
    id: chainId,
    name: 'BTCR',
    nativeCurrency: { name: 'BTCR', symbol: 'BTCR', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl()] } },
  });
}

export function clients(chainId: number, account?: Account) {
  const chain = btcrChain(chainId);
  const transport = http(rpcUrl());
  return {
    public: createPublicClient({ chain, transport }),
    wallet: account ? createWalletClient({ chain, transport, account }) : undefined,
  };
}

/** A sentence a person can act on, from an error of the node or of viem. */
export function explain(error: unknown): string {
  // The node's own words may sit anywhere down the chain of causes that viem builds.
  const parts: string[] = [];
  for (let e: unknown = error, depth = 0; e && depth < 8; depth++) {
    const x = e as { shortMessage?: string; details?: string; message?: string; cause?: unknown };
    parts.push(x.shortMessage ?? '', x.details ?? '', x.message ?? String(e));
    e = x.cause;
  }
  const text = parts.join(' ');
  if (/insufficient funds/i.test(text)) return 'Not enough BTCR to pay the amount and the fee.';
  if (/nonce too low/i.test(text)) return 'A transaction with this nonce was already sent; wait for it, then try again.';
  if (/fetch|network|Failed to fetch|HTTP request failed/i.test(text)) return 'The node cannot be reached. Is it running?';
  if (/replacement transaction underpriced|already known/i.test(text)) return 'This transaction is already waiting in the pool.';
  return (error as { shortMessage?: string })?.shortMessage ?? (error instanceof Error ? error.message : String(error));
}
