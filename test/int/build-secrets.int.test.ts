/**
 * A coordinator that cannot open a build's secrets: the build's secrets were sealed under a key
 * it does not hold (as when it takes over a build journaled by a coordinator with another key
 * file). The build fails at its settings step with SECRETS_KEY_MISSING naming the key id and
 * the flag, terminally (no retries), and rolls back cleanly; repeating that deploy under its id
 * is refused with the same code before anything starts. With its own key the same app deploys.
 *
 * Key rotation (README, "Secrets"): with a new first key and the old one kept, new deploys are
 * sealed with the new key while versions sealed with the old one still start again and can be
 * rolled back to. A coordinator that lacks the old key refuses such a rollback at its check
 * step with SECRETS_KEY_MISSING, changing nothing; with the key back the same rollback goes through.
 */
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLLBACK_MACHINE_ID } from '../../machines/rollback.machine.js';
import { deploy } from '../../src/build/deploy.js';
import type { ProgressRecord } from '../../src/build/progress.js';
import type { SagaInfo } from '../../src/runtime/types.js';
import { SecretKeyRing, type SecretKey } from '../../src/secrets/index.js';
import { newRollbackId } from '../../src/service/handlers-rollback.js';
import { askApp, startBuildWorld, type BuildWorld } from '../helpers/build-world.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { until } from '../helpers/until.js';

const EXAMPLES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples');
const OURS: SecretKey = { id: 'ours', key: randomBytes(32) };
const NEXT: SecretKey = { id: 'next', key: randomBytes(32) };
const own = new SecretKeyRing([OURS]);
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

describe('key rotation, and a rollback by a coordinator without the key', () => {
  const APP = 'node-hello';
  const dir = join(EXAMPLES, 'node-hello');

  async function rollback(to: number): Promise<{ id: string; info: SagaInfo }> {
    const { runtime } = world.coordinator;
    const { id } = await runtime.start(ROLLBACK_MACHINE_ID, { app: APP, to }, { id: newRollbackId(APP) });
    return { id, info: await runtime.wait(id, { timeoutMs: 120_000 }) };
  }

  /** What node-hello answers: its GREETING, here a secret, so the answer shows it was decrypted. */
  async function greeting(version: number): Promise<string | undefined> {
    const answer = await askApp(world, APP, version).catch(() => undefined);
    return answer?.status === 200 ? (JSON.parse(answer.body) as { greeting: string }).greeting : undefined;
  }

  /** The id of the key the version's GREETING is sealed with. */
  async function keyOf(version: number): Promise<string | undefined> {
    const { entities } = world.coordinator.builds;
    const v = await entities.versions.get(APP, version);
    return (await entities.configs.get(APP, v!.configVersion!))?.secrets?.GREETING?.$secret.split(':')[1];
  }

  /** What a refused rollback must leave as it was. */
  async function live(): Promise<unknown> {
    const { entities, controller } = world.coordinator.builds;
    return {
      active: (await entities.apps.get(APP))?.activeVersion,
      versions: (await entities.versions.list(APP)).map((v) => [v.version, v.status]),
      running: controller.list().map((s) => s.id).filter((id) => id.startsWith(`${APP}-`)),
      lock: await entities.locks.get(APP),
    };
  }

  it('after a rotation the new key seals new deploys; the old one, kept, still opens earlier versions to restart and roll back to', async () => {
    const v1 = await world.deploy({ app: APP, dir, secretEnv: { GREETING: 'sealed by ours' } });
    expect(v1.info.status, JSON.stringify(v1.info)).toBe('completed');
    expect(await greeting(1)).toBe('sealed by ours');

    await world.restart({ secrets: new SecretKeyRing([NEXT, OURS]) });
    // v1 is started again after the restart, with its secret opened by the old key.
    await until(async () => (await greeting(1)) === 'sealed by ours', 60_000, 'v1 answering again');
    const v2 = await world.deploy({ app: APP, dir, secretEnv: { GREETING: 'sealed by next' } });
    expect(v2.info.status, JSON.stringify(v2.info)).toBe('completed');
    expect([await keyOf(1), await keyOf(2)]).toEqual(['ours', 'next']);
    expect(await greeting(2)).toBe('sealed by next');

    const back = await rollback(1);
    expect(back.info.status, JSON.stringify(back.info)).toBe('completed');
    expect(await greeting(1)).toBe('sealed by ours');
    const forward = await rollback(2);
    expect(forward.info.status, JSON.stringify(forward.info)).toBe('completed');
    expect(await greeting(2)).toBe('sealed by next');
  }, 480_000);

  it('a coordinator without the key a version was sealed with refuses a rollback to it with SECRETS_KEY_MISSING, changing nothing', async () => {
    await world.restart({ secrets: new SecretKeyRing([NEXT]) });
    await until(async () => (await greeting(2)) === 'sealed by next', 60_000, 'v2 answering again');
    const before = await live();
    expect(before).toMatchObject({ active: 2, running: [`${APP}-v2`], lock: null });

    const refused = await rollback(1);
    expect(refused.info.status, JSON.stringify(refused.info)).toBe('compensated');
    const errors = (await progressOf(refused.id)).filter((r) => r.kind === 'error');
    expect(errors).toEqual([expect.objectContaining({ step: 'check', code: 'SECRETS_KEY_MISSING' })]);
    const message = String(errors[0]!.message);
    expect(message).toContain(`secret GREETING of app "${APP}"`);
    expect(message).toContain('"ours"');
    expect(message).toContain('--secrets-key-file');
    // Terminal: checked once, nothing started; what runs and what is active are as they were.
    const steps = world.calls.filter((x) => x.sagaId === refused.id).map((x) => x.step);
    expect(steps.filter((s) => s === 'checkRollbackTarget')).toHaveLength(1);
    expect(steps).not.toContain('startSandbox');
    expect(await live()).toEqual(before);
    expect(await greeting(2)).toBe('sealed by next');

    // Nothing was lost: with the old key back, the same rollback goes through.
    await world.restart({ secrets: new SecretKeyRing([NEXT, OURS]) });
    const again = await rollback(1);
    expect(again.info.status, JSON.stringify(again.info)).toBe('completed');
    expect(await greeting(1)).toBe('sealed by ours');
  }, 480_000);
});
