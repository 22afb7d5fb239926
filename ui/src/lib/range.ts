// Custom chart ranges: `<input type="datetime-local">` values (local time,
// no zone) to and from epoch milliseconds, and the checks on a range.

const pad = (n: number) => String(n).padStart(2, '0');

/** `2026-11-25T20:08` in local time, as a datetime-local input shows it. */
export function toLocalInput(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Epoch ms of a datetime-local value (local time), or null. */
export function fromLocalInput(s: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(s.trim());
  if (!m) return null;
  const [y, mo, d, h, mi, sec] = m.slice(1).map((x) => Number(x ?? 0)) as number[];
  const date = new Date(y ?? 0, (mo ?? 1) - 1, d ?? 1, h ?? 0, mi ?? 0, sec ?? 0);
  // rejects 2026-02-31 and the like
  if (date.getMonth() !== (mo ?? 1) - 1 || date.getDate() !== d) return null;
  return date.getTime();
}

export type RangeCheck = { ok: true; from: number; to: number } | { ok: false; field: 'from' | 'to'; message: string };

/** A custom range from two inputs: both readable, `from` before `to`, not wholly in the future. */
export function checkRange(fromText: string, toText: string, now: number): RangeCheck {
  const from = fromLocalInput(fromText);
  if (from === null) return { ok: false, field: 'from', message: 'pick a start date and time' };
  const to = fromLocalInput(toText);
  if (to === null) return { ok: false, field: 'to', message: 'pick an end date and time' };
  if (to <= from) return { ok: false, field: 'to', message: 'must be after the start' };
  if (from >= now) return { ok: false, field: 'from', message: 'is in the future: there is no data yet' };
  return { ok: true, from, to };
}

/** A zoom selection in seconds (uPlot's unit) as a range in ms, or null when too narrow to mean anything. */
export function zoomRange(minSec: number, maxSec: number, minWidthMs = 1_000): { from: number; to: number } | null {
  if (!Number.isFinite(minSec) || !Number.isFinite(maxSec)) return null;
  const from = Math.round(Math.min(minSec, maxSec) * 1000);
  const to = Math.round(Math.max(minSec, maxSec) * 1000);
  return to - from >= minWidthMs ? { from, to } : null;
}
