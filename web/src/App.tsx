import { type FormEvent, lazy, Suspense, useEffect, useId, useState } from 'react';
import { Link, NavLink, Route, Routes, useLocation, useNavigate } from 'react-router';
import { api, type SearchResult } from './lib/api';
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
const Account = lazy(() => import('./pages/Account'));
const Auth = lazy(() => import('./pages/Auth'));
const Notifications = lazy(() => import('./pages/Notifications'));
import { loadWallet, type SavedWallet, WalletContext } from './wallet/store';
import { ErrorNote, Loading } from './components/ui';
import { Button, Input } from './components/forms';
import { Announcer } from './components/announcer';
import { NotificationBell } from './components/bell';
import { SessionProvider, usePublicSettings, useSession } from './lib/session';

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

/** Where a search result is shown; the kinds are those the API documents. */
function searchRoute({ kind, id }: SearchResult): string {
  if (kind === 'block') return `/blocks/${id}`;
  if (kind === 'transaction') return `/tx/${id}`;
  if (kind === 'address') return `/address/${id}`;
  throw new Error(`The node found a ${kind}, which this portal cannot show.`);
}

function Search() {
  const navigate = useNavigate();
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const errorId = useId();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const found = await api.search(text.trim());
      const to = searchRoute(found);
      setText('');
      navigate(to);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };
  return (
    <form onSubmit={submit} className="relative w-full sm:w-96" role="search">
      <Input
        size="md"
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          setError(null);
        }}
        placeholder="Block, transaction hash or address"
        aria-label="Search"
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? errorId : undefined}
      />
      {error && (
        <p id={errorId} role="alert" className="absolute top-full z-10 mt-1 w-full rounded bg-red-600 px-2 py-1 text-xs text-white">
          {error}
        </p>
      )}
    </form>
  );
}

/** Who is signed in, or the way to sign in. */
function SessionLink() {
  const { me, ready } = useSession();
  const { pathname } = useLocation();
  if (!ready) return null;
  const cls = 'shrink-0 text-sm text-sky-700 hover:underline dark:text-sky-400';
  return me ? (
    <Link className={cls} to="/account" data-testid="session-link">
      {me.email}
    </Link>
  ) : (
    <Link className={cls} to="/signin" state={{ from: pathname === '/signin' || pathname === '/signup' ? '/account' : pathname }}>
      Sign in
    </Link>
  );
}

/** The administrators' message to everyone, when there is one. */
function Banner() {
  const settings = usePublicSettings();
  const banner = settings.data?.banner;
  if (!banner) return null;
  return (
    <div role="note" className="border-b border-amber-200 bg-amber-50 text-sm text-amber-900 dark:border-amber-900 dark:bg-amber-950 dark:text-amber-200" data-testid="banner">
      <p className="mx-auto max-w-6xl px-4 py-2">{banner}</p>
    </div>
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
    <SessionProvider>
    <Announcer>
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
            {/* The dot's colour says whether the live feed is up; its text says it to those who
                cannot see the colour, and as a status it is read out when it changes. */}
            <span
              role="status"
              title={live.connected ? 'Live: the page follows the chain' : 'Not connected to the node’s live feed'}
              className={`h-2.5 w-2.5 shrink-0 rounded-full ${live.connected ? 'bg-emerald-500' : 'bg-zinc-400'}`}
              data-testid="live"
            >
              <span className="sr-only">{live.connected ? 'Live: connected to the node' : 'Not connected to the node'}</span>
            </span>
            <NotificationBell />
            <SessionLink />
            <Button size="sm" onClick={toggleTheme} aria-label="Switch theme">
              {theme === 'dark' ? 'Light' : 'Dark'}
            </Button>
          </div>
        </div>
      </header>
      <Banner />
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
          <Route path="/account" element={<Account />} />
          <Route path="/notifications" element={<Notifications />} />
          <Route path="/signin" element={<Auth mode="signin" />} />
          <Route path="/signup" element={<Auth mode="signup" />} />
          <Route path="*" element={<ErrorNote error="There is no such page." />} />
        </Routes>
        </Suspense>
      </main>
    </div>
    </Announcer>
    </SessionProvider>
    </WalletContext.Provider>
  );
}
