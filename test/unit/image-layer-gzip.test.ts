import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage } from '../../src/build/image/index.js';
import { sha256 } from '../../src/build/image/digest.js';

let tmp: string;
let tree: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'jetsaga-layer-gzip-'));
  tree = join(tmp, 'tree');
  await mkdir(join(tree, 'lib'), { recursive: true });
  await writeFile(join(tree, 'server.js'), 'console.log("hi")\n'.repeat(2000));
  // Incompressible bytes over several 1 MiB blocks, then text again: stored and deflated blocks mixed.
  const noise = Buffer.alloc(3 << 20);
  for (let i = 0, x = 12345; i < noise.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    noise[i] = x >>> 24;
  }
  await writeFile(join(tree, 'lib', 'noise.bin'), noise);
  await writeFile(join(tree, 'lib', 'z.txt'), 'export const z = 1;\n'.repeat(100_000));
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('gzip layers', () => {
  it('levels 0, 1 and 6 hold the same tar; each blob is a valid gzip matching its digest', async () => {
    const plain = await buildImage({ root: tree, workDir: join(tmp, 'plain'), compression: 'none' });
    const tar = await readFile(join(plain.workDir, plain.layers[0]!.file));
    for (const gzipLevel of [0, 1, 6]) {
      const image = await buildImage({ root: tree, workDir: join(tmp, `l${gzipLevel}`), compression: 'gzip', gzipLevel });
      const file = join(image.workDir, image.layers[0]!.file);
      const blob = await readFile(file);
      expect(sha256(blob)).toBe(image.layers[0]!.digest);
      expect(blob.length).toBe(image.layers[0]!.size);
      expect(image.layers[0]!.diffId).toBe(plain.layers[0]!.diffId);
      expect(gunzipSync(blob).equals(tar)).toBe(true);
      execFileSync('gzip', ['-t', file]);
      // No name, mtime 0: nothing of the build host or time in the blob.
      expect([...blob.subarray(0, 8)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);
    }
  });

  it('the default gzip layer is the same bytes on every build', async () => {
    const one = await buildImage({ root: tree, workDir: join(tmp, 'd1'), compression: 'gzip' });
    const two = await buildImage({ root: tree, workDir: join(tmp, 'd2'), compression: 'gzip' });
    expect(two.layers[0]!.digest).toBe(one.layers[0]!.digest);
    expect((await readFile(join(two.workDir, two.layers[0]!.file))).equals(await readFile(join(one.workDir, one.layers[0]!.file)))).toBe(true);
  });
});
