/** "12 s ago", "3 min ago", "2 h ago", "5 d ago"; "in 4 s" for the future. */
export function formatRelative(ts: number, now: number): string {
  const diff = now - ts;
  const abs = Math.abs(diff);
  let text: string;
  if (abs < 1_000) return 'just now';
  if (abs < 60_000) text = `${Math.floor(abs / 1_000)} s`;
  else if (abs < 3_600_000) text = `${Math.floor(abs / 60_000)} min`;
  else if (abs < 86_400_000) text = `${Math.floor(abs / 3_600_000)} h`;
  else text = `${Math.floor(abs / 86_400_000)} d`;
  return diff >= 0 ? `${text} ago` : `in ${text}`;
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
