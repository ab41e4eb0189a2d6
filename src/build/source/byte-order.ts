/**
 * One sort order for paths everywhere in source intake: byte order of the UTF-8 encodings
 * (what `LC_ALL=C sort` gives), not JavaScript's UTF-16 code-unit order. The two differ for
 * characters beyond the BMP, and image layers are sorted by bytes.
 */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** `paths` sorted by `compareBytes`, encoding each path once (not once per comparison). */
export function sortByBytes(paths: Iterable<string>): string[] {
  return [...paths]
    .map((p) => ({ p, b: Buffer.from(p) }))
    .sort((x, y) => Buffer.compare(x.b, y.b))
    .map((x) => x.p);
}
