// viem, unmodified, against a `btcr dev` node: what a TypeScript dapp does.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import {
  BaseError,
  ContractFunctionRevertedError,
  InsufficientFundsError,
  NonceTooLowError,
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  parseEther,
  webSocket,
} from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';

import { CHAIN_ID, DEV_KEYS, ROOT, startNode } from './node.js';

const token = JSON.parse(readFileSync(path.join(ROOT, 'contracts/build/BtcrToken.json'), 'utf8'));
let node;
let chain;
let client;

before(async () => {
  node = await startNode();
  chain = defineChain({
    id: CHAIN_ID,
    name: 'BTCR dev',
    nativeCurrency: { name: 'BTCR', symbol: 'BTCR', decimals: 18 },
    rpcUrls: { default: { http: [node.url], webSocket: [node.wsUrl] } },
  });
  client = createPublicClient({ chain, transport: http(node.url), pollingInterval: 50 });
});

after(() => node?.stop());

function wallet(key) {
  return createWalletClient({ account: privateKeyToAccount(key), chain, transport: http(node.url) });
}

async function deployToken(key) {
  const hash = await wallet(key).deployContract({
    abi: token.abi,
    bytecode: token.bytecode,
    args: ['Reload Token', 'RLD', 10n ** 24n],
  });
  const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
  assert.equal(receipt.status, 'success');
  return receipt.contractAddress;
}

test('chain id and block fields', async () => {
  assert.equal(await client.getChainId(), CHAIN_ID);
  const block = await client.getBlock();
  for (const field of ['number', 'hash', 'parentHash', 'timestamp', 'gasLimit', 'baseFeePerGas', 'logsBloom', 'stateRoot', 'mixHash', 'miner']) {
    assert.notEqual(block[field], undefined, field);
  }
  assert.equal((await client.getBlock({ blockTag: 'earliest' })).number, 0n);
  assert.ok((await client.getBlock({ blockTag: 'finalized' })).number >= block.number);
});

test('signed transfer, receipt and EIP-1559 fee fields', async () => {
  const to = privateKeyToAccount(generatePrivateKey()).address;
  const fees = await client.estimateFeesPerGas();
  assert.ok(fees.maxFeePerGas >= fees.maxPriorityFeePerGas);
  const history = await client.getFeeHistory({ blockCount: 4, rewardPercentiles: [25, 75] });
  assert.equal(history.baseFeePerGas.length, history.gasUsedRatio.length + 1);
  const hash = await wallet(DEV_KEYS[0]).sendTransaction({ to, value: parseEther('0.75') });
  const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
  assert.equal(receipt.status, 'success');
  assert.equal(receipt.gasUsed, 21000n);
  assert.equal(receipt.type, 'eip1559');
  assert.equal(await client.getBalance({ address: to }), parseEther('0.75'));
  const block = await client.getBlock({ blockNumber: receipt.blockNumber });
  const tx = await client.getTransaction({ hash });
  const tip = tx.maxPriorityFeePerGas < tx.maxFeePerGas - block.baseFeePerGas
    ? tx.maxPriorityFeePerGas : tx.maxFeePerGas - block.baseFeePerGas;
  assert.equal(receipt.effectiveGasPrice, block.baseFeePerGas + tip);
});

test('ERC-20: deploy, transfer, balanceOf, Transfer logs, revert reason', async () => {
  const address = await deployToken(DEV_KEYS[1]);
  const owner = privateKeyToAccount(DEV_KEYS[1]).address;
  const to = privateKeyToAccount(generatePrivateKey()).address;
  const hash = await wallet(DEV_KEYS[1]).writeContract({
    address, abi: token.abi, functionName: 'transfer', args: [to, 5n * 10n ** 18n],
  });
  const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
  assert.equal(receipt.status, 'success');
  assert.equal(await client.readContract({ address, abi: token.abi, functionName: 'balanceOf', args: [to] }), 5n * 10n ** 18n);
  const events = await client.getContractEvents({
    address, abi: token.abi, eventName: 'Transfer', fromBlock: receipt.blockNumber, toBlock: receipt.blockNumber,
  });
  assert.equal(events.length, 1);
  assert.equal(events[0].args.from, owner);
  assert.equal(events[0].args.to, to);

  const poor = privateKeyToAccount(generatePrivateKey());
  await assert.rejects(
    client.simulateContract({ address, abi: token.abi, functionName: 'transfer', args: [owner, 1n], account: poor }),
    (error) => {
      const reverted = error instanceof BaseError && error.walk((e) => e instanceof ContractFunctionRevertedError);
      assert.ok(reverted, String(error));
      assert.equal(reverted.reason, 'BtcrToken: transfer amount exceeds balance');
      return true;
    },
  );
});

test('nonce too low and insufficient funds, as viem names them', async () => {
  const key = DEV_KEYS[2];
  const account = privateKeyToAccount(key);
  const hash = await wallet(key).sendTransaction({ to: account.address, value: 1n });
  await client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
  await assert.rejects(
    wallet(key).sendTransaction({ to: account.address, value: 1n, nonce: 0 }),
    (error) => {
      assert.ok(error.walk((e) => e instanceof NonceTooLowError), String(error));
      return true;
    },
  );
  const poor = generatePrivateKey();
  await assert.rejects(
    wallet(poor).sendTransaction({
      to: account.address, value: 1n, gas: 21000n, maxFeePerGas: 10n ** 11n, maxPriorityFeePerGas: 10n ** 9n,
    }),
    (error) => {
      assert.ok(error.walk((e) => e instanceof InsufficientFundsError), String(error));
      return true;
    },
  );
});

test('a batch request', async () => {
  const batched = createPublicClient({ chain, transport: http(node.url, { batch: { batchSize: 10, wait: 20 } }) });
  const [genesis, balance, number] = await Promise.all([
    batched.getBlock({ blockNumber: 0n }),
    batched.getBalance({ address: privateKeyToAccount(DEV_KEYS[0]).address }),
    batched.getBlockNumber(),
  ]);
  assert.equal(genesis.number, 0n);
  assert.ok(balance > 0n && number >= 0n);
});

test('WebSocket: newHeads and a logs subscription', async () => {
  const address = await deployToken(DEV_KEYS[3]);
  const ws = createPublicClient({ chain, transport: webSocket(node.wsUrl) });
  const to = privateKeyToAccount(generatePrivateKey()).address;
  const head = new Promise((resolve) => {
    const stop = ws.watchBlocks({ onBlock: (block) => { stop(); resolve(block); } });
  });
  const log = new Promise((resolve) => {
    const stop = ws.watchContractEvent({
      address, abi: token.abi, eventName: 'Transfer',
      onLogs: (logs) => { stop(); resolve(logs[0]); },
    });
  });
  // Subscriptions are set up asynchronously: give them a moment before the transfer.
  await new Promise((r) => setTimeout(r, 300));
  const hash = await wallet(DEV_KEYS[3]).writeContract({
    address, abi: token.abi, functionName: 'transfer', args: [to, 7n],
  });
  const timeout = (ms) => new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), ms).unref());
  const [block, transfer] = await Promise.race([Promise.all([head, log]), timeout(30000)]);
  assert.ok(block.number >= 1n);
  assert.equal(transfer.transactionHash, hash);
  assert.equal(transfer.args.to, to);
  assert.equal(transfer.args.value, 7n);
  await ws.transport.getRpcClient().then((c) => c.close());
});
