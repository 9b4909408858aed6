// Sign up and sign in (with the TOTP step when the account has it on).
import { type FormEvent, useState } from 'react';
import { Link, useLocation, useNavigate } from 'react-router';
import { accounts } from '../lib/accounts';
import { useAction } from '../lib/action';
import { usePublicSettings, useSession } from '../lib/session';
import { Card, ErrorNote } from '../components/ui';
import { Button, Field, Input } from '../components/forms';

const linkClass = 'text-sky-700 hover:underline dark:text-sky-400';

function SignUp() {
  const navigate = useNavigate();
  const { reload } = useSession();
  const settings = usePublicSettings();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const { busy, error, run } = useAction();
  const min = settings.data?.minPasswordChars ?? 12;
  const closed = settings.data?.registrationOpen === false;
  const mismatch = again !== '' && again !== password;
  const submit = (e: FormEvent) =>
    run(async () => {
      await accounts.register(email.trim(), password);
      await accounts.login(email.trim(), password);
      await reload();
      navigate('/account');
    }, e);
  return (
    <Card title="Create an account">
      <form onSubmit={submit} className="max-w-md space-y-3">
        {closed && (
          <p role="status" className="rounded-lg bg-amber-50 p-3 text-sm text-amber-900 dark:bg-amber-950 dark:text-amber-200">
            Registration is closed on this node for now.
          </p>
        )}
        <Field label="E-mail">
          <Input type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </Field>
        <Field label="Password" hint={`At least ${min} characters.`}>
          <Input type="password" autoComplete="new-password" required minLength={min} value={password} onChange={(e) => setPassword(e.target.value)} />
        </Field>
        <Field label="Password again" error={mismatch ? 'The two passwords differ.' : undefined}>
          <Input type="password" autoComplete="new-password" required value={again} onChange={(e) => setAgain(e.target.value)} />
        </Field>
        {error != null && <ErrorNote error={error} />}
        <Button type="submit" variant="primary" busy={busy} busyLabel="Creating…" disabled={mismatch || closed || password.length < min}>
          Create the account
        </Button>
        <p className="text-sm">
          Have one?{' '}
          <Link className={linkClass} to="/signin">
            Sign in
          </Link>
        </p>
      </form>
    </Card>
  );
}

function SignIn() {
  const navigate = useNavigate();
  const location = useLocation();
  const { reload } = useSession();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [challenge, setChallenge] = useState<string | null>(null);
  const [code, setCode] = useState('');
  const [recovery, setRecovery] = useState(false);
  const { busy, error, run } = useAction();
  const from = (location.state as { from?: string } | null)?.from ?? '/account';
  const done = async () => {
    await reload();
    navigate(from);
  };
  if (challenge !== null) {
    return (
      <Card title="Two-factor sign-in">
        <form
          onSubmit={(e) =>
            run(async () => {
              await accounts.loginTotp(challenge, code.trim());
              await done();
            }, e)
          }
          className="max-w-md space-y-3"
        >
          <Field
            label={recovery ? 'Recovery code' : 'Code from your authenticator app'}
            hint={recovery ? 'Each recovery code works once.' : 'Six digits; a new one every 30 seconds.'}
          >
            <Input
              autoComplete="one-time-code"
              inputMode={recovery ? 'text' : 'numeric'}
              mono
              required
              autoFocus
              value={code}
              onChange={(e) => setCode(e.target.value)}
            />
          </Field>
          {error != null && <ErrorNote error={error} />}
          <div className="flex flex-wrap gap-2">
            <Button type="submit" variant="primary" busy={busy} busyLabel="Checking…">
              Sign in
            </Button>
            <Button variant="ghost" onClick={() => setRecovery((r) => !r)}>
              {recovery ? 'Use a code from the app' : 'Use a recovery code'}
            </Button>
          </div>
        </form>
      </Card>
    );
  }
  return (
    <Card title="Sign in">
      <form
        onSubmit={(e) =>
          run(async () => {
            const step = await accounts.login(email.trim(), password);
            if (step) setChallenge(step.challenge);
            else await done();
          }, e)
        }
        className="max-w-md space-y-3"
      >
        <Field label="E-mail">
          <Input type="email" autoComplete="username" required value={email} onChange={(e) => setEmail(e.target.value)} />
        </Field>
        <Field label="Password">
          <Input type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
        </Field>
        {error != null && <ErrorNote error={error} />}
        <Button type="submit" variant="primary" busy={busy} busyLabel="Signing in…">
          Sign in
        </Button>
        <p className="text-sm">
          No account?{' '}
          <Link className={linkClass} to="/signup">
            Create one
          </Link>
        </p>
      </form>
    </Card>
  );
}

export default function Auth({ mode }: { mode: 'signin' | 'signup' }) {
  return mode === 'signup' ? <SignUp /> : <SignIn />;
}
