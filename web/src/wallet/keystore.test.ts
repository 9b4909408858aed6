import { describe, expect, it } from 'vitest';
import { decryptKeystore, encryptKeystore, parseKeystore, WrongPassword } from './keystore';
import pbkdf2Vector from './pbkdf2-vector.json';
import scryptVector from './scrypt-vector.json';

// The Web3 Secret Storage definition's test vectors, both under "testpassword".
const VECTOR_KEY = '0x7a28b5ba57c53603b0b07b56bba752f7784bf506fa95edc395f5cf6c7514fe9d';

describe('keystore v3', () => {
  it('decrypts the specification vectors and refuses a wrong password', async () => {
    for (const vector of [pbkdf2Vector, scryptVector]) {
      const keystore = parseKeystore(JSON.stringify(vector));
      expect(await decryptKeystore(keystore, 'testpassword')).toBe(VECTOR_KEY);
      await expect(decryptKeystore(keystore, 'wrong')).rejects.toBeInstanceOf(WrongPassword);
    }
  }, 30_000);

  it('round-trips a key it encrypts', async () => {
    const key = `0x${'11'.repeat(32)}` as const;
    const keystore = await encryptKeystore(key, 'correct horse', '0xAbC', 1000);
    expect(keystore.version).toBe(3);
    expect(keystore.address).toBe('abc');
    expect(keystore.crypto.kdfparams.c).toBe(1000);
    const reread = parseKeystore(JSON.stringify(keystore));
    expect(await decryptKeystore(reread, 'correct horse')).toBe(key);
    await expect(decryptKeystore(reread, 'battery staple')).rejects.toThrow(/Wrong password/);
  });

  it('says why a file is not a keystore', () => {
    expect(() => parseKeystore('nope')).toThrow(/not JSON/);
    expect(() => parseKeystore('{"version": 2}')).toThrow(/version 3/);
  });

  it('refuses parameters that would take too much work', async () => {
    const heavy = parseKeystore(JSON.stringify(scryptVector));
    heavy.crypto.kdfparams = { ...heavy.crypto.kdfparams, n: 2 ** 24 };
    await expect(decryptKeystore(heavy, 'testpassword')).rejects.toThrow(/refuses/);
  });
});
