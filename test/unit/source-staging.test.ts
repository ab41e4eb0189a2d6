/**
 * StagingArea: a complete staged tree is reused without reading the source again; a crashed
 * extraction (a real process SIGKILLed half-way, and hand-made leftovers) is wiped and redone;
 * concurrent ensures of one build extract once; failed removals are recorded and retried —
 * with a real removal failure (chattr +i when running as root, a read-only parent otherwise)
 * and with an injected remover, so the path is tested on every machine.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PENDING_CLEANUPS_FILE, StagingArea } from '../../src/build/source/staging-area.js';
import { spawnTs } from '../helpers/ts-child.js';
import { tarOf, tgzOf, type RawEntry } from '../fixtures/tars/tar-builder.js';
import { snapshotTree } from '../fixtures/tars/tree-snapshot.js';

const run = promisify(execFile);

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'jetsaga-source-staging-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const APP: RawEntry[] = [
  { name: 'app.toml', data: '[app]\nname = "demo"\n' },
  { name: 'app/a.txt', data: 'from the archive' },
  { name: 'bin/run', data: '#!/bin/sh\n', mode: 0o755 },
];

/** An `open` that counts its calls and hands out the archive as a fresh stream each time. */
function source(bytes: Buffer): { open: () => Promise<Readable>; calls: () => number } {
  let calls = 0;
  return {
    open: async () => {
      calls++;
      return Readable.from([bytes]);
    },
    calls: () => calls,
  };
}

describe('ensure', () => {
  it('extracts once, then reuses the complete tree without calling open', async () => {
    const staging = new StagingArea(root);
    const bytes = tgzOf(APP);
    const src = source(bytes);
    const first = await staging.ensure('b-1', src.open);
    expect(first).toMatchObject({ dir: join(root, 'b-1', 'src'), files: 3, bytes: 46, reused: false, digest: expect.stringMatching(/^sha256:/) });
    expect(await readFile(join(first.dir, 'app/a.txt'), 'utf8')).toBe('from the archive');
    const marker = JSON.parse(await readFile(join(root, 'b-1', 'staged.json'), 'utf8')) as Record<string, unknown>;
    expect(marker).toMatchObject({ buildId: 'b-1', digest: first.digest, files: 3, entries: ['app', 'app.toml', 'app/a.txt', 'bin', 'bin/run'] });

    // Another StagingArea on the same root, as after a restart.
    const again = await new StagingArea(root).ensure('b-1', src.open);
    expect(again).toEqual({ ...first, reused: true });
    expect(src.calls()).toBe(1);
    expect(await staging.entries('b-1')).toEqual(['app', 'app.toml', 'app/a.txt', 'bin', 'bin/run']);
    expect(await staging.list()).toEqual([{ buildId: 'b-1', state: 'staged', digest: first.digest, files: 3, bytes: 46, pendingCleanup: false }]);
  });

  it('wipes and redoes a tree left by a process killed in the middle of extracting it', async () => {
    const child = spawnTs(join(import.meta.dirname, '../fixtures/tars/stage-and-hang.ts'), [root, 'b-crash']);
    try {
      await child.waitForLine('staging');
      await until(async () => (await snapshotTree(join(root, 'b-crash')))['src/app/a.txt'] !== undefined);
    } finally {
      await child.kill();
    }
    expect((await child.exited).signal).toBe('SIGKILL');
    const left = await snapshotTree(join(root, 'b-crash'));
    expect(left['src/only-in-the-first-attempt.txt']).toBeDefined();
    expect(left['staged.json']).toBeUndefined();
    const staging = new StagingArea(root);
    expect(await staging.list()).toEqual([{ buildId: 'b-crash', state: 'partial', pendingCleanup: false }]);

    const src = source(tarOf(APP));
    const staged = await staging.ensure('b-crash', src.open);
    expect(staged.reused).toBe(false);
    expect(src.calls()).toBe(1);
    expect(Object.keys(await snapshotTree(staged.dir))).toEqual(['app', 'app/a.txt', 'app.toml', 'bin', 'bin/run']);
    expect(await readFile(join(staged.dir, 'app/a.txt'), 'utf8')).toBe('from the archive');
    expect((await staging.ensure('b-crash', src.open)).reused).toBe(true);
    expect(src.calls()).toBe(1);
  });

  it.each([
    ['no marker', async (dir: string) => void (await writeFile(join(dir, 'src', 'stray.txt'), 'x'))],
    ['a marker temp file never renamed', async (dir: string) => void (await writeFile(join(dir, '.staged.json.1.abcd.tmp'), '{"version":1'))],
    ['a marker that is not JSON', async (dir: string) => void (await writeFile(join(dir, 'staged.json'), '{"version":1,'))],
    ['a marker of another build', async (dir: string) => void (await writeFile(join(dir, 'staged.json'), JSON.stringify(markerFor('b-other'))))],
    ['a marker whose src is gone', async (dir: string) => {
      await writeFile(join(dir, 'staged.json'), JSON.stringify(markerFor('b-2')));
      await rm(join(dir, 'src'), { recursive: true });
    }],
  ])('redoes a dir with %s', async (_what, damage) => {
    const dir = join(root, 'b-2');
    await mkdir(join(dir, 'src', 'old'), { recursive: true });
    await damage(dir);
    const src = source(tarOf(APP));
    const staged = await new StagingArea(root).ensure('b-2', src.open);
    expect(staged.reused).toBe(false);
    expect(src.calls()).toBe(1);
    expect(Object.keys(await snapshotTree(dir))).toEqual(['src', 'src/app', 'src/app/a.txt', 'src/app.toml', 'src/bin', 'src/bin/run', 'staged.json']);
  });

  it('redoes a tree of another digest than the one asked for, and refuses an archive of the wrong digest', async () => {
    const staging = new StagingArea(root);
    const v1 = await staging.ensure('b-3', source(tarOf(APP)).open);
    const newer = tarOf([...APP, { name: 'new.txt', data: 'v2' }]);
    const v2 = await staging.ensure('b-3', source(newer).open, { digest: digestOf(newer) });
    expect(v2).toMatchObject({ reused: false, digest: digestOf(newer), files: 4 });
    expect(v2.digest).not.toBe(v1.digest);

    await expect(staging.ensure('b-4', source(newer).open, { digest: v1.digest })).rejects.toMatchObject({ code: 'SOURCE_CORRUPT' });
    expect(await staging.list()).toEqual([expect.objectContaining({ buildId: 'b-3', state: 'staged' })]);
  });

  it('extracts once for concurrent calls of one build', async () => {
    const staging = new StagingArea(root);
    const src = source(tgzOf(APP));
    const results = await Promise.all([staging.ensure('b-5', src.open), staging.ensure('b-5', src.open), staging.ensure('b-5', src.open)]);
    expect(src.calls()).toBe(1);
    expect(results.map((r) => r.reused)).toEqual([false, true, true]);
    expect(new Set(results.map((r) => r.digest)).size).toBe(1);
  });

  it('leaves nothing of the build behind when the archive is refused or open fails', async () => {
    const staging = new StagingArea(root);
    await expect(staging.ensure('b-6', source(tarOf([{ name: '../escape', data: 'x' }])).open)).rejects.toMatchObject({ code: 'SOURCE_REJECTED' });
    const missing = Object.assign(new Error('unknown source "b-7"'), { code: 'UNKNOWN_SOURCE' });
    await expect(staging.ensure('b-7', () => Promise.reject(missing))).rejects.toBe(missing);
    expect(await snapshotTree(root)).toEqual({});
  });

  it('refuses build ids that are not saga ids', async () => {
    const staging = new StagingArea(root);
    for (const id of ['', '../x', 'a/b', 'a.b', 'x'.repeat(129)]) {
      await expect(staging.ensure(id, source(tarOf(APP)).open), id).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(staging.remove(id), id).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    expect(await snapshotTree(root)).toEqual({});
  });
});

describe('remove', () => {
  it('removes a staged build and is idempotent', async () => {
    const staging = new StagingArea(root);
    await staging.ensure('b-1', source(tarOf(APP)).open);
    expect(await staging.remove('b-1')).toEqual({ buildId: 'b-1', status: 'removed' });
    expect(await staging.remove('b-1')).toEqual({ buildId: 'b-1', status: 'absent' });
    expect(await staging.remove('never-staged')).toEqual({ buildId: 'never-staged', status: 'absent' });
    expect(await snapshotTree(root)).toEqual({});
  });

  it('records a removal that fails, and a later retry removes it (injected remover)', async () => {
    let refuse = true;
    const removeDir = async (path: string): Promise<void> => {
      if (refuse) throw Object.assign(new Error(`EBUSY: resource busy or locked, rmdir '${path}'`), { code: 'EBUSY' });
      await rm(path, { recursive: true, force: true });
    };
    const staging = new StagingArea(root, undefined, { removeDir });
    await staging.ensure('b-1', source(tarOf(APP)).open);
    await staging.ensure('b-2', source(tarOf(APP)).open);

    expect(await staging.remove('b-1')).toEqual({ buildId: 'b-1', status: 'pending', error: { code: 'EBUSY', message: expect.stringMatching(/EBUSY/) } });
    // The marker went first: the half-removed build is no longer taken for a complete one.
    expect(await staging.list()).toEqual([
      { buildId: 'b-1', state: 'partial', pendingCleanup: true },
      expect.objectContaining({ buildId: 'b-2', state: 'staged', pendingCleanup: false }),
    ]);
    const record = JSON.parse(await readFile(join(root, PENDING_CLEANUPS_FILE), 'utf8')) as { builds: Record<string, { attempts: number }> };
    expect(Object.keys(record.builds)).toEqual(['b-1']);

    // Still refused: counted again, reported as failing.
    expect(await staging.retryPendingCleanups()).toEqual({ removed: [], failing: [{ buildId: 'b-1', code: 'EBUSY', message: expect.any(String) }] });
    const again = JSON.parse(await readFile(join(root, PENDING_CLEANUPS_FILE), 'utf8')) as { builds: Record<string, { attempts: number }> };
    expect(again.builds['b-1']!.attempts).toBe(2);

    refuse = false;
    // A new StagingArea reads the record: it survives a restart.
    expect(await new StagingArea(root, undefined, { removeDir }).retryPendingCleanups()).toEqual({ removed: ['b-1'], failing: [] });
    expect(await staging.retryPendingCleanups()).toEqual({ removed: [], failing: [] });
    expect(await staging.list()).toEqual([expect.objectContaining({ buildId: 'b-2', state: 'staged' })]);
  });

  it('forgets a pending removal when the build is staged again', async () => {
    let refuse = true;
    const staging = new StagingArea(root, undefined, {
      removeDir: async (path) => {
        if (refuse) throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
        await rm(path, { recursive: true, force: true });
      },
    });
    await staging.ensure('b-1', source(tarOf(APP)).open);
    expect((await staging.remove('b-1')).status).toBe('pending');
    refuse = false;
    expect(await staging.ensure('b-1', source(tarOf(APP)).open)).toMatchObject({ reused: false });
    expect(await staging.retryPendingCleanups()).toEqual({ removed: [], failing: [] });
    expect(await staging.list()).toEqual([expect.objectContaining({ buildId: 'b-1', state: 'staged', pendingCleanup: false })]);
  });

  describe('with a real removal failure', () => {
    let blocker: Blocker | undefined;
    beforeAll(async () => {
      blocker = await findBlocker();
    });

    it('records it and removes the build once the file system lets it', async (ctx) => {
      if (!blocker) {
        ctx.skip('cannot make a file undeletable here: running as root without chattr +i (needs CAP_LINUX_IMMUTABLE on ext2/3/4, xfs, btrfs)');
        return;
      }
      const staging = new StagingArea(root);
      const staged = await staging.ensure('b-1', source(tarOf(APP)).open);
      const unblock = await blocker.block(staged.dir, join(staged.dir, 'app', 'a.txt'));
      try {
        const outcome = await staging.remove('b-1');
        // Node's rm retries an unlink refused with EPERM as an rmdir, and reports that: ENOTDIR.
        expect(outcome).toMatchObject({ status: 'pending', error: { code: expect.stringMatching(/^(EPERM|EACCES|ENOTDIR)$/) } });
        expect((await staging.retryPendingCleanups()).failing).toEqual([expect.objectContaining({ buildId: 'b-1' })]);
        expect(await stat(join(staged.dir, 'app', 'a.txt'))).toBeDefined();
      } finally {
        await unblock();
      }
      expect(await staging.retryPendingCleanups()).toEqual({ removed: ['b-1'], failing: [] });
      expect(await snapshotTree(root)).toEqual({ [PENDING_CLEANUPS_FILE]: expect.objectContaining({ type: 'file' }) });
    });
  });
});

interface Blocker {
  /** Makes `file` (in `dir`) undeletable; returns what undoes it. */
  block(dir: string, file: string): Promise<() => Promise<void>>;
}

/**
 * How this machine can make a file undeletable: a read-only parent for an ordinary user; for
 * root (which permissions do not stop), the immutable attribute, if the file system and the
 * capabilities allow it — probed on a scratch file.
 */
async function findBlocker(): Promise<Blocker | undefined> {
  if (process.getuid?.() !== 0) {
    return {
      async block(dir) {
        await chmod(join(dir, 'app'), 0o555);
        return () => chmod(join(dir, 'app'), 0o755);
      },
    };
  }
  const probeDir = await mkdtemp(join(tmpdir(), 'jetsaga-chattr-probe-'));
  const probe = join(probeDir, 'f');
  await writeFile(probe, randomBytes(8));
  try {
    await run('chattr', ['+i', probe]);
  } catch {
    await rm(probeDir, { recursive: true, force: true });
    return undefined;
  }
  const blocked = await unlink(probe).then(
    () => false,
    () => true,
  );
  await run('chattr', ['-i', probe]).catch(() => undefined);
  await rm(probeDir, { recursive: true, force: true });
  if (!blocked) return undefined;
  return {
    async block(_dir, file) {
      await run('chattr', ['+i', file]);
      return async () => void (await run('chattr', ['-i', file]));
    },
  };
}

function markerFor(buildId: string): Record<string, unknown> {
  return { version: 1, buildId, digest: `sha256:${'0'.repeat(64)}`, files: 0, dirs: 0, bytes: 0, entries: [] };
}

function digestOf(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

async function until(cond: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + 30_000;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met within 30 s');
    await new Promise((r) => setTimeout(r, 10));
  }
}
