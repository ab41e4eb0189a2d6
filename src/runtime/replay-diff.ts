/**
 * A small structural diff of two machine contexts, for `jetsaga sagas replay`: which fields an
 * entry added, removed or replaced (`outputs.allocate` added, `stack.2` removed). Contexts are
 * JSON-like (the journal feeds the machine JSON), so plain objects and arrays are walked and
 * everything else is compared by value.
 */

/** One change of the context, at a dotted path (`outputs.allocate`, `stack.1.input`). */
export interface ContextChange {
  readonly path: string;
  readonly op: 'add' | 'remove' | 'replace';
  readonly before?: unknown;
  readonly after?: unknown;
}

/** The changes that turn `before` into `after`; empty when they are equal. */
export function diffContext(before: unknown, after: unknown): ContextChange[] {
  const out: ContextChange[] = [];
  walk(before, after, '', out);
  return out;
}

const PLAIN_KEY = /^[A-Za-z0-9_$-]+$/;

/** Keys that would make a dotted path ambiguous are written as `["a.b"]`. */
function join(path: string, key: string | number): string {
  if (typeof key === 'number' || PLAIN_KEY.test(key)) return path === '' ? String(key) : `${path}.${key}`;
  return `${path}[${JSON.stringify(key)}]`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function walk(before: unknown, after: unknown, path: string, out: ContextChange[]): void {
  if (Object.is(before, after)) return;
  if (isPlainObject(before) && isPlainObject(after)) {
    for (const key of Object.keys(before)) {
      if (!Object.hasOwn(after, key)) out.push({ path: join(path, key), op: 'remove', before: before[key] });
      else walk(before[key], after[key], join(path, key), out);
    }
    for (const key of Object.keys(after)) {
      if (!Object.hasOwn(before, key)) out.push({ path: join(path, key), op: 'add', after: after[key] });
    }
    return;
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    const common = Math.min(before.length, after.length);
    for (let i = 0; i < common; i++) walk(before[i], after[i], join(path, i), out);
    for (let i = common; i < after.length; i++) out.push({ path: join(path, i), op: 'add', after: after[i] });
    for (let i = common; i < before.length; i++) out.push({ path: join(path, i), op: 'remove', before: before[i] });
    return;
  }
  if (!jsonEqual(before, after)) out.push({ path, op: 'replace', before, after });
}

/** Equality of JSON-like values (plain objects by own keys, arrays by element). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}
