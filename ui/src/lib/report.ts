// The uptime report of a feed over a range: its uptime, its incidents (how
// many, the longest, the mean time to recover) and its alert timeline, on
// screen and as CSV.
import { formatUptime, uptime, type StateSpan } from './chartmarks';
import type { Alert, AlertHistoryEntry } from './types';

/** A stretch during which the feed was known to be not live. */
export interface Incident {
  start: number;
  end: number;
  /** The states it went through (`retrying`, `failed`, `stale`, …), in order, once each. */
  states: string[];
  /** Still going at the end of the range. */
  open: boolean;
}

/** States that count neither as up nor as an incident (planned maintenance included). */
const NEUTRAL = new Set(['unknown', 'stopped', 'maintenance']);

/**
 * The incidents of a range: each run of known states other than `live`
 * (stopped, maintenance and no-data time end a run without counting).
 */
export function incidents(spans: readonly StateSpan[]): Incident[] {
  const out: Incident[] = [];
  let cur: Incident | null = null;
  for (const s of spans) {
    if (s.state === 'live' || NEUTRAL.has(s.state)) {
      cur = null;
      continue;
    }
    if (cur && cur.end === s.start) {
      cur.end = s.end;
      if (!cur.states.includes(s.state)) cur.states.push(s.state);
    } else {
      cur = { start: s.start, end: s.end, states: [s.state], open: false };
      out.push(cur);
    }
  }
  const last = spans[spans.length - 1];
  const tail = out[out.length - 1];
  if (tail && last && tail.end === last.end && last.state !== 'live' && !NEUTRAL.has(last.state)) tail.open = true;
  return out;
}

export interface ReportSummary {
  uptime: number | null;
  incidents: number;
  longestMs: number;
  /** Mean length of the incidents that ended in the range (an open one has not recovered); null without any. */
  mttrMs: number | null;
}

export function summarizeReport(spans: readonly StateSpan[]): ReportSummary {
  const list = incidents(spans);
  const closed = list.filter((i) => !i.open);
  return {
    uptime: uptime(spans).ratio,
    incidents: list.length,
    longestMs: list.reduce((m, i) => Math.max(m, i.end - i.start), 0),
    mttrMs: closed.length ? closed.reduce((s, i) => s + (i.end - i.start), 0) / closed.length : null,
  };
}

/** One line of the alert timeline. */
export interface AlertRow {
  ts: number;
  rule: string;
  severity: string;
  /** `fired`, `resolved`, `acknowledged`, … as the history says. */
  kind: string;
  value: number | null;
}

/** What the alert timeline shows: the turning points, not every notification attempt. */
const SHOWN = new Set(['fired', 'resolved', 'acknowledged', 'snoozed']);

/** The alert timeline of a feed's alerts in [from, to], oldest first. */
export function alertTimeline(
  list: readonly { alert: Alert; history: readonly AlertHistoryEntry[] }[],
  from: number,
  to: number,
): AlertRow[] {
  const rows: AlertRow[] = [];
  for (const { alert, history } of list) {
    for (const h of history) {
      if (!SHOWN.has(h.kind) || h.ts < from || h.ts > to) continue;
      rows.push({ ts: h.ts, rule: alert.rule, severity: alert.severity, kind: h.kind, value: h.value });
    }
  }
  return rows.sort((a, b) => a.ts - b.ts || a.rule.localeCompare(b.rule));
}

const iso = (ms: number) => new Date(ms).toISOString();
/** A CSV field, quoted when it must be (RFC 4180). */
function field(v: string | number): string {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * The report as CSV: one table `kind,start,end,duration_s,detail` (times in
 * UTC, ISO 8601): a `summary` row for the range, then each `incident` and
 * each `alert` event.
 */
export function reportCsv(
  feed: string,
  from: number,
  to: number,
  spans: readonly StateSpan[],
  alerts: readonly AlertRow[],
): string {
  const s = summarizeReport(spans);
  const rows: (string | number)[][] = [['kind', 'start', 'end', 'duration_s', 'detail']];
  const mttr = s.mttrMs === null ? 'none recovered' : `${Math.round(s.mttrMs / 1000)} s`;
  rows.push([
    'summary',
    iso(from),
    iso(to),
    Math.round((to - from) / 1000),
    `${feed}: uptime ${formatUptime(s.uptime)}; ${s.incidents} incidents; longest ${Math.round(s.longestMs / 1000)} s; mean time to recover ${mttr}`,
  ]);
  for (const i of incidents(spans)) {
    rows.push(['incident', iso(i.start), i.open ? '' : iso(i.end), Math.round((i.end - i.start) / 1000), i.states.join(' → ') + (i.open ? ' (ongoing)' : '')]);
  }
  for (const a of alerts) {
    rows.push(['alert', iso(a.ts), '', '', `${a.rule} (${a.severity}) ${a.kind}${a.value === null ? '' : ` at ${a.value}`}`]);
  }
  return rows.map((r) => r.map(field).join(',')).join('\r\n') + '\r\n';
}
