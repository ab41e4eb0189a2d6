/**
 * A coordinator that cannot open a build's secrets: the build's secrets were sealed under a key
 * it does not hold (as when it takes over a build journaled by a coordinator with another key
 * file). The build fails at its settings step with SECRETS_KEY_MISSING naming the key id and
 * the flag, terminally (no retries), and rolls back cleanly; repeating that deploy under its id
 * is refused with the same code before anything starts. With its own key the same app deploys.
 */
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploy } from '../../src/build/deploy.js';
import type { ProgressRecord } from '../../src/build/progress.js';
import { SecretKeyRing } from '../../src/secrets/index.js';
import { startBuildWorld, type BuildWorld } from '../helpers/build-world.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';

const EXAMPLES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples');
const own = new SecretKeyRing([{ id: 'ours', key: randomBytes(32) }]);
const foreign = new SecretKeyRing([{ id: 'theirs', key: randomBytes(32) }]);

let server: NatsServerHandle;
let registry: RegistryHandle;
let world: BuildWorld;

beforeAll(async () => {
  [server, registry] = await Promise.all([startNatsServer(), startRegistry()]);
  world = await startBuildWorld(server.url, registry.port, { secrets: own });
}, 120_000);
afterAll(async () => {
  await world?.stop();
  await Promise.all([server?.stop(), registry?.stop()]);
});

async function progressOf(id: string): Promise<ProgressRecord[]> {
  const out: ProgressRecord[] = [];
  for await (const r of world.coordinator.builds.progress.read(id, { follow: true, signal: AbortSignal.timeout(60_000) })) out.push(r);
  return out;
}

describe('secrets the coordinator cannot open', () => {
  it('a build whose secrets were sealed under another key fails terminally naming the key and the flag, and rolls back', async () => {
    const c = world.coordinator;
    // Sealed (and journaled) by "another coordinator": its key ring, this coordinator's runtime.
    const { id } = await deploy({ runtime: c.runtime, sources: c.builds.sources, secrets: foreign }, { app: 'static-site', dir: join(EXAMPLES, 'static-site'), secretEnv: { TOKEN: 't0ken' } });
    const info = await c.runtime.wait(id, { timeoutMs: 240_000 });
    expect(info.status, JSON.stringify(info)).toBe('compensated');
    const errors = (await progressOf(id)).filter((r) => r.kind === 'error');
    expect(errors).toEqual([expect.objectContaining({ step: 'settings', code: 'SECRETS_KEY_MISSING' })]);
    const message = String(errors[0]!.message);
    expect(message).toContain('"theirs"');
    expect(message).toContain('--secrets-key-file');
    expect(message).toContain('secret TOKEN of app');
    // Terminal: tried once, never a sandbox; the allocation and the lock undone.
    expect(world.calls.filter((x) => x.sagaId === id && x.step === 'prepareConfig')).toHaveLength(1);
    expect(world.calls.some((x) => x.sagaId === id && x.step === 'startSandbox')).toBe(false);
    expect(await c.builds.entities.apps.get('static-site').then((a) => a?.activeVersion ?? null)).toBeNull();
    expect(await c.builds.entities.locks.get('static-site')).toBeNull();

    // Repeating that deploy here cannot tell a repeat from a change: refused, nothing started.
    await expect(deploy({ runtime: c.runtime, sources: c.builds.sources, secrets: own }, { app: 'static-site', dir: join(EXAMPLES, 'static-site'), id, secretEnv: { TOKEN: 't0ken' } })).rejects.toMatchObject({
      code: 'SECRETS_KEY_MISSING',
      message: expect.stringContaining('"theirs"'),
    });
  }, 240_000);

  it('with its own key the same deploy completes; repeating it under its id starts nothing new', async () => {
    const { id, info } = await world.deploy({ app: 'static-site', dir: join(EXAMPLES, 'static-site'), secretEnv: { TOKEN: 't0ken' } });
    expect(info.status, JSON.stringify(info)).toBe('completed');
    const config = await world.coordinator.builds.entities.configs.get('static-site', (info.context as { outputs: { allocate: number } }).outputs.allocate);
    expect(config?.secrets?.TOKEN?.$secret).toMatch(/^v1:ours:/);
    const again = await deploy({ runtime: world.coordinator.runtime, sources: world.coordinator.builds.sources, secrets: own }, { app: 'static-site', dir: join(EXAMPLES, 'static-site'), id, secretEnv: { TOKEN: 't0ken' } });
    expect(again.created).toBe(false);
  }, 240_000);
});
