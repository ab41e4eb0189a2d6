import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildImage,
  imageConfigJson,
  imageManifestJson,
  MANIFEST_FILE,
  MediaType,
  mergeEnv,
  pickPlatform,
  readBuiltImage,
  RegistryClient,
  resolveBaseImage,
  sha256,
} from '../../src/build/image/index.js';
import { freePort } from '../helpers/nats-server.js';

const d = (s: string): string => sha256(Buffer.from(s));

const baseConfig = {
  architecture: 'amd64',
  os: 'linux',
  variant: 'v1',
  created: '2024-05-01T12:00:00Z',
  author: 'someone',
  config: { Env: ['PATH=/usr/bin', 'LANG=C', 'TZ=UTC'], Cmd: ['/bin/sh'], WorkingDir: '/', Labels: { from: 'base' }, User: '1000', ExposedPorts: { '80/tcp': {} } },
  rootfs: { type: 'layers', diff_ids: [d('b1'), d('b2')] },
  history: [{ created: '2024-05-01T12:00:00Z', created_by: 'ADD rootfs' }, { created_by: 'ENV x', empty_layer: true }, { created_by: 'RUN y' }],
};

describe('config on a base image', () => {
  it('appends diffIDs and history, merges Env, keeps the base settings we do not give, fixes created', () => {
    const config = JSON.parse(imageConfigJson({ env: { LANG: 'C.UTF-8', PORT: '80', A: '1' } }, [d('app')], { base: baseConfig }));
    expect(config).toEqual({
      architecture: 'amd64',
      os: 'linux',
      variant: 'v1',
      author: 'someone',
      created: '1970-01-01T00:00:00Z',
      config: {
        Env: ['PATH=/usr/bin', 'LANG=C.UTF-8', 'TZ=UTC', 'A=1', 'PORT=80'],
        Cmd: ['/bin/sh'],
        WorkingDir: '/',
        Labels: { from: 'base' },
        User: '1000',
        ExposedPorts: { '80/tcp': {} },
      },
      rootfs: { type: 'layers', diff_ids: [d('b1'), d('b2'), d('app')] },
      history: [...baseConfig.history, { created: '1970-01-01T00:00:00Z', created_by: 'jetsaga: COPY . /app' }],
    });
  });

  it('our Cmd, WorkingDir and Labels replace the base ones; an Entrypoint of ours drops the base Cmd', () => {
    const ours = JSON.parse(imageConfigJson({ cmd: ['node', 's.js'], workingDir: '/app', labels: { app: 'x' } }, [d('app')], { base: baseConfig })).config;
    expect(ours).toMatchObject({ Cmd: ['node', 's.js'], WorkingDir: '/app', Labels: { app: 'x' } });
    const entry = JSON.parse(imageConfigJson({ entrypoint: ['/init'] }, [d('app')], { base: baseConfig })).config;
    expect(entry.Entrypoint).toEqual(['/init']);
    expect(entry.Cmd).toBeUndefined();
  });

  it('is canonical and a pure function of the base config and ours', () => {
    const a = imageConfigJson({ env: { B: '2', A: '1' } }, [d('app')], { base: baseConfig });
    const b = imageConfigJson({ env: { A: '1', B: '2' } }, [d('app')], { base: JSON.parse(JSON.stringify(baseConfig)) });
    expect(a).toBe(b);
  });

  it('a base without config, Env or history still gives a valid config', () => {
    const config = JSON.parse(imageConfigJson({}, [d('app')], { base: { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [d('b1')] }, config: null } }));
    expect(config.config).toEqual({});
    expect(config.rootfs.diff_ids).toEqual([d('b1'), d('app')]);
    expect(config.history).toHaveLength(1);
  });

  it('mergeEnv: base lines keep their order, ours win per name, new names follow sorted', () => {
    expect(mergeEnv(['Z=1', 'A=2', 'NOVALUE'], { A: 'x', C: '3', B: '4' })).toEqual(['Z=1', 'A=x', 'NOVALUE', 'B=4', 'C=3']);
    expect(mergeEnv([], {})).toEqual([]);
  });

  it('manifest annotations: per descriptor and on the manifest, left out when empty', () => {
    const m = JSON.parse(
      imageManifestJson(
        { mediaType: MediaType.Config, digest: d('c'), size: 1 },
        [
          { mediaType: MediaType.DockerLayerGzip, digest: d('b'), size: 2 },
          { mediaType: MediaType.LayerGzip, digest: d('a'), size: 3, annotations: { 'org.jetsaga.layer': 'app' } },
        ],
        { 'org.opencontainers.image.base.digest': d('m') },
      ),
    );
    expect(m.layers[0]).toEqual({ mediaType: MediaType.DockerLayerGzip, digest: d('b'), size: 2 });
    expect(m.layers[1].annotations).toEqual({ 'org.jetsaga.layer': 'app' });
    expect(m.annotations).toEqual({ 'org.opencontainers.image.base.digest': d('m') });
  });
});

describe('pickPlatform', () => {
  const entry = (digest: string, architecture: string, variant?: string) => ({
    mediaType: MediaType.Manifest,
    digest,
    size: 1,
    platform: { os: 'linux', architecture, ...(variant ? { variant } : {}) },
  });

  it('takes linux/amd64, preferring an entry without a variant', () => {
    expect(pickPlatform({ manifests: [entry(d('arm'), 'arm64'), entry(d('v3'), 'amd64', 'v3'), entry(d('amd'), 'amd64')] }, 'b:1').digest).toBe(d('amd'));
    expect(pickPlatform({ manifests: [entry(d('v3'), 'amd64', 'v3')] }, 'b:1').digest).toBe(d('v3'));
  });

  it('an index without linux/amd64 is INVALID_ARGUMENT naming the base and what it has', () => {
    expect(() => pickPlatform({ manifests: [entry(d('arm'), 'arm64'), { digest: d('att'), platform: { os: 'unknown', architecture: 'unknown' } }] }, 'library/node:20')).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT', message: 'base image library/node:20 is an index with no linux/amd64 image (it has: linux/arm64, unknown/unknown)' }),
    );
    expect(() => pickPlatform({}, 'x:1')).toThrow('(it has: none)');
  });
});

/** A client stand-in serving fixed manifests and blobs (for cases a real registry will not store). */
function fakeClient(manifests: Record<string, { mediaType: string; doc: object }>, blobs: Record<string, Buffer> = {}): RegistryClient {
  return {
    host: 'reg:5000',
    async getManifest(_repo: string, ref: string) {
      const m = manifests[ref];
      if (!m) throw new Error(`no manifest ${ref}`);
      const bytes = Buffer.from(JSON.stringify(m.doc));
      return { digest: sha256(bytes), mediaType: m.mediaType, bytes };
    },
    async openBlob(_repo: string, digest: string) {
      return Readable.from([blobs[digest] ?? Buffer.from('{}')]);
    },
  } as unknown as RegistryClient;
}

describe('resolveBaseImage', () => {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [d('t1')] } }));
  const layer = { mediaType: MediaType.DockerLayerGzip, digest: d('l1'), size: 5, annotations: { 'org.jetsaga.layer': 'app', keep: 'me' } };
  const manifest = { schemaVersion: 2, mediaType: MediaType.DockerManifest, config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: sha256(config), size: config.length }, layers: [layer] };

  it('reads a Docker v2 manifest: layer media types as they are, our own layer annotation dropped', async () => {
    const client = fakeClient({ '1': { mediaType: MediaType.DockerManifest, doc: manifest } }, { [sha256(config)]: config });
    const base = await resolveBaseImage({ repository: 'library/b', reference: '1', client });
    expect(base.layers).toEqual([{ mediaType: MediaType.DockerLayerGzip, digest: d('l1'), size: 5, diffId: d('t1'), annotations: { keep: 'me' } }]);
    expect(base.digest).toBe(sha256(Buffer.from(JSON.stringify(manifest))));
  });

  it('any other manifest kind is INVALID_ARGUMENT naming the base', async () => {
    const client = fakeClient({ '1': { mediaType: 'application/vnd.docker.distribution.manifest.v1+prettyjws', doc: { schemaVersion: 1 } } });
    await expect(resolveBaseImage({ repository: 'library/old', reference: '1', client })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('base image library/old:1 is a application/vnd.docker.distribution.manifest.v1+prettyjws'),
    });
  });

  it('a config that does not match its digest is IMAGE_CORRUPT; diffIDs that do not match the layers are INVALID_ARGUMENT', async () => {
    const tampered = fakeClient({ '1': { mediaType: MediaType.DockerManifest, doc: manifest } }, { [sha256(config)]: Buffer.from('{"x":1}') });
    await expect(resolveBaseImage({ repository: 'library/b', reference: '1', client: tampered })).rejects.toMatchObject({ code: 'IMAGE_CORRUPT' });
    const two = { ...manifest, layers: [layer, { ...layer, digest: d('l2') }] };
    const mismatch = fakeClient({ '1': { mediaType: MediaType.DockerManifest, doc: two } }, { [sha256(config)]: config });
    await expect(resolveBaseImage({ repository: 'library/b', reference: '1', client: mismatch })).rejects.toThrow('base image library/b:1: 2 layers in the manifest but 1 diffIDs in the config');
  });
});

describe('buildImage and the app layer', () => {
  let tmp: string;
  let tree: string;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'jetsaga-image-base-unit-'));
    tree = join(tmp, 'tree');
    await mkdir(tree);
    await writeFile(join(tree, 'a.txt'), 'a');
  });
  afterAll(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('annotates the app layer even without a base, and records no base', async () => {
    const image = await buildImage({ root: tree, workDir: join(tmp, 'w'), compression: 'none' });
    const manifest = JSON.parse(await readFile(join(image.workDir, MANIFEST_FILE), 'utf8'));
    expect(manifest.layers[0].annotations).toEqual({ 'org.jetsaga.layer': 'app' });
    expect(manifest.annotations).toBeUndefined();
    expect(image.base).toBeUndefined();
  });

  it('layerDir puts the tree elsewhere (and says so in the history); it must be one path component', async () => {
    const image = await buildImage({ root: tree, workDir: join(tmp, 'etc'), compression: 'none', layerDir: 'etc' });
    const config = JSON.parse(await readFile(join(image.workDir, 'config.json'), 'utf8'));
    expect(config.history[0].created_by).toBe('jetsaga: COPY . /etc');
    const tar = await readFile(join(image.workDir, image.layers[0]!.file));
    expect(tar.subarray(0, 4).toString()).toBe('etc/');
    for (const bad of ['', '..', 'a/b', '/etc']) {
      await expect(buildImage({ root: tree, workDir: join(tmp, 'bad'), compression: 'none', layerDir: bad })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
  });

  it('a registry that cannot be reached while the base is read fails the build with REGISTRY_UNAVAILABLE, no image left', async () => {
    const client = new RegistryClient({ url: `http://127.0.0.1:${await freePort()}`, attempts: 1 });
    try {
      const workDir = join(tmp, 'down');
      const err = await buildImage({ root: tree, workDir, compression: 'gzip', base: { repository: 'library/base', reference: '1', client } }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'REGISTRY_UNAVAILABLE', retryable: true });
      expect(await readBuiltImage(workDir)).toBeUndefined();
    } finally {
      await client.close();
    }
  });
});
