// Notifications end to end, in Chromium, against a `btcr dev` node it starts (allowed to
// post to this test's local receiver): a user watches an address, adds a webhook endpoint,
// subscribes the portal and the webhook, and a transfer from that address rings the bell,
// shows in the list, reaches the receiver signed (checked here as a receiver would), and
// shows as delivered in the endpoint's log, as does a test message sent from the page.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';
import { createPublicClient, createWalletClient, defineChain, http, parseEther } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';

import { CHAIN_ID, DEV_KEYS, startNode } from '../../tests/clients/js/node.js';

const SHOTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'screenshots');
const CHROMIUM = process.env.BTCR_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'];
const USER = { email: 'watcher@btcr.test', password: 'watcher has a long password' };

let node;
let browser;
let page;
let receiver;
const received = [];

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  node = await startNode(['--notify.allow-private-targets']);
  receiver = createServer((request, response) => {
    const chunks = [];
    request.on('data', (c) => chunks.push(c));
    request.on('end', () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks) });
      response.writeHead(200, { 'Content-Type': 'text/plain' }).end('thanks');
    });
  });
  await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(30_000);
});

after(async () => {
  await browser?.close();
  receiver?.close();
  node?.stop();
});

const shot = (name) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

/** Standard Webhooks, as a receiver checks it: HMAC-SHA256 of `id.timestamp.body`. */
function verify(secret, { headers, body }) {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const signed = Buffer.concat([Buffer.from(`${headers['webhook-id']}.${headers['webhook-timestamp']}.`), body]);
  const expected = `v1,${createHmac('sha256', key).update(signed).digest('base64')}`;
  return headers['webhook-signature'].split(' ').includes(expected);
}

async function until(condition, what) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (condition()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`waited for ${what}`);
}

test('a transfer from a watched address rings the bell and reaches a signed webhook', async () => {
  const sender = privateKeyToAccount(DEV_KEYS[1]);
  const hookUrl = `http://127.0.0.1:${receiver.address().port}/btcr`;

  // What the node pushes on the live notifications connection.
  const pushed = [];
  page.on('websocket', (socket) => {
    if (!socket.url().endsWith('/api/v1/me/notifications/live')) return;
    socket.on('framereceived', (frame) => pushed.push(JSON.parse(String(frame.payload))));
  });
  await page.goto(`${node.url}/signup`);
  await page.getByLabel('E-mail').fill(USER.email);
  await page.getByLabel('Password', { exact: true }).fill(USER.password);
  await page.getByLabel('Password again').fill(USER.password);
  await page.getByRole('button', { name: 'Create the account' }).click();
  await page.getByTestId('account-email').filter({ hasText: USER.email }).waitFor();
  await page.getByTestId('bell').click();
  await page.getByText('Nothing yet').waitFor();

  // Watch the sender, add the endpoint (its secret shown once), subscribe both channels.
  await page.getByLabel('Address to watch').fill(sender.address);
  await page.getByLabel('Label').fill('hot wallet');
  await page.getByRole('button', { name: 'Watch', exact: true }).click();
  await page.getByTestId('watched-row').filter({ hasText: sender.address.toLowerCase() }).waitFor();
  await page.getByLabel('Endpoint URL').fill(hookUrl);
  await page.getByLabel('Note').fill('ops alerts');
  await page.getByRole('button', { name: 'Add endpoint' }).click();
  const secret = (await page.getByTestId('webhook-secret').textContent()).trim();
  assert.match(secret, /^whsec_[A-Za-z0-9+/]+=*$/);
  await page.getByRole('button', { name: 'I copied it' }).click();
  await page.getByRole('button', { name: 'Subscribe', exact: true }).click();
  await page.getByTestId('subscription-row').filter({ hasText: 'this portal' }).waitFor();
  await page.getByLabel('Deliver to').selectOption('webhook');
  await page.getByLabel('Address', { exact: true }).selectOption(sender.address.toLowerCase());
  await page.getByLabel('BTCR or tokens received').uncheck();
  await page.getByRole('button', { name: 'Subscribe', exact: true }).click();
  await page.getByTestId('subscription-row').filter({ hasText: hookUrl }).waitFor();
  await shot('notifications-settings');

  // The transfer.
  const chain = defineChain({
    id: CHAIN_ID,
    name: 'BTCR dev',
    nativeCurrency: { name: 'BTCR', symbol: 'BTCR', decimals: 18 },
    rpcUrls: { default: { http: [node.url] } },
  });
  const wallet = createWalletClient({ account: sender, chain, transport: http(node.url) });
  const client = createPublicClient({ chain, transport: http(node.url), pollingInterval: 50 });
  const hash = await wallet.sendTransaction({ to: '0x00000000000000000000000000000000000000e2', value: parseEther('0.5') });
  await client.waitForTransactionReceipt({ hash, pollingInterval: 50 });

  // The portal: the bell counts it, the list says what happened; the node pushed it over
  // the page's live connection (the page polls only every 30 s).
  await page.getByTestId('bell-count').filter({ hasText: '1' }).waitFor();
  await until(() => pushed.some((m) => m.type === 'notification' && m.notification.payload.data.transactionHash === hash), 'the push');
  const item = page.getByTestId('notification').filter({ hasText: 'Sent 0.5 BTCR' });
  await item.waitFor();
  assert.match(await item.textContent(), /transfer\.out/);
  await shot('notifications-list');

  // The webhook: one message, signed with the endpoint's secret, about this transaction.
  await until(() => received.length === 1, 'the webhook');
  assert.ok(verify(secret, received[0]), 'the signature verifies');
  const event = JSON.parse(received[0].body);
  assert.equal(event.type, 'transfer.out');
  assert.equal(event.data.transactionHash, hash);
  assert.equal(event.data.value, parseEther('0.5').toString());

  // Its log shows the delivery; a test message from the page is delivered too.
  const endpoint = page.getByTestId('endpoint-row').filter({ hasText: hookUrl });
  // A new endpoint's log is open; closing and opening it again shows the same rows.
  await endpoint.getByRole('button', { name: 'Hide the log' }).click();
  await page.getByTestId('delivery-log').waitFor({ state: 'detached' });
  await endpoint.getByRole('button', { name: 'Delivery log' }).click();
  const delivered = page.getByTestId('delivery-row').filter({ hasText: 'Sent 0.5 BTCR' });
  await delivered.filter({ hasText: 'delivered' }).waitFor();
  assert.match(await delivered.getByTestId('delivery-answer').textContent(), /HTTP 200/);
  assert.match(await delivered.textContent(), new RegExp(received[0].headers['webhook-id']));
  await endpoint.getByRole('button', { name: 'Send a test' }).click();
  await page.getByTestId('delivery-row').filter({ hasText: 'A test message' }).filter({ hasText: 'delivered' }).waitFor();
  await until(() => received.length === 2, 'the test message');
  assert.equal(JSON.parse(received[1].body).type, 'webhook.test');
  assert.ok(verify(secret, received[1]));
  await shot('notifications-delivery-log');

  // Read: the bell goes quiet.
  await page.getByRole('button', { name: 'Mark all read' }).click();
  await page.getByTestId('bell-count').waitFor({ state: 'detached' });
});
