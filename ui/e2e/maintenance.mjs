// Browser end-to-end test of maintenance windows (registered by run.mjs):
// a window made in Settings → Notifications for a tag turns the tagged
// feed's tile to "maintenance", its page's state band draws the window
// and leaves it out of uptime, and the page's End button ends it. A route
// by tag is made in the same form and saved with it.
import path from 'node:path';
import { waitFor } from './harness.mjs';

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/** `#alerts.maintenance[0].name` etc.: the form's ids contain dots and brackets. */
const byId = (page, id) => page.locator(`[id="${id}"]`);

/** Registers the maintenance test with run.mjs's `test`; `h` holds run.mjs's helpers. */
export function registerMaintenanceTests(test, { artifacts, h }) {
  test('maintenance and routes: a window made in Settings turns a tagged tile to maintenance; the state band shows it; End ends it; a route is saved', async (ctx) => {
    const { page } = ctx;
    const feed = 'e2e-maint';
    const before = await h.apiJson(ctx, 'GET', '/settings');
    await h.apiJson(ctx, 'POST', '/feeds', {
      json: { name: feed, transport: 'tcp', url: `tcp://127.0.0.1:${ctx.simPort}`, tags: ['maint'], poll: { interval: '1s' } },
    });
    try {
      await page.goto(`${ctx.base}/#/`);
      await waitFor('the TCP check to go live', async () => (await h.tileBadge(page, feed))?.word === 'live');
      // The tile's uptime over 24 h: up since a moment after it was added.
      await waitFor('the tile to show its uptime', async () => {
        const u = h.tile(page, feed).getByTestId('uptime');
        const m = /^↑ (\d+(?:\.\d+)?) %$/.exec(((await u.count()) === 1 ? await u.textContent() : '')?.trim() ?? '');
        // live all along but for its first connect
        return m !== null && Number(m[1]) > 50;
      }, { timeoutMs: 15_000 });

      // Settings → Notifications: a one-off window on the tag, from now.
      await page.goto(`${ctx.base}/#/settings`);
      const editor = page.getByTestId('maintenance-editor');
      await editor.waitFor({ timeout: 10_000 });
      const i = before.alerts.maintenance.length;
      await editor.getByRole('button', { name: 'Add a maintenance window' }).click();
      await byId(page, `alerts.maintenance[${i}].name`).fill('e2e window');
      await byId(page, `alerts.maintenance[${i}].tags`).fill('maint');
      await byId(page, `alerts.maintenance[${i}].tags`).press('Tab');
      // Saving without feeds or tags is caught at the field first.
      await byId(page, `alerts.maintenance[${i}].tags`).fill('');
      await byId(page, `alerts.maintenance[${i}].tags`).press('Tab');
      await page.getByRole('button', { name: 'Save settings' }).click();
      await editor.locator('.field-error').filter({ hasText: 'both empty' }).waitFor({ timeout: 5_000 });
      await byId(page, `alerts.maintenance[${i}].tags`).fill('maint');
      await byId(page, `alerts.maintenance[${i}].tags`).press('Tab');
      await editor.getByRole('checkbox', { name: 'once' }).nth(i).check();
      // … and a route: feeds tagged lab notify nowhere.
      const r = before.alerts.route.length;
      await page.getByTestId('route-editor').getByRole('button', { name: 'Add a route' }).click();
      await byId(page, `alerts.route[${r}].tags`).fill('lab');
      await byId(page, `alerts.route[${r}].tags`).press('Tab');
      await byId(page, `alerts.route[${r}].notify`).selectOption('none');
      await page.getByRole('button', { name: 'Save settings' }).click();
      await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor({ timeout: 10_000 });
      const settings = await h.apiJson(ctx, 'GET', '/settings');
      const route = settings.alerts.route[r];
      assert(route && JSON.stringify(route.tags) === '["lab"]' && route.notify === 'none', `the saved route: ${JSON.stringify(settings.alerts.route)}`);
      const saved = await h.apiJson(ctx, 'GET', '/maintenance');
      const mine = saved.find((m) => m.window.name === 'e2e window');
      assert(mine && mine.active_until !== null && JSON.stringify(mine.covers) === `["${feed}"]`, `GET /api/maintenance: ${JSON.stringify(saved)}`);

      // The overview: the tile reads maintenance, with the window's name.
      await page.goto(`${ctx.base}/#/`);
      await waitFor('the tile to read maintenance', async () => (await h.tileBadge(page, feed))?.word === 'maintenance', { timeoutMs: 15_000 });
      const label = await h.tile(page, feed).getByTestId('maintenance').textContent();
      assert(label?.includes('e2e window'), `the tile's maintenance label: ${label}`);

      // The feed's page: the state band draws the window; uptime leaves it out.
      await page.goto(`${ctx.base}/#/feed/${feed}`);
      await page.getByRole('heading', { name: feed, level: 1 }).waitFor({ timeout: 10_000 });
      await page.getByRole('group', { name: 'Time range' }).getByRole('button', { name: '5m', exact: true }).click();
      const seg = page.locator('.band .seg.h-maintenance');
      await waitFor('the state band to draw the window', async () => (await seg.count()) >= 1, { timeoutMs: 10_000 });
      const hidden = await seg.first().textContent();
      assert(hidden?.includes('maintenance'), `the segment's text: ${hidden}`);
      await page.screenshot({ path: path.join(artifacts, 'maintenance.png'), fullPage: true });

      // End: the tile is live again, the window stays on record.
      const control = page.getByTestId('maintenance-control');
      await control.getByRole('button', { name: 'End' }).click();
      await control.getByRole('status').filter({ hasText: 'Maintenance ended.' }).waitFor({ timeout: 10_000 });
      await page.goto(`${ctx.base}/#/`);
      await waitFor('the tile to be live again', async () => (await h.tileBadge(page, feed))?.word === 'live', { timeoutMs: 15_000 });
      const after = await h.apiJson(ctx, 'GET', '/maintenance');
      assert(after.some((m) => m.window.name === 'e2e window' && m.active_until === null), `after End: ${JSON.stringify(after)}`);
    } finally {
      await h.apiJson(ctx, 'PUT', '/settings', { json: before });
      await h.apiJson(ctx, 'DELETE', `/feeds/${feed}`);
    }
  });
}
