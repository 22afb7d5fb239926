// What each transport's URL looks like: the schemes it takes and an
// example to show while the field is empty.
import type { TransportKind } from './bindings/TransportKind';

/** The URL schemes each transport takes (as `URL.protocol`). */
export const SCHEMES: Partial<Record<TransportKind, string[]>> = {
  websocket: ['ws:', 'wss:'],
  graphql: ['ws:', 'wss:'],
  socketio: ['http:', 'https:', 'ws:', 'wss:'],
  mqtt: ['mqtt:', 'mqtts:', 'ws:', 'wss:'],
  pg_notify: ['postgres:', 'postgresql:'],
  tcp: ['tcp:'],
  dns: ['dns:'],
};

/** The method a gRPC feed watches when none is named. */
export const HEALTH_WATCH = 'grpc.health.v1.Health/Watch';

/** A URL to show when the field is empty. */
export const URL_EXAMPLES: Partial<Record<TransportKind, string>> = {
  websocket: 'wss://host/path',
  graphql: 'wss://host/graphql',
  socketio: 'https://host (path /socket.io/ by default)',
  mqtt: 'mqtt://user:password@broker:1883',
  pg_notify: 'postgres://user:password@host:5432/database',
  webhook: 'optional: a link to the sender, e.g. https://github.com/org/repo',
  grpc: 'http://host:50051 (https:// for TLS)',
  tcp: 'tcp://host:5432',
  dns: 'dns://1.1.1.1/example.com?type=A (dns:///example.com: the system\'s resolvers)',
};
