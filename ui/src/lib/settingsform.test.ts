import { describe, expect, it } from 'vitest';
import { budgetForecast, cloneSettings, forecastChart, formatBytes, isDuration, isSize, splitFieldError, validateSettings } from './settingsform';
import { applyTheme, loadChoice, parseChoice, resolveTheme, saveChoice, type ThemeEnv } from './theme';
import type { Settings } from './types';

function defaults(): Settings {
  return {
    store: {
      events_max_age: '7d',
      events_max_per_feed: 100000,
      samples_max_age: '7d',
      rollup_1m_max_age: '90d',
      rollup_1h_max_age: '730d',
      states_max_age: '90d',
      commit_interval: '100ms',
      commit_rows: 20000,
      disk_budget: null,
    },
    alerts: { quiet_hours: null, flood_max: 5, flood_window: '1m', renotify: null, notify_resolved: true, maintenance: [], route: [] },
  };
}

describe('disk budget', () => {
  it('takes sizes and names a bad one', () => {
    for (const t of ['1GiB', '500MiB', '2 GB', '1048576', '1.5GiB']) expect(isSize(t), t).toBe(true);
    for (const t of ['lots', '1 GiBs', '-1GiB']) expect(isSize(t), t).toBe(false);
    const s = defaults();
    s.store.disk_budget = 'lots';
    expect(Object.keys(validateSettings(s))).toEqual(['store.disk_budget']);
    s.store.disk_budget = '';
    expect(validateSettings(s)).toEqual({});
  });

  it('forecasts when the budget is reached at the current rate', () => {
    const MiB = 1 << 20;
    const f = budgetForecast({ at: 0, used: 100 * MiB }, { at: 3_600_000, used: 110 * MiB }, 1024 * MiB);
    expect(f?.perHour).toBe(10 * MiB);
    expect(f?.hoursLeft).toBeCloseTo(91.4, 1);
    expect(budgetForecast({ at: 0, used: 5 }, { at: 0, used: 9 }, 10)).toBeNull();
    expect(budgetForecast({ at: 0, used: 5 }, { at: 1000, used: 5 }, 10)?.hoursLeft).toBeNull();
    expect(budgetForecast({ at: 0, used: 5 }, { at: 1000, used: 12 }, 10)?.hoursLeft).toBe(0);
  });
});

describe('settings form', () => {
  it('accepts the defaults and the config file’s duration forms', () => {
    expect(validateSettings(defaults())).toEqual({});
    for (const d of ['500ms', '30s', '5m', '2h', '7d', '0s', '1.5h', '90']) expect(isDuration(d), d).toBe(true);
    for (const d of ['', 'soon', '5 minutes', '-1d', '7x']) expect(isDuration(d), d).toBe(false);
  });

  it('names each bad field', () => {
    const s = cloneSettings(defaults());
    s.store.samples_max_age = 'soon';
    s.store.commit_rows = 5;
    s.alerts.flood_max = 0;
    s.alerts.quiet_hours = { start: '22:00', end: '24:00', time_zone: null };
    s.alerts.renotify = 'often';
    expect(Object.keys(validateSettings(s)).sort()).toEqual([
      'alerts.flood_max',
      'alerts.quiet_hours.end',
      'alerts.renotify',
      'store.commit_rows',
      'store.samples_max_age',
    ]);
    s.alerts.quiet_hours = { start: '22:00', end: '22:00', time_zone: null };
    expect(validateSettings(s)['alerts.quiet_hours.end']).toMatch(/equals the start/);
    s.alerts.quiet_hours = { start: '22:00', end: '07:00', time_zone: 'Europe/Berln' };
    expect(validateSettings(s)['alerts.quiet_hours.time_zone']).toMatch(/not a time zone.*IANA/);
    s.alerts.quiet_hours.time_zone = 'Europe/Berlin';
    expect(validateSettings(s)['alerts.quiet_hours.time_zone']).toBeUndefined();
    s.alerts.quiet_hours.time_zone = ' ';
    expect(validateSettings(s)['alerts.quiet_hours.time_zone']).toBeUndefined();
    s.alerts.route = [{ tags: ['lab'], notify: 'none' }, { tags: [], notify: 'desktop', min_severity: 'critical' }];
    expect(Object.keys(validateSettings(s)).filter((k) => k.startsWith('alerts.route'))).toEqual(['alerts.route[1].tags']);
  });

  it('maps a server message to its field', () => {
    expect(splitFieldError('field `store.events_max_age` `x` is not a duration')).toEqual({
      field: 'store.events_max_age',
      text: '`x` is not a duration',
    });
    expect(splitFieldError('the store is closed')).toEqual({ field: null, text: 'the store is closed' });
  });

  it('formats sizes', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(200 * 1024 * 1024)).toBe('200 MiB');
  });

  it('copies deeply', () => {
    const a = defaults();
    const b = cloneSettings(a);
    b.store.events_max_age = '1d';
    expect(a.store.events_max_age).toBe('7d');
  });
});

function env(prefersDark: boolean, stored: string | null = null): ThemeEnv & { saved: Map<string, string> } {
  const saved = new Map<string, string>();
  if (stored !== null) saved.set('telltale.theme', stored);
  return {
    saved,
    storage: { getItem: (k) => saved.get(k) ?? null, setItem: (k, v) => void saved.set(k, v) },
    root: { dataset: {} },
    prefersDark: () => prefersDark,
  };
}

describe('theme', () => {
  it('resolves system from the preference and keeps explicit choices', () => {
    expect(resolveTheme('system', true)).toBe('dark');
    expect(resolveTheme('system', false)).toBe('light');
    expect(resolveTheme('light', true)).toBe('light');
    expect(resolveTheme('dark', false)).toBe('dark');
  });

  it('treats unknown stored values as system', () => {
    expect(parseChoice(null)).toBe('system');
    expect(parseChoice('purple')).toBe('system');
    expect(parseChoice('dark')).toBe('dark');
  });

  it('stores the choice and writes data-theme', () => {
    const e = env(true);
    expect(loadChoice(e)).toBe('system');
    expect(applyTheme('system', e)).toBe('dark');
    expect(e.root.dataset.theme).toBe('dark');
    expect(saveChoice('light', e)).toBe('light');
    expect(e.root.dataset.theme).toBe('light');
    expect(e.saved.get('telltale.theme')).toBe('light');
    expect(loadChoice(e)).toBe('light');
  });

  it('still applies when storage fails', () => {
    const e = env(false);
    e.storage = {
      getItem: () => {
        throw new Error('denied');
      },
      setItem: () => {
        throw new Error('denied');
      },
    };
    expect(loadChoice(e)).toBe('system');
    expect(saveChoice('dark', e)).toBe('dark');
    expect(e.root.dataset.theme).toBe('dark');
  });
});

describe('settings route', () => {
  it('round-trips #/settings', async () => {
    const { href, parseHash } = await import('./router.svelte');
    expect(parseHash('#/settings')).toEqual({ name: 'settings' });
    expect(href({ name: 'settings' })).toBe('#/settings');
  });
});

describe('forecast chart', () => {
  const MiB = 1024 * 1024;
  it('rises to the budget and stays there', () => {
    // 10 MiB an hour, 100 MiB left: reached in 10 h, drawn over 15 h.
    const c = forecastChart(924 * MiB, 10 * MiB, 1024 * MiB, 150, 50);
    expect(c.hours).toBe(15);
    expect(c.reachX).toBe(100);
    expect(c.budgetY).not.toBeNull();
    const pts = c.line.split(' ').map((p) => p.split(',').map(Number));
    expect(pts).toHaveLength(3);
    expect(pts[1]).toEqual([100, c.budgetY]);
    expect(pts[2]).toEqual([150, c.budgetY]);
    expect(pts[0]?.[1]).toBeGreaterThan(c.budgetY ?? 0);
  });
  it('without a budget or growth shows a day, flat or rising', () => {
    const flat = forecastChart(10 * MiB, 0, 1024 * MiB, 100, 40);
    expect(flat.hours).toBe(24);
    expect(flat.reachX).toBeNull();
    const [a, b] = flat.line.split(' ').map((p) => Number(p.split(',')[1]));
    expect(a).toBe(b);
    const rising = forecastChart(10 * MiB, 1 * MiB, null, 100, 40);
    expect(rising.budgetY).toBeNull();
    const [c, d] = rising.line.split(' ').map((p) => Number(p.split(',')[1]));
    expect(d ?? 0).toBeLessThan(c ?? 0);
  });
  it('over the budget already, the line is the budget', () => {
    const c = forecastChart(2048 * MiB, 5 * MiB, 1024 * MiB, 100, 40);
    expect(c.reachX).toBe(0);
    expect(c.hours).toBe(6);
  });
});
