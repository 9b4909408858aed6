import { type FormEvent, type ReactNode, useEffect, useMemo, useState } from 'react';
import QRCode from 'qrcode';
import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router';
import { english, generateMnemonic, mnemonicToAccount, privateKeyToAccount } from 'viem/accounts';
import { isAddress, toHex } from 'viem';
import { api } from '../lib/api';
import { formatUnits, parseUnits } from '../lib/format';
import { Badge, BlockLink, Card, ErrorNote, Fields, TxLink } from '../components/ui';
import { clients, explain } from '../wallet/chain';
import { decryptKeystore, encryptKeystore, parseKeystore } from '../wallet/keystore';
import { forgetWallet, saveWallet, useWallet } from '../wallet/store';

const input =
  'w-full rounded-lg border border-zinc-300 bg-white px-3 py-2 text-sm outline-none focus:border-sky-500 dark:border-zinc-700 dark:bg-zinc-950';
const button =
  'rounded-lg bg-sky-600 px-4 py-2 text-sm font-medium text-white hover:bg-sky-700 disabled:cursor-not-allowed disabled:opacity-50';
const quiet = 'rounded-lg border border-zinc-300 px-3 py-2 text-sm dark:border-zinc-700';

function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <label className="block space-y-1 text-sm">
      <span className="text-zinc-600 dark:text-zinc-400">{label}</span>
      {children}
    </label>
  );
}

/** Two password fields; returns the password once both agree and it is long enough. */
function NewPassword({ onChange }: { onChange: (password: string | null) => void }) {
  const [a, setA] = useState('');
  const [b, setB] = useState('');
  const problem = a.length < 8 ? 'At least 8 characters.' : a !== b ? 'The two passwords differ.' : null;
  const update = (x: string, y: string) => {
    setA(x);
    setB(y);
    onChange(x.length >= 8 && x === y ? x : null);
  };
  return (
    <div className="space-y-2">
      <Field label="Password (it encrypts the key in this browser)">
        <input className={input} type="password" value={a} onChange={(e) => update(e.target.value, b)} name="password" />
      </Field>
      <Field label="Password again">
        <input className={input} type="password" value={b} onChange={(e) => update(a, e.target.value)} name="password2" />
      </Field>
      {(a || b) && problem && <p className="text-xs text-amber-700 dark:text-amber-400">{problem}</p>}
    </div>
  );
}

/** Keeps `key` encrypted under `password` and unlocks the wallet. */
async function store(key: `0x${string}`, password: string, setSaved: ReturnType<typeof useWallet>['setSaved'], setKey: ReturnType<typeof useWallet>['setKey']) {
  const address = privateKeyToAccount(key).address;
  const keystore = await encryptKeystore(key, password, address);
  const saved = { address, keystore };
  saveWallet(saved);
  setSaved(saved);
  setKey(key);
}

function Create() {
  const { setSaved, setKey } = useWallet();
  const phrase = useMemo(() => generateMnemonic(english), []);
  const words = phrase.split(' ');
  const asked = useMemo(() => [1, 5, 9].map((i) => i + Math.floor(Math.random() * 2)), []);
  const [step, setStep] = useState<'show' | 'confirm'>('show');
  const [answers, setAnswers] = useState(['', '', '']);
  const [password, setPassword] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const confirmed = asked.every((i, n) => answers[n].trim().toLowerCase() === words[i]);
  const finish = async (e: FormEvent) => {
    e.preventDefault();
    if (!password || !confirmed) return;
    setBusy(true);
    try {
      const key = toHex(mnemonicToAccount(phrase).getHdKey().privateKey!);
      await store(key, password, setSaved, setKey);
    } catch (err) {
      setError(explain(err));
      setBusy(false);
    }
  };
  if (step === 'show') {
    return (
      <div className="space-y-3">
        <p className="text-sm">
          Write these 12 words down, in order, and keep them offline. They are the only way to recover this wallet; they are
          shown once.
        </p>
        <ol className="grid grid-cols-2 gap-2 sm:grid-cols-4" data-testid="mnemonic">
          {words.map((w, i) => (
            <li key={i} className="rounded-lg border border-zinc-200 px-2 py-1 font-mono text-sm dark:border-zinc-700">
              <span className="mr-1 text-zinc-400">{i + 1}.</span>
              {w}
            </li>
          ))}
        </ol>
        <button className={button} onClick={() => setStep('confirm')}>
          I wrote them down
        </button>
      </div>
    );
  }
  return (
    <form className="space-y-3" onSubmit={finish}>
      <p className="text-sm">To be sure they are written down, type three of the words.</p>
      <div className="grid gap-2 sm:grid-cols-3">
        {asked.map((i, n) => (
          <Field key={i} label={`Word ${i + 1}`}>
            <input
              className={input}
              name={`word${i + 1}`}
              value={answers[n]}
              onChange={(e) => setAnswers(answers.map((a, m) => (m === n ? e.target.value : a)))}
            />
          </Field>
        ))}
      </div>
      <NewPassword onChange={setPassword} />
      {error && <ErrorNote error={error} />}
      <div className="flex gap-2">
        <button className={quiet} type="button" onClick={() => setStep('show')}>
          Show the words again
        </button>
        <button className={button} disabled={!confirmed || !password || busy}>
          {busy ? 'Encrypting…' : 'Create the wallet'}
        </button>
      </div>
    </form>
  );
}

function Import() {
  const { setSaved, setKey } = useWallet();
  const [kind, setKind] = useState<'mnemonic' | 'key' | 'keystore'>('mnemonic');
  const [secret, setSecret] = useState('');
  const [password, setPassword] = useState<string | null>(null);
  const [fileText, setFileText] = useState<string | null>(null);
  const [filePassword, setFilePassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      if (kind === 'keystore') {
        if (!fileText) throw new Error('Choose a keystore file.');
        const keystore = parseKeystore(fileText);
        const key = await decryptKeystore(keystore, filePassword);
        const saved = { address: privateKeyToAccount(key).address, keystore };
        saveWallet(saved);
        setSaved(saved);
        setKey(key);
        return;
      }
      if (!password) throw new Error('Choose a password.');
      let key: `0x${string}`;
      if (kind === 'mnemonic') {
        const phrase = secret.trim().toLowerCase().split(/\s+/).join(' ');
        try {
          key = toHex(mnemonicToAccount(phrase).getHdKey().privateKey!);
        } catch {
          throw new Error('This is not a valid recovery phrase (12 or 24 English words).');
        }
      } else {
        const hex = secret.trim().startsWith('0x') ? secret.trim() : `0x${secret.trim()}`;
        if (!/^0x[0-9a-fA-F]{64}$/.test(hex)) throw new Error('A private key is 64 hex digits.');
        key = hex as `0x${string}`;
        privateKeyToAccount(key);
      }
      await store(key, password, setSaved, setKey);
    } catch (err) {
      setError(explain(err));
      setBusy(false);
    }
  };
  return (
    <form className="space-y-3" onSubmit={submit}>
      <div className="flex gap-2 text-sm">
        {(['mnemonic', 'key', 'keystore'] as const).map((k) => (
          <button
            type="button"
            key={k}
            onClick={() => setKind(k)}
            className={`rounded-md px-2.5 py-1 ${kind === k ? 'bg-zinc-200 font-medium dark:bg-zinc-800' : ''}`}
          >
            {{ mnemonic: 'Recovery phrase', key: 'Private key', keystore: 'Keystore file' }[k]}
          </button>
        ))}
      </div>
      {kind === 'keystore' ? (
        <>
          <Field label="Keystore file (JSON, version 3)">
            <input className={input} type="file" accept=".json,application/json" onChange={async (e) => setFileText((await e.target.files?.[0]?.text()) ?? null)} />
          </Field>
          <Field label="The file's password (it stays the wallet's password)">
            <input className={input} type="password" value={filePassword} onChange={(e) => setFilePassword(e.target.value)} />
          </Field>
        </>
      ) : (
        <>
          <Field label={kind === 'mnemonic' ? 'Recovery phrase' : 'Private key (hex)'}>
            <textarea className={`${input} font-mono`} rows={kind === 'mnemonic' ? 3 : 2} value={secret} onChange={(e) => setSecret(e.target.value)} name="secret" />
          </Field>
          <NewPassword onChange={setPassword} />
        </>
      )}
      {error && <ErrorNote error={error} />}
      <button className={button} disabled={busy}>
        {busy ? 'Opening…' : 'Import'}
      </button>
    </form>
  );
}

function Unlock() {
  const { saved, setKey, setSaved } = useWallet();
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (!saved) return null;
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      setKey(await decryptKeystore(saved.keystore, password));
    } catch (err) {
      setError(explain(err));
    }
    setBusy(false);
  };
  return (
    <form className="space-y-3" onSubmit={submit}>
      <p className="text-sm">
        Wallet <span className="font-mono text-xs">{saved.address}</span> is locked.
      </p>
      <Field label="Password">
        <input className={input} type="password" value={password} onChange={(e) => setPassword(e.target.value)} name="unlock" autoFocus />
      </Field>
      {error && <ErrorNote error={error} />}
      <div className="flex gap-2">
        <button className={button} disabled={busy || !password}>
          {busy ? 'Unlocking…' : 'Unlock'}
        </button>
        <button
          type="button"
          className={quiet}
          onClick={() => {
            if (confirm('Remove this wallet from the browser? Without its recovery phrase or key it is gone.')) {
              forgetWallet();
              setSaved(null);
            }
          }}
        >
          Remove
        </button>
      </div>
    </form>
  );
}

type Sent = { hash: `0x${string}`; status: 'pending' | 'final' | 'failed'; block?: number };

function Send({ chainId, keyHex }: { chainId: number; keyHex: `0x${string}` }) {
  const account = useMemo(() => privateKeyToAccount(keyHex), [keyHex]);
  const c = useMemo(() => clients(chainId, account), [chainId, account]);
  const [to, setTo] = useState('');
  const [amount, setAmount] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [sent, setSent] = useState<Sent | null>(null);
  const [busy, setBusy] = useState(false);
  let value: bigint | null = null;
  let problem: string | null = null;
  try {
    if (amount) value = parseUnits(amount);
  } catch (e) {
    problem = (e as Error).message;
  }
  if (to && !isAddress(to)) problem = 'The recipient is not an address (0x and 40 hex digits).';
  const ready = !problem && value !== null && isAddress(to);
  const fee = useQuery({
    queryKey: ['fee', to, String(value)],
    enabled: ready,
    queryFn: async () => {
      const [gas, fees] = await Promise.all([
        c.public.estimateGas({ account, to: to as `0x${string}`, value: value! }),
        c.public.estimateFeesPerGas(),
      ]);
      return gas * fees.maxFeePerGas;
    },
  });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!ready || !c.wallet) return;
    setBusy(true);
    setError(null);
    try {
      const hash = await c.wallet.sendTransaction({ account, to: to as `0x${string}`, value: value!, chain: c.wallet.chain });
      setSent({ hash, status: 'pending' });
      const receipt = await c.public.waitForTransactionReceipt({ hash, timeout: 120_000 });
      // A block the node committed is final: its certificate holds the validators' votes.
      setSent({ hash, status: receipt.status === 'success' ? 'final' : 'failed', block: Number(receipt.blockNumber) });
      setAmount('');
    } catch (err) {
      setError(explain(err));
    }
    setBusy(false);
  };
  return (
    <form className="space-y-3" onSubmit={submit}>
      <Field label="To">
        <input className={`${input} font-mono`} value={to} onChange={(e) => setTo(e.target.value.trim())} name="to" placeholder="0x…" />
      </Field>
      <Field label="Amount (BTCR)">
        <input className={input} value={amount} onChange={(e) => setAmount(e.target.value)} name="amount" inputMode="decimal" placeholder="0.0" />
      </Field>
      {problem && <p className="text-xs text-amber-700 dark:text-amber-400">{problem}</p>}
      {ready && (
        <p className="text-xs text-zinc-600 dark:text-zinc-400" data-testid="fee">
          {fee.isPending ? 'Estimating the fee…' : fee.error ? explain(fee.error) : `Fee: at most ${formatUnits(fee.data!, 18, 8)} BTCR`}
        </p>
      )}
      {error && <ErrorNote error={error} />}
      <button className={button} disabled={!ready || busy}>
        {busy ? 'Sending…' : 'Send'}
      </button>
      {sent && (
        <p className="flex flex-wrap items-center gap-2 text-sm" data-testid="sent">
          <Badge tone={sent.status === 'final' ? 'green' : sent.status === 'failed' ? 'red' : 'amber'}>
            {sent.status === 'pending' ? 'pending' : sent.status === 'final' ? 'finalized' : 'failed'}
          </Badge>
          <TxLink hash={sent.hash} />
          {sent.block !== undefined && (
            <span>
              in block <BlockLink number={sent.block} />
            </span>
          )}
        </p>
      )}
    </form>
  );
}

function Unlocked({ keyHex }: { keyHex: `0x${string}` }) {
  const { saved, setKey } = useWallet();
  const address = saved!.address;
  const summary = useQuery({ queryKey: ['live', 'summary'], queryFn: api.summary });
  const account = useQuery({ queryKey: ['live', 'address', address], queryFn: () => api.address(address) });
  const [copied, setCopied] = useState(false);
  const [qr, setQr] = useState<string | null>(null);
  useEffect(() => {
    QRCode.toDataURL(address, { margin: 1, width: 288 }).then(setQr, () => setQr(null));
  }, [address]);
  return (
    <div className="grid gap-4 lg:grid-cols-2">
      <Card title="Account" action={<button className={quiet} onClick={() => setKey(null)}>Lock</button>}>
        <Fields
          rows={[
            ['Address', <span className="font-mono text-xs" data-testid="wallet-address">{address}</span>],
            ['Balance', <span data-testid="wallet-balance">{account.data ? `${formatUnits(account.data.balance, 18, 18)} BTCR` : '…'}</span>],
            ['History', <Link className="text-sky-700 hover:underline dark:text-sky-400" to={`/address/${address}`}>on the explorer</Link>],
          ]}
        />
        <div className="mt-3 space-y-2 rounded-lg bg-zinc-50 p-3 text-sm dark:bg-zinc-950">
          <p className="font-medium">Receive</p>
          {qr && <img src={qr} alt={`QR code of ${address}`} className="h-36 w-36 rounded bg-white p-1" data-testid="receive-qr" />}
          <p className="font-mono text-xs break-all">{address}</p>
          <button
            className={quiet}
            onClick={async () => {
              await navigator.clipboard?.writeText(address);
              setCopied(true);
            }}
          >
            {copied ? 'Copied' : 'Copy the address'}
          </button>
        </div>
      </Card>
      <Card title="Send BTCR">
        {summary.data ? <Send chainId={summary.data.chainId} keyHex={keyHex} /> : summary.error ? <ErrorNote error={summary.error} /> : null}
      </Card>
    </div>
  );
}

/** The non-custodial wallet: the key never leaves the browser, and is kept encrypted. */
export default function Wallet() {
  const { saved, key } = useWallet();
  const [mode, setMode] = useState<'create' | 'import'>('create');
  if (saved && key) return <Unlocked keyHex={key} />;
  if (saved) return <Card title="Wallet">{<Unlock />}</Card>;
  return (
    <Card
      title="Wallet"
      action={
        <div className="flex gap-1 text-sm">
          <button className={`rounded-md px-2.5 py-1 ${mode === 'create' ? 'bg-zinc-200 dark:bg-zinc-800' : ''}`} onClick={() => setMode('create')}>
            Create
          </button>
          <button className={`rounded-md px-2.5 py-1 ${mode === 'import' ? 'bg-zinc-200 dark:bg-zinc-800' : ''}`} onClick={() => setMode('import')}>
            Import
          </button>
        </div>
      }
    >
      <p className="mb-3 text-sm text-zinc-600 dark:text-zinc-400">
        Your key stays in this browser, encrypted with your password; transactions are signed here.
      </p>
      {mode === 'create' ? <Create /> : <Import />}
    </Card>
  );
}
