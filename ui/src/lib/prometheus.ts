// Reading Prometheus text exposition in the editor, to offer its metric
// names and label sets as metrics. Mirrors the engine's reader: a metric
// rule's `prometheus` is matched against the sample name exactly, and its
// `labels` must all be equal.

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromFamily {
  /** The sample name, as a metric rule's `prometheus` matches it. */
  name: string;
  /** From `# TYPE` (of the name itself or of its histogram/summary base), if given. */
  type: string | null;
  help: string | null;
  series: PromSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

function parseValue(s: string): number | null {
  switch (s) {
    case '+Inf':
    case 'Inf':
      return Infinity;
    case '-Inf':
      return -Infinity;
    case 'NaN':
      return NaN;
  }
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return null;
  return Number(s);
}

/** One sample line, or null when it is not one. */
export function parseSampleLine(line: string): PromSample | null {
  const t = line.trim();
  if (!t || t.startsWith('#')) return null;
  const m = NAME.exec(t);
  if (!m) return null;
  const name = m[0];
  let i = name.length;
  const labels: Record<string, string> = {};
  if (t[i] === '{') {
    i++;
    for (;;) {
      while (t[i] === ' ' || t[i] === ',') i++;
      if (t[i] === '}') {
        i++;
        break;
      }
      const lm = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(t.slice(i));
      if (!lm) return null;
      const key = lm[0];
      i += key.length;
      while (t[i] === ' ') i++;
      if (t[i] !== '=') return null;
      i++;
      while (t[i] === ' ') i++;
      if (t[i] !== '"') return null;
      i++;
      let val = '';
      for (;;) {
        const c = t[i];
        if (c === undefined) return null;
        if (c === '\\') {
          const n = t[i + 1];
          val += n === 'n' ? '\n' : (n ?? '');
          i += 2;
          continue;
        }
        i++;
        if (c === '"') break;
        val += c;
      }
      labels[key] = val;
    }
  }
  const rest = t.slice(i).trim().split(/\s+/);
  const value = parseValue(rest[0] ?? '');
  if (value === null) return null;
  return { name, labels, value };
}

/** Families in order of first appearance, each with its samples; unreadable lines are skipped. */
export function parsePrometheus(text: string, limit = 5_000): PromFamily[] {
  const types = new Map<string, string>();
  const helps = new Map<string, string>();
  const byName = new Map<string, PromFamily>();
  let n = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const meta = /^#\s*(TYPE|HELP)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(.*)$/.exec(line);
    if (meta) {
      if (meta[1] === 'TYPE') types.set(meta[2] as string, (meta[3] ?? '').trim());
      else helps.set(meta[2] as string, (meta[3] ?? '').trim());
      continue;
    }
    const s = parseSampleLine(line);
    if (!s) continue;
    if (++n > limit) break;
    let fam = byName.get(s.name);
    if (!fam) {
      const base = s.name.replace(/_(bucket|sum|count|total|created)$/, '');
      fam = {
        name: s.name,
        type: types.get(s.name) ?? types.get(base) ?? null,
        help: helps.get(s.name) ?? helps.get(base) ?? null,
        series: [],
      };
      byName.set(s.name, fam);
    }
    fam.series.push(s);
  }
  return [...byName.values()];
}

/** `a="1", b="x"`, for showing a label set. */
export function formatLabels(labels: Record<string, string>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(', ');
}

/** A series name for a picked family and label set: `node_load1`, `node_cpu_seconds_total_0_idle`. */
export function promMetricName(family: string, labels: Record<string, string> = {}): string {
  const parts = [family, ...Object.keys(labels).sort().map((k) => labels[k] ?? '')];
  const name = parts
    .join('_')
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_+|_+$/g, '');
  return name || 'value';
}

/**
 * What the engine stores for a family picked as it is (its rule in
 * `telltale_model::extract::prom`): a counter's rate, a value otherwise.
 */
export function storedAs(f: Pick<PromFamily, 'name' | 'type'>): string {
  const part = /_(sum|count|bucket)$/.test(f.name) && (f.type === 'histogram' || f.type === 'summary');
  return f.type === 'counter' || part ? ' · stored as a rate per second' : '';
}
