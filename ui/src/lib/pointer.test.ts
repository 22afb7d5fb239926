import { describe, expect, it } from 'vitest';
import { escapeToken, pointerFromPath, resolvePointer, suggestMetricName } from './pointer';

describe('JSON pointer (RFC 6901)', () => {
  it('builds pointers from paths', () => {
    expect(pointerFromPath([])).toBe('');
    expect(pointerFromPath(['cpu'])).toBe('/cpu');
    expect(pointerFromPath(['disks', 0, 'used'])).toBe('/disks/0/used');
    expect(pointerFromPath([''])).toBe('/');
  });
  it('escapes ~ before /', () => {
    expect(escapeToken('a/b')).toBe('a~1b');
    expect(escapeToken('m~n')).toBe('m~0n');
    expect(escapeToken('~/')).toBe('~0~1');
    expect(pointerFromPath(['io/s', 'a~b'])).toBe('/io~1s/a~0b');
  });
  it('round-trips through resolve', () => {
    const doc = { 'io/s': { 'a~b': 7, list: [1, { x: 2 }] }, '': 3 };
    for (const path of [['io/s', 'a~b'], ['io/s', 'list', 1, 'x'], ['']] as const) {
      expect(resolvePointer(doc, pointerFromPath(path))).toBeTypeOf('number');
    }
    expect(resolvePointer(doc, '/io~1s/a~0b')).toBe(7);
    expect(resolvePointer(doc, '/io~1s/list/01')).toBeUndefined();
    expect(resolvePointer(doc, '/nope')).toBeUndefined();
  });
  it('suggests a metric name', () => {
    expect(suggestMetricName(['load', 0])).toBe('load_0');
    expect(suggestMetricName(['io/s', 'Read Bytes'])).toBe('io_s_read_bytes');
  });
});

import { fieldOfError, leaves } from './pointer';

describe('click-to-metric helpers', () => {
  it('lists scalar leaves with escaped pointers', () => {
    const l = leaves({ cpu: 1.5, 'a/b': { 'c~d': [2, 'x'] }, ok: true });
    expect(l.map((x) => [x.pointer, x.value])).toEqual([
      ['/cpu', 1.5],
      ['/a~1b/c~0d/0', 2],
      ['/a~1b/c~0d/1', 'x'],
      ['/ok', true],
    ]);
  });
  it('finds the field named in an invalid_feed message', () => {
    expect(fieldOfError('feed `x`: field `poll.interval` is below 100ms')).toBe('poll.interval');
    expect(fieldOfError('no field here')).toBeNull();
  });
});
