/**
 * Where each key of a TOML document is defined. smol-toml returns values without positions,
 * so errors about a value ("build.onbuild[1] must be a string") would have no line; this
 * scanner walks the source once more and records the position of every key path — table
 * headers, `[[arrays of tables]]`, dotted keys, quoted keys, inline tables and the elements
 * of arrays that span lines — in the spelling of `formatKeyPath`.
 *
 * It runs only on documents smol-toml has already accepted, so it never has to report a
 * syntax error: it need only step over every construct TOML allows without being misled
 * (brackets and `#` inside strings, multi-line strings, comments inside arrays, CRLF).
 */
import { formatKeyPath, type KeyPath } from './key-path.js';

/** A 1-based position in the source. */
export interface SourcePosition {
  readonly line: number;
  readonly column: number;
}

/** Positions by formatted key path; the first definition of a path wins. */
export type KeyPositions = ReadonlyMap<string, SourcePosition>;

/**
 * Scans a valid TOML document and returns the position of every key path it defines: a
 * table's header (or first dotted key), each key, each array element. Implicit super-tables
 * (`a` for `[a.b]`) get the position of their first mention.
 */
export function locateKeys(source: string): KeyPositions {
  return new Scanner(source).scan();
}

/**
 * The position of `path`, or of its nearest ancestor that has one (a problem inside a value
 * points at the value's key; a problem at the root has none).
 */
export function positionOf(positions: KeyPositions, path: KeyPath): SourcePosition | undefined {
  for (let n = path.length; n > 0; n--) {
    const pos = positions.get(formatKeyPath(path.slice(0, n)));
    if (pos) return pos;
  }
  return undefined;
}

class Scanner {
  private i = 0;
  private readonly offsets = new Map<string, number>();
  /** The last index of each array of tables, by resolved path, so `[a.b]` after `[[a]]` is `a[n].b`. */
  private readonly tableArrays = new Map<string, number>();

  constructor(private readonly s: string) {}

  scan(): KeyPositions {
    let table: Array<string | number> = [];
    for (;;) {
      this.skipSpaceNewlinesComments();
      if (this.i >= this.s.length) break;
      const start = this.i;
      if (this.s.startsWith('[[', this.i)) {
        this.i += 2;
        const array = this.resolve(this.readKey(), false);
        this.expect(']]');
        const name = formatKeyPath(array);
        const index = (this.tableArrays.get(name) ?? -1) + 1;
        this.tableArrays.set(name, index);
        table = [...array, index];
        this.recordWithAncestors(table, start);
      } else if (this.s[this.i] === '[') {
        this.i += 1;
        table = this.resolve(this.readKey(), true);
        this.expect(']');
        this.recordWithAncestors(table, start);
      } else {
        this.keyValue(table);
      }
      // Only a document smol-toml rejected could stall the scan; never loop on one.
      if (this.i === start) this.i += 1;
    }
    return this.toPositions();
  }

  /** `key = value` in the table at `base`, recording the key and everything inside the value. */
  private keyValue(base: ReadonlyArray<string | number>): void {
    const start = this.i;
    const path = [...base, ...this.readKey()];
    this.skipSpace();
    this.expect('=');
    this.skipSpace();
    this.recordWithAncestors(path, start);
    this.value(path);
  }

  private value(path: ReadonlyArray<string | number>): void {
    const c = this.s[this.i];
    if (c === '[') {
      this.i += 1;
      for (let index = 0; ; index++) {
        this.skipSpaceNewlinesComments();
        if (this.s[this.i] === ']' || this.i >= this.s.length) break;
        const element = [...path, index];
        const at = this.i;
        this.record(element, at);
        this.value(element);
        if (this.i === at) this.i += 1;
        this.skipSpaceNewlinesComments();
        if (this.s[this.i] === ',') this.i += 1;
      }
      this.i += 1;
    } else if (c === '{') {
      this.i += 1;
      for (;;) {
        // TOML 1.1 lets inline tables span lines and hold comments; 1.0 documents never do.
        this.skipSpaceNewlinesComments();
        if (this.s[this.i] === '}' || this.i >= this.s.length) break;
        const at = this.i;
        this.keyValue(path);
        if (this.i === at) this.i += 1;
        this.skipSpaceNewlinesComments();
        if (this.s[this.i] === ',') this.i += 1;
      }
      this.i += 1;
    } else if (this.s.startsWith('"""', this.i) || this.s.startsWith("'''", this.i)) {
      this.skipMultilineString();
    } else if (c === '"' || c === "'") {
      this.readQuoted();
    } else {
      // Numbers, booleans, dates (which may hold a space): up to the next delimiter.
      while (this.i < this.s.length && !',]}#\r\n'.includes(this.s[this.i] as string)) this.i += 1;
    }
  }

  /** A dotted key: bare and quoted segments separated by dots (spaces allowed around dots). */
  private readKey(): string[] {
    const segments: string[] = [];
    for (;;) {
      this.skipSpace();
      const c = this.s[this.i];
      if (c === '"' || c === "'") segments.push(this.readQuoted());
      else {
        const start = this.i;
        while (this.i < this.s.length && !' \t.=]\r\n'.includes(this.s[this.i] as string)) this.i += 1;
        segments.push(this.s.slice(start, this.i));
      }
      this.skipSpace();
      if (this.s[this.i] !== '.') return segments;
      this.i += 1;
    }
  }

  /** A single-line basic (`"…"`, escapes decoded) or literal (`'…'`) string, as its value. */
  private readQuoted(): string {
    const quote = this.s[this.i];
    this.i += 1;
    let out = '';
    while (this.i < this.s.length) {
      const c = this.s[this.i] as string;
      if (c === quote) {
        this.i += 1;
        return out;
      }
      if (c === '\\' && quote === '"') {
        out += this.readEscape();
        continue;
      }
      out += c;
      this.i += 1;
    }
    return out;
  }

  private readEscape(): string {
    const e = this.s[this.i + 1] ?? '';
    const simple: Record<string, string> = { b: '\b', t: '\t', n: '\n', f: '\f', r: '\r', e: '\x1b', '"': '"', '\\': '\\' };
    const hexLength = e === 'u' ? 4 : e === 'U' ? 8 : e === 'x' ? 2 : 0;
    if (hexLength > 0) {
      const code = Number.parseInt(this.s.slice(this.i + 2, this.i + 2 + hexLength), 16);
      this.i += 2 + hexLength;
      return Number.isFinite(code) ? String.fromCodePoint(code) : '';
    }
    this.i += 2;
    return simple[e] ?? e;
  }

  private skipMultilineString(): void {
    const delimiter = this.s.slice(this.i, this.i + 3);
    this.i += 3;
    while (this.i < this.s.length) {
      if (delimiter === '"""' && this.s[this.i] === '\\') {
        this.i += 2;
        continue;
      }
      if (this.s.startsWith(delimiter, this.i)) {
        this.i += 3;
        // Up to two quotes may end the content right before the delimiter: `""""x""""`.
        for (let extra = 0; extra < 2 && this.s[this.i] === delimiter[0]; extra++) this.i += 1;
        return;
      }
      this.i += 1;
    }
  }

  /** Resolves a header's keys through arrays of tables: `[a.b]` after `[[a]]` is `a[last].b`. */
  private resolve(keys: readonly string[], lastToo: boolean): Array<string | number> {
    const out: Array<string | number> = [];
    keys.forEach((key, n) => {
      out.push(key);
      if (n === keys.length - 1 && !lastToo) return;
      const index = this.tableArrays.get(formatKeyPath(out));
      if (index !== undefined) out.push(index);
    });
    return out;
  }

  private recordWithAncestors(path: ReadonlyArray<string | number>, offset: number): void {
    for (let n = 1; n <= path.length; n++) this.record(path.slice(0, n), offset);
  }

  private record(path: ReadonlyArray<string | number>, offset: number): void {
    const key = formatKeyPath(path);
    if (!this.offsets.has(key)) this.offsets.set(key, offset);
  }

  private expect(token: string): void {
    if (this.s.startsWith(token, this.i)) this.i += token.length;
  }

  private skipSpace(): void {
    while (this.s[this.i] === ' ' || this.s[this.i] === '\t') this.i += 1;
  }

  private skipSpaceNewlinesComments(): void {
    for (;;) {
      const c = this.s[this.i];
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n') this.i += 1;
      else if (c === '#') while (this.i < this.s.length && this.s[this.i] !== '\n') this.i += 1;
      else return;
    }
  }

  private toPositions(): KeyPositions {
    const lineStarts = [0];
    for (let k = 0; k < this.s.length; k++) if (this.s[k] === '\n') lineStarts.push(k + 1);
    const out = new Map<string, SourcePosition>();
    for (const [key, offset] of this.offsets) {
      // Binary search for the last line starting at or before the offset.
      let lo = 0;
      let hi = lineStarts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if ((lineStarts[mid] as number) <= offset) lo = mid;
        else hi = mid - 1;
      }
      out.set(key, { line: lo + 1, column: offset - (lineStarts[lo] as number) + 1 });
    }
    return out;
  }
}
