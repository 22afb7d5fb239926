// Several label sets of one metric in one chart: their columns aligned on
// one time axis, as uPlot draws them.
import type { ChartData } from './chartdata';
import { sortedLabelsText } from './formparse';

export interface Aligned {
  /** Every series' times, merged and ascending (seconds). */
  xs: number[];
  /**
   * One column per series. `null` is a gap the series had (the line breaks
   * there); `undefined` is a time only other series have (the line goes on).
   */
  ys: (number | null | undefined)[][];
}

/** Aligns the series on the union of their times. */
export function alignSeries(list: readonly ChartData[]): Aligned {
  const all = new Set<number>();
  for (const d of list) for (const x of d.xs) all.add(x);
  const xs = [...all].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const ys = list.map((d) => {
    const col: (number | null | undefined)[] = new Array<number | null | undefined>(xs.length).fill(undefined);
    d.xs.forEach((x, i) => {
      const k = at.get(x);
      if (k !== undefined) col[k] = d.ys[i] ?? null;
    });
    return col;
  });
  return { xs, ys };
}

/** Distinct line colours for overlaid series, readable on light and dark backgrounds. */
export const PALETTE = ['#2f6fde', '#d9480f', '#2b8a3e', '#ae3ec9', '#e8590c', '#1098ad', '#c2255c', '#5c940d', '#7048e8', '#868e96'];

/** The label set of a series as its legend shows it: `cpu="0", mode="user"` (keys sorted), or the metric alone. */
export function labelsText(metric: string, labels: { [k in string]: string }): string {
  return sortedLabelsText(labels) || metric;
}
