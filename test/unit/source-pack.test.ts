/**
 * packDirectory → extractSource round trips: what `.jetsagaignore` and the defaults leave out,
 * what is kept (symlinks as links, modes normalised), deterministic bytes, headers free of the
 * packing machine's details, GNU tar reading the result, and a stream destroyed half-way that
 * lets go of every file it opened.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readlink, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { packDirectory } from '../../src/build/source/pack-directory.js';
import { listPackedPaths } from '../../src/build/source/pack-selection.js';
import { extractSource } from '../../src/build/source/safe-extract.js';
import { snapshotTree } from '../fixtures/tars/tree-snapshot.js';

const run = promisify(execFile);

let work: string;
let src: string;

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'jetsaga-source-pack-'));
  src = join(work, 'app');
  await mkdir(src);
});

afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

async function put(rel: string, content = rel, mode?: number): Promise<void> {
  const p = join(src, rel);
  await mkdir(join(p, '..'), { recursive: true });
  await writeFile(p, content);
  if (mode !== undefined) await chmod(p, mode);
}

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A project with things to keep, to ignore, and to leave out whatever the ignore file says. */
async function sampleProject(ignoreFile: string): Promise<void> {
  await put('.jetsagaignore', ignoreFile);
  await put('app.toml', '[app]\nname = "demo"\n');
  await put('Procfile', 'web: node server.js\n');
  await put('server.js', 'require("http")\n', 0o664);
  await put('bin/run', '#!/bin/sh\n', 0o700);
  await put('empty.txt', '');
  await put('docs/ünïcødé 🚀.md', '# docs\n');
  await put(`deep/${'long-directory-name/'.repeat(6)}file-with-a-name-over-a-hundred-bytes.txt`, 'deep\n');
  await symlink('../server.js', join(src, 'bin', 'server-link'));
  await put('debug.log', 'noise');
  await put('keep.log', 'kept by a ! line');
  await put('build/out.js', 'generated');
  await put('node_modules/left-pad/index.js', 'module.exports = 1');
  await put('.git/config', '[remote "origin"]\n\turl = https://user:token@example.invalid/x\n');
  await put('sub/.git', 'gitdir: ../.git/modules/sub\n');
  await put('sub/lib.js', 'lib');
  await run('mkfifo', [join(src, 'a-fifo')]);
}

describe('packDirectory', () => {
  it('round-trips through extractSource, leaving out what .jetsagaignore and the defaults say', async () => {
    await sampleProject('*.log\n!keep.log\nbuild/\n');
    const dest = join(work, 'dest');
    const result = await extractSource(packDirectory(src), dest);

    const packed = await listPackedPaths(src);
    expect(result.entries).toEqual(packed);
    const expected = await snapshotTree(src);
    for (const path of Object.keys(expected)) {
      if (/^(\.git|node_modules|build)(\/|$)|^debug\.log$|^sub\/\.git$|^a-fifo$/.test(path)) delete expected[path];
    }
    // Modes normalised: only the executable bit survives.
    expected['server.js'] = { ...expected['server.js']!, mode: 0o644 } as (typeof expected)[string];
    expected['bin/run'] = { ...expected['bin/run']!, mode: 0o755 } as (typeof expected)[string];
    expect(await snapshotTree(dest)).toEqual(expected);
    expect(packed).toContain('keep.log');
    expect(packed).toContain('.jetsagaignore');
    expect(await readlink(join(dest, 'bin', 'server-link'))).toBe('../server.js');
  });

  it('packs node_modules when a ! line takes it back, but never .git', async () => {
    await sampleProject('!node_modules/\n!.git/\n!.git\n');
    const packed = await listPackedPaths(src);
    expect(packed).toEqual(expect.arrayContaining(['node_modules', 'node_modules/left-pad', 'node_modules/left-pad/index.js']));
    expect(packed.filter((p) => p.split('/').includes('.git'))).toEqual([]);
  });

  it('lists paths in byte order, each directory before what it holds', async () => {
    await put('a.txt');
    await put('a/b.txt');
    await put('B');
    await put('é');
    await put('z/😀');
    await put('z/\uFF5E');
    expect(await listPackedPaths(src)).toEqual(['B', 'a', 'a.txt', 'a/b.txt', 'z', 'z/\uFF5E', 'z/😀', 'é']);
  });

  it('gives the same bytes for the same tree, whatever the mtimes and the order files were made in', async () => {
    await sampleProject('*.log\n');
    const first = await bytesOf(packDirectory(src));
    await utimes(join(src, 'server.js'), new Date('2001-01-01'), new Date('2001-01-01'));
    await utimes(join(src, 'docs'), new Date('2002-01-01'), new Date('2002-01-01'));
    const second = await bytesOf(packDirectory(src));
    expect(createHash('sha256').update(second).digest('hex')).toBe(createHash('sha256').update(first).digest('hex'));
  });

  it('writes headers free of the packing machine: mtime 0, uid/gid 0, no owner names', async () => {
    await sampleProject('');
    const headers: { name: string; mtime: number; uid: number; gid: number; uname: string; gname: string; mode: number }[] = [];
    const parser = extract();
    const reading = (async () => {
      for await (const e of parser) {
        headers.push({ name: e.header.name, mtime: e.header.mtime.getTime(), uid: e.header.uid, gid: e.header.gid, uname: e.header.uname, gname: e.header.gname, mode: e.header.mode });
        e.resume();
      }
    })();
    packDirectory(src).pipe(createGunzip()).pipe(parser as unknown as NodeJS.WritableStream);
    await reading;
    expect(headers.length).toBeGreaterThan(10);
    for (const h of headers) expect(h, h.name).toMatchObject({ mtime: 0, uid: 0, gid: 0, uname: '', gname: '' });
    expect(headers.find((h) => h.name === 'bin/run')?.mode).toBe(0o755);
    expect(headers.find((h) => h.name === 'server.js')?.mode).toBe(0o644);
  });

  it('is read by GNU tar', async () => {
    await sampleProject('*.log\n');
    const archive = join(work, 'app.tgz');
    await writeFile(archive, await bytesOf(packDirectory(src)));
    const { stdout } = await run('tar', ['-tzf', archive]);
    const listed = stdout.trim().split('\n').map((l) => l.replace(/\/$/, ''));
    expect(listed).toEqual(await listPackedPaths(src));
  });

  it('refuses a symlink pointing outside the directory, naming it', async () => {
    await put('ok.txt');
    await symlink('../../etc/passwd', join(src, 'escape'));
    await expect(listPackedPaths(src)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/symlink "escape" points outside the directory/) });
    await expect(bytesOf(packDirectory(src))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: { path: 'escape', target: '../../etc/passwd' } });
  });

  it('packs a link that escapes once it is listed in .jetsagaignore', async () => {
    await put('.jetsagaignore', 'venv\n');
    await symlink('/usr/bin/python3', join(src, 'venv'));
    expect(await listPackedPaths(src)).toEqual(['.jetsagaignore']);
  });

  it('fails for something that is not a directory', async () => {
    await put('file.txt');
    await expect(listPackedPaths(join(src, 'file.txt'))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(bytesOf(packDirectory(join(work, 'missing')))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('lets go of every file it opened when the consumer destroys the stream half-way', async () => {
    await put('big.bin', Buffer.alloc(8 * 1024 * 1024, 7).toString('latin1'));
    const gcClosed = watchGcClosedFiles();
    try {
      const stream = packDirectory(src, { gzipLevel: 0 });
      for await (const _ of stream) break; // one chunk, then destroyed by the loop's exit
      expect(stream.destroyed).toBe(true);
      // The packer notices on its next read and closes big.bin itself (not the garbage collector).
      await until(async () => !(await openFds()).some((t) => t.startsWith(src)));
      expect(gcClosed.count()).toBe(0);
    } finally {
      gcClosed.stop();
    }
  });

  it('stops on abort with the signal’s reason', async () => {
    await put('big.bin', Buffer.alloc(8 * 1024 * 1024, 7).toString('latin1'));
    const ac = new AbortController();
    const gcClosed = watchGcClosedFiles();
    try {
      const stream = packDirectory(src, { gzipLevel: 0, signal: ac.signal });
      const reason = new Error('deploy cancelled');
      const chunks = stream[Symbol.asyncIterator]();
      await chunks.next(); // packing big.bin
      ac.abort(reason);
      await expect(chunks.next()).rejects.toBe(reason);
      await until(async () => !(await openFds()).some((t) => t.startsWith(src)));
      expect(gcClosed.count()).toBe(0);
    } finally {
      gcClosed.stop();
    }
  });
});

/** Counts Node's warnings about file handles closed by the garbage collector (a leak that GC hid). */
function watchGcClosedFiles(): { count(): number; stop(): void } {
  let n = 0;
  const onWarning = (w: Error): void => {
    if (/Closing file descriptor \d+ on garbage collection/.test(w.message)) n++;
  };
  process.on('warning', onWarning);
  return { count: () => n, stop: () => void process.off('warning', onWarning) };
}

async function openFds(): Promise<string[]> {
  const out: string[] = [];
  for (const fd of await readdir('/proc/self/fd')) out.push(await readlink(`/proc/self/fd/${fd}`).catch(() => ''));
  return out;
}

async function until(cond: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + 20_000;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met within 20 s');
    await new Promise((r) => setTimeout(r, 5));
  }
}
