import { describe, expect, it } from 'vitest';
import { checkRange, fromLocalInput, toLocalInput, zoomRange } from './range';

describe('custom range', () => {
  it('round-trips datetime-local values in local time', () => {
    const ms = new Date(2026, 10, 25, 20, 8).getTime();
    expect(toLocalInput(ms)).toBe('2026-11-25T20:08');
    expect(fromLocalInput('2026-11-25T20:08')).toBe(ms);
    expect(fromLocalInput('2026-11-25T20:08:30')).toBe(ms + 30_000);
    expect(fromLocalInput('2026-02-31T10:00')).toBeNull();
    expect(fromLocalInput('')).toBeNull();
  });

  it('checks order and presence', () => {
    const now = new Date(2026, 10, 25, 21, 0).getTime();
    expect(checkRange('2026-11-25T20:00', '2026-11-25T20:30', now)).toEqual({
      ok: true,
      from: new Date(2026, 10, 25, 20, 0).getTime(),
      to: new Date(2026, 10, 25, 20, 30).getTime(),
    });
    expect(checkRange('2026-11-25T20:30', '2026-11-25T20:00', now)).toMatchObject({ ok: false, field: 'to' });
    expect(checkRange('', '2026-11-25T20:00', now)).toMatchObject({ ok: false, field: 'from' });
    expect(checkRange('2026-11-25T22:00', '2026-11-25T23:00', now)).toMatchObject({ ok: false, field: 'from' });
  });

  it('turns a drag selection into a range, ignoring a click', () => {
    expect(zoomRange(1000.5, 1060)).toEqual({ from: 1_000_500, to: 1_060_000 });
    expect(zoomRange(1060, 1000)).toEqual({ from: 1_000_000, to: 1_060_000 });
    expect(zoomRange(1000, 1000.2)).toBeNull();
    expect(zoomRange(NaN, 1)).toBeNull();
  });
});
