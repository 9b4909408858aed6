// The signed-in user's account: two-factor sign-in (TOTP with a QR code, recovery codes),
// the password, sessions, API keys, and the wallet's encrypted keystore kept as a backup.
import { type FormEvent, useEffect, useState } from 'react';
import { Link } from 'react-router';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import QRCode from 'qrcode';
import { accounts, type Scope } from '../lib/accounts';
import { useAction } from '../lib/action';
import { useSession } from '../lib/session';
import { parseKeystore } from '../wallet/keystore';
import { saveWallet, useWallet, type SavedWallet } from '../wallet/store';
import { Badge, Card, Cell, Done, Empty, ErrorNote, Fields, Loaded, Table } from '../components/ui';
import { Button, Field, Input } from '../components/forms';

const when = (ms: number | null | undefined) => (ms == null ? '—' : new Date(ms).toLocaleString());

function RecoveryCodeList({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  return (
    <div className="space-y-3 rounded-lg border border-amber-300 bg-amber-50 p-3 dark:border-amber-800 dark:bg-amber-950">
      <p className="text-sm">
        Recovery codes: each signs you in once if the authenticator is lost. They are shown only now; keep them somewhere
        safe.
      </p>
      <ol className="grid grid-cols-2 gap-1 font-mono text-sm sm:grid-cols-5" data-testid="recovery-codes">
        {codes.map((c) => (
          <li key={c}>{c}</li>
        ))}
      </ol>
      <Button onClick={onDone}>I saved them</Button>
    </div>
  );
}

function TwoFactor() {
  const { me, reload } = useSession();
  const [setup, setSetup] = useState<{ secret: string; uri: string } | null>(null);
  const [qr, setQr] = useState<string | null>(null);
  const [code, setCode] = useState('');
  const [codes, setCodes] = useState<string[] | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const action = useAction();
  const { busy, error } = action;
  useEffect(() => {
    if (setup) QRCode.toDataURL(setup.uri, { margin: 1, width: 200 }).then(setQr, () => setQr(null));
  }, [setup]);
  const run = (step: () => Promise<void>, e?: FormEvent) => {
    setDone(null);
    return action.run(step, e);
  };
  if (!me) return null;
  return (
    <Card title="Two-factor sign-in">
      <div className="space-y-3">
        {codes && <RecoveryCodeList codes={codes} onDone={() => setCodes(null)} />}
        {me.totp ? (
          <form className="max-w-md space-y-3" onSubmit={(e) => e.preventDefault()}>
            <p className="text-sm">
              <Badge tone="green">on</Badge> Signing in asks for a code from your authenticator app.{' '}
              <span data-testid="recovery-left">{me.recoveryCodesLeft} recovery codes left.</span>
            </p>
            <Field label="Code from the app" hint="Needed to turn it off or to get new recovery codes.">
              <Input mono inputMode="numeric" autoComplete="one-time-code" value={code} onChange={(e) => setCode(e.target.value)} />
            </Field>
            <div className="flex flex-wrap gap-2">
              <Button
                busy={busy}
                onClick={() =>
                  run(async () => {
                    setCodes((await accounts.recoveryCodes(code.trim())).recoveryCodes);
                    setCode('');
                    await reload();
                  })
                }
              >
                New recovery codes
              </Button>
              <Button
                variant="danger"
                busy={busy}
                onClick={() =>
                  run(async () => {
                    await accounts.totpDisable(code.trim());
                    setCode('');
                    setDone('Two-factor sign-in is off.');
                    await reload();
                  })
                }
              >
                Turn off
              </Button>
            </div>
          </form>
        ) : setup ? (
          <form
            className="space-y-3"
            onSubmit={(e) =>
              run(async () => {
                setCodes((await accounts.totpConfirm(code.trim())).recoveryCodes);
                setSetup(null);
                setCode('');
                setDone('Two-factor sign-in is on.');
                await reload();
              }, e)
            }
          >
            <p className="text-sm">Scan this with an authenticator app, or type the secret into it; then enter the code it shows.</p>
            <div className="flex flex-wrap items-center gap-4">
              {qr && <img src={qr} alt="QR code of the TOTP secret" className="h-40 w-40 rounded bg-white p-1" data-testid="totp-qr" />}
              <code className="font-mono text-sm break-all" data-testid="totp-secret">
                {setup.secret}
              </code>
            </div>
            <div className="max-w-md">
              <Field label="Code from the app">
                <Input mono inputMode="numeric" autoComplete="one-time-code" required value={code} onChange={(e) => setCode(e.target.value)} />
              </Field>
            </div>
            <Button type="submit" variant="primary" busy={busy} busyLabel="Checking…">
              Confirm
            </Button>
          </form>
        ) : (
          <div className="space-y-3">
            <p className="text-sm">
              <Badge tone="zinc">off</Badge> Add a code from an authenticator app to every sign-in.
            </p>
            <Button variant="primary" busy={busy} onClick={() => run(async () => setSetup(await accounts.totpBegin()))}>
              Turn on TOTP
            </Button>
          </div>
        )}
        {done && <Done>{done}</Done>}
        {error != null && <ErrorNote error={error} />}
      </div>
    </Card>
  );
}

function Password() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const queries = useQueryClient();
  const change = useMutation({
    mutationFn: () => accounts.changePassword(current, next),
    onSuccess: () => {
      setCurrent('');
      setNext('');
      setAgain('');
      queries.invalidateQueries({ queryKey: ['account', 'sessions'] });
    },
  });
  const mismatch = again !== '' && again !== next;
  return (
    <Card title="Password">
      <form
        className="max-w-md space-y-3"
        onSubmit={(e) => {
          e.preventDefault();
          change.mutate();
        }}
      >
        <Field label="Current password">
          <Input type="password" autoComplete="current-password" required value={current} onChange={(e) => setCurrent(e.target.value)} />
        </Field>
        <Field label="New password">
          <Input type="password" autoComplete="new-password" required value={next} onChange={(e) => setNext(e.target.value)} />
        </Field>
        <Field label="New password again" error={mismatch ? 'The two passwords differ.' : undefined}>
          <Input type="password" autoComplete="new-password" required value={again} onChange={(e) => setAgain(e.target.value)} />
        </Field>
        {change.error && <ErrorNote error={change.error} />}
        {change.isSuccess && <Done>Password changed; your other sessions ended.</Done>}
        <Button type="submit" busy={change.isPending} disabled={mismatch}>
          Change the password
        </Button>
      </form>
    </Card>
  );
}

function Sessions() {
  const { me } = useSession();
  const queries = useQueryClient();
  const sessions = useQuery({ queryKey: ['account', 'sessions'], queryFn: accounts.sessions });
  const end = useMutation({
    mutationFn: accounts.endSession,
    onSuccess: () => queries.invalidateQueries({ queryKey: ['account', 'sessions'] }),
  });
  return (
    <Card title="Sessions">
      <Loaded query={sessions} what="sessions">
        {(list) => (
          <Table head={['Started', 'Last used', 'From', 'Client', '']}>
            {list.map((s) => (
              <tr key={s.id} data-testid="session-row">
                <Cell>{when(s.created_ms)}</Cell>
                <Cell>{when(s.last_used_ms)}</Cell>
                <Cell mono>{s.ip ?? '—'}</Cell>
                <Cell>
                  <span className="block max-w-64 truncate" title={s.user_agent ?? undefined}>
                    {s.user_agent ?? '—'}
                  </span>
                </Cell>
                <Cell>
                  {s.id === me?.session ? (
                    <Badge tone="green">this one</Badge>
                  ) : (
                    <Button size="sm" onClick={() => end.mutate(s.id)} disabled={end.isPending}>
                      End
                    </Button>
                  )}
                </Cell>
              </tr>
            ))}
          </Table>
        )}
      </Loaded>
      {end.error && <ErrorNote error={end.error} />}
    </Card>
  );
}

function ApiKeys() {
  const queries = useQueryClient();
  const keys = useQuery({ queryKey: ['account', 'api-keys'], queryFn: accounts.apiKeys });
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState<Scope[]>(['read']);
  const [secret, setSecret] = useState<string | null>(null);
  const refreshKeys = () => queries.invalidateQueries({ queryKey: ['account', 'api-keys'] });
  const create = useMutation({
    mutationFn: () => accounts.createApiKey(name.trim(), scopes),
    onSuccess: (made) => {
      setSecret(made.secret);
      setName('');
      refreshKeys();
    },
  });
  const revoke = useMutation({ mutationFn: accounts.revokeApiKey, onSuccess: refreshKeys });
  const toggle = (scope: Scope) => setScopes((s) => (s.includes(scope) ? s.filter((x) => x !== scope) : [...s, scope]));
  return (
    <Card title="API keys">
      <div className="space-y-3">
        <p className="text-sm text-zinc-600 dark:text-zinc-400">
          A key acts for you from a script: <span className="font-mono text-xs">Authorization: Bearer btcr_ak_…</span>.{' '}
          <em>read</em> reads your keystore backup and watch list; <em>write</em> changes them. A key never signs in,
          changes the password or reaches the admin pages.
        </p>
        <Loaded query={keys} what="API keys" isEmpty={(list) => list.length === 0} empty="No API key yet.">
          {(list) => (
            <Table head={['Name', 'Key', 'Scopes', 'Created', 'Last used', '']}>
              {list.map((k) => (
                <tr key={k.id} data-testid="api-key-row">
                  <Cell>{k.name}</Cell>
                  <Cell mono>{k.prefix}…</Cell>
                  <Cell>{k.scopes.join(', ')}</Cell>
                  <Cell>{when(k.created_ms)}</Cell>
                  <Cell>{when(k.last_used_ms)}</Cell>
                  <Cell>
                    <Button size="sm" variant="danger" onClick={() => revoke.mutate(k.id)} disabled={revoke.isPending}>
                      Revoke
                    </Button>
                  </Cell>
                </tr>
              ))}
            </Table>
          )}
        </Loaded>
        {secret && (
          <div className="space-y-2 rounded-lg border border-amber-300 bg-amber-50 p-3 dark:border-amber-800 dark:bg-amber-950">
            <p className="text-sm">The key's secret, shown only now:</p>
            <code className="block font-mono text-sm break-all" data-testid="api-key-secret">
              {secret}
            </code>
            <Button size="sm" onClick={() => setSecret(null)}>
              I copied it
            </Button>
          </div>
        )}
        <form
          className="flex flex-wrap items-end gap-3"
          onSubmit={(e) => {
            e.preventDefault();
            create.mutate();
          }}
        >
          <div className="w-64">
            <Field label="Key name">
              <Input required maxLength={64} value={name} onChange={(e) => setName(e.target.value)} />
            </Field>
          </div>
          <fieldset className="flex gap-3 pb-2 text-sm">
            <legend className="sr-only">Scopes</legend>
            {(['read', 'write'] as Scope[]).map((scope) => (
              <label key={scope} className="flex items-center gap-1">
                <input type="checkbox" checked={scopes.includes(scope)} onChange={() => toggle(scope)} /> {scope}
              </label>
            ))}
          </fieldset>
          <Button type="submit" variant="primary" busy={create.isPending} disabled={scopes.length === 0}>
            Create key
          </Button>
        </form>
        {(create.error || revoke.error) && <ErrorNote error={create.error ?? revoke.error} />}
      </div>
    </Card>
  );
}

function KeystoreBackup() {
  const queries = useQueryClient();
  const { saved, setSaved } = useWallet();
  const backup = useQuery({ queryKey: ['account', 'keystore'], queryFn: accounts.keystore });
  const refreshBackup = () => queries.invalidateQueries({ queryKey: ['account', 'keystore'] });
  const put = useMutation({ mutationFn: () => accounts.putKeystore(saved?.keystore), onSuccess: refreshBackup });
  const remove = useMutation({ mutationFn: accounts.deleteKeystore, onSuccess: refreshBackup });
  const [restoreError, setRestoreError] = useState<unknown>(null);
  const restore = (address: string, keystore: unknown) => {
    try {
      const wallet: SavedWallet = { address: address as `0x${string}`, keystore: parseKeystore(JSON.stringify(keystore)) };
      saveWallet(wallet);
      setSaved(wallet);
      setRestoreError(null);
    } catch (e) {
      setRestoreError(e);
    }
  };
  return (
    <Card title="Keystore backup">
      <div className="space-y-3">
        <p className="text-sm text-zinc-600 dark:text-zinc-400">
          The node can keep your wallet's keystore, encrypted in this browser with the wallet's password. It never sees the
          key or the password: restoring it still needs the password.
        </p>
        <Loaded query={backup} what="the backup">
          {(kept) =>
            kept ? (
              <Fields
                rows={[
                  ['Address', <span className="font-mono text-xs" data-testid="backup-address">{kept.address}</span>],
                  ['Kept since', when(kept.updatedMs)],
                ]}
              />
            ) : (
              <Empty>No backup is kept.</Empty>
            )
          }
        </Loaded>
        <div className="flex flex-wrap gap-2">
          {saved ? (
            <Button variant="primary" busy={put.isPending} onClick={() => put.mutate()}>
              Back up this browser's wallet
            </Button>
          ) : (
            <p className="text-sm">
              <Link className="text-sky-700 hover:underline dark:text-sky-400" to="/wallet">
                Create or import a wallet
              </Link>{' '}
              to back it up.
            </p>
          )}
          {backup.data && !saved && (
            <Button onClick={() => backup.data && restore(backup.data.address, backup.data.keystore)}>
              Restore into this browser
            </Button>
          )}
          {backup.data && (
            <Button variant="danger" busy={remove.isPending} onClick={() => remove.mutate()}>
              Delete the backup
            </Button>
          )}
        </div>
        {put.isSuccess && <Done>The wallet's keystore is backed up.</Done>}
        {(put.error || remove.error || restoreError != null) && <ErrorNote error={put.error ?? remove.error ?? restoreError} />}
      </div>
    </Card>
  );
}

export default function Account() {
  const { me, ready, signOut } = useSession();
  if (!ready) return <Empty>Loading the account…</Empty>;
  if (!me) {
    return (
      <Card title="Account">
        <p className="text-sm">
          <Link className="text-sky-700 hover:underline dark:text-sky-400" to="/signin" state={{ from: '/account' }}>
            Sign in
          </Link>{' '}
          or{' '}
          <Link className="text-sky-700 hover:underline dark:text-sky-400" to="/signup">
            create an account
          </Link>
          .
        </p>
      </Card>
    );
  }
  return (
    <div className="space-y-4">
      <Card title="Account" action={<Button size="sm" onClick={signOut}>Sign out</Button>}>
        <Fields
          rows={[
            ['E-mail', <span data-testid="account-email">{me.email}</span>],
            ['Role', <Badge tone={me.role === 'admin' ? 'amber' : 'zinc'}>{me.role}</Badge>],
            ['Member since', when(me.created_ms)],
          ]}
        />
      </Card>
      <TwoFactor />
      <ApiKeys />
      <KeystoreBackup />
      <Sessions />
      <Password />
    </div>
  );
}
