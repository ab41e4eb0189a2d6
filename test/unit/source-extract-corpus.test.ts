/**
 * The hostile and broken archive corpus: every case must be refused with SOURCE_REJECTED
 * naming the entry and the reason, and leave the destination and everything beside it exactly
 * as it was — whether the destination did not exist (it is not left behind) or was an empty
 * directory (it stays, empty). Inputs are read from real files, so a leaked descriptor would
 * show as a stream that was not destroyed.
 */
import { createReadStream, ReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { extractSource } from '../../src/build/source/safe-extract.js';
import type { ExtractLimits } from '../../src/build/source/extract-limits.js';
import { SourceRejectedError } from '../../src/build/source/source-errors.js';
import { header, padded, tarOf, type RawEntry } from '../fixtures/tars/tar-builder.js';
import { snapshotTree } from '../fixtures/tars/tree-snapshot.js';

interface Case {
  readonly name: string;
  /** The archive's bytes, or a stream factory for inputs too large to hold. */
  readonly input: Buffer | (() => { stream: Readable; check?: () => void });
  /** The entry the rejection must name (null: the archive failed before its first entry). */
  readonly entry: string | null;
  readonly reason: RegExp;
  readonly limits?: Partial<ExtractLimits>;
}

const file = (name: string, data = 'x', more: Partial<RawEntry> = {}): RawEntry => ({ name, data, ...more });
const dir = (name: string): RawEntry => ({ name, type: 'dir' });
const symlink = (name: string, linkname: string): RawEntry => ({ name, type: 'symlink', linkname });
const hardlink = (name: string, linkname: string): RawEntry => ({ name, type: 'link', linkname });
const garbage = Buffer.from('this is not a tar archive, just some text. '.repeat(100));

/**
 * A gzip bomb built from concatenated gzip members (valid gzip: a reader inflates them one
 * after another), produced lazily so the test can tell how much of it was read before the
 * extraction stopped it.
 */
function bomb(opts: { headerSize?: number; members: number }): () => { stream: Readable; check: () => void } {
  return () => {
    const member = gzipSync(Buffer.alloc(1024 * 1024));
    let pulled = 0;
    function* bytes(): Generator<Buffer> {
      if (opts.headerSize !== undefined) yield gzipSync(header({ name: 'bomb.bin', size: opts.headerSize }));
      for (let i = 0; i < opts.members; i++) {
        pulled++;
        yield member;
      }
    }
    return {
      stream: Readable.from(bytes(), { objectMode: false }),
      // Stopped early: a few MiB inflated at most, of the hundreds offered.
      check: () => expect(pulled).toBeLessThan(opts.members / 10),
    };
  };
}

function cut(buf: Buffer, length: number): Buffer {
  return buf.subarray(0, length);
}

const twoFiles = tarOf([file('a.txt', 'first'), file('b.txt', 'second file')]);
const bigBody = tarOf([file('big.bin', 'y'.repeat(2000))]);
const longPath = `${'d123456789/'.repeat(373)}leaf.txt`; // 4111 bytes

const CASES: readonly Case[] = [
  { name: 'absolute path', input: tarOf([file('/etc/evil')]), entry: '/etc/evil', reason: /absolute path/ },
  { name: 'parent traversal ../x', input: tarOf([file('../x')]), entry: '../x', reason: /'\.\.' component/ },
  { name: 'traversal inside a path a/../../x', input: tarOf([file('a/../../x')]), entry: 'a/../../x', reason: /'\.\.' component/ },
  { name: 'harmless-looking a/../b (any .. is refused)', input: tarOf([file('a/../b')]), entry: 'a/../b', reason: /'\.\.' component/ },
  { name: './ trick ./../x', input: tarOf([file('././/../x')]), entry: '././/../x', reason: /'\.\.' component/ },
  { name: 'backslash traversal', input: tarOf([file('..\\..\\outside\\x')]), entry: '..\\..\\outside\\x', reason: /backslash/ },
  { name: 'empty name', input: tarOf([file('')]), entry: '', reason: /empty name/ },
  { name: 'symlink to /etc', input: tarOf([symlink('etc', '/etc')]), entry: 'etc', reason: /symlink to an absolute path/ },
  { name: 'symlink to ../..', input: tarOf([symlink('up', '../..')]), entry: 'up', reason: /escapes the extraction root/ },
  {
    name: 'symlink chain escaping',
    input: tarOf([dir('sub'), symlink('l1', 'sub'), symlink('sub/l2', '..'), symlink('l3', 'l1/l2/../outside')]),
    entry: 'l3',
    reason: /escapes the extraction root \(through the symlinks "l1", "sub\/l2"\)/,
  },
  {
    name: 'symlink inside by its text, outside once links are followed',
    input: tarOf([symlink('s', '.'), symlink('t', 's/../outside/secret.txt')]),
    entry: 't',
    reason: /escapes the extraction root \(through the symlink "s"\)/,
  },
  {
    name: 'symlink that escapes only once a later entry exists',
    input: tarOf([symlink('t', 'a/../../outside'), symlink('a', 'sub'), dir('sub')]),
    entry: 't',
    reason: /escapes/,
  },
  {
    name: 'dangling symlink turned into an escape by a later symlink',
    input: tarOf([symlink('t', 'a/../x'), symlink('a', '.')]),
    entry: 't',
    reason: /escapes the extraction root \(through the symlink "a"\) once the whole archive is extracted/,
  },
  { name: 'symlink loop', input: tarOf([symlink('a', 'b'), symlink('b', 'a')]), entry: 'a', reason: /symlink loop/ },
  {
    name: 'file written through an earlier symlink dir',
    input: tarOf([dir('sub'), symlink('link', 'sub'), file('link/evil')]),
    entry: 'link/evil',
    reason: /would write through the symlink "link"/,
  },
  {
    name: 'file written through a symlink to outside (the link itself refused)',
    input: tarOf([symlink('out', '../outside'), file('out/secret.txt', 'overwritten')]),
    entry: 'out',
    reason: /escapes/,
  },
  { name: 'hardlink to /etc/passwd', input: tarOf([hardlink('pw', '/etc/passwd')]), entry: 'pw', reason: /hardlink target: absolute path/ },
  { name: 'hardlink to ../outside', input: tarOf([hardlink('pw', '../outside/secret.txt')]), entry: 'pw', reason: /hardlink target: path has a '\.\.' component/ },
  { name: 'hardlink to a missing file', input: tarOf([hardlink('h', 'later.txt'), file('later.txt')]), entry: 'h', reason: /hardlink target "later.txt" does not exist/ },
  { name: 'hardlink to a symlink', input: tarOf([dir('sub'), symlink('s', 'sub'), hardlink('h', 's')]), entry: 'h', reason: /is a symlink, not a regular file/ },
  {
    name: 'hardlink through a symlink',
    input: tarOf([file('sub/f'), symlink('s', 'sub'), hardlink('h', 's/f')]),
    entry: 'h',
    reason: /goes through the symlink "s"/,
  },
  { name: 'hardlink to itself', input: tarOf([file('f'), hardlink('f', 'f')]), entry: 'f', reason: /hardlink to itself/ },
  { name: 'character device', input: tarOf([{ name: 'null', type: 'char' }]), entry: 'null', reason: /character-device entries are not allowed/ },
  { name: 'block device', input: tarOf([{ name: 'sda', type: 'block' }]), entry: 'sda', reason: /block-device entries are not allowed/ },
  { name: 'fifo', input: tarOf([{ name: 'pipe', type: 'fifo' }]), entry: 'pipe', reason: /fifo entries are not allowed/ },
  { name: 'unknown type (GNU sparse)', input: tarOf([{ name: 'sparse', type: 'sparse' }]), entry: 'sparse', reason: /unsupported entry type/ },
  { name: 'duplicate replacing a dir with a symlink', input: tarOf([dir('d'), dir('sub'), symlink('d', 'sub')]), entry: 'd', reason: /a symlink would replace the directory/ },
  { name: 'duplicate replacing a file with a symlink', input: tarOf([file('f'), symlink('f', 'g')]), entry: 'f', reason: /a symlink would replace the regular file/ },
  { name: 'duplicate writing over a symlink', input: tarOf([dir('sub'), symlink('s', 'sub'), file('s', 'over')]), entry: 's', reason: /a file would replace the symlink/ },
  { name: 'duplicate hardlink over a symlink', input: tarOf([file('f'), symlink('s', 'f'), hardlink('s', 'f')]), entry: 's', reason: /a hardlink would replace the symlink/ },
  { name: 'duplicate replacing a file with a dir', input: tarOf([file('f'), dir('f')]), entry: 'f', reason: /a directory would replace the regular file/ },
  { name: 'duplicate replacing a dir with a file', input: tarOf([dir('d'), file('d')]), entry: 'd', reason: /a file would replace the directory/ },
  { name: 'file below a file', input: tarOf([file('f'), file('f/x')]), entry: 'f/x', reason: /its parent "f" is a regular file/ },
  { name: 'a file naming the root', input: tarOf([file('.')]), entry: '.', reason: /naming the root directory itself/ },
  {
    name: 'very long path',
    input: tarOf([{ name: 'long', data: 'x', pax: { path: longPath } }]),
    entry: longPath,
    reason: /path of 4111 bytes \(limit 4096\)/,
  },
  {
    name: 'very long component',
    input: tarOf([{ name: 'long', data: 'x', pax: { path: `a/${'n'.repeat(300)}` } }]),
    entry: `a/${'n'.repeat(300)}`,
    reason: /path component of 300 bytes \(limit 255\)/,
  },
  { name: 'NUL in a name', input: tarOf([{ name: 'nul', data: 'x', pax: { path: 'a\0b' } }]), entry: 'a\0b', reason: /NUL byte/ },
  { name: 'invalid UTF-8 name', input: tarOf([{ name: Buffer.from([0x66, 0xff, 0xfe, 0x2e, 0x74]), data: 'x' }]), entry: 'f\uFFFD\uFFFD.t', reason: /not valid UTF-8/ },
  {
    name: 'invalid UTF-8 name in a PAX path',
    input: tarOf([{ name: 'p', data: 'x', pax: { path: Buffer.from([0x61, 0xc3, 0x28]) } }]),
    entry: 'a\uFFFD(',
    reason: /not valid UTF-8/,
  },
  {
    name: 'invalid UTF-8 symlink target',
    input: tarOf([{ name: 'l', type: 'symlink', linkname: Buffer.from([0x78, 0xff]) }]),
    entry: 'l',
    reason: /symlink target is not valid UTF-8/,
  },
  {
    name: 'too many files',
    input: tarOf(Array.from({ length: 11 }, (_, i) => file(`f${i}`))),
    entry: 'f10',
    reason: /more than 10 entries/,
    limits: { maxEntries: 10 },
  },
  {
    name: 'total size over the limit',
    input: tarOf([file('one', 'a'.repeat(600)), file('two', 'b'.repeat(600))]),
    entry: 'two',
    reason: /a file of 600 bytes would take the extracted total over 1000 bytes/,
    limits: { maxTotalBytes: 1000 },
  },
  {
    name: 'huge declared size and no body',
    input: Buffer.concat([header({ name: 'huge.bin', size: 8 * 1024 ** 3 - 1 }), Buffer.alloc(1024)]),
    entry: 'huge.bin',
    reason: /a file of 8589934591 bytes would take the extracted total over 1073741824 bytes/,
  },
  { name: 'gzip bomb (a tar of one big file of zeros)', input: bomb({ headerSize: 900 * 1024 ** 2, members: 900 }), entry: 'bomb.bin', reason: /compression ratio over 200:1/ },
  { name: 'gzip bomb of zero blocks (extracts to nothing)', input: bomb({ members: 2000 }), entry: null, reason: /compression ratio over 200:1/ },
  {
    name: 'plain archive larger than allowed',
    input: Buffer.concat([tarOf([file('a')]), Buffer.alloc(64 * 1024)]),
    entry: 'a',
    reason: /archive is larger than 32768 bytes/,
    limits: { maxArchiveBytes: 32 * 1024 },
  },
  { name: 'truncated in a header', input: cut(twoFiles, 512 + 512 + 100), entry: 'a.txt', reason: /archive truncated/ },
  { name: 'truncated in a body', input: cut(bigBody, 512 + 1000), entry: 'big.bin', reason: /archive truncated/ },
  { name: 'truncated between two entries', input: tarOf([file('a.txt', 'first')], { end: false }), entry: 'a.txt', reason: /no end-of-archive blocks/ },
  { name: 'garbage bytes', input: garbage, entry: null, reason: /not a tar archive \(bad header checksum\)/ },
  { name: 'fewer bytes than a header', input: Buffer.from('hello\n'), entry: null, reason: /not a tar archive: 6 bytes, less than one tar header/ },
  { name: 'empty input', input: Buffer.alloc(0), entry: null, reason: /empty input/ },
  { name: 'valid gzip of garbage', input: gzipSync(garbage), entry: null, reason: /not a tar archive inside the gzip stream/ },
  { name: 'gzip truncated', input: cut(gzipSync(bigBody), 40), entry: null, reason: /gzip stream truncated/ },
  {
    name: 'corrupt gzip stream',
    input: (() => {
      const gz = Buffer.from(gzipSync(tarOf([file('a.txt', 'some text '.repeat(500))])));
      gz.fill(0xff, 20, 60);
      return gz;
    })(),
    entry: null,
    reason: /corrupt gzip stream/,
  },
  {
    name: 'garbage after a valid entry',
    input: Buffer.concat([tarOf([file('a.txt')], { end: false }), padded(garbage)]),
    entry: 'a.txt',
    reason: /corrupt archive after this entry \(bad header checksum\)/,
  },
];

let sandbox: string;
let inputs: string;

beforeEach(async () => {
  sandbox = await mkdtemp(join(tmpdir(), 'jetsaga-source-sandbox-'));
  inputs = await mkdtemp(join(tmpdir(), 'jetsaga-source-inputs-'));
  // Things an escape would reach: siblings of the destination and of its parents.
  await mkdir(join(sandbox, 'outside', 'sub'), { recursive: true });
  await writeFile(join(sandbox, 'outside', 'secret.txt'), 'do not touch\n');
  await mkdir(join(sandbox, 'etc'));
  await writeFile(join(sandbox, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
  await mkdir(join(sandbox, 'staging'));
  await writeFile(join(sandbox, 'staging', 'other-build.txt'), 'another build\n');
});

afterEach(async () => {
  await rm(sandbox, { recursive: true, force: true });
  await rm(inputs, { recursive: true, force: true });
});

async function inputFor(c: Case): Promise<{ stream: Readable; check?: () => void }> {
  if (typeof c.input === 'function') return c.input();
  const path = join(inputs, 'input.bin');
  await writeFile(path, c.input);
  // Odd-sized chunks, so headers and bodies straddle reads.
  return { stream: createReadStream(path, { highWaterMark: 777 }) };
}

describe.each([
  ['a destination that does not exist yet', false],
  ['an existing empty destination', true],
] as const)('hostile and broken archives into %s', (_label, preexisting) => {
  it('has at least 25 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(25);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const dest = join(sandbox, 'staging', 'b-1', 'src');
    if (preexisting) await mkdir(dest, { recursive: true });
    const before = await snapshotTree(sandbox);
    const { stream, check } = await inputFor(c);

    const err = await extractSource(stream, dest, { limits: c.limits }).then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(err).toBeInstanceOf(SourceRejectedError);
    const rejected = err as SourceRejectedError;
    expect(rejected.code).toBe('SOURCE_REJECTED');
    expect(rejected.status).toBe(400);
    expect(rejected.retryable).toBe(false);
    expect(rejected.details).toEqual({ entry: c.entry, reason: expect.stringMatching(c.reason) });
    expect(rejected.message).toMatch(c.reason);
    if (c.entry !== null) expect(rejected.message).toContain(JSON.stringify(c.entry));
    // Nothing written, nothing left behind, nothing outside touched.
    expect(await snapshotTree(sandbox)).toEqual(before);
    expect(stream.destroyed).toBe(true);
    if (stream instanceof ReadStream) expect(stream.closed).toBe(true);
    check?.();
  });
});
