import type { ConnState, Feed } from './types';

/** What a feed tile shows, worst first. */
export type Health = 'alerting' | 'down' | 'retrying' | 'stale' | 'connecting' | 'live' | 'maintenance' | 'stopped';

export interface HealthLook {
  /** A shape that tells the state without colour. */
  symbol: string;
  /** The word shown next to it. */
  word: string;
  /** Sort rank: lower is worse. */
  rank: number;
}

export const HEALTH: Record<Health, HealthLook> = {
  alerting: { symbol: '▲', word: 'alerting', rank: 0 },
  down: { symbol: '✕', word: 'down', rank: 1 },
  retrying: { symbol: '↻', word: 'retrying', rank: 2 },
  stale: { symbol: '◐', word: 'stale', rank: 3 },
  connecting: { symbol: '○', word: 'connecting', rank: 4 },
  live: { symbol: '●', word: 'live', rank: 5 },
  maintenance: { symbol: '⚒', word: 'maintenance', rank: 6 },
  stopped: { symbol: '■', word: 'stopped', rank: 7 },
};

/**
 * A feed's health from its connection state, whether any alert fires for
 * it and whether a maintenance window covers it (which reads maintenance,
 * not down or alerting: the work is planned).
 */
export function healthOf(state: ConnState, alerting: boolean, maintenance = false): Health {
  if (state.state === 'stopped') return 'stopped';
  if (maintenance) return 'maintenance';
  if (alerting) return 'alerting';
  switch (state.state) {
    case 'failed':
    case 'stopped_by_server':
      return 'down';
    case 'retrying':
      return 'retrying';
    case 'stale':
      return 'stale';
    case 'connecting':
      return 'connecting';
    case 'live':
      return 'live';
  }
}

/** Health from a timeline's state name (`live`, `stale`, `retrying`, …). */
export function healthOfStateName(name: string): Health {
  switch (name) {
    case 'live':
    case 'stale':
    case 'retrying':
    case 'connecting':
    case 'stopped':
    case 'maintenance':
      return name;
    case 'failed':
    case 'stopped_by_server':
    case 'down':
      return 'down';
    default:
      return 'connecting';
  }
}

/** A sentence about the state, e.g. for a tooltip. */
export function describeState(state: ConnState): string {
  switch (state.state) {
    case 'live':
      return 'receiving messages';
    case 'connecting':
      return 'connecting';
    case 'stale':
      return `no message for ${Math.round(state.silent_ms / 1000)} s`;
    case 'retrying':
      return `attempt ${state.attempt} failed: ${state.reason}`;
    case 'failed':
      return `failed: ${state.reason}`;
    case 'stopped':
      return 'not subscribed';
    case 'stopped_by_server':
      return `stopped by the server: ${state.reason} (disable and enable the feed to resume)`;
  }
}

/** What a feed lost or skipped, for its tile and page; empty when nothing was. */
export function losses(feed: Pick<Feed, 'dropped' | 'duplicates'>): { text: string; title: string; bad: boolean }[] {
  const out: { text: string; title: string; bad: boolean }[] = [];
  if (feed.dropped > 0) {
    out.push({
      text: `${feed.dropped.toLocaleString('en-US')} dropped`,
      title: 'messages not stored: the store could not keep up, or writing kept failing (see the health banner)',
      bad: true,
    });
  }
  if (feed.duplicates > 0) {
    out.push({
      text: `${feed.duplicates.toLocaleString('en-US')} replays skipped`,
      title: 'messages the server sent again after a reconnect, recognised by websocket.id_pointer and not stored twice',
      bad: false,
    });
  }
  return out;
}

export interface Ranked {
  feed: Feed;
  health: Health;
}

/** Worst first, then by name; stable for equal entries. */
export function worstFirst<T extends Ranked>(items: readonly T[]): T[] {
  return [...items].sort(
    (a, b) => HEALTH[a.health].rank - HEALTH[b.health].rank || a.feed.name.localeCompare(b.feed.name),
  );
}
