/**
 * `jetsaga serve --deploy <dir>` as a user runs it: the coordinator boots, deploys the sample,
 * shows the build's phases on stderr and prints where the new version answers; the URL
 * answers; one SIGTERM stops everything, sandbox included.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCli } from '../helpers/cli.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { exitsOnItsOwn } from '../helpers/ts-child.js';

const EXAMPLES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples');

let nats: NatsServerHandle;
let registry: RegistryHandle;
let tmp: string;
beforeAll(async () => {
  [nats, registry] = await Promise.all([startNatsServer(), startRegistry()]);
  tmp = await mkdtemp(join(tmpdir(), 'jetsaga-serve-deploy-'));
}, 60_000);
afterAll(async () => {
  await Promise.all([nats?.stop(), registry?.stop()]);
  await rm(tmp, { recursive: true, force: true });
});

describe('jetsaga serve --deploy', () => {
  it('deploys the sample and prints a URL that answers; SIGTERM stops it all', async () => {
    const child = startCli([
      'serve',
      '--owner',
      'deployer',
      '--namespace',
      'sdeploy',
      '--data-dir',
      join(tmp, 'data'),
      '--nats',
      nats.url,
      '--registry',
      `127.0.0.1:${registry.port}`,
      '--deploy',
      join(EXAMPLES, 'node-hello'),
    ]);
    const line = await child.waitForLine(/^deployed node-hello v1 \(build [A-Za-z0-9_-]+\): http:\/\/127\.0\.0\.1:\d+$/, 180_000);
    const url = /http:\/\/127\.0\.0\.1:\d+$/.exec(line)![0];
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('hello from jetsaga');
    child.signalGroup('SIGTERM');
    expect((await exitsOnItsOwn(child)).code).toBe(0);
    // The sandbox stopped with its coordinator.
    await expect(fetch(url)).rejects.toThrow();
  }, 240_000);
});
