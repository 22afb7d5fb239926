// Browser end-to-end tests of the web UI against real processes:
// `telltale-sim` (a fake fleet), `telltaled serve` (engine, API, the built UI)
// and a tiny HTTP server of our own that serves a hostile payload. Chromium
// is Debian's (`apt-get install chromium`), driven by playwright-core.
//
//   cd ui && npm run e2e
//
// Needs target/debug/telltaled and target/debug/telltale-sim
// (`cargo build --bin telltaled --bin telltale-sim`) and ui/dist (`npm run build`).
// Environment: TELLTALE_BIN_DIR (default <repo>/target/debug), TELLTALE_UI_DIR (default ui/dist),
// CHROMIUM (default /usr/bin/chromium), E2E_HEADFUL=1 to watch.
// Artifacts (screenshots, process logs): ui/e2e/artifacts/.
import { chromium } from 'playwright-core';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, newestMtime, startProcess, stopAll, waitFor, waitForHttp } from './harness.mjs';
import { registerSettingsTests } from './settings.mjs';
import { registerChartTests } from './charts.mjs';
import { registerMaintenanceTests } from './maintenance.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const UI = path.resolve(HERE, '..');
const REPO = path.resolve(UI, '..');
const ARTIFACTS = path.join(HERE, 'artifacts');
const BIN_DIR = process.env.TELLTALE_BIN_DIR ?? path.join(REPO, 'target', 'debug');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const DIST = process.env.TELLTALE_UI_DIR ?? path.join(UI, 'dist');
const RUN_BUDGET_MS = 240_000;

const HOSTILE = '<img src=x onerror="window.__pwned=1">';
const WS_FEED = 'e2e-ws';
const ALERT_FEED = 'e2e-alert';
const HOSTILE_FEED = 'e2e-hostile';
const FAST_FEED = 'e2e-fast';
const PROM_FEED = 'e2e-prom';

// ---- prerequisites ------------------------------------------------------------

function prerequisites() {
  const problems = [];
  const sim = path.join(BIN_DIR, 'telltale-sim');
  const daemon = path.join(BIN_DIR, 'telltaled');
  for (const bin of [sim, daemon]) {
    if (!existsSync(bin)) problems.push(`missing ${bin}: run \`cargo build --bin telltaled --bin telltale-sim\` in ${REPO}`);
  }
  if (!existsSync(path.join(DIST, 'index.html'))) problems.push(`missing ${DIST}/index.html: run \`npm run build\` in ${UI}`);
  if (!existsSync(CHROMIUM)) problems.push(`missing ${CHROMIUM}: run \`apt-get install -y chromium\` (or set CHROMIUM)`);
  if (problems.length) return { problems };
  // stale builds are only warned about: the tests then test what was built
  const warnings = [];
  const rust = newestMtime(path.join(REPO, 'crates'), (p) => p.endsWith('.rs') || p.endsWith('Cargo.toml'));
  for (const bin of [sim, daemon]) {
    if (rust > statSync(bin).mtimeMs) warnings.push(`${path.basename(bin)} is older than the Rust sources (cargo build?)`);
  }
  const ui = newestMtime(path.join(UI, 'src'));
  if (ui > statSync(path.join(DIST, 'index.html')).mtimeMs) warnings.push('ui/dist is older than ui/src (npm run build?)');
  return { problems, warnings, sim, daemon };
}

// ---- the hostile payload server -------------------------------------------------

function startHostileServer(port) {
  let hits = 0;
  const srv = http.createServer((req, res) => {
    hits++;
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(HOSTILE);
  });
  return new Promise((resolve, reject) => {
    srv.on('error', reject);
    srv.listen(port, '127.0.0.1', () =>
      resolve({
        get hits() {
          return hits;
        },
        close: () =>
          new Promise((r) => {
            srv.closeAllConnections?.();
            srv.close(() => r());
          }),
      }),
    );
  });
}

// ---- small helpers over the page and the API ---------------------------------------

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

async function apiJson(ctx, method, p, { text, json } = {}) {
  // The server refuses state-changing requests a web page could send
  // without a preflight: every call carries the custom header, TOML goes as TOML.
  const headers = { Accept: 'application/json', 'X-Telltale-Request': '1' };
  let body;
  if (text !== undefined) {
    headers['Content-Type'] = 'application/toml; charset=utf-8';
    body = text;
  } else if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  }
  const res = await fetch(`${ctx.base}/api${p}`, { method, headers, body });
  const raw = await res.text();
  if (!res.ok) throw new Error(`${method} /api${p} answered ${res.status}: ${raw}`);
  return raw ? JSON.parse(raw) : null;
}

/** The overview tile of a feed (an <a class="tile"> whose .name is exactly `name`). */
function tile(page, name) {
  return page.locator('a.tile').filter({ has: page.locator('.name').getByText(name, { exact: true }) });
}

/** {symbol, word} of a tile's status badge. */
async function tileBadge(page, name) {
  const t = tile(page, name);
  if ((await t.count()) !== 1) return null;
  return {
    symbol: (await t.locator('.badge .symbol').textContent())?.trim(),
    word: (await t.locator('.badge .word').textContent())?.trim(),
  };
}

/** The numbers shown on a tile, as {metric: text}. */
async function tileValues(page, name) {
  const t = tile(page, name);
  if ((await t.count()) !== 1) return {};
  return t.evaluate((el) => {
    const out = {};
    for (const div of el.querySelectorAll('dl.values > div')) {
      out[div.querySelector('dt')?.textContent?.trim() ?? ''] = div.querySelector('dd')?.textContent?.trim() ?? '';
    }
    return out;
  });
}

/** How many events the event log holds (in memory, not in the DOM). */
async function eventCount(page) {
  return Number(await page.locator('.ev-count').getAttribute('data-count'));
}

/** Imports a TOML feeds file through the API and asserts that `name` was imported without errors. */
async function importFeed(ctx, toml, name) {
  const report = await apiJson(ctx, 'POST', '/config/import', { text: toml });
  assert(report.errors.length === 0, `import errors: ${JSON.stringify(report.errors)}`);
  assert(report.imported.includes(name), `import report does not list ${name}: ${JSON.stringify(report)}`);
  return report;
}

/** Opens a feed's detail page from its overview tile and waits for its heading. */
async function openFeedTile(page, name) {
  await tile(page, name).click();
  await page.waitForURL((u) => u.hash === `#/feed/${name}`, { timeout: 5_000 });
  await page.getByRole('heading', { name, level: 1 }).waitFor({ timeout: 10_000 });
}

async function goOverview(ctx) {
  await ctx.page.getByRole('link', { name: 'Overview', exact: true }).click();
  await ctx.page.locator('#overview-title').waitFor({ timeout: 5_000 });
}

// ---- the tests -----------------------------------------------------------------------
// They share one browser page and one telltaled, and run in this order. The
// alert test runs first because it has to catch the sim's scripted incident
// (host-1's cpu climbs above 90 % 3 s after the sim starts and stays there for
// --incident-hold); every test waits on conditions with timeouts, never on
// fixed sleeps.

const tests = [];
const test = (name, fn) => tests.push({ name, fn });

test('alerts: an imported threshold rule fires on the incident; Acknowledge reaches the API', async (ctx) => {
  const { page } = ctx;
  const toml = `
[[feed]]
name = "${ALERT_FEED}"
transport = "websocket"
url = "ws://127.0.0.1:${ctx.simPort}/ws?host=host-1"
format = "json"

[[feed.metric]]
name = "cpu"
pointer = "/cpu"
unit = "percent"

[[feed.alert]]
name = "cpu high"
kind = "threshold"
metric = "cpu"
op = ">"
value = 90
clear = 70
severity = "critical"
`;
  await importFeed(ctx, toml, ALERT_FEED);

  await page.goto(`${ctx.base}/#/alerts`);
  await page.locator('#alerts-title').waitFor({ timeout: 10_000 });
  const firingPanel = page.locator('.panel').filter({ has: page.getByRole('heading', { name: /^Firing \(\d+\)$/ }) });
  const row = firingPanel
    .locator('li.alert')
    .filter({ hasText: 'cpu high' })
    .filter({ has: page.getByRole('link', { name: ALERT_FEED, exact: true }) });
  // the store polls alerts every 5 s; the incident starts 3 s after the sim
  await row.waitFor({ timeout: 30_000 });
  const text = await row.innerText();
  assert(/critical/.test(text), `firing row does not say critical: ${text}`);
  assert(/firing/.test(text), `firing row does not say firing: ${text}`);
  const badge = (await page.getByRole('link', { name: /^Alerts/ }).innerText()).replace(/\s+/g, ' ');
  assert(/▲ \d+/.test(badge), `nav does not count firing alerts: "${badge}"`);

  const before = (await apiJson(ctx, 'GET', '/alerts')).find((a) => a.feed === ALERT_FEED && a.rule === 'cpu high');
  assert(before && before.phase === 'firing', `API does not show the alert firing: ${JSON.stringify(before)}`);
  assert(before.acked_at === null, `alert already acknowledged before the click: ${JSON.stringify(before)}`);

  await row.getByRole('button', { name: 'Acknowledge', exact: true }).click();
  await row.getByRole('button', { name: '✓ Acknowledged' }).waitFor({ timeout: 10_000 });
  assert(await row.getByRole('button', { name: '✓ Acknowledged' }).isDisabled(), 'the acknowledged button is still enabled');

  const after = await waitFor(
    'GET /api/alerts to show the alert acknowledged',
    async () => {
      const a = (await apiJson(ctx, 'GET', '/alerts')).find((x) => x.id === before.id);
      return a && a.acked_at !== null ? a : null;
    },
    { timeoutMs: 5_000 },
  );
  assert(after.acked_at >= before.since, `acked_at ${after.acked_at} precedes the firing (${before.since})`);
  await page.screenshot({ path: path.join(ARTIFACTS, 'alerts.png'), fullPage: true });
});

registerChartTests(test, { artifacts: ARTIFACTS, alertFeed: ALERT_FEED });

test('editor: add a websocket feed through the form; its tile goes live on the Overview', async (ctx) => {
  const { page } = ctx;
  await page.goto(`${ctx.base}/#/`);
  await page.locator('#overview-title').waitFor({ timeout: 10_000 });
  await page.getByRole('link', { name: '+ Add feed' }).click();
  await page.getByRole('heading', { name: 'New feed' }).waitFor({ timeout: 5_000 });

  await page.getByLabel('Name', { exact: true }).fill(WS_FEED);
  await page.getByLabel('Transport').selectOption('websocket');
  await page.getByLabel('Format').selectOption('json');
  await page.getByLabel('URL').fill(`ws://127.0.0.1:${ctx.simPort}/ws?host=host-2`);
  assert((await page.getByLabel('Poll interval').count()) === 0, 'a poll interval is offered for a websocket feed');
  await page.getByRole('button', { name: '+ Metric' }).click();
  await page.getByLabel('metric name').last().fill('cpu');
  await page.getByLabel('JSON pointer').last().fill('/cpu');

  // Test connection before saving: the first messages, with the metric's
  // values, and the payload offered for click-to-metric; nothing stored.
  await page.getByRole('button', { name: 'Test connection' }).click();
  const probe = page.getByTestId('probe');
  await probe.waitFor({ timeout: 15_000 });
  const probeText = await probe.innerText();
  assert(/3 messages in [\d.]+ s; nothing was stored/.test(probeText), `probe summary: ${probeText}`);
  assert(/receiving messages/.test(probeText), `probe states show the feed live: ${probeText}`);
  assert(/cpu = \d/.test(probeText), `probe shows the cpu value: ${probeText}`);
  assert(probeText.includes('"host": "host-2"'), `probe shows the pretty payload: ${probeText}`);
  await page.getByRole('button', { name: /^[\d.]+$/ }).first().waitFor({ timeout: 5_000 });
  const before = await apiJson(ctx, 'GET', '/feeds');
  assert(!before.some((f) => f.name === WS_FEED), 'Test connection stored the feed');

  await page.getByRole('button', { name: 'Save feed' }).click();

  await page.waitForURL((u) => u.hash === `#/feed/${WS_FEED}`, { timeout: 10_000 });
  // saving lands on the detail screen, opened before the feed had any series:
  // its metric picker fills in once the first samples arrive
  await waitFor(
    'the new feed\'s detail screen to offer cpu in its metric picker',
    async () => (await page.locator('#metric option').allTextContents()).some((t) => t.startsWith('cpu')),
    { timeoutMs: 15_000, intervalMs: 200 },
  ).catch(async (e) => {
    throw new Error(`${e.message}; options ${JSON.stringify(await page.locator('#metric option').allTextContents())}`);
  });
  await goOverview(ctx);
  await tile(page, WS_FEED).waitFor({ timeout: 10_000 });
  await waitFor(
    `the ${WS_FEED} tile to show "● live"`,
    async () => {
      const b = await tileBadge(page, WS_FEED);
      return b && b.symbol === '●' && b.word === 'live' ? b : null;
    },
    { timeoutMs: 15_000, intervalMs: 200 },
  ).catch(async (e) => {
    throw new Error(`${e.message}; badge now ${JSON.stringify(await tileBadge(page, WS_FEED))}`);
  });
  const values = await waitFor(`a cpu value on the ${WS_FEED} tile`, async () => {
    const v = await tileValues(page, WS_FEED);
    return v.cpu !== undefined && /\d/.test(v.cpu) ? v : null;
  });
  assert(Object.keys(values).join() === 'cpu', `tile shows other metrics than cpu: ${JSON.stringify(values)}`);

  const stored = await apiJson(ctx, 'GET', `/feeds/${WS_FEED}`);
  assert(stored.config.transport === 'websocket', `stored transport ${stored.config.transport}`);
  assert(stored.config.url === `ws://127.0.0.1:${ctx.simPort}/ws?host=host-2`, `stored url ${stored.config.url}`);
  assert(
    JSON.stringify(stored.config.metric.map((m) => [m.name, m.pointer])) === '[["cpu","/cpu"]]',
    `stored metrics ${JSON.stringify(stored.config.metric)}`,
  );
});

test('feed detail: the uPlot chart draws the series; the event log shows payloads', async (ctx) => {
  const { page } = ctx;
  await page.goto(`${ctx.base}/#/`);
  await openFeedTile(page, WS_FEED);

  await waitFor('the metric picker to offer cpu', async () =>
    (await page.locator('#metric option').allTextContents()).some((t) => t.startsWith('cpu')),
  );

  // the newest 5 minutes, so that the few seconds of data span some width
  await page.getByRole('group', { name: 'Time range' }).getByRole('button', { name: '5m', exact: true }).click();
  await waitFor('the 5m range to be pressed', async () =>
    (await page.getByRole('button', { name: '5m', exact: true }).getAttribute('aria-pressed')) === 'true',
  );
  // pixels of the series' stroke colour (--chart-line) on the uPlot canvas
  const linePixels = () =>
    page.evaluate(() => {
      const host = document.querySelector('.chart');
      const canvas = host?.querySelector('canvas');
      if (!host || !canvas || canvas.width === 0) return { count: 0, why: 'no canvas' };
      const probe = document.createElement('canvas').getContext('2d');
      probe.fillStyle = getComputedStyle(host).getPropertyValue('--chart-line').trim();
      probe.fillRect(0, 0, 1, 1);
      const [r, g, b] = probe.getImageData(0, 0, 1, 1).data;
      const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let count = 0;
      const columns = new Set();
      for (let i = 0; i < px.length; i += 4) {
        if (Math.abs(px[i] - r) + Math.abs(px[i + 1] - g) + Math.abs(px[i + 2] - b) < 60 && px[i + 3] > 200) {
          count++;
          columns.add((i / 4) % canvas.width);
        }
      }
      return { count, columns: columns.size, size: [canvas.width, canvas.height] };
    });
  await waitFor(
    'the chart canvas to show the cpu line (pixels of --chart-line in ≥ 8 columns)',
    async () => {
      const r = await linePixels();
      return r.columns >= 8 ? r : null;
    },
    { timeoutMs: 15_000, intervalMs: 250 },
  ).catch(async (e) => {
    throw new Error(`${e.message}; now ${JSON.stringify(await linePixels())}`);
  });

  // the legend reads a number where the cursor is: hover over the newest data
  const over = page.locator('.chart .u-over');
  const box = await over.boundingBox();
  assert(box && box.width > 0, 'no uPlot plotting area');
  await page.mouse.move(box.x + box.width - 2, box.y + box.height / 2);
  await waitFor('the uPlot legend to show a cpu value under the cursor', async () => {
    const v = (await page.locator('.chart .u-legend .u-series').nth(1).locator('.u-value').textContent())?.trim();
    return v && /^-?\d/.test(v) ? v : null;
  }, { timeoutMs: 5_000, intervalMs: 200 });
  await page.mouse.move(0, 0);

  // a drag across the plot zooms into that span; Reset zoom goes back to 5m
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.95, box.y + box.height / 2, { steps: 5 });
  await page.mouse.up();
  const reset = page.getByRole('button', { name: 'Reset zoom' });
  await reset.waitFor({ timeout: 5_000 });
  const note = await page.locator('.range-note').innerText();
  assert(/\(zoomed\)/.test(note), `no zoomed range note: ${note}`);
  await reset.click();
  await waitFor('5m to be pressed again after Reset zoom', async () =>
    (await page.getByRole('button', { name: '5m', exact: true }).getAttribute('aria-pressed')) === 'true' &&
    (await reset.count()) === 0,
  );
  // a custom range whose end precedes its start is refused at the field
  await page.getByRole('button', { name: 'Custom…' }).click();
  await page.getByRole('textbox', { name: 'From', exact: true }).fill('2026-01-02T10:00');
  await page.getByRole('textbox', { name: 'To', exact: true }).fill('2026-01-01T10:00');
  await page.getByRole('button', { name: 'Show range' }).click();
  await page.locator('.custom .field-error').filter({ hasText: 'must be after the start' }).waitFor({ timeout: 5_000 });
  await page.getByRole('button', { name: 'Custom…' }).click();

  // rows are one line each; opening one shows its payload pretty-printed
  const rows = page.locator('ol.events li button.ev');
  await waitFor('two events of host-2 in the event log', async () => (await rows.count()) >= 2);
  await rows.nth(1).click();
  const payloads = page.locator('ol.events pre.payload');
  await payloads.first().waitFor({ timeout: 5_000 });
  const first = await payloads.first().textContent();
  const parsed = JSON.parse(first);
  assert(parsed.host === 'host-2' && typeof parsed.cpu === 'number', `unexpected payload: ${first}`);
  assert(first.includes('\n  "cpu": '), `payload is not pretty-printed: ${first}`);
  await page.screenshot({ path: path.join(ARTIFACTS, 'feed-detail.png'), fullPage: true });
});

test('editor: clicking a number in the latest event makes it a metric', async (ctx) => {
  const { page } = ctx;
  await page.goto(`${ctx.base}/#/feed/${WS_FEED}`);
  await page.getByRole('link', { name: 'Edit', exact: true }).click();
  await page.getByRole('heading', { name: `Edit ${WS_FEED}` }).waitFor({ timeout: 5_000 });
  const leaf = page.locator('ul.leaves li').filter({ has: page.locator('span.muted').getByText('/mem', { exact: true }) });
  await leaf.waitFor({ timeout: 10_000 });
  const metricNames = page.getByLabel('metric name');
  await waitFor('the editor to load the cpu metric', async () => (await metricNames.count()) === 1);
  await leaf.getByRole('button').click();
  await waitFor('a second metric row after the click', async () => (await metricNames.count()) === 2);
  assert((await metricNames.nth(1).inputValue()) === 'mem', `new metric named ${await metricNames.nth(1).inputValue()}`);
  assert((await page.getByLabel('JSON pointer').nth(1).inputValue()) === '/mem', 'new metric pointer is not /mem');
  await page.getByRole('button', { name: 'Save feed' }).click();
  await page.waitForURL((u) => u.hash === `#/feed/${WS_FEED}`, { timeout: 10_000 });

  const stored = await apiJson(ctx, 'GET', `/feeds/${WS_FEED}`);
  assert(
    JSON.stringify(stored.config.metric.map((m) => [m.name, m.pointer])) === '[["cpu","/cpu"],["mem","/mem"]]',
    `stored metrics ${JSON.stringify(stored.config.metric)}`,
  );
  // the metric picker of the detail screen offers mem once samples arrive
  await waitFor(
    'the metric picker to offer mem',
    async () => (await page.locator('#metric option').allTextContents()).some((t) => t.startsWith('mem')),
    { timeoutMs: 15_000, intervalMs: 250 },
  ).catch(async (e) => {
    throw new Error(`${e.message}; options ${JSON.stringify(await page.locator('#metric option').allTextContents())}`);
  });
  await goOverview(ctx);
  await waitFor(`a mem value on the ${WS_FEED} tile`, async () => {
    const v = await tileValues(page, WS_FEED);
    return v.mem !== undefined && /\d/.test(v.mem) ? v : null;
  }, { timeoutMs: 10_000, intervalMs: 200 });
});

test('hostile payload: shown literally in the event log, never run as HTML', async (ctx) => {
  const { page } = ctx;
  const toml = `
[[feed]]
name = "${HOSTILE_FEED}"
transport = "poll"
url = "http://127.0.0.1:${ctx.hostilePort}/status"
format = "text"

[feed.poll]
interval = "500ms"
`;
  await importFeed(ctx, toml, HOSTILE_FEED);
  await waitFor('the hostile server to be polled', async () => ctx.hostile.hits > 0, { timeoutMs: 10_000 });

  await goOverview(ctx);
  await openFeedTile(page, HOSTILE_FEED);
  const previews = page.locator('ol.events li .preview');
  await waitFor('the hostile payload in the event log', async () => (await previews.count()) >= 1, { timeoutMs: 10_000 });
  const texts = await previews.allTextContents();
  assert(texts.every((t) => t === HOSTILE), `payloads not shown literally: ${JSON.stringify(texts.slice(0, 3))}`);
  // live rows too: wait for a few more polls to arrive through the stream
  const n = await eventCount(page);
  await waitFor('more hostile payloads through the live stream', async () => (await eventCount(page)) > n, {
    timeoutMs: 10_000,
  });
  // an opened row shows the payload as text as well
  await page.locator('ol.events li button.ev').first().click();
  const opened = page.locator('ol.events pre.payload');
  await opened.first().waitFor({ timeout: 5_000 });
  assert((await opened.first().textContent()) === HOSTILE, `opened payload: ${await opened.first().textContent()}`);
  // the editor's preview of the latest event and the overview render it as well
  await page.getByRole('link', { name: 'Edit', exact: true }).click();
  await page.getByRole('heading', { name: `Edit ${HOSTILE_FEED}` }).waitFor({ timeout: 5_000 });
  await goOverview(ctx);
  const verdict = await page.evaluate(() => ({
    pwned: typeof window.__pwned,
    imgs: document.querySelectorAll('img[src="x"]').length,
  }));
  assert(verdict.pwned === 'undefined', `window.__pwned is ${verdict.pwned}`);
  assert(verdict.imgs === 0, `${verdict.imgs} img[src=x] element(s) in the DOM`);
  assert(ctx.injected.length === 0, `the page tried to load injected images: ${ctx.injected.join(', ')}`);
});

test('editor: pick Prometheus metric names and label sets from the latest sample', async (ctx) => {
  const { page } = ctx;
  const toml = `
[[feed]]
name = "${PROM_FEED}"
transport = "poll"
url = "http://127.0.0.1:${ctx.simPort}/metrics/host-2"
format = "prometheus"

[feed.poll]
interval = "500ms"
`;
  await importFeed(ctx, toml, PROM_FEED);
  await waitFor(`${PROM_FEED} to store a sample`, async () =>
    (await apiJson(ctx, 'GET', `/events?feed=${PROM_FEED}&limit=1`)).events.length === 1,
  );
  await page.goto(`${ctx.base}/#/edit/${PROM_FEED}`);
  await page.getByRole('heading', { name: `Edit ${PROM_FEED}` }).waitFor({ timeout: 10_000 });
  const family = page.getByRole('button', { name: 'node_load1', exact: true });
  await family.waitFor({ timeout: 10_000 });
  await family.click();
  await waitFor('a picked family to be offered no more', async () => family.isDisabled());
  await page.getByLabel('Filter metric names').fill('cpu_usage');
  const cpuFamily = page.locator('ul.families > li').filter({ has: page.getByRole('button', { name: 'node_cpu_usage_percent', exact: true }) });
  await cpuFamily.getByRole('button', { name: '{host="host-2"}' }).click();
  await waitFor('two metric rows', async () => (await page.getByLabel('metric name', { exact: true }).count()) === 2);
  await page.getByRole('button', { name: 'Save feed' }).click();
  await page.waitForURL((u) => u.hash === `#/feed/${PROM_FEED}`, { timeout: 10_000 });
  const stored = await apiJson(ctx, 'GET', `/feeds/${PROM_FEED}`);
  const got = JSON.stringify(stored.config.metric);
  const want = JSON.stringify([
    { name: 'node_load1', prometheus: 'node_load1' },
    { name: 'node_cpu_usage_percent_host_2', prometheus: 'node_cpu_usage_percent', labels: { host: 'host-2' } },
  ]);
  assert(got === want, `stored metrics ${got}, want ${want}`);
  // the engine extracts them: the detail screen's picker offers both series
  await waitFor(
    'the metric picker to offer both Prometheus series',
    async () => {
      const opts = await page.locator('#metric option').allTextContents();
      return opts.some((t) => t.startsWith('node_load1')) && opts.some((t) => t.startsWith('node_cpu_usage_percent_host_2'));
    },
    { timeoutMs: 15_000, intervalMs: 250 },
  ).catch(async (e) => {
    throw new Error(`${e.message}; options ${JSON.stringify(await page.locator('#metric option').allTextContents())}`);
  });
  await apiJson(ctx, 'DELETE', `/feeds/${PROM_FEED}`);
});

test('editor: duplicate a feed, then delete the copy', async (ctx) => {
  const { page } = ctx;
  const copy = `${WS_FEED}-copy`;
  await page.goto(`${ctx.base}/#/edit/${WS_FEED}`);
  await page.getByRole('heading', { name: `Edit ${WS_FEED}` }).waitFor({ timeout: 10_000 });
  await page.getByRole('button', { name: 'Duplicate', exact: true }).click();
  await page.getByRole('heading', { name: `Copy of ${WS_FEED}` }).waitFor({ timeout: 5_000 });
  await page.waitForURL((u) => u.hash === '#/new', { timeout: 5_000 });
  assert((await page.getByLabel('Name', { exact: true }).inputValue()) === copy, 'the copy is not named e2e-ws-copy');
  assert(await page.getByLabel('Name', { exact: true }).isEnabled(), 'the copy\'s name cannot be edited');
  // the copy's name is checked against the existing feeds at the field
  await page.getByLabel('Name', { exact: true }).fill(WS_FEED);
  await page.getByRole('button', { name: 'Save feed' }).click();
  const nameError = page.locator('.field-error').filter({ hasText: 'is taken' });
  await nameError.waitFor({ timeout: 5_000 });
  assert((await page.getByLabel('Name', { exact: true }).getAttribute('aria-invalid')) === 'true', 'name field not marked invalid');
  await page.getByLabel('Name', { exact: true }).fill(copy);
  await page.getByRole('button', { name: 'Save feed' }).click();
  await page.waitForURL((u) => u.hash === `#/feed/${copy}`, { timeout: 10_000 });

  const original = await apiJson(ctx, 'GET', `/feeds/${WS_FEED}`);
  const stored = await apiJson(ctx, 'GET', `/feeds/${copy}`);
  for (const k of ['transport', 'url', 'format', 'metric', 'alert']) {
    assert(
      JSON.stringify(stored.config[k] ?? null) === JSON.stringify(original.config[k] ?? null),
      `the copy's ${k} differs: ${JSON.stringify(stored.config[k])} vs ${JSON.stringify(original.config[k])}`,
    );
  }
  await goOverview(ctx);
  await tile(page, copy).waitFor({ timeout: 10_000 });

  await tile(page, copy).click();
  await page.getByRole('link', { name: 'Edit', exact: true }).click();
  await page.getByRole('heading', { name: `Edit ${copy}` }).waitFor({ timeout: 5_000 });
  await page.getByRole('button', { name: 'Delete…' }).click();
  await page.getByRole('button', { name: 'Yes, delete' }).click();
  await page.locator('#overview-title').waitFor({ timeout: 10_000 });
  await waitFor('the copy to be gone from GET /api/feeds', async () =>
    !(await apiJson(ctx, 'GET', '/feeds')).some((f) => f.name === copy),
  );
  await waitFor('the copy\'s tile to be gone', async () => (await tile(page, copy).count()) === 0);
  assert((await tile(page, WS_FEED).count()) === 1, 'the original feed is gone too');
});

test('tags: typed in the editor, they filter the overview; Snooze TAG reaches the tagged feeds only', async (ctx) => {
  const { page } = ctx;
  const tagged = 'e2e-tagged';
  await page.goto(`${ctx.base}/#/new`);
  await page.getByLabel('Name', { exact: true }).fill(tagged);
  await page.getByLabel('Transport').selectOption('tcp');
  await page.getByLabel('URL').fill(`tcp://127.0.0.1:${ctx.simPort}`);
  await page.getByLabel(/^Tags/).fill('Prod');
  await page.getByRole('button', { name: 'Save feed' }).click();
  await page.locator('.field-error').filter({ hasText: 'is not a tag' }).waitFor({ timeout: 5_000 });
  await page.getByLabel(/^Tags/).fill('prod, e2e');
  await page.getByRole('button', { name: 'Save feed' }).click();
  await page.waitForURL((u) => u.hash === `#/feed/${tagged}`, { timeout: 10_000 });
  const stored = await apiJson(ctx, 'GET', `/feeds/${tagged}`);
  assert(JSON.stringify(stored.config.tags) === '["prod","e2e"]', `stored tags ${JSON.stringify(stored.config.tags)}`);
  try {
    await goOverview(ctx);
    const filter = page.getByRole('group', { name: 'Filter by tag' });
    await filter.getByRole('button', { name: 'prod', exact: true }).click();
    await waitFor('only the tagged feed to be shown', async () =>
      (await tile(page, tagged).count()) === 1 && (await tile(page, WS_FEED).count()) === 0,
    );
    // the TCP check connects to the sim's port: up, with its connect time
    await waitFor('the TCP check to go live', async () => (await tileBadge(page, tagged))?.word === 'live');
    await page.getByTestId('snooze-tag').click();
    await page.getByRole('status').filter({ hasText: `Snoozed for 1 h: ${tagged}` }).waitFor({ timeout: 5_000 });
    await filter.getByRole('button', { name: 'prod', exact: true }).click();
    await waitFor('every feed to be shown again', async () => (await tile(page, WS_FEED).count()) === 1);
  } finally {
    await apiJson(ctx, 'DELETE', `/feeds/${tagged}`);
  }
});

test('editor: a threshold alert rule through the inline rule editor, checked at the field', async (ctx) => {
  const { page } = ctx;
  await page.goto(`${ctx.base}/#/edit/${WS_FEED}`);
  await page.getByRole('heading', { name: `Edit ${WS_FEED}` }).waitFor({ timeout: 10_000 });
  await waitFor('the editor to load the metrics', async () => (await page.getByLabel('metric name').count()) === 2);
  await page.getByRole('button', { name: '+ Alert rule' }).click();
  const rule = page.getByRole('group', { name: /^Alert rule 1:/ });
  await rule.waitFor({ timeout: 5_000 });
  assert((await rule.getByLabel('Rule name').inputValue()) === 'cpu high', 'new rule is not named after the first metric');
  assert((await rule.getByRole('combobox', { name: /^Metric/ }).inputValue()) === 'cpu', 'new rule does not watch the first metric');
  await rule.getByRole('combobox', { name: /^Op/ }).selectOption('>');
  await rule.getByRole('textbox', { name: /^Value/ }).fill('lots');
  await rule.getByLabel('Clear at').fill('95');
  await rule.getByRole('combobox', { name: /^Severity/ }).selectOption('critical');
  await rule.getByLabel('For (optional)').fill('soon');
  await page.getByRole('button', { name: 'Save feed' }).click();
  // nothing is saved while a field is wrong; each message sits at its field
  await rule.locator('.field-error').filter({ hasText: 'is not a number' }).waitFor({ timeout: 5_000 });
  await rule.locator('.field-error').filter({ hasText: 'is not a duration' }).waitFor({ timeout: 5_000 });
  assert((await rule.getByRole('textbox', { name: /^Value/ }).getAttribute('aria-invalid')) === 'true', 'value not marked invalid');
  assert(
    ((await apiJson(ctx, 'GET', `/feeds/${WS_FEED}`)).config.alert ?? []).length === 0,
    'a rule was saved although the form had errors',
  );
  await rule.getByRole('textbox', { name: /^Value/ }).fill('80');
  await rule.getByLabel('For (optional)').fill('5s');
  await rule.locator('.field-error').filter({ hasText: 'healthy side' }).waitFor({ timeout: 5_000 });
  await rule.getByLabel('Clear at').fill('70');
  await waitFor('the rule\'s field errors to clear', async () => (await rule.locator('.field-error').count()) === 0);
  await page.screenshot({ path: path.join(ARTIFACTS, 'editor.png'), fullPage: true });
  await page.getByRole('button', { name: 'Save feed' }).click();
  await page.waitForURL((u) => u.hash === `#/feed/${WS_FEED}`, { timeout: 10_000 });

  const stored = await apiJson(ctx, 'GET', `/feeds/${WS_FEED}`);
  const alerts = stored.config.alert ?? [];
  assert(alerts.length === 1, `stored alert rules: ${JSON.stringify(alerts)}`);
  const a = alerts[0];
  const want = { name: 'cpu high', kind: 'threshold', metric: 'cpu', op: '>', value: 80, clear: 70, for: '5s', severity: 'critical' };
  for (const [k, v] of Object.entries(want)) assert(a[k] === v, `stored rule ${k} = ${JSON.stringify(a[k])}, want ${JSON.stringify(v)}: ${JSON.stringify(a)}`);
  // the editor shows it again, and the metrics were kept
  await page.getByRole('link', { name: 'Edit', exact: true }).click();
  await page.getByRole('group', { name: 'Alert rule 1: cpu high' }).waitFor({ timeout: 5_000 });
  assert(JSON.stringify(stored.config.metric.map((m) => m.name)) === '["cpu","mem"]', `metrics: ${JSON.stringify(stored.config.metric)}`);
});

test('event log: thousands of events scroll with only a window of rows in the DOM', async (ctx) => {
  const { page } = ctx;
  const toml = `
[[feed]]
name = "${FAST_FEED}"
transport = "websocket"
url = "ws://127.0.0.1:${ctx.simPort}/ws?host=host-3&rate=400"
format = "json"
`;
  await importFeed(ctx, toml, FAST_FEED);
  await waitFor(
    `${FAST_FEED} to store 2,500 events`,
    async () => ((await apiJson(ctx, 'GET', '/feeds')).find((f) => f.name === FAST_FEED)?.messages ?? 0) >= 2_500,
    { timeoutMs: 30_000, intervalMs: 500 },
  );
  await page.goto(`${ctx.base}/#/feed/${FAST_FEED}`);
  await page.getByRole('heading', { name: FAST_FEED, level: 1 }).waitFor({ timeout: 10_000 });
  const viewport = page.locator('.log .viewport');
  const domRows = () => page.locator('ol.events > li').count();
  await waitFor('the log to load its first page', async () => (await eventCount(page)) >= 500);
  // scroll down page after page: older events are fetched, the DOM stays small
  let maxRows = 0;
  await waitFor(
    'the log to page in at least 2,000 events while scrolling',
    async () => {
      await viewport.evaluate((el) => el.scrollTo(0, el.scrollHeight));
      maxRows = Math.max(maxRows, await domRows());
      return (await eventCount(page)) >= 2_000;
    },
    { timeoutMs: 20_000, intervalMs: 300 },
  );
  const total = await eventCount(page);
  const rendered = await domRows();
  const deepest = await page.locator('ol.events > li').last().getAttribute('data-index');
  console.log(`    event log: ${total} events in memory, ${rendered} rows in the DOM (most seen ${maxRows}), last rendered row #${deepest}`);
  assert(maxRows <= 60 && rendered <= 60, `the DOM held ${Math.max(maxRows, rendered)} rows for ${total} events`);
  assert(Number(deepest) >= 1_000, `scrolling to the end rendered row ${deepest} only`);
  // back to the top: the newest rows, and the live tail still arriving
  await viewport.evaluate((el) => el.scrollTo(0, 0));
  await waitFor('the top row to be row #0', async () => (await page.locator('ol.events > li').first().getAttribute('data-index')) === '0');
  const before = await eventCount(page);
  await waitFor('live events to keep arriving at the top', async () => (await eventCount(page)) > before + 100);
  assert((await domRows()) <= 60, `the DOM holds ${await domRows()} rows after the live tail grew`);
  // pausing holds new rows back and counts them
  await page.getByRole('button', { name: '❚❚ Pause' }).click();
  const paused = await eventCount(page);
  await page.getByRole('button', { name: /^▶ Resume \(\d[\d,]* new\)$/ }).waitFor({ timeout: 5_000 });
  assert((await eventCount(page)) === paused, 'rows were added while paused');
  await page.getByRole('button', { name: /^▶ Resume/ }).click();
  await waitFor('held rows to be added on resume', async () => (await eventCount(page)) > paused);
  await apiJson(ctx, 'DELETE', `/feeds/${FAST_FEED}`);
});

test('overview with 200 feeds: tiles render and update (a measurement, not a timed assertion)', async (ctx) => {
  const { page } = ctx;
  const n = 200;
  let toml = '';
  for (let i = 1; i <= n; i++) {
    toml += `
[[feed]]
name = "bulk-${String(i).padStart(3, '0')}"
transport = "websocket"
url = "ws://127.0.0.1:${ctx.simPort}/ws?host=host-${1 + (i % 3)}&rate=2"
format = "json"

[[feed.metric]]
name = "cpu"
pointer = "/cpu"
`;
  }
  const report = await apiJson(ctx, 'POST', '/config/import', { text: toml });
  assert(report.errors.length === 0 && report.imported.length === n, `import: ${report.imported.length} imported, errors ${JSON.stringify(report.errors.slice(0, 3))}`);
  await page.goto(`${ctx.base}/#/`);
  await page.locator('#overview-title').waitFor({ timeout: 10_000 });
  await waitFor(`${n} bulk tiles`, async () => (await page.locator('a.tile').filter({ hasText: 'bulk-' }).count()) === n, {
    timeoutMs: 20_000,
  });
  await waitFor('most bulk tiles to be live', async () => {
    const live = await page.locator('a.tile').filter({ hasText: 'bulk-' }).filter({ hasText: '● live' }).count();
    return live >= n * 0.9 ? live : null;
  }, { timeoutMs: 30_000, intervalMs: 500 });
  // measure 5 s of the live overview: frames, long tasks, time in script
  const m = await page.evaluate(
    () =>
      new Promise((resolve) => {
        const longTasks = [];
        let obs = null;
        try {
          obs = new PerformanceObserver((list) => longTasks.push(...list.getEntries().map((e) => e.duration)));
          obs.observe({ type: 'longtask', buffered: false });
        } catch {
          obs = null;
        }
        let frames = 0;
        let worst = 0;
        let last = performance.now();
        const t0 = last;
        const tick = (t) => {
          frames++;
          worst = Math.max(worst, t - last);
          last = t;
          if (t - t0 < 5_000) requestAnimationFrame(tick);
          else {
            obs?.disconnect();
            resolve({ fps: (frames * 1000) / (t - t0), worstFrameMs: worst, longTasks: longTasks.length, longestTaskMs: Math.max(0, ...longTasks) });
          }
        };
        requestAnimationFrame(tick);
      }),
  );
  console.log(
    `    overview, ${n} live feeds: ${m.fps.toFixed(0)} fps, worst frame ${m.worstFrameMs.toFixed(0)} ms, ${m.longTasks} long tasks (longest ${m.longestTaskMs.toFixed(0)} ms) over 5 s`,
  );
  // the tiles are still being updated: some bulk tile's value changes
  const sample = async () => page.locator('a.tile').filter({ hasText: 'bulk-' }).locator('dl.values dd').allTextContents();
  const a = await sample();
  await waitFor('bulk tile values to change', async () => JSON.stringify(await sample()) !== JSON.stringify(a), { timeoutMs: 10_000 });
  // keyboard: `/` focuses the search, typing filters, arrows and Enter open a tile
  await page.keyboard.press('/');
  await waitFor('`/` to focus the feed search', async () => page.evaluate(() => document.activeElement?.id === 'feed-search'));
  await page.keyboard.type('bulk-007');
  await waitFor('the search to leave one tile', async () => (await page.locator('a.tile').count()) === 1);
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'bulk-007', level: 1 }).waitFor({ timeout: 5_000 });
  await page.keyboard.press('Escape');
  await page.locator('#overview-title').waitFor({ timeout: 5_000 });
});

registerSettingsTests(test, { artifacts: ARTIFACTS });
registerMaintenanceTests(test, { artifacts: ARTIFACTS, h: { apiJson, tile, tileBadge } });

test('overview screenshot (ui/e2e/artifacts/overview.png)', async (ctx) => {
  const { page } = ctx;
  await page.goto(`${ctx.base}/#/`);
  await page.locator('#overview-title').waitFor({ timeout: 10_000 });
  for (const name of [WS_FEED, ALERT_FEED, HOSTILE_FEED]) await tile(page, name).waitFor({ timeout: 10_000 });
  await waitFor('the tiles to fill with values and sparklines', async () => {
    const v = await tileValues(page, WS_FEED);
    const b = await tileBadge(page, WS_FEED);
    return v.cpu && v.mem && b?.word === 'live';
  }, { timeoutMs: 10_000 });
  const file = path.join(ARTIFACTS, 'overview.png');
  rmSync(file, { force: true });
  await page.screenshot({ path: file, fullPage: true });
  assert(existsSync(file) && statSync(file).size > 5_000, `screenshot missing or tiny: ${file}`);
});

// ---- the run -----------------------------------------------------------------------

async function main() {
  const started = Date.now();
  const pre = prerequisites();
  if (pre.problems.length) {
    for (const p of pre.problems) console.error(`e2e: ${p}`);
    console.log('0 passed, 1 failed');
    return 1;
  }
  for (const w of pre.warnings) console.warn(`e2e: warning: ${w}`);
  mkdirSync(ARTIFACTS, { recursive: true });
  for (const f of readdirSync(ARTIFACTS)) if (/^failed-\d+\.png$/.test(f)) rmSync(path.join(ARTIFACTS, f));
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'telltale-e2e-'));

  const watchdog = setTimeout(() => {
    console.error(`e2e: the run exceeded ${RUN_BUDGET_MS / 1000} s; stopping`);
    void stopAll().finally(() => process.exit(1));
  }, RUN_BUDGET_MS);
  watchdog.unref();

  const ctx = { injected: [] };
  let browser = null;
  let passed = 0;
  let failed = 0;
  try {
    const [simPort, apiPort, hostilePort] = [await freePort(), await freePort(), await freePort()];
    ctx.simPort = simPort;
    ctx.hostilePort = hostilePort;
    ctx.base = `http://127.0.0.1:${apiPort}`;
    ctx.hostile = await startHostileServer(hostilePort);

    const sim = startProcess(
      'telltale-sim',
      pre.sim,
      ['--listen', `127.0.0.1:${simPort}`, '--hosts', '3', '--incident-host', 'host-1',
        '--incident-after', '3s', '--incident-ramp', '1s', '--incident-hold', '30s'],
      { cwd: tmp, logFile: path.join(ARTIFACTS, 'telltale-sim.log') },
    );
    const daemon = startProcess(
      'telltaled',
      pre.daemon,
      ['serve', '--listen', `127.0.0.1:${apiPort}`, '--db', path.join(tmp, 't.db'), '--ui-dir', DIST, '--no-notify'],
      { cwd: tmp, logFile: path.join(ARTIFACTS, 'telltaled.log'), env: { RUST_LOG: process.env.RUST_LOG ?? 'info' } },
    );
    const browserP = chromium.launch({
      executablePath: CHROMIUM,
      headless: !process.env.E2E_HEADFUL,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'].filter(
        (a) => a !== '--headless' || !process.env.E2E_HEADFUL,
      ),
    });
    browserP.catch(() => {});
    await Promise.all([waitForHttp(`http://127.0.0.1:${simPort}/healthz`, sim), waitForHttp(`${ctx.base}/api/feeds`, daemon)]);
    browser = await browserP;
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: 'light' });
    const page = await context.newPage();
    page.setDefaultTimeout(10_000);
    ctx.page = page;
    ctx.pageErrors = [];
    page.on('pageerror', (e) => ctx.pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') console.log(`    [browser console] ${m.text()}`);
    });
    page.on('request', (r) => {
      if (r.resourceType() === 'image' && /\/x$/.test(new URL(r.url()).pathname)) ctx.injected.push(r.url());
    });
    console.log(`e2e: sim :${simPort}, telltaled :${apiPort}, hostile server :${hostilePort}, Chromium ${browser.version()} (setup ${((Date.now() - started) / 1000).toFixed(1)} s)`);

    for (const [i, t] of tests.entries()) {
      const t0 = Date.now();
      const errorsBefore = ctx.pageErrors.length;
      try {
        await t.fn(ctx);
        const newErrors = ctx.pageErrors.slice(errorsBefore);
        if (newErrors.length) throw new Error(`uncaught error(s) in the page: ${newErrors.join(' | ')}`);
        passed++;
        console.log(`✓ ${i + 1}. ${t.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
      } catch (e) {
        failed++;
        console.log(`✗ ${i + 1}. ${t.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
        const msg = String(e?.stack ?? e).replace(/\x1b\[[0-9;]*m/g, '');
        console.log(`    ${msg.split('\n').filter((l) => !/^\s+at /.test(l)).slice(0, 8).join('\n    ')}`);
        console.log(`    ${msg.split('\n').filter((l) => /^\s+at .*run\.mjs/.test(l))[0]?.trim() ?? ''}`);
        const shot = path.join(ARTIFACTS, `failed-${i + 1}.png`);
        await page.screenshot({ path: shot, fullPage: true }).then(
          () => console.log(`    screenshot: ${path.relative(process.cwd(), shot)} (url ${page.url()})`),
          () => {},
        );
      }
    }
  } catch (e) {
    failed++;
    console.log(`✗ setup: ${String(e?.stack ?? e)}`);
  } finally {
    await browser?.close().catch(() => {});
    await stopAll();
    await ctx.hostile?.close();
    rmSync(tmp, { recursive: true, force: true });
    clearTimeout(watchdog);
  }
  console.log(`e2e: logs in ${path.relative(process.cwd(), ARTIFACTS)}/ (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  console.log(`${passed} passed, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    console.error(`e2e: ${sig}; stopping the processes`);
    void stopAll().finally(() => process.exit(130));
  });
}

process.exitCode = await main();
