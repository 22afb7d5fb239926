// The chart's time axis: one-line tick labels that never run into each
// other, in local time or UTC, and the marker that says which.

/** `undefined`: the browser's zone; else an IANA name. */
export type Zone = string | undefined;

export const zoneOf = (utc: boolean): Zone => (utc ? 'UTC' : undefined);

function parts(ms: number, zone: Zone): { day: string; hm: string; hms: string } {
  const d = new Date(ms);
  const day = new Intl.DateTimeFormat(undefined, { timeZone: zone, day: 'numeric', month: 'short' }).format(d);
  const hm = new Intl.DateTimeFormat(undefined, { timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(d);
  const hms = new Intl.DateTimeFormat(undefined, {
    timeZone: zone,
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).format(d);
  return { day, hm, hms };
}

/**
 * Labels for ticks at `splits` (seconds), `incrSec` apart. Each is one line:
 * a time, or a date where the day changes (and on the first tick of a range
 * that crosses days), so a date never sits on top of a time.
 */
export function tickLabels(splits: readonly number[], incrSec: number, zone: Zone): string[] {
  const ps = splits.map((s) => parts(s * 1000, zone));
  const crossesDays = ps.length > 1 && ps[0]?.day !== ps[ps.length - 1]?.day;
  return ps.map((p, i) => {
    if (incrSec >= 86_400) return p.day;
    const time = incrSec < 60 ? p.hms : p.hm;
    const prev = i > 0 ? ps[i - 1] : undefined;
    if (crossesDays && (prev === undefined || prev.day !== p.day)) return p.hm === '00:00' ? p.day : `${p.day} ${time}`;
    return time;
  });
}

/** The cursor's time in the legend: date and time with seconds. */
export function cursorLabel(sec: number, zone: Zone): string {
  const p = parts(sec * 1000, zone);
  return `${p.day} ${p.hms}`;
}

/** "UTC+01:00" for the zone at `ms` (the browser's when `zone` is undefined). */
export function offsetLabel(ms: number, zone: Zone): string {
  const name = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' })
    .formatToParts(new Date(ms))
    .find((p) => p.type === 'timeZoneName')?.value;
  // "GMT+01:00"; a zero offset is "GMT" or "GMT+00:00" depending on the engine
  if (!name || /^GMT([+-]00:00)?$/.test(name)) return 'UTC';
  return name.replace('GMT', 'UTC');
}

/** The marker beside the axis: "UTC", or "local time (Europe/Berlin, UTC+01:00)". */
export function zoneMarker(ms: number, utc: boolean, localName?: string): string {
  if (utc) return 'UTC';
  const name = localName ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  const offset = offsetLabel(ms, undefined);
  // a machine on UTC says so once, not "(UTC, UTC)"
  if (name === offset || name === 'Etc/UTC' || name === 'UTC') return `local time (${offset})`;
  return `local time (${name}, ${offset})`;
}
