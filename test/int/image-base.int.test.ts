import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildImage,
  MANIFEST_FILE,
  MediaType,
  pullImage,
  pushImage,
  readBuiltImage,
  RegistryClient,
  type BuildImageOptions,
  type BuiltImage,
} from '../../src/build/image/index.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';

const run = promisify(execFile);
const SKOPEO = '/usr/bin/skopeo';

let registry: RegistryHandle;
let client: RegistryClient;
let tmp: string;
let appTree: string;
let base: BuiltImage;
let app: BuiltImage;

const appOpts = (workDir: string, reference: string, extra: Partial<BuildImageOptions> = {}): BuildImageOptions => ({
  root: appTree,
  workDir: join(tmp, workDir),
  compression: 'gzip',
  cmd: ['./start.sh'],
  env: { PORT: '8080' },
  workingDir: '/app',
  labels: { 'org.jetsaga.app': 'x' },
  base: { repository: 'library/base', reference, client },
  ...extra,
});

/** Builds an image of a one-file tree under /<layerDir> and pushes it as repo:tag. */
async function pushSmall(name: string, repo: string, tag: string, extra: Partial<BuildImageOptions> = {}): Promise<BuiltImage> {
  const root = join(tmp, `tree-${name}`);
  await mkdir(root, { recursive: true });
  await writeFile(join(root, `${name}-release`), `${name} 1.0\n`);
  const image = await buildImage({ root, workDir: join(tmp, `work-${name}`), compression: 'gzip', layerDir: 'etc', ...extra });
  await pushImage(client, image, repo, { tag });
  return image;
}

async function putManifest(repo: string, tag: string, doc: object, mediaType: string): Promise<{ digest: string; size: number }> {
  const bytes = Buffer.from(JSON.stringify(doc));
  const digest = await client.putManifest(repo, tag, bytes, mediaType);
  return { digest, size: bytes.length };
}

beforeAll(async () => {
  registry = await startRegistry();
  client = new RegistryClient({ url: registry.url, requestTimeoutMs: 5_000 });
  tmp = await mkdtemp(join(tmpdir(), 'jetsaga-image-base-'));
  base = await pushSmall('base', 'library/base', '1', {
    env: { PATH: '/usr/bin', LANG: 'C.UTF-8' },
    cmd: ['/bin/sh'],
    workingDir: '/',
    labels: { 'org.opencontainers.image.title': 'base' },
  });
  appTree = join(tmp, 'app');
  await mkdir(appTree);
  await writeFile(join(appTree, 'server.js'), 'console.log("app")\n');
  await writeFile(join(appTree, 'start.sh'), '#!/bin/sh\nexec node server.js\n', { mode: 0o755 });
  app = await buildImage(appOpts('work-app', '1'));
});

afterAll(async () => {
  await client?.close();
  await registry?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('images on a base image in the same registry', () => {
  it('the built image lists the base and its layer, then the annotated app layer; readBuiltImage accepts it', async () => {
    expect(app.base).toEqual({
      repository: 'library/base',
      digest: base.manifestDigest,
      layers: [{ digest: base.layers[0]!.digest, diffId: base.layers[0]!.diffId, size: base.layers[0]!.size, mediaType: MediaType.LayerGzip }],
    });
    expect(app.layers).toHaveLength(1);
    const manifest = JSON.parse(await readFile(join(app.workDir, MANIFEST_FILE), 'utf8'));
    // The base's own app annotation is dropped: in this image its layer is the base.
    expect(manifest.layers).toEqual([
      { mediaType: MediaType.LayerGzip, digest: base.layers[0]!.digest, size: base.layers[0]!.size },
      { mediaType: MediaType.LayerGzip, digest: app.layers[0]!.digest, size: app.layers[0]!.size, annotations: { 'org.jetsaga.layer': 'app' } },
    ]);
    expect(manifest.annotations).toEqual({ 'org.opencontainers.image.base.digest': base.manifestDigest });
    expect(await readBuiltImage(app.workDir)).toEqual(app);
  });

  it('the push mounts the base layer (nothing of the base uploaded), and a re-push moves nothing', async () => {
    const pushed = await pushImage(client, app, 'apps/x', { tag: 'v1' });
    expect(pushed).toMatchObject({ digest: app.manifestDigest, uploaded: 2, mounted: 1, skipped: 0 });
    expect(await client.blobExists('apps/x', base.layers[0]!.digest)).toBe(true);
    const again = await pushImage(client, app, 'apps/x', { tag: 'v1' });
    expect(again).toMatchObject({ uploaded: 0, mounted: 0, skipped: 3 });
  });

  it.skipIf(!existsSync(SKOPEO))('skopeo sees 2 layers, the merged Env, our Cmd, WorkingDir and Labels, amd64/linux', async () => {
    const ref = `docker://127.0.0.1:${registry.port}/apps/x:v1`;
    const info = JSON.parse((await run(SKOPEO, ['inspect', '--tls-verify=false', ref])).stdout);
    expect(info.Digest).toBe(app.manifestDigest);
    expect(info.Layers).toEqual([base.layers[0]!.digest, app.layers[0]!.digest]);
    expect(info.Env).toEqual(['LANG=C.UTF-8', 'PATH=/usr/bin', 'PORT=8080']);
    expect(info.Labels).toEqual({ 'org.jetsaga.app': 'x' });
    expect(info.Architecture).toBe('amd64');
    expect(info.Os).toBe('linux');
    const config = JSON.parse((await run(SKOPEO, ['inspect', '--tls-verify=false', '--config', ref])).stdout);
    expect(config.config.Cmd).toEqual(['./start.sh']);
    expect(config.config.WorkingDir).toBe('/app');
    expect(config.rootfs.diff_ids).toEqual([base.layers[0]!.diffId, app.layers[0]!.diffId]);
    expect(config.history.map((h: { created_by: string }) => h.created_by)).toEqual(['jetsaga: COPY . /etc', 'jetsaga: COPY . /app']);
    expect(config.created).toBe('1970-01-01T00:00:00Z');
  });

  it("pulls both trees with layers 'all' and only /app with layers 'app'", async () => {
    const all = join(tmp, 'pulled-all');
    const pulled = await pullImage(client, 'apps/x', app.manifestDigest, all, { layers: 'all' });
    expect(pulled.config).toMatchObject({ Cmd: ['./start.sh'], Env: ['LANG=C.UTF-8', 'PATH=/usr/bin', 'PORT=8080'] });
    expect((await readdir(all)).sort()).toEqual(['app', 'etc']);
    expect(await readFile(join(all, 'etc', 'base-release'), 'utf8')).toBe('base 1.0\n');
    expect(await readFile(join(all, 'app', 'server.js'), 'utf8')).toBe('console.log("app")\n');

    const only = join(tmp, 'pulled-app');
    const appOnly = await pullImage(client, 'apps/x', app.manifestDigest, only, { layers: 'app' });
    expect(appOnly.config.Cmd).toEqual(['./start.sh']);
    expect(await readdir(only)).toEqual(['app']);
    expect((await readdir(join(only, 'app'))).sort()).toEqual(['server.js', 'start.sh']);

    // The default is every layer.
    const byDefault = join(tmp, 'pulled-default');
    await pullImage(client, 'apps/x', app.manifestDigest, byDefault);
    expect((await readdir(byDefault)).sort()).toEqual(['app', 'etc']);
  });

  it("an image without a base is its app layer: layers 'app' pulls it whole", async () => {
    const only = join(tmp, 'pulled-base-app');
    await pullImage(client, 'library/base', base.manifestDigest, only, { layers: 'app' });
    expect(await readdir(only)).toEqual(['etc']);
  });

  it('same base and same tree give the same digest, whether the base is named by tag or by digest', async () => {
    const twice = await buildImage(appOpts('work-app-2', '1'));
    expect(twice.manifestDigest).toBe(app.manifestDigest);
    const byDigest = await buildImage(appOpts('work-app-digest', base.manifestDigest));
    expect(byDigest.manifestDigest).toBe(app.manifestDigest);
    expect(byDigest.base?.digest).toBe(base.manifestDigest);
    const pushed = await pushImage(client, byDigest, 'apps/bydigest', { tag: 'v1' });
    expect(pushed).toMatchObject({ digest: app.manifestDigest, uploaded: 2, mounted: 1 });
  });

  it('an unknown base tag fails the build with REGISTRY_REJECTED naming it, and leaves no complete image', async () => {
    const err = await buildImage(appOpts('work-unknown', 'nope')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'REGISTRY_REJECTED', status: 404, retryable: false });
    expect((err as Error).message).toContain('base image library/base:nope not found');
    expect(await readBuiltImage(join(tmp, 'work-unknown'))).toBeUndefined();
  });

  it('an OCI index is resolved to its linux/amd64 image', async () => {
    const arm = await pushSmall('arm', 'library/base', 'arm', { env: { PATH: '/arm' } });
    const index = {
      schemaVersion: 2,
      mediaType: MediaType.Index,
      manifests: [
        { mediaType: MediaType.Manifest, digest: arm.manifestDigest, size: arm.manifestSize, platform: { architecture: 'arm64', os: 'linux' } },
        { mediaType: MediaType.Manifest, digest: base.manifestDigest, size: base.manifestSize, platform: { architecture: 'amd64', os: 'linux' } },
      ],
    };
    await putManifest('library/base', 'multi', index, MediaType.Index);
    expect((await client.getManifest('library/base', 'multi')).mediaType).toBe(MediaType.Index);
    const onIndex = await buildImage(appOpts('work-index', 'multi'));
    expect(onIndex.base?.digest).toBe(base.manifestDigest);
    expect(onIndex.manifestDigest).toBe(app.manifestDigest);

    await putManifest('library/base', 'armonly', { ...index, manifests: [index.manifests[0]] }, MediaType.Index);
    const err = await buildImage(appOpts('work-armonly', 'armonly')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((err as Error).message).toContain('base image library/base:armonly is an index with no linux/amd64 image (it has: linux/arm64)');
  });

  it('a Docker v2 base keeps its Docker layer media type, and the registry, skopeo and the pull accept the image', async () => {
    const docker = {
      schemaVersion: 2,
      mediaType: MediaType.DockerManifest,
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: base.configDigest, size: base.configSize },
      layers: [{ mediaType: MediaType.DockerLayerGzip, digest: base.layers[0]!.digest, size: base.layers[0]!.size }],
    };
    const stored = await putManifest('library/base', 'docker', docker, MediaType.DockerManifest);
    const onDocker = await buildImage(appOpts('work-docker', 'docker'));
    expect(onDocker.base?.digest).toBe(stored.digest);
    expect(onDocker.base?.layers.map((l) => l.mediaType)).toEqual([MediaType.DockerLayerGzip]);
    const pushed = await pushImage(client, onDocker, 'apps/dock', { tag: 'v1' });
    expect(pushed).toMatchObject({ uploaded: 2, mounted: 1 });
    const dest = join(tmp, 'pulled-docker');
    await pullImage(client, 'apps/dock', onDocker.manifestDigest, dest);
    expect((await readdir(dest)).sort()).toEqual(['app', 'etc']);
    if (existsSync(SKOPEO)) {
      const info = JSON.parse((await run(SKOPEO, ['inspect', '--tls-verify=false', `docker://127.0.0.1:${registry.port}/apps/dock:v1`])).stdout);
      expect(info.Layers).toHaveLength(2);
    }
  });

  it('a base layer the registry no longer has fails the push with REGISTRY_REJECTED; the started upload is cancelled', async () => {
    const gone = await pushSmall('gone', 'library/gone', '1');
    const onGone = await buildImage(appOpts('work-gone', '1', { base: { repository: 'library/gone', reference: '1', client } }));
    const res = await request(`${registry.url}/v2/library/gone/blobs/${gone.layers[0]!.digest}`, { method: 'DELETE' });
    await res.body.dump();
    expect(res.statusCode).toBe(202);
    expect(await client.mountBlob('apps/elsewhere', gone.layers[0]!.digest, 'library/gone')).toBe(false);
    // The upload the registry started instead of the mount was cancelled: distribution keeps
    // only the session's hash state, without its startedat and data files.
    const uploads = join(registry.dataDir, 'registry', 'data', 'docker', 'registry', 'v2', 'repositories', 'apps', 'elsewhere', '_uploads');
    const sessions = await readdir(uploads);
    expect(sessions).toHaveLength(1);
    expect(await readdir(join(uploads, sessions[0]!))).toEqual(['hashstates']);
    const err = await pushImage(client, onGone, 'apps/gone', { tag: 'v1' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'REGISTRY_REJECTED', retryable: false });
    expect((err as Error).message).toContain(`base layer ${gone.layers[0]!.digest} of library/gone@${gone.manifestDigest} is not in the registry`);
  });

  it('mountBlob mounts a blob another repository holds (201 → true)', async () => {
    expect(await client.blobExists('apps/mounted', base.configDigest)).toBe(false);
    expect(await client.mountBlob('apps/mounted', base.configDigest, 'library/base')).toBe(true);
    expect(await client.blobExists('apps/mounted', base.configDigest)).toBe(true);
  });
});
