import { describe, expect, it } from 'vitest';
import { describeWindow, fromLocalInput, newWindow, parseList, setOneOff, toLocalInput, validateMaintenance } from './maintenance';

describe('maintenance windows in the settings form', () => {
  it('starts a new window recurring, with a name of its own', () => {
    const a = newWindow([], 'Europe/Berlin');
    const b = newWindow([a], 'Europe/Berlin');
    expect(a.name).toBe('maintenance 1');
    expect(b.name).toBe('maintenance 2');
    expect(describeWindow(a)).toBe('Sun 02:00–04:00 Europe/Berlin');
    expect(describeWindow({ ...a, days: [] })).toBe('every day 02:00–04:00 Europe/Berlin');
  });
  it('turns one-off with the next hour, and back', () => {
    const w = newWindow([], 'UTC');
    setOneOff(w, true, Date.UTC(2026, 11, 10, 21, 0));
    expect([w.start, w.end, w.from, w.days]).toEqual(['2026-12-10T21:00:00.000Z', '2026-12-10T22:00:00.000Z', null, []]);
    setOneOff(w, false, 0);
    expect([w.start, w.from, w.to]).toEqual([null, '02:00', '04:00']);
  });
  it('round-trips the browser date-time input', () => {
    const local = toLocalInput('2026-12-10T21:00:00Z');
    expect(local).toMatch(/^2026-12-1[01]T\d\d:00$/);
    expect(fromLocalInput(local)).toBe('2026-12-10T21:00:00.000Z');
    expect(toLocalInput('2026-12-10 22:00')).toBe('2026-12-10T22:00');
    expect(toLocalInput('not a time')).toBe('');
    expect(fromLocalInput('')).toBeNull();
  });
  it('reads lists and names the fields at fault as the server does', () => {
    expect(parseList(' web-1, ,db ')).toEqual(['web-1', 'db']);
    const a = { ...newWindow([], 'UTC'), tags: ['db'] };
    const e = validateMaintenance([a, { ...a, feeds: [], tags: [] }, { ...a, name: 'x', start: '2026-12-10T22:00:00Z', end: '2026-12-10T21:00:00Z', from: null, to: null, days: [] }]);
    expect(Object.keys(e).sort()).toEqual(['alerts.maintenance[1].feeds', 'alerts.maintenance[1].name', 'alerts.maintenance[2].end']);
  });
});
