import { describe, expect, it, vi } from 'vitest';
import { ApiFailure, backoffMs, createHttpApi, readToken, type HttpDeps, type LiveStatus } from './api';
import type { LiveMessage } from './types';

function jsonResponse(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

class FakeSocket {
  static all: FakeSocket[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: (() => void) | null = null;
  onerror: (() => void) | null = null;
  closed: number | null = null;
  constructor(public url: string) {
    FakeSocket.all.push(this);
  }
  close(code: number) {
    this.closed = code;
  }
}

function deps(over: Partial<HttpDeps> = {}): HttpDeps & { timers: { fn: () => void; ms: number }[] } {
  const timers: { fn: () => void; ms: number }[] = [];
  return {
    origin: 'http://127.0.0.1:7878',
    token: null,
    fetch: vi.fn(async () => jsonResponse([])) as unknown as typeof fetch,
    WebSocket: FakeSocket as unknown as HttpDeps['WebSocket'],
    setTimeout: (fn, ms) => {
      timers.push({ fn, ms });
      return timers.length;
    },
    clearTimeout: () => {},
    random: () => 1,
    timers,
    ...over,
  };
}

describe('http api', () => {
  it('posts every operation to /api/call/{op} with its request and the bearer token', async () => {
    const fetch = vi.fn(async () => jsonResponse({ feed: 'a', points: [] }));
    const a = createHttpApi(deps({ fetch: fetch as unknown as typeof globalThis.fetch, token: 's3cret' }));
    await a.series({ feed: 'a b/c', metric: 'cpu', labels: { mode: 'idle' }, from: 1, to: 2, maxPoints: 50 });
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('http://127.0.0.1:7878/api/call/series');
    expect(init.method).toBe('POST');
    expect(JSON.parse(init.body as string)).toEqual({
      feed: 'a b/c',
      metric: 'cpu',
      labels: { mode: 'idle' },
      from: 1,
      to: 2,
      max_points: 50,
    });
    expect((init.headers as Record<string, string>).Authorization).toBe('Bearer s3cret');
  });

  it('sends a feed as the upsert request itself', async () => {
    const fetch = vi.fn(async () => jsonResponse({ name: 'x' }));
    const a = createHttpApi(deps({ fetch: fetch as unknown as typeof globalThis.fetch }));
    await a.upsertFeed({ name: 'x', transport: 'poll', url: 'http://h/', format: 'json' }, true);
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('http://127.0.0.1:7878/api/call/upsert_feed');
    expect((init.headers as Record<string, string>)['Content-Type']).toBe('application/json');
    expect(JSON.parse(init.body as string)).toMatchObject({ name: 'x', transport: 'poll' });
  });

  it('posts alert actions and resolves to nothing', async () => {
    const fetch = vi.fn(async () => jsonResponse(null));
    const a = createHttpApi(deps({ fetch: fetch as unknown as typeof globalThis.fetch }));
    await expect(a.alertAction({ action: 'snooze_alert', id: 3, secs: 3600 })).resolves.toBeUndefined();
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('http://127.0.0.1:7878/api/call/alert_action');
    expect(JSON.parse(init.body as string)).toEqual({ action: 'snooze_alert', id: 3, secs: 3600 });
  });

  it('marks every call as its own and sends requests as JSON', async () => {
    const fetch = vi.fn(async () => jsonResponse({ imported: [], errors: [], notes: [] }));
    const a = createHttpApi(deps({ fetch: fetch as unknown as typeof globalThis.fetch }));
    await a.importConfig('[alerts]\nflood_max = 3\n');
    await a.compactDb();
    await a.deleteFeed('x');
    await a.listFeeds();
    const calls = fetch.mock.calls as unknown as [string, RequestInit][];
    const headers = calls.map(([, init]) => init.headers as Record<string, string>);
    expect(calls.map(([url]) => new URL(url).pathname)).toEqual([
      '/api/call/import_config',
      '/api/call/compact_db',
      '/api/call/delete_feed',
      '/api/call/list_feeds',
    ]);
    expect(calls.every(([, init]) => init.method === 'POST')).toBe(true);
    expect(headers.map((h) => h['X-Telltale-Request'])).toEqual(['1', '1', '1', '1']);
    expect(headers.map((h) => h['Content-Type'])).toEqual(Array(4).fill('application/json'));
    expect(JSON.parse(calls[0]![1].body as string)).toEqual({ text: '[alerts]\nflood_max = 3\n' });
  });

  it('surfaces API errors as {code, message}', async () => {
    const fetch = vi.fn(async () =>
      jsonResponse({ code: 'invalid_feed', message: 'feed `x`: field `poll.interval` is below 100ms' }, 400),
    );
    const a = createHttpApi(deps({ fetch: fetch as unknown as typeof globalThis.fetch }));
    const err = await a.listFeeds().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiFailure);
    expect(err).toMatchObject({ code: 'invalid_feed', message: 'feed `x`: field `poll.interval` is below 100ms' });
  });

  it('maps network failures and non-JSON errors to codes', async () => {
    const down = createHttpApi(
      deps({ fetch: (async () => Promise.reject(new TypeError('Failed to fetch'))) as unknown as typeof fetch }),
    );
    await expect(down.alerts()).rejects.toMatchObject({ code: 'network' });
    const proxy = createHttpApi(
      deps({ fetch: (async () => new Response('<h1>Bad gateway</h1>', { status: 502 })) as unknown as typeof fetch }),
    );
    await expect(proxy.alerts()).rejects.toMatchObject({ code: 'http_502' });
  });

  it('streams live messages and reconnects with growing backoff', () => {
    FakeSocket.all = [];
    const d = deps({ token: 'tok' });
    const a = createHttpApi(d);
    const got: LiveMessage[] = [];
    const statuses: LiveStatus[] = [];
    const stop = a.live({ onMessage: (m) => got.push(m), onStatus: (s) => statuses.push(s) });
    const first = FakeSocket.all[0]!;
    expect(first.url).toBe('ws://127.0.0.1:7878/api/live?token=tok');
    first.onopen?.();
    first.onmessage?.({ data: JSON.stringify({ samples: [], events: [], states: [], events_omitted: 0 }) } as MessageEvent);
    first.onmessage?.({ data: 'not json' } as MessageEvent);
    first.onmessage?.({ data: '{"lagged":3}' } as MessageEvent);
    expect(got).toEqual([{ samples: [], events: [], states: [], events_omitted: 0 }, { lagged: 3 }]);

    first.onclose?.();
    expect(d.timers[0]!.ms).toBe(backoffMs(1));
    d.timers[0]!.fn();
    const second = FakeSocket.all[1]!;
    second.onclose?.(); // never opened: the delay grows
    expect(d.timers[1]!.ms).toBe(backoffMs(2));
    expect(statuses.map((s) => s.state)).toEqual(['connecting', 'open', 'waiting', 'connecting', 'waiting']);

    d.timers[1]!.fn();
    const third = FakeSocket.all[2]!;
    stop();
    expect(third.closed).toBe(1000);
    expect(FakeSocket.all).toHaveLength(3);
  });

  it('backoff doubles from 500 ms up to 30 s', () => {
    expect([1, 2, 3, 4].map(backoffMs)).toEqual([500, 1000, 2000, 4000]);
    expect(backoffMs(50)).toBe(30_000);
  });

  it('takes the token from ?token= and keeps it for the tab', () => {
    const store = new Map<string, string>();
    const storage = {
      getItem: (k: string) => store.get(k) ?? null,
      setItem: (k: string, v: string) => void store.set(k, v),
    } as unknown as Storage;
    const replaced: string[] = [];
    const history = { state: null, replaceState: (_s: unknown, _t: string, url: string) => replaced.push(url) } as unknown as History;
    const loc = { search: '?token=abc&x=1', pathname: '/', hash: '#/alerts' } as Location;
    expect(readToken(loc, storage, history)).toBe('abc');
    expect(replaced).toEqual(['/?x=1#/alerts']);
    expect(readToken({ search: '', pathname: '/', hash: '' } as Location, storage, history)).toBe('abc');
  });
});
