import { describe, expect, it } from 'vitest';
import { href, parseHash } from './router.svelte';

describe('router', () => {
  it('opens one alert from #/alerts/ID (notification clicks)', () => {
    expect(parseHash('#/alerts/42')).toEqual({ name: 'alerts', alert: 42 });
    expect(href({ name: 'alerts', alert: 42 })).toBe('#/alerts/42');
  });
  it('ignores an alert id that is not a positive integer', () => {
    expect(parseHash('#/alerts/abc')).toEqual({ name: 'alerts' });
    expect(parseHash('#/alerts/-3')).toEqual({ name: 'alerts' });
    expect(parseHash('#/alerts')).toEqual({ name: 'alerts' });
  });
  it('round-trips feed names that need escaping', () => {
    const r = { name: 'feed', feed: 'a/b c' } as const;
    expect(parseHash(href(r))).toEqual(r);
  });
});
