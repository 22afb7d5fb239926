// The one API module. In the Tauri shell every call is an IPC command
// (`invoke`), in a browser it is the HTTP API of `telltaled serve` on the
// same origin. Failures always reject with an `ApiFailure`, which carries
// the server's `{code, message}`.
import type {
  Alert,
  CompactReport,
  AlertAction,
  AlertHistoryEntry,
  ApiError,
  DbStats,
  ServerHealth,
  EventPage,
  Feed,
  FeedConfig,
  FeedDetail,
  ImportReport,
  Labels,
  LiveMessage,
  MuteState,
  ProbeInput,
  ProbeReport,
  Series,
  Settings,
  Timeline,
} from './types';
import type { Operations } from './bindings/Operations';
import type { AboutView } from './bindings/AboutView';
import type { MaintenanceView } from './bindings/MaintenanceView';

/** A failed call: the API's `{code, message}` (plus client-side codes `network`, `http_<status>`, `bad_response`). */
export class ApiFailure extends Error implements ApiError {
  readonly code: ApiError['code'];
  constructor(code: ApiError['code'], message: string) {
    super(message);
    this.name = 'ApiFailure';
    this.code = code;
  }
}

/** Turns anything thrown into `{code, message}`. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiFailure) return { code: e.code, message: e.message };
  if (isApiError(e)) return { code: e.code, message: e.message };
  if (e instanceof Error) return { code: 'internal', message: e.message };
  return { code: 'internal', message: String(e) };
}

export function isApiError(v: unknown): v is ApiError {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as Record<string, unknown>).code === 'string' &&
    typeof (v as Record<string, unknown>).message === 'string'
  );
}

export interface SeriesQuery {
  feed: string;
  metric: string;
  labels?: Labels;
  from?: number;
  to?: number;
  maxPoints?: number;
}

export interface EventsQuery {
  feed?: string;
  beforeId?: number;
  search?: string;
  limit?: number;
}

/** State of the live connection, for a status indicator. */
export type LiveStatus =
  | { state: 'connecting' }
  | { state: 'open' }
  | { state: 'waiting'; retryInMs: number; attempt: number };

export interface LiveHandlers {
  onMessage: (msg: LiveMessage) => void;
  onStatus?: (status: LiveStatus) => void;
}

export interface Api {
  readonly mode: 'tauri' | 'http';
  listFeeds(): Promise<Feed[]>;
  getFeed(name: string): Promise<FeedDetail>;
  /** Creates or replaces the feed named `config.name`. */
  upsertFeed(config: FeedConfig, existing?: boolean): Promise<Feed>;
  deleteFeed(name: string): Promise<void>;
  /** *Test connection*: runs the feed briefly without storing anything. */
  testFeed(input: ProbeInput): Promise<ProbeReport>;
  series(q: SeriesQuery): Promise<Series>;
  events(q: EventsQuery): Promise<EventPage>;
  timeline(feed: string, from?: number, to?: number): Promise<Timeline>;
  alerts(): Promise<Alert[]>;
  alertHistory(id: number): Promise<AlertHistoryEntry[]>;
  alertAction(action: AlertAction): Promise<void>;
  /** Snoozes every feed that has `tag` now; the names of those snoozed. */
  snoozeTag(tag: string, secs: number): Promise<string[]>;
  /** Maintenance from now for `secs` of feeds (by name) and tagged feeds: alerts do not notify, uptime leaves it out. */
  startMaintenance(r: { feeds?: string[]; tags?: string[]; secs: number; name?: string }): Promise<MaintenanceView>;
  /** Ends a maintenance window (one running now ends now and is kept). */
  endMaintenance(name: string): Promise<void>;
  muteState(): Promise<MuteState>;
  /** The version, and whether Telltale is storing what it receives. */
  health(): Promise<ServerHealth>;
  /** The version, the operations, and where webhook senders reach this engine. */
  about(): Promise<AboutView>;
  dbStats(): Promise<DbStats>;
  /** Runs retention now and gives free pages back to the file system. */
  compactDb(): Promise<CompactReport>;
  /** The `[store]` and `[alerts]` settings in force. */
  settings(): Promise<Settings>;
  /** Replaces every setting; stored and applied at once. Rejects with `invalid_settings` naming the field. */
  updateSettings(settings: Settings): Promise<Settings>;
  exportConfig(): Promise<string>;
  importConfig(text: string): Promise<ImportReport>;
  /** Subscribes to the live stream; returns the unsubscribe function. */
  live(handlers: LiveHandlers): () => void;
  /** Starts the built-in simulated fleet and adds its feeds (desktop app only). */
  addDemoFleet?: () => Promise<ImportReport>;
  /**
   * Calls `cb` with an alert id when the operator clicks that alert's desktop
   * notification (desktop app only); returns the unsubscribe function.
   */
  onAlertOpen?: (cb: (alertId: number) => void) => () => void;
  /**
   * Calls `cb` with a line the desktop shell wants shown in the window (for
   * example why closing did not close it); returns the unsubscribe function.
   */
  onShellNotice?: (cb: (text: string) => void) => () => void;
}

// ---- operations ---------------------------------------------------------------

/**
 * Runs one API operation. The operations, their request and response types
 * come from the Rust declaration (`crates/telltale-api/src/ops.rs`, generated
 * into `bindings/Operations.ts`); each transport supplies one `call`.
 */
export type Call = <K extends keyof Operations>(
  op: K,
  request: Operations[K]['request'],
) => Promise<Operations[K]['response']>;

/** The `Api` methods over one transport's `call`. */
function operationsOver(call: Call) {
  return {
    listFeeds: () => call('list_feeds', {}),
    getFeed: (name: string) => call('get_feed', { name }),
    upsertFeed: (config: FeedConfig) => call('upsert_feed', config),
    deleteFeed: async (name: string) => {
      await call('delete_feed', { name });
    },
    testFeed: (input: ProbeInput) => call('test_feed', input),
    about: () => call('about', {}),
    series: (q: SeriesQuery) =>
      call('series', {
        feed: q.feed,
        metric: q.metric,
        labels: q.labels,
        from: q.from,
        to: q.to,
        max_points: q.maxPoints,
      }),
    events: (q: EventsQuery) =>
      call('events', { feed: q.feed, before_id: q.beforeId, search: q.search, limit: q.limit }),
    timeline: (feed: string, from?: number, to?: number) => call('timeline', { feed, from, to }),
    alerts: () => call('alerts', {}),
    alertHistory: (id: number) => call('alert_history', { id }),
    alertAction: async (action: AlertAction) => {
      await call('alert_action', action);
    },
    snoozeTag: (tag: string, secs: number) => call('snooze_tag', { tag, secs }),
    startMaintenance: (r: { feeds?: string[]; tags?: string[]; secs: number; name?: string }) =>
      call('start_maintenance', { feeds: r.feeds ?? [], tags: r.tags ?? [], secs: r.secs, name: r.name ?? null }),
    endMaintenance: async (name: string) => {
      await call('end_maintenance', { name });
    },
    muteState: () => call('mute_state', {}),
    health: () => call('health', {}),
    dbStats: () => call('db_stats', {}),
    compactDb: () => call('compact_db', {}),
    settings: () => call('settings', {}),
    updateSettings: (settings: Settings) => call('update_settings', settings),
    exportConfig: () => call('export_config', {}),
    importConfig: (text: string) => call('import_config', { text }),
  } satisfies Omit<Api, 'mode' | 'live' | 'addDemoFleet' | 'onAlertOpen' | 'onShellNotice'>;
}

// ---- browser (HTTP + WebSocket) ---------------------------------------------

export interface HttpDeps {
  /** Origin, e.g. `http://127.0.0.1:7878`. */
  origin: string;
  token: string | null;
  fetch: typeof fetch;
  WebSocket: { new (url: string): WebSocket };
  setTimeout: (fn: () => void, ms: number) => unknown;
  clearTimeout: (id: unknown) => void;
  random: () => number;
}

/** Reconnect delay bound for the n-th failed attempt (n ≥ 1): 0.5 s doubling to 30 s. */
export function backoffMs(attempt: number): number {
  return Math.min(30_000, 500 * 2 ** Math.min(16, Math.max(0, attempt - 1)));
}


export function createHttpApi(deps: HttpDeps): Api {
  async function call(method: string, path: string, body?: { json: unknown }): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (deps.token) headers.Authorization = `Bearer ${deps.token}`;
    // The server refuses a POST, PUT or DELETE that another page could send
    // without a CORS preflight (a text/plain body, no body at all): this
    // header, which pages cannot add across origins unasked, marks ours.
    if (method !== 'GET' && method !== 'HEAD') headers['X-Telltale-Request'] = '1';
    let payload: string | undefined;
    if (body) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body.json);
    }
    let res: Response;
    try {
      res = await deps.fetch(`${deps.origin}/api${path}`, { method, headers, body: payload });
    } catch (e) {
      throw new ApiFailure('network', `cannot reach the Telltale server: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (!res.ok) {
      let err: unknown = null;
      try {
        err = await res.json();
      } catch {
        // not JSON (a proxy's error page, …)
      }
      if (isApiError(err)) throw new ApiFailure(err.code, err.message);
      throw new ApiFailure(`http_${res.status}`, `the server answered ${res.status} ${res.statusText}`.trim());
    }
    return res;
  }
  async function json<T>(method: string, path: string, body?: { json: unknown }): Promise<T> {
    const res = await call(method, path, body);
    try {
      return (await res.json()) as T;
    } catch {
      throw new ApiFailure('bad_response', `the server's answer to ${method} ${path} is not JSON`);
    }
  }

  function live(handlers: LiveHandlers): () => void {
    let ws: WebSocket | null = null;
    let timer: unknown = null;
    let attempt = 0;
    let stopped = false;
    const url = new URL(`${deps.origin}/api/live`);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    if (deps.token) url.searchParams.set('token', deps.token);

    const connect = () => {
      if (stopped) return;
      handlers.onStatus?.({ state: 'connecting' });
      const sock = new deps.WebSocket(url.toString());
      ws = sock;
      sock.onopen = () => {
        attempt = 0;
        handlers.onStatus?.({ state: 'open' });
      };
      sock.onmessage = (ev: MessageEvent) => {
        if (typeof ev.data !== 'string') return;
        let msg: unknown;
        try {
          msg = JSON.parse(ev.data);
        } catch {
          return; // ignore a malformed frame rather than kill the stream
        }
        if (typeof msg === 'object' && msg !== null) handlers.onMessage(msg as LiveMessage);
      };
      sock.onclose = () => {
        if (ws !== sock) return;
        ws = null;
        if (stopped) return;
        attempt += 1;
        // full jitter, at least 250 ms
        const delay = Math.max(250, Math.round(deps.random() * backoffMs(attempt)));
        handlers.onStatus?.({ state: 'waiting', retryInMs: delay, attempt });
        timer = deps.setTimeout(() => {
          timer = null;
          connect();
        }, delay);
      };
      sock.onerror = () => {
        // a close event follows; reconnecting happens there
      };
    };
    connect();
    return () => {
      stopped = true;
      if (timer !== null) deps.clearTimeout(timer);
      const sock = ws;
      ws = null;
      if (sock) {
        sock.onclose = null;
        sock.onmessage = null;
        sock.close(1000);
      }
    };
  }

  // Every operation is `POST /api/call/{op}` with its request as JSON.
  const callOp: Call = (op, request) => json('POST', `/call/${op}`, { json: request });
  return { mode: 'http', ...operationsOver(callOp), live };
}

// ---- Tauri (IPC) -------------------------------------------------------------

/**
 * The shell registers one command per `Api` method, named in snake_case
 * (`list_feeds`, `get_feed`, …); arguments use Tauri's camelCase mapping of
 * the Rust parameter names. Live data arrives through a `Channel` passed to
 * `subscribe_live`.
 */
/** Listens for a Tauri event from the shell; returns the unsubscribe function. */
function listenShell(event: string, cb: (payload: unknown) => void): () => void {
  let active = true;
  let unlisten: (() => void) | null = null;
  void import('@tauri-apps/api/event').then(({ listen }) =>
    listen<unknown>(event, (e) => {
      if (active) cb(e.payload);
    }).then((u) => {
      if (active) {
        unlisten = u;
        // Says which shell events the window hears (end-to-end tests wait for it).
        const root = document.documentElement;
        root.dataset.listening = [root.dataset.listening, event].filter(Boolean).join(' ');
      } else u();
    }),
  );
  return () => {
    active = false;
    unlisten?.();
  };
}

export function createTauriApi(): Api {
  const core = import('@tauri-apps/api/core');
  async function invoke<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
    const { invoke } = await core;
    try {
      return await invoke<T>(cmd, args);
    } catch (e) {
      const err = toApiError(e);
      throw new ApiFailure(err.code, err.message);
    }
  }
  // Every operation goes through the shell's one `call` command.
  const callOp: Call = (op, request) => invoke('call', { op, request });
  return {
    mode: 'tauri',
    ...operationsOver(callOp),
    addDemoFleet: () => invoke('add_demo_fleet'),
    onAlertOpen: (cb) =>
      listenShell('alert-open', (p) => {
        if (typeof p === 'number') cb(p);
      }),
    onShellNotice: (cb) =>
      listenShell('shell-notice', (p) => {
        if (typeof p === 'string') cb(p);
      }),
    live: (handlers) => {
      let active = true;
      void core.then(({ Channel, invoke }) => {
        if (!active) return;
        const channel = new Channel<LiveMessage>();
        channel.onmessage = (msg) => {
          if (active) handlers.onMessage(msg);
        };
        handlers.onStatus?.({ state: 'open' });
        invoke('subscribe_live', { channel }).catch(() => handlers.onStatus?.({ state: 'connecting' }));
      });
      return () => {
        active = false;
      };
    },
  };
}

// ---- choosing one -------------------------------------------------------------

const TOKEN_KEY = 'telltale.token';

/**
 * The API token: `?token=` in the page URL (then kept in sessionStorage and
 * removed from the address bar), else the one stored earlier in this tab.
 */
export function readToken(loc: Location, storage: Storage | null, history: History | null): string | null {
  const params = new URLSearchParams(loc.search);
  const fromUrl = params.get('token');
  if (fromUrl) {
    try {
      storage?.setItem(TOKEN_KEY, fromUrl);
    } catch {
      // storage may be disabled
    }
    params.delete('token');
    const rest = params.toString();
    history?.replaceState(history.state, '', `${loc.pathname}${rest ? `?${rest}` : ''}${loc.hash}`);
    return fromUrl;
  }
  try {
    return storage?.getItem(TOKEN_KEY) ?? null;
  } catch {
    return null;
  }
}

export function isTauri(w: object): boolean {
  return '__TAURI_INTERNALS__' in w;
}

let instance: Api | null = null;

/** The app's API, created on first use. */
export function api(): Api {
  if (instance) return instance;
  if (isTauri(window)) {
    instance = createTauriApi();
  } else {
    let storage: Storage | null = null;
    try {
      storage = window.sessionStorage;
    } catch {
      storage = null;
    }
    instance = createHttpApi({
      origin: window.location.origin,
      token: readToken(window.location, storage, window.history),
      fetch: window.fetch.bind(window),
      WebSocket: window.WebSocket,
      setTimeout: (fn, ms) => window.setTimeout(fn, ms),
      clearTimeout: (id) => window.clearTimeout(id as number),
      random: Math.random,
    });
  }
  return instance;
}
