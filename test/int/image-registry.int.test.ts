import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NameMap } from '../../src/boot/name-map.js';
import {
  appRepository,
  buildImage,
  pullImage,
  pushImage,
  RegistryClient,
  sha256,
  versionTag,
  type BuiltImage,
} from '../../src/build/image/index.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';

const run = promisify(execFile);
const SKOPEO = '/usr/bin/skopeo';

let registry: RegistryHandle;
let client: RegistryClient;
let tmp: string;
let tree: string;
let image: BuiltImage;

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

beforeAll(async () => {
  registry = await startRegistry();
  client = new RegistryClient({ url: registry.url, requestTimeoutMs: 5_000 });
  tmp = await mkdtemp(join(tmpdir(), 'jetsaga-image-int-'));
  tree = join(tmp, 'tree');
  await mkdir(join(tree, 'lib'), { recursive: true });
  await writeFile(join(tree, 'server.js'), 'require("http").createServer().listen(process.env.PORT)\n');
  await writeFile(join(tree, 'start.sh'), '#!/bin/sh\nexec node server.js\n', { mode: 0o755 });
  await writeFile(join(tree, 'lib', 'data.bin'), Buffer.alloc(2 << 20, 3));
  await symlink('lib/data.bin', join(tree, 'data'));
  image = await buildImage({
    root: tree,
    workDir: join(tmp, 'work'),
    compression: 'gzip',
    cmd: ['./start.sh'],
    env: { PORT: '8080', NODE_ENV: 'production' },
    labels: { 'org.jetsaga.saga': 'saga-1', 'org.jetsaga.source-digest': 'sha256:abc' },
  });
});

afterAll(async () => {
  await client?.close();
  await registry?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('push and pull against docker-registry', () => {
  it('pushes an image whose manifest, config and layer come back with their digests', async () => {
    const pushed = await pushImage(client, image, appRepository('x'), { tag: versionTag(1) });
    expect(pushed).toEqual({
      repository: 'apps/x',
      tag: 'v1',
      digest: image.manifestDigest,
      reference: `127.0.0.1:${registry.port}/apps/x@${image.manifestDigest}`,
      uploaded: 2,
      skipped: 0,
      mounted: 0,
    });
    await client.ping();
    expect(await client.headManifest('apps/x', 'v1')).toBe(image.manifestDigest);
    const manifest = await client.getManifest('apps/x', 'v1');
    expect(manifest.digest).toBe(image.manifestDigest);
    expect(manifest.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    const doc = JSON.parse(Buffer.from(manifest.bytes).toString());
    expect(doc.config.digest).toBe(image.configDigest);
    expect(doc.layers.map((l: { digest: string }) => l.digest)).toEqual([image.layers[0]!.digest]);
    const config = await readAll(await client.openBlob('apps/x', image.configDigest));
    expect(sha256(config)).toBe(image.configDigest);
    const layer = await readAll(await client.openBlob('apps/x', image.layers[0]!.digest));
    expect(sha256(layer)).toBe(image.layers[0]!.digest);
    expect(await client.blobExists('apps/x', image.layers[0]!.digest)).toBe(true);
    expect(await client.blobExists('apps/x', sha256(Buffer.from('nope')))).toBe(false);
    expect(await client.headManifest('apps/x', 'v404')).toBeUndefined();
  });

  it.skipIf(!existsSync(SKOPEO))('skopeo sees the digest, Env, Cmd, WorkingDir and Labels', async () => {
    const ref = `docker://127.0.0.1:${registry.port}/apps/x:v1`;
    const { stdout } = await run(SKOPEO, ['inspect', '--tls-verify=false', ref]);
    const info = JSON.parse(stdout);
    expect(info.Digest).toBe(image.manifestDigest);
    expect(info.Labels).toEqual({ 'org.jetsaga.saga': 'saga-1', 'org.jetsaga.source-digest': 'sha256:abc' });
    expect(info.Env).toEqual(['NODE_ENV=production', 'PORT=8080']);
    expect(info.Created).toBe('1970-01-01T00:00:00Z');
    const { stdout: cfg } = await run(SKOPEO, ['inspect', '--tls-verify=false', '--config', ref]);
    const config = JSON.parse(cfg);
    expect(config.config.Cmd).toEqual(['./start.sh']);
    expect(config.config.WorkingDir).toBe('/app');
  });

  it('a re-push uploads nothing; a new tag of the same image uploads nothing either', async () => {
    const again = await pushImage(client, image, 'apps/x', { tag: 'v1' });
    expect(again.uploaded).toBe(0);
    expect(again.skipped).toBe(2);
    const retag = await pushImage(client, image, 'apps/x', { tag: 'v2' });
    expect(retag.uploaded).toBe(0);
    expect(await client.headManifest('apps/x', 'v2')).toBe(image.manifestDigest);
    const byDigest = await pushImage(client, image, 'apps/y');
    expect(byDigest.tag).toBeUndefined();
    expect(byDigest.uploaded).toBe(2);
    expect(await client.headManifest('apps/y', image.manifestDigest)).toBe(image.manifestDigest);
  });

  it('pulls by digest into a dir that reproduces the tree: contents, symlink, exec bit', async () => {
    const dest = join(tmp, 'pulled');
    const pulled = await pullImage(client, 'apps/x', image.manifestDigest, dest);
    expect(pulled.digest).toBe(image.manifestDigest);
    expect(pulled.rootfs).toBe(dest);
    expect(pulled.config).toMatchObject({ Cmd: ['./start.sh'], WorkingDir: '/app', Env: ['NODE_ENV=production', 'PORT=8080'] });
    const app = join(dest, 'app');
    expect(await readFile(join(app, 'server.js'), 'utf8')).toBe(await readFile(join(tree, 'server.js'), 'utf8'));
    expect((await readFile(join(app, 'lib', 'data.bin'))).equals(await readFile(join(tree, 'lib', 'data.bin')))).toBe(true);
    expect(await readlink(join(app, 'data'))).toBe('lib/data.bin');
    expect((await lstat(join(app, 'start.sh'))).mode & 0o777).toBe(0o755);
    expect((await lstat(join(app, 'server.js'))).mode & 0o777).toBe(0o644);
  });

  it('an uncompressed image pushes and pulls too', async () => {
    const plain = await buildImage({ root: tree, workDir: join(tmp, 'work-plain'), compression: 'none', cmd: ['./start.sh'] });
    await pushImage(client, plain, 'apps/plain', { tag: 'v1' });
    const dest = join(tmp, 'pulled-plain');
    await pullImage(client, 'apps/plain', plain.manifestDigest, dest);
    expect(await readlink(join(dest, 'app', 'data'))).toBe('lib/data.bin');
  });

  /** Pushes an image of its own tree (so no other test shares its layer) and returns its layer's data file in the registry. */
  async function pushVictim(name: string, compression: 'gzip' | 'none'): Promise<{ victim: BuiltImage; blobData: string }> {
    const root = join(tmp, `tree-${name}`);
    await mkdir(root);
    await writeFile(join(root, 'victim.txt'), `${name}\n`.repeat(20_000));
    const victim = await buildImage({ root, workDir: join(tmp, `work-${name}`), compression });
    await pushImage(client, victim, `apps/${name}`, { tag: 'v1' });
    const hex = victim.layers[0]!.digest.slice('sha256:'.length);
    const blobData = join(registry.dataDir, 'registry', 'data', 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
    expect(existsSync(blobData)).toBe(true);
    return { victim, blobData };
  }

  it('a tampered layer blob (same size, other file bytes) fails the pull with IMAGE_CORRUPT and leaves no dest behind', async () => {
    const { victim, blobData } = await pushVictim('tampered', 'none');
    const bytes = await readFile(blobData);
    // Inside victim.txt's data (after the header blocks): still a valid tar, other content.
    bytes[2048] = bytes[2048] === 0x41 ? 0x42 : 0x41;
    await writeFile(blobData, bytes);
    const dest = join(tmp, 'pulled-tampered');
    const err = await pullImage(client, 'apps/tampered', victim.manifestDigest, dest).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'IMAGE_CORRUPT', retryable: false });
    expect(String((err as Error).message)).toContain(`expected digest ${victim.layers[0]!.digest}`);
    expect(existsSync(dest)).toBe(false);
  });

  it('a damaged gzip layer (one byte flipped) fails the pull and leaves no dest behind', async () => {
    const { victim, blobData } = await pushVictim('damaged', 'gzip');
    const bytes = await readFile(blobData);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    await writeFile(blobData, bytes);
    const dest = join(tmp, 'pulled-damaged');
    await expect(pullImage(client, 'apps/damaged', victim.manifestDigest, dest)).rejects.toThrow();
    expect(existsSync(dest)).toBe(false);
  });

  it('a truncated layer blob fails the pull with REGISTRY_UNAVAILABLE (the registry cuts the body short) and leaves no dest behind', async () => {
    const { victim, blobData } = await pushVictim('truncated', 'gzip');
    const bytes = await readFile(blobData);
    await writeFile(blobData, bytes.subarray(0, bytes.length - 100));
    const dest = join(tmp, 'pulled-truncated');
    await expect(pullImage(client, 'apps/truncated', victim.manifestDigest, dest)).rejects.toMatchObject({ code: 'REGISTRY_UNAVAILABLE' });
    expect(existsSync(dest)).toBe(false);
  });

  it('an unknown digest fails the pull with REGISTRY_REJECTED (404) and leaves no dest behind', async () => {
    const dest = join(tmp, 'pulled-unknown');
    const missing = sha256(Buffer.from('no such manifest'));
    const err = await pullImage(client, 'apps/x', missing, dest).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'REGISTRY_REJECTED', status: 404 });
    expect((err as Error).message).toContain(`GET ${registry.url}/v2/apps/x/manifests/${missing}`);
    expect(existsSync(dest)).toBe(false);
  });

  it('deleteManifest deletes once and is idempotent', async () => {
    expect(await client.deleteManifest('apps/y', image.manifestDigest)).toBe(true);
    expect(await client.deleteManifest('apps/y', image.manifestDigest)).toBe(false);
    expect(await client.headManifest('apps/y', image.manifestDigest)).toBeUndefined();
  });

  it('pushes and pulls through a NameMap: cluster.local → 127.0.0.1', async () => {
    const names = new NameMap();
    names.set('cluster.local', '127.0.0.1');
    const mapped = new RegistryClient({ url: `http://cluster.local:${registry.port}`, nameMap: names });
    try {
      expect(mapped.host).toBe(`cluster.local:${registry.port}`);
      const pushed = await pushImage(mapped, image, 'apps/mapped', { tag: 'v1' });
      expect(pushed.reference).toBe(`cluster.local:${registry.port}/apps/mapped@${image.manifestDigest}`);
      expect(pushed.uploaded).toBe(2);
      const dest = join(tmp, 'pulled-mapped');
      await pullImage(mapped, 'apps/mapped', image.manifestDigest, dest);
      expect(await readlink(join(dest, 'app', 'data'))).toBe('lib/data.bin');
    } finally {
      await mapped.close();
    }
  });

  it('with the registry killed, operations reject with REGISTRY_UNAVAILABLE; after a restart a push succeeds', async () => {
    const fresh = await buildImage({ root: tree, workDir: join(tmp, 'work-outage'), compression: 'gzip', cmd: ['outage'] });
    await registry.kill();
    const down = new RegistryClient({ url: registry.url, retryDelayMs: 20 });
    try {
      await expect(down.ping()).rejects.toMatchObject({ code: 'REGISTRY_UNAVAILABLE', retryable: true });
      const err = await pushImage(down, fresh, 'apps/outage', { tag: 'v1' }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'REGISTRY_UNAVAILABLE', retryable: true });
      expect((err as Error).message).toContain(`HEAD ${registry.url}/v2/apps/outage/blobs/`);
      await expect(client.headManifest('apps/x', 'v1')).rejects.toMatchObject({ code: 'REGISTRY_UNAVAILABLE' });
      await registry.restart();
      const pushed = await pushImage(down, fresh, 'apps/outage', { tag: 'v1' });
      expect(pushed.digest).toBe(fresh.manifestDigest);
      expect(await client.headManifest('apps/outage', 'v1')).toBe(fresh.manifestDigest);
    } finally {
      await down.close();
    }
  });

  it('an abort rejects with the signal reason, not a registry error', async () => {
    const ac = new AbortController();
    ac.abort(new Error('caller gave up'));
    await expect(client.ping(ac.signal)).rejects.toThrow('caller gave up');
    await expect(pushImage(client, image, 'apps/x', { tag: 'v1', signal: ac.signal })).rejects.toThrow('caller gave up');
  });
});
