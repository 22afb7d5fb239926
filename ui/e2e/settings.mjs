// Browser end-to-end test of the Settings screen (registered by run.mjs).
// It changes settings through the form, checks the API has them, reloads
// the page to see them persisted, toggles the theme (which must change the
// page's colours and survive a reload), compacts the database, exports the
// config, imports one with a bad feed (listed by line, feed and field) and a
// settings key (applied), and puts the settings back.
import { existsSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { waitFor } from './harness.mjs';

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

async function api(ctx, method, p, json) {
  const res = await fetch(`${ctx.base}/api${p}`, {
    method,
    headers: { Accept: 'application/json', 'X-Telltale-Request': '1', ...(json ? { 'Content-Type': 'application/json' } : {}) },
    body: json ? JSON.stringify(json) : undefined,
  });
  const raw = await res.text();
  if (!res.ok) throw new Error(`${method} /api${p} answered ${res.status}: ${raw}`);
  return raw ? JSON.parse(raw) : null;
}

/** `#store.events_max_age` etc.: the form's ids contain dots. */
const byId = (page, id) => page.locator(`[id="${id}"]`);

/** Registers the Settings tests with run.mjs's `test`. */
export function registerSettingsTests(test, { artifacts }) {
  test('settings: a change is saved, applied, and still there after a reload; the theme toggles and persists', async (ctx) => {
    const { page } = ctx;
    const before = await api(ctx, 'GET', '/settings');
    try {
      await page.goto(`${ctx.base}/#/settings`);
      await page.getByRole('heading', { name: 'Settings', exact: true }).waitFor();
      const age = byId(page, 'store.events_max_age');
      const flood = byId(page, 'alerts.flood_max');
      await age.waitFor();
      await page.getByTestId('db-stats').waitFor();
      await page.getByRole('button', { name: 'Compact now' }).click();
      await page.getByRole('status').filter({ hasText: 'gave back' }).waitFor();

      // A bad value is refused at its field, before anything is sent.
      await age.fill('soon');
      await page.getByRole('button', { name: 'Save settings' }).click();
      await page.locator('.field-error').filter({ hasText: 'not a duration' }).first().waitFor();
      assert((await api(ctx, 'GET', '/settings')).store.events_max_age === before.store.events_max_age, 'a refused value reached the server');

      await age.fill('3d');
      await flood.fill('3');
      await byId(page, 'alerts.quiet_hours').check();
      await byId(page, 'alerts.quiet_hours.start').fill('21:30');
      await page.getByRole('button', { name: 'Save settings' }).click();
      await page.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
      const after = await api(ctx, 'GET', '/settings');
      assert(
        after.store.events_max_age === '3d' && after.alerts.flood_max === 3 && after.alerts.quiet_hours?.start === '21:30',
        `the API does not have the saved settings: ${JSON.stringify(after)}`,
      );

      await page.reload();
      await waitFor('the saved settings after a reload', async () =>
        (await age.inputValue()) === '3d' &&
        (await flood.inputValue()) === '3' &&
        (await byId(page, 'alerts.quiet_hours.start').inputValue()) === '21:30');

      // Theme: the browser context prefers light, so System shows light.
      const theme = () => page.evaluate(() => document.documentElement.dataset.theme);
      const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      assert((await theme()) === 'light', `system theme in a light context is ${await theme()}`);
      const lightBg = await bg();
      await page.getByLabel('Dark', { exact: false }).check();
      await waitFor('the dark theme', async () => (await theme()) === 'dark' && (await bg()) !== lightBg);
      await page.reload();
      await age.waitFor();
      assert((await theme()) === 'dark', 'the dark theme did not survive a reload');
      const shot = path.join(artifacts, 'settings-dark.png');
      rmSync(shot, { force: true });
      await page.screenshot({ path: shot, fullPage: true });
      assert(existsSync(shot) && statSync(shot).size > 5_000, `screenshot missing or tiny: ${shot}`);
      await page.getByLabel('System', { exact: false }).check();
      await waitFor('the system (light) theme again', async () => (await theme()) === 'light' && (await bg()) === lightBg);

      // Export shows the live settings as TOML in a read-only box.
      await page.getByRole('button', { name: 'Export' }).click();
      const exported = page.getByRole('textbox', { name: 'Exported configuration' });
      await waitFor('the exported TOML', async () => {
        const text = await exported.inputValue();
        return text.includes('events_max_age = "3d"') && text.includes('flood_max = 3');
      });
      assert(await exported.getAttribute('readonly') !== null, 'the export box is editable');

      // Import: problems are listed by line, feed and field; good settings keys apply.
      await byId(page, 'import-text').fill(
        '[alerts]\nflood_max = 4\n\n[[feed]]\nname = "e2e-bad"\ntransport = "poll"\nurl = "ftp://127.0.0.1/x"\n',
      );
      await page.getByRole('button', { name: 'Import' }).click();
      const report = page.getByTestId('import-report');
      await report.waitFor();
      await waitFor('the import report', async () => {
        const text = await report.textContent();
        return /1 problem/.test(text) && /line 7/.test(text) && /e2e-bad/.test(text) && /field url/.test(text) &&
          /settings applied: alerts\.flood_max/.test(text);
      });
      await waitFor('the imported setting in the form', async () => (await flood.inputValue()) === '4');
      assert((await api(ctx, 'GET', '/settings')).alerts.flood_max === 4, 'the imported flood_max was not applied');
      await page.screenshot({ path: path.join(artifacts, 'settings.png'), fullPage: true });
    } finally {
      await api(ctx, 'PUT', '/settings', before);
    }
  });
}
