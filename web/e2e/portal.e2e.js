// The portal end to end, in Chromium, against a `btcr dev` node it starts: the dashboard,
// a wallet created in the browser and funded from a dev account, BTCR and an ERC-20 token
// sent from it and found in the explorer, staking, and every page's screenshot in
// e2e/screenshots/.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';
import { createPublicClient, createWalletClient, defineChain, http, parseEther } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';

import { btcrBinary, CHAIN_ID, DEV_KEYS, ROOT, startNode } from '../../tests/clients/js/node.js';

const TOKEN = JSON.parse(readFileSync(path.join(ROOT, 'contracts/build/BtcrToken.json'), 'utf8'));
const SHOTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'screenshots');
const CHROMIUM = process.env.BTCR_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let node;
let browser;
let page;
let chain;

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  node = await startNode();
  chain = defineChain({
    id: CHAIN_ID,
    name: 'BTCR dev',
    nativeCurrency: { name: 'BTCR', symbol: 'BTCR', decimals: 18 },
    rpcUrls: { default: { http: [node.url] } },
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(30_000);
});

after(async () => {
  await browser?.close();
  node?.stop();
});

const shot = (name) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

test('the dashboard shows the chain, live', async () => {
  await page.goto(node.url);
  await page.getByText('Latest blocks', { exact: true }).waitFor();
  await page.getByTestId('tx-chart').locator('svg').first().waitFor();
  const height = page.getByTestId('stat-height');
  await height.filter({ hasText: /^[1-9]/ }).waitFor();
  const first = Number((await height.textContent()).replace(/,/g, ''));
  await page.getByTestId('stat-supply').filter({ hasText: /^[1-9][0-9,]+$/ }).waitFor();
  // New heads arrive over the WebSocket; the page follows without a reload.
  await page.waitForFunction(
    (before) => Number(document.querySelector('[data-testid="stat-height"]').textContent.replace(/,/g, '')) > before,
    first,
  );
  assert.equal(await page.getByTestId('live').getAttribute('class').then((c) => c.includes('bg-emerald-500')), true);
  // The dot says it in words too, not by its colour alone.
  await page.getByRole('status').filter({ hasText: 'Live: connected to the node' }).waitFor();
  await shot('dashboard');
});

test('a wallet made in the browser receives, sends, and the explorer shows it', async () => {
  // Create: the words are shown once, three of them typed back, a password set.
  await page.goto(`${node.url}/wallet`);
  await page.getByRole('tab', { name: 'Create' }).click();
  const words = (await page.getByTestId('mnemonic').locator('li').allTextContents()).map((w) => w.replace(/^\d+\./, '').trim());
  assert.equal(words.length, 12);
  await shot('wallet-create');
  await page.getByRole('button', { name: 'I wrote them down' }).click();
  for (const label of await page.locator('label span', { hasText: /^Word \d+$/ }).allTextContents()) {
    const n = Number(label.replace('Word ', ''));
    await page.getByLabel(label, { exact: true }).fill(words[n - 1]);
  }
  await page.getByLabel('Password (it encrypts the key in this browser)').fill('correct horse battery');
  await page.getByLabel('Password again').fill('correct horse battery');
  await page.getByRole('button', { name: 'Create the wallet' }).click();
  const address = (await page.getByTestId('wallet-address').textContent()).trim();
  assert.match(address, /^0x[0-9a-fA-F]{40}$/);
  await page.getByTestId('receive-qr').waitFor();

  // Funded from a dev account with viem, outside the browser.
  const funder = createWalletClient({ account: privateKeyToAccount(DEV_KEYS[0]), chain, transport: http(node.url) });
  const client = createPublicClient({ chain, transport: http(node.url), pollingInterval: 50 });
  const funding = await funder.sendTransaction({ to: address, value: parseEther('10') });
  await client.waitForTransactionReceipt({ hash: funding, pollingInterval: 50 });
  await page.getByTestId('wallet-balance').filter({ hasText: '10 BTCR' }).waitFor();

  // Send 1.5 BTCR: the fee is previewed, the transfer goes from pending to finalized.
  const recipient = '0x00000000000000000000000000000000000000b7';
  await page.getByLabel('To', { exact: true }).fill(recipient);
  await page.getByLabel('Amount (BTCR)').fill('abc');
  await page.getByText('is not an amount').waitFor();
  // The field is marked invalid and described by its error.
  const amount = page.getByLabel('Amount (BTCR)');
  assert.equal(await amount.getAttribute('aria-invalid'), 'true');
  const note = await amount.getAttribute('aria-describedby');
  assert.match(await page.locator(`[id="${note}"]`).textContent(), /is not an amount/);
  await page.getByLabel('Amount (BTCR)').fill('1.5');
  await page.getByTestId('fee').filter({ hasText: 'Fee: at most' }).waitFor();
  await shot('wallet-send');
  await page.getByRole('button', { name: 'Send BTCR' }).click();
  await page.getByTestId('sent').filter({ hasText: 'finalized' }).waitFor();
  // What the page shows is said to screen readers too, through the polite live region.
  await page.getByTestId('announcer').filter({ hasText: /BTCR transfer finalized in block \d+/ }).waitFor();
  assert.equal(await client.getBalance({ address: recipient }), parseEther('1.5'));
  await shot('wallet-sent');

  // Too much is refused with a reason a person can act on.
  await page.getByLabel('Amount (BTCR)').fill('100');
  const fee = page.getByTestId('fee');
  await fee.filter({ hasNotText: 'Estimating' }).waitFor();
  assert.match(await fee.textContent(), /Not enough BTCR/);

  // The transaction in the explorer, then the recipient's page.
  await page.getByTestId('sent').getByRole('link').first().click();
  await page.waitForURL(/\/tx\/0x/);
  await page.getByRole('heading', { name: 'Transaction', exact: true }).waitFor();
  await page.getByText('success').waitFor();
  await page.getByText('1.5 BTCR').waitFor();
  await shot('transaction');
  await page.goto(`${node.url}/address/${recipient}`);
  await page.getByTestId('balance').filter({ hasText: '1.5 BTCR' }).waitFor();
  await page.getByRole('cell', { name: 'in' }).waitFor();
  await shot('address');

  // A reload forgets the key (only the keystore is kept); the password opens it again, and
  // Lock forgets it once more.
  await page.goto(`${node.url}/wallet`);
  await page.getByText('is locked').waitFor();
  await shot('wallet-locked');
  await page.getByLabel('Password').fill('wrong password');
  await page.getByRole('button', { name: 'Unlock' }).click();
  await page.getByRole('alert').filter({ hasText: 'Wrong password' }).waitFor();
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Unlock' }).click();
  await page.getByTestId('wallet-address').filter({ hasText: address }).waitFor();

  // ERC-20: a token deployed by a dev account sends the wallet 250 RLD; the node's index
  // puts it in the wallet by itself. Another token is added by its address (zero balance).
  const deployer = createWalletClient({ account: privateKeyToAccount(DEV_KEYS[1]), chain, transport: http(node.url) });
  const deploy = async (name, symbol) => {
    const hash = await deployer.deployContract({ abi: TOKEN.abi, bytecode: TOKEN.bytecode, args: [name, symbol, parseEther('1000000')] });
    return (await client.waitForTransactionReceipt({ hash, pollingInterval: 50 })).contractAddress;
  };
  const rld = await deploy('Reload Token', 'RLD');
  const sec = await deploy('Second Token', 'SEC');
  const gift = await deployer.writeContract({ address: rld, abi: TOKEN.abi, functionName: 'transfer', args: [address, parseEther('250')] });
  await client.waitForTransactionReceipt({ hash: gift, pollingInterval: 50 });
  await page.getByTestId('token-balance-RLD').filter({ hasText: '250 RLD' }).waitFor();
  await page.getByRole('button', { name: 'Add a token' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Token contract').fill(recipient);
  await dialog.getByRole('button', { name: 'Look it up' }).click();
  await dialog.getByRole('alert').filter({ hasText: 'There is no contract at this address.' }).waitFor();
  await dialog.getByLabel('Token contract').fill(sec);
  await dialog.getByRole('button', { name: 'Look it up' }).click();
  await dialog.getByTestId('token-found').filter({ hasText: 'Second Token (SEC), 18 decimals' }).waitFor();
  await shot('wallet-add-token');
  await dialog.getByRole('button', { name: 'Add', exact: true }).click();
  await page.getByTestId('token-balance-SEC').filter({ hasText: '0 SEC' }).waitFor();

  // Send 40 RLD: the fee is previewed in BTCR; more than the wallet holds is refused first.
  await page.getByLabel('Asset').selectOption({ label: 'RLD (Reload Token)' });
  await page.getByLabel('To', { exact: true }).fill(recipient);
  await page.getByLabel('Amount (RLD)').fill('1000');
  await page.getByTestId('fee').filter({ hasText: 'Not enough RLD' }).waitFor();
  await page.getByLabel('Amount (RLD)').fill('40');
  await page.getByTestId('fee').filter({ hasText: 'Fee: at most' }).waitFor();
  await page.getByRole('button', { name: 'Send RLD' }).click();
  await page.getByTestId('sent').filter({ hasText: 'finalized' }).waitFor();
  await page.getByTestId('token-balance-RLD').filter({ hasText: '210 RLD' }).waitFor();
  const held = await client.readContract({ address: rld, abi: TOKEN.abi, functionName: 'balanceOf', args: [recipient] });
  assert.equal(held, parseEther('40'));
  await shot('wallet-token');

  // The token transfer in the explorer, in the token's units, and on the recipient's page.
  await page.getByTestId('sent').getByRole('link').first().click();
  await page.waitForURL(/\/tx\/0x/);
  await page.getByRole('heading', { name: 'Transaction', exact: true }).waitFor();
  await page.getByTestId('token-transfer').filter({ hasText: '40 RLD' }).waitFor();
  await shot('transaction-token');
  await page.getByLabel('Search').fill(recipient);
  await page.getByLabel('Search').press('Enter');
  await page.getByTestId('token-row').filter({ hasText: 'Reload Token' }).filter({ hasText: '40' }).waitFor();
  await page.getByText('+ token').first().waitFor();
  await shot('address-tokens');

  // Staking from the browser: delegate 2 BTCR to the dev validator, earn, claim, and start
  // unbonding 1 BTCR.
  await page.getByRole('link', { name: 'Staking', exact: true }).click();
  await page.getByLabel('Delegate amount').fill('2');
  await page.getByRole('button', { name: 'Delegate', exact: true }).click();
  await page.getByTestId('staking-done').filter({ hasText: 'Delegation: finalized' }).waitFor();
  await page.getByTestId('position').filter({ hasText: '2' }).waitFor();
  await page.waitForFunction(() => /Pending rewards: 0\.0*[1-9]/.test(document.querySelector('[data-testid="pending-rewards"]')?.textContent ?? ''));
  await page.getByRole('button', { name: 'Claim rewards' }).click();
  await page.getByTestId('staking-done').filter({ hasText: 'Claim: finalized' }).waitFor();
  await page.getByLabel('Undelegate amount').fill('1');
  await page.getByRole('button', { name: 'Undelegate', exact: true }).click();
  await page.getByTestId('staking-done').filter({ hasText: 'Undelegation: finalized' }).waitFor();
  await page.getByRole('columnheader', { name: 'Unbonding from' }).waitFor();
  await shot('staking-positions');

  await page.getByRole('link', { name: 'Wallet', exact: true }).click();
  await page.getByRole('button', { name: 'Lock', exact: true }).click();
  await page.getByText('is locked').waitFor();
});

test('a wallet is removed, then imported from a recovery phrase and from a key file the CLI wrote', async () => {
  const remove = async () => {
    await page.getByRole('button', { name: 'Remove', exact: true }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByText('the funds cannot be reached again').waitFor();
    await dialog.getByRole('button', { name: 'Remove', exact: true }).click();
    await page.getByRole('tab', { name: 'Import' }).waitFor();
  };
  await page.goto(`${node.url}/wallet`);
  await page.getByText('is locked').waitFor();
  await remove();

  // The dev chain's test mnemonic: its first account is the first dev account.
  await page.getByRole('tab', { name: 'Import' }).click();
  await page.getByRole('textbox', { name: 'Recovery phrase' }).fill('test test test test test test test test test test test junk');
  await page.getByLabel('Password (it encrypts the key in this browser)').fill('another password');
  await page.getByLabel('Password again').fill('another password');
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  const first = privateKeyToAccount(DEV_KEYS[0]).address;
  await page.getByTestId('wallet-address').filter({ hasText: first }).waitFor();
  await page.getByRole('button', { name: 'Lock', exact: true }).click();
  await remove();

  // A key file written by `btcr wallet import` (scrypt) opens with its own password.
  const dir = mkdtempSync(path.join(tmpdir(), 'btcr-e2e-keys-'));
  writeFileSync(path.join(dir, 'password'), 'key file password\n');
  writeFileSync(path.join(dir, 'secret'), `${DEV_KEYS[3]}\n`);
  const keystore = path.join(dir, 'keys');
  execFileSync(btcrBinary(), [
    'wallet', '--keystore', keystore, '--password-file', path.join(dir, 'password'),
    'import', '--private-key', '--secret-file', path.join(dir, 'secret'), '--name', 'carol', '--kdf', 'light',
  ]);
  const file = readdirSync(keystore).map((f) => path.join(keystore, f))[0];
  await page.getByRole('tab', { name: 'Import' }).click();
  await page.getByRole('tab', { name: 'Keystore file' }).click();
  await page.getByLabel('Keystore file (JSON, version 3)').setInputFiles(file);
  await page.getByLabel("The file's password (it stays the wallet's password)").fill('wrong');
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await page.getByRole('alert').filter({ hasText: 'Wrong password' }).waitFor();
  await page.getByLabel("The file's password (it stays the wallet's password)").fill('key file password');
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await page.getByTestId('wallet-address').filter({ hasText: privateKeyToAccount(DEV_KEYS[3]).address }).waitFor();
  await shot('wallet-imported');
  await page.getByRole('button', { name: 'Lock', exact: true }).click();
});

test('the explorer: blocks, a block, search, validators, a phone-sized screen, and a node gone', async () => {
  await page.goto(`${node.url}/blocks`);
  await page.getByRole('columnheader', { name: 'Gas used' }).waitFor();
  await shot('blocks');
  await page.getByRole('link', { name: 'Older →' }).click();
  await page.getByRole('columnheader', { name: 'Gas used' }).waitFor();
  await page.goto(`${node.url}/blocks/1`);
  await page.getByText('Commit certificate').waitFor();
  await shot('block');
  await page.getByLabel('Search').fill('not a thing');
  await page.getByLabel('Search').press('Enter');
  await page.getByText('is not a height').waitFor();
  await page.getByLabel('Search').fill('2');
  await page.getByLabel('Search').press('Enter');
  await page.getByText('Block 2').waitFor();
  await page.goto(`${node.url}/staking`);
  await page.getByText('active').first().waitFor();
  await page.getByTestId('uptime').filter({ hasText: '100%' }).waitFor();
  await shot('staking');
  await page.getByRole('link', { name: 'Admin', exact: true }).click();
  await page.getByText('as an administrator to see the network').waitFor();
  await shot('admin');
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(node.url);
  await page.getByText('Latest blocks', { exact: true }).waitFor();
  await page.getByRole('button', { name: 'Switch theme' }).click();
  await shot('dashboard-phone-dark');

  // The node goes away: the live dot turns grey, and the next page says what is wrong.
  node.stop();
  await page.locator('[data-testid="live"].bg-zinc-400').filter({ hasText: 'Not connected to the node' }).waitFor();
  // Answers stay fresh in the portal's cache for a moment, so the dashboard may first show
  // what it had: go to another page and back until it asks the node again and says why not.
  const unreachable = page.getByRole('alert').filter({ hasText: 'The node cannot be reached. Is it running?' }).first();
  const deadline = Date.now() + 30_000;
  for (;;) {
    await page.getByRole('link', { name: 'Blocks', exact: true }).click();
    await page.getByRole('link', { name: 'Dashboard', exact: true }).click();
    if (await unreachable.waitFor({ timeout: 3_000 }).then(() => true, () => false)) break;
    assert.ok(Date.now() < deadline, 'the dashboard never said that the node is unreachable');
  }
  await shot('node-unreachable');
});
