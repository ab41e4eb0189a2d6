/**
 * LineSplitter: lines as they arrive, whatever the chunking (a multi-byte character split
 * between chunks, CRLF), and long lines cut to the limit with what was cut said.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../../src/build/app/output-lines.js';

function split(chunks: Buffer[], max?: number): string[] {
  const out: string[] = [];
  const s = new LineSplitter((l) => out.push(l), max);
  for (const c of chunks) s.push(c);
  s.end();
  return out;
}

describe('LineSplitter', () => {
  it('emits complete lines at once and the last unterminated one at the end', () => {
    const out: string[] = [];
    const s = new LineSplitter((l) => out.push(l));
    s.push(Buffer.from('a\nb'));
    expect(out).toEqual(['a']);
    s.push(Buffer.from('c\r\n\nd'));
    expect(out).toEqual(['a', 'bc', '']);
    s.end();
    expect(out).toEqual(['a', 'bc', '', 'd']);
  });

  it('gives the same lines however the bytes are chunked, multi-byte characters included', () => {
    const text = 'héllo wörld\r\n€ and 𝄞\nlast';
    const bytes = Buffer.from(text);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: bytes.length }), { maxLength: 8 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const chunks = [0, ...points].map((p, i) => bytes.subarray(p, points[i] ?? bytes.length)).filter((c) => c.length > 0);
        expect(split(chunks)).toEqual(['héllo wörld', '€ and 𝄞', 'last']);
      }),
    );
  });

  it('cuts a long line to the limit and says how much was cut, however it arrived', () => {
    expect(split([Buffer.from('x'.repeat(25) + '\nok\n')], 10)).toEqual(['xxxxxxxxxx … [15 more characters cut]', 'ok']);
    expect(split(Array.from({ length: 30 }, () => Buffer.from('y')), 10)).toEqual(['yyyyyyyyyy … [20 more characters cut]']);
    // Exactly at the limit: not cut, with or without CRLF.
    expect(split([Buffer.from('z'.repeat(10) + '\r\n' + 'z'.repeat(10))], 10)).toEqual(['z'.repeat(10), 'z'.repeat(10)]);
  });

  it('emits nothing for empty input', () => {
    expect(split([])).toEqual([]);
  });
});
