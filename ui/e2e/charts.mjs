// Browser end-to-end test of what a feed's chart marks (registered by
// run.mjs right after the alert test, whose feed and firing alert it reads):
// the threshold and clear lines of the alert rule, the band where the rule
// was firing, the state band with the uptime of the range, the min–max band,
// units, the UTC toggle, the text alternative, fresh values in the metric
// picker, and "No samples in this range" for a range without data.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { waitFor } from './harness.mjs';

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/**
 * Counts pixels of a CSS colour on the chart canvas: in all, in the firing
 * strip (the top 5 CSS px of the plot), and the longest horizontal run on one
 * row (a threshold line spans the plot).
 */
function colourStats(page, cssVar) {
  return page.evaluate((name) => {
    const host = document.querySelector('.chart');
    const canvas = host?.querySelector('canvas');
    if (!host || !canvas || canvas.width === 0) return { count: 0, strip: 0, longestRun: 0, width: 0 };
    const probe = document.createElement('canvas').getContext('2d');
    probe.fillStyle = getComputedStyle(host).getPropertyValue(name).trim();
    probe.fillRect(0, 0, 1, 1);
    const [r, g, b] = probe.getImageData(0, 0, 1, 1).data;
    const w = canvas.width;
    const px = canvas.getContext('2d').getImageData(0, 0, w, canvas.height).data;
    // the plot's top edge: the first row with any grid or series pixels is
    // not known here, so the strip is measured as rows where a run of the
    // colour is short of the full width but several px tall: count per row
    let count = 0;
    let longestRun = 0;
    const rows = new Map();
    for (let y = 0; y < canvas.height; y++) {
      let run = 0;
      for (let x = 0; x < w; x++) {
        const i = (y * w + x) * 4;
        const hit = Math.abs(px[i] - r) + Math.abs(px[i + 1] - g) + Math.abs(px[i + 2] - b) < 40 && px[i + 3] > 200;
        if (hit) {
          count++;
          run++;
          rows.set(y, (rows.get(y) ?? 0) + 1);
          longestRun = Math.max(longestRun, run);
        } else run = 0;
      }
    }
    // the firing strip: consecutive rows at the top with the same count of colour pixels
    const ys = [...rows.keys()].sort((a, b2) => a - b2);
    let strip = 0;
    for (let k = 0; k < ys.length; k++) {
      if (k > 0 && ys[k] !== ys[k - 1] + 1) break;
      strip++;
    }
    return { count, strip, longestRun, width: w };
  }, cssVar);
}

/** Pixels of a colour (`#rrggbb`) on the chart canvas. */
function pixelsOf(page, hex) {
  return page.evaluate((colour) => {
    const canvas = document.querySelector('.chart canvas');
    if (!canvas || canvas.width === 0) return 0;
    const [r, g, b] = [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16));
    const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 0; i < px.length; i += 4) {
      if (Math.abs(px[i] - r) + Math.abs(px[i + 1] - g) + Math.abs(px[i + 2] - b) < 40 && px[i + 3] > 200) n++;
    }
    return n;
  }, hex);
}

/** A Prometheus endpoint with one metric in three label sets (per cpu), values moving. */
function startCpuExporter() {
  let n = 0;
  const srv = http.createServer((req, res) => {
    n++;
    const lines = ['# TYPE node_cpu_usage_percent gauge'];
    for (const [cpu, base] of [['0', 20], ['1', 50], ['2', 80]]) lines.push(`node_cpu_usage_percent{cpu="${cpu}"} ${base + (n % 5)}`);
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' });
    res.end(lines.join('\n') + '\n');
  });
  return new Promise((resolve, reject) => {
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () =>
      resolve({
        port: srv.address().port,
        close: () =>
          new Promise((r) => {
            srv.closeAllConnections?.();
            srv.close(() => r());
          }),
      }),
    );
  });
}

async function importToml(ctx, toml, name) {
  const res = await fetch(`${ctx.base}/api/config/import`, {
    method: 'POST',
    headers: { Accept: 'application/json', 'X-Telltale-Request': '1', 'Content-Type': 'application/toml; charset=utf-8' },
    body: toml,
  });
  const report = await res.json();
  assert(res.ok && report.errors.length === 0 && report.imported.includes(name), `import of ${name}: ${JSON.stringify(report)}`);
}

/** Registers the chart tests with run.mjs's `test`. */
export function registerChartTests(test, { artifacts, alertFeed }) {
  test('feed chart: threshold and clear lines, the firing band, the state band with uptime, units, UTC', async (ctx) => {
    const { page } = ctx;
    await page.goto(`${ctx.base}/#/feed/${alertFeed}`);
    await page.getByRole('heading', { name: alertFeed, level: 1 }).waitFor({ timeout: 10_000 });
    await page.getByRole('group', { name: 'Time range' }).getByRole('button', { name: '5m', exact: true }).click();

    // the text alternative names the rule, its lines, and that it fired
    const text = page.locator('figure.chart-figure .visually-hidden[id^="chart-text"]');
    const described = await waitFor(
      'the chart text to name the rule and a firing',
      async () => {
        const t = (await text.textContent()) ?? '';
        return /Alert rule cpu high: > 90 %, clears at 70 %\./.test(t) && /Firing \d+ times?/.test(t) ? t : null;
      },
      { timeoutMs: 20_000, intervalMs: 250 },
    ).catch(async (e) => {
      throw new Error(`${e.message}; text now: ${await text.textContent()}`);
    });
    assert(/cpu: last \d+(\.\d+)? % at .+, lowest .+ %, highest (9\d|1\d\d)(\.\d+)? % in this range\./.test(described), `no last/min/max with the incident's peak: ${described}`);
    assert(/Uptime (100|\d{1,2}(\.\d+)?) %\./.test(described), `no uptime in the chart text: ${described}`);

    // the threshold line: a row of the critical colour across most of the plot;
    // the firing band: a strip of it along the plot's top edge
    const stats = await waitFor(
      'the threshold line and the firing strip in the critical colour (--bad)',
      async () => {
        const s = await colourStats(page, '--bad');
        return s.longestRun > s.width * 0.7 && s.strip >= 4 ? s : null;
      },
      { timeoutMs: 10_000, intervalMs: 250 },
    ).catch(async (e) => {
      throw new Error(`${e.message}; now ${JSON.stringify(await colourStats(page, '--bad'))}`);
    });
    assert(stats.count > stats.width, `too few critical pixels: ${JSON.stringify(stats)}`);

    // the state band: live segments, and the uptime of the range
    const band = page.getByRole('list', { name: 'Connection state across the range' });
    await band.locator('li.h-live').first().waitFor({ timeout: 5_000 });
    const uptime = (await page.locator('.state .uptime').innerText()).replace(/\s+/g, ' ');
    assert(/^uptime (100|\d{1,2}(\.\d{1,2})?) % of this range$/.test(uptime), `uptime reads "${uptime}"`);

    // the axis labels are one line each and do not overlap: their measured
    // widths fit between their positions (uPlot draws them on the canvas)
    const ticks = await page.evaluate(() => {
      const host = document.querySelector('.chart');
      const list = JSON.parse(host?.dataset.xTicks ?? '[]');
      const ctx2d = document.createElement('canvas').getContext('2d');
      ctx2d.font = '12px system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif';
      return list.map((t) => ({ ...t, width: ctx2d.measureText(t.text).width }));
    });
    assert(ticks.length >= 2, `too few x-axis labels: ${JSON.stringify(ticks)}`);
    for (let i = 1; i < ticks.length; i++) {
      const gap = ticks[i].x - ticks[i - 1].x;
      assert(gap > (ticks[i].width + ticks[i - 1].width) / 2 + 4, `x-axis labels overlap: ${JSON.stringify(ticks)}`);
    }
    assert(ticks.every((t) => !t.text.includes('\n')), `a two-line x-axis label: ${JSON.stringify(ticks)}`);

    // units: the picker, the y axis and the overview tile read percent
    const option = page.locator('#metric option').first();
    const first = await option.textContent();
    assert(/^cpu \(\d+(\.\d+)? %\)$/.test(first ?? ''), `picker option reads "${first}"`);
    // fresh values: the picker's value follows the live data (the sim's cpu moves every message)
    await waitFor('the picker to show a newer cpu value', async () => (await option.textContent()) !== first, {
      timeoutMs: 15_000,
      intervalMs: 250,
    });
    await page.screenshot({ path: path.join(artifacts, 'chart-alert.png'), fullPage: true });

    // the uptime report of the range: figures, the alert timeline, and the CSV
    await page.locator('details.report summary').click();
    const report = page.locator('details.report');
    await report.locator('ol.alerts li').filter({ hasText: /cpu high fired at 9\d/ }).waitFor({ timeout: 10_000 });
    const figures = (await report.locator('dl.figures').innerText()).replace(/\s+/g, ' ');
    assert(/Uptime (100|\d{1,2}(\.\d+)?) %/.test(figures) && /Incidents \d+/.test(figures), `report figures: ${figures}`);
    const [download] = await Promise.all([page.waitForEvent('download'), report.getByRole('button', { name: 'Download CSV' }).click()]);
    assert(download.suggestedFilename() === `${alertFeed}-uptime.csv`, `file name ${download.suggestedFilename()}`);
    const csv = readFileSync(await download.path(), 'utf8');
    const lines = csv.trimEnd().split('\r\n');
    assert(lines[0] === 'kind,start,end,duration_s,detail', `CSV header: ${lines[0]}`);
    assert(new RegExp(`^summary,[^,]+,[^,]+,\\d+,${alertFeed}: uptime `).test(lines[1] ?? ''), `CSV summary: ${lines[1]}`);
    assert(lines.some((l) => /^alert,[^,]+,,,cpu high \(critical\) fired at 9\d/.test(l)), `no fired alert in the CSV:\n${csv}`);
    await page.locator('details.report summary').click();

    // the UTC toggle: the marker says UTC, and it sticks across a reload
    const zone = page.locator('figure.chart-figure .zone');
    assert(/^Times in local time \(.*UTC.*\)$/.test(await zone.innerText()), `zone marker: ${await zone.innerText()}`);
    await page.getByRole('button', { name: 'UTC', exact: true }).click();
    await waitFor('the zone marker to say UTC', async () => (await zone.innerText()) === 'Times in UTC');
    await page.reload();
    await waitFor('UTC to stay on after a reload', async () => (await zone.innerText().catch(() => '')) === 'Times in UTC', { timeoutMs: 10_000 });
    await page.getByRole('button', { name: 'UTC', exact: true }).click();

    // a range with no data says so, instead of empty axes
    await page.getByRole('button', { name: 'Custom…' }).click();
    await page.getByRole('textbox', { name: 'From', exact: true }).fill('2026-01-01T10:00');
    await page.getByRole('textbox', { name: 'To', exact: true }).fill('2026-01-01T11:00');
    await page.getByRole('button', { name: 'Show range' }).click();
    await page.locator('.chart .empty').filter({ hasText: 'No samples in this range' }).waitFor({ timeout: 10_000 });
    assert(/No samples of cpu in this range\./.test((await text.textContent()) ?? ''), 'the text alternative does not say there are no samples');
  });

  test('feed chart: the label sets of one metric overlaid, each toggled from the legend', async (ctx) => {
    const { page } = ctx;
    const exporter = await startCpuExporter();
    const name = 'e2e-percpu';
    try {
      await importToml(
        ctx,
        `[[feed]]\nname = "${name}"\ntransport = "poll"\nurl = "http://127.0.0.1:${exporter.port}/metrics"\nformat = "prometheus"\n\n` +
          `[[feed.metric]]\nname = "cpu"\nprometheus = "node_cpu_usage_percent"\nunit = "percent"\n\n[feed.poll]\ninterval = "1s"\n`,
        name,
      );
      await page.goto(`${ctx.base}/#/feed/${name}`);
      await page.getByRole('heading', { name, level: 1 }).waitFor({ timeout: 10_000 });
      // three series of cpu, one per label set; then a few readings of each
      // (a poll also records http_status, response_ms and up)
      const cpuOptions = async () => (await page.locator('#metric option').allTextContents()).filter((t) => t.startsWith('cpu{'));
      await waitFor('three cpu label sets in the picker', async () => (await cpuOptions()).length === 3, {
        timeoutMs: 20_000,
      }).catch(async (e) => {
        throw new Error(`${e.message}; options: ${JSON.stringify(await page.locator('#metric option').allTextContents())}`);
      });
      const toggle = page.getByRole('checkbox', { name: /all 3 label sets/ });
      await toggle.check();
      const legend = page.locator('.chart .u-legend .u-series');
      await waitFor('a legend entry per label set', async () => {
        const labels = (await legend.locator('.u-label').allTextContents()).map((t) => t.trim());
        return ['cpu="0"', 'cpu="1"', 'cpu="2"'].every((l) => labels.includes(l)) ? labels : null;
      }, { timeoutMs: 10_000 });
      // each label set has its own colour on the canvas (the first three of the palette)
      const colours = ['#2f6fde', '#d9480f', '#2b8a3e'];
      await waitFor('lines of three colours on the chart', async () => {
        const counts = await Promise.all(colours.map((c) => pixelsOf(page, c)));
        return counts.every((n) => n > 20) ? counts : null;
      }, { timeoutMs: 15_000, intervalMs: 300 });
      // a click on cpu="1" in the legend hides its line, and only its line
      await legend.filter({ hasText: 'cpu="1"' }).click();
      await waitFor('the cpu="1" line to be hidden', async () => (await pixelsOf(page, colours[1])) === 0, { timeoutMs: 5_000 });
      assert((await pixelsOf(page, colours[0])) > 20 && (await pixelsOf(page, colours[2])) > 20, 'hiding one label set hid another');
      assert(/3 label sets drawn together/.test((await page.locator('figure.chart-figure [id^="chart-text"]').textContent()) ?? ''), 'the text alternative does not list the overlay');
      await page.screenshot({ path: path.join(artifacts, 'chart-overlay.png'), fullPage: true });
    } finally {
      await fetch(`${ctx.base}/api/feeds/${name}`, { method: 'DELETE', headers: { 'X-Telltale-Request': '1' } }).catch(() => {});
      await exporter.close();
    }
  });
}
