/**
 * JSON with object keys sorted: two values that mean the same (`{a,b}` and `{b,a}`) give the
 * same text, so a repeated request can be told from a different one by comparing strings.
 * Only for JSON values (what journaled inputs are).
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
  return out;
}
