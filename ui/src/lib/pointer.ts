/** One RFC 6901 reference token: `~` → `~0`, `/` → `~1`. */
export function escapeToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** A JSON Pointer (RFC 6901) from a path of keys and array indices; `""` is the whole document. */
export function pointerFromPath(path: readonly (string | number)[]): string {
  return path.map((p) => `/${escapeToken(String(p))}`).join('');
}

/** Resolves a pointer; `undefined` when nothing is there. */
export function resolvePointer(doc: unknown, pointer: string): unknown {
  if (pointer === '') return doc;
  if (!pointer.startsWith('/')) return undefined;
  let cur: unknown = doc;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) {
      if (!/^(0|[1-9][0-9]*)$/.test(key)) return undefined;
      cur = cur[Number(key)];
    } else if (typeof cur === 'object' && cur !== null && Object.prototype.hasOwnProperty.call(cur, key)) {
      cur = (cur as Record<string, unknown>)[key];
    } else {
      return undefined;
    }
  }
  return cur;
}

/** A metric name suggested for a path: its keys joined by `_`, cleaned. */
export function suggestMetricName(path: readonly (string | number)[]): string {
  const name = path
    .map(String)
    .join('_')
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return name || 'value';
}

export interface Leaf {
  path: (string | number)[];
  pointer: string;
  value: string | number | boolean | null;
}

/** Every scalar in a JSON document with its pointer, in document order (at most `limit`). */
export function leaves(doc: unknown, limit = 500): Leaf[] {
  const out: Leaf[] = [];
  const walk = (v: unknown, path: (string | number)[]) => {
    if (out.length >= limit) return;
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, [...path, i]));
    else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
    else if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' || v === null)
      out.push({ path, pointer: pointerFromPath(path), value: v });
  };
  walk(doc, []);
  return out;
}

/** The field path named in an `invalid_feed` message (`field \`poll.interval\``), if any. */
export function fieldOfError(message: string): string | null {
  const m = /field `([^`]+)`/.exec(message);
  return m?.[1] ?? null;
}
