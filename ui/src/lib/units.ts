// Values in their unit: `1.2 GiB`, `34 %`, `120 ms`, never `1.23e+9`. The
// same rules as the engine's notification text (crates/telltale-model/src/unit.rs),
// with the browser's number formatting (Intl) for digits and separators.
import type { Unit } from './bindings/Unit';

export type { Unit };

/** Every unit, in the order the editor offers them, with what each means. */
export const UNITS: { unit: Unit; label: string }[] = [
  { unit: 'percent', label: 'percent (0–100)' },
  { unit: 'ratio', label: 'ratio (0–1, shown as %)' },
  { unit: 'bytes', label: 'bytes' },
  { unit: 'bytes_per_second', label: 'bytes per second' },
  { unit: 'bits_per_second', label: 'bits per second' },
  { unit: 'seconds', label: 'seconds' },
  { unit: 'ms', label: 'milliseconds' },
  { unit: 'days', label: 'days' },
  { unit: 'per_second', label: 'per second' },
  { unit: 'celsius', label: 'degrees Celsius' },
];

const cache = new Map<number, Intl.NumberFormat>();
/** At most 3 significant digits, grouped (`1,234`, `97.5`, `0.0123`). */
function num(v: number): string {
  const a = Math.abs(v);
  // 3 significant digits, but whole numbers stay whole (1,234 not 1,230)
  const key = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
  let f = cache.get(key);
  if (!f) {
    f =
      key === 0
        ? new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 })
        : key === 3
          ? new Intl.NumberFormat(undefined, { maximumSignificantDigits: 3 })
          : new Intl.NumberFormat(undefined, { maximumFractionDigits: key });
    cache.set(key, f);
  }
  return f.format(v);
}

function scaled(v: number, step: number, names: readonly string[], suffix = ''): string {
  let x = v;
  let i = 0;
  while (Math.abs(x) >= step && i + 1 < names.length) {
    x /= step;
    i++;
  }
  return `${num(x)} ${names[i]}${suffix}`;
}

const BYTES = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
const BITS = ['bit', 'kbit', 'Mbit', 'Gbit', 'Tbit', 'Pbit'];

function duration(secs: number): string {
  const a = Math.abs(secs);
  if (a === 0) return '0 s';
  if (a < 1e-3) return `${num(secs * 1e6)} µs`;
  if (a < 1) return `${num(secs * 1e3)} ms`;
  if (a < 60) return `${num(secs)} s`;
  if (a < 3600) return `${num(secs / 60)} min`;
  if (a < 86_400) return `${num(secs / 3600)} h`;
  return `${num(secs / 86_400)} d`;
}

/** A value as it reads in its unit; a compact number without one. */
export function formatUnit(v: number | null | undefined, unit?: Unit | null): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  switch (unit) {
    case 'percent':
      return `${num(v)} %`;
    case 'ratio':
      return `${num(v * 100)} %`;
    case 'bytes':
      return scaled(v, 1024, BYTES);
    case 'bytes_per_second':
      return scaled(v, 1024, BYTES, '/s');
    case 'bits_per_second':
      return scaled(v, 1000, BITS, '/s');
    case 'seconds':
      return duration(v);
    case 'ms':
      return duration(v / 1000);
    case 'days':
      return duration(v * 86_400);
    case 'per_second':
      return `${num(v)} /s`;
    case 'celsius':
      return `${num(v)} °C`;
    default:
      return num(v);
  }
}

const formatters = new Map<Unit | null, (v: number) => string>();
/** A formatter for one unit, for charts: the same function each time, so a chart is not rebuilt for it. */
export function formatterFor(unit?: Unit | null): (v: number) => string {
  const key = unit ?? null;
  let f = formatters.get(key);
  if (!f) {
    f = (v: number) => formatUnit(v, key);
    formatters.set(key, f);
  }
  return f;
}

/** The metric name of a series key (`cpu{core="0"}` → `cpu`). */
export function metricOfKey(key: string): string {
  const i = key.indexOf('{');
  return i < 0 ? key : key.slice(0, i);
}
