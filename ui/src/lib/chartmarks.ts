// What a feed's chart marks besides its line: the alert rules' threshold and
// clear lines, the spans where an alert was firing, the state band (live,
// stale, retrying, down) and the uptime of the range.
import type { Alert, AlertHistoryEntry, AlertRule, Labels, Severity, Timeline } from './types';

/** A threshold rule drawn on a chart of its metric. */
export interface ThresholdMark {
  rule: string;
  op: string;
  value: number;
  /** The clear value (hysteresis), when it differs from `value`. */
  clear: number | null;
  severity: Severity;
}

/** Whether every label a rule or alert names has that value on the series. */
function labelsMatch(wanted: Labels | undefined, series: Labels): boolean {
  return Object.entries(wanted ?? {}).every(([k, v]) => series[k] === v);
}

/** The threshold rules that watch this series. */
export function thresholdsFor(rules: readonly AlertRule[] | undefined, metric: string, labels: Labels): ThresholdMark[] {
  const out: ThresholdMark[] = [];
  for (const r of rules ?? []) {
    if (r.kind !== 'threshold' || r.metric !== metric || r.value === null || r.value === undefined) continue;
    if (!labelsMatch(r.labels, labels)) continue;
    const clear = r.clear !== null && r.clear !== undefined && r.clear !== r.value ? r.clear : null;
    out.push({ rule: r.name, op: r.op ?? '>', value: r.value, clear, severity: r.severity });
  }
  return out;
}

/** The alerts of this feed that belong to one of `rules` and to this series. */
export function alertsFor(alerts: readonly Alert[], feed: string, rules: readonly string[], labels: Labels): Alert[] {
  return alerts.filter((a) => a.feed === feed && rules.includes(a.rule) && labelsMatch(a.labels, labels));
}

/** A span (ms) during which an alert was firing; `end` is null while it fires. */
export interface FiringSpan {
  rule: string;
  severity: Severity;
  start: number;
  end: number | null;
}

/**
 * The spans of one alert's history (oldest first) during which it was firing,
 * clipped to [from, to]: from each `fired` to the next `resolved`.
 */
export function firingSpans(alert: Alert, history: readonly AlertHistoryEntry[], from: number, to: number): FiringSpan[] {
  const out: FiringSpan[] = [];
  let start: number | null = null;
  const close = (end: number | null) => {
    if (start === null) return;
    if ((end === null || end > from) && start < to) {
      out.push({ rule: alert.rule, severity: alert.severity, start: Math.max(start, from), end: end === null ? null : Math.min(end, to) });
    }
    start = null;
  };
  for (const h of history) {
    if (h.kind === 'fired' && start === null) start = h.ts;
    else if (h.kind === 'resolved') close(h.ts);
  }
  // history that does not reach the firing (trimmed) still shows the current one
  if (start === null && alert.phase === 'firing' && alert.fired_at !== null) start = alert.fired_at;
  close(null);
  return out;
}

/** A stretch of the range in one connection state. */
export interface StateSpan {
  start: number;
  end: number;
  /** A timeline state name (`live`, `stale`, `retrying`, `failed`, …), `maintenance` under a maintenance window, or `unknown` before the first one. */
  state: string;
}

/** The range [from, to] cut into connection-state spans, from a timeline. */
export function stateSpans(tl: Timeline, from: number, to: number): StateSpan[] {
  const out: StateSpan[] = [];
  let state = tl.initial ? tl.initial.state : 'unknown';
  let at = from;
  for (const e of tl.entries) {
    if (e.kind !== 'state') continue;
    const ts = Math.min(Math.max(e.ts, from), to);
    if (ts > at) out.push({ start: at, end: ts, state });
    at = Math.max(at, ts);
    state = e.state;
  }
  if (to > at) out.push({ start: at, end: to, state });
  // maintenance windows cover whatever state the feed was in
  const windows = [...(tl.maintenance ?? [])].sort((a, b) => a.start - b.start);
  // merge neighbours in one state
  const merged: StateSpan[] = [];
  for (const s of overlay(out, windows)) {
    const prev = merged[merged.length - 1];
    if (prev && prev.state === s.state && prev.end === s.start) prev.end = s.end;
    else merged.push({ ...s });
  }
  return merged;
}

/** Spans with the parts under a maintenance window (sorted by start) in state `maintenance`. */
function overlay(spans: readonly StateSpan[], windows: readonly { start: number; end: number }[]): StateSpan[] {
  if (windows.length === 0) return [...spans];
  const out: StateSpan[] = [];
  for (const s of spans) {
    let at = s.start;
    for (const w of windows) {
      if (w.end <= at || w.start >= s.end) continue;
      if (w.start > at) out.push({ start: at, end: w.start, state: s.state });
      const end = Math.min(w.end, s.end);
      out.push({ start: Math.max(w.start, at), end, state: 'maintenance' });
      at = end;
    }
    if (at < s.end) out.push({ start: at, end: s.end, state: s.state });
  }
  return out;
}

/** Uptime of a range: time live over time known, leaving out `unknown` (before any state), `stopped` (turned off) and `maintenance` (planned work). */
export interface Uptime {
  /** 0–1, or null when no time of the range is known. */
  ratio: number | null;
  upMs: number;
  knownMs: number;
}

export function uptime(spans: readonly StateSpan[]): Uptime {
  let upMs = 0;
  let knownMs = 0;
  for (const s of spans) {
    if (s.state === 'unknown' || s.state === 'stopped' || s.state === 'maintenance') continue;
    const d = s.end - s.start;
    knownMs += d;
    if (s.state === 'live') upMs += d;
  }
  return { ratio: knownMs > 0 ? upMs / knownMs : null, upMs, knownMs };
}

/** "99.95 %": never rounds a partial outage up to 100 %. */
export function formatUptime(ratio: number | null): string {
  if (ratio === null) return 'no data';
  if (ratio >= 1) return '100 %';
  // truncated, not rounded, at the digits shown
  const digits = ratio >= 0.99 ? 2 : 1;
  const scale = 10 ** digits;
  return `${(Math.floor(ratio * 100 * scale) / scale).toFixed(digits)} %`;
}

/**
 * The y range that shows the data and, when it is near, the threshold
 * lines. "Near" is within three times the data's spread, counting a spread
 * of at least a tenth of the values' size: a cpu flat at 97 % still shows
 * its 90 % threshold and 70 % clear line, while a threshold of 90 on data
 * between 0.2 and 0.5 would flatten it, and is listed as off the chart.
 */
export function yRange(min: number, max: number, marks: readonly number[]): { lo: number; hi: number; off: number[] } {
  const base = Math.max(max - min, 0.1 * Math.max(Math.abs(min), Math.abs(max))) || 1;
  let lo = min;
  let hi = max;
  const off: number[] = [];
  for (const m of marks) {
    if (m >= min - 3 * base && m <= max + 3 * base) {
      lo = Math.min(lo, m);
      hi = Math.max(hi, m);
    } else {
      off.push(m);
    }
  }
  const pad = (hi - lo || 1) * 0.05;
  return { lo: lo - pad, hi: hi + pad, off };
}
