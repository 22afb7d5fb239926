// Pure helpers for the Settings screen: client-side checks that mirror the
// server's (so most mistakes are shown before saving), and mapping a server
// error back to its field. The server stays the authority.
import type { Settings } from './types';
import { validateMaintenance } from './maintenance';

const DURATION = /^\s*\d+(\.\d+)?\s*(ms|s|sec|secs|m|min|mins|h|d|w|y)?\s*$/;
const TIME = /^([01]\d|2[0-3]):[0-5]\d$/;
const SIZE = /^\s*\d+(\.\d+)?\s*(b|kb|kib|mb|mib|gb|gib|tb|tib)?\s*$/i;

/** True if this browser knows the IANA time zone `name` (as the server's zoneinfo would). */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** The IANA time zones this browser knows, for a picker; empty where it cannot list them. */
export function timeZones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (key: string) => string[] };
  return intl.supportedValuesOf?.('timeZone') ?? [];
}

/** This computer's time zone, e.g. `Europe/Berlin`. */
export function localTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** True for `1GiB`, `500MiB`, `2 GB`, `1048576`, … */
export function isSize(text: string): boolean {
  return SIZE.test(text);
}

/** True for `500ms`, `30s`, `5m`, `2h`, `7d`, `0s`, … */
export function isDuration(text: string): boolean {
  return DURATION.test(text);
}

/** Field path (`store.events_max_age`) → what is wrong with it. */
export type FieldErrors = Record<string, string>;

/** Checks a settings form; an empty result means it may be saved. */
export function validateSettings(s: Settings): FieldErrors {
  const errors: FieldErrors = {};
  const duration = (field: string, text: string, hint: string) => {
    if (!isDuration(text)) errors[field] = `“${text}” is not a duration: write e.g. ${hint}`;
  };
  const ages = ['events_max_age', 'samples_max_age', 'rollup_1m_max_age', 'rollup_1h_max_age', 'states_max_age'] as const;
  for (const key of ages) duration(`store.${key}`, s.store[key], '7d, 12h or 0s (keep forever)');
  duration('store.commit_interval', s.store.commit_interval, '100ms');
  if (!Number.isInteger(s.store.events_max_per_feed) || s.store.events_max_per_feed < 0) {
    errors['store.events_max_per_feed'] = 'must be a whole number (0 keeps every event)';
  }
  if (s.store.disk_budget !== null && s.store.disk_budget.trim() !== '' && !isSize(s.store.disk_budget)) {
    errors['store.disk_budget'] = `“${s.store.disk_budget}” is not a size: write e.g. 1GiB or 500MiB, or leave it empty for no budget`;
  }
  if (!Number.isInteger(s.store.commit_rows) || s.store.commit_rows < 100 || s.store.commit_rows > 1_000_000) {
    errors['store.commit_rows'] = 'must be a whole number between 100 and 1000000';
  }
  const q = s.alerts.quiet_hours;
  if (q) {
    if (!TIME.test(q.start)) errors['alerts.quiet_hours.start'] = 'must be a time of day, HH:MM (e.g. 22:00)';
    if (!TIME.test(q.end)) errors['alerts.quiet_hours.end'] = 'must be a time of day, HH:MM (e.g. 07:00)';
    else if (q.start === q.end) errors['alerts.quiet_hours.end'] = 'equals the start: choose another end, or turn quiet hours off';
    const zone = q.time_zone?.trim() ?? '';
    if (zone !== '' && !isTimeZone(zone)) {
      errors['alerts.quiet_hours.time_zone'] = `“${zone}” is not a time zone: use an IANA name such as Europe/Berlin, or leave it empty for this computer's`;
    }
  }
  if (!Number.isInteger(s.alerts.flood_max) || s.alerts.flood_max < 1 || s.alerts.flood_max > 10_000) {
    errors['alerts.flood_max'] = 'must be a whole number between 1 and 10000';
  }
  duration('alerts.flood_window', s.alerts.flood_window, '60s');
  if (s.alerts.renotify !== null) duration('alerts.renotify', s.alerts.renotify, '30m');
  Object.assign(errors, validateMaintenance(s.alerts.maintenance));
  s.alerts.route.forEach((r, i) => {
    if (r.tags.length === 0) errors[`alerts.route[${i}].tags`] = 'is empty: name the tags whose feeds take this route';
  });
  return errors;
}

/** The field a server message names (“field `store.events_max_age` is …”), and the rest. */
export function splitFieldError(message: string): { field: string | null; text: string } {
  const m = /^field `([^`]+)`:?\s*(.*)$/s.exec(message);
  const [, field, text] = m ?? [];
  return field !== undefined ? { field, text: text ?? '' } : { field: null, text: message };
}

/** Bytes as KiB / MiB / GiB, for the database size. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** A deep copy, so a form can be edited and compared with what is saved. */
export function cloneSettings(s: Settings): Settings {
  return JSON.parse(JSON.stringify(s)) as Settings;
}

/** What the storage panel says about the budget: how fast the database
 * grows (bytes per hour, from two readings) and when, at that rate, the
 * budget is reached. `null` when there is no budget or no growth to speak of. */
export function budgetForecast(
  before: { at: number; used: number },
  now: { at: number; used: number },
  budget: number | null,
): { perHour: number; hoursLeft: number | null } | null {
  const hours = (now.at - before.at) / 3_600_000;
  if (hours <= 0) return null;
  const perHour = (now.used - before.used) / hours;
  if (budget === null) return { perHour, hoursLeft: null };
  if (now.used >= budget) return { perHour, hoursLeft: 0 };
  return { perHour, hoursLeft: perHour > 0 ? (budget - now.used) / perHour : null };
}

/** The forecast as a small chart in a `w` × `h` box: bytes in use from now
 * on at `perHour`, held at the budget once they reach it (retention then
 * deletes the oldest data), and the budget as a line. The horizon is half
 * again the time to reach the budget (between 6 hours and 30 days), or a
 * day without a budget or growth. */
export function forecastChart(
  used: number,
  perHour: number,
  budget: number | null,
  w: number,
  h: number,
): { hours: number; line: string; budgetY: number | null; reachX: number | null } {
  const rate = Math.max(0, perHour);
  const left = budget !== null && rate > 0 ? Math.max(0, (budget - used) / rate) : null;
  const hours = left === null ? 24 : Math.min(24 * 30, Math.max(6, left * 1.5));
  const end = used + rate * hours;
  const top = Math.max(budget ?? 0, budget !== null ? Math.min(end, budget) : end, used, 1) * 1.1;
  const y = (b: number) => Math.round((h - (h * b) / top) * 10) / 10;
  const x = (t: number) => Math.round(((w * t) / hours) * 10) / 10;
  const pts: Array<[number, number]> = [[0, y(used)]];
  let reachX: number | null = null;
  if (budget !== null && left !== null && left <= hours) {
    reachX = x(left);
    pts.push([reachX, y(budget)], [w, y(budget)]);
  } else {
    pts.push([w, y(budget !== null ? Math.min(end, budget) : end)]);
  }
  return {
    hours,
    line: pts.map(([a, b]) => `${a},${b}`).join(' '),
    budgetY: budget !== null ? y(budget) : null,
    reachX,
  };
}
