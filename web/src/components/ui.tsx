// Small building blocks in one visual language: cards, tables, badges, links to chain
// objects, and the loading, empty and error states every page uses.
import type { ReactNode } from 'react';
import type { UseQueryResult } from '@tanstack/react-query';
import { Link } from 'react-router';
import { shortHash } from '../lib/format';

export function Card({ title, children, action }: { title?: ReactNode; children: ReactNode; action?: ReactNode }) {
  return (
    <section className="min-w-0 rounded-xl border border-zinc-200 bg-white p-4 shadow-sm dark:border-zinc-800 dark:bg-zinc-900">
      {(title || action) && (
        <div className="mb-3 flex items-center justify-between gap-2">
          <h2 className="text-sm font-semibold tracking-wide text-zinc-500 uppercase dark:text-zinc-400">{title}</h2>
          {action}
        </div>
      )}
      {children}
    </section>
  );
}

export function Stat({ label, value, hint }: { label: string; value: ReactNode; hint?: string }) {
  return (
    <Card>
      <div className="text-xs text-zinc-500 dark:text-zinc-400">{label}</div>
      <div className="mt-1 text-2xl font-semibold tabular-nums" data-testid={`stat-${label.toLowerCase().replace(/\W+/g, '-')}`}>
        {value}
      </div>
      {hint && <div className="mt-1 text-xs text-zinc-500">{hint}</div>}
    </Card>
  );
}

export function Table({ head, children }: { head: string[]; children: ReactNode }) {
  return (
    <div className="overflow-x-auto">
      <table className="w-full text-left text-sm">
        <thead className="text-xs text-zinc-500 uppercase dark:text-zinc-400">
          <tr>
            {head.map((h) => (
              <th key={h} className="px-2 py-2 font-medium whitespace-nowrap">
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody className="divide-y divide-zinc-100 dark:divide-zinc-800">{children}</tbody>
      </table>
    </div>
  );
}

export function Cell({ children, mono }: { children: ReactNode; mono?: boolean }) {
  return <td className={`px-2 py-2 whitespace-nowrap ${mono ? 'font-mono text-xs' : ''}`}>{children}</td>;
}

export function Badge({ tone, children }: { tone: 'green' | 'red' | 'amber' | 'zinc'; children: ReactNode }) {
  const tones = {
    green: 'bg-emerald-100 text-emerald-800 dark:bg-emerald-900/40 dark:text-emerald-300',
    red: 'bg-red-100 text-red-800 dark:bg-red-900/40 dark:text-red-300',
    amber: 'bg-amber-100 text-amber-800 dark:bg-amber-900/40 dark:text-amber-300',
    zinc: 'bg-zinc-100 text-zinc-700 dark:bg-zinc-800 dark:text-zinc-300',
  };
  return <span className={`rounded-full px-2 py-0.5 text-xs font-medium ${tones[tone]}`}>{children}</span>;
}

const linkClass = 'font-mono text-xs text-sky-700 hover:underline dark:text-sky-400';

export const BlockLink = ({ number }: { number: number }) => (
  <Link className={linkClass} to={`/blocks/${number}`}>
    {number}
  </Link>
);
export const TxLink = ({ hash, full }: { hash: string; full?: boolean }) => (
  <Link className={linkClass} to={`/tx/${hash}`}>
    {full ? hash : shortHash(hash)}
  </Link>
);
export const AddressLink = ({ address, full }: { address: string; full?: boolean }) => (
  <Link className={linkClass} to={`/address/${address}`}>
    {full ? address : shortHash(address)}
  </Link>
);

/** A line saying what was just done, read out politely. */
export function Done({ children, testId }: { children: ReactNode; testId?: string }) {
  return (
    <p role="status" className="text-sm text-emerald-700 dark:text-emerald-400" data-testid={testId}>
      {children}
    </p>
  );
}

export function Loading({ what }: { what: string }) {
  return <p className="animate-pulse py-6 text-sm text-zinc-500">Loading {what}…</p>;
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="py-6 text-sm text-zinc-500">{children}</p>;
}

export function ErrorNote({ error }: { error: unknown }) {
  const message = error instanceof Error ? error.message : String(error);
  return (
    <p role="alert" className="rounded-lg border border-red-200 bg-red-50 p-3 text-sm text-red-800 dark:border-red-900 dark:bg-red-950 dark:text-red-300">
      {message}
    </p>
  );
}

/** A label and a value, as rows of a detail page. */
export function Fields({ rows }: { rows: [string, ReactNode][] }) {
  return (
    <dl className="grid grid-cols-1 gap-x-6 gap-y-2 text-sm sm:grid-cols-[12rem_1fr]">
      {rows.map(([label, value]) => (
        <div key={label} className="contents">
          <dt className="text-zinc-500 dark:text-zinc-400">{label}</dt>
          <dd className="min-w-0 break-all">{value}</dd>
        </div>
      ))}
    </dl>
  );
}


/** What a query gives: loading while it runs, its error, `empty` when `isEmpty` says so, or
 * what `children` makes of the data. */
export function Loaded<T>({
  query,
  what,
  isEmpty,
  empty,
  children,
}: {
  query: UseQueryResult<T>;
  what: string;
  isEmpty?: (data: T) => boolean;
  empty?: ReactNode;
  children: (data: T) => ReactNode;
}) {
  if (query.isPending) return <Loading what={what} />;
  if (query.error) return <ErrorNote error={query.error} />;
  if (isEmpty?.(query.data)) return <Empty>{empty}</Empty>;
  return <>{children(query.data)}</>;
}
