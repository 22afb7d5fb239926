// Maintenance windows in the settings form: what a new one starts as, the
// browser's date-time inputs to and from stored times, a one-line
// description, and the checks that can be made before saving.
import type { MaintenanceWindow } from './bindings/MaintenanceWindow';
import type { FieldErrors } from './formparse';
import { fromLocalInput as fromLocal, toLocalInput as localInput } from './range';

export const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

/** A recurring window, Sundays 02:00–04:00 in `zone`, named apart from `existing`. */
export function newWindow(existing: readonly MaintenanceWindow[], zone: string): MaintenanceWindow {
  let n = existing.length + 1;
  while (existing.some((w) => w.name === `maintenance ${n}`)) n += 1;
  return { name: `maintenance ${n}`, feeds: [], tags: [], start: null, end: null, days: ['sun'], from: '02:00', to: '04:00', time_zone: zone };
}

/** Turns a window one-off (the next hour from `now`) or recurring. */
export function setOneOff(w: MaintenanceWindow, oneOff: boolean, now: number): void {
  if (oneOff) {
    w.start = new Date(now).toISOString();
    w.end = new Date(now + 3_600_000).toISOString();
    w.days = [];
    w.from = null;
    w.to = null;
  } else {
    w.start = null;
    w.end = null;
    w.days = ['sun'];
    w.from = '02:00';
    w.to = '04:00';
  }
}

/** A stored time (RFC 3339, or a local `2026-12-10 22:00`) for `<input type="datetime-local">`, in this browser's zone. */
export function toLocalInput(stored: string | null): string {
  if (!stored) return '';
  const t = /[zZ]|[+-]\d\d:?\d\d$/.test(stored) ? new Date(stored).getTime() : fromLocal(stored.replace(' ', 'T'));
  return t === null || Number.isNaN(t) ? '' : localInput(t);
}

/** A `datetime-local` value (this browser's zone) as an absolute time, or null when empty. */
export function fromLocalInput(value: string): string | null {
  const t = fromLocal(value);
  return t === null ? null : new Date(t).toISOString();
}

/** `a, b` ⇄ `['a', 'b']` for the feeds and tags fields. */
export function parseList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** "Sun, Sat 02:00–04:00 Europe/Berlin" or "10 Dec 22:00 – 23:30". */
export function describeWindow(w: MaintenanceWindow, locale?: string): string {
  if (w.start !== null || w.end !== null) {
    const f = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' });
    const at = (s: string | null) => (s && !Number.isNaN(new Date(toLocalInput(s)).getTime()) ? f.format(new Date(toLocalInput(s))) : '?');
    return `${at(w.start)} – ${at(w.end)}`;
  }
  const days = w.days.length === 0 || w.days.length === 7 ? 'every day' : w.days.map((d) => d.charAt(0).toUpperCase() + d.slice(1, 3)).join(', ');
  return `${days} ${w.from ?? '?'}–${w.to ?? '?'}${w.time_zone ? ` ${w.time_zone}` : ''}`;
}

/** Checks made before saving, keyed like the server's (`alerts.maintenance[0].name`). */
export function validateMaintenance(windows: readonly MaintenanceWindow[]): FieldErrors {
  const errors: FieldErrors = {};
  const seen = new Set<string>();
  windows.forEach((w, i) => {
    const at = (f: string) => `alerts.maintenance[${i}].${f}`;
    const name = w.name.trim();
    if (name === '') errors[at('name')] = 'is empty: give the window a name';
    else if (seen.has(name)) errors[at('name')] = `is “${name}”, which an earlier window has: give each its own name`;
    seen.add(name);
    if (w.feeds.length === 0 && w.tags.length === 0) errors[at('feeds')] = 'and tags are both empty: name the feeds it covers, or their tags';
    if (w.start !== null || w.end !== null) {
      if (!w.start) errors[at('start')] = 'is missing';
      if (!w.end) errors[at('end')] = 'is missing';
      if (w.start && w.end && new Date(w.end).getTime() <= new Date(w.start).getTime()) errors[at('end')] = 'is not after the start';
    } else if (!w.from || !w.to) {
      errors[at(w.from ? 'to' : 'from')] = 'is missing: write HH:MM';
    }
  });
  return errors;
}
