/**
 * What the build-saga crash and takeover tests share: a nats-server, a registry, a connection
 * and a temp dir for the file, and every coordinator child killed after each test. Call at
 * the top of a test file; the fields are set once its beforeAll has run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { connectNats } from '../../src/nats/connect.js';
import { killAllCoordinators } from './coordinator-proc.js';
import { startNatsServer, type NatsServerHandle } from './nats-server.js';
import { startRegistry, type RegistryHandle } from './registry.js';

/** The build saga's undo steps, as coordinator children record their calls. */
export const BUILD_UNDOS = ['abandonVersion', 'removeStaging', 'releaseDeployLock', 'discardImage', 'unpushImage', 'deleteConfigVersion', 'retireVersion', 'stopSandbox', 'restoreActiveVersion', 'restartOldSandboxes'];

export interface BuildServers {
  readonly server: NatsServerHandle;
  readonly registry: RegistryHandle;
  readonly nc: NatsConnection;
  readonly tmp: string;
}

export function useBuildServers(tmpPrefix: string): BuildServers {
  const world = {} as { -readonly [K in keyof BuildServers]?: BuildServers[K] };
  beforeAll(async () => {
    [world.server, world.registry] = await Promise.all([startNatsServer(), startRegistry()]);
    world.nc = await connectNats({ servers: world.server.url });
    world.tmp = await mkdtemp(join(tmpdir(), tmpPrefix));
  }, 60_000);
  afterEach(async () => {
    await killAllCoordinators();
  });
  afterAll(async () => {
    await killAllCoordinators();
    await world.nc?.close();
    await Promise.all([world.server?.stop(), world.registry?.stop()]);
    if (world.tmp) await rm(world.tmp, { recursive: true, force: true });
  });
  return world as BuildServers;
}
