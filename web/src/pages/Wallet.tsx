import { type FormEvent, useEffect, useMemo, useState } from 'react';
import QRCode from 'qrcode';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router';
import { english, generateMnemonic, mnemonicToAccount, privateKeyToAccount } from 'viem/accounts';
import { encodeFunctionData, erc20Abi, isAddress, toHex } from 'viem';
import { api } from '../lib/api';
import { formatUnits, parseUnits } from '../lib/format';
import { AddressLink, Badge, BlockLink, Card, ErrorNote, Fields, TxLink } from '../components/ui';
import { Dialog, Tabs } from '../components/controls';
import { Button, Field, Input, Select, Textarea } from '../components/forms';
import { useAnnounce } from '../components/announcer';
import { HistoryCard } from '../components/tables';
import { clients, explain } from '../wallet/chain';
import { decryptKeystore, encryptKeystore, parseKeystore } from '../wallet/keystore';
import { previewFee } from '../wallet/fees';
import { forgetWallet, saveWallet, useWallet } from '../wallet/store';
import { loadTokens, readToken, saveTokens, type Token, withToken } from '../wallet/tokens';

/** Two password fields; returns the password once both agree and it is long enough. */
function NewPassword({ onChange }: { onChange: (password: string | null) => void }) {
  const [a, setA] = useState('');
  const [b, setB] = useState('');
  // Said once either field has text: the length under the first, a mismatch under the second.
  const tooShort = (a || b) && a.length < 8 ? 'At least 8 characters.' : undefined;
  const differ = !tooShort && a !== b ? 'The two passwords differ.' : undefined;
  const update = (x: string, y: string) => {
    setA(x);
    setB(y);
    onChange(x.length >= 8 && x === y ? x : null);
  };
  return (
    <div className="space-y-2">
      <Field label="Password (it encrypts the key in this browser)" error={tooShort}>
        <Input type="password" value={a} onChange={(e) => update(e.target.value, b)} name="password" />
      </Field>
      <Field label="Password again" error={differ}>
        <Input type="password" value={b} onChange={(e) => update(a, e.target.value)} name="password2" />
      </Field>
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
        <Button variant="primary" onClick={() => setStep('confirm')}>
          I wrote them down
        </Button>
      </div>
    );
  }
  return (
    <form className="space-y-3" onSubmit={finish}>
      <p className="text-sm">To be sure they are written down, type three of the words.</p>
      <div className="grid gap-2 sm:grid-cols-3">
        {asked.map((i, n) => (
          <Field key={i} label={`Word ${i + 1}`}>
            <Input
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
        <Button onClick={() => setStep('show')}>Show the words again</Button>
        <Button type="submit" variant="primary" disabled={!confirmed || !password} busy={busy} busyLabel="Encrypting…">
          Create the wallet
        </Button>
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
  const secretFields = (
    <div className="space-y-3">
      <Field label={kind === 'mnemonic' ? 'Recovery phrase' : 'Private key (hex)'}>
        <Textarea mono rows={kind === 'mnemonic' ? 3 : 2} value={secret} onChange={(e) => setSecret(e.target.value)} name="secret" />
      </Field>
      <NewPassword onChange={setPassword} />
    </div>
  );
  return (
    <form className="space-y-3" onSubmit={submit}>
      <Tabs
        label="What to import"
        value={kind}
        onChange={(k) => {
          setKind(k as typeof kind);
          setError(null);
        }}
        tabs={[
          ['mnemonic', 'Recovery phrase'],
          ['key', 'Private key'],
          ['keystore', 'Keystore file'],
        ]}
      >
        {{
          mnemonic: secretFields,
          key: secretFields,
          keystore: (
            <>
              <Field label="Keystore file (JSON, version 3)">
                <Input type="file" accept=".json,application/json" onChange={async (e) => setFileText((await e.target.files?.[0]?.text()) ?? null)} />
              </Field>
              <Field label="The file's password (it stays the wallet's password)">
                <Input type="password" value={filePassword} onChange={(e) => setFilePassword(e.target.value)} />
              </Field>
            </>
          ),
        }}
      </Tabs>
      {error && <ErrorNote error={error} />}
      <Button type="submit" variant="primary" busy={busy} busyLabel="Opening…">
        Import
      </Button>
    </form>
  );
}

function Unlock() {
  const { saved, setKey, setSaved } = useWallet();
  const [removing, setRemoving] = useState(false);
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
        <Input type="password" value={password} onChange={(e) => setPassword(e.target.value)} name="unlock" autoFocus />
      </Field>
      {error && <ErrorNote error={error} />}
      <div className="flex gap-2">
        <Button type="submit" variant="primary" disabled={!password} busy={busy} busyLabel="Unlocking…">
          Unlock
        </Button>
        <Button onClick={() => setRemoving(true)}>Remove</Button>
      </div>
      <Dialog
        open={removing}
        onOpenChange={setRemoving}
        title="Remove this wallet from the browser?"
        description="Its encrypted key is deleted from this browser. Without the recovery phrase, the private key or a keystore file, the funds cannot be reached again."
      >
        <div className="flex justify-end gap-2">
          <Button onClick={() => setRemoving(false)}>Keep it</Button>
          <Button
            variant="danger"
            onClick={() => {
              forgetWallet();
              setSaved(null);
            }}
          >
            Remove
          </Button>
        </div>
      </Dialog>
    </form>
  );
}

type Sent = { hash: `0x${string}`; status: 'pending' | 'included' | 'final' | 'failed'; block?: number };

const statusLabel = { pending: 'pending', included: 'included', final: 'finalized', failed: 'failed' } as const;
const statusTone = { pending: 'amber', included: 'amber', final: 'green', failed: 'red' } as const;

/** The transfer's status as a sentence, for screen readers. */
function spokenStatus(s: Sent, symbol: string): string {
  const where = s.block === undefined ? '' : ` in block ${s.block}`;
  return s.status === 'pending' ? `${symbol} transfer sent, pending.` : `${symbol} transfer ${statusLabel[s.status]}${where}.`;
}

/** Waits for a sent transaction: pending in the pool, included in a block, then finalized
 * once the block's commit certificate is stored (on BTCR the two come together). */
async function follow(c: ReturnType<typeof clients>, hash: `0x${string}`, update: (s: Sent) => void) {
  update({ hash, status: 'pending' });
  const receipt = await c.public.waitForTransactionReceipt({ hash, timeout: 120_000 });
  const block = Number(receipt.blockNumber);
  if (receipt.status !== 'success') {
    update({ hash, status: 'failed', block });
    return;
  }
  update({ hash, status: 'included', block });
  for (let i = 0; i < 60; i++) {
    if ((await api.block(String(block))).certificate) {
      update({ hash, status: 'final', block });
      return;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** An asset the wallet can send: BTCR, or a token with known decimals. */
type Asset = { kind: 'btcr' } | { kind: 'token'; token: Token; balance: bigint };

function Send({ chainId, keyHex, assets, btcrBalance }: { chainId: number; keyHex: `0x${string}`; assets: Asset[]; btcrBalance: bigint | undefined }) {
  const account = useMemo(() => privateKeyToAccount(keyHex), [keyHex]);
  const c = useMemo(() => clients(chainId, account), [chainId, account]);
  const client = useQueryClient();
  const announce = useAnnounce();
  const [assetId, setAssetId] = useState('btcr');
  const [to, setTo] = useState('');
  const [amount, setAmount] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [sent, setSent] = useState<Sent | null>(null);
  const [busy, setBusy] = useState(false);
  const asset = assets.find((a) => (a.kind === 'btcr' ? 'btcr' : a.token.address) === assetId) ?? assets[0];
  const symbol = asset.kind === 'btcr' ? 'BTCR' : asset.token.symbol;
  const decimals = asset.kind === 'btcr' ? 18 : asset.token.decimals;
  let value: bigint | null = null;
  let amountProblem: string | undefined;
  try {
    if (amount) value = parseUnits(amount, decimals);
  } catch (e) {
    amountProblem = (e as Error).message;
  }
  const toProblem = to && !isAddress(to) ? 'The recipient is not an address (0x and 40 hex digits).' : undefined;
  const ready = !amountProblem && value !== null && isAddress(to);
  // The transaction as it will be signed: BTCR to the recipient, or the token's transfer.
  const request = () =>
    asset.kind === 'btcr'
      ? { to: to as `0x${string}`, value: value!, data: undefined }
      : {
          to: asset.token.address,
          value: 0n,
          data: encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [to as `0x${string}`, value!] }),
        };
  const fee = useQuery({
    queryKey: ['fee', assetId, to, String(value), String(btcrBalance)],
    enabled: ready && btcrBalance !== undefined,
    queryFn: async () => {
      const r = request();
      const token = asset.kind === 'token' ? { amount: value!, balance: asset.balance, symbol, decimals } : undefined;
      // More tokens than held would only make the estimate revert: say so first.
      if (token && token.amount > token.balance) {
        return previewFee({ gas: 0n, maxFeePerGas: 0n, value: 0n, balance: btcrBalance!, token });
      }
      const [gas, fees] = await Promise.all([c.public.estimateGas({ account, ...r }), c.public.estimateFeesPerGas()]);
      return previewFee({ gas, maxFeePerGas: fees.maxFeePerGas, value: r.value, balance: btcrBalance!, token });
    },
  });
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!ready || !c.wallet || fee.data?.problem) return;
    setBusy(true);
    setError(null);
    try {
      const hash = await c.wallet.sendTransaction({ account, ...request(), chain: c.wallet.chain });
      await follow(c, hash, (s) => {
        setSent(s);
        announce(spokenStatus(s, symbol));
      });
      setAmount('');
      await client.invalidateQueries({ queryKey: ['live'] });
    } catch (err) {
      setError(explain(err));
    }
    setBusy(false);
  };
  return (
    <form className="space-y-3" onSubmit={submit}>
      <Field label="Asset">
        <Select value={assetId} onChange={(e) => setAssetId(e.target.value)} name="asset">
          {assets.map((a) =>
            a.kind === 'btcr' ? (
              <option key="btcr" value="btcr">
                BTCR
              </option>
            ) : (
              <option key={a.token.address} value={a.token.address}>
                {a.token.symbol} ({a.token.name})
              </option>
            ),
          )}
        </Select>
      </Field>
      <Field label="To" error={toProblem}>
        <Input mono value={to} onChange={(e) => setTo(e.target.value.trim())} name="to" placeholder="0x…" />
      </Field>
      <Field label={`Amount (${symbol})`} error={amountProblem}>
        <Input value={amount} onChange={(e) => setAmount(e.target.value)} name="amount" inputMode="decimal" placeholder="0.0" />
      </Field>
      {ready && (
        // A status, so that the estimate and what it finds (not enough BTCR) are read out.
        <p role="status" className="text-xs text-zinc-600 dark:text-zinc-400" data-testid="fee">
          {fee.isPending
            ? 'Estimating the fee…'
            : fee.error
              ? explain(fee.error)
              : fee.data!.problem ?? `Fee: at most ${formatUnits(fee.data!.maxFee, 18, 8)} BTCR`}
        </p>
      )}
      {error && <ErrorNote error={error} />}
      <Button type="submit" variant="primary" disabled={!ready || !!fee.data?.problem} busy={busy} busyLabel="Sending…">
        Send {symbol}
      </Button>
      {sent && (
        <p className="flex flex-wrap items-center gap-2 text-sm" data-testid="sent">
          <Badge tone={statusTone[sent.status]}>{statusLabel[sent.status]}</Badge>
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

/** Adds a token by its contract address, read from the chain. */
function AddToken({ chainId, onAdded }: { chainId: number; onAdded: (t: Token) => void }) {
  const c = useMemo(() => clients(chainId), [chainId]);
  const [open, setOpen] = useState(false);
  const [text, setText] = useState('');
  const [found, setFound] = useState<Token | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const look = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setFound(null);
    try {
      setFound(await readToken(c.public, text));
    } catch (err) {
      setError(err instanceof Error && !('shortMessage' in err) ? err.message : explain(err));
    }
    setBusy(false);
  };
  return (
    <>
      <Button onClick={() => setOpen(true)}>Add a token</Button>
      <Dialog open={open} onOpenChange={setOpen} title="Add a token" description="Paste the token contract's address; its name, symbol and decimals are read from the chain.">
        <form className="space-y-3" onSubmit={look}>
          <Field label="Token contract">
            <Input mono value={text} onChange={(e) => setText(e.target.value)} name="token" placeholder="0x…" />
          </Field>
          {/* The page's announcer is hidden from screen readers while the dialog is open, so
              the dialog says what it found itself. */}
          <p role="status" className="sr-only">
            {found ? `Found ${found.name} (${found.symbol}), ${found.decimals} decimals.` : ''}
          </p>
          {error && <ErrorNote error={error} />}
          {found && (
            <p className="text-sm" data-testid="token-found">
              {found.name} ({found.symbol}), {found.decimals} decimals
            </p>
          )}
          <div className="flex justify-end gap-2">
            <Button type="submit" disabled={!text} busy={busy} busyLabel="Reading…">
              Look it up
            </Button>
            <Button
              variant="primary"
              disabled={!found}
              onClick={() => {
                onAdded(found!);
                setOpen(false);
                setText('');
                setFound(null);
              }}
            >
              Add
            </Button>
          </div>
        </form>
      </Dialog>
    </>
  );
}

function Unlocked({ keyHex }: { keyHex: `0x${string}` }) {
  const { saved, setKey } = useWallet();
  const address = saved!.address;
  const summary = useQuery({ queryKey: ['live', 'summary'], queryFn: api.summary });
  const account = useQuery({ queryKey: ['live', 'address', address], queryFn: () => api.address(address) });
  const history = useQuery({ queryKey: ['live', 'address-txs', address, 'wallet'], queryFn: () => api.addressTransactions(address, undefined, 10) });
  const chainId = summary.data?.chainId;
  const [added, setAdded] = useState<Token[]>([]);
  useEffect(() => {
    if (chainId) setAdded(loadTokens(chainId));
  }, [chainId]);
  // Balances of the added tokens, read from their contracts (zero ones too).
  const addedBalances = useQuery({
    queryKey: ['live', 'token-balances', address, chainId, added.map((t) => t.address).join()],
    enabled: !!chainId && added.length > 0,
    queryFn: async () => {
      const c = clients(chainId!);
      return Promise.all(added.map((t) => c.public.readContract({ address: t.address, abi: erc20Abi, functionName: 'balanceOf', args: [address] })));
    },
  });
  // The added tokens, then the others the node's index says this address holds.
  const held: Asset[] = added.map((token, i) => ({ kind: 'token', token, balance: addedBalances.data?.[i] ?? 0n }));
  for (const t of account.data?.tokens ?? []) {
    if (t.symbol == null || t.decimals == null) continue;
    if (added.some((a) => a.address.toLowerCase() === t.token.toLowerCase())) continue;
    const token = { address: t.token as `0x${string}`, name: t.name ?? t.symbol, symbol: t.symbol, decimals: t.decimals };
    held.push({ kind: 'token', token, balance: BigInt(t.balance) });
  }
  const [copied, setCopied] = useState(false);
  const announce = useAnnounce();
  const [qr, setQr] = useState<string | null>(null);
  useEffect(() => {
    QRCode.toDataURL(address, { margin: 1, width: 288 }).then(setQr, () => setQr(null));
  }, [address]);
  const btcrBalance = account.data ? BigInt(account.data.balance) : undefined;
  return (
    <div className="grid gap-4 lg:grid-cols-2">
      <Card title="Account" action={<Button onClick={() => setKey(null)}>Lock</Button>}>
        <Fields
          rows={[
            ['Address', <span className="font-mono text-xs" data-testid="wallet-address">{address}</span>],
            ['Balance', <span data-testid="wallet-balance">{btcrBalance !== undefined ? `${formatUnits(btcrBalance, 18, 18)} BTCR` : '…'}</span>],
          ]}
        />
        <div className="mt-3 space-y-2">
          <div className="flex items-center justify-between">
            <p className="text-sm font-medium">Tokens</p>
            {chainId && (
              <AddToken
                chainId={chainId}
                onAdded={(t) => {
                  const next = withToken(added, t);
                  saveTokens(chainId, next);
                  setAdded(next);
                }}
              />
            )}
          </div>
          {held.length === 0 ? (
            <p className="text-sm text-zinc-500">No tokens yet. Add one by its contract address; tokens received show here by themselves.</p>
          ) : (
            <ul className="divide-y divide-zinc-100 text-sm dark:divide-zinc-800" data-testid="wallet-tokens">
              {held.map(
                (a) =>
                  a.kind === 'token' && (
                    <li key={a.token.address} className="flex items-center justify-between gap-2 py-1.5">
                      <span>
                        <span className="font-medium">{a.token.symbol}</span> <AddressLink address={a.token.address} />
                      </span>
                      <span className="tabular-nums" data-testid={`token-balance-${a.token.symbol}`}>
                        {formatUnits(a.balance, a.token.decimals, a.token.decimals)} {a.token.symbol}
                      </span>
                    </li>
                  ),
              )}
            </ul>
          )}
        </div>
        <div className="mt-3 space-y-2 rounded-lg bg-zinc-50 p-3 text-sm dark:bg-zinc-950">
          <p className="font-medium">Receive</p>
          {qr && <img src={qr} alt={`QR code of ${address}`} className="h-36 w-36 rounded bg-white p-1" data-testid="receive-qr" />}
          <p className="font-mono text-xs break-all">{address}</p>
          <Button
            onClick={async () => {
              await navigator.clipboard?.writeText(address);
              setCopied(true);
              announce('The address is copied to the clipboard.');
            }}
          >
            {copied ? 'Copied' : 'Copy the address'}
          </Button>
        </div>
      </Card>
      <Card title="Send">
        {chainId ? (
          <Send chainId={chainId} keyHex={keyHex} assets={[{ kind: 'btcr' }, ...held]} btcrBalance={btcrBalance} />
        ) : summary.error ? (
          <ErrorNote error={summary.error} />
        ) : null}
      </Card>
      <div className="lg:col-span-2">
        <HistoryCard
          history={history}
          address={address}
          empty="No transactions yet. Fund the wallet by sending BTCR to its address."
          action={
            <Link className="text-sm text-sky-700 hover:underline dark:text-sky-400" to={`/address/${address}`}>
              All on the explorer →
            </Link>
          }
        />
      </div>
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
    <Card title="Wallet">
      <p className="mb-3 text-sm text-zinc-600 dark:text-zinc-400">
        Your key stays in this browser, encrypted with your password; transactions are signed here.
      </p>
      <Tabs
        label="Create or import a wallet"
        value={mode}
        onChange={(m) => setMode(m as typeof mode)}
        tabs={[
          ['create', 'Create'],
          ['import', 'Import'],
        ]}
      >
        {{ create: <Create />, import: <Import /> }}
      </Tabs>
    </Card>
  );
}
