import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, IMAGE_FILE, readBuiltImage, type BuildImageOptions } from '../../src/build/image/index.js';
import { appRepository, versionTag } from '../../src/build/image/repository.js';

let tmp: string;
let tree: string;

/** A small app tree: nested dirs, an executable, a symlink, a long and a UTF-8 name. */
async function makeTree(dir: string): Promise<void> {
  await mkdir(join(dir, 'lib', 'deep'), { recursive: true });
  await writeFile(join(dir, 'server.js'), 'console.log("hi")\n');
  await writeFile(join(dir, 'run.sh'), '#!/bin/sh\necho run\n', { mode: 0o755 });
  await writeFile(join(dir, 'lib', 'a.txt'), 'a'.repeat(5000));
  await writeFile(join(dir, 'lib', 'deep', 'big.bin'), Buffer.alloc(3 << 20, 7));
  await writeFile(join(dir, 'lib', 'deep', `${'x'.repeat(120)}.txt`), 'long name');
  await writeFile(join(dir, 'lib', 'héllo-✓.txt'), 'utf8');
  await symlink('lib/a.txt', join(dir, 'link-to-a'));
  await mkdir(join(dir, 'empty'));
}

const opts = (root: string, workDir: string, extra: Partial<BuildImageOptions> = {}): BuildImageOptions => ({
  root,
  workDir,
  compression: 'gzip',
  cmd: ['node', 'server.js'],
  env: { PORT: '8080', A: '1' },
  labels: { 'org.jetsaga.saga': 's-1' },
  ...extra,
});

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'jetsaga-image-build-'));
  tree = join(tmp, 'tree');
  await mkdir(tree);
  await makeTree(tree);
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('buildImage', () => {
  it('gives the same digests for the same tree, and for a copy with other mtimes and go-rwx modes', async () => {
    const one = await buildImage(opts(tree, join(tmp, 'w1')));
    const two = await buildImage(opts(tree, join(tmp, 'w2')));
    expect(two.manifestDigest).toBe(one.manifestDigest);
    expect(two.layers[0]!.digest).toBe(one.layers[0]!.digest);

    const copy = join(tmp, 'copy');
    cpSync(tree, copy, { recursive: true, verbatimSymlinks: true });
    execFileSync('chmod', ['-R', 'go-rwx', copy]);
    execFileSync('find', [copy, '-exec', 'touch', '-h', '-d', '2030-01-02 03:04:05', '{}', '+']);
    const three = await buildImage(opts(copy, join(tmp, 'w3')));
    expect(three.manifestDigest).toBe(one.manifestDigest);
    expect(one.files).toBe(7);
    expect(one.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
  });

  it('changes the digests when one byte changes', async () => {
    const base = await buildImage(opts(tree, join(tmp, 'b1')));
    const copy = join(tmp, 'changed');
    cpSync(tree, copy, { recursive: true, verbatimSymlinks: true });
    await writeFile(join(copy, 'server.js'), 'console.log("hI")\n');
    const changed = await buildImage(opts(copy, join(tmp, 'b2')));
    expect(changed.manifestDigest).not.toBe(base.manifestDigest);
    expect(changed.layers[0]!.diffId).not.toBe(base.layers[0]!.diffId);
  });

  it('writes gzip and uncompressed layers that tar reads, normalised', async () => {
    const gz = await buildImage(opts(tree, join(tmp, 'gz')));
    const plain = await buildImage(opts(tree, join(tmp, 'plain'), { compression: 'none' }));
    expect(gz.layers[0]!.file).toMatch(/^[a-f0-9]{64}\.tar\.gz$/);
    expect(plain.layers[0]!.file).toMatch(/^[a-f0-9]{64}\.tar$/);
    expect(plain.layers[0]!.mediaType).toBe('application/vnd.oci.image.layer.v1.tar');
    // Same tar inside: the diffID does not depend on compression.
    expect(plain.layers[0]!.diffId).toBe(gz.layers[0]!.diffId);
    expect(plain.layers[0]!.size).toBe(plain.bytes);
    const listing = execFileSync('tar', ['-tvzf', join(gz.workDir, gz.layers[0]!.file)], { encoding: 'utf8' }).trim().split('\n');
    expect(listing[0]).toMatch(/^drwxr-xr-x 0\/0 +0 1970-01-01 00:00 app\/$/);
    const names = execFileSync('tar', ['-tf', join(plain.workDir, plain.layers[0]!.file)], { encoding: 'utf8' }).trim().split('\n');
    expect(names).toEqual([
      'app/',
      'app/empty/',
      'app/lib/',
      'app/lib/a.txt',
      'app/lib/deep/',
      'app/lib/deep/big.bin',
      `app/lib/deep/${'x'.repeat(120)}.txt`,
      'app/lib/héllo-✓.txt',
      'app/link-to-a',
      'app/run.sh',
      'app/server.js',
    ]);
    expect(listing.find((l) => l.endsWith('app/run.sh'))).toMatch(/^-rwxr-xr-x 0\/0 /);
    expect(listing.find((l) => l.endsWith('app/server.js'))).toMatch(/^-rw-r--r-- 0\/0 /);
    expect(listing.find((l) => l.includes('app/link-to-a'))).toMatch(/^l.* app\/link-to-a -> lib\/a.txt$/);
  });

  it('writes a canonical config: sorted Env, Cmd, WorkingDir /app, Labels, fixed created, no local paths', async () => {
    const image = await buildImage(opts(tree, join(tmp, 'cfg')));
    const text = await readFile(join(image.workDir, 'config.json'), 'utf8');
    const config = JSON.parse(text);
    expect(config.created).toBe('1970-01-01T00:00:00Z');
    expect(config.architecture).toBe('amd64');
    expect(config.os).toBe('linux');
    expect(config.config).toEqual({ Cmd: ['node', 'server.js'], Env: ['A=1', 'PORT=8080'], Labels: { 'org.jetsaga.saga': 's-1' }, WorkingDir: '/app' });
    expect(config.rootfs).toEqual({ type: 'layers', diff_ids: [image.layers[0]!.diffId] });
    expect(text).not.toContain(tmp);
    expect(Object.keys(config)).toEqual([...Object.keys(config)].sort());
  });

  it('leaves out what exclude names, subtrees included', async () => {
    const image = await buildImage(opts(tree, join(tmp, 'ex'), { compression: 'none', exclude: (p) => p === 'lib' || p === 'run.sh' }));
    const names = execFileSync('tar', ['-tf', join(image.workDir, image.layers[0]!.file)], { encoding: 'utf8' }).trim().split('\n');
    expect(names).toEqual(['app/', 'app/empty/', 'app/link-to-a', 'app/server.js']);
  });

  it('readBuiltImage finds a complete build, and not one with a file missing or changed', async () => {
    const dir = join(tmp, 'rb');
    const image = await buildImage(opts(tree, dir));
    expect(await readBuiltImage(dir)).toEqual(image);
    await writeFile(join(dir, 'config.json'), '{}');
    expect(await readBuiltImage(dir)).toBeUndefined();
    const again = await buildImage(opts(tree, dir));
    expect(again).toEqual(image);
    await rm(join(dir, again.layers[0]!.file));
    expect(await readBuiltImage(dir)).toBeUndefined();
    expect(await readBuiltImage(join(tmp, 'nowhere'))).toBeUndefined();
  });

  it('an abort during the build rejects with its reason and leaves no layer files', async () => {
    const big = join(tmp, 'big');
    await mkdir(big);
    // Enough work that the abort lands while the worker is still packing.
    for (let i = 0; i < 8; i++) await writeFile(join(big, `f${i}.bin`), Buffer.alloc(8 << 20, i));
    const dir = join(tmp, 'aborted');
    const ac = new AbortController();
    const building = buildImage(opts(big, dir, { signal: ac.signal, gzipLevel: 6 }));
    setTimeout(() => ac.abort(new Error('stop now')), 20);
    await expect(building).rejects.toThrow('stop now');
    const left = readdirSync(dir);
    expect(left.filter((n) => n.endsWith('.tmp') || n.includes('.tar'))).toEqual([]);
    expect(existsSync(join(dir, IMAGE_FILE))).toBe(false);
  });

  it('an already aborted signal rejects before anything is written', async () => {
    const ac = new AbortController();
    ac.abort(new Error('early'));
    await expect(buildImage(opts(tree, join(tmp, 'early'), { signal: ac.signal }))).rejects.toThrow('early');
  });
});

describe('repository names', () => {
  it('names an app repository and a version tag', () => {
    expect(appRepository('web')).toBe('apps/web');
    expect(versionTag(3)).toBe('v3');
  });
});

