import { describe, expect, it } from 'vitest';
import { cursorLabel, offsetLabel, tickLabels, zoneMarker } from './timeaxis';

const sec = (iso: string) => Date.parse(iso) / 1000;

describe('time axis', () => {
  it('labels ticks within one day with times only, one line each', () => {
    const splits = [sec('2026-12-07T10:00:00Z'), sec('2026-12-07T10:15:00Z'), sec('2026-12-07T10:30:00Z')];
    const labels = tickLabels(splits, 900, 'UTC');
    expect(labels).toEqual(['10:00', '10:15', '10:30']);
    expect(labels.every((l) => !l.includes('\n'))).toBe(true);
  });
  it('puts the date where the day changes, and only there', () => {
    const splits = [sec('2026-12-07T20:00:00Z'), sec('2026-12-07T22:00:00Z'), sec('2026-12-08T00:00:00Z'), sec('2026-12-08T02:00:00Z')];
    const labels = tickLabels(splits, 7200, 'UTC');
    expect(labels[0]).toMatch(/7.*Dec.*20:00|Dec.*7.*20:00/);
    expect(labels[1]).toBe('22:00');
    expect(labels[2]).toMatch(/^(8 Dec|Dec 8)$/);
    expect(labels[3]).toBe('02:00');
  });
  it('shows seconds for sub-minute ticks and dates for day ticks', () => {
    expect(tickLabels([sec('2026-12-07T10:00:30Z')], 10, 'UTC')).toEqual(['10:00:30']);
    expect(tickLabels([sec('2026-12-07T00:00:00Z')], 86_400, 'UTC')[0]).toMatch(/7/);
  });
  it('follows the zone: the same instant in Berlin is an hour later in winter', () => {
    const s = sec('2026-12-07T10:00:00Z');
    expect(tickLabels([s], 900, 'Europe/Berlin')).toEqual(['11:00']);
    expect(cursorLabel(s, 'UTC')).toMatch(/10:00:00$/);
    expect(offsetLabel(s * 1000, 'Europe/Berlin')).toBe('UTC+01:00');
    expect(offsetLabel(Date.parse('2026-07-01T00:00:00Z'), 'Europe/Berlin')).toBe('UTC+02:00');
    expect(offsetLabel(s * 1000, 'UTC')).toBe('UTC');
  });
  it('says which zone the axis is in', () => {
    expect(zoneMarker(0, true)).toBe('UTC');
    expect(zoneMarker(0, false, 'Somewhere/Else')).toMatch(/^local time \(Somewhere\/Else, UTC/);
    expect(zoneMarker(0, false, 'Etc/UTC')).toMatch(/^local time \(UTC/);
    expect(zoneMarker(0, false, 'Etc/UTC')).not.toMatch(/Etc/);
  });
});
