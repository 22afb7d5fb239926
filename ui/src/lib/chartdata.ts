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
  ys: (number | null)[];
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
  const rows: [number, number | null][] = points.map((p) => {
    let ts = p.ts;
    for (const g of gaps) {
      if (g.end !== null && ts < g.end && ts + bucketMs > g.end) ts = g.end;
    }
    return [ts, p.avg];
  });
  for (const g of gaps) rows.push([g.start, null]);
  rows.sort((a, b) => a[0] - b[0] || (a[1] === null ? -1 : 1));
  const xs: number[] = [];
  const ys: (number | null)[] = [];
  for (const [ts, v] of rows) {
    const x = ts / 1000;
    // one entry per x: a real value wins over a gap marker at the same instant
    if (xs.length && xs[xs.length - 1] === x) {
      if (v !== null) ys[ys.length - 1] = v;
      continue;
    }
    xs.push(x);
    ys.push(v);
  }
  return { xs, ys };
}

/** Canonical key of a series: metric plus sorted labels. */
export function seriesKey(metric: string, labels: { [k in string]: string }): string {
  const keys = Object.keys(labels).sort();
  if (!keys.length) return metric;
  return `${metric}{${keys.map((k) => `${k}=${JSON.stringify(labels[k])}`).join(',')}}`;
}
