import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { BlockGzip, type BlockGzipOptions } from '../../src/build/image/block-gzip.js';

const MiB = 1 << 20;
const tmp = mkdtempSync(join(tmpdir(), 'jetsaga-block-gzip-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Seeded bytes (xorshift32), so failures reproduce. */
function randomData(n: number, seed = 7): Buffer {
  const words = new Uint32Array(Math.ceil(n / 4));
  let x = seed;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    words[i] = x;
  }
  return Buffer.from(words.buffer).subarray(0, n);
}

/** Source-like text: lines of words from a small vocabulary, not a short repeated pattern. */
function textData(n: number): Buffer {
  const rnd = randomData(n, 11);
  const vocab = ['const', 'return', 'function', 'import', 'export', 'await', 'value', 'error', '=>', '{', '}', '(', ')', 'this', 'node', 'layer'];
  const parts: string[] = [];
  let length = 0;
  for (let i = 0; length < n; i++) {
    const w = `${vocab[rnd[i % rnd.length]! % vocab.length]}${rnd[(i * 7) % rnd.length]! % 10 === 0 ? ';\n' : ' '}`;
    parts.push(w);
    length += w.length;
  }
  return Buffer.from(parts.join('')).subarray(0, n);
}

/** Runs `input` through BlockGzip, written in chunks of the given sizes (cycled). */
async function blockGzip(input: Buffer, chunkSizes: number[] = [4 * MiB], opts: Partial<BlockGzipOptions> = {}): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < input.length; i++) {
    const n = chunkSizes[i % chunkSizes.length]!;
    chunks.push(input.subarray(at, at + n));
    at += n;
  }
  const out: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out.push(chunk);
      cb();
    },
  });
  await pipeline(Readable.from(chunks), new BlockGzip({ level: 1, ...opts }), sink);
  return Buffer.concat(out);
}

/** `gzip -t` of the bytes: an independent reader of the whole member, CRC and ISIZE included. */
function gzipTest(gz: Buffer, name: string): void {
  const file = join(tmp, `${name}.gz`);
  writeFileSync(file, gz);
  execFileSync('gzip', ['-t', file]);
}

const text5 = textData(5 * MiB);
const random5 = randomData(5 * MiB);
const cases: [string, Buffer][] = [
  ['empty', Buffer.alloc(0)],
  ['1 byte', Buffer.from([0x42])],
  ['exactly 1 MiB', textData(MiB)],
  ['1 MiB + 1', textData(MiB + 1)],
  ['5 MiB random', random5],
  ['5 MiB text', text5],
  // Text, random, text: blocks switch between deflated and stored, and back.
  ['mixed', Buffer.concat([text5.subarray(0, 1.5 * MiB), random5.subarray(0, 2 * MiB), text5.subarray(0, MiB + 12345)])],
];

describe('BlockGzip', () => {
  it.each(cases)('%s: gunzips to exactly the input (zlib and gzip -t)', async (name, input) => {
    const gz = await blockGzip(input);
    expect(gunzipSync(gz).equals(input)).toBe(true);
    gzipTest(gz, name.replace(/\W+/g, '-'));
  });

  it('writes a fixed header (no name, mtime 0, OS Unix) and a 20-byte member for empty input', async () => {
    const gz = await blockGzip(Buffer.alloc(0));
    expect([...gz]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const six = await blockGzip(Buffer.from('x'), undefined, { level: 6 });
    expect([...six.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
  });

  it('gives identical bytes across runs, whatever the input chunking and the number of jobs in flight', async () => {
    const input = cases.find(([n]) => n === 'mixed')![1];
    const one = await blockGzip(input);
    const two = await blockGzip(input);
    const odd = await blockGzip(input, [1, 777, 65_536, MiB - 3, 3 * MiB + 5]);
    const serial = await blockGzip(input, [100_000], { inFlight: 1 });
    const wide = await blockGzip(input, [MiB], { inFlight: 16 });
    expect(two.equals(one)).toBe(true);
    expect(odd.equals(one)).toBe(true);
    expect(serial.equals(one)).toBe(true);
    expect(wide.equals(one)).toBe(true);
  });

  it('stores random data (output ≥ input) but deflates text', async () => {
    const rnd = await blockGzip(random5);
    expect(rnd.length).toBeGreaterThanOrEqual(random5.length);
    // Stored blocks only: each 1 MiB block is 17 stored blocks of ≤ 65535 bytes with 5 bytes of
    // framing each; plus the header, the final empty block and the trailer.
    expect(rnd.length).toBe(random5.length + 5 * 17 * 5 + 10 + 2 + 8);
    const txt = await blockGzip(text5);
    expect(txt.length).toBeLessThan(text5.length * 0.8);
  });

  it('without storeIncompressible deflates random data too (still valid)', async () => {
    const gz = await blockGzip(random5, undefined, { storeIncompressible: false });
    expect(gunzipSync(gz).equals(random5)).toBe(true);
    expect(gz.equals(await blockGzip(random5))).toBe(false);
  });

  it('primes each block with the previous input: a repeat across a block boundary still compresses', async () => {
    // 16 KiB of random bytes twice, the second copy alone in the second 64 KiB block. (zlib
    // matches reach back a little less than the 32 KiB dictionary, so the repeat is closer.)
    const piece = randomData(16 << 10, 3);
    const input = Buffer.concat([randomData(48 << 10, 5), piece, piece]);
    const gz = await blockGzip(input, undefined, { blockSize: 64 << 10, storeIncompressible: false });
    expect(gunzipSync(gz).equals(input)).toBe(true);
    // Without the dictionary the second block could not shrink below its 16 KiB of random bytes.
    expect(gz.length).toBeLessThan((64 << 10) + 2_000);
  });

  it('small blocks with a dictionary shorter than 32 KiB and many blocks still round-trip', async () => {
    const input = Buffer.concat([textData(100_000), randomData(50_000)]);
    const gz = await blockGzip(input, [333], { blockSize: 1000, inFlight: 3 });
    expect(gunzipSync(gz).equals(input)).toBe(true);
    gzipTest(gz, 'small-blocks');
  });

  it('rejects a level outside 1–9', () => {
    expect(() => new BlockGzip({ level: 0 })).toThrow(RangeError);
    expect(() => new BlockGzip({ level: 10 })).toThrow(RangeError);
  });
});
