// Windowing for long lists: which rows to put in the DOM for a scroll
// position. Rows have one fixed height, except at most one expanded row
// whose height is measured.

export interface Expanded {
  index: number;
  height: number;
}

export interface WindowInput {
  count: number;
  rowHeight: number;
  scrollTop: number;
  viewportHeight: number;
  /** Extra rows rendered above and below the visible ones. */
  overscan?: number;
  expanded?: Expanded | null;
}

export interface VirtualWindow {
  /** First row to render. */
  start: number;
  /** One past the last row to render. */
  end: number;
  /** Space above `start` and below `end`, in px. */
  padTop: number;
  padBottom: number;
  /** Height of all rows. */
  total: number;
}

function extra(rowHeight: number, expanded: Expanded | null | undefined, count: number): number {
  if (!expanded || expanded.index < 0 || expanded.index >= count) return 0;
  return Math.max(0, expanded.height - rowHeight);
}

/** Top of row `i` in px. */
export function rowTop(i: number, rowHeight: number, expanded?: Expanded | null, count = Infinity): number {
  return i * rowHeight + (expanded && i > expanded.index ? extra(rowHeight, expanded, count) : 0);
}

/** The row under `y` px (clamped to the rows). */
export function indexAt(y: number, count: number, rowHeight: number, expanded?: Expanded | null): number {
  if (count <= 0 || rowHeight <= 0) return 0;
  let i: number;
  const e = extra(rowHeight, expanded, count);
  if (expanded && e > 0 && y >= rowTop(expanded.index, rowHeight)) {
    const expEnd = rowTop(expanded.index, rowHeight) + rowHeight + e;
    i = y < expEnd ? expanded.index : Math.floor((y - e) / rowHeight);
  } else {
    i = Math.floor(y / rowHeight);
  }
  return Math.max(0, Math.min(count - 1, i));
}

/** The rows to render: those visible plus `overscan` on each side. O(1) in the number of rows. */
export function virtualWindow(inp: WindowInput): VirtualWindow {
  const { count, rowHeight, expanded } = inp;
  const overscan = Math.max(0, Math.floor(inp.overscan ?? 8));
  const total = count * rowHeight + extra(rowHeight, expanded, count);
  if (count <= 0 || rowHeight <= 0) return { start: 0, end: 0, padTop: 0, padBottom: 0, total: Math.max(0, total) };
  const top = Math.max(0, Math.min(inp.scrollTop, Math.max(0, total - inp.viewportHeight)));
  const bottom = top + Math.max(0, inp.viewportHeight);
  const first = indexAt(top, count, rowHeight, expanded);
  const last = indexAt(Math.max(top, bottom - 1), count, rowHeight, expanded);
  const start = Math.max(0, first - overscan);
  const end = Math.min(count, last + 1 + overscan);
  const padTop = rowTop(start, rowHeight, expanded, count);
  const padBottom = total - rowTop(end, rowHeight, expanded, count);
  return { start, end, padTop, padBottom: Math.max(0, padBottom), total };
}

/**
 * Rows newest first, bounded: live rows are added at the newest end in O(1)
 * (amortised), older pages at the oldest end; past `capacity` the oldest go.
 */
export class TailBuffer<T> {
  /** Oldest first; `items[head]` is the oldest kept. */
  private items: T[] = [];
  private head = 0;
  constructor(readonly capacity: number) {}

  get length(): number {
    return this.items.length - this.head;
  }

  /** Row `i`, newest first (0 is the newest). */
  at(i: number): T | undefined {
    if (i < 0 || i >= this.length) return undefined;
    return this.items[this.items.length - 1 - i];
  }

  /** Rows `start..end`, newest first. */
  slice(start: number, end: number): T[] {
    const out: T[] = [];
    const e = Math.min(end, this.length);
    for (let i = Math.max(0, start); i < e; i++) out.push(this.items[this.items.length - 1 - i] as T);
    return out;
  }

  /** Adds rows given oldest first at the newest end; returns how many old rows were dropped. */
  pushNewest(rows: readonly T[]): number {
    for (const r of rows) this.items.push(r);
    return this.trim();
  }

  /** Adds a page of older rows, given newest first (as the API pages them), at the oldest end. */
  appendOlder(rowsNewestFirst: readonly T[]): number {
    const room = this.capacity - this.length;
    if (room <= 0) return 0;
    const take = rowsNewestFirst.slice(0, room);
    const kept = this.items.slice(this.head);
    this.items = [...take.reverse(), ...kept];
    this.head = 0;
    return take.length;
  }

  /** The oldest kept row. */
  oldest(): T | undefined {
    return this.length ? this.items[this.head] : undefined;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }

  private trim(): number {
    const over = this.length - this.capacity;
    if (over <= 0) return 0;
    this.head += over;
    // compact once the dead prefix is as large as what is kept
    if (this.head > this.capacity) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return over;
  }
}
