import { describe, expect, it } from 'vitest';
import { formatLabels, parsePrometheus, parseSampleLine, promMetricName, storedAs } from './prometheus';

const TEXT = `# HELP node_load1 1m load average.
# TYPE node_load1 gauge
node_load1 0.42
# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu="0",mode="idle"} 1234.5
node_cpu_seconds_total{cpu="0",mode="user"} 99 1700000000000
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.1"} 3
http_request_duration_seconds_bucket{le="+Inf"} 5
http_request_duration_seconds_sum 0.7
weird{path="a \\"quoted\\" \\\\ value",x="y,z"} -Inf
not a sample line
broken{x="1" 2
`;

describe('prometheus text', () => {
  it('lists sample names with their label sets, type and help', () => {
    const fams = parsePrometheus(TEXT);
    expect(fams.map((f) => f.name)).toEqual([
      'node_load1',
      'node_cpu_seconds_total',
      'http_request_duration_seconds_bucket',
      'http_request_duration_seconds_sum',
      'weird',
    ]);
    const cpu = fams[1]!;
    expect(cpu.type).toBe('counter');
    expect(cpu.help).toBe('Seconds the CPUs spent in each mode.');
    expect(cpu.series.map((s) => [s.labels, s.value])).toEqual([
      [{ cpu: '0', mode: 'idle' }, 1234.5],
      [{ cpu: '0', mode: 'user' }, 99],
    ]);
    expect(fams[2]!.type).toBe('histogram');
    expect(fams[2]!.series[1]).toEqual({ name: 'http_request_duration_seconds_bucket', labels: { le: '+Inf' }, value: 5 });
    expect(fams[4]!.series[0]!.value).toBe(-Infinity);
  });

  it('reads escaped label values and special values', () => {
    expect(parseSampleLine('weird{path="a \\"q\\" \\\\ v",x="y,z"} -Inf')).toEqual({
      name: 'weird',
      labels: { path: 'a "q" \\ v', x: 'y,z' },
      value: -Infinity,
    });
    expect(parseSampleLine('x NaN')!.value).toBeNaN();
    expect(parseSampleLine('x{} 1e3')!.value).toBe(1000);
  });

  it('skips comments and unreadable lines', () => {
    expect(parseSampleLine('# HELP x y')).toBeNull();
    expect(parseSampleLine('broken{x="1" 2')).toBeNull();
    expect(parseSampleLine('x abc')).toBeNull();
    expect(parseSampleLine('{x="1"} 2')).toBeNull();
    expect(parsePrometheus('').length).toBe(0);
  });

  it('names a picked series', () => {
    expect(promMetricName('node_load1')).toBe('node_load1');
    expect(promMetricName('node_cpu_seconds_total', { mode: 'idle', cpu: '0' })).toBe('node_cpu_seconds_total_0_idle');
    expect(formatLabels({ mode: 'idle', cpu: '0' })).toBe('cpu="0", mode="idle"');
  });
});

describe('storedAs', () => {
  it('says a counter, or a histogram part, is stored as a rate', () => {
    const fams = parsePrometheus('# TYPE a_total counter\na_total 1\n# TYPE h histogram\nh_sum 1\nh_count 2\n# TYPE g gauge\ng 3\n');
    expect(fams.map((f) => storedAs(f))).toEqual([' · stored as a rate per second', ' · stored as a rate per second', ' · stored as a rate per second', '']);
  });
});
