/**
 * Extraction's writes run on worker threads, queued behind the checks (tree-writer.ts): the
 * ordering rules that makes easy to break. Many small files with a hardlink to the file written
 * just before it and overwrites of files just written (small and streamed ones), a write that
 * fails in the middle of many, and an abort with writes still queued.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { extractSource } from '../../src/build/source/safe-extract.js';
import { tarOf, tgzOf, type RawEntry } from '../fixtures/tars/tar-builder.js';
import { snapshotTree } from '../fixtures/tars/tree-snapshot.js';

let work: string;

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'jetsaga-source-writes-'));
});

afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

const sha = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const fileOf = (content: string | Buffer, mode = 0o644) => ({ type: 'file', mode, size: Buffer.byteLength(content), sha256: sha(content) });
const file = (name: string, data: string | Buffer, mode?: number): RawEntry => ({ name, data, ...(mode === undefined ? {} : { mode }) });
const hardlink = (name: string, linkname: string): RawEntry => ({ name, type: 'link', linkname });

/** `n` small files spread over 10 dirs (no directory entries: the parents are implicit). */
function smallFiles(n: number, prefix = 'd'): RawEntry[] {
  return Array.from({ length: n }, (_, i) => file(`${prefix}${i % 10}/f${i}.txt`, `file ${i}\n`.repeat(1 + (i % 50))));
}

/**
 * More than the 1 MiB up to which a file is read whole: streamed to disk chunk by chunk.
 * Random, so that a gzipped archive of them is not taken for a gzip bomb.
 */
const BIG = randomBytes(3 * 1024 * 1024 + 123);
const BIG2 = randomBytes(2 * 1024 * 1024 + 7);

describe('writes queued behind the checks', () => {
  it('keeps the order that matters: hardlinks to just-written files, overwrites of just-written files, small and streamed', async () => {
    const entries: RawEntry[] = [
      ...smallFiles(400),
      file('a.txt', 'first a'),
      hardlink('a-link', 'a.txt'), // made right after its target's write was queued
      file('b.txt', 'first b'),
      file('b.txt', 'second b', 0o755), // overwrites a write that may still be queued
      file('c.txt', 'first c'),
      hardlink('c-old', 'c.txt'),
      file('c.txt', 'second c'), // c-old keeps the first bytes
      file('big.bin', BIG),
      hardlink('big-link', 'big.bin'),
      file('big.bin', 'small now'), // a streamed file replaced by a small one
      file('small-then-big', 'small first'),
      file('small-then-big', BIG2), // and the other way round
      hardlink('d0/f0-link', 'd0/f0.txt'),
      ...smallFiles(400, 'e'),
      // Across directories (written by different threads for about half of them): a link to a
      // file just written elsewhere, then that file overwritten at once (the unlink must wait
      // for the link), and a directory made inside one just made.
      ...Array.from({ length: 20 }, (_, i) => [
        file(`p${i}/f`, `p${i} first`),
        hardlink(`q${i}/link`, `p${i}/f`),
        file(`p${i}/f`, `p${i} second`),
        file(`p${i}/n${i}/m${i}/deep`, `deep ${i}`),
      ]).flat(),
    ];
    const dest = join(work, 'dest');
    const result = await extractSource(Readable.from([tgzOf(entries)]), dest);
    const tree = await snapshotTree(dest);

    expect(tree['a.txt']).toEqual(fileOf('first a'));
    expect(tree['a-link']).toEqual(fileOf('first a'));
    expect(tree['b.txt']).toEqual(fileOf('second b', 0o755));
    expect(tree['c.txt']).toEqual(fileOf('second c'));
    expect(tree['c-old']).toEqual(fileOf('first c'));
    expect(tree['big.bin']).toEqual(fileOf('small now'));
    expect(tree['big-link']).toEqual(fileOf(BIG));
    expect(tree['small-then-big']).toEqual(fileOf(BIG2));
    expect(tree['d0/f0-link']).toEqual(fileOf('file 0\n'));
    for (let i = 0; i < 400; i++) {
      expect(tree[`d${i % 10}/f${i}.txt`], `d${i % 10}/f${i}.txt`).toEqual(fileOf(`file ${i}\n`.repeat(1 + (i % 50))));
      expect(tree[`e${i % 10}/f${i}.txt`], `e${i % 10}/f${i}.txt`).toEqual(fileOf(`file ${i}\n`.repeat(1 + (i % 50))));
    }
    for (let i = 0; i < 20; i++) {
      expect(tree[`q${i}/link`], `q${i}/link`).toEqual(fileOf(`p${i} first`));
      expect(tree[`p${i}/f`], `p${i}/f`).toEqual(fileOf(`p${i} second`));
      expect(tree[`p${i}/n${i}/m${i}/deep`]).toEqual(fileOf(`deep ${i}`));
    }
    // A hardlink is the same inode, not a copy made later.
    expect((await stat(join(dest, 'a-link'))).ino).toBe((await stat(join(dest, 'a.txt'))).ino);
    // big.bin was unlinked before its replacement was written: big-link is the old bytes' only name.
    expect((await stat(join(dest, 'big-link'))).nlink).toBe(1);
    expect(result.files).toBe(800 + 9 + 20 * 3);
    expect(result.dirs).toBe(20 + 20 * 4);
    expect(Object.keys(tree)).toEqual(expect.arrayContaining(result.entries));
    expect(Object.keys(tree)).toHaveLength(result.entries.length);
  });

  it('fails with the first write that fails, in the middle of many, and leaves nothing behind', async () => {
    // The kernel refuses a name over 255 bytes (ENAMETOOLONG), which the limits here let
    // through: a write that fails on disk after the checks passed, with writes queued around it.
    const tooLong = `${'n'.repeat(300)}.txt`;
    const entries = [...smallFiles(500), { name: 'long', pax: { path: `d3/${tooLong}` }, data: 'never written' }, ...smallFiles(500, 'e'), file('last.txt', 'x')];
    const dest = join(work, 'stage', 'dest');
    const input = Readable.from([tarOf(entries)]);
    const err = (await extractSource(input, dest, { limits: { maxNameLength: 1000 } }).then(
      () => undefined,
      (e: unknown) => e,
    )) as NodeJS.ErrnoException;
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ code: 'ENAMETOOLONG', syscall: 'open', path: join(dest, 'd3', tooLong) });
    expect(err.message).toMatch(/^ENAMETOOLONG/);
    expect(input.destroyed).toBe(true);
    expect(await snapshotTree(work)).toEqual({});
  });

  it('fails with a directory that cannot be made, and leaves an existing destination empty', async () => {
    const tooLong = 'd'.repeat(300);
    const entries = [...smallFiles(200), { name: 'long', pax: { path: `${tooLong}/inside.txt` }, data: 'never written' }, ...smallFiles(200, 'e')];
    const dest = join(work, 'dest');
    await mkdir(dest);
    await expect(extractSource(Readable.from([tgzOf(entries)]), dest, { limits: { maxNameLength: 1000 } })).rejects.toMatchObject({
      code: 'ENAMETOOLONG',
      syscall: 'mkdir',
    });
    expect(await snapshotTree(work)).toEqual({ dest: { type: 'dir', mode: expect.any(Number) } });
  });

  it('stops on abort with writes still queued, removes everything, and writes nothing afterwards', async () => {
    const dest = join(work, 'dest');
    const input = new PassThrough();
    // Thousands of small files and two streamed ones, all in the input at once: the parser runs
    // ahead of the writer, so writes are queued when the abort comes.
    input.write(tarOf([...smallFiles(3000), file('big.bin', BIG), ...smallFiles(3000, 'e'), file('big2.bin', BIG2)], { end: false }));
    const ac = new AbortController();
    const extracting = extractSource(input, dest, { signal: ac.signal });
    await until(async () => Object.keys(await snapshotTree(dest).catch(() => ({}) as Record<string, unknown>)).length > 50);
    const reason = new Error('saga cancelled');
    ac.abort(reason);
    await expect(extracting).rejects.toBe(reason);
    expect(input.destroyed).toBe(true);
    expect(await snapshotTree(work)).toEqual({});
    // Nothing was left queued to land after the clean-up.
    await new Promise((r) => setTimeout(r, 100));
    expect(await snapshotTree(work)).toEqual({});
  });

  it('removes a half-streamed file when the input fails in the middle of it', async () => {
    const dest = join(work, 'dest');
    const input = new PassThrough();
    const whole = tarOf([...smallFiles(20), file('big.bin', BIG)]);
    // Everything but the last MiB of big.bin's data.
    input.write(whole.subarray(0, whole.length - 1024 - 1024 * 1024));
    const extracting = extractSource(input, dest);
    await until(async () => (await snapshotTree(dest).catch(() => ({}) as Record<string, unknown>))['big.bin'] !== undefined);
    const failure = new Error('connection to the object store lost');
    input.destroy(failure);
    await expect(extracting).rejects.toBe(failure);
    expect(await snapshotTree(work)).toEqual({});
  });
});

async function until(cond: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + 20_000;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met within 20 s');
    await new Promise((r) => setTimeout(r, 5));
  }
}
