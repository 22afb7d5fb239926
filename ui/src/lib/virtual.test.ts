import { describe, expect, it } from 'vitest';
import { TailBuffer, indexAt, rowTop, virtualWindow } from './virtual';

describe('virtualWindow', () => {
  it('renders only the visible rows plus overscan, whatever the row count', () => {
    const w = virtualWindow({ count: 100_000, rowHeight: 28, scrollTop: 28 * 50_000, viewportHeight: 280, overscan: 5 });
    expect(w.start).toBe(49_995);
    expect(w.end).toBe(50_015);
    expect(w.end - w.start).toBeLessThanOrEqual(20);
    expect(w.padTop).toBe(49_995 * 28);
    expect(w.padTop + (w.end - w.start) * 28 + w.padBottom).toBe(w.total);
    expect(w.total).toBe(2_800_000);
  });

  it('starts at the top and clamps past the end', () => {
    expect(virtualWindow({ count: 10, rowHeight: 20, scrollTop: 0, viewportHeight: 100, overscan: 2 })).toEqual({
      start: 0, end: 7, padTop: 0, padBottom: 60, total: 200,
    });
    const w = virtualWindow({ count: 10, rowHeight: 20, scrollTop: 10_000, viewportHeight: 100, overscan: 0 });
    expect([w.start, w.end, w.padBottom]).toEqual([5, 10, 0]);
  });

  it('handles no rows and a list shorter than the viewport', () => {
    expect(virtualWindow({ count: 0, rowHeight: 20, scrollTop: 0, viewportHeight: 100 })).toMatchObject({ start: 0, end: 0, total: 0 });
    expect(virtualWindow({ count: 3, rowHeight: 20, scrollTop: 0, viewportHeight: 500 })).toMatchObject({ start: 0, end: 3, padBottom: 0 });
  });

  it('accounts for one expanded, taller row', () => {
    const expanded = { index: 2, height: 220 };
    expect(rowTop(2, 20, expanded)).toBe(40);
    expect(rowTop(3, 20, expanded)).toBe(260);
    expect(indexAt(100, 100, 20, expanded)).toBe(2);
    expect(indexAt(260, 100, 20, expanded)).toBe(3);
    expect(indexAt(25, 100, 20, expanded)).toBe(1);
    const w = virtualWindow({ count: 100, rowHeight: 20, scrollTop: 270, viewportHeight: 100, overscan: 0, expanded });
    expect(w.start).toBe(3);
    expect(w.end).toBe(9);
    expect(w.total).toBe(2200);
    expect(w.padTop).toBe(260);
    expect(w.padTop + 6 * 20 + w.padBottom).toBe(w.total);
  });
});

describe('TailBuffer', () => {
  it('keeps the newest rows, newest first, within capacity', () => {
    const b = new TailBuffer<number>(5);
    b.pushNewest([1, 2, 3]);
    expect(b.slice(0, 10)).toEqual([3, 2, 1]);
    expect(b.pushNewest([4, 5, 6, 7])).toBe(2);
    expect(b.length).toBe(5);
    expect(b.slice(0, 10)).toEqual([7, 6, 5, 4, 3]);
    expect(b.at(0)).toBe(7);
    expect(b.oldest()).toBe(3);
    for (let i = 8; i < 100; i++) b.pushNewest([i]);
    expect(b.slice(0, 5)).toEqual([99, 98, 97, 96, 95]);
    expect(b.length).toBe(5);
  });

  it('adds older pages at the old end, up to capacity', () => {
    const b = new TailBuffer<number>(6);
    b.pushNewest([10, 11]);
    expect(b.appendOlder([9, 8, 7])).toBe(3);
    expect(b.slice(0, 10)).toEqual([11, 10, 9, 8, 7]);
    expect(b.appendOlder([6, 5, 4])).toBe(1);
    expect(b.slice(0, 10)).toEqual([11, 10, 9, 8, 7, 6]);
    expect(b.slice(2, 4)).toEqual([9, 8]);
  });
});
