/**
 * A deploy through the client made while NATS is away (a restart here; a leader election on a
 * cluster looks the same from the client: "unavailable" or no answer for a few seconds): the
 * client says so, repeats its upload and start under the same build id, and the build starts
 * once and completes once NATS is back. Real nats-server, registry and coordinator.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { Coordinator } from '../../src/coordinator.js';
import { connectNats } from '../../src/nats/connect.js';
import { JetsagaClient } from '../../src/service/client.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { until } from '../helpers/until.js';

const EXAMPLE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples', 'node-hello');
const namespace = 'outage';

let server: NatsServerHandle;
let registry: RegistryHandle;
let coordinator: Coordinator;
let nc: NatsConnection;
let dataDir: string;

beforeAll(async () => {
  [server, registry] = await Promise.all([startNatsServer(), startRegistry()]);
  dataDir = await mkdtemp(join(tmpdir(), 'jetsaga-deploy-outage-'));
  const config = loadConfig({ nats: server.url, registry: `127.0.0.1:${registry.port}`, namespace, owner: 'outage-c', dataDir }, {});
  coordinator = new Coordinator({ config, machines: [], builds: true, service: true, healthIntervalMs: 300, recoverIntervalMs: 0 });
  await coordinator.allReady();
  nc = await connectNats({ servers: server.url, name: 'deploy-outage-client' });
}, 120_000);

afterAll(async () => {
  await nc?.close();
  await coordinator?.stop();
  await Promise.all([server?.stop(), registry?.stop()]);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('a deploy made while NATS is away', () => {
  it('is tried again under the same build id until NATS is back, and the build starts once', async () => {
    const client = JetsagaClient.connect(nc, { namespace });
    await server.kill();
    const retried: Error[] = [];
    let restarted = false;
    try {
      const deploying = client.deploy(EXAMPLE, { app: 'node-hello', retry: { onRetry: (e) => retried.push(e) } });
      await until(() => retried.length > 0, 60_000, 'a failed attempt');
      await server.restart();
      restarted = true;
      const { id, created } = await deploying;
      expect(created).toBe(true);
      const done = await coordinator.runtime.wait(id, { timeoutMs: 180_000 });
      expect(done.status).toBe('completed');
      const builds = (await coordinator.runtime.list({ machine: 'build' })).sagas;
      expect(builds.map((s) => s.id)).toEqual([id]);
    } finally {
      if (!restarted) await server.restart();
    }
  }, 240_000);

  it('gives up once the time it was given has passed, with the last failure', async () => {
    const client = JetsagaClient.connect(nc, { namespace });
    await server.kill();
    try {
      const retried: Error[] = [];
      await expect(client.deploy(EXAMPLE, { app: 'node-hello', retry: { forMs: 1_500, onRetry: (e) => retried.push(e) } })).rejects.toMatchObject({
        code: expect.stringMatching(/^(JOURNAL_UNAVAILABLE|TIMEOUT)$/),
      });
    } finally {
      await server.restart();
    }
  }, 120_000);
});
