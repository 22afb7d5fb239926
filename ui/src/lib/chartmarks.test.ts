import { describe, expect, it } from 'vitest';
import { alertsFor, firingSpans, formatUptime, stateSpans, thresholdsFor, uptime, yRange } from './chartmarks';
import type { Alert, AlertHistoryEntry, AlertRule, Timeline } from './types';

const rule = (over: Partial<AlertRule>): AlertRule => ({ name: 'cpu high', kind: 'threshold', severity: 'critical', ...over });

describe('threshold marks', () => {
  it('takes the threshold rules on the series, with their clear value', () => {
    const rules = [
      rule({ metric: 'cpu', op: '>', value: 90, clear: 70 }),
      rule({ name: 'cpu low', metric: 'cpu', op: '<', value: 5, clear: 5, severity: 'info' }),
      rule({ name: 'mem', metric: 'mem', op: '>', value: 1 }),
      rule({ name: 'stale', kind: 'stale', after: '30s' }),
      rule({ name: 'disk sda', metric: 'cpu', op: '>', value: 1, labels: { cpu: '1' } }),
    ];
    expect(thresholdsFor(rules, 'cpu', { cpu: '0' })).toEqual([
      { rule: 'cpu high', op: '>', value: 90, clear: 70, severity: 'critical' },
      { rule: 'cpu low', op: '<', value: 5, clear: null, severity: 'info' },
    ]);
    expect(thresholdsFor(rules, 'cpu', { cpu: '1' }).map((t) => t.rule)).toContain('disk sda');
    expect(thresholdsFor(undefined, 'cpu', {})).toEqual([]);
  });
});

const alert = (over: Partial<Alert>): Alert => ({
  id: 7,
  feed_id: 1,
  feed: 'host-1',
  rule: 'cpu high',
  labels: {},
  severity: 'critical',
  phase: 'ok',
  since: 0,
  value: null,
  fired_at: null,
  resolved_at: null,
  acked_at: null,
  last_notified_at: null,
  summary: '',
  ...over,
});
const h = (ts: number, kind: string): AlertHistoryEntry => ({ id: ts, alert_id: 7, ts, kind, value: null, detail: '' });

describe('firing spans', () => {
  it('runs from each fired to its resolved, clipped to the range', () => {
    const hist = [h(100, 'pending'), h(200, 'fired'), h(250, 'acknowledged'), h(400, 'resolved'), h(600, 'pending'), h(650, 'cancelled'), h(900, 'fired')];
    expect(firingSpans(alert({ phase: 'firing', fired_at: 900 }), hist, 300, 1000)).toEqual([
      { rule: 'cpu high', severity: 'critical', start: 300, end: 400 },
      { rule: 'cpu high', severity: 'critical', start: 900, end: null },
    ]);
    // a span wholly before the range is left out
    expect(firingSpans(alert({}), hist.slice(0, 4), 500, 1000)).toEqual([]);
  });
  it('shows a firing alert whose history was trimmed', () => {
    expect(firingSpans(alert({ phase: 'firing', fired_at: 50 }), [], 0, 100)).toEqual([
      { rule: 'cpu high', severity: 'critical', start: 50, end: null },
    ]);
  });
  it('picks the alerts of the charted rules and series', () => {
    const all = [alert({ id: 1 }), alert({ id: 2, rule: 'other' }), alert({ id: 3, feed: 'host-2' }), alert({ id: 4, labels: { cpu: '1' } })];
    expect(alertsFor(all, 'host-1', ['cpu high'], { cpu: '0' }).map((a) => a.id)).toEqual([1]);
    expect(alertsFor(all, 'host-1', ['cpu high'], { cpu: '1' }).map((a) => a.id)).toEqual([1, 4]);
  });
});

describe('state band and uptime', () => {
  const tl: Timeline = {
    feed: 'f',
    from: 0,
    to: 1000,
    maintenance: [],
    initial: { ts: -5, kind: 'state', state: 'live', detail: null },
    entries: [
      { ts: 100, kind: 'state', state: 'retrying', detail: null },
      { ts: 150, kind: 'payload', state: 'retrying', detail: 'bad' },
      { ts: 200, kind: 'state', state: 'live', detail: null },
      { ts: 500, kind: 'state', state: 'stopped', detail: null },
      { ts: 700, kind: 'state', state: 'connecting', detail: null },
      { ts: 710, kind: 'state', state: 'live', detail: null },
      { ts: 710, kind: 'state', state: 'live', detail: null },
    ],
  };
  it('cuts the range into states, merging repeats', () => {
    expect(stateSpans(tl, 0, 1000)).toEqual([
      { start: 0, end: 100, state: 'live' },
      { start: 100, end: 200, state: 'retrying' },
      { start: 200, end: 500, state: 'live' },
      { start: 500, end: 700, state: 'stopped' },
      { start: 700, end: 710, state: 'connecting' },
      { start: 710, end: 1000, state: 'live' },
    ]);
  });
  it('counts live over known time, leaving out stopped and no data', () => {
    const u = uptime(stateSpans(tl, 0, 1000));
    expect(u.knownMs).toBe(800);
    expect(u.upMs).toBe(690);
    expect(u.ratio).toBeCloseTo(690 / 800);
    const unknown = stateSpans({ ...tl, initial: null, entries: [{ ts: 400, kind: 'state', state: 'live', detail: null }] }, 0, 1000);
    expect(unknown[0]).toEqual({ start: 0, end: 400, state: 'unknown' });
    expect(uptime(unknown).ratio).toBe(1);
    expect(uptime([]).ratio).toBeNull();
  });
  it('leaves maintenance out of uptime and shows it over any state', () => {
    const spans = stateSpans({ ...tl, maintenance: [{ start: 150, end: 300, name: 'patch' }] }, 0, 1000);
    expect(spans.slice(0, 4)).toEqual([
      { start: 0, end: 100, state: 'live' },
      { start: 100, end: 150, state: 'retrying' },
      { start: 150, end: 300, state: 'maintenance' },
      { start: 300, end: 500, state: 'live' },
    ]);
    const u = uptime(spans);
    // 800 known before, less the window's 150 ms (50 retrying, 100 live)
    expect(u.knownMs).toBe(650);
    expect(u.upMs).toBe(590);
  });
  it('never rounds an outage up to 100 %', () => {
    expect(formatUptime(0.99999)).toBe('99.99 %');
    expect(formatUptime(1)).toBe('100 %');
    expect(formatUptime(0.8625)).toBe('86.2 %');
    expect(formatUptime(null)).toBe('no data');
  });
});

describe('y range', () => {
  it('brings a near threshold in and lists a far one as off the chart', () => {
    const r = yRange(20, 60, [90, 70, 1000]);
    expect(r.lo).toBeLessThan(20);
    expect(r.hi).toBeGreaterThan(90);
    expect(r.hi).toBeLessThan(200);
    expect(r.off).toEqual([1000]);
  });
  it('shows the lines of a value that sits flat above its threshold', () => {
    // the incident: cpu between 96.5 and 97.4, threshold 90, clear 70
    const r = yRange(96.5, 97.4, [90, 70]);
    expect(r.off).toEqual([]);
    expect(r.lo).toBeLessThan(70);
    // tiny values keep their scale: a threshold of 90 on 0.2–0.5 is off
    expect(yRange(0.2, 0.5, [90]).off).toEqual([90]);
  });
});
