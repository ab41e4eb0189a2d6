/**
 * Cancelling a running build through the service API (`sagas.cancel`, as `jetsaga sagas cancel`
 * sends it), against a real nats-server, docker-registry and coordinator: the build is held
 * just before it would activate its new version, cancelled, and ends `cancelled` with every
 * undo run — the new version never active and retired, its sandbox, config version and image
 * tag gone, the deployment lock released, the staging dir removed — while the previous version
 * keeps serving. A second cancel changes nothing.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../src/build/image/index.js';
import { JetsagaClient } from '../../src/service/client.js';
import { askApp, startBuildWorld, type BuildWorld } from '../helpers/build-world.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';

const EXAMPLES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples');
const APP = 'static-site';

let server: NatsServerHandle;
let registry: RegistryHandle;
let world: BuildWorld;
let nc: NatsConnection;
let client: JetsagaClient;
let images: RegistryClient;

beforeAll(async () => {
  [server, registry] = await Promise.all([startNatsServer(), startRegistry()]);
  world = await startBuildWorld(server.url, registry.port, { service: true });
  nc = await connect({ servers: server.url });
  client = JetsagaClient.connect(nc, { namespace: world.coordinator.config.namespace });
  images = new RegistryClient({ url: registry.url });
}, 120_000);

afterAll(async () => {
  await images?.close();
  await nc?.close();
  await world?.stop();
  await Promise.all([server?.stop(), registry?.stop()]);
});

describe('cancelling a running build', () => {
  it('ends cancelled with its undos run: no new version active, lock released, staging gone; a second cancel is not accepted', async () => {
    // A version to keep serving.
    const first = await world.deploy({ app: APP, dir: join(EXAMPLES, APP) });
    expect(first.info.status, JSON.stringify(first.info)).toBe('completed');
    const e = world.coordinator.builds.entities;
    const active = (await e.apps.get(APP))!.activeVersion!;

    const hold = world.holdAt('setActiveVersion');
    const second = world.deploy({ app: APP, dir: join(EXAMPLES, APP) });
    const id = await hold.reached;
    try {
      expect(await client.getSaga(id)).toMatchObject({ status: 'running', state: { activate: 'running' } });
      // The new version exists, its sandbox runs, the lock is held, the source is staged.
      const version = (await e.versions.list(APP)).find((v) => v.sagaId === id)!.version;
      expect(await e.locks.get(APP)).toMatchObject({ holder: id });
      expect((await e.sandboxes.list(APP)).map((s) => s.version).sort()).toEqual([active, version].sort());
      expect(existsSync(join(world.coordinator.builds.staging.dirOf(id), '..'))).toBe(true);

      const cancelled = await client.cancelSaga(id);
      expect(cancelled).toMatchObject({ id, accepted: true, status: 'compensating' });
      const { info } = await second;
      expect(info).toMatchObject({ status: 'cancelled', state: 'cancelled' });

      // Every undo of what had started ran, latest first; activation never went through.
      const ran = world.calls.filter((c) => c.sagaId === id).map((c) => c.step);
      expect(ran.filter((s) => s === 'setActiveVersion')).toEqual(['setActiveVersion']);
      const undos = ['restoreActiveVersion', 'stopSandbox', 'retireVersion', 'releaseDeployLock', 'removeStaging', 'abandonVersion'];
      expect(ran.filter((s) => undos.includes(s))).toEqual(undos);
      for (const undo of ['deleteConfigVersion', 'unpushImage', 'discardImage']) expect(ran).toContain(undo);

      expect((await e.apps.get(APP))?.activeVersion).toBe(active);
      expect((await e.versions.get(APP, version))?.status).toBe('abandoned');
      expect(await e.configs.get(APP, version)).toBeNull();
      expect(await images.headManifest(`apps/${APP}`, `v${version}`)).toBeUndefined();
      expect((await e.sandboxes.list(APP)).map((s) => s.version)).toEqual([active]);
      expect(await e.locks.get(APP)).toBeNull();
      expect(existsSync(join(world.coordinator.builds.staging.dirOf(id), '..'))).toBe(false);
      expect((await askApp(world, APP, active)).status).toBe(200);
      const journal = (await client.sagaEvents(id)).events.map((x) => (x as { event?: { type: string } }).event?.type);
      expect(journal.filter((t) => t === 'saga.cancel')).toHaveLength(1);

      // Cancelled already: a second cancel is not accepted and journals nothing.
      const again = await client.cancelSaga(id);
      expect(again).toMatchObject({ id, accepted: false, status: 'cancelled' });
      expect((await client.sagaEvents(id)).events).toHaveLength(journal.length);
    } finally {
      hold.release();
    }
  }, 300_000);
});
