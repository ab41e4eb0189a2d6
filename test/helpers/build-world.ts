/**
 * An in-process coordinator running the build saga against a real nats-server and a real
 * docker-registry, with a switch to make any step fail after it applied (fault injection), and
 * the checks a deploy test makes: wait for a build, ask a running version over HTTP, read what
 * the registry holds.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deploy, type DeployRequest } from '../../src/build/deploy.js';
import { loadConfig } from '../../src/config.js';
import { Coordinator } from '../../src/coordinator.js';
import { TerminalError } from '../../src/errors.js';
import type { SagaInfo, StepFn } from '../../src/runtime/types.js';
import type { SecretKeyRing } from '../../src/secrets/index.js';

export interface BuildWorld {
  /** The current coordinator (a new one after `restart`). */
  readonly coordinator: Coordinator;
  readonly dataDir: string;
  /** Step implementation names called, in order, with the saga that called them. */
  readonly calls: Array<{ step: string; sagaId: string }>;
  /** The step (implementation name) that fails, terminally, right after it applied; undefined: none. */
  failAfter: string | undefined;
  /**
   * The next call of `step` waits (before it runs) until `release`; `reached` gives its saga id.
   * If the saga leaves the step meanwhile (a cancel), the call ends there, aborted, like a step
   * that honours its signal.
   */
  holdAt(step: string): { reached: Promise<string>; release(): void };
  deploy(request: DeployRequest): Promise<{ id: string; info: SagaInfo }>;
  /**
   * Stops the coordinator (its sandboxes stop with it) and boots a new one on the same namespace
   * and data dir; with `secrets`, holding that key ring from then on (a rotated or lost key).
   */
  restart(opts?: { secrets?: SecretKeyRing }): Promise<void>;
  stop(): Promise<void>;
}

let worlds = 0;

/** `service`: the coordinator also answers the service API (in its namespace, `world.coordinator.config.namespace`). */
/** `addonPostgres`: the coordinator makes app addons on this PostgreSQL server (config `addonPostgres`). */
export async function startBuildWorld(
  natsUrl: string,
  registryPort: number,
  opts: { lockTtlMs?: number; service?: boolean; secrets?: SecretKeyRing; addonPostgres?: string } = {},
): Promise<BuildWorld> {
  const dataDir = await mkdtemp(join(tmpdir(), 'jetsaga-build-'));
  const namespace = `b${process.pid}x${worlds++}`;
  const calls: Array<{ step: string; sagaId: string }> = [];
  const holds = new Map<string, { reach: (sagaId: string) => void; released: Promise<void> }>();
  const world = {
    failAfter: undefined as string | undefined,
    holdAt(step: string) {
      let reach!: (sagaId: string) => void;
      let release!: () => void;
      const reached = new Promise<string>((r) => (reach = r));
      const released = new Promise<void>((r) => (release = r));
      holds.set(step, { reach, released });
      return { reached, release };
    },
  };
  const wrapStep =
    (name: string, fn: StepFn): StepFn =>
    async (input, ctx) => {
      calls.push({ step: name, sagaId: ctx.sagaId });
      const hold = holds.get(name);
      if (hold) {
        holds.delete(name);
        hold.reach(ctx.sagaId);
        await Promise.race([hold.released, new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }))]);
        ctx.signal.throwIfAborted();
      }
      const out = await fn(input, ctx);
      if (world.failAfter === name) throw new TerminalError(`injected failure after ${name}`, { code: 'INJECTED' });
      return out;
    };
  const config = loadConfig({ nats: natsUrl, registry: `127.0.0.1:${registryPort}`, namespace, owner: 'builder', dataDir, addonPostgres: opts.addonPostgres }, {});
  let secrets = opts.secrets;
  const boot = async (): Promise<Coordinator> => {
    const c = new Coordinator({ config, machines: [], builds: { wrapStep, lockTtlMs: opts.lockTtlMs, secrets }, service: opts.service, healthIntervalMs: 300, recoverIntervalMs: 0 });
    try {
      await c.allReady();
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  };
  let coordinator: Coordinator;
  try {
    coordinator = await boot();
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  // Not Object.assign: it would copy the getter's current value, not the getter.
  Object.defineProperty(world, 'coordinator', { get: () => coordinator, enumerable: true });
  return Object.assign(world as typeof world & { readonly coordinator: Coordinator }, {
    dataDir,
    calls,
    async deploy(request: DeployRequest) {
      const { id } = await deploy({ runtime: coordinator.runtime, sources: coordinator.builds.sources, secrets: coordinator.builds.secrets }, request);
      const info = await coordinator.runtime.wait(id, { timeoutMs: 240_000 });
      return { id, info };
    },
    async restart(restartOpts: { secrets?: SecretKeyRing } = {}) {
      await coordinator.stop();
      if (restartOpts.secrets) secrets = restartOpts.secrets;
      coordinator = await boot();
    },
    async stop() {
      await coordinator.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  });
}

/** GET `path` of the app's running version; the sandbox record gives its port. */
export async function askApp(world: BuildWorld, app: string, version: number, path = '/'): Promise<{ status: number; body: string }> {
  const sandbox = (await world.coordinator.builds.entities.sandboxes.list(app)).find((s) => s.version === version);
  if (!sandbox?.port) throw new Error(`no running sandbox of ${app} v${version}`);
  const res = await fetch(`http://127.0.0.1:${sandbox.port}${path}`);
  return { status: res.status, body: await res.text() };
}
