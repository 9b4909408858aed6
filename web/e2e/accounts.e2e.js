// Accounts end to end, in Chromium, against a `btcr dev` node it starts (its embedded
// accounts database): a user signs up, turns TOTP on (this test computes the codes, as an
// authenticator app would), signs out and in again with a code, and makes an API key; an
// administrator made with `btcr accounts create-admin` promotes and disables that user,
// finds both in the audit log, and changes a setting that every visitor then sees.
// Screenshots of each new page land in e2e/screenshots/.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

import { btcrBinary, startNode } from '../../tests/clients/js/node.js';

const SHOTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'screenshots');
const CHROMIUM = process.env.BTCR_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'];

const ADMIN = { email: 'admin@btcr.test', password: 'admin password of the e2e test' };
const ALICE = { email: 'alice@btcr.test', password: 'alice has a long password' };
const BANNER = 'Upgrade tonight at 22:00 UTC: expect a minute without blocks.';

let node;
let browser;
let alice;
let admin;

/** RFC 6238: the six-digit code of a base32 secret, `steps` steps of 30 s from now. */
function totp(secret, steps = 0) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30_000) + steps));
  const mac = createHmac('sha1', key).update(counter).digest();
  const at = mac[19] & 0xf;
  const value = ((mac[at] & 0x7f) << 24) | (mac[at + 1] << 16) | (mac[at + 2] << 8) | mac[at + 3];
  return String(value % 1_000_000).padStart(6, '0');
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  node = await startNode();
  // The first administrator, from the command line, into the node's own database.
  const dir = mkdtempSync(path.join(tmpdir(), 'btcr-e2e-admin-'));
  writeFileSync(path.join(dir, 'password'), `${ADMIN.password}\n`);
  const made = execFileSync(btcrBinary(), [
    'accounts', '--datadir', node.datadir, 'create-admin', '--email', ADMIN.email, '--password-file', path.join(dir, 'password'),
  ]).toString();
  assert.match(made, /created administrator admin@btcr\.test/);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
  const page = async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const p = await context.newPage();
    p.setDefaultTimeout(30_000);
    return p;
  };
  alice = await page();
  admin = await page();
});

after(async () => {
  await browser?.close();
  node?.stop();
});

const shot = (page, name) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

async function signIn(page, who) {
  await page.goto(`${node.url}/signin`);
  await page.getByLabel('E-mail').fill(who.email);
  await page.getByLabel('Password', { exact: true }).fill(who.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

test('sign up, turn TOTP on, sign out and in with a code, make an API key', async () => {
  const page = alice;
  await page.goto(`${node.url}/signup`);
  await page.getByLabel('E-mail').fill(ALICE.email);
  await page.getByLabel('Password', { exact: true }).fill(ALICE.password);
  await page.getByLabel('Password again').fill('not the same');
  await page.getByText('The two passwords differ.').waitFor();
  await page.getByLabel('Password again').fill(ALICE.password);
  await shot(page, 'signup');
  await page.getByRole('button', { name: 'Create the account' }).click();
  await page.getByTestId('account-email').filter({ hasText: ALICE.email }).waitFor();
  await page.getByTestId('session-link').filter({ hasText: ALICE.email }).waitFor();

  // A reload keeps the session: the HttpOnly cookie's refresh token gives a new access token.
  await page.reload();
  await page.getByTestId('account-email').filter({ hasText: ALICE.email }).waitFor();
  const cookies = await page.context().cookies();
  const refresh = cookies.find((c) => c.name === 'btcr_refresh');
  assert.ok(refresh, 'the refresh token is a cookie');
  assert.equal(refresh.httpOnly, true);
  assert.equal(refresh.sameSite, 'Strict');
  assert.equal(refresh.path, '/api/v1/auth');
  assert.equal(await page.evaluate(() => document.cookie.includes('btcr_refresh')), false, 'scripts cannot read it');

  // TOTP: a secret with its QR code, confirmed by a code, then ten recovery codes once.
  await page.getByRole('button', { name: 'Turn on TOTP' }).click();
  await page.getByTestId('totp-qr').waitFor();
  const secret = (await page.getByTestId('totp-secret').textContent()).trim();
  assert.match(secret, /^[A-Z2-7]{16,}$/);
  await shot(page, 'account-totp-setup');
  await page.getByLabel('Code from the app').fill('123');
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.getByRole('alert').filter({ hasText: 'wrong or already used code' }).waitFor();
  await page.getByLabel('Code from the app').fill(totp(secret));
  await page.getByRole('button', { name: 'Confirm' }).click();
  const codes = page.getByTestId('recovery-codes').locator('li');
  await codes.first().waitFor();
  assert.equal(await codes.count(), 10);
  await shot(page, 'account-recovery-codes');
  await page.getByRole('button', { name: 'I saved them' }).click();
  await page.getByTestId('recovery-left').filter({ hasText: '10 recovery codes left' }).waitFor();

  // Out, then in: the password, then a code (the next step's: the one that confirmed TOTP
  // is never accepted again).
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('link', { name: 'Sign in', exact: true }).first().waitFor();
  await signIn(page, { ...ALICE, password: 'a wrong password' });
  await page.getByRole('alert').filter({ hasText: 'wrong e-mail address or password' }).waitFor();
  await signIn(page, ALICE);
  await page.getByLabel('Code from your authenticator app').waitFor();
  await shot(page, 'signin-totp');
  await page.getByLabel('Code from your authenticator app').fill(totp(secret, 1));
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByTestId('account-email').filter({ hasText: ALICE.email }).waitFor();

  // An API key: its secret shown once, then working against the API within its scopes.
  await page.getByLabel('Key name').fill('deploy script');
  await page.getByLabel('write').check();
  await page.getByRole('button', { name: 'Create key' }).click();
  const key = (await page.getByTestId('api-key-secret').textContent()).trim();
  assert.match(key, /^btcr_ak_/);
  await page.getByTestId('api-key-row').filter({ hasText: 'deploy script' }).filter({ hasText: 'read, write' }).waitFor();
  await shot(page, 'account-api-key');
  const watch = await fetch(`${node.url}/api/v1/me/watchlist`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ address: '0x00000000000000000000000000000000000000b7', label: 'from a script' }),
  });
  assert.equal(watch.status, 200);
  const me = await fetch(`${node.url}/api/v1/me`, { headers: { Authorization: `Bearer ${key}` } });
  assert.equal(me.status, 403, 'a key does not act as a signed-in user');
  await page.getByRole('button', { name: 'I copied it' }).click();
  await page.getByTestId('session-row').filter({ hasText: 'this one' }).waitFor();
  await shot(page, 'account');
});

test('an administrator promotes and disables a user, reads the audit log, and changes a setting', async () => {
  const page = admin;
  // A user on /admin is told to sign in; the administrator lands back on /admin.
  await page.goto(`${node.url}/admin`);
  await page.getByRole('main').getByRole('link', { name: 'Sign in', exact: true }).click();
  await page.getByLabel('E-mail').fill(ADMIN.email);
  await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('tab', { name: 'Network' }).waitFor();

  // The network: heights, the block-time chart, validators with their uptime.
  await page.getByTestId('stat-height').filter({ hasText: /^[1-9]/ }).waitFor();
  await page.getByTestId('block-time-chart').locator('svg').first().waitFor();
  await page.getByTestId('admin-uptime').first().filter({ hasText: '%' }).waitFor();
  await shot(page, 'admin-network');

  // Users: found by search, promoted, then disabled.
  await page.getByRole('tab', { name: 'Users' }).click();
  await page.getByLabel('Search users by e-mail').fill('alice');
  const row = page.getByTestId('user-row').filter({ hasText: ALICE.email });
  await row.waitFor();
  await page.getByTestId('users-total').filter({ hasText: '1–1 of 1' }).waitFor();
  await row.getByRole('button', { name: 'Make admin' }).click();
  await row.getByText('admin', { exact: true }).waitFor();
  await row.getByRole('button', { name: 'Disable' }).click();
  await row.getByText('disabled', { exact: true }).waitFor();
  await shot(page, 'admin-users');

  // The disabled user's session is refused at its next refresh, and signing in says why.
  await alice.reload();
  await alice.getByRole('link', { name: 'Sign in', exact: true }).first().waitFor();
  await signIn(alice, ALICE);
  await alice.getByRole('alert').filter({ hasText: 'this account is disabled' }).waitFor();

  // The audit log shows both changes, by this administrator.
  await page.getByRole('tab', { name: 'Audit log' }).click();
  const updates = page.getByTestId('audit-row').filter({ hasText: 'admin.user-updated' });
  await updates.nth(1).waitFor();
  assert.match(await updates.nth(0).textContent(), /"role":"admin"/);
  assert.match(await updates.nth(1).textContent(), /"disabled":true/);
  await page.getByTestId('audit-row').filter({ hasText: 'totp.enabled' }).waitFor();
  await page.getByTestId('audit-row').filter({ hasText: 'api-key.created' }).waitFor();
  await shot(page, 'admin-audit');

  // Statistics: two users (one disabled, both administrators now), sign-ups per day.
  await page.getByRole('tab', { name: 'Statistics' }).click();
  await page.getByTestId('stat-users').filter({ hasText: '2' }).waitFor();
  await page.getByTestId('stat-disabled').filter({ hasText: '1' }).waitFor();
  await page.getByTestId('stat-with-totp').filter({ hasText: '1' }).waitFor();
  await page.getByTestId('signups-chart').locator('svg').first().waitFor();
  await shot(page, 'admin-stats');

  // Settings: a banner and registration closed, in force at once.
  await page.getByRole('tab', { name: 'Settings' }).click();
  await page.getByLabel('Banner').fill(BANNER);
  await page.getByLabel('Registration open').uncheck();
  await page.getByLabel('Failed sign-ins per account: in seconds').fill('100000');
  await page.getByRole('button', { name: 'Save the settings' }).click();
  await page.getByRole('alert').filter({ hasText: 'windowS must be 1 to 86400 seconds' }).waitFor();
  await page.getByLabel('Failed sign-ins per account: in seconds').fill('600');
  await page.getByLabel('Failed sign-ins per account: at most').fill('3');
  await page.getByRole('button', { name: 'Save the settings' }).click();
  await page.getByRole('status').filter({ hasText: 'Saved: in force now' }).waitFor();
  await page.getByTestId('banner').filter({ hasText: BANNER }).waitFor();
  await shot(page, 'admin-settings');

  await alice.goto(`${node.url}/signup`);
  await alice.getByTestId('banner').filter({ hasText: BANNER }).waitFor();
  await alice.getByText('Registration is closed on this node for now.').waitFor();
  assert.equal(await alice.getByRole('button', { name: 'Create the account' }).isDisabled(), true);
  await shot(alice, 'signup-closed');
  const refused = await fetch(`${node.url}/api/v1/auth/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email: 'bob@btcr.test', password: 'bob has a long password' }),
  });
  assert.equal(refused.status, 403);
  assert.match((await refused.json()).error.message, /registration is closed/);

  // The change is in the audit log with what it was before.
  await page.getByRole('tab', { name: 'Audit log' }).click();
  await page.getByTestId('audit-row').filter({ hasText: 'admin.settings-updated' }).waitFor();
});
