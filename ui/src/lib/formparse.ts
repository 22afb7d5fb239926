// Small parsers and checks the editor's forms share: durations, label
// sets, lists, numbers, and where an error message belongs.

export type FieldErrors = Record<string, string>;

// ---- durations and small parsers ----------------------------------------------

const UNITS: Record<string, number> = {
  '': 1000, s: 1000, sec: 1000, secs: 1000, ms: 1, m: 60_000, min: 60_000, mins: 60_000,
  h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000, y: 365 * 86_400_000,
};

/** Milliseconds of a config duration (`500ms`, `30s`, `5m`, `2h`, `7d`, bare seconds), or null. */
export function parseDuration(s: string): number | null {
  const m = /^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*$/.exec(s);
  if (!m) return null;
  const unit = UNITS[m[2] ?? ''];
  if (unit === undefined) return null;
  const ms = Number(m[1]) * unit;
  return Number.isFinite(ms) && ms <= 1e14 ? ms : null;
}

export const DURATION_HINT = 'is not a duration: write e.g. 500ms, 30s, 5m, 2h or 7d';

/** `a="1", b=2` → {a: '1', b: '2'}; an error message when a pair cannot be read. */
export function parseLabels(text: string): Record<string, string> | string {
  const out: Record<string, string> = {};
  const t = text.trim();
  if (!t) return out;
  const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,"]*?))\s*(?:,|$)/y;
  let i = 0;
  while (i < t.length) {
    re.lastIndex = i;
    const m = re.exec(t);
    if (!m || m[0].length === 0) return `cannot read labels near \`${t.slice(i, i + 20)}\`: write key="value", key2="value"`;
    out[m[1] as string] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '').trim();
    i = re.lastIndex;
  }
  return out;
}

export function formatLabelsText(labels: Record<string, string> | undefined): string {
  return Object.entries(labels ?? {})
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(', ');
}

/** `k="v"` pairs with the keys sorted, as a label set reads in pickers and legends. */
export function sortedLabelsText(labels: Record<string, string>): string {
  return formatLabelsText(Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

export function lines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

export function list(text: string): string[] {
  return text
    .split(',')
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

export function num(s: string): number | null {
  const t = s.trim();
  if (t === '') return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
}

export const opt = (s: string): string | null => (s.trim() === '' ? null : s.trim());

export function checkDuration(errors: FieldErrors, field: string, value: string, required = false): void {
  if (value.trim() === '') {
    if (required) errors[field] = 'is missing: e.g. 30s';
    return;
  }
  const ms = parseDuration(value);
  if (ms === null) errors[field] = `\`${value.trim()}\` ${DURATION_HINT}`;
}

/** The message for `field` (or a field under it), from a map of field paths. */
export function errorAt(errors: FieldErrors, field: string): string | null {
  if (errors[field] !== undefined) return errors[field] ?? null;
  for (const [k, v] of Object.entries(errors)) {
    if (k.startsWith(`${field}.`) || k.startsWith(`${field}[`)) return v;
  }
  return null;
}
