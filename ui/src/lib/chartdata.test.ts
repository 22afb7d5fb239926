import { describe, expect, it } from 'vitest';
import { chartData, outages, seriesKey } from './chartdata';
import type { Timeline } from './types';

describe('chart gaps', () => {
  const tl: Timeline = {
    feed: 'f',
    maintenance: [],
    from: 0,
    to: 100_000,
    initial: { ts: -5, kind: 'state', state: 'live', detail: null },
    entries: [
      { ts: 20_000, kind: 'state', state: 'retrying', detail: 'refused' },
      { ts: 25_000, kind: 'payload', state: 'retrying', detail: 'bad json' },
      { ts: 30_000, kind: 'state', state: 'live', detail: null },
      { ts: 90_000, kind: 'state', state: 'stale', detail: null },
    ],
  };
  it('finds the spans that were not live', () => {
    expect(outages(tl)).toEqual([
      { start: 20_000, end: 30_000, state: 'retrying' },
      { start: 90_000, end: null, state: 'stale' },
    ]);
  });
  it('breaks the line at each outage', () => {
    const pt = (ts: number, avg: number) => ({ ts, avg, min: avg, max: avg, count: 1 });
    const d = chartData([pt(10_000, 1), pt(35_000, 2), pt(80_000, 3)], outages(tl));
    expect(d.xs).toEqual([10, 20, 35, 80, 90]);
    expect(d.ys).toEqual([1, null, 2, 3, null]);
  });
  it('draws a bucket that straddles the end of an outage after the break', () => {
    const pt = (ts: number, avg: number) => ({ ts, avg, min: avg, max: avg, count: 1 });
    // 2 s buckets; the feed connected at 20.5 s and went live at 21.0 s
    const gaps = [{ start: 20_500, end: 21_000, state: 'connecting' }];
    const d = chartData([pt(20_000, 1), pt(22_000, 2)], gaps, 2_000);
    expect(d.xs).toEqual([20.5, 21, 22]);
    expect(d.ys).toEqual([null, 1, 2]);
    // a bucket that ends inside the outage stays where it is
    const e = chartData([pt(19_000, 1), pt(22_000, 2)], gaps, 1_500);
    expect(e.xs).toEqual([19, 20.5, 22]);
    expect(e.ys).toEqual([1, null, 2]);
  });
  it('keys series by metric and sorted labels', () => {
    expect(seriesKey('cpu', {})).toBe('cpu');
    expect(seriesKey('cpu', { b: '2', a: '1' })).toBe('cpu{a="1",b="2"}');
  });
});

describe('min/max band and summary', () => {
  it('keeps each bucket\'s min and max beside its mean, null at gaps', async () => {
    const { chartData, summarize, hasBand, pushValue, dropBefore } = await import('./chartdata');
    const d = chartData(
      [
        { ts: 0, avg: 5, min: 1, max: 97, count: 60 },
        { ts: 60_000, avg: 4, min: 2, max: 6, count: 60 },
      ],
      [{ start: 30_000, end: 50_000, state: 'retrying' }],
    );
    expect(d.xs).toEqual([0, 30, 60]);
    expect(d.mins).toEqual([1, null, 2]);
    expect(d.maxs).toEqual([97, null, 6]);
    expect(hasBand(d)).toBe(true);
    // the spike survives in the summary although both means are low
    expect(summarize(d)).toEqual({ last: 4, lastX: 60, min: 1, max: 97, count: 2 });
    pushValue(d, 120, 8);
    expect(summarize(d).last).toBe(8);
    dropBefore(d, 50);
    expect(d.xs).toEqual([60, 120]);
    expect(d.mins.length).toBe(2);
    expect(summarize({ xs: [1], ys: [null], mins: [null], maxs: [null] }).count).toBe(0);
  });
});
