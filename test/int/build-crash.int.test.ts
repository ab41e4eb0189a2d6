/**
 * Crash recovery of the build saga with real processes: a coordinator child SIGKILLed while a
 * step of a build runs (receive, onbuild, image build, push, activation) is started again and
 * the build completes exactly once — one version, one activation, one image tag, one running
 * sandbox that answers HTTP, no undo. Restarted with the registry down, the build waits for it
 * (journaled as waiting, no push error) and completes once it is back. A crashed deploy's lock
 * does not block the next deploy of the app. Killed while the build's child saga provisions the
 * app's database, the restarted coordinator re-attaches to the same child: one database, one role.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuildInput } from '../../machines/build.machine.js';
import { ProgressLog, type ProgressRecord } from '../../src/build/progress.js';
import { packDirectory, SourceStore } from '../../src/build/source/index.js';
import { openEntityStores, type EntityStores } from '../../src/entities/index.js';
import type { SagaInfo } from '../../src/runtime/types.js';
import { BUILD_UNDOS, useBuildServers } from '../helpers/build-servers.js';
import { spawnCoordinator, until, type CoordinatorProc } from '../helpers/coordinator-proc.js';
import { startPostgres, type PostgresHandle } from '../helpers/postgres.js';
import { visitsSample } from '../helpers/visits-sample.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCRIPT = join(ROOT, 'test', 'fixtures', 'build-coordinator.ts');
const EXAMPLE = join(ROOT, 'examples', 'node-hello');
const APP = 'node-hello';
const TERMINAL = ['completed', 'compensated', 'cancelled', 'blocked', 'parked'];

const world = useBuildServers('jetsaga-build-crash-');
let scenarios = 0;

interface Scenario {
  namespace: string;
  entities: EntityStores;
  sources: SourceStore;
  spawn(fixture?: { crashIn?: string; crashDelayMs?: number }): CoordinatorProc;
  upload(id: string): Promise<BuildInput>;
}

/** By default node-hello; or another app's directory, and the PostgreSQL its addons are made on. */
async function scenario(app: { name: string; dir: string; addonPostgres?: string } = { name: APP, dir: EXAMPLE }): Promise<Scenario> {
  const n = scenarios++;
  const namespace = `bc${process.pid}x${n}`;
  const dataDir = join(world.tmp, `s${n}`);
  const marker = join(world.tmp, `s${n}.crashed`);
  const entities = await openEntityStores(world.nc, namespace);
  const sources = await SourceStore.open(world.nc, { namespace });
  return {
    namespace,
    entities,
    sources,
    spawn: (fixture = {}) =>
      spawnCoordinator({
        url: world.server.url,
        namespace,
        owner: 'builder',
        leaseTtlMs: 3_000,
        script: SCRIPT,
        env: {
          BUILD_FIXTURE: JSON.stringify({ registry: `127.0.0.1:${world.registry.port}`, dataDir, crashMarker: marker, addonPostgres: app.addonPostgres, ...fixture }),
        },
      }),
    async upload(id) {
      const put = await sources.put(id, packDirectory(app.dir));
      return { app: app.name, source: { name: id, digest: put.digest } };
    },
  };
}

async function finished(proc: CoordinatorProc, id: string, timeoutMs = 180_000): Promise<SagaInfo> {
  let info: SagaInfo | undefined;
  await until(
    async () => {
      info = await proc.request<SagaInfo>({ op: 'get', sagaId: id }).catch(() => undefined);
      return info !== undefined && TERMINAL.includes(info.status);
    },
    `build ${id} to finish`,
    timeoutMs,
  );
  return info!;
}

async function tagsOf(repo: string): Promise<string[]> {
  const res = await fetch(`${world.registry.url}/v2/${repo}/tags/list`);
  if (res.status === 404) return [];
  return ((await res.json()) as { tags: string[] | null }).tags ?? [];
}

/** Exactly one of everything, and it serves. */
async function expectDeployedOnce(s: Scenario, id: string, calls: ReadonlyArray<{ step: string; outcome: string }>): Promise<void> {
  const versions = (await s.entities.versions.list(APP)).filter((v) => v.sagaId === id);
  expect(versions.map((v) => v.status)).toEqual(['active']);
  const app = await s.entities.apps.get(APP);
  expect(app?.activeVersion).toBe(versions[0]!.version);
  expect(app?.activatedBy).toBe(id);
  const sandboxes = await s.entities.sandboxes.list(APP);
  expect(sandboxes.map((x) => x.version)).toEqual([versions[0]!.version]);
  // A sandbox dies with its coordinator; the restarted one starts it again (in the background).
  await until(async () => {
    const port = (await s.entities.sandboxes.get(APP, sandboxes[0]!.id))?.port;
    return fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status === 200, () => false);
  }, 'the version to answer HTTP', 60_000);
  expect(await s.entities.locks.get(APP)).toBeNull();
  expect(calls.filter((c) => BUILD_UNDOS.includes(c.step))).toEqual([]);
}

describe('a coordinator killed mid-build', () => {
  for (const step of ['receiveSource', 'runOnbuild', 'buildImage', 'pushImage', 'setActiveVersion']) {
    it(`during ${step}: after a restart the build completes exactly once`, async () => {
      const s = await scenario();
      const id = `crash-${step}`;
      const input = await s.upload(id);
      const first = s.spawn({ crashIn: step, crashDelayMs: 30 });
      await first.ready;
      await first.request({ op: 'start', sagaId: id, input }).catch(() => undefined);
      const exit = await first.exited;
      expect(exit.signal).toBe('SIGKILL');
      expect(first.calls().some((c) => c.step === step)).toBe(true);

      const second = s.spawn();
      await second.ready;
      const info = await finished(second, id);
      expect(info.status, second.stderr()).toBe('completed');
      await expectDeployedOnce(s, id, [...first.calls(), ...second.calls()]);
      const version = (await s.entities.versions.list(APP)).find((v) => v.sagaId === id)!.version;
      expect(await tagsOf(`apps/${APP}`)).toEqual([`v${version}`]);
      // The progress stream tells the whole story, across the crash: read from the start, it
      // ends with the result written by the coordinator that recovered the build.
      const progress = await ProgressLog.open(world.nc, { namespace: s.namespace });
      const records: ProgressRecord[] = [];
      // Followed to the result: progress is written just after each transition, so it may trail the saga's status.
      try {
        for await (const r of progress.read(id, { follow: true, signal: AbortSignal.timeout(60_000) })) records.push(r);
      } catch (e) {
        const seen = records.map((r) => (r.kind === 'phase' ? r.phase : r.kind)).join(' | ');
        throw new Error(`no result record in the progress of ${id} (seen: ${seen}); the recovering coordinator said:\n${second.stderr()}`, { cause: e });
      }
      expect(records.filter((r) => r.kind === 'result')).toEqual([expect.objectContaining({ status: 'completed' })]);
      expect(records.some((r) => r.kind === 'phase' && r.phase.startsWith('finalize'))).toBe(true);
    }, 240_000);
  }
});

describe('the registry is down when the coordinator restarts', () => {
  it('the build waits for it, journaled, and completes once it is back: no push error, no undo', async () => {
    const s = await scenario();
    const id = 'registry-down';
    const input = await s.upload(id);
    const first = s.spawn({ crashIn: 'buildImage' });
    await first.ready;
    await first.request({ op: 'start', sagaId: id, input }).catch(() => undefined);
    await first.exited;

    await world.registry.kill();
    let restarted = false;
    try {
      const second = s.spawn();
      await second.ready;
      await until(
        async () => JSON.stringify((await second.request<SagaInfo>({ op: 'get', sagaId: id })).state).includes('await_registry'),
        'the build to wait for the registry',
        120_000,
      );
      await world.registry.restart();
      restarted = true;
      const info = await finished(second, id);
      expect(info.status, second.stderr()).toBe('completed');
      const events = JSON.stringify(await second.request({ op: 'events', sagaId: id }));
      expect(events).not.toContain('xstate.error.actor.push');
      await expectDeployedOnce(s, id, [...first.calls(), ...second.calls()]);
      // The push ran only once the registry was back: never with an error.
      expect(second.calls().filter((c) => c.step === 'pushImage' && c.outcome === 'error')).toEqual([]);
    } finally {
      if (!restarted) await world.registry.restart();
    }
  }, 240_000);
});

describe("a crashed deploy's lock", () => {
  it('does not block the next deploy: the recovered build ends and the next one runs', async () => {
    const s = await scenario();
    const id = 'crashed-holder';
    const input = await s.upload(id);
    const first = s.spawn({ crashIn: 'runOnbuild' });
    await first.ready;
    await first.request({ op: 'start', sagaId: id, input }).catch(() => undefined);
    await first.exited;
    expect((await s.entities.locks.get(APP))?.holder).toBe(id);

    const second = s.spawn();
    await second.ready;
    const nextId = 'next-deploy';
    const nextInput = { ...(await s.upload(nextId)), waitForLock: true };
    await second.request({ op: 'start', sagaId: nextId, input: nextInput });
    expect((await finished(second, id)).status).toBe('completed');
    expect((await finished(second, nextId)).status).toBe('completed');
    expect((await s.entities.apps.get(APP))?.activatedBy).toBe(nextId);
    expect(await s.entities.locks.get(APP)).toBeNull();
  }, 240_000);
});

describe('a coordinator killed while a build provisions its database', () => {
  let postgres: PostgresHandle;
  const made: string[] = [];
  beforeAll(async () => {
    postgres = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await postgres?.forget(made).catch(() => undefined);
    await postgres?.stop();
  });

  it('after a restart exactly one database exists, and the deploy completes serving from it', async () => {
    const sample = await visitsSample(world.tmp, 'crashdb');
    made.push(sample.identifier);
    const s = await scenario({ name: sample.app, dir: sample.dir, addonPostgres: postgres.adminUrl });
    const id = 'crash-addons';
    const input = await s.upload(id);
    const first = s.spawn({ crashIn: 'ensureAddonDatabases', crashDelayMs: 30 });
    await first.ready;
    await first.request({ op: 'start', sagaId: id, input }).catch(() => undefined);
    expect((await first.exited).signal).toBe('SIGKILL');
    expect(first.calls().some((c) => c.step === 'ensureAddonDatabases')).toBe(true);

    const second = s.spawn();
    await second.ready;
    const info = await finished(second, id);
    expect(info.status, second.stderr()).toBe('completed');
    const like = [`${sample.app}%`];
    expect(await postgres.query('SELECT datname FROM pg_database WHERE datname LIKE $1', like)).toEqual([{ datname: sample.identifier }]);
    expect(await postgres.query('SELECT rolname FROM pg_roles WHERE rolname LIKE $1', like)).toEqual([{ rolname: sample.identifier }]);
    const calls = [...first.calls(), ...second.calls()];
    expect(calls.filter((c) => [...BUILD_UNDOS, 'dropAddonDatabases', 'dropAddonRoles', 'releaseAddons'].includes(c.step))).toEqual([]);
    // The version runs on the database the child made: it counts its first visit.
    const [sandbox] = await s.entities.sandboxes.list(sample.app);
    await until(async () => {
      const port = (await s.entities.sandboxes.get(sample.app, sandbox!.id))?.port;
      return fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.status === 200, () => false);
    }, 'the version to answer HTTP', 60_000);
    const port = (await s.entities.sandboxes.get(sample.app, sandbox!.id))!.port;
    expect(await fetch(`http://127.0.0.1:${port}/`).then((r) => r.json())).toMatchObject({ visits: 1 });
  }, 240_000);
});
