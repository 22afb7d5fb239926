import { describe, expect, it } from 'vitest';
import { formatRelative, formatValue, prettyPayload, storedNote } from './format';

describe('formatRelative', () => {
  const now = 1_800_000_000_000;
  it('words past times with Intl, in whole units', () => {
    expect(formatRelative(now - 400, now, 'en')).toBe('now');
    expect(formatRelative(now - 12_300, now, 'en')).toBe('12 sec. ago');
    expect(formatRelative(now - 59_999, now, 'en')).toBe('59 sec. ago');
    expect(formatRelative(now - 60_000, now, 'en')).toBe('1 min. ago');
    expect(formatRelative(now - 3 * 3_600_000 - 5, now, 'en')).toBe('3 hr. ago');
    expect(formatRelative(now - 86_400_000, now, 'en')).toBe('yesterday');
    expect(formatRelative(now - 2 * 86_400_000, now, 'en')).toBe('2 days ago');
  });
  it('words future times, and other languages', () => {
    expect(formatRelative(now + 4_000, now, 'en')).toBe('in 4 sec.');
    expect(formatRelative(now - 3 * 60_000, now, 'de')).toBe('vor 3 Min.');
    expect(formatRelative(now - 86_400_000, now, 'fr')).toBe('hier');
  });
});

describe('formatValue / prettyPayload', () => {
  it('formats numbers compactly', () => {
    expect(formatValue(null)).toBe('—');
    expect(formatValue(49.346)).toBe('49.35');
    expect(formatValue(1234.5)).toBe('1,235');
    expect(formatValue(0.012345)).toBe('0.0123');
    expect(formatValue(1.23e9)).toBe('1,230,000,000');
  });
  it('pretty-prints JSON and leaves other text alone', () => {
    expect(prettyPayload('{"a":1}')).toBe('{\n  "a": 1\n}');
    expect(prettyPayload('{not json')).toBe('{not json');
    expect(prettyPayload('plain')).toBe('plain');
  });
});

describe('storedNote', () => {
  it('says what a counter or a histogram is stored as', () => {
    expect(storedNote({ stored_as: 'value', stored: 3 })).toBe('');
    expect(storedNote({ stored_as: 'rate', stored: null })).toBe(' (a counter, stored as its rate per second: from the next reading)');
    expect(storedNote({ stored_as: 'rate', stored: 1.6 })).toBe(' (a counter, stored as its rate per second: 1.6)');
    expect(storedNote({ stored_as: 'mean', stored: 0.5 })).toBe(' (stored as the mean observation: 0.5)');
  });
});
