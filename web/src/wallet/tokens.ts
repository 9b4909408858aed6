// ERC-20 tokens in the wallet: the ones the person added (kept per chain in localStorage)
// and the ones the node's index says the address holds.
import { erc20Abi, getAddress, isAddress, type PublicClient } from 'viem';

export interface Token {
  address: `0x${string}`;
  name: string;
  symbol: string;
  decimals: number;
}

const key = (chainId: number) => `btcr-tokens-${chainId}`;

export function loadTokens(chainId: number): Token[] {
  try {
    const list = JSON.parse(localStorage.getItem(key(chainId)) ?? '[]');
    return Array.isArray(list) ? (list as Token[]) : [];
  } catch {
    return [];
  }
}

export function saveTokens(chainId: number, tokens: Token[]): void {
  localStorage.setItem(key(chainId), JSON.stringify(tokens));
}

/** `list` with `token` in it once (by address), sorted by symbol. */
export function withToken(list: Token[], token: Token): Token[] {
  const others = list.filter((t) => t.address.toLowerCase() !== token.address.toLowerCase());
  return [...others, token].sort((a, b) => a.symbol.localeCompare(b.symbol));
}

/** Reads a token's name, symbol and decimals from its contract; throws a sentence a person
 * can act on when the address is not an ERC-20 token. */
export async function readToken(client: PublicClient, text: string): Promise<Token> {
  const trimmed = text.trim();
  if (!isAddress(trimmed)) throw new Error('A token address is 0x and 40 hex digits.');
  const address = getAddress(trimmed);
  const code = await client.getCode({ address });
  if (!code || code === '0x') throw new Error('There is no contract at this address.');
  try {
    const [name, symbol, decimals] = await Promise.all([
      client.readContract({ address, abi: erc20Abi, functionName: 'name' }),
      client.readContract({ address, abi: erc20Abi, functionName: 'symbol' }),
      client.readContract({ address, abi: erc20Abi, functionName: 'decimals' }),
    ]);
    return { address, name, symbol, decimals };
  } catch {
    throw new Error('This contract does not answer as an ERC-20 token (name, symbol, decimals).');
  }
}
