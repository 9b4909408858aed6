// Amounts, hashes and times as people read them. Amounts are wei as decimal strings (the
// REST API's form) or bigints; BTCR has 18 decimals.

export const DECIMALS = 18;

/** `value` (wei) as a decimal amount with at most `maxFraction` fraction digits, trailing
 * zeros dropped, and thousands separated: 1234500000000000000000n → "1,234.5". */
export function formatUnits(value: bigint | string, decimals = DECIMALS, maxFraction = 6): string {
  const v = typeof value === 'string' ? BigInt(value) : value;
  const negative = v < 0n;
  const abs = negative ? -v : v;
  const base = 10n ** BigInt(decimals);
  const whole = abs / base;
  let fraction = (abs % base).toString().padStart(decimals, '0').slice(0, maxFraction);
  fraction = fraction.replace(/0+$/, '');
  const grouped = whole.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${negative ? '-' : ''}${grouped}${fraction ? `.${fraction}` : ''}`;
}

/** A decimal amount typed by a person ("1.5", "0.000000000000000001") in wei; throws with a
 * readable message when it is not one. */
export function parseUnits(input: string, decimals = DECIMALS): bigint {
  const text = input.trim().replace(/_/g, '');
  if (!/^\d*(\.\d*)?$/.test(text) || text === '' || text === '.') {
    throw new Error(`"${input}" is not an amount: use digits and at most one decimal point`);
  }
  const [whole, fraction = ''] = text.split('.');
  if (fraction.length > decimals) {
    throw new Error(`at most ${decimals} digits after the decimal point`);
  }
  return BigInt(whole || '0') * 10n ** BigInt(decimals) + BigInt(fraction.padEnd(decimals, '0') || '0');
}

/** 0x1234…abcd */
export function shortHash(hash: string, keep = 6): string {
  return hash.length <= 2 + keep * 2 ? hash : `${hash.slice(0, 2 + keep)}…${hash.slice(-keep)}`;
}

/** How long ago `timestampMs` was, relative to `now`: "3 s ago", "5 min ago", "2 h ago". */
export function ago(timestampMs: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - timestampMs) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** A validator's uptime as a percentage ("99.5%"), or "—" when it is not in the set. */
export function formatUptime(v: { uptime?: number | null; windowBlocks: number }): string {
  if (v.uptime == null || v.windowBlocks === 0) return '—';
  const percent = v.uptime * 100;
  return `${percent === 100 || percent === 0 ? percent.toFixed(0) : percent.toFixed(1)}%`;
}
