import { type FormEvent, lazy, Suspense, useEffect, useState } from 'react';
import { NavLink, Route, Routes, useNavigate } from 'react-router';
import { api } from './lib/api';
import { useLiveHeads } from './lib/live';
// Each page is its own chunk: the chart library and the wallet's signing code load only
// where they are used.
const Dashboard = lazy(() => import('./pages/Dashboard'));
const Blocks = lazy(() => import('./pages/Blocks'));
const Block = lazy(() => import('./pages/Block'));
const Transaction = lazy(() => import('./pages/Transaction'));
const Address = lazy(() => import('./pages/Address'));
const Staking = lazy(() => import('./pages/Staking'));
const Wallet = lazy(() => import('./pages/Wallet'));
const Admin = lazy(() => import('./pages/Admin'));
import { loadWallet, type SavedWallet, WalletContext } from './wallet/store';
import { ErrorNote, Loading } from './components/ui';

type Theme = 'light' | 'dark';

function useTheme(): [Theme, () => void] {
  const [theme, setTheme] = useState<Theme>(() => {
    const saved = localStorage.getItem('btcr-theme');
    if (saved === 'light' || saved === 'dark') return saved;
    return window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  });
  useEffect(() => {
    document.documentElement.classList.toggle('dark', theme === 'dark');
    localStorage.setItem('btcr-theme', theme);
  }, [theme]);
  return [theme, () => setTheme((t) => (t === 'dark' ? 'light' : 'dark'))];
}

function Search() {
  const navigate = useNavigate();
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const found = await api.search(text.trim());
      const to = { block: `/blocks/${found.id}`, transaction: `/tx/${found.id}`, address: `/address/${found.id}` }[found.kind];
      setText('');
      navigate(to);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };
  return (
    <form onSubmit={submit} className="relative w-full sm:w-96" role="search">
      <input
        value={text}
        onChange={(e) => setText(e.target.value)}
        placeholder="Block, transaction hash or address"
        aria-label="Search"
        className="w-full rounded-lg border border-zinc-300 bg-white px-3 py-1.5 text-sm outline-none focus:border-sky-500 dark:border-zinc-700 dark:bg-zinc-900"
      />
      {error && <p className="absolute top-full z-10 mt-1 w-full rounded bg-red-600 px-2 py-1 text-xs text-white">{error}</p>}
    </form>
  );
}

const nav = [
  { to: '/', label: 'Dashboard' },
  { to: '/blocks', label: 'Blocks' },
  { to: '/wallet', label: 'Wallet' },
  { to: '/staking', label: 'Staking' },
  { to: '/admin', label: 'Admin' },
];

export default function App() {
  const [theme, toggleTheme] = useTheme();
  const live = useLiveHeads();
  const [saved, setSaved] = useState<SavedWallet | null>(loadWallet);
  const [key, setKey] = useState<`0x${string}` | null>(null);
  return (
    <WalletContext.Provider value={{ saved, key, setSaved, setKey }}>
    <div className="min-h-screen">
      <header className="border-b border-zinc-200 bg-white dark:border-zinc-800 dark:bg-zinc-900">
        <div className="mx-auto flex max-w-6xl flex-wrap items-center gap-3 px-4 py-3">
          <span className="text-lg font-bold tracking-tight">
            BTCR<span className="text-sky-600">.</span>
          </span>
          <nav className="flex flex-wrap gap-1 text-sm">
            {nav.map((n) => (
              <NavLink
                key={n.to}
                to={n.to}
                end={n.to === '/'}
                className={({ isActive }) =>
                  `rounded-md px-2.5 py-1 ${isActive ? 'bg-zinc-100 font-medium dark:bg-zinc-800' : 'text-zinc-600 hover:text-zinc-900 dark:text-zinc-400 dark:hover:text-zinc-100'}`
                }
              >
                {n.label}
              </NavLink>
            ))}
          </nav>
          <div className="ml-auto flex w-full items-center gap-3 sm:w-auto">
            <Search />
            <span
              title={live.connected ? 'live: updates with every block' : 'not connected to the node’s live feed'}
              className={`h-2.5 w-2.5 shrink-0 rounded-full ${live.connected ? 'bg-emerald-500' : 'bg-zinc-400'}`}
              data-testid="live"
            />
            <button
              onClick={toggleTheme}
              className="rounded-md border border-zinc-300 px-2 py-1 text-xs dark:border-zinc-700"
              aria-label="Switch theme"
            >
              {theme === 'dark' ? 'Light' : 'Dark'}
            </button>
          </div>
        </div>
      </header>
      <main className="mx-auto max-w-6xl px-4 py-6">
        <Suspense fallback={<Loading what="the page" />}>
        <Routes>
          <Route path="/" element={<Dashboard />} />
          <Route path="/blocks" element={<Blocks />} />
          <Route path="/blocks/:id" element={<Block />} />
          <Route path="/tx/:hash" element={<Transaction />} />
          <Route path="/address/:address" element={<Address />} />
          <Route path="/wallet" element={<Wallet />} />
          <Route path="/staking" element={<Staking />} />
          <Route path="/admin" element={<Admin />} />
          <Route path="*" element={<ErrorNote error="There is no such page." />} />
        </Routes>
        </Suspense>
      </main>
    </div>
    </WalletContext.Provider>
  );
}
