// Web3 Secret Storage (keystore v3): the one form in which the portal keeps a key. The key
// is encrypted with AES-128-CTR under a key derived from the password (PBKDF2-SHA256 for
// the keystores made here; scrypt or PBKDF2 for imported ones), and a keccak-256 MAC tells
// a wrong password from a damaged file.
import { ctr } from '@noble/ciphers/aes';
import { pbkdf2Async } from '@noble/hashes/pbkdf2';
import { scryptAsync } from '@noble/hashes/scrypt';
import { sha256 } from '@noble/hashes/sha2';
import { keccak_256 } from '@noble/hashes/sha3';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils';

export interface Keystore {
  version: 3;
  id: string;
  address?: string;
  crypto: {
    cipher: 'aes-128-ctr';
    cipherparams: { iv: string };
    ciphertext: string;
    kdf: 'pbkdf2' | 'scrypt';
    kdfparams: Record<string, number | string>;
    mac: string;
  };
}

/** Rounds of PBKDF2 for keystores made here (the specification's example uses as many). */
export const PBKDF2_ROUNDS = 262_144;
/** The most work an imported file may ask for before it is refused (like the node's). */
const MAX_SCRYPT_N = 2 ** 20;
const MAX_PBKDF2_ROUNDS = 10_000_000;

export class WrongPassword extends Error {
  constructor() {
    super('Wrong password: this keystore does not open with it.');
  }
}

const strip = (hex: string) => (hex.startsWith('0x') ? hex.slice(2) : hex);
const concat = (a: Uint8Array, b: Uint8Array) => {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
};

async function deriveKey(password: string, crypto: Keystore['crypto']): Promise<Uint8Array> {
  const p = crypto.kdfparams;
  const salt = hexToBytes(strip(String(p.salt ?? '')));
  const dkLen = Number(p.dklen ?? 32);
  if (dkLen < 32) throw new Error('this keystore derives a key shorter than 32 bytes');
  const secret = new TextEncoder().encode(password.normalize('NFKC'));
  if (crypto.kdf === 'scrypt') {
    const [N, r, pp] = [Number(p.n), Number(p.r), Number(p.p)];
    if (!(N > 1 && N <= MAX_SCRYPT_N && (N & (N - 1)) === 0) || !(r > 0 && r <= 32) || !(pp > 0 && pp <= 16)) {
      throw new Error(`this keystore asks for scrypt parameters this wallet refuses (n=${N}, r=${r}, p=${pp})`);
    }
    return scryptAsync(secret, salt, { N, r, p: pp, dkLen });
  }
  if (crypto.kdf === 'pbkdf2') {
    const c = Number(p.c);
    if (p.prf !== 'hmac-sha256') throw new Error(`unsupported PBKDF2 function ${String(p.prf)}`);
    if (!(c > 0 && c <= MAX_PBKDF2_ROUNDS)) throw new Error(`PBKDF2 rounds ${c} are out of range`);
    return pbkdf2Async(sha256, secret, salt, { c, dkLen });
  }
  throw new Error(`unsupported key derivation ${String((crypto as { kdf: unknown }).kdf)}`);
}

/** Reads a keystore file's text; throws with a readable reason when it is not one. */
export function parseKeystore(text: string): Keystore {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error('This file is not JSON, so not a keystore.');
  }
  const k = json as Partial<Keystore> & { Crypto?: Keystore['crypto'] };
  const crypto = k.crypto ?? k.Crypto;
  if (k.version !== 3 || !crypto) throw new Error('This is not a version 3 keystore.');
  if (crypto.cipher !== 'aes-128-ctr') throw new Error(`Unsupported cipher ${crypto.cipher}.`);
  return { ...(k as Keystore), crypto };
}

/** The 32-byte private key in `keystore`, as 0x-hex. */
export async function decryptKeystore(keystore: Keystore, password: string): Promise<`0x${string}`> {
  const c = keystore.crypto;
  const derived = await deriveKey(password, c);
  const ciphertext = hexToBytes(strip(c.ciphertext));
  const mac = keccak_256(concat(derived.slice(16, 32), ciphertext));
  if (bytesToHex(mac) !== strip(c.mac).toLowerCase()) throw new WrongPassword();
  const key = ctr(derived.slice(0, 16), hexToBytes(strip(c.cipherparams.iv))).decrypt(ciphertext);
  if (key.length !== 32) throw new Error('This keystore does not hold a 32-byte key.');
  return `0x${bytesToHex(key)}`;
}

/** Encrypts `privateKey` under `password` (PBKDF2, `rounds` rounds). */
export async function encryptKeystore(
  privateKey: `0x${string}`,
  password: string,
  address: string,
  rounds = PBKDF2_ROUNDS,
): Promise<Keystore> {
  const random = (n: number) => globalThis.crypto.getRandomValues(new Uint8Array(n));
  const salt = random(32);
  const iv = random(16);
  const crypto: Keystore['crypto'] = {
    cipher: 'aes-128-ctr',
    cipherparams: { iv: bytesToHex(iv) },
    ciphertext: '',
    kdf: 'pbkdf2',
    kdfparams: { c: rounds, dklen: 32, prf: 'hmac-sha256', salt: bytesToHex(salt) },
    mac: '',
  };
  const derived = await deriveKey(password, crypto);
  const ciphertext = ctr(derived.slice(0, 16), iv).encrypt(hexToBytes(strip(privateKey)));
  crypto.ciphertext = bytesToHex(ciphertext);
  crypto.mac = bytesToHex(keccak_256(concat(derived.slice(16, 32), ciphertext)));
  return { version: 3, id: globalThis.crypto.randomUUID(), address: strip(address).toLowerCase(), crypto };
}
