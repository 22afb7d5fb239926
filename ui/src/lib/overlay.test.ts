import { describe, expect, it } from 'vitest';
import { alignSeries, labelsText } from './overlay';

describe('overlaid label sets', () => {
  it('aligns series on their merged times; own gaps stay gaps, others\' times are skipped', () => {
    const a = { xs: [1, 3, 5], ys: [10, null, 30], mins: [], maxs: [] };
    const b = { xs: [2, 3, 6], ys: [20, 25, 60], mins: [], maxs: [] };
    const al = alignSeries([a, b]);
    expect(al.xs).toEqual([1, 2, 3, 5, 6]);
    expect(al.ys[0]).toEqual([10, undefined, null, 30, undefined]);
    expect(al.ys[1]).toEqual([undefined, 20, 25, undefined, 60]);
    expect(alignSeries([])).toEqual({ xs: [], ys: [] });
  });
  it('names a series by its labels', () => {
    expect(labelsText('cpu', { mode: 'user', cpu: '0' })).toBe('cpu="0", mode="user"');
    expect(labelsText('cpu', {})).toBe('cpu');
  });
});
