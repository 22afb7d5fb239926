// Names that do not clash: a copy of a feed, a new rule or metric.

/** A name for a copy of `name` that no existing feed has: `web-copy`, `web-copy-2`, … */
export function duplicateName(name: string, existing: Iterable<string>): string {
  const taken = new Set(existing);
  const base = name.replace(/-copy(-\d+)?$/, '');
  let candidate = `${base}-copy`;
  for (let n = 2; taken.has(candidate); n++) candidate = `${base}-copy-${n}`;
  return candidate;
}

/** `name`, or `name_2`, `name_3`… when taken. */
export function uniqueName(name: string, taken: Iterable<string>): string {
  const set = new Set(taken);
  if (!set.has(name)) return name;
  let n = 2;
  while (set.has(`${name}_${n}`)) n++;
  return `${name}_${n}`;
}
