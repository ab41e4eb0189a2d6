/**
 * What extraction keeps: a normal tree (nested dirs, an executable, an empty file, UTF-8
 * names, a relative symlink, PAX long names, a hardlink), plain and gzipped, written by
 * tar-stream and by GNU tar, comes out byte for byte with normalised modes; and how it fails
 * when the failure is not the archive's: a destination in use, an input that errors, an abort.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_EXTRACT_LIMITS } from '../../src/build/source/extract-limits.js';
import { extractSource } from '../../src/build/source/safe-extract.js';
import { END, paxBody, tarOf } from '../fixtures/tars/tar-builder.js';
import { snapshotTree } from '../fixtures/tars/tree-snapshot.js';

const run = promisify(execFile);

let work: string;

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'jetsaga-source-extract-'));
});

afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

const sha = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');
const fileOf = (content: string, mode = 0o644) => ({ type: 'file', mode, size: Buffer.byteLength(content), sha256: sha(content) });
const longName = `deeply/${'nested-directory-name/'.repeat(8)}with-a-file-name-well-over-one-hundred-bytes.txt`;

/** The sample tree as tar-stream writes it (PAX headers for the long and non-ASCII names). */
async function sampleTar(): Promise<Buffer> {
  const p = pack();
  const collected = (async () => {
    const chunks: Buffer[] = [];
    for await (const c of p as AsyncIterable<Buffer>) chunks.push(c);
    return Buffer.concat(chunks);
  })();
  const add = (h: Parameters<typeof p.entry>[0], body?: string): Promise<void> =>
    new Promise((resolve, reject) => {
      if (body === undefined) p.entry(h, (err) => (err ? reject(err) : resolve()));
      else p.entry(h, body, (err) => (err ? reject(err) : resolve()));
    });
  await add({ name: 'app', type: 'directory', mode: 0o700 });
  await add({ name: 'app/server.js', mode: 0o664, uid: 1234, gid: 99 }, 'console.log("hi")\n');
  await add({ name: 'app/run.sh', mode: 0o4775 }, '#!/bin/sh\nexec node server.js\n');
  await add({ name: 'app/empty.txt' }, '');
  await add({ name: 'données/café.txt' }, 'crème brûlée\n');
  await add({ name: 'données/🚀.md' }, '# launch\n');
  await add({ name: 'bin/start', type: 'symlink', linkname: '../app/run.sh' });
  await add({ name: longName }, 'long\n');
  await add({ name: 'app/server-copy.js', type: 'link', linkname: 'app/server.js' });
  p.finalize();
  return collected;
}

const EXPECTED_TREE = {
  app: { type: 'dir', mode: 0o755 },
  'app/empty.txt': fileOf(''),
  'app/run.sh': fileOf('#!/bin/sh\nexec node server.js\n', 0o755),
  'app/server-copy.js': fileOf('console.log("hi")\n'),
  'app/server.js': fileOf('console.log("hi")\n'),
  bin: { type: 'dir', mode: 0o755 },
  'bin/start': { type: 'symlink', target: '../app/run.sh' },
  deeply: { type: 'dir', mode: 0o755 },
  données: { type: 'dir', mode: 0o755 },
  'données/café.txt': fileOf('crème brûlée\n'),
  'données/🚀.md': fileOf('# launch\n'),
};

describe('a normal tree', () => {
  it.each([
    ['plain', (b: Buffer) => b],
    ['gzipped', (b: Buffer) => gzipSync(b)],
  ])('comes out byte for byte from a %s tar, with normalised modes', async (_kind, encode) => {
    const bytes = encode(await sampleTar());
    const dest = join(work, 'dest');
    const result = await extractSource(Readable.from([bytes]), dest);

    const tree = await snapshotTree(dest);
    for (const [path, expected] of Object.entries(EXPECTED_TREE)) expect(tree[path], path).toEqual(expected);
    expect(tree[longName]).toEqual(fileOf('long\n'));
    const paths = Object.keys(tree);
    expect(result.entries).toEqual([...paths].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    expect(result.digest).toBe(`sha256:${sha(bytes)}`);
    // app, bin, données, deeply and its 8 nested dirs; the hardlinked bytes once.
    expect(paths.filter((p) => tree[p]!.type === 'dir')).toHaveLength(12);
    expect(result).toMatchObject({ files: paths.length - 12, dirs: 12, bytes: 0 + 30 + 18 + 16 + 9 + 5 });
    // The hardlink is one file under two names.
    expect((await stat(join(dest, 'app/server.js'))).ino).toBe((await stat(join(dest, 'app/server-copy.js'))).ino);
  });

  it('comes out of GNU tar (./ entries, its own long-name headers) as it went in', async () => {
    const src = join(work, 'src');
    await mkdir(join(src, 'lib', 'nested'), { recursive: true });
    await writeFile(join(src, 'lib', 'nested', 'a.txt'), 'a\n');
    await writeFile(join(src, 'tool'), '#!/bin/sh\n');
    await chmod(join(src, 'tool'), 0o755);
    await writeFile(join(src, 'empty'), '');
    await writeFile(join(src, `${'x'.repeat(120)}.txt`), 'long\n');
    await writeFile(join(src, 'naïve.txt'), 'utf-8\n');
    await symlink('lib/nested/a.txt', join(src, 'link'));
    for (const format of ['gnu', 'posix']) {
      const archive = join(work, `src-${format}.tgz`);
      await run('tar', [`--format=${format}`, '-czf', archive, '-C', src, '.']);
      const dest = join(work, `dest-${format}`);
      const result = await extractSource(createReadStream(archive), dest);
      expect(await snapshotTree(dest), format).toEqual(await snapshotTree(src));
      expect(result.entries).not.toContain('');
      expect(result.digest).toBe(`sha256:${sha(await readFile(archive))}`);
    }
  });

  it('lets a later regular file replace an earlier one (a hardlink to the old one keeps its bytes)', async () => {
    const dest = join(work, 'dest');
    const result = await extractSource(
      Readable.from([tarOf([{ name: 'f', data: 'old' }, { name: 'g', type: 'link', linkname: 'f' }, { name: 'f', data: 'new!' }, { name: 'd', type: 'dir' }, { name: 'd', type: 'dir' }])]),
      dest,
    );
    expect(await readFile(join(dest, 'f'), 'utf8')).toBe('new!');
    expect(await readFile(join(dest, 'g'), 'utf8')).toBe('old');
    expect(result).toMatchObject({ files: 2, dirs: 1, bytes: 7, entries: ['d', 'f', 'g'] });
  });

  it('keeps relative symlinks that stay inside, dangling ones included, and an identical duplicate', async () => {
    const dest = join(work, 'dest');
    const entries = [
      { name: 'a/b', type: 'dir' as const },
      { name: 'a/b/up', type: 'symlink' as const, linkname: '../../top.txt' },
      { name: 'a/b/up', type: 'symlink' as const, linkname: '../../top.txt' },
      { name: 'self', type: 'symlink' as const, linkname: '.' },
      { name: 'later', type: 'symlink' as const, linkname: 'not/yet/there' },
      { name: 'top.txt', data: 'top' },
    ];
    const result = await extractSource(Readable.from([tarOf(entries)]), dest);
    expect(await readFile(join(dest, 'a/b/up'), 'utf8')).toBe('top');
    expect(result.entries).toEqual(['a', 'a/b', 'a/b/up', 'later', 'self', 'top.txt']);
  });

  it('applies PAX records, global ones included, and takes no entry from them', async () => {
    const dest = join(work, 'dest');
    const result = await extractSource(
      Readable.from([
        tarOf([
          { name: 'pax_global_header', type: 'global', data: paxBody({ comment: 'made by a test' }) },
          { name: 'short', data: 'long name via PAX', pax: { path: 'a/b/named-by-pax.txt' } },
          { name: 'l', type: 'symlink', linkname: 'x', pax: { linkpath: '../b/named-by-pax.txt', path: 'a/c/link' } },
        ]),
      ]),
      dest,
    );
    expect(result.entries).toEqual(['a', 'a/b', 'a/b/named-by-pax.txt', 'a/c', 'a/c/link']);
    expect(await readFile(join(dest, 'a/c/link'), 'utf8')).toBe('long name via PAX');
  });

  it('takes a valid empty archive (only the end blocks) as an empty tree', async () => {
    const dest = join(work, 'dest');
    expect(await extractSource(Readable.from([END]), dest)).toEqual({
      files: 0,
      dirs: 0,
      bytes: 0,
      entries: [],
      digest: `sha256:${sha(END)}`,
    });
    expect(await snapshotTree(dest)).toEqual({});
  });
});

describe('failures that are not the archive’s', () => {
  it('refuses a destination that is not empty, and leaves it and the input alone', async () => {
    const dest = join(work, 'dest');
    await mkdir(dest);
    await writeFile(join(dest, 'keep.txt'), 'mine');
    const input = Readable.from([tarOf([{ name: 'a', data: 'x' }])]);
    await expect(extractSource(input, dest)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/is not empty/) });
    expect(await snapshotTree(dest)).toEqual({ 'keep.txt': { type: 'file', mode: expect.any(Number), size: 4, sha256: sha('mine') } });
    expect(input.destroyed).toBe(true);
  });

  it('refuses a destination that is a file or a symlink', async () => {
    await writeFile(join(work, 'file'), 'x');
    await symlink(work, join(work, 'link'));
    for (const dest of ['file', 'link']) {
      await expect(extractSource(Readable.from([END]), join(work, dest))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/not a directory/) });
    }
  });

  it('passes the input’s own error through (not a rejection) and removes what it wrote', async () => {
    const dest = join(work, 'stage', 'dest');
    const input = new PassThrough();
    const failure = new Error('connection to the object store lost');
    input.write(tarOf([{ name: 'a.txt', data: 'written before the failure' }], { end: false }));
    const extracting = extractSource(input, dest);
    // The first entry is on disk before the input fails.
    await until(async () => (await snapshotTree(dest))['a.txt'] !== undefined);
    input.destroy(failure);
    await expect(extracting).rejects.toBe(failure);
    expect(await snapshotTree(work)).toEqual({});
  });

  it('stops on abort, rejects with the reason, destroys the input and removes what it wrote', async () => {
    const dest = join(work, 'dest');
    const input = new PassThrough();
    input.write(tarOf([{ name: 'a.txt', data: 'x' }], { end: false }));
    const ac = new AbortController();
    const extracting = extractSource(input, dest, { signal: ac.signal });
    await until(async () => (await snapshotTree(dest))['a.txt'] !== undefined);
    const reason = new Error('saga cancelled');
    ac.abort(reason);
    await expect(extracting).rejects.toBe(reason);
    expect(input.destroyed).toBe(true);
    expect(await snapshotTree(work)).toEqual({});
  });

  it('stops on abort while waiting for the first bytes', async () => {
    const dest = join(work, 'dest');
    const input = new PassThrough();
    const ac = new AbortController();
    const extracting = extractSource(input, dest, { signal: ac.signal });
    await until(async () => (await snapshotTree(work)).dest !== undefined);
    const reason = new Error('saga cancelled');
    ac.abort(reason);
    await expect(extracting).rejects.toBe(reason);
    expect(input.destroyed).toBe(true);
    expect(await snapshotTree(work)).toEqual({});
  });

  it('refuses bad limits before touching anything', async () => {
    const input = Readable.from([END]);
    await expect(extractSource(input, join(work, 'dest'), { limits: { maxEntries: 0 } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await snapshotTree(work)).toEqual({});
    expect(input.destroyed).toBe(true);
  });

  it('has the documented defaults', () => {
    expect(DEFAULT_EXTRACT_LIMITS).toMatchObject({ maxTotalBytes: 1024 ** 3, maxEntries: 100_000, maxPathLength: 4096, maxNameLength: 255, maxCompressionRatio: 200 });
  });
});

async function until(cond: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + 20_000;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met within 20 s');
    await new Promise((r) => setTimeout(r, 5));
  }
}
