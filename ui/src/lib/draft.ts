// A config handed from one editor to the next (Duplicate opens the "new
// feed" editor filled with a copy), without putting it in the URL.
import type { FeedConfig } from './types';

let pending: FeedConfig | null = null;

export function setDraft(config: FeedConfig): void {
  pending = structuredClone(config);
}

/** The pending draft, once. */
export function takeDraft(): FeedConfig | null {
  const d = pending;
  pending = null;
  return d;
}
