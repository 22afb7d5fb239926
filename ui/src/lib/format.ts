/** A time relative to `now` in the browser's language (Intl): `12 sec. ago`, `3 min. ago`, `yesterday`, `in 4 sec.`, `now`. */
export function formatRelative(ts: number, now: number, locale?: string): string {
  const diff = ts - now;
  const abs = Math.abs(diff);
  // whole units, rounded toward zero: 59.9 s is "59 seconds ago", not a minute
  const whole = (unit: number) => Math.trunc(diff / unit) || 0;
  const [value, unit]: [number, Intl.RelativeTimeFormatUnit] =
    abs < 1_000
      ? [0, 'second']
      : abs < 60_000
        ? [whole(1_000), 'second']
        : abs < 3_600_000
          ? [whole(60_000), 'minute']
          : abs < 86_400_000
            ? [whole(3_600_000), 'hour']
            : [whole(86_400_000), 'day'];
  return relativeFormat(locale).format(value, unit);
}

const relativeFormats = new Map<string, Intl.RelativeTimeFormat>();
/** The browser's (or `locale`'s) words for relative times: `12 sec. ago`, `in 4 sec.`, `now`, `yesterday`. */
function relativeFormat(locale?: string): Intl.RelativeTimeFormat {
  const key = locale ?? '';
  let f = relativeFormats.get(key);
  if (!f) {
    f = new Intl.RelativeTimeFormat(locale, { numeric: 'auto', style: 'short' });
    relativeFormats.set(key, f);
  }
  return f;
}

/** Local date and time with seconds, e.g. for `title` attributes. */
export function formatAbsolute(ts: number): string {
  const d = new Date(ts);
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/** Time of day only, for logs. */
export function formatClock(ts: number): string {
  return formatAbsolute(ts).slice(11);
}

/** A compact number: 3 significant digits, thousands separators for big ones (never an exponent). */
export function formatValue(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  if (a >= 100) return Math.round(v).toLocaleString('en-US');
  if (a >= 1) return String(Number(v.toFixed(2)));
  if (a === 0) return '0';
  return String(Number(v.toPrecision(3)));
}

export function formatRate(perSec: number): string {
  if (perSec >= 10) return `${Math.round(perSec)}/s`;
  if (perSec >= 0.1) return `${perSec.toFixed(1)}/s`;
  if (perSec > 0) return `${(perSec * 60).toFixed(1)}/min`;
  return '0/s';
}

export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${Math.round(ms / 1_000)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

/** The payload, pretty-printed when it is JSON, else as received. Text only. */
export function prettyPayload(data: string): string {
  const t = data.trimStart();
  if (t.startsWith('{') || t.startsWith('[')) {
    try {
      return JSON.stringify(JSON.parse(data), null, 2);
    } catch {
      return data;
    }
  }
  return data;
}

/** After a probed value: what is stored for it, when that is not the value itself. */
export function storedNote(s: { stored_as: string; stored: number | null }): string {
  if (s.stored_as === 'value') return '';
  const what =
    s.stored_as === 'rate'
      ? 'a counter, stored as its rate per second'
      : s.stored_as === 'quantile'
        ? 'a histogram, stored as the quantile of its new observations'
        : 'stored as the mean observation';
  return s.stored === null ? ` (${what}: from the next reading)` : ` (${what}: ${formatValue(s.stored)})`;
}
