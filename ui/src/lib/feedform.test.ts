import { describe, expect, it } from 'vitest';
import {
  configFromForm,
  emptyRule,
  errorAt,
  formFromConfig,
  parseDuration,
  parseLabels,
  payloadDefault,
  ruleFromConfig,
  ruleMetrics,
  ruleToConfig,
  validateForm,
  validateRule,
  type RuleForm,
} from './feedform';
import { duplicateName } from './naming';
import type { FeedConfig } from './types';

const BASE: FeedConfig = {
  name: 'host-1',
  transport: 'websocket',
  url: 'ws://127.0.0.1:9700/ws',
  format: 'json',
  headers: { Authorization: 'Bearer ••••••' },
  metric: [{ name: 'cpu', pointer: '/cpu' }],
  alert: [{ name: 'cpu high', kind: 'threshold', metric: 'cpu', op: '>', value: 90, clear: 70, severity: 'critical' }],
  backoff: { initial: '1s', max: '1m', reset_after: '30s' },
  websocket: { subprotocols: ['v1'], subscribe: ['{"sub":"all"}'], ping_interval: '15s', pong_timeout: '10s', max_message_size: '1MiB' },
};

function rule(over: Partial<RuleForm>): RuleForm {
  return { ...emptyRule('threshold', 'cpu'), name: 'r', value: '90', ...over };
}

describe('duplicateName', () => {
  it('finds the first free copy name', () => {
    expect(duplicateName('web', ['web'])).toBe('web-copy');
    expect(duplicateName('web', ['web', 'web-copy'])).toBe('web-copy-2');
    expect(duplicateName('web', ['web', 'web-copy', 'web-copy-2'])).toBe('web-copy-3');
    expect(duplicateName('web-copy', ['web', 'web-copy'])).toBe('web-copy-2');
    expect(duplicateName('web-copy-2', ['web-copy', 'web-copy-2'])).toBe('web-copy-3');
  });
});

describe('durations and labels', () => {
  it('parses what the engine parses', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('1.5s')).toBe(1_500);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    expect(parseDuration('10')).toBe(10_000);
    expect(parseDuration('10 parsecs')).toBeNull();
    expect(parseDuration('')).toBeNull();
    expect(parseDuration('-5s')).toBeNull();
  });
  it('reads label pairs', () => {
    expect(parseLabels('mode="idle", cpu=0')).toEqual({ mode: 'idle', cpu: '0' });
    expect(parseLabels('path="a,\\"b\\""')).toEqual({ path: 'a,"b"' });
    expect(parseLabels('')).toEqual({});
    expect(typeof parseLabels('=x')).toBe('string');
  });
});

describe('config ↔ form', () => {
  it('round-trips a config, keeping what the form does not show', () => {
    const out = configFromForm(formFromConfig(BASE), BASE);
    expect(out.backoff).toEqual(BASE.backoff);
    expect(out.headers).toEqual(BASE.headers);
    expect(out.metric).toEqual([{ name: 'cpu', pointer: '/cpu' }]);
    expect(out.alert).toEqual(BASE.alert);
    expect(out.websocket).toEqual(BASE.websocket);
    expect([out.sse, out.poll, out.long_poll]).toEqual([null, null, null]);
  });

  it('switching transport drops the old section and builds the new one', () => {
    const f = formFromConfig(BASE);
    f.transport = 'long_poll';
    f.url = 'http://127.0.0.1:9700/lp';
    f.longPoll = { ...f.longPoll, hold: '20s', cursor: 'body', cursorPointer: '/cursor', cursorParam: 'since' };
    const out = configFromForm(f, BASE);
    expect(out.websocket).toBeNull();
    expect(out.long_poll).toEqual({ hold: '20s', timeout: null, cursor: { from: 'body', pointer: '/cursor', param: 'since' }, items: null, id_pointer: null });
  });

  it('the payload policy round-trips, and empty means the format default', () => {
    const f = formFromConfig({ ...BASE, payloads: 'changes', payloads_every: '1m' });
    expect([f.payloads, f.payloadsEvery]).toEqual(['changes', '1m']);
    expect(configFromForm(f, BASE)).toMatchObject({ payloads: 'changes', payloads_every: '1m' });
    f.payloads = '';
    f.payloadsEvery = '';
    expect(configFromForm(f, BASE)).toMatchObject({ payloads: null, payloads_every: null });
    expect(payloadDefault('prometheus')).toContain('10 minutes');
    f.payloadsEvery = 'often';
    expect(Object.keys(validateForm(f))).toContain('payloads_every');
  });

  it('an MQTT form round-trips its topics, labels and session, and sends no headers', () => {
    const f = formFromConfig(null);
    f.name = 'fleet';
    f.transport = 'mqtt';
    f.url = 'mqtt://telltale:pw@broker:1883';
    f.headers = 'X-Old: 1';
    f.mqtt.topics = 'fleet/+/health qos=1 labels=host\n\nsys/#';
    f.mqtt.version = '5';
    f.mqtt.cleanSession = false;
    f.mqtt.clientId = 'tt-1';
    expect(validateForm(f)).toEqual({});
    const c = configFromForm(f, null);
    expect(c.headers).toEqual({});
    expect(c.mqtt).toEqual({
      version: '5',
      topics: [{ filter: 'fleet/+/health', qos: 1, labels: ['host'] }, { filter: 'sys/#', qos: 0 }],
      client_id: 'tt-1',
      clean_session: false,
    });
    const back = formFromConfig(c);
    expect(back.mqtt.topics).toBe('fleet/+/health qos=1 labels=host\nsys/#');
    expect(back.mqtt.cleanSession).toBe(false);
    f.mqtt.topics = 'a/b qos=2';
    expect(errorAt(validateForm(f), 'mqtt.topics')).toContain('qos is 2');
    f.mqtt.topics = '';
    expect(errorAt(validateForm(f), 'mqtt.topics')).toContain('is empty');
    f.mqtt.topics = 'a';
    f.url = 'https://broker';
    expect(errorAt(validateForm(f), 'url')).toContain('mqtt://');
  });

  it('a metric says how it is read: as # TYPE says, a gauge, a counter as a rate or its raw total', () => {
    const base = formFromConfig(null);
    const f = { ...base, name: 'node', format: 'prometheus' as const, url: 'http://h:9100/metrics' };
    f.metrics = (['auto', 'gauge', 'rate', 'total'] as const).map((reading, i) => ({ name: `m${i}`, pointer: '', prometheus: 'node_cpu_seconds_total', labels: '', regex: '', reading, unit: '', quantile: '' }));
    const c = configFromForm(f, { ...configFromForm(f, null), metric: [{ name: 'm0', prometheus: 'x', keep_labels: ['mode'] }] });
    expect((c.metric ?? []).map((m) => [m.kind ?? null, m.rate ?? null])).toEqual([
      [null, null],
      ['gauge', null],
      ['counter', null],
      [null, false],
    ]);
    expect(c.metric?.[0]?.keep_labels).toEqual(['mode']);
    expect(formFromConfig(c).metrics.map((m) => m.reading)).toEqual(['auto', 'gauge', 'rate', 'total']);
  });

  it('a metric keeps its unit and histogram quantile, and a bad quantile is refused at its field', () => {
    const base = formFromConfig(null);
    const f = { ...base, name: 'api', format: 'prometheus' as const, url: 'http://h:9100/metrics' };
    f.metrics = [
      { name: 'p99', pointer: '', prometheus: 'rpc_seconds', labels: '', regex: '', reading: 'auto' as const, unit: 'seconds' as const, quantile: '0.99' },
      { name: 'mean', pointer: '', prometheus: 'rpc_seconds', labels: '', regex: '', reading: 'auto' as const, unit: '' as const, quantile: '' },
    ];
    const c = configFromForm(f, null);
    expect(c.metric?.[0]).toMatchObject({ unit: 'seconds', quantile: 0.99 });
    expect(c.metric?.[1]?.unit).toBeUndefined();
    expect(c.metric?.[1]?.quantile).toBeUndefined();
    expect(formFromConfig(c).metrics.map((m) => [m.unit, m.quantile])).toEqual([
      ['seconds', '0.99'],
      ['', ''],
    ]);
    expect(validateForm(f)['metric[0].quantile']).toBeUndefined();
    for (const bad of ['1.5', '0', 'abc', '99']) {
      const g = { ...f, metrics: [{ ...f.metrics[0]!, quantile: bad }] };
      expect(validateForm(g)['metric[0].quantile']).toMatch(/between 0 and 1/);
    }
  });

  it('an MQTT form takes TLS files for mqtts:// and wss:// only, the certificate with its key', () => {
    const f = formFromConfig(null);
    f.name = 'fleet';
    f.transport = 'mqtt';
    f.url = 'wss://broker/mqtt';
    f.mqtt.topics = 'a/#';
    f.mqtt.caFile = '/ca.pem';
    f.mqtt.clientCert = '/c.pem';
    expect(errorAt(validateForm(f), 'mqtt.client_key')).toContain('go together');
    f.mqtt.clientKey = '/c.key';
    expect(validateForm(f)).toEqual({});
    const c = configFromForm(f, null);
    expect(c.mqtt).toMatchObject({ ca_file: '/ca.pem', client_cert: '/c.pem', client_key: '/c.key' });
    expect(formFromConfig(c).mqtt.clientKey).toBe('/c.key');
    f.url = 'mqtt://broker';
    expect(errorAt(validateForm(f), 'mqtt.ca_file')).toContain('mqtts:// and wss://');
  });

  it('an HTTP or WebSocket form takes [feed.tls] for https:// and wss://, and drops it when empty', () => {
    const f = formFromConfig(null);
    f.name = 'lab';
    f.transport = 'poll';
    f.url = 'https://lab.internal/health';
    f.metrics = [{ ...f.metrics[0], name: 'ok', pointer: '/ok', prometheus: '', labels: '', regex: '', reading: 'auto', unit: '', quantile: '' }];
    f.tls.clientCert = '/c.pem';
    expect(errorAt(validateForm(f), 'tls.client_key')).toContain('go together');
    f.tls.clientKey = '/c.key';
    f.tls.caFile = '/ca.pem';
    expect(validateForm(f)).toEqual({});
    const c = configFromForm(f, null);
    expect(c.tls).toEqual({ ca_file: '/ca.pem', client_cert: '/c.pem', client_key: '/c.key' });
    expect(formFromConfig(c).tls).toEqual({ caFile: '/ca.pem', clientCert: '/c.pem', clientKey: '/c.key', skipVerify: false });
    f.tls.skipVerify = true;
    expect(errorAt(validateForm(f), 'tls.skip_verify')).toContain('contradict');
    f.tls = { caFile: '', clientCert: '', clientKey: '', skipVerify: true };
    expect(configFromForm(f, null).tls).toEqual({ skip_verify: true });
    f.url = 'http://lab.internal/health';
    expect(errorAt(validateForm(f), 'tls.ca_file')).toContain('https://');
    // Cleared, the section goes, also from a stored config that had it.
    f.tls.skipVerify = false;
    expect(configFromForm(f, c).tls).toBeUndefined();
    // MQTT keeps its own section.
    f.transport = 'mqtt';
    f.tls.caFile = '/ca.pem';
    expect(configFromForm(f, null).tls).toBeUndefined();
  });

  it('a rule may watch what the transport records, not only the feed\'s own metrics', () => {
    const f = formFromConfig({ ...BASE, transport: 'poll', url: 'https://h/health', websocket: null });
    expect(ruleMetrics(f)).toEqual(['cpu', 'up', 'response_ms', 'http_status', 'tls_days_left']);
    f.alerts = [rule({ name: 'slow', metric: 'response_ms', value: '500' }), rule({ name: 'cert', metric: 'tls_days_left', op: '<', value: '14' })];
    expect(validateForm(f)).toEqual({});
    f.alerts = [rule({ name: 'x', metric: 'nope' })];
    expect(errorAt(validateForm(f), 'alert[0].metric')).toContain('not one of');
    f.transport = 'webhook';
    expect(ruleMetrics(f)).toEqual(['cpu']);
  });

  it('depends_on round-trips, is dropped when empty, and is not the feed itself', () => {
    const f = formFromConfig({ ...BASE, depends_on: 'router' });
    expect(f.dependsOn).toBe('router');
    expect(configFromForm(f, BASE).depends_on).toBe('router');
    f.dependsOn = BASE.name;
    expect(errorAt(validateForm(f), 'depends_on')).toContain('itself');
    f.dependsOn = '';
    expect(configFromForm(f, { ...BASE, depends_on: 'router' }).depends_on).toBeUndefined();
  });

  it('tags are comma separated, checked, and dropped when empty', () => {
    const f = formFromConfig({ ...BASE, tags: ['prod', 'db'] });
    expect(f.tags).toBe('prod, db');
    expect(configFromForm(f, BASE).tags).toEqual(['prod', 'db']);
    f.tags = 'prod, Prod';
    expect(errorAt(validateForm(f), 'tags')).toContain('`Prod` is not a tag');
    f.tags = 'prod, prod';
    expect(errorAt(validateForm(f), 'tags')).toContain('twice');
    f.tags = ' ';
    expect(configFromForm(f, { ...BASE, tags: ['prod'] }).tags).toBeUndefined();
  });

  it('a proxy is http://host:port or none, for HTTP and WebSocket feeds only', () => {
    const f = formFromConfig(null);
    f.name = 'p';
    f.transport = 'websocket';
    f.url = 'wss://h/ws';
    f.metrics = [{ name: 'cpu', pointer: '/cpu', prometheus: '', labels: '', regex: '', reading: 'auto', unit: '', quantile: '' }];
    f.proxy = 'socks5://p:1080';
    expect(errorAt(validateForm(f), 'proxy')).toContain('http://host:port');
    f.proxy = 'http://••••••@proxy.lan:3128';
    expect(validateForm(f)).toEqual({});
    expect(configFromForm(f, null).proxy).toBe('http://••••••@proxy.lan:3128');
    f.proxy = 'none';
    expect(configFromForm(f, null).proxy).toBe('none');
    f.proxy = '';
    expect(configFromForm(f, { ...configFromForm(f, null), proxy: 'none' }).proxy).toBeUndefined();
    f.transport = 'mqtt';
    f.proxy = 'http://p:1';
    expect(configFromForm(f, null).proxy).toBeUndefined();
  });

  it('a tcp form takes host:port and a schedule, sends no headers and no metrics', () => {
    const f = formFromConfig(null);
    f.name = 'db-port';
    f.transport = 'tcp';
    f.url = 'tcp://db.lan';
    f.headers = 'X-A: 1';
    expect(errorAt(validateForm(f), 'url')).toContain('tcp://host:port');
    f.url = 'tcp://db.lan:5432';
    f.poll.interval = '30s';
    f.poll.timeout = '5s';
    expect(validateForm(f)).toEqual({});
    const c = configFromForm(f, null);
    expect(c.transport).toBe('tcp');
    expect(c.headers).toEqual({});
    expect(c.poll).toEqual({ interval: '30s', timeout: '5s' });
    f.poll.interval = '10ms';
    expect(errorAt(validateForm(f), 'poll.interval')).toContain('100ms');
  });

  it('a dns form takes dns://server/name?type= or dns:///name', () => {
    const f = formFromConfig(null);
    f.name = 'resolves';
    f.transport = 'dns';
    f.url = 'dns://1.1.1.1';
    expect(errorAt(validateForm(f), 'url')).toContain('dns://server/name');
    for (const ok of ['dns://1.1.1.1/example.com?type=AAAA', 'dns:///example.com', 'dns://[::1]:5353/x.test']) {
      f.url = ok;
      expect(validateForm(f), ok).toEqual({});
    }
    const c = configFromForm(f, null);
    expect(c.transport).toBe('dns');
    expect(c.headers).toEqual({});
  });

  it('a graphql form round-trips its subscription, variables and params', () => {
    const f = formFromConfig(null);
    f.name = 'gql';
    f.transport = 'graphql';
    f.url = 'wss://api/graphql';
    f.gql.query = 'subscription H($h: String!) { health(host: $h) { cpu } }';
    f.gql.variables = '{"h": "web-1"}';
    f.gql.params = 'authorization: Bearer ${TELLTALE_SECRET_GQL}';
    expect(validateForm(f)).toEqual({});
    const c = configFromForm(f, null);
    expect(c.graphql).toEqual({
      query: 'subscription H($h: String!) { health(host: $h) { cpu } }',
      variables: '{"h": "web-1"}',
      protocol: 'auto',
      connection_params: { authorization: 'Bearer ${TELLTALE_SECRET_GQL}' },
    });
    expect(formFromConfig(c).gql.params).toBe('authorization: Bearer ${TELLTALE_SECRET_GQL}');
    f.gql.variables = '[1]';
    expect(errorAt(validateForm(f), 'graphql.variables')).toContain('JSON object');
    f.gql.query = 'query { hello }';
    expect(errorAt(validateForm(f), 'graphql.query')).toContain('subscription');
    f.url = 'https://api/graphql';
    expect(errorAt(validateForm(f), 'url')).toContain('ws://');
  });

  it('a socketio form round-trips its namespace, events, auth and transport', () => {
    const f = formFromConfig(null);
    f.name = 'io';
    f.transport = 'socketio';
    f.url = 'https://status.example.com';
    expect(f.io.transport).toBe('websocket');
    f.io.namespace = '/fleet';
    f.io.events = 'health, alert';
    f.io.auth = 'token: ${TELLTALE_SECRET_IO}';
    f.io.transport = 'auto';
    expect(validateForm(f)).toEqual({});
    const c = configFromForm(f, null);
    expect(c.socketio).toEqual({ namespace: '/fleet', events: ['health', 'alert'], auth: { token: '${TELLTALE_SECRET_IO}' }, transport: 'auto' });
    expect(formFromConfig(c).io.events).toBe('health, alert');
    expect(formFromConfig(c).io.transport).toBe('auto');
    f.io.namespace = 'fleet';
    expect(errorAt(validateForm(f), 'socketio.namespace')).toContain('starts with /');
    f.url = 'mqtt://h';
    expect(errorAt(validateForm(f), 'url')).toContain('http://');
  });

  it('a pg_notify form round-trips its channels, sends no headers and checks the URL', () => {
    const f = formFromConfig(null);
    f.name = 'orders';
    f.transport = 'pg_notify';
    f.url = 'postgres://telltale:pw@db:5432/shop?sslmode=verify-full';
    f.headers = 'X-Old: 1';
    f.pg.channels = 'orders\n\nPayments';
    f.pg.caFile = '/etc/ssl/db-ca.pem';
    expect(validateForm(f)).toEqual({});
    const c = configFromForm(f, null);
    expect(c.headers).toEqual({});
    expect(c.pg_notify).toEqual({ channels: ['orders', 'Payments'], ca_file: '/etc/ssl/db-ca.pem' });
    expect(formFromConfig(c).pg.channels).toBe('orders\nPayments');
    f.url = 'postgres://db:5432/shop';
    expect(errorAt(validateForm(f), 'pg_notify.ca_file')).toContain('sslmode=verify-full');
    f.url = 'postgres://db:5432';
    expect(errorAt(validateForm(f), 'url')).toContain('names no database');
    f.url = 'mqtt://db/shop';
    expect(errorAt(validateForm(f), 'url')).toContain('postgres://');
    f.pg.channels = 'a\na';
    expect(errorAt(validateForm(f), 'pg_notify.channels')).toContain('twice');
    f.pg.channels = '';
    expect(errorAt(validateForm(f), 'pg_notify.channels')).toContain('is empty');
  });

  it('a webhook form needs no URL, round-trips its section and checks the secret', () => {
    const f = formFromConfig(null);
    f.name = 'ci';
    f.transport = 'webhook';
    f.url = '';
    f.headers = 'X-Old: 1';
    f.hook.secret = '${TELLTALE_SECRET_CI}';
    f.hook.rate = '60';
    expect(validateForm(f)).toEqual({});
    const c = configFromForm(f, null);
    expect(c.headers).toEqual({});
    expect(c.webhook).toEqual({ verify: 'github', secret: '${TELLTALE_SECRET_CI}', rate_per_minute: 60 });
    const back = formFromConfig(c);
    expect(back.hook.verify).toBe('github');
    expect(back.hook.rate).toBe('60');
    f.hook.secret = '';
    expect(errorAt(validateForm(f), 'webhook.secret')).toContain('is empty');
    f.hook.verify = 'none';
    expect(validateForm(f)).toEqual({});
    expect(configFromForm(f, null).webhook?.secret).toBe('');
    f.hook.verify = 'standard';
    f.hook.secret = 'not base64!';
    expect(errorAt(validateForm(f), 'webhook.secret')).toContain('whsec_');
    f.hook.secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    f.hook.rate = '0';
    expect(errorAt(validateForm(f), 'webhook.rate_per_minute')).toContain('above zero');
    f.hook.rate = '';
    f.url = 'ws://x/y';
    expect(errorAt(validateForm(f), 'url')).toContain('https://');
  });

  it('a grpc form watches health by default and sends a request for other methods', () => {
    const f = formFromConfig(null);
    f.name = 'rpc';
    f.transport = 'grpc';
    f.url = 'http://h:50051';
    f.grpc.service = 'fleet.v1.Fleet';
    expect(validateForm(f)).toEqual({});
    let c = configFromForm(f, null);
    expect(c.grpc).toEqual({ method: 'grpc.health.v1.Health/Watch', service: 'fleet.v1.Fleet', proto_files: [], proto_include: [] });
    expect(formFromConfig(c).grpc.method).toBe('');
    f.grpc.method = 'fleet.v1.Fleet/Watch';
    f.grpc.request = '{"host":"a"}';
    f.grpc.protoFiles = 'fleet.proto';
    c = configFromForm(f, null);
    expect(c.grpc?.service).toBe('');
    expect(c.grpc?.request).toBe('{"host":"a"}');
    expect(formFromConfig(c).grpc.protoFiles).toBe('fleet.proto');
    f.grpc.request = '[1]';
    expect(errorAt(validateForm(f), 'grpc.request')).toContain('JSON object');
    f.grpc.method = 'Watch';
    expect(errorAt(validateForm(f), 'grpc.method')).toContain('package.Service/Method');
    f.grpc.method = '';
    f.grpc.caFile = '/ca.pem';
    expect(errorAt(validateForm(f), 'grpc.ca_file')).toContain('https://');
  });

  it('a poll form sends method, body and interval', () => {
    const f = formFromConfig(null);
    Object.assign(f, { name: 'p', url: 'http://x/y' });
    f.poll = { interval: '2s', timeout: '', method: 'post', body: '{"q":1}', conditional: false };
    expect(configFromForm(f, null).poll).toEqual({ interval: '2s', method: 'POST', body: '{"q":1}', conditional: false });
  });

  it('sends only the fields a rule kind uses', () => {
    expect(ruleToConfig({ ...rule({ kind: 'stale', after: '2m', value: '5' }) })).toEqual({ name: 'r', kind: 'stale', severity: 'warning', after: '2m' });
    expect(ruleToConfig(rule({ op: '<', value: '10', clear: '20', for: '1m', resolveFor: '5m', labels: 'core="0"' }))).toEqual({
      name: 'r', kind: 'threshold', severity: 'warning', metric: 'cpu', labels: { core: '0' }, op: '<', value: 10, clear: 20, for: '1m', resolve_for: '5m',
    });
    expect(ruleFromConfig({ name: 'r', kind: 'down', severity: 'warning', resolve_for: '2m' }).resolveFor).toBe('2m');
  });
});

describe('validation at the field', () => {
  it('accepts a good rule and reports each bad field by its path', () => {
    expect(validateRule(rule({}), 0, ['cpu'])).toEqual({});
    const e = validateRule(rule({ name: ' ', metric: 'mem', value: 'high', for: 'soon', resolveFor: 'later' }), 2, ['cpu']);
    expect(Object.keys(e).sort()).toEqual(['alert[2].for', 'alert[2].metric', 'alert[2].name', 'alert[2].resolve_for', 'alert[2].value']);
    expect(e['alert[2].value']).toMatch(/not a number/);
  });

  it('clear must be on the healthy side', () => {
    expect(validateRule(rule({ op: '>', value: '90', clear: '95' }), 0)['alert[0].clear']).toMatch(/at or below 90/);
    expect(validateRule(rule({ op: '<', value: '10', clear: '5' }), 0)['alert[0].clear']).toMatch(/at or above 10/);
    expect(validateRule(rule({ op: '>', value: '90', clear: '70' }), 0)).toEqual({});
  });

  it('stale, down and keyword rules need their own fields', () => {
    expect(Object.keys(validateRule(rule({ kind: 'down', after: '' }), 0))).toEqual(['alert[0].after']);
    expect(Object.keys(validateRule(rule({ kind: 'keyword', pattern: '(' }), 0))).toEqual(['alert[0].pattern']);
    expect(validateRule(rule({ kind: 'status', value: '' }), 0)).toEqual({});
  });

  it('checks the feed form per transport', () => {
    const f = formFromConfig(null);
    Object.assign(f, { name: 'web', url: 'ws://x/y', transport: 'poll' });
    f.poll.interval = '10 parsecs';
    const e = validateForm(f, { existingNames: ['web'] });
    expect(e.name).toMatch(/taken/);
    expect(e.url).toMatch(/needs http/);
    expect(e['poll.interval']).toMatch(/not a duration/);
    expect(errorAt(e, 'poll')).toMatch(/not a duration/);

    f.transport = 'long_poll';
    f.url = 'http://x/y';
    f.longPoll = { ...f.longPoll, hold: '30s', timeout: '20s', cursor: 'body', cursorPointer: 'cursor', cursorParam: '' };
    const lp = validateForm(f);
    expect(Object.keys(lp).sort()).toEqual(['long_poll.cursor.param', 'long_poll.cursor.pointer', 'long_poll.timeout']);

    f.transport = 'websocket';
    f.url = 'ws://x/y';
    f.ws.pingInterval = 'often';
    f.metrics = [{ name: 'cpu', pointer: 'cpu', prometheus: '', labels: '', regex: '', reading: 'auto', unit: '', quantile: '' }, { name: 'cpu', pointer: '/c', prometheus: '', labels: '', regex: '', reading: 'auto', unit: '', quantile: '' }];
    const ws = validateForm(f);
    expect(Object.keys(ws).sort()).toEqual(['metric[0].pointer', 'metric[1].name', 'websocket.ping_interval']);
  });
});
