// Appearance: light, dark, or follow the system. The choice is kept in
// localStorage; the resolved theme is written to `<html data-theme>`, which
// app.css uses to pick its colour tokens.

export type ThemeChoice = 'light' | 'dark' | 'system';
export type Theme = 'light' | 'dark';

export const THEME_KEY = 'telltale.theme';
export const THEME_CHOICES: readonly ThemeChoice[] = ['system', 'light', 'dark'];

/** A stored value as a choice; anything unknown (or nothing) means `system`. */
export function parseChoice(stored: string | null | undefined): ThemeChoice {
  return stored === 'light' || stored === 'dark' ? stored : 'system';
}

/** The theme to show for a choice, given whether the system prefers dark. */
export function resolveTheme(choice: ThemeChoice, systemPrefersDark: boolean): Theme {
  if (choice === 'system') return systemPrefersDark ? 'dark' : 'light';
  return choice;
}

/** What the theme code touches, so tests can pass fakes. */
export interface ThemeEnv {
  storage: Pick<Storage, 'getItem' | 'setItem'> | null;
  root: { dataset: DOMStringMap };
  prefersDark: () => boolean;
}

function browserEnv(): ThemeEnv {
  let storage: ThemeEnv['storage'] = null;
  try {
    storage = window.localStorage;
  } catch {
    storage = null; // storage disabled: the choice lasts for this page only
  }
  return {
    storage,
    root: document.documentElement,
    prefersDark: () => window.matchMedia?.('(prefers-color-scheme: dark)').matches ?? false,
  };
}

/** The stored choice. */
export function loadChoice(env: ThemeEnv = browserEnv()): ThemeChoice {
  try {
    return parseChoice(env.storage?.getItem(THEME_KEY));
  } catch {
    return 'system';
  }
}

/** Shows `choice` now; returns the theme applied. */
export function applyTheme(choice: ThemeChoice, env: ThemeEnv = browserEnv()): Theme {
  const theme = resolveTheme(choice, env.prefersDark());
  env.root.dataset.theme = theme;
  env.root.dataset.themeChoice = choice;
  return theme;
}

/** Stores and shows `choice`. */
export function saveChoice(choice: ThemeChoice, env: ThemeEnv = browserEnv()): Theme {
  try {
    env.storage?.setItem(THEME_KEY, choice);
  } catch {
    // quota or privacy mode: still applied for this page
  }
  return applyTheme(choice, env);
}

/**
 * Applies the stored choice at start-up and follows system changes while
 * the choice is `system`. Returns the function that stops following.
 */
export function startTheme(): () => void {
  applyTheme(loadChoice());
  const mq = window.matchMedia?.('(prefers-color-scheme: dark)');
  if (!mq) return () => {};
  const onChange = () => {
    if (loadChoice() === 'system') applyTheme('system');
  };
  mq.addEventListener('change', onChange);
  return () => mq.removeEventListener('change', onChange);
}
