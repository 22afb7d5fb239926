import { describe, expect, it } from 'vitest';
import { formatUnit, metricOfKey } from './units';

describe('units', () => {
  it('reads values in their unit, as the engine does', () => {
    expect(formatUnit(1_288_490_189, 'bytes')).toBe('1.2 GiB');
    expect(formatUnit(512, 'bytes')).toBe('512 B');
    expect(formatUnit(34.04, 'percent')).toBe('34 %');
    expect(formatUnit(0.345, 'ratio')).toBe('34.5 %');
    expect(formatUnit(0.12, 'seconds')).toBe('120 ms');
    expect(formatUnit(120, 'ms')).toBe('120 ms');
    expect(formatUnit(4.5, 'seconds')).toBe('4.5 s');
    expect(formatUnit(7200, 'seconds')).toBe('2 h');
    expect(formatUnit(120e6, 'bits_per_second')).toBe('120 Mbit/s');
    expect(formatUnit(3.5 * 1024 * 1024, 'bytes_per_second')).toBe('3.5 MiB/s');
    expect(formatUnit(12, 'per_second')).toBe('12 /s');
    expect(formatUnit(61.26, 'celsius')).toBe('61.3 °C');
    expect(formatUnit(12.5, 'days')).toBe('12.5 d');
    expect(formatUnit(0.25, 'days')).toBe('6 h');
    expect(formatUnit(-2, 'days')).toBe('-2 d');
  });
  it('never shows exponents: big numbers are grouped', () => {
    expect(formatUnit(1.23e9)).toBe('1,230,000,000');
    expect(formatUnit(1.23e9)).not.toMatch(/e\+/);
    expect(formatUnit(0.01234)).toBe('0.0123');
    expect(formatUnit(-2.5)).toBe('-2.5');
    expect(formatUnit(null, 'bytes')).toBe('—');
    expect(formatUnit(Number.NaN)).toBe('—');
  });
  it('finds the metric of a series key', () => {
    expect(metricOfKey('cpu{core="0"}')).toBe('cpu');
    expect(metricOfKey('cpu')).toBe('cpu');
  });
});
