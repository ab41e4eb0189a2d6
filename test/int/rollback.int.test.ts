/**
 * The rollback saga end to end, in process, against a real nats-server and docker-registry: two
 * versions of an app with different content are deployed, then `versions.rollback` (the service
 * API) makes v1 active again — v1 answers, `versions list` says so, no version is allocated; a
 * rollback to the active, an unknown or a failed version is refused with a typed error and
 * changes nothing; a failure after any of its steps is undone, leaving v2 active and answering
 * and the lock free; a rollback during a deploy is refused with DEPLOY_LOCKED naming the holder,
 * or waits for it with waitForLock; a pinned port goes back to the rolled-back-to version.
 */
import { Readable } from 'node:stream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProgressRecord } from '../../src/build/progress.js';
import type { SagaError } from '../../src/errors.js';
import { JetsagaClient } from '../../src/service/client.js';
import { Endpoint } from '../../src/service/subjects.js';
import { tarOf } from '../fixtures/tars/tar-builder.js';
import { askApp, startBuildWorld, type BuildWorld } from '../helpers/build-world.js';
import { freePort, startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { until } from '../helpers/until.js';

const APP = 'rb';

let server: NatsServerHandle;
let registry: RegistryHandle;
let world: BuildWorld;
let nc: NatsConnection;
let client: JetsagaClient;

/** A static site whose page says `text`: each version's content tells which one answers. */
const site = (text: string): Readable => Readable.from([tarOf([{ name: 'index.html', data: `<h1>${text}</h1>\n` }])]);

beforeAll(async () => {
  [server, registry] = await Promise.all([startNatsServer(), startRegistry()]);
  world = await startBuildWorld(server.url, registry.port, { service: true });
  nc = await connect({ servers: server.url });
  client = JetsagaClient.connect(nc, { namespace: world.coordinator.config.namespace });
  for (const text of ['one', 'two']) {
    const { info } = await world.deploy({ app: APP, tar: site(text) });
    expect(info.status, JSON.stringify(info)).toBe('completed');
  }
}, 240_000);
afterAll(async () => {
  await nc?.close();
  await world?.stop();
  await Promise.all([server?.stop(), registry?.stop()]);
});

async function rollback(to: number, options: { waitForLock?: boolean } = {}) {
  const started = await client.rollback(APP, to, options);
  expect(started.created).toBe(true);
  const info = await world.coordinator.runtime.wait(started.id, { timeoutMs: 120_000 });
  return { id: started.id, info };
}

async function progressOf(id: string, follow = true): Promise<ProgressRecord[]> {
  const out: ProgressRecord[] = [];
  // Followed to the result: progress is written just after each transition, so it may trail the saga's status.
  for await (const r of world.coordinator.builds.progress.read(id, { follow, signal: AbortSignal.timeout(60_000) })) out.push(r);
  return out;
}

const checkOutput = (info: { context: unknown }): unknown => (info.context as { outputs: Record<string, unknown> }).outputs.check;

const errorsOf = async (id: string) => (await progressOf(id)).filter((r) => r.kind === 'error');

/** What a rollback may change: the active version, version statuses, what runs, the lock. */
async function deployed() {
  const e = world.coordinator.builds.entities;
  return {
    active: (await e.apps.get(APP))?.activeVersion,
    versions: (await client.listVersions(APP)).versions.map((v) => [v.version, v.status]),
    sandboxes: (await e.sandboxes.list(APP)).map((s) => s.version),
    running: world.coordinator.builds.controller
      .list()
      .filter((s) => s.id.startsWith(`${APP}-`))
      .map((s) => s.id),
    lock: await e.locks.get(APP),
  };
}

describe('rolling back', () => {
  it('to v1: v1 answers and is active, v2 is retired and stopped, no version is allocated, the lock is free', async () => {
    expect((await askApp(world, APP, 2)).body).toContain('two');
    const { id, info } = await rollback(1);
    expect(info.status, JSON.stringify(info)).toBe('completed');

    expect((await askApp(world, APP, 1)).body).toContain('one');
    expect(await deployed()).toEqual({
      active: 1,
      versions: [
        [1, 'active'],
        [2, 'retired'],
      ],
      sandboxes: [1],
      running: [`${APP}-v1`],
      lock: null,
    });
    // The build's own step implementations, in the saga's order; nothing built or allocated.
    expect(world.calls.filter((c) => c.sagaId === id).map((c) => c.step)).toEqual([
      'takeDeployLock',
      'checkRollbackTarget',
      'startSandbox',
      'setActiveVersion',
      'stopOldSandboxes',
      'finalizeRollback',
    ]);

    // Its progress and summary read like a build's: phases, the result, the version and where it answers.
    const progress = await progressOf(id);
    expect(progress.filter((r) => r.kind === 'phase').map((r) => r.kind === 'phase' && r.phase.split('.')[0])).toEqual(
      expect.arrayContaining(['lock', 'check', 'start', 'activate', 'stopOld', 'finalize', 'completed']),
    );
    expect(progress.at(-1)).toMatchObject({ kind: 'result', status: 'completed' });
    const v1 = await world.coordinator.builds.entities.versions.get(APP, 1);
    const { build } = await client.getBuild(id);
    expect(build).toMatchObject({ app: APP, version: 1, status: 'completed', image: v1!.image!.digest });
    expect(await (await fetch(build.url!)).text()).toContain('one');
    // v1's spec was kept on disk when v2 replaced it: that is how it runs again (port, health).
    expect(checkOutput(await world.coordinator.runtime.get(id))).toMatchObject({ version: 1, status: 'retired', previous: 2, settingsFrom: 'sandbox spec' });
  }, 240_000);

  it('and forward again to v2, the same way', async () => {
    const { info } = await rollback(2);
    expect(info.status).toBe('completed');
    expect((await askApp(world, APP, 2)).body).toContain('two');
    expect(await deployed()).toMatchObject({ active: 2, versions: [[1, 'retired'], [2, 'active']], sandboxes: [2], lock: null });
  }, 240_000);
});

describe('a rollback that cannot be done is refused with a typed error and changes nothing', () => {
  it('to the active version, to a version whose build failed, to an unknown version or app', async () => {
    // A build that fails (a hostile tar) leaves v3 abandoned: a number with no image.
    const failed = await world.deploy({ app: APP, tar: Readable.from([tarOf([{ name: '../escape.txt', data: 'x' }])]) });
    expect(failed.info.status).toBe('compensated');
    const before = await deployed();
    expect(before.versions).toEqual([
      [1, 'retired'],
      [2, 'active'],
      [3, 'abandoned'],
    ]);

    const active = await rollback(2);
    expect(active.info.status).toBe('compensated');
    expect(await errorsOf(active.id)).toEqual([expect.objectContaining({ step: 'check', code: 'ALREADY_ACTIVE' })]);
    expect(await deployed()).toEqual(before);

    const abandoned = await rollback(3);
    expect(abandoned.info.status).toBe('compensated');
    const [notRunnable] = await errorsOf(abandoned.id);
    expect(notRunnable).toMatchObject({ step: 'check', code: 'VERSION_NOT_RUNNABLE' });
    expect(notRunnable!.kind === 'error' && notRunnable!.message).toMatch(/version 3 .* abandoned/);
    expect(await deployed()).toEqual(before);

    // What can be told up front is refused by the endpoint: no saga is started.
    const sagasBefore = (await client.listSagas({ machine: 'rollback' })).sagas.length;
    await expect(client.rollback(APP, 9)).rejects.toMatchObject({ code: 'UNKNOWN_VERSION', status: 404 } satisfies Partial<SagaError>);
    await expect(client.rollback('no-such-app', 1)).rejects.toMatchObject({ code: 'UNKNOWN_APP', status: 404 });
    await expect(client.call(Endpoint.VersionsRollback, { app: APP, to: 0 })).rejects.toMatchObject({ code: 'BAD_REQUEST', status: 400 });
    await expect(client.call(Endpoint.VersionsRollback, { app: APP, to: 1, waitForLok: true })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect((await client.listSagas({ machine: 'rollback' })).sagas.length).toBe(sagasBefore);
    expect(await deployed()).toEqual(before);
  }, 240_000);
});

describe('a failure after any step of a rollback is undone', () => {
  const steps = ['takeDeployLock', 'checkRollbackTarget', 'startSandbox', 'setActiveVersion', 'stopOldSandboxes'];
  for (const step of steps) {
    it(`after ${step}: v2 stays active and answering, v1 retired and stopped, the lock free`, async () => {
      const before = await deployed();
      expect(before.active).toBe(2);
      world.failAfter = step;
      let result: Awaited<ReturnType<typeof rollback>>;
      try {
        result = await rollback(1);
      } finally {
        world.failAfter = undefined;
      }
      expect(result.info.status, JSON.stringify(result.info)).toBe('compensated');
      expect(await errorsOf(result.id)).toEqual([expect.objectContaining({ code: 'INJECTED' })]);
      expect(await deployed()).toEqual(before);
      expect((await askApp(world, APP, 2)).body).toContain('two');
    }, 240_000);
  }
});

describe('the deployment lock', () => {
  it('a rollback during a deploy is refused naming the holder; with waitForLock it runs once the deploy is done', async () => {
    const hold = world.holdAt('runOnbuild');
    const deploying = world.deploy({ app: APP, tar: site('four') });
    try {
      const holder = await hold.reached;
      const refused = await rollback(1);
      expect(refused.info.status).toBe('compensated');
      const [locked] = await errorsOf(refused.id);
      expect(locked).toMatchObject({ step: 'lock', code: 'DEPLOY_LOCKED' });
      expect(locked!.kind === 'error' && locked!.message).toContain(holder);
      expect((await world.coordinator.builds.entities.apps.get(APP))?.activeVersion).toBe(2);

      const waiting = await client.rollback(APP, 1, { waitForLock: true });
      // Queued on the lock (its progress says by whom), not refused.
      await until(
        async () => (await progressOf(waiting.id, false)).some((r) => r.kind === 'log' && r.step === 'lock' && r.text.includes(holder)),
        60_000,
        'the rollback to wait for the lock',
      );
      expect((await world.coordinator.runtime.get(waiting.id)).status).toBe('running');
      hold.release();
      const deploy = await deploying;
      expect(deploy.info.status).toBe('completed');
      const done = await world.coordinator.runtime.wait(waiting.id, { timeoutMs: 120_000 });
      expect(done.status, JSON.stringify(done)).toBe('completed');
      // It ran after the deploy: v4 went live, then the rollback replaced it with v1.
      expect(await deployed()).toMatchObject({
        active: 1,
        versions: [
          [1, 'active'],
          [2, 'retired'],
          [3, 'abandoned'],
          [4, 'retired'],
        ],
        sandboxes: [1],
        lock: null,
      });
      expect((await askApp(world, APP, 1)).body).toContain('one');
      // v1's files went with the undone start above: its image was pulled again, its settings read from its build's journal.
      expect(checkOutput(await world.coordinator.runtime.get(waiting.id))).toMatchObject({ version: 1, previous: 4, settingsFrom: 'build journal' });
    } finally {
      hold.release();
      await deploying.catch(() => undefined);
    }
  }, 240_000);
});

describe('a pinned port', () => {
  it('the rolled-back-to version takes the port back from the active one', async () => {
    const port = await freePort();
    const pinned = (text: string): Readable =>
      Readable.from([tarOf([{ name: 'index.html', data: `<h1>${text}</h1>\n` }, { name: 'app.toml', data: `[run]\nport = ${port}\n` }])]);
    expect((await world.deploy({ app: 'pin', tar: pinned('pin one') })).info.status).toBe('completed');
    expect((await world.deploy({ app: 'pin', tar: pinned('pin two') })).info.status).toBe('completed');
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toContain('pin two');
    const started = await client.rollback('pin', 1);
    expect((await world.coordinator.runtime.wait(started.id, { timeoutMs: 120_000 })).status).toBe('completed');
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toContain('pin one');
    expect((await world.coordinator.builds.entities.sandboxes.list('pin')).map((s) => [s.version, s.port])).toEqual([[1, port]]);
  }, 240_000);
});
