import { describe, expect, it } from 'vitest';
import { alertTimeline, incidents, reportCsv, summarizeReport } from './report';
import type { StateSpan } from './chartmarks';
import type { Alert, AlertHistoryEntry } from './types';

const spans: StateSpan[] = [
  { start: 0, end: 10_000, state: 'unknown' },
  { start: 10_000, end: 40_000, state: 'live' },
  { start: 40_000, end: 50_000, state: 'retrying' },
  { start: 50_000, end: 70_000, state: 'failed' },
  { start: 70_000, end: 100_000, state: 'live' },
  { start: 100_000, end: 110_000, state: 'stopped' },
  { start: 110_000, end: 120_000, state: 'live' },
  { start: 120_000, end: 125_000, state: 'stale' },
];

describe('uptime report', () => {
  it('finds incidents: runs of known states other than live', () => {
    expect(incidents(spans)).toEqual([
      { start: 40_000, end: 70_000, states: ['retrying', 'failed'], open: false },
      { start: 120_000, end: 125_000, states: ['stale'], open: true },
    ]);
  });
  it('does not count maintenance as an incident, and cuts one there', () => {
    const planned: StateSpan[] = [
      { start: 0, end: 10, state: 'failed' },
      { start: 10, end: 20, state: 'maintenance' },
      { start: 20, end: 30, state: 'failed' },
      { start: 30, end: 40, state: 'maintenance' },
    ];
    expect(incidents(planned)).toEqual([
      { start: 0, end: 10, states: ['failed'], open: false },
      { start: 20, end: 30, states: ['failed'], open: false },
    ]);
    expect(summarizeReport(planned).uptime).toBe(0);
  });
  it('sums them up: count, longest, mean time to recover of the closed ones', () => {
    const s = summarizeReport(spans);
    expect(s.incidents).toBe(2);
    expect(s.longestMs).toBe(30_000);
    expect(s.mttrMs).toBe(30_000);
    // known time 105 s (no unknown, no stopped), live 70 s
    expect(s.uptime).toBeCloseTo(70 / 105);
    expect(summarizeReport([{ start: 0, end: 5, state: 'live' }])).toEqual({ uptime: 1, incidents: 0, longestMs: 0, mttrMs: null });
  });
  it('lists the alert turning points in the range, oldest first', () => {
    const alert = { id: 1, rule: 'cpu high', severity: 'critical' } as Alert;
    const h = (ts: number, kind: string, value: number | null = null): AlertHistoryEntry => ({ id: ts, alert_id: 1, ts, kind, value, detail: '' });
    const rows = alertTimeline(
      [{ alert, history: [h(5, 'fired', 97), h(6, 'notified'), h(8, 'acknowledged'), h(20, 'resolved', 60), h(200, 'fired')] }],
      0,
      100,
    );
    expect(rows.map((r) => [r.ts, r.kind])).toEqual([
      [5, 'fired'],
      [8, 'acknowledged'],
      [20, 'resolved'],
    ]);
  });
  it('writes one CSV table, quoting what needs it', () => {
    const csv = reportCsv('web, "eu"', 0, 125_000, spans, [{ ts: 45_000, rule: 'down', severity: 'critical', kind: 'fired', value: null }]);
    const lines = csv.trimEnd().split('\r\n');
    expect(lines[0]).toBe('kind,start,end,duration_s,detail');
    expect(lines[1]).toMatch(/^summary,1970-01-01T00:00:00\.000Z,1970-01-01T00:02:05\.000Z,125,"web, ""eu"": uptime 66\.6 %; 2 incidents; longest 30 s; mean time to recover 30 s"$/);
    expect(lines[2]).toBe('incident,1970-01-01T00:00:40.000Z,1970-01-01T00:01:10.000Z,30,retrying → failed');
    expect(lines[3]).toBe('incident,1970-01-01T00:02:00.000Z,,5,stale (ongoing)');
    expect(lines[4]).toBe('alert,1970-01-01T00:00:45.000Z,,,down (critical) fired');
  });
});
