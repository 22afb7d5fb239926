import type { Point, Timeline } from './types';

/** A span (ms) during which the feed was not live. `end` is null while it lasts. */
export interface Outage {
  start: number;
  end: number | null;
  state: string;
}

/** The spans of a timeline during which the feed was not live (any state but `live`). */
export function outages(tl: Timeline): Outage[] {
  const out: Outage[] = [];
  let current: Outage | null = null;
  const apply = (ts: number, state: string) => {
    if (state === 'live') {
      if (current) {
        current.end = ts;
        current = null;
      }
    } else if (current) {
      current.state = state;
    } else {
      current = { start: ts, end: null, state };
      out.push(current);
    }
  };
  if (tl.initial) apply(tl.from, tl.initial.state);
  for (const e of tl.entries) {
    if (e.kind === 'state') apply(Math.max(e.ts, tl.from), e.state);
  }
  return out;
}

export interface ChartData {
  /** Seconds since the epoch (uPlot's unit). */
  xs: number[];
  /** Each bucket's mean (a live sample's value). */
  ys: (number | null)[];
  /** Each bucket's lowest and highest sample: the band that keeps a spike seen at coarse ranges. */
  mins: (number | null)[];
  maxs: (number | null)[];
}

/** An empty chart. */
export function emptyChart(): ChartData {
  return { xs: [], ys: [], mins: [], maxs: [] };
}

/**
 * Chart columns from series buckets (their mean), with a null inserted at
 * the start of every outage so the line breaks there instead of bridging
 * the time the feed was not live.
 *
 * A bucket is placed at its start, except one that begins before an outage
 * ends and reaches past its end (`bucketMs` wide): no sample arrives while a
 * feed is not live, so its samples came after the outage, and it is drawn
 * where the outage ended (else it would land before the break).
 */
export function chartData(points: readonly Point[], gaps: readonly Outage[], bucketMs = 0): ChartData {
  const rows: [number, Point | null][] = points.map((p) => {
    let ts = p.ts;
    for (const g of gaps) {
      if (g.end !== null && ts < g.end && ts + bucketMs > g.end) ts = g.end;
    }
    return [ts, p];
  });
  for (const g of gaps) rows.push([g.start, null]);
  rows.sort((a, b) => a[0] - b[0] || (a[1] === null ? -1 : 1));
  const d = emptyChart();
  for (const [ts, p] of rows) {
    const x = ts / 1000;
    // one entry per x: a real value wins over a gap marker at the same instant
    if (d.xs.length && d.xs[d.xs.length - 1] === x) {
      if (p !== null) {
        const i = d.xs.length - 1;
        d.ys[i] = p.avg;
        d.mins[i] = p.min;
        d.maxs[i] = p.max;
      }
      continue;
    }
    d.xs.push(x);
    d.ys.push(p?.avg ?? null);
    d.mins.push(p?.min ?? null);
    d.maxs.push(p?.max ?? null);
  }
  return d;
}

/** Appends one live value (its own min and max) or a gap marker (null). */
export function pushValue(d: ChartData, x: number, v: number | null): void {
  d.xs.push(x);
  d.ys.push(v);
  d.mins.push(v);
  d.maxs.push(v);
}

/** Drops the entries before `fromSec` (what scrolled out of a sliding window). */
export function dropBefore(d: ChartData, fromSec: number): void {
  let cut = 0;
  while (cut < d.xs.length && (d.xs[cut] ?? 0) < fromSec) cut++;
  if (cut > 0) {
    d.xs.splice(0, cut);
    d.ys.splice(0, cut);
    d.mins.splice(0, cut);
    d.maxs.splice(0, cut);
  }
}

/** Whether any bucket spans more than one sample, so that its min–max band says something. */
export function hasBand(d: ChartData): boolean {
  for (let i = 0; i < d.xs.length; i++) {
    const lo = d.mins[i];
    const hi = d.maxs[i];
    if (lo !== null && lo !== undefined && hi !== null && hi !== undefined && hi > lo) return true;
  }
  return false;
}

/** Last, lowest and highest value in the chart (min and max from the band), for the text alternative. */
export interface ChartSummary {
  last: number | null;
  lastX: number | null;
  min: number | null;
  max: number | null;
  count: number;
}

export function summarize(d: ChartData): ChartSummary {
  let last: number | null = null;
  let lastX: number | null = null;
  let min: number | null = null;
  let max: number | null = null;
  let count = 0;
  for (let i = 0; i < d.xs.length; i++) {
    const v = d.ys[i];
    if (v === null || v === undefined) continue;
    count++;
    last = v;
    lastX = d.xs[i] ?? null;
    const lo = d.mins[i] ?? v;
    const hi = d.maxs[i] ?? v;
    if (min === null || lo < min) min = lo;
    if (max === null || hi > max) max = hi;
  }
  return { last, lastX, min, max, count };
}

/** Canonical key of a series: metric plus sorted labels. */
export function seriesKey(metric: string, labels: { [k in string]: string }): string {
  const keys = Object.keys(labels).sort();
  if (!keys.length) return metric;
  return `${metric}{${keys.map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`;
}
