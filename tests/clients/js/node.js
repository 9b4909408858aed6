// Starts `btcr dev` ($BTCR_BIN, else target/debug/btcr of this checkout or of
// $CARGO_TARGET_DIR) on a free port and resolves to its URLs.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const CHAIN_ID = 1337;
// The first dev accounts of the test mnemonic (public test keys).
export const DEV_KEYS = [
  '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80',
  '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d',
  '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a',
  '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6',
];

export function btcrBinary() {
  if (process.env.BTCR_BIN) return process.env.BTCR_BIN;
  const target = process.env.CARGO_TARGET_DIR ?? path.join(ROOT, 'target');
  return path.join(target, 'debug', 'btcr');
}

/** Starts the node with `args` after the defaults. */
export async function startNode(args = []) {
  const datadir = mkdtempSync(path.join(tmpdir(), 'btcr-viem-'));
  const child = spawn(
    btcrBinary(),
    ['dev', '--datadir', datadir, '--rpc.addr', '127.0.0.1:0', '--block-time', '200ms', ...args],
    { env: { ...process.env, BTCR_LOG: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const url = await new Promise((resolve, reject) => {
    let seen = '';
    child.stdout.on('data', (chunk) => {
      seen += chunk;
      const match = seen.match(/JSON-RPC\s+(http:\/\/\S+)/);
      if (match) resolve(match[1]);
    });
    child.on('exit', (code) => reject(new Error(`btcr dev exited (${code}) before serving`)));
  });
  return {
    url,
    datadir,
    wsUrl: url.replace('http://', 'ws://'),
    stop() {
      child.kill('SIGTERM');
      rmSync(datadir, { recursive: true, force: true });
    },
  };
}
