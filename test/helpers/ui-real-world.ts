/**
 * The visualizer against the real thing, for the browser tests (and the README screenshot): a
 * nats-server, a docker-registry (stopped at first, so that a build waits for it), a
 * coordinator child process (test/fixtures/ui-coordinator.ts: builds, the tidy test saga, the
 * service API) that the test SIGKILLs and starts again, and `jetsaga ui --nats … --port …` as
 * a child process of its own — so the page's server outlives the coordinator's restarts, as a
 * developer's would. Sagas made for the page, each by the means a user has:
 *
 * - a build of examples/static-site (`JetsagaClient.deploy`, what `jetsaga deploy` does) held in
 *   `prepare`: its image branch waits for the registry, its config branch is held at the
 *   Procfile (past its `addons` step, whose postgres-addon child saga is held for it);
 *   `advance()` moves it on one real event at a time (the registry comes back, then held steps are
 *   let go), never as far as starting a sandbox;
 * - tidy sagas blocked on a failing undo (one each for retry, skip and abandon), one completed
 *   (forkable), and fresh ones held at every step (`startSaga`);
 * - a build cancelled while held, exported with `jetsaga sagas export` to a file: the bundle,
 *   and the build whose forks after the init entry are refused (FORK_COPIES_OWNED_STEP).
 *
 * Everything it starts is stopped by `close()`, which runs every step even if one fails.
 */
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { childSagaId } from '../../src/runtime/child-id.js';
import { JetsagaClient } from '../../src/service/client.js';
import { CLI } from './cli.js';
import { spawnCoordinator, type CoordinatorProc } from './coordinator-proc.js';
import { freePort, startNatsServer } from './nats-server.js';
import { startRegistry } from './registry.js';
import { exitsOnItsOwn, spawnTs, type TsChild } from './ts-child.js';
import type { UiWorld, WatchedSaga } from './ui-world.js';
import { until } from './until.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/ui-coordinator.ts', import.meta.url));
const STATIC_SITE = fileURLToPath(new URL('../../examples/static-site', import.meta.url));
/** Nothing from the machine's environment may point a child at another NATS or registry. */
const CLEAN_ENV = { JETSAGA_NATS_URL: '', JETSAGA_REGISTRY: '', JETSAGA_NATS_PORT: '', JETSAGA_REGISTRY_PORT: '' };
/** Short, so that a restarted coordinator takes its sagas back soon after its predecessor's SIGKILL. */
const LEASE_TTL_MS = 2_000;
const WAIT_MS = 60_000;
const UI_LINE = /^ {2}ui {8}(http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]+)$/;

export const RUNNING_BUILD = 'hello-ui';
export const CANCELLED_BUILD = 'blog-ui';
const TIDY_DONE = 'tidy-done';
const BLOCKED = { retry: 'tidy-blocked-retry', skip: 'tidy-blocked-skip', abandon: 'tidy-blocked-abandon' } as const;

export interface RealUiWorld extends UiWorld {
  readonly namespace: string;
  readonly natsUrl: string;
  readonly client: JetsagaClient;
  /** The stderr tails of the coordinator and `jetsaga ui` processes, to explain a failure. */
  stderr(): string;
  /** `jetsaga ui --offline` on its own (no NATS, no coordinator): its page URL; stopped by `close()` too. */
  startOffline(): Promise<{ readonly pageUrl: string; close(): Promise<void> }>;
}

/** A `jetsaga` CLI child process that serves until killed; its page URL from the line it prints. */
async function startUi(args: readonly string[]): Promise<{ child: TsChild; pageUrl: string }> {
  const child = spawnTs(CLI, ['ui', ...args], { JETSAGA_LOG: 'warn', ...CLEAN_ENV });
  try {
    const line = await child.waitForLine(UI_LINE, WAIT_MS);
    return { child, pageUrl: UI_LINE.exec(line)![1]! };
  } catch (e) {
    await child.kill();
    throw e;
  }
}

/** `namespace`: the coordinators' namespace (default: one per test process). */
export async function startRealUiWorld(options: { namespace?: string } = {}): Promise<RealUiWorld> {
  const cleanups: Array<() => Promise<unknown>> = [];
  const close = async (): Promise<void> => {
    // Last started, first stopped; every step runs even if one before it failed.
    for (const step of cleanups.reverse().splice(0)) await step().catch(() => undefined);
  };
  try {
    return await build(options.namespace ?? `uireal${process.pid}`, cleanups, close);
  } catch (e) {
    await close();
    throw e;
  }
}

async function build(namespace: string, cleanups: Array<() => Promise<unknown>>, close: () => Promise<void>): Promise<RealUiWorld> {
  const tmp = await mkdtemp(join(tmpdir(), 'jetsaga-ui-real-'));
  cleanups.push(() => rm(tmp, { recursive: true, force: true }));
  const holdDir = join(tmp, 'holds');
  const gateDir = join(tmp, 'gates');
  await Promise.all([mkdir(holdDir), mkdir(gateDir)]);

  const [nats, registry] = await Promise.all([startNatsServer(), startRegistry()]);
  cleanups.push(() => nats.stop(), () => registry.stop());
  // Down from the start: the build waits for it (the coordinator's other dependencies are ready).
  await registry.kill();

  const fixtureEnv = { UI_FIXTURE: JSON.stringify({ registry: `127.0.0.1:${registry.port}`, dataDir: join(tmp, 'coordinator'), holdDir }) };
  let coordinator: CoordinatorProc | undefined;
  const startCoordinator = async (): Promise<CoordinatorProc> => {
    const proc = spawnCoordinator({ url: nats.url, namespace, owner: 'ui-c1', leaseTtlMs: LEASE_TTL_MS, script: FIXTURE, env: fixtureEnv });
    coordinator = proc;
    await proc.ready;
    return proc;
  };
  cleanups.push(() => coordinator?.kill() ?? Promise.resolve());

  const uiPort = await freePort();
  const [, ui] = await Promise.all([startCoordinator(), startUi(['--nats', nats.url, '--namespace', namespace, '--port', String(uiPort)])]);
  cleanups.push(() => ui.child.kill());

  const nc: NatsConnection = await connect({ servers: nats.url });
  cleanups.push(() => nc.close());
  const client = JetsagaClient.connect(nc, { namespace });

  const hold = (saga: string, step: string): string => join(holdDir, `${saga}.${step}`);
  const holdAt = (saga: string, steps: readonly string[]): Promise<unknown> => Promise.all(steps.map((s) => writeFile(hold(saga, s), '')));
  const release = (saga: string, step: string): Promise<void> => unlink(hold(saga, step));
  const tidy = (sagaId: string, input: unknown): Promise<unknown> => coordinator!.request({ op: 'start', sagaId, input });
  const entryNo = async (id: string): Promise<number> => (await client.getSaga(id)).entryNo;
  const waitFor = async (id: string, what: string, pred: (s: Awaited<ReturnType<JetsagaClient['getSaga']>>) => boolean): Promise<void> =>
    until(async () => pred(await client.getSaga(id).catch(() => null as never)), WAIT_MS, `${id}: ${what}`);
  /** Runs `move` and resolves once the saga has journaled at least one entry more. */
  const moved = async (id: string, move: () => Promise<unknown>): Promise<void> => {
    const before = await entryNo(id);
    await move();
    await until(async () => (await entryNo(id).catch(() => before)) > before, WAIT_MS, `${id} to move on`);
  };

  // The build the page watches: the image branch waits for the registry, the config branch is
  // held at the Procfile; it goes no further than `version` (no sandbox is ever started).
  await holdAt(RUNNING_BUILD, ['readProcfile', 'buildImage', 'createVersion']);
  // The build to export: held at its onbuild step, then cancelled (undone without the registry).
  await holdAt(CANCELLED_BUILD, ['runOnbuild']);
  const brokenUndo = (id: string): string => join(tmp, `${id}.broken`);
  await Promise.all(Object.values(BLOCKED).map((id) => writeFile(brokenUndo(id), '')));
  await Promise.all([
    client.deploy(STATIC_SITE, { app: 'hello', id: RUNNING_BUILD }),
    client.deploy(STATIC_SITE, { app: 'blog', id: CANCELLED_BUILD }),
    tidy(TIDY_DONE, {}),
    ...Object.values(BLOCKED).map((id) => tidy(id, { failVerify: true, brokenUndo: { unpublish: brokenUndo(id) } })),
  ]);
  const bundleFile = join(tmp, `${CANCELLED_BUILD}.json`);
  await Promise.all([
    waitFor(RUNNING_BUILD, 'waiting for the registry, its Procfile step pending', (s) => JSON.stringify(s.state).includes('await_registry') && (s.pending ?? []).some((p) => p.id === 'procfile')),
    (async () => {
      await waitFor(CANCELLED_BUILD, 'held at onbuild', (s) => (s.pending ?? []).some((p) => p.id === 'onbuild'));
      await client.cancelSaga(CANCELLED_BUILD);
      await waitFor(CANCELLED_BUILD, 'cancelled', (s) => s.status === 'cancelled');
      const exported = spawnTs(CLI, ['sagas', 'export', CANCELLED_BUILD, '--nats', nats.url, '--namespace', namespace], { JETSAGA_LOG: 'warn', ...CLEAN_ENV });
      const { code } = await exitsOnItsOwn(exported, WAIT_MS);
      if (code !== 0) throw new Error(`jetsaga sagas export exited ${code}: ${exported.stderr()}`);
      await writeFile(bundleFile, `${exported.lines.join('\n')}\n`);
    })(),
    waitFor(TIDY_DONE, 'completed', (s) => s.status === 'completed'),
    ...Object.values(BLOCKED).map((id) => waitFor(id, 'blocked', (s) => s.status === 'blocked')),
  ]);

  // One real input each: the registry comes back (the build is told, and starts its image,
  // held); the Procfile is read (the config branch runs to its end); the image is built and
  // pushed (it stops at `version`, held).
  const advances: Array<() => Promise<void>> = [() => registry.restart(), () => release(RUNNING_BUILD, 'readProcfile'), () => release(RUNNING_BUILD, 'buildImage')];
  let watched = 0;
  const offline: TsChild[] = [];
  cleanups.push(() => Promise.all(offline.map((c) => c.kill())));

  return {
    pageUrl: ui.pageUrl,
    pageUrlWithoutToken: ui.pageUrl.replace(/\?token=.*$/, ''),
    runningSaga: RUNNING_BUILD,
    blockedSaga: BLOCKED.retry,
    blockedForSkip: BLOCKED.skip,
    blockedForAbandon: BLOCKED.abandon,
    bundleFile,
    bundleSaga: CANCELLED_BUILD,
    forkable: { saga: TIDY_DONE, from: 2 },
    // Its config branch ran the addons step: a postgres-addon child, held until the build ends.
    nested: { parent: RUNNING_BUILD, child: childSagaId(RUNNING_BUILD, 'addons'), step: 'addons', state: 'build.prepare.config.addons.running' },
    forkRefused: { saga: CANCELLED_BUILD, from: 3, code: 'FORK_COPIES_OWNED_STEP' },
    namespace,
    natsUrl: nats.url,
    client,
    async advance() {
      const next = advances.shift();
      if (!next) throw new Error(`${RUNNING_BUILD} has no more held inputs to let go`);
      await moved(RUNNING_BUILD, next);
    },
    async coordinatorDown() {
      await coordinator?.kill();
    },
    async coordinatorUp() {
      await startCoordinator();
    },
    async mendBlocked(sagaId: string) {
      await rm(brokenUndo(sagaId), { force: true });
    },
    async startSaga(): Promise<WatchedSaga> {
      const id = `tidy-watched-${++watched}`;
      const steps = ['reserve', 'provision', 'publish', 'verify'];
      const gate = (step: string): string => join(gateDir, `${id}.${step}`);
      await tidy(id, { holdUntil: Object.fromEntries(steps.map((s) => [s, gate(s)])) });
      return {
        id,
        steps: steps.length,
        async step() {
          const next = steps.shift();
          if (!next) throw new Error(`${id} has no held step left`);
          await moved(id, () => writeFile(gate(next), ''));
        },
      };
    },
    stderr: () => `--- coordinator (pid ${coordinator?.pid}):\n${coordinator?.stderr() ?? ''}\n--- jetsaga ui (pid ${ui.child.pid}):\n${ui.child.stderr().slice(-8_000)}`,
    async startOffline() {
      const { child, pageUrl } = await startUi(['--offline', '--port', '0']);
      offline.push(child);
      return { pageUrl, close: () => child.kill() };
    },
    close,
  };
}
