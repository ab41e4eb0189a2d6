/**
 * The coordinator's boot graph against real processes: a real nats-server, a real
 * docker-registry, coordinators as child processes killed with SIGKILL.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReadinessRecord } from '../../src/boot/readiness-bus.js';
import { loadConfig } from '../../src/config.js';
import { Coordinator } from '../../src/coordinator.js';
import { connectNats } from '../../src/nats/connect.js';
import { openNatsKvStore } from '../../src/journal/nats-kv-store.js';
import { natsNames } from '../../src/runtime/nats-stores.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { pushBinding } from '../fixtures/push-saga.js';
import { readCalls, until } from '../helpers/coordinator-proc.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';
import { startRegistry, type RegistryHandle } from '../helpers/registry.js';
import { spawnTs } from '../helpers/ts-child.js';

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'push-coordinator.ts');

let server: NatsServerHandle;
let registry: RegistryHandle;
let nc: NatsConnection;
let tmp: string;

beforeAll(async () => {
  [server, registry] = await Promise.all([startNatsServer(), startRegistry()]);
  nc = await connectNats({ servers: server.url });
  tmp = await mkdtemp(join(tmpdir(), 'jetsaga-coordinator-'));
});
afterAll(async () => {
  await nc?.close();
  await Promise.all([server?.stop(), registry?.stop()]);
  await rm(tmp, { recursive: true, force: true });
});

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.ts');

/** `expectCode`: 0 while all is well, 1 (unhealthy) once a coordinator shown has stopped. */
async function bootStatusJson(namespace: string, expectCode = 0): Promise<Array<ReadinessRecord & { coordinatorRunning: boolean | null }>> {
  const c = spawnTs(CLI, ['boot', 'status', '--json', '--nats', server.url, '--namespace', namespace], { JETSAGA_LOG: 'silent' });
  const { code } = await c.exited;
  if (code !== expectCode) throw new Error(`boot status exited ${code}: ${c.stderr()}`);
  return JSON.parse(c.lines.join('\n')) as Array<ReadinessRecord & { coordinatorRunning: boolean | null }>;
}

const registryAnswers = (): Promise<boolean> =>
  fetch(`${registry.url}/v2/`).then(
    (r) => r.ok,
    () => false,
  );

const bootBuckets = new Map<string, ReturnType<typeof openNatsKvStore>>();

/**
 * A dependency's readiness record, read by its key. Not `readReadiness`: it lists the bucket's
 * keys, and on nats-server 2.9 that listing can hang for good when a record is rewritten
 * meanwhile (reported), which a dependency in backoff does every few seconds.
 */
async function readinessOf(namespace: string, coordinator: string, name: string): Promise<ReadinessRecord | undefined> {
  let kv = bootBuckets.get(namespace);
  if (!kv) bootBuckets.set(namespace, (kv = openNatsKvStore(nc, natsNames(namespace).bootBucket, { history: 1 })));
  const entry = await (await kv).get(`${coordinator}.${name}`);
  return entry ? (JSON.parse(new TextDecoder().decode(entry.value)) as ReadinessRecord) : undefined;
}

const observer = (namespace: string): Promise<Runtime> =>
  createRuntime({ servers: server.url, namespace, owner: 'observer', machines: [pushBinding()], recoverOnStart: false, recoverIntervalMs: 0 });

describe('coordinator boot graph', () => {
  it('a saga waiting on the registry waits out an outage across a restart, then completes without compensating', async (ctx) => {
    const namespace = 'regwait';
    const callsFile = join(tmp, 'regwait.jsonl');
    const spec = { url: server.url, namespace, owner: 'c1', registry: `127.0.0.1:${registry.port}`, dataDir: join(tmp, 'c1'), callsFile };
    ctx.onTestFinished(async () => {
      if (!(await registryAnswers())) await registry.restart();
    });

    // First life: the saga is inside `prepare` (a long step) when the coordinator dies.
    const first = spawnTs(FIXTURE, [], { PUSH_COORDINATOR: JSON.stringify({ ...spec, prepareDelayMs: 600_000, start: 'd1' }) });
    ctx.onTestFinished(() => first.kill());
    await first.waitForLine('ready');
    await until(() => readCalls(callsFile).some((c) => c.step === 'prepare'), 'prepare started');
    await registry.kill();
    await first.kill();

    // Second life: boot completes although the registry is down (admission does not wait for it).
    const second = spawnTs(FIXTURE, [], { PUSH_COORDINATOR: JSON.stringify({ ...spec, prepareDelayMs: 0 }) });
    try {
      await second.waitForLine('ready');
      expect((await readinessOf(namespace, 'c1', 'admission'))?.ready).toBe(true);
      expect((await readinessOf(namespace, 'c1', 'registry'))?.ready).toBe(false);

      // The recovered saga re-runs prepare, then waits for the registry in a state of its own.
      const obs = await observer(namespace);
      try {
        await until(async () => JSON.stringify((await obs.get('d1')).state) === '{"push":"await_registry"}', 'saga waits for the registry');
        // It keeps waiting while the coordinator finds the registry down again and again: it
        // neither tries the push nor gives up.
        const registryFailures = async (): Promise<number> => (await readinessOf(namespace, 'c1', 'registry'))?.failures ?? 0;
        const failuresThen = await registryFailures();
        await until(async () => (await registryFailures()) >= failuresThen + 3, 'three more failed registry checks', 60_000);
        const info = await obs.get('d1');
        expect(info.status).toBe('running');
        expect(info.state).toEqual({ push: 'await_registry' });
        // (The restart fenced the killed process off with a takeover marker before acting.)
        expect((await obs.events('d1')).map((e) => e.event?.type ?? (e.takeover ? 'takeover' : 'init'))).toEqual(['init', 'takeover', 'xstate.done.actor.prepare']);
        expect(readCalls(callsFile).filter((c) => c.step === 'push')).toEqual([]);

        await registry.restart();
        const done = await obs.wait('d1', { timeoutMs: 60_000 });
        expect(done.status).toBe('completed');

        const calls = readCalls(callsFile);
        const prepares = calls.filter((c) => c.step === 'prepare');
        // The interrupted attempt re-ran with the same idempotency key.
        expect(new Set(prepares.map((c) => c.key)).size).toBe(1);
        expect(prepares.filter((c) => c.outcome === 'ok')).toHaveLength(1);
        expect(calls.filter((c) => c.step === 'push' && c.outcome === 'ok')).toHaveLength(1);
        expect(calls.filter((c) => c.step === 'unprepare' || c.step === 'unpush')).toEqual([]);
        const types = (await obs.events('d1')).map((e) => e.event?.type).filter(Boolean);
        expect(types.filter((t) => t!.startsWith('xstate.error'))).toEqual([]);
        expect(types.filter((t) => t === 'boot.ready')).toHaveLength(1);
      } finally {
        await obs.close();
      }
    } finally {
      await second.kill();
    }
  }, 120_000);

  it('a registry lost while running re-gates sagas that need it until it is back', async () => {
    const namespace = 'regate';
    const config = loadConfig({ nats: server.url, registry: `127.0.0.1:${registry.port}`, namespace, owner: 'c3', dataDir: join(tmp, 'c3') }, {});
    let pushes = 0;
    const coordinator = new Coordinator({ config, machines: [pushBinding({ push: () => ({ n: ++pushes }) })], recoverIntervalMs: 0, healthIntervalMs: 200 });
    try {
      await coordinator.allReady();
      await coordinator.runtime.start('push', {}, { id: 'g1' });
      expect((await coordinator.runtime.wait('g1')).status).toBe('completed');

      await registry.kill();
      await until(() => !coordinator.graph.isReady('registry'), 'registry seen lost', 30_000);
      const registryRecord = (): Promise<ReadinessRecord | undefined> => readinessOf(namespace, 'c3', 'registry');
      await until(async () => (await registryRecord())?.ready === false, 'the bucket shows the registry lost', 30_000);

      await coordinator.runtime.start('push', {}, { id: 'g2' });
      await until(async () => JSON.stringify((await coordinator.runtime.get('g2')).state) === '{"push":"await_registry"}', 'g2 waits');
      await new Promise((r) => setTimeout(r, 500));
      expect(pushes).toBe(1);

      await registry.restart();
      expect((await coordinator.runtime.wait('g2', { timeoutMs: 60_000 })).status).toBe('completed');
      expect(pushes).toBe(2);
      await until(async () => (await registryRecord())?.ready === true, 'the bucket shows the registry back', 30_000);
    } finally {
      await coordinator.stop();
      if (!(await registryAnswers())) await registry.restart();
    }
  }, 120_000);

  it('marks nats lost while the server is away and ready again once it is back; work goes on', async () => {
    const namespace = 'natsaway';
    const config = loadConfig({ nats: server.url, registry: `127.0.0.1:${registry.port}`, namespace, owner: 'c4', dataDir: join(tmp, 'c4') }, {});
    const coordinator = new Coordinator({ config, machines: [pushBinding()], recoverIntervalMs: 0, healthIntervalMs: 200 });
    const states: string[] = [];
    coordinator.graph.onChange((s) => s.name === 'nats' && states.push(s.state));
    let serverDown = false;
    try {
      await coordinator.allReady();
      serverDown = true;
      await server.kill();
      await until(() => !coordinator.graph.isReady('nats'), 'nats seen lost', 30_000);
      // A start while NATS is away fails with a typed, retryable error (or succeeds if NATS
      // returns in time); starting is idempotent by id, so the caller retries and nothing is lost.
      const during = coordinator.runtime.start('push', {}, { id: 'n1' }).then(
        () => 'started',
        (e: { code?: string; retryable?: boolean }) => `${e.code}:${e.retryable}`,
      );
      await server.restart();
      serverDown = false;
      await until(() => coordinator.graph.isReady('nats') && coordinator.graph.isReady('jetstream'), 'nats and jetstream ready again', 60_000);
      const outcome = await during;
      expect(['started', 'JOURNAL_UNAVAILABLE:true']).toContain(outcome);
      await coordinator.runtime.start('push', {}, { id: 'n1' });
      expect((await coordinator.runtime.wait('n1', { timeoutMs: 60_000 })).status).toBe('completed');
      expect((await coordinator.runtime.events('n1')).filter((e) => e.init)).toHaveLength(1);
      expect(states).toContain('lost');
      expect(states.at(-1)).toBe('ready');
    } finally {
      await coordinator.stop();
      // The tests after this one need the server.
      if (serverDown) await server.restart();
    }
  }, 120_000);

  it('begins recovery only after work admission', async () => {
    const namespace = 'order';
    // A saga left mid-step by an earlier life of coordinator c2.
    const previous = await createRuntime({ servers: server.url, namespace, owner: 'c2', machines: [pushBinding({ prepare: () => new Promise(() => undefined) })], recoverIntervalMs: 0 });
    await previous.start('push', {}, { id: 'r1' });
    await previous.close({ graceful: false });

    const seen: ReadinessRecord[] = [];
    const sub = nc.subscribe(`${natsNames(namespace).bootPrefix}.c2.>`, { callback: (_e, m) => void seen.push(m.json<ReadinessRecord>()) });
    await nc.flush();
    const config = loadConfig({ nats: server.url, registry: `127.0.0.1:${registry.port}`, namespace, owner: 'c2', dataDir: join(tmp, 'c2') }, {});
    const coordinator = new Coordinator({ config, machines: [pushBinding()], recoverIntervalMs: 0 });
    // One record per dependency of c2's graph, the only coordinator on this namespace.
    const everyDependency = [...coordinator.graph.plan.deps.keys()].map((name) => `c2/${name}`).sort();
    const recordsOf = (rs: readonly ReadinessRecord[]): string[] => rs.map((r) => `${r.coordinator}/${r.name}`).sort();
    try {
      await coordinator.start();
      expect((await coordinator.runtime.wait('r1', { timeoutMs: 60_000 })).status).toBe('completed');
      await nc.flush();
      const admitted = seen.findIndex((r) => r.name === 'admission' && r.ready);
      const recoveryMoved = seen.findIndex((r) => r.name === 'recovery' && r.state !== 'pending');
      expect(admitted).toBeGreaterThanOrEqual(0);
      expect(recoveryMoved).toBeGreaterThan(admitted);
      expect(coordinator.graph.plan.ancestors.get('recovery')?.has('admission')).toBe(true);

      const running = await bootStatusJson(namespace);
      expect(recordsOf(running)).toEqual(everyDependency);
      expect(running.every((r) => r.coordinatorRunning === true && r.ready)).toBe(true);
    } finally {
      sub.unsubscribe();
      await coordinator.stop();
    }
    // After a stop its last report stays readable, marked as coming from a stopped coordinator
    // (and, as a health check, unhealthy).
    const stopped = await bootStatusJson(namespace, 1);
    expect(recordsOf(stopped)).toEqual(everyDependency);
    expect(stopped.every((r) => r.coordinatorRunning === false)).toBe(true);
    const table = spawnTs(CLI, ['boot', 'status', '--nats', server.url, '--namespace', namespace], { JETSAGA_LOG: 'silent' });
    expect((await table.exited).code).toBe(1);
    expect(table.lines.join('\n')).toMatch(/coordinator "c2" is not running/);
  }, 120_000);
});
