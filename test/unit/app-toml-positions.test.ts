/**
 * locateKeys: the line (and column) of every key path in a TOML document, for every layout
 * TOML allows — checked against hand-written documents that try to mislead a scanner, and
 * as a property against every document smol-toml writes for random data.
 */
import fc from 'fast-check';
import { parse, stringify } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { formatKeyPath, type KeyPath } from '../../src/build/app/key-path.js';
import { locateKeys, positionOf } from '../../src/build/app/toml-positions.js';

const lines = (...ls: string[]): string => ls.join('\n') + '\n';

/** The line of each given path. */
function linesOf(source: string, paths: string[]): Record<string, number | undefined> {
  parse(source); // the scanner only ever sees documents smol-toml accepted
  const positions = locateKeys(source);
  return Object.fromEntries(paths.map((p) => [p, positions.get(p)?.line]));
}

describe('locateKeys', () => {
  it('finds table headers, their keys and implicit super-tables', () => {
    const src = lines('title = "x"', '', '[a.b]', 'c = 1', '[a]', 'd = 2', '  [ a . "e f" ]  # spaced', 'g = 3');
    expect(linesOf(src, ['title', 'a', 'a.b', 'a.b.c', 'a.d', 'a."e f"', 'a."e f".g'])).toEqual({
      title: 1,
      a: 3,
      'a.b': 3,
      'a.b.c': 4,
      'a.d': 6,
      'a."e f"': 7,
      'a."e f".g': 8,
    });
  });

  it('numbers arrays of tables, also nested ones and tables under them', () => {
    const src = lines('[[p]]', 'n = 1', '[[p]]', 'n = 2', '[[p.q]]', 'm = 1', '[p.r]', 's = 1', '[[p]]', 'n = 3', '[[p.q]]', 'm = 2');
    expect(linesOf(src, ['p', 'p[0]', 'p[0].n', 'p[1].n', 'p[1].q[0]', 'p[1].q[0].m', 'p[1].r.s', 'p[2].n', 'p[2].q[0].m'])).toEqual({
      p: 1,
      'p[0]': 1,
      'p[0].n': 2,
      'p[1].n': 4,
      'p[1].q[0]': 5,
      'p[1].q[0].m': 6,
      'p[1].r.s': 8,
      'p[2].n': 10,
      'p[2].q[0].m': 12,
    });
  });

  it('follows dotted and quoted keys, decoding escapes the way the parser does', () => {
    const src = lines('a.b.c = 1', '"x.y" . z = 2', "'lit\\eral'.k = 3", '"\\u0041\\tB" = 4', 'site."google.com" = true');
    expect(linesOf(src, ['a', 'a.b', 'a.b.c', '"x.y".z', '"lit\\\\eral".k', '"A\\tB"', 'site."google.com"'])).toEqual({
      a: 1,
      'a.b': 1,
      'a.b.c': 1,
      '"x.y".z': 2,
      '"lit\\\\eral".k': 3,
      '"A\\tB"': 4,
      'site."google.com"': 5,
    });
    expect(Object.keys(parse(src))).toContain('A\tB');
  });

  it('gives each element of a multi-line array its own line, past comments and tricky strings', () => {
    const src = lines(
      'arr = [',
      '  "a, b ] c",   # a comment with ] and , and "',
      "  'd # e',",
      '',
      '  [1, [2,',
      '   3]],',
      '  { k = "v", n = { m = 1 } },',
      '  """',
      'multi ] line, "" "',
      '""",',
      '  \'\'\'x]\'\'\',',
      '  1979-05-27 07:32:00Z, 2',
      ']',
      'after = 1',
    );
    expect(
      linesOf(src, ['arr', 'arr[0]', 'arr[1]', 'arr[2]', 'arr[2][0]', 'arr[2][1]', 'arr[2][1][1]', 'arr[3]', 'arr[3].n.m', 'arr[4]', 'arr[5]', 'arr[6]', 'arr[7]', 'after']),
    ).toEqual({
      arr: 1,
      'arr[0]': 2,
      'arr[1]': 3,
      'arr[2]': 5,
      'arr[2][0]': 5,
      'arr[2][1]': 5,
      'arr[2][1][1]': 6,
      'arr[3]': 7,
      'arr[3].n.m': 7,
      'arr[4]': 8,
      'arr[5]': 11,
      'arr[6]': 12,
      'arr[7]': 12,
      after: 14,
    });
  });

  it('is not misled by headers, keys and quotes inside multi-line strings', () => {
    const src = lines(
      'a = """',
      '[fake]',
      'b = 1 \\"""',
      'still inside ""',
      '"""""',
      "c = '''",
      "[[fake]] d = '' ",
      "''''",
      'e = "[not] # a comment"',
      'f = 1',
    );
    const positions = locateKeys(src);
    expect(linesOf(src, ['a', 'c', 'e', 'f'])).toEqual({ a: 1, c: 6, e: 9, f: 10 });
    expect([...positions.keys()].sort()).toEqual(['a', 'c', 'e', 'f']);
  });

  it('counts lines the same with CRLF line ends and gives 1-based columns', () => {
    const src = '# c\r\n[t]\r\n  k = [\r\n 1,\r\n    2 ]\r\n';
    expect(linesOf(src, ['t', 't.k', 't.k[0]', 't.k[1]'])).toEqual({ t: 2, 't.k': 3, 't.k[0]': 4, 't.k[1]': 5 });
    expect(locateKeys(src).get('t.k')).toEqual({ line: 3, column: 3 });
    expect(locateKeys(src).get('t.k[1]')).toEqual({ line: 5, column: 5 });
  });

  it('positionOf falls back to the nearest ancestor that has a position', () => {
    const positions = locateKeys(lines('[run]', 'web = "x"'));
    expect(positionOf(positions, ['run', 'web', 3])?.line).toBe(2);
    expect(positionOf(positions, ['run', 'missing'])?.line).toBe(1);
    expect(positionOf(positions, ['nowhere'])).toBeUndefined();
  });
});

// Keys with dots, spaces, quotes and non-ASCII letters, so quoting matters.
const key = fc.constantFrom('a', 'b-c', 'd_1', 'x.y', 'with space', 'é', '"q"', '1');
const scalar = fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean(), fc.double({ noNaN: true, noDefaultInfinity: true }));
const value = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('v'), { maxLength: 3 }), tie('t')),
  t: fc.dictionary(key, tie('v'), { maxKeys: 4 }),
}));

/** Every path of `data` with its value. */
function pathsOf(data: unknown, base: KeyPath = []): Array<[KeyPath, unknown]> {
  const out: Array<[KeyPath, unknown]> = [];
  if (Array.isArray(data)) data.forEach((v, i) => out.push([[...base, i], v], ...pathsOf(v, [...base, i])));
  else if (typeof data === 'object' && data !== null) for (const [k, v] of Object.entries(data)) out.push([[...base, k], v], ...pathsOf(v, [...base, k]));
  return out;
}

describe('locateKeys on every document smol-toml writes', () => {
  it('finds every key and every array element, at the text that spells it', () => {
    fc.assert(
      fc.property(value.t, (data) => {
        const src = stringify(data);
        const positions = locateKeys(src);
        const lineStarts = [0, ...[...src.matchAll(/\n/g)].map((m) => (m.index ?? 0) + 1)];
        for (const [path, v] of pathsOf(data)) {
          const pos = positions.get(formatKeyPath(path));
          expect(pos, `no position for ${formatKeyPath(path)} in\n${src}`).toBeDefined();
          const at = (lineStarts[pos!.line - 1] ?? 0) + pos!.column - 1;
          const last = path[path.length - 1]!;
          if (typeof last === 'string') {
            // A key (or the header of a table / array of tables) starts here, spelled as the writer spells it.
            const spelled = stringify({ [last]: 0 }).split(' = ')[0]!;
            const text = src.slice(at);
            // A header holds the key among its dotted keys: `[a.b]` is where `a` and `a.b` begin.
            const header = /^\[{1,2}([^\n]*?)\]{1,2}\n/.exec(text)?.[1];
            expect(header === undefined ? text.startsWith(spelled) : header.includes(spelled), `${formatKeyPath(path)} at ${pos!.line}:${pos!.column}`).toBe(true);
          } else if (typeof v !== 'object' || v === null) {
            // An array element: its value is written here.
            const spelled = stringify({ x: v }).slice(4).trimEnd();
            expect(src.slice(at, at + spelled.length), formatKeyPath(path)).toBe(spelled);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
