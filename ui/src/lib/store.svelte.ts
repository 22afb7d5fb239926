// App-wide state: feeds, alerts and mute from polling, live data from the
// stream. Live messages are queued and applied once per animation frame;
// components re-render from one `version` bump per frame, never per message.
import { api, toApiError, type LiveStatus } from './api';
import { seriesKey } from './chartdata';
import { healthOf, type Health } from './status';
import type { Alert, ApiError, ConnState, Feed, LiveBatch, LiveMessage, MuteState, ServerHealth } from './types';

/** Numbers a poll, a TCP check or a TLS connection records about itself; a sparkline prefers the payload's own metrics. */
const TRANSPORT_METRICS = new Set(['http_status', 'response_ms', 'up', 'tls_days_left']);

export const SPARK_POINTS = 120;

export interface FeedLive {
  /** Latest value per series key. */
  values: Map<string, { value: number; ts: number }>;
  /** Recent values of the feed's first metric, oldest first. */
  spark: number[];
  sparkKey: string | null;
  /** Bumped whenever `spark` changes, so a sparkline redraws only then. */
  sparkRev: number;
  lastSeen: number | null;
  state: ConnState | null;
  stateSince: number | null;
}

export type BatchListener = (batches: LiveBatch[], lagged: boolean) => void;

class Store {
  feeds = $state.raw<Feed[]>([]);
  alerts = $state.raw<Alert[]>([]);
  mute = $state.raw<MuteState | null>(null);
  /** Whether Telltale is storing what it receives (shown in the header). */
  health = $state.raw<ServerHealth | null>(null);
  loaded = $state(false);
  error = $state.raw<ApiError | null>(null);
  liveStatus = $state.raw<LiveStatus>({ state: 'connecting' });
  /** Bumped once per frame in which live data arrived. */
  version = $state(0);
  /** Wall clock, ticking every second for relative times. */
  now = $state(Date.now());

  private live = new Map<number, FeedLive>();
  private pending: LiveMessage[] = [];
  private frame: number | null = null;
  private listeners = new Set<BatchListener>();
  private stop: (() => void) | null = null;
  private timers: number[] = [];
  private seeded = new Set<number>();

  start(): void {
    if (this.stop) return;
    void this.refresh();
    this.timers.push(window.setInterval(() => void this.refresh(), 5_000));
    this.timers.push(window.setInterval(() => (this.now = Date.now()), 1_000));
    let wasOpen = false;
    this.stop = api().live({
      onMessage: (m) => this.enqueue(m),
      onStatus: (s) => {
        this.liveStatus = s;
        if (s.state === 'open') {
          // after a reconnect, what was missed is in the history
          if (wasOpen) {
            void this.refresh();
            for (const l of this.listeners) l([], true);
          }
          wasOpen = true;
        }
      },
    });
  }

  async refresh(): Promise<void> {
    try {
      const [feeds, alerts, mute, health] = await Promise.all([
        api().listFeeds(),
        api().alerts(),
        api().muteState(),
        api().health(),
      ]);
      this.feeds = feeds;
      this.alerts = alerts;
      this.mute = mute;
      this.health = health;
      this.error = null;
      for (const f of feeds) {
        const l = this.liveOf(f.id);
        // a polled status is newer than a live one only when it says so
        if (l.state && f.state_since !== null && l.stateSince !== null && f.state_since >= l.stateSince) {
          l.state = null;
          l.stateSince = null;
        }
        if (f.last_message_at !== null && (l.lastSeen === null || f.last_message_at > l.lastSeen)) {
          l.lastSeen = f.last_message_at;
        }
        if (!this.seeded.has(f.id)) {
          this.seeded.add(f.id);
          void this.seed(f);
        }
      }
    } catch (e) {
      this.error = toApiError(e);
    } finally {
      this.loaded = true;
    }
  }

  /** Latest values and a sparkline for a feed, from its history. */
  private async seed(f: Feed): Promise<void> {
    try {
      const detail = await api().getFeed(f.name);
      const l = this.liveOf(f.id);
      for (const s of detail.series) {
        const key = seriesKey(s.metric, s.labels);
        if (s.last_value !== null && s.last_ts !== null && !l.values.has(key)) {
          l.values.set(key, { value: s.last_value, ts: s.last_ts });
        }
      }
      // the sparkline follows the feed's own first metric, not a poll's http_status
      const first = detail.series.find((s) => s.metric === f.metrics[0]) ?? detail.series.find((s) => !TRANSPORT_METRICS.has(s.metric)) ?? detail.series[0];
      if (first && l.spark.length === 0) {
        l.sparkKey = seriesKey(first.metric, first.labels);
        const now = Date.now();
        const series = await api().series({
          feed: f.name,
          metric: first.metric,
          labels: first.labels,
          from: now - 10 * 60_000,
          to: now,
          maxPoints: SPARK_POINTS,
        });
        if (l.spark.length === 0) {
          l.spark = series.points.map((p) => p.avg);
          l.sparkRev++;
        }
      }
      this.version++;
    } catch {
      // a feed without history: the tile fills from live data
    }
  }

  liveOf(feedId: number): FeedLive {
    let l = this.live.get(feedId);
    if (!l) {
      l = { values: new Map(), spark: [], sparkKey: null, sparkRev: 0, lastSeen: null, state: null, stateSince: null };
      this.live.set(feedId, l);
    }
    return l;
  }

  /** The connection state, live if newer than the last poll. */
  stateOf(f: Feed): ConnState {
    return this.live.get(f.id)?.state ?? f.state;
  }

  isAlerting(feedId: number): boolean {
    return this.firingFeeds.has(feedId);
  }

  /** Feeds with a firing alert: one pass over the alerts, not one per feed. */
  private get firingFeeds(): Set<number> {
    if (this.firingOf !== this.alerts) {
      this.firingOf = this.alerts;
      this.firingSet = new Set(this.alerts.filter((a) => a.phase === 'firing').map((a) => a.feed_id));
    }
    return this.firingSet;
  }
  private firingOf: Alert[] | null = null;
  private firingSet = new Set<number>();

  healthOf(f: Feed): Health {
    return healthOf(this.stateOf(f), this.isAlerting(f.id), f.maintenance !== null);
  }

  onBatches(l: BatchListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  enqueue(m: LiveMessage): void {
    this.pending.push(m);
    if (this.pending.length > 2_000) {
      // a hidden tab gets no frames: apply now to bound memory
      this.flush();
      return;
    }
    if (this.frame === null) this.frame = requestAnimationFrame(() => this.flush());
  }

  flush(): void {
    if (this.frame !== null) {
      cancelAnimationFrame(this.frame);
      this.frame = null;
    }
    const msgs = this.pending;
    this.pending = [];
    if (!msgs.length) return;
    const batches: LiveBatch[] = [];
    let lagged = false;
    for (const m of msgs) {
      if ('lagged' in m) {
        lagged = true;
        continue;
      }
      batches.push(m);
      this.apply(m);
    }
    for (const l of this.listeners) l(batches, lagged);
    this.version++;
  }

  private apply(b: LiveBatch): void {
    for (const s of b.samples) {
      const l = this.liveOf(s.feed_id);
      const key = seriesKey(s.metric, s.labels);
      l.values.set(key, { value: s.value, ts: s.ts });
      if (l.sparkKey === null && !TRANSPORT_METRICS.has(s.metric)) l.sparkKey = key;
      if (l.sparkKey === key) {
        l.spark.push(s.value);
        if (l.spark.length > SPARK_POINTS) l.spark.splice(0, l.spark.length - SPARK_POINTS);
        l.sparkRev++;
      }
      if (l.lastSeen === null || s.ts > l.lastSeen) l.lastSeen = s.ts;
    }
    for (const e of b.events) {
      const l = this.liveOf(e.feed_id);
      if (l.lastSeen === null || e.received_at > l.lastSeen) l.lastSeen = e.received_at;
    }
    for (const st of b.states) {
      if (st.issue) continue;
      const l = this.liveOf(st.feed_id);
      l.state = st.state;
      l.stateSince = st.ts;
    }
  }

  dispose(): void {
    this.stop?.();
    this.stop = null;
    for (const t of this.timers) window.clearInterval(t);
    this.timers = [];
  }
}

export const store = new Store();
