import { describe, expect, it } from 'vitest';
import { HEALTH, healthOf, losses, worstFirst, type Health } from './status';
import type { ConnState, Feed } from './types';

describe('status look', () => {
  it('gives every health a distinct symbol and word', () => {
    const looks = Object.values(HEALTH);
    expect(new Set(looks.map((l) => l.symbol)).size).toBe(looks.length);
    expect(HEALTH.live).toMatchObject({ symbol: '●', word: 'live' });
    expect(HEALTH.stale).toMatchObject({ symbol: '◐', word: 'stale' });
    expect(HEALTH.retrying).toMatchObject({ symbol: '↻', word: 'retrying' });
    expect(HEALTH.down).toMatchObject({ symbol: '✕', word: 'down' });
    expect(HEALTH.alerting).toMatchObject({ symbol: '▲', word: 'alerting' });
    expect(HEALTH.stopped).toMatchObject({ symbol: '■', word: 'stopped' });
  });

  it('maps connection states', () => {
    const cases: [ConnState, boolean, Health][] = [
      [{ state: 'live' }, false, 'live'],
      [{ state: 'live' }, true, 'alerting'],
      [{ state: 'stale', silent_ms: 90_000 }, false, 'stale'],
      [{ state: 'retrying', attempt: 2, next_at: 0, reason: 'refused' }, false, 'retrying'],
      [{ state: 'failed', reason: 'bad url' }, false, 'down'],
      [{ state: 'stopped_by_server', reason: 'HTTP 204 No Content' }, false, 'down'],
      [{ state: 'connecting' }, false, 'connecting'],
      [{ state: 'stopped' }, true, 'stopped'],
    ];
    for (const [state, alerting, want] of cases) expect(healthOf(state, alerting)).toBe(want);
  });
});

describe('worstFirst', () => {
  const feed = (name: string) => ({ name }) as Feed;
  it('sorts worst first, then by name', () => {
    const sorted = worstFirst([
      { feed: feed('b'), health: 'live' as Health },
      { feed: feed('z'), health: 'stopped' as Health },
      { feed: feed('a'), health: 'live' as Health },
      { feed: feed('s'), health: 'stale' as Health },
      { feed: feed('d'), health: 'down' as Health },
      { feed: feed('x'), health: 'alerting' as Health },
      { feed: feed('r'), health: 'retrying' as Health },
    ]);
    expect(sorted.map((i) => i.feed.name)).toEqual(['x', 'd', 'r', 's', 'a', 'b', 'z']);
  });
});

describe('losses', () => {
  it('says nothing when nothing was lost or skipped', () => {
    expect(losses({ dropped: 0, duplicates: 0 })).toEqual([]);
  });
  it('names dropped messages as a problem and skipped replays as information', () => {
    const l = losses({ dropped: 12345, duplicates: 3 });
    expect(l.map((x) => [x.text, x.bad])).toEqual([
      ['12,345 dropped', true],
      ['3 replays skipped', false],
    ]);
  });
});
