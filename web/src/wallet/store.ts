// The wallet the browser keeps: one account, encrypted (keystore v3) in localStorage. The
// private key exists in memory only while the wallet is unlocked.
import { createContext, useContext } from 'react';
import type { Keystore } from './keystore';

const KEY = 'btcr-wallet';

export interface SavedWallet {
  address: `0x${string}`;
  keystore: Keystore;
}

export function loadWallet(): SavedWallet | null {
  const text = localStorage.getItem(KEY);
  if (!text) return null;
  try {
    return JSON.parse(text) as SavedWallet;
  } catch {
    return null;
  }
}

export function saveWallet(wallet: SavedWallet): void {
  localStorage.setItem(KEY, JSON.stringify(wallet));
}

export function forgetWallet(): void {
  localStorage.removeItem(KEY);
}

export interface WalletState {
  saved: SavedWallet | null;
  /** The private key while unlocked. */
  key: `0x${string}` | null;
  setSaved: (w: SavedWallet | null) => void;
  setKey: (k: `0x${string}` | null) => void;
}

export const WalletContext = createContext<WalletState | null>(null);

export function useWallet(): WalletState {
  const state = useContext(WalletContext);
  if (!state) throw new Error('useWallet outside the wallet provider');
  return state;
}
