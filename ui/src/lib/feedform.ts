// The feed editor's form: a flat, string-valued model of a FeedConfig (what
// the inputs bind to), its conversion both ways, and the checks that can be
// made before saving. Error keys are the server's field paths (`url`,
// `poll.interval`, `alert[1].value`), so client and server messages land at
// the same field.
import type { Unit } from './bindings/Unit';
import type { FeedConfig, MetricRule, PayloadFormat, TransportKind } from './types';
import type { PayloadKeep } from './bindings/PayloadKeep';
import type { MqttTopic } from './bindings/MqttTopic';
import type { MqttVersion } from './bindings/MqttVersion';
import type { SocketioTransport } from './bindings/SocketioTransport';
import type { GraphqlProtocol } from './bindings/GraphqlProtocol';
import type { WebhookVerify } from './bindings/WebhookVerify';
import { HEALTH_WATCH, SCHEMES, URL_EXAMPLES } from './transports';
import { checkDuration, formatLabelsText, lines, list, opt, parseDuration, parseLabels, type FieldErrors } from './formparse';
import { ruleFromConfig, ruleToConfig, validateRule, type RuleForm } from './ruleform';

export { HEALTH_WATCH, URL_EXAMPLES };
export * from './formparse';
export * from './ruleform';

export const WEBHOOK_VERIFY: WebhookVerify[] = ['github', 'stripe', 'standard', 'token', 'none'];

/** The transports `[feed.tls]` applies to (the others name their CA file in their own section). */
export const TLS_TRANSPORTS: TransportKind[] = ['poll', 'sse', 'long_poll', 'websocket', 'graphql', 'socketio'];

export type CursorFrom = 'headers' | 'body' | 'none';

export interface MetricForm {
  name: string;
  pointer: string;
  prometheus: string;
  /** `key="value"` pairs, comma separated. */
  labels: string;
  regex: string;
  /** auto: Prometheus's `# TYPE` (else a gauge); rate: a counter, per second; total: a counter's raw value. */
  reading: Reading;
  /** What the values measure; '' for none (or what a Prometheus name implies). */
  unit: Unit | '';
  /** Prometheus histograms: the quantile to store (`0.99`); '' for the mean. */
  quantile: string;
}

export type Reading = 'auto' | 'gauge' | 'rate' | 'total';

function readingOf(m: MetricRule): Reading {
  if (m.kind === 'gauge') return 'gauge';
  if (m.rate === false) return 'total';
  return m.kind === 'counter' ? 'rate' : 'auto';
}

export interface FeedForm {
  name: string;
  transport: TransportKind;
  url: string;
  format: PayloadFormat;
  enabled: boolean;
  headers: string;
  staleAfter: string;
  /** `''`: the format's default (see `payloadDefault`). */
  payloads: PayloadKeep | '';
  payloadsEvery: string;
  metrics: MetricForm[];
  alerts: RuleForm[];
  ws: { subprotocols: string; subscribe: string; pingInterval: string; pongTimeout: string };
  sse: { events: string; readTimeout: string };
  poll: { interval: string; timeout: string; method: string; body: string; conditional: boolean };
  mqtt: {
    version: MqttVersion;
    /** One per line: `filter [qos=1] [labels=a,b]`. */
    topics: string;
    clientId: string;
    cleanSession: boolean;
    keepAlive: string;
    /** `mqtts://` and `wss://`: PEM files (paths on the engine's machine). */
    caFile: string;
    clientCert: string;
    clientKey: string;
  };
  gql: {
    query: string;
    /** A JSON object, as text. */
    variables: string;
    operationName: string;
    protocol: GraphqlProtocol;
    /** One `name: value` per line (the connection_init payload). */
    params: string;
  };
  io: {
    namespace: string;
    /** Event names, comma-separated (empty: all). */
    events: string;
    /** One `name: value` per line (the handshake's auth object). */
    auth: string;
    transport: SocketioTransport;
  };
  pg: {
    /** Channel names, one per line. */
    channels: string;
    keepAlive: string;
    caFile: string;
  };
  grpc: {
    /** `package.Service/Method`; empty: the health watch. */
    method: string;
    /** The health watch's service. */
    service: string;
    /** The request message as JSON. */
    request: string;
    descriptorSet: string;
    /** `.proto` files, one per line. */
    protoFiles: string;
    /** Include directories, one per line. */
    protoInclude: string;
    deadline: string;
    caFile: string;
  };
  hook: {
    verify: WebhookVerify;
    /** The secret, `••••••` while a stored one stands behind it. */
    secret: string;
    tokenHeader: string;
    idHeader: string;
    maxBody: string;
    /** Deliveries per minute, as typed. */
    rate: string;
  };
  /** `[feed.tls]` of HTTP and WebSocket feeds: PEM files on the engine's machine. */
  tls: { caFile: string; clientCert: string; clientKey: string; skipVerify: boolean };
  /** `http://[user:password@]host:port`, `none`, or '' for the environment's (HTTPS_PROXY…). */
  proxy: string;
  /** Comma-separated. */
  tags: string;
  /** The feed this one depends on; '' for none. */
  dependsOn: string;
  longPoll: {
    hold: string;
    timeout: string;
    cursor: CursorFrom;
    cursorPointer: string;
    cursorParam: string;
    items: string;
    idPointer: string;
  };
}

/** `fleet/+/health qos=1 labels=host` → a topic; an error message otherwise. */
export function parseTopicLine(line: string): MqttTopic | string {
  const [filter, ...rest] = line.trim().split(/\s+/);
  if (!filter) return 'is empty';
  const t: MqttTopic = { filter, qos: 0 };
  for (const part of rest) {
    const m = /^(qos|labels)=(.*)$/.exec(part);
    if (!m) return `\`${part}\` is not \`qos=0|1\` or \`labels=name,…\``;
    if (m[1] === 'qos') {
      if (m[2] !== '0' && m[2] !== '1') return `qos is ${m[2]}: use 0 or 1`;
      t.qos = Number(m[2]);
    } else {
      t.labels = (m[2] ?? '').split(',').map((l) => l.trim()).filter((l) => l !== '');
    }
  }
  return t;
}

export function formatTopicLine(t: MqttTopic): string {
  let s = t.filter;
  if (t.qos) s += ` qos=${t.qos}`;
  if (t.labels?.length) s += ` labels=${t.labels.join(',')}`;
  return s;
}

// ---- config ↔ form --------------------------------------------------------------

export function formFromConfig(c: FeedConfig | null): FeedForm {
  const ws = c?.websocket;
  const sse = c?.sse;
  const poll = c?.poll;
  const lp = c?.long_poll;
  const mq = c?.mqtt;
  const pg = c?.pg_notify;
  const gql = c?.graphql;
  const io = c?.socketio;
  const hook = c?.webhook;
  const rpc = c?.grpc;
  const cursor = lp?.cursor;
  return {
    name: c?.name ?? '',
    transport: c?.transport ?? 'poll',
    url: c?.url ?? '',
    format: c?.format ?? 'json',
    enabled: c?.enabled ?? true,
    headers: Object.entries(c?.headers ?? {})
      .map(([k, v]) => `${k}: ${v}`)
      .join('\n'),
    staleAfter: c?.stale_after ?? '',
    payloads: c?.payloads ?? '',
    payloadsEvery: c?.payloads_every ?? '',
    metrics: (c?.metric ?? []).map((m) => ({
      name: m.name,
      pointer: m.pointer ?? '',
      prometheus: m.prometheus ?? '',
      labels: formatLabelsText(m.labels),
      regex: m.regex ?? '',
      reading: readingOf(m),
      unit: m.unit ?? '',
      quantile: m.quantile === undefined || m.quantile === null ? '' : String(m.quantile),
    })),
    alerts: (c?.alert ?? []).map(ruleFromConfig),
    ws: {
      subprotocols: (ws?.subprotocols ?? []).join(', '),
      subscribe: (ws?.subscribe ?? []).join('\n'),
      pingInterval: ws?.ping_interval ?? '',
      pongTimeout: ws?.pong_timeout ?? '',
    },
    sse: { events: (sse?.events ?? []).join(', '), readTimeout: sse?.read_timeout ?? '' },
    poll: {
      interval: poll?.interval ?? '10s',
      timeout: poll?.timeout ?? '',
      method: poll?.method ?? 'GET',
      body: poll?.body ?? '',
      conditional: poll?.conditional ?? true,
    },
    mqtt: {
      version: mq?.version ?? '3.1.1',
      topics: (mq?.topics ?? []).map(formatTopicLine).join('\n'),
      clientId: mq?.client_id ?? '',
      cleanSession: mq?.clean_session ?? true,
      keepAlive: mq?.keep_alive ?? '',
      caFile: mq?.ca_file ?? '',
      clientCert: mq?.client_cert ?? '',
      clientKey: mq?.client_key ?? '',
    },
    gql: {
      query: gql?.query ?? '',
      variables: gql?.variables ?? '',
      operationName: gql?.operation_name ?? '',
      protocol: gql?.protocol ?? 'auto',
      params: Object.entries(gql?.connection_params ?? {})
        .map(([k, v]) => `${k}: ${v}`)
        .join('\n'),
    },
    io: {
      namespace: io?.namespace ?? '/',
      events: (io?.events ?? []).join(', '),
      auth: Object.entries(io?.auth ?? {})
        .map(([k, v]) => `${k}: ${v}`)
        .join('\n'),
      transport: io?.transport ?? 'websocket',
    },
    pg: {
      channels: (pg?.channels ?? []).join('\n'),
      keepAlive: pg?.keep_alive ?? '',
      caFile: pg?.ca_file ?? '',
    },
    grpc: {
      method: rpc?.method === HEALTH_WATCH ? '' : (rpc?.method ?? ''),
      service: rpc?.service ?? '',
      request: rpc?.request ?? '',
      descriptorSet: rpc?.descriptor_set ?? '',
      protoFiles: (rpc?.proto_files ?? []).join('\n'),
      protoInclude: (rpc?.proto_include ?? []).join('\n'),
      deadline: rpc?.deadline ?? '',
      caFile: rpc?.ca_file ?? '',
    },
    proxy: c?.proxy ?? '',
    tags: (c?.tags ?? []).join(', '),
    dependsOn: c?.depends_on ?? '',
    tls: {
      caFile: c?.tls?.ca_file ?? '',
      clientCert: c?.tls?.client_cert ?? '',
      clientKey: c?.tls?.client_key ?? '',
      skipVerify: c?.tls?.skip_verify ?? false,
    },
    hook: {
      verify: hook?.verify ?? 'github',
      secret: hook?.secret ?? '',
      tokenHeader: hook?.token_header ?? '',
      idHeader: hook?.id_header ?? '',
      maxBody: hook?.max_body ?? '',
      rate: hook?.rate_per_minute === undefined ? '' : String(hook.rate_per_minute),
    },
    longPoll: {
      hold: lp?.hold ?? '',
      timeout: lp?.timeout ?? '',
      cursor: cursor?.from ?? 'headers',
      cursorPointer: cursor?.from === 'body' ? cursor.pointer : '',
      cursorParam: cursor?.from === 'body' ? cursor.param : '',
      items: lp?.items ?? '',
      idPointer: lp?.id_pointer ?? '',
    },
  };
}

function parseHeaders(text: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return headers;
}

/**
 * The config to save. Settings the form does not show (backoff, status,
 * sizes, …) are kept from `base`; a section of another transport is dropped.
 * Blank optional fields are left out, so the engine's defaults apply.
 */
export function configFromForm(f: FeedForm, base: FeedConfig | null): FeedConfig {
  const same = base?.transport === f.transport;
  const metric: MetricRule[] = f.metrics.map((m) => {
    // What the form does not show (keep_labels, drop_labels) stays.
    const prev = base?.metric?.find((x) => x.name === m.name.trim());
    const r: MetricRule = { keep_labels: prev?.keep_labels, drop_labels: prev?.drop_labels, name: m.name.trim() };
    if (m.reading === 'gauge') r.kind = 'gauge';
    if (m.reading === 'rate') r.kind = 'counter';
    if (m.reading === 'total') r.rate = false;
    if (m.unit) r.unit = m.unit;
    if (f.format === 'json') r.pointer = m.pointer.trim() || null;
    if (f.format === 'prometheus') {
      if (opt(m.prometheus)) r.prometheus = opt(m.prometheus);
      const labels = parseLabels(m.labels);
      if (typeof labels !== 'string' && Object.keys(labels).length) r.labels = labels;
      if (m.quantile.trim()) r.quantile = Number(m.quantile.trim());
    }
    if (f.format === 'text') r.regex = m.regex === '' ? null : m.regex;
    return r;
  });
  const cfg: FeedConfig = {
    ...(base ?? {}),
    name: f.name.trim(),
    transport: f.transport,
    url: f.url.trim(),
    format: f.format,
    enabled: f.enabled,
    headers: parseHeaders(f.headers),
    metric,
    alert: f.alerts.map(ruleToConfig),
    stale_after: opt(f.staleAfter),
    payloads: f.payloads === '' ? null : f.payloads,
    payloads_every: opt(f.payloadsEvery),
    websocket: null,
    sse: null,
    poll: null,
    long_poll: null,
    mqtt: null,
    pg_notify: null,
    graphql: null,
    socketio: null,
    webhook: null,
    grpc: null,
  };
  // each section: what the base had (fields not shown here), then the form's fields
  const put = <T extends object>(baseSection: T | null | undefined, fields: Record<string, unknown>): T => {
    const out: Record<string, unknown> = { ...(same && baseSection ? baseSection : {}) };
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) delete out[k];
      else out[k] = v;
    }
    return out as T;
  };
  const dur = (s: string) => opt(s) ?? undefined;
  const t = f.tls;
  if (TLS_TRANSPORTS.includes(f.transport) && (opt(t.caFile + t.clientCert + t.clientKey) || t.skipVerify)) {
    cfg.tls = {
      ca_file: opt(t.caFile) ?? undefined,
      client_cert: opt(t.clientCert) ?? undefined,
      client_key: opt(t.clientKey) ?? undefined,
      skip_verify: t.skipVerify || undefined,
    };
  } else {
    delete cfg.tls;
  }
  const proxy = f.proxy.trim();
  if (TLS_TRANSPORTS.includes(f.transport) && proxy) cfg.proxy = proxy;
  else delete cfg.proxy;
  const tags = list(f.tags);
  if (tags.length) cfg.tags = tags;
  else delete cfg.tags;
  const parent = f.dependsOn.trim();
  if (parent) cfg.depends_on = parent;
  else delete cfg.depends_on;
  if (f.transport === 'websocket') {
    cfg.websocket = put(base?.websocket, {
      subprotocols: list(f.ws.subprotocols),
      subscribe: lines(f.ws.subscribe),
      ping_interval: dur(f.ws.pingInterval),
      pong_timeout: dur(f.ws.pongTimeout),
    });
  } else if (f.transport === 'sse') {
    cfg.sse = put(base?.sse, { events: list(f.sse.events), read_timeout: dur(f.sse.readTimeout) });
  } else if (f.transport === 'poll') {
    cfg.poll = put(base?.poll, {
      interval: dur(f.poll.interval),
      timeout: dur(f.poll.timeout),
      method: opt(f.poll.method)?.toUpperCase() ?? undefined,
      body: f.poll.body === '' ? null : f.poll.body,
      conditional: f.poll.conditional,
    });
  } else if (f.transport === 'mqtt') {
    const topics = lines(f.mqtt.topics)
      .map(parseTopicLine)
      .filter((t): t is MqttTopic => typeof t !== 'string');
    cfg.headers = {};
    cfg.mqtt = put(base?.mqtt, {
      version: f.mqtt.version,
      topics,
      client_id: opt(f.mqtt.clientId) ?? undefined,
      clean_session: f.mqtt.cleanSession,
      keep_alive: dur(f.mqtt.keepAlive),
      ca_file: opt(f.mqtt.caFile) ?? undefined,
      client_cert: opt(f.mqtt.clientCert) ?? undefined,
      client_key: opt(f.mqtt.clientKey) ?? undefined,
    });
  } else if (f.transport === 'graphql') {
    cfg.graphql = put(base?.graphql, {
      query: f.gql.query.trim(),
      variables: opt(f.gql.variables) ?? undefined,
      operation_name: opt(f.gql.operationName) ?? undefined,
      protocol: f.gql.protocol,
      connection_params: parseHeaders(f.gql.params),
    });
  } else if (f.transport === 'socketio') {
    cfg.socketio = put(base?.socketio, {
      namespace: opt(f.io.namespace) ?? '/',
      events: list(f.io.events),
      auth: parseHeaders(f.io.auth),
      transport: f.io.transport,
    });
  } else if (f.transport === 'grpc') {
    const g = f.grpc;
    const health = opt(g.method) === null || g.method.trim() === HEALTH_WATCH;
    cfg.grpc = put(base?.grpc, {
      method: health ? HEALTH_WATCH : g.method.trim(),
      service: health ? g.service.trim() : '',
      request: health ? undefined : (opt(g.request) ?? undefined),
      descriptor_set: opt(g.descriptorSet) ?? undefined,
      proto_files: lines(g.protoFiles),
      proto_include: lines(g.protoInclude),
      deadline: opt(g.deadline) ?? undefined,
      ca_file: opt(g.caFile) ?? undefined,
    });
  } else if (f.transport === 'webhook') {
    cfg.headers = {};
    const h = f.hook;
    cfg.webhook = put(base?.webhook, {
      verify: h.verify,
      secret: h.verify === 'none' ? '' : h.secret.trim(),
      token_header: opt(h.tokenHeader) ?? undefined,
      id_header: opt(h.idHeader) ?? undefined,
      max_body: opt(h.maxBody) ?? undefined,
      rate_per_minute: opt(h.rate) === null ? undefined : Number(h.rate.trim()),
    });
  } else if (f.transport === 'tcp' || f.transport === 'dns') {
    cfg.headers = {};
    cfg.poll = put(base?.poll, { interval: dur(f.poll.interval), timeout: dur(f.poll.timeout) });
  } else if (f.transport === 'pg_notify') {
    cfg.headers = {};
    cfg.pg_notify = put(base?.pg_notify, {
      channels: lines(f.pg.channels),
      keep_alive: dur(f.pg.keepAlive),
      ca_file: opt(f.pg.caFile) ?? undefined,
    });
  } else {
    const lp = f.longPoll;
    cfg.long_poll = put(base?.long_poll, {
      hold: dur(lp.hold),
      timeout: opt(lp.timeout),
      cursor:
        lp.cursor === 'body'
          ? { from: 'body', pointer: lp.cursorPointer.trim(), param: lp.cursorParam.trim() }
          : { from: lp.cursor },
      items: opt(lp.items),
      id_pointer: opt(lp.idPointer),
    });
  }
  return cfg;
}

// ---- checks before saving ---------------------------------------------------------

/** An optional JSON object typed as text (GraphQL variables, a gRPC request). */
function checkJsonObject(errors: FieldErrors, field: string, text: string): void {
  if (text.trim() === '') return;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    errors[field] = 'is not JSON';
    return;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) errors[field] = 'must be a JSON object, e.g. {"host": "web-1"}';
}

function checkPointer(errors: FieldErrors, field: string, value: string): void {
  const v = value.trim();
  if (v !== '' && !v.startsWith('/')) errors[field] = `\`${v}\` is not a JSON pointer: it starts with /, e.g. /cpu`;
}

/** Everything the form can check without the server. */
export function validateForm(f: FeedForm, opts: { existingNames?: readonly string[] } = {}): FieldErrors {
  const e: FieldErrors = {};
  const name = f.name.trim();
  if (!name) e.name = 'is empty: give the feed a unique name';
  else if (opts.existingNames?.includes(name)) e.name = `\`${name}\` is taken: feed names are unique`;
  const url = f.url.trim();
  const schemes = SCHEMES[f.transport] ?? ['http:', 'https:'];
  const example = URL_EXAMPLES[f.transport] ?? 'https://host/path';
  if (!url) {
    // A webhook's URL is only a link to its sender.
    if (f.transport !== 'webhook') e.url = `is empty: e.g. ${example}`;
  }
  else {
    let u: URL | null = null;
    try {
      u = new URL(url);
    } catch {
      e.url = `\`${url}\` is not a valid URL`;
    }
    if (u && !schemes.includes(u.protocol))
      e.url = `has scheme \`${u.protocol.replace(':', '')}\`, but ${f.transport.replace('_', ' ')} needs ${schemes.map((s) => `${s}//`).join(' or ')}`;
  }
  for (const line of f.headers.split('\n')) {
    if (line.trim() === '') continue;
    const i = line.indexOf(':');
    if (i <= 0) e.headers = `\`${line.trim()}\` is not \`Name: value\``;
    else if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(line.slice(0, i).trim()))
      e.headers = `\`${line.slice(0, i).trim()}\` is not a valid HTTP header name`;
  }
  list(f.tags).forEach((t, i, all) => {
    if (!/^[a-z0-9_.-]{1,32}$/.test(t)) e.tags = `\`${t}\` is not a tag: lowercase letters, digits, -, _ or ., at most 32`;
    else if (all.indexOf(t) !== i) e.tags = `\`${t}\` is listed twice`;
  });
  if (f.dependsOn.trim() && f.dependsOn.trim() === f.name.trim()) e.depends_on = 'names this feed itself: name the feed it depends on (a router, a host)';
  checkDuration(e, 'stale_after', f.staleAfter);
  checkDuration(e, 'payloads_every', f.payloadsEvery);

  if (f.transport === 'websocket') {
    checkDuration(e, 'websocket.ping_interval', f.ws.pingInterval);
    checkDuration(e, 'websocket.pong_timeout', f.ws.pongTimeout);
    if (list(f.ws.subprotocols).some((p) => !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(p)))
      e['websocket.subprotocols'] = 'a subprotocol is a token without spaces, e.g. graphql-ws';
  } else if (f.transport === 'sse') {
    checkDuration(e, 'sse.read_timeout', f.sse.readTimeout);
  } else if (f.transport === 'mqtt') {
    const topics = lines(f.mqtt.topics);
    if (topics.length === 0) e['mqtt.topics'] = 'is empty: subscribe to at least one topic, e.g. sensors/+/health labels=host';
    for (const line of topics) {
      const t = parseTopicLine(line);
      if (typeof t === 'string') e['mqtt.topics'] = `\`${line}\`: ${t}`;
    }
    checkDuration(e, 'mqtt.keep_alive', f.mqtt.keepAlive);
    const ka = parseDuration(f.mqtt.keepAlive);
    if (ka !== null && ka < 1000) e['mqtt.keep_alive'] = 'is too short: at least 1s';
    const tls = /^(mqtts|wss):/i.test(f.url.trim());
    if (!tls && opt(f.mqtt.caFile + f.mqtt.clientCert + f.mqtt.clientKey)) e['mqtt.ca_file'] = 'and the client certificate apply to mqtts:// and wss:// URLs only';
    if (!opt(f.mqtt.clientCert) !== !opt(f.mqtt.clientKey)) e['mqtt.client_key'] = 'and the client certificate go together: give both or neither';
  } else if (f.transport === 'graphql') {
    const q = f.gql.query.trim();
    if (!q) e['graphql.query'] = 'is empty: write the subscription, e.g. subscription { health { cpu } }';
    else if (/^(query|mutation)\b/.test(q) || q.startsWith('{'))
      e['graphql.query'] = 'is a query or mutation: a feed needs a subscription { … } (poll a query with transport poll instead)';
    checkJsonObject(e, 'graphql.variables', f.gql.variables);
    for (const line of lines(f.gql.params)) {
      if (line.indexOf(':') <= 0) e['graphql.connection_params'] = `\`${line}\` is not \`name: value\``;
    }
  } else if (f.transport === 'socketio') {
    const ns = f.io.namespace.trim();
    if (ns && (!ns.startsWith('/') || ns.includes(','))) e['socketio.namespace'] = 'starts with / and has no comma, e.g. / or /fleet';
    for (const line of lines(f.io.auth)) {
      if (line.indexOf(':') <= 0) e['socketio.auth'] = `\`${line}\` is not \`name: value\``;
    }
  } else if (f.transport === 'grpc') {
    const g = f.grpc;
    const method = g.method.trim();
    if (method && !/^\/?[\w.]+\/\w+$/.test(method)) e['grpc.method'] = 'is not package.Service/Method, e.g. fleet.v1.Fleet/Watch';
    if (method && method !== HEALTH_WATCH) checkJsonObject(e, 'grpc.request', g.request);
    if (opt(g.descriptorSet) && lines(g.protoFiles).length > 0) e['grpc.descriptor_set'] = 'and the .proto files both describe the method: keep one';
    checkDuration(e, 'grpc.deadline', g.deadline);
    if (opt(g.caFile) && f.url.trim().startsWith('http://')) e['grpc.ca_file'] = 'is only read for https://';
  } else if (f.transport === 'webhook') {
    const h = f.hook;
    if (h.verify !== 'none' && h.secret.trim() === '')
      e['webhook.secret'] = `is empty, but ${h.verify} verification needs the secret the sender signs with`;
    else if (h.verify === 'standard' && !/^(whsec_)?[A-Za-z0-9+/]+=*$/.test(h.secret.trim()) && h.secret.trim() !== '••••••' && !h.secret.includes('${'))
      e['webhook.secret'] = 'is not a Standard Webhooks secret: paste the whsec_… value the sender shows';
    if (opt(h.rate) !== null && !/^[1-9]\d*$/.test(h.rate.trim())) e['webhook.rate_per_minute'] = 'is not a whole number of deliveries above zero';
  } else if (f.transport === 'pg_notify') {
    const channels = lines(f.pg.channels);
    if (channels.length === 0) e['pg_notify.channels'] = 'is empty: name at least one channel, e.g. orders';
    for (const [i, c] of channels.entries()) {
      if (new TextEncoder().encode(c).length > 63) e['pg_notify.channels'] = `\`${c}\` is longer than PostgreSQL's 63 bytes, so it would never match`;
      else if (channels.indexOf(c) !== i) e['pg_notify.channels'] = `\`${c}\` is listed twice`;
    }
    checkDuration(e, 'pg_notify.keep_alive', f.pg.keepAlive);
    const ka = parseDuration(f.pg.keepAlive);
    if (ka !== null && ka < 1000) e['pg_notify.keep_alive'] = 'is too short: at least 1s';
    if (url && !e.url) {
      try {
        const u = new URL(url);
        if (u.pathname.replace(/^\/+/, '') === '') e.url = 'names no database: write postgres://user:password@host:5432/database';
        const mode = u.searchParams.get('sslmode');
        if (opt(f.pg.caFile) && !mode?.startsWith('verify-'))
          e['pg_notify.ca_file'] = 'is only read to verify the server: add ?sslmode=verify-full to the URL';
      } catch {
        /* reported above */
      }
    }
  } else if (f.transport === 'tcp' || f.transport === 'dns') {
    checkDuration(e, 'poll.interval', f.poll.interval);
    checkDuration(e, 'poll.timeout', f.poll.timeout);
    const iv = parseDuration(f.poll.interval);
    if (iv !== null && iv < 100) e['poll.interval'] = 'is too short: at least 100ms';
    if (f.transport === 'tcp' && url && !e.url && !/^tcp:\/\/[^/]+:\d+\/?$/.test(url)) e.url = 'is not tcp://host:port';
    if (f.transport === 'dns' && url && !e.url && !/^dns:\/\/[^/]*\/[^/?]+(\?type=\w+)?$/i.test(url))
      e.url = 'is not dns://server/name?type=A (or dns:///name for the system\'s resolvers)';
  } else if (f.transport === 'poll') {
    checkDuration(e, 'poll.interval', f.poll.interval);
    checkDuration(e, 'poll.timeout', f.poll.timeout);
    if (f.poll.method.trim() && !/^[A-Za-z]+$/.test(f.poll.method.trim())) e['poll.method'] = 'is not an HTTP method, e.g. GET or POST';
    const iv = parseDuration(f.poll.interval);
    if (iv !== null && iv < 100) e['poll.interval'] = 'is too short: at least 100ms';
  } else {
    const lp = f.longPoll;
    checkDuration(e, 'long_poll.hold', lp.hold);
    checkDuration(e, 'long_poll.timeout', lp.timeout);
    const hold = parseDuration(lp.hold || '30s');
    const timeout = parseDuration(lp.timeout);
    if (hold !== null && timeout !== null && timeout <= hold) e['long_poll.timeout'] = `must exceed the hold (${lp.hold || '30s'})`;
    if (lp.cursor === 'body') {
      if (!lp.cursorPointer.trim()) e['long_poll.cursor.pointer'] = 'is missing: where the cursor is in the response, e.g. /cursor';
      else checkPointer(e, 'long_poll.cursor.pointer', lp.cursorPointer);
      if (!lp.cursorParam.trim()) e['long_poll.cursor.param'] = 'is missing: the query parameter that sends it back, e.g. since';
    }
    checkPointer(e, 'long_poll.items', lp.items);
    checkPointer(e, 'long_poll.id_pointer', lp.idPointer);
  }

  if (TLS_TRANSPORTS.includes(f.transport)) {
    const t = f.tls;
    const any = opt(t.caFile + t.clientCert + t.clientKey) !== null || t.skipVerify;
    if (any && url && !/^(https|wss):/i.test(url)) e['tls.ca_file'] = 'and the other TLS settings apply to https:// and wss:// URLs only';
    if (!opt(t.clientCert) !== !opt(t.clientKey)) e['tls.client_key'] = 'and the client certificate go together: give both or neither';
    if (t.skipVerify && opt(t.caFile)) e['tls.skip_verify'] = 'and a CA file contradict each other: trust the CA file, or accept any certificate';
    const proxy = f.proxy.trim();
    if (proxy && proxy !== 'none' && !/^http:\/\/[^/]+$/.test(proxy.replace(/\/$/, '')))
      e.proxy = 'is not http://host:port (CONNECT carries TLS; none ignores HTTPS_PROXY)';
  }

  const seen = new Set<string>();
  f.metrics.forEach((m, i) => {
    const k = (x: string) => `metric[${i}].${x}`;
    const n = m.name.trim();
    if (!n) e[k('name')] = 'is empty: name the series, e.g. cpu';
    else if (seen.has(n)) e[k('name')] = `\`${n}\` is used twice`;
    seen.add(n);
    if (f.format === 'json') {
      if (!m.pointer.trim()) e[k('pointer')] = 'is missing: a JSON pointer such as /cpu';
      else checkPointer(e, k('pointer'), m.pointer);
    } else if (f.format === 'prometheus') {
      const labels = parseLabels(m.labels);
      if (typeof labels === 'string') e[k('labels')] = labels;
      const q = m.quantile.trim();
      if (q && !(/^(0?\.\d+)$/.test(q) && Number(q) > 0 && Number(q) < 1)) {
        e[k('quantile')] = `is ${q}: give a fraction between 0 and 1, such as 0.99 (empty: the histogram's mean)`;
      }
    } else if (f.format === 'text') {
      if (!m.regex) e[k('regex')] = 'is missing: a regular expression whose first group is the number, e.g. cpu=([0-9.]+)';
      else {
        try {
          new RegExp(m.regex);
        } catch {
          e[k('regex')] = 'is not a valid regular expression';
        }
      }
    }
  });
  const ruleNames = new Set<string>();
  const metricNames = ruleMetrics(f);
  f.alerts.forEach((r, i) => {
    Object.assign(e, validateRule(r, i, metricNames));
    const n = r.name.trim();
    if (n && ruleNames.has(n)) e[`alert[${i}].name`] = `\`${n}\` is used twice in this feed`;
    ruleNames.add(n);
  });
  return e;
}

/** The metrics a rule of this feed can watch: its own, then what its
 * transport records (a poll's `http_status`, `response_ms`, `up`; a check's
 * `up`, `response_ms`; a DNS check's `records`) and, over TLS, `tls_days_left`. */
export function ruleMetrics(f: FeedForm): string[] {
  const own = f.metrics.map((m) => m.name.trim()).filter(Boolean);
  const builtin: Partial<Record<TransportKind, string[]>> = {
    poll: ['up', 'response_ms', 'http_status'],
    tcp: ['up', 'response_ms'],
    dns: ['up', 'response_ms', 'records'],
  };
  const tls = f.transport !== 'webhook' && /^(https|wss):/i.test(f.url.trim()) ? ['tls_days_left'] : [];
  return [...new Set([...own, ...(builtin[f.transport] ?? []), ...tls])];
}

/** What a feed of `format` stores when `payloads` is not set (the engine's
 * defaults, docs/config.md). */
export function payloadDefault(format: PayloadFormat): string {
  return format === 'prometheus'
    ? 'only scrapes that fail to parse, and one every 10 minutes'
    : 'every payload';
}
