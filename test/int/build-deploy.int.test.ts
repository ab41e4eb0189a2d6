/**
 * The build saga end to end, in process: each sample deploys from its directory (packed into
 * a real tar, stored in the JetStream object store), is built into an OCI image in a real
 * docker-registry, pulled by digest into a sandbox and answers HTTP; the registry holds what
 * the version records; a failure after any step rolls back cleanly while the previous version
 * keeps serving; a second deploy of the same app is refused naming the holder.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appRepository, buildImage, pushImage, RegistryClient } from '../../src/build/image/index.js';
import type { ProgressRecord } from '../../src/build/progress.js';
import { tarOf } from '../fixtures/tars/tar-builder.js';
import { askApp, startBuildWorld, type BuildWorld } from '../helpers/build-world.js';
import { freePort, startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { until } from '../helpers/until.js';

const EXAMPLES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples');
const SKOPEO = '/usr/bin/skopeo';

let server: NatsServerHandle;
let registry: RegistryHandle;
let world: BuildWorld;
let client: RegistryClient;

beforeAll(async () => {
  [server, registry] = await Promise.all([startNatsServer(), startRegistry()]);
  world = await startBuildWorld(server.url, registry.port);
  client = new RegistryClient({ url: registry.url });
}, 120_000);
afterAll(async () => {
  await client?.close();
  await world?.stop();
  await Promise.all([server?.stop(), registry?.stop()]);
});

async function progressOf(id: string): Promise<ProgressRecord[]> {
  const out: ProgressRecord[] = [];
  // Followed to the result: progress is written just after each transition, so it may trail the saga's status.
  for await (const r of world.coordinator.builds.progress.read(id, { follow: true, signal: AbortSignal.timeout(60_000) })) out.push(r);
  return out;
}

describe('deploying the samples', () => {
  const samples = [
    { app: 'node-hello', dir: 'node-hello', path: '/', expect: /hello from jetsaga/ },
    { app: 'python-hello', dir: 'python-hello', path: '/', expect: /python-hello/ },
    { app: 'static-site', dir: 'static-site', path: '/', expect: /<html/i },
  ];
  for (const s of samples) {
    it(`${s.app}: builds, pushes, runs and answers HTTP`, async () => {
      const { id, info } = await world.deploy({ app: s.app, dir: join(EXAMPLES, s.dir) });
      expect(info.status, JSON.stringify(info)).toBe('completed');
      const version = await world.coordinator.builds.entities.versions.get(s.app, 1);
      expect(version?.status).toBe('active');
      const app = await world.coordinator.builds.entities.apps.get(s.app);
      expect(app?.activeVersion).toBe(1);
      const answer = await askApp(world, s.app, 1, s.path);
      expect(answer.status).toBe(200);
      expect(answer.body).toMatch(s.expect);

      // The registry holds what the version records: manifest, config and layer by digest.
      const repo = appRepository(s.app);
      const manifest = await client.getManifest(repo, version!.image!.digest);
      expect(manifest.digest).toBe(version!.image!.digest);
      const parsed = JSON.parse(Buffer.from(manifest.bytes).toString('utf8')) as { config: { digest: string }; layers: Array<{ digest: string }> };
      expect(await client.blobExists(repo, parsed.config.digest)).toBe(true);
      for (const layer of parsed.layers) expect(await client.blobExists(repo, layer.digest)).toBe(true);
      expect(await client.headManifest(repo, 'v1')).toBe(version!.image!.digest);
      if (existsSync(SKOPEO)) {
        const { stdout } = await promisify(execFile)(SKOPEO, ['inspect', '--tls-verify=false', `docker://127.0.0.1:${registry.port}/${repo}:v1`]);
        const inspected = JSON.parse(stdout) as { Digest: string; Labels: Record<string, string>; Layers: string[] };
        expect(inspected.Digest).toBe(version!.image!.digest);
        expect(inspected.Labels['org.jetsaga.saga']).toBe(id);
        expect(inspected.Layers).toEqual(parsed.layers.map((l) => l.digest));
      }

      // Progress: phases in order, the onbuild output of the node sample, the final result.
      const progress = await progressOf(id);
      expect(progress.at(-1)).toMatchObject({ kind: 'result', status: 'completed' });
      expect(progress.some((r) => r.kind === 'phase' && r.phase.includes('push'))).toBe(true);
      if (s.app === 'node-hello') expect(progress.some((r) => r.kind === 'log' && r.step === 'onbuild')).toBe(true);
      // Finalized: no lock, no staging.
      expect(await world.coordinator.builds.entities.locks.get(s.app)).toBeNull();
      expect(existsSync(join(world.coordinator.builds.staging.dirOf(id), '..'))).toBe(false);
    }, 240_000);
  }
});

describe('a new version replaces the old one', () => {
  it('redeploying activates v2, stops v1, and the same source gives the same layer', async () => {
    const first = await world.coordinator.builds.entities.versions.get('static-site', 1);
    const { info } = await world.deploy({ app: 'static-site', dir: join(EXAMPLES, 'static-site') });
    expect(info.status).toBe('completed');
    const [v1, v2] = await Promise.all([1, 2].map((v) => world.coordinator.builds.entities.versions.get('static-site', v)));
    expect(v1?.status).toBe('retired');
    expect(v2?.status).toBe('active');
    const sandboxes = await world.coordinator.builds.entities.sandboxes.list('static-site');
    expect(sandboxes.map((s) => s.version)).toEqual([2]);
    expect((await askApp(world, 'static-site', 2)).status).toBe(200);
    // Reproducible: the layer of unchanged source is byte-identical (the config differs by its saga label).
    const layersOf = async (digest: string): Promise<string[]> =>
      (JSON.parse(Buffer.from((await client.getManifest('apps/static-site', digest)).bytes).toString('utf8')) as { layers: Array<{ digest: string }> }).layers.map(
        (l) => l.digest,
      );
    expect(await layersOf(v2!.image!.digest)).toEqual(await layersOf(first!.image!.digest));
  }, 240_000);
});

describe('a failure after any step rolls back cleanly', () => {
  const steps = [
    'allocateVersion',
    'receiveSource',
    'takeDeployLock',
    'loadAppConfig',
    'detectStack',
    'runOnbuild',
    'buildImage',
    'pushImage',
    'readProcfile',
    'prepareConfig',
    'createConfigVersion',
    'createVersion',
    'startSandbox',
    'setActiveVersion',
    'stopOldSandboxes',
  ];
  let before: number;
  beforeAll(async () => {
    const app = await world.coordinator.builds.entities.apps.get('static-site');
    before = app!.activeVersion!;
  });
  for (const step of steps) {
    it(`after ${step}`, async () => {
      world.failAfter = step;
      let result: Awaited<ReturnType<BuildWorld['deploy']>>;
      try {
        result = await world.deploy({ app: 'static-site', dir: join(EXAMPLES, 'static-site') });
      } finally {
        world.failAfter = undefined;
      }
      const { id, info } = result;
      expect(info.status, JSON.stringify(info)).toBe('compensated');
      const e = world.coordinator.builds.entities;
      // The previous version is still the active one, and still serving.
      expect((await e.apps.get('static-site'))?.activeVersion).toBe(before);
      expect((await askApp(world, 'static-site', before)).status).toBe(200);
      // Nothing of the failed build is left: lock, staging, sandbox, config version, a live version.
      expect(await e.locks.get('static-site')).toBeNull();
      expect(existsSync(join(world.coordinator.builds.staging.dirOf(id), '..'))).toBe(false);
      const sandboxes = await e.sandboxes.list('static-site');
      expect(sandboxes.map((s) => s.version)).toEqual([before]);
      const mine = (await e.versions.list('static-site')).filter((v) => v.sagaId === id);
      for (const v of mine) {
        expect(v.status).toBe('abandoned');
        expect(await e.configs.get('static-site', v.version)).toBeNull();
        expect(await client.headManifest('apps/static-site', `v${v.version}`)).toBeUndefined();
      }
      expect(world.coordinator.builds.controller.list().filter((s) => s.id.startsWith('static-site-')).map((s) => s.id)).toEqual([`static-site-v${before}`]);
    }, 240_000);
  }
});

describe('the deployment lock', () => {
  it('a second deploy of the same app is refused naming the holder; another app deploys beside it', async () => {
    const hold = world.holdAt('runOnbuild');
    const first = world.deploy({ app: 'node-hello', dir: join(EXAMPLES, 'node-hello') });
    const holder = await hold.reached;
    try {
      const [refused, other] = await Promise.all([
        world.deploy({ app: 'node-hello', dir: join(EXAMPLES, 'node-hello') }),
        world.deploy({ app: 'python-hello', dir: join(EXAMPLES, 'python-hello') }),
      ]);
      expect(other.info.status).toBe('completed');
      expect(refused.info.status).toBe('compensated');
      const journal = JSON.stringify(await world.coordinator.runtime.events(refused.id));
      expect(journal).toContain('DEPLOY_LOCKED');
      expect(journal).toContain(holder);
    } finally {
      hold.release();
    }
    expect((await first).info.status).toBe('completed');
    expect(await world.coordinator.builds.entities.locks.get('node-hello')).toBeNull();
  }, 240_000);

  it('a deploy that waits for the lock runs once the holder is done', async () => {
    const hold = world.holdAt('detectStack');
    const first = world.deploy({ app: 'python-hello', dir: join(EXAMPLES, 'python-hello') });
    await hold.reached;
    const second = world.deploy({ app: 'python-hello', dir: join(EXAMPLES, 'python-hello'), waitForLock: true });
    // The second is queued on the lock, not refused.
    await new Promise((r) => setTimeout(r, 300));
    hold.release();
    const [a, b] = await Promise.all([first, second]);
    expect(a.info.status).toBe('completed');
    expect(b.info.status).toBe('completed');
    const active = (await world.coordinator.builds.entities.apps.get('python-hello'))?.activeVersion;
    const bVersion = (await world.coordinator.builds.entities.versions.list('python-hello')).find((v) => v.sagaId === b.id)?.version;
    expect(active).toBe(bVersion);
  }, 240_000);
});

describe('a stale deployment lock', () => {
  it('held by a finished build or an unknown saga, it is taken over, and the reconcile releases it', async () => {
    const e = world.coordinator.builds.entities;
    const finishedBuild = (await e.versions.list('static-site')).find((v) => v.status === 'active')!.sagaId;
    // A lock left behind by a build that finished (its release was lost), far from expiry.
    await e.locks.acquire('static-site', finishedBuild, { ttlMs: 3_600_000 });
    const { info } = await world.deploy({ app: 'static-site', dir: join(EXAMPLES, 'static-site') });
    expect(info.status).toBe('completed');
    expect(await e.locks.get('static-site')).toBeNull();

    // One whose holder never existed: the reconcile pass releases it without any deploy.
    await e.locks.acquire('node-hello', 'never-existed-build', { ttlMs: 3_600_000 });
    const report = await e.locks.reconcile();
    expect(report.released.map((r) => r.holder)).toContain('never-existed-build');
    expect(await e.locks.get('node-hello')).toBeNull();
  }, 240_000);
});

const file = (name: string, data: string) => ({ name, data });

describe('bad input fails the build with a clear error and leaves nothing behind', () => {
  it('a hostile tar: refused in receive naming the entry; nothing staged, no lock, no version live', async () => {
    const tar = tarOf([file('app.toml', 'name = "evil"\n'), file('../escape.txt', 'x')]);
    const { id, info } = await world.deploy({ app: 'evil', tar: Readable.from([tar]) });
    expect(info.status).toBe('compensated');
    const errors = (await progressOf(id)).filter((r) => r.kind === 'error');
    expect(errors).toEqual([expect.objectContaining({ step: 'receive', code: 'SOURCE_REJECTED' })]);
    expect(JSON.stringify(errors)).toContain('../escape.txt');
    expect(existsSync(join(world.coordinator.builds.staging.dirOf(id), '..'))).toBe(false);
    expect(existsSync(join(world.dataDir, 'staging', 'escape.txt'))).toBe(false);
    expect(await world.coordinator.builds.entities.locks.get('evil')).toBeNull();
    expect((await world.coordinator.builds.entities.versions.list('evil')).map((v) => v.status)).toEqual(['abandoned']);
  }, 120_000);

  it('an invalid app.toml: the error names the key and its line', async () => {
    const tar = tarOf([file('index.html', '<h1>hi</h1>\n'), file('app.toml', '[run]\nhealth = "/ok"\nport = "eighty"\n')]);
    const { id, info } = await world.deploy({ app: 'badtoml', tar: Readable.from([tar]) });
    expect(info.status).toBe('compensated');
    const errors = (await progressOf(id)).filter((r) => r.kind === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ step: 'appConfig', code: 'APP_CONFIG_INVALID' });
    expect(errors[0]!.kind === 'error' && errors[0]!.message).toMatch(/app\.toml:3.*run\.port/);
  }, 120_000);

  it('an app.toml naming another app: refused when app.toml is read, before onbuild runs', async () => {
    const tar = tarOf([file('index.html', '<h1>hi</h1>\n'), file('app.toml', 'name = "someone-else"\n')]);
    const { id, info } = await world.deploy({ app: 'mine', tar: Readable.from([tar]) });
    expect(info.status).toBe('compensated');
    const records = await progressOf(id);
    expect(records.filter((r) => r.kind === 'error')).toEqual([expect.objectContaining({ step: 'appConfig', code: 'APP_CONFIG_INVALID', message: expect.stringMatching(/app\.toml:1.*name.*"someone-else".*"mine"/) })]);
    expect(records.some((r) => r.kind === 'phase' && /onbuild/.test(r.phase))).toBe(false);
  }, 120_000);
});

describe('the registry goes away mid-push', () => {
  it('the build goes back to waiting for it, journaled, and completes once it is back, with no undo', async () => {
    const hold = world.holdAt('pushImage');
    const deployed = world.deploy({ app: 'static-site', dir: join(EXAMPLES, 'static-site') });
    const id = await hold.reached;
    await registry.kill();
    let back = false;
    try {
      hold.release();
      await until(async () => JSON.stringify((await world.coordinator.runtime.get(id)).state).includes('await_registry') && world.calls.filter((c) => c.sagaId === id && c.step === 'pushImage').length >= 1, 60_000, 'the build to wait for the registry again');
      await registry.restart();
      back = true;
      const { info } = await deployed;
      expect(info.status).toBe('completed');
      const journal = JSON.stringify(await world.coordinator.runtime.events(id));
      expect(journal).toContain('DEPENDENCY_UNAVAILABLE');
      expect(world.calls.filter((c) => c.sagaId === id && ['unpushImage', 'discardImage', 'abandonVersion'].includes(c.step))).toEqual([]);
    } finally {
      if (!back) await registry.restart();
    }
  }, 240_000);
});

describe('a coordinator restart', () => {
  it('starts the sandboxes of running versions again', async () => {
    const before = await world.coordinator.builds.entities.sandboxes.list();
    expect(before.length).toBeGreaterThan(0);
    await world.restart();
    for (const s of before) {
      await until(async () => {
        const port = (await world.coordinator.builds.entities.sandboxes.get(s.app, s.id))?.port;
        return fetch(`http://127.0.0.1:${port}/`).then((r) => r.status < 500, () => false);
      }, 60_000, `${s.id} to answer again`);
    }
  }, 240_000);
});

describe('a pinned port', () => {
  it('the new version takes over the port; a failed build gives it back to the active version', async () => {
    const port = await freePort();
    const tar = (): Readable => Readable.from([tarOf([file('index.html', '<h1>pinned</h1>\n'), file('app.toml', `[run]\nport = ${port}\n`)])]);
    expect((await world.deploy({ app: 'pinned', tar: tar() })).info.status).toBe('completed');
    expect((await world.deploy({ app: 'pinned', tar: tar() })).info.status).toBe('completed');
    const e = world.coordinator.builds.entities;
    expect((await e.sandboxes.list('pinned')).map((s) => [s.version, s.port])).toEqual([[2, port]]);
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);

    world.failAfter = 'startSandbox';
    try {
      expect((await world.deploy({ app: 'pinned', tar: tar() })).info.status).toBe('compensated');
    } finally {
      world.failAfter = undefined;
    }
    expect((await e.apps.get('pinned'))?.activeVersion).toBe(2);
    expect((await e.sandboxes.list('pinned')).map((s) => [s.version, s.port])).toEqual([[2, port]]);
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);
  }, 240_000);
});

describe('a base image', () => {
  it('app.toml [build] base: the app layer goes on top, base layers are mounted, the sandbox runs the app layer', async () => {
    const baseTree = await mkdtemp(join(tmpdir(), 'jetsaga-base-'));
    try {
      await writeFile(join(baseTree, 'base-release'), 'base 1\n');
      const base = await buildImage({ root: baseTree, workDir: join(baseTree, '..', `${basename(baseTree)}-img`), layerDir: 'etc', compression: 'gzip', env: { BASE_ONLY: 'yes' } });
      await pushImage(client, base, 'library/base', { tag: '1' });
      const tar = Readable.from([tarOf([file('index.html', '<h1>on a base</h1>\n'), file('app.toml', '[build]\nbase = "library/base:1"\n')])]);
      const { id, info } = await world.deploy({ app: 'onbase', tar });
      expect(info.status, JSON.stringify(info)).toBe('completed');
      const version = await world.coordinator.builds.entities.versions.get('onbase', 1);
      const manifest = JSON.parse(Buffer.from((await client.getManifest('apps/onbase', version!.image!.digest)).bytes).toString('utf8')) as { layers: Array<{ digest: string }> };
      expect(manifest.layers).toHaveLength(2);
      expect(manifest.layers[0]!.digest).toBe(base.layers[0]!.digest);
      expect((await progressOf(id)).some((r) => r.kind === 'log' && /1 mounted from the base/.test(r.text))).toBe(true);
      expect((await askApp(world, 'onbase', 1)).body).toContain('on a base');
    } finally {
      await rm(baseTree, { recursive: true, force: true });
      await rm(`${baseTree}-img`, { recursive: true, force: true });
    }
  }, 240_000);
});
