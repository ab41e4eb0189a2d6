/**
 * Several coordinator processes sharing one namespace on a three-node nats-server cluster
 * (every stream and bucket with three replicas), each test with 100 or more sagas in flight:
 * a SIGKILL of the journal stream's leader node, a SIGKILLed coordinator, a coordinator frozen
 * past its lease (SIGSTOP, then SIGCONT) and a coordinator stopped gracefully (SIGTERM). Every
 * saga completes once; what each test asserts comes from the journals, the lease records and
 * the step calls the children record, never from the test's clock.
 */
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { connectNats } from '../../src/nats/connect.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import { decode, type CoordinatorRecord } from '../../src/runtime/coordinator-lease.js';
import { natsNames } from '../../src/runtime/nats-stores.js';
import type { JournalView, Runtime } from '../../src/runtime/runtime.js';
import type { SagaInfo } from '../../src/runtime/types.js';
import { orderBinding } from '../fixtures/order-saga.js';
import { killAllCoordinators, spawnCoordinator, until, type CallRecord, type CoordinatorProc, type CoordinatorSpec } from '../helpers/coordinator-proc.js';
import { gate } from '../helpers/gate.js';
import { doneActors, expectWellFormed, resultsOf, takeoversOf } from '../helpers/journal-checks.js';
import { startNatsCluster, type NatsClusterHandle } from '../helpers/nats-cluster.js';

const SAGAS = 120;
const STEP_OF: Record<string, string> = { reserve: 'reserveStock', charge: 'chargeCard', ship: 'shipOrder', notify: 'notifyCustomer' };

let cluster: NatsClusterHandle;
let nc: NatsConnection;
let jsm: JetStreamManager;

beforeAll(async () => {
  cluster = await startNatsCluster();
  nc = await connectNats({ servers: cluster.servers, name: 'cluster-coordinators-test' });
  jsm = await jetstreamManager(nc, { timeout: 5_000 });
}, 60_000);

afterAll(async () => {
  await killAllCoordinators();
  await nc?.close();
  await cluster?.stop();
}, 60_000);

interface World {
  readonly namespace: string;
  /** Reads only (`wait`, `events`): it never recovers, so it never takes a saga over. */
  readonly observer: Runtime;
  coordinator(spec: Omit<CoordinatorSpec, 'url' | 'namespace' | 'replicas'>): Promise<CoordinatorProc>;
  lease(owner: string): Promise<CoordinatorRecord>;
}

let nsCounter = 0;

/** A fresh namespace with three replicas, an observer, and coordinators killed when the test ends. */
async function world(ctx: TestContext): Promise<World> {
  const namespace = `cc${process.pid}x${nsCounter++}`;
  const observer = await createRuntime({ servers: cluster.servers, namespace, owner: 'observer', replicas: 3, machines: [orderBinding()], recoverOnStart: false, recoverIntervalMs: 0 });
  const procs: CoordinatorProc[] = [];
  ctx.onTestFailed(() => {
    for (const p of procs) console.error(`--- coordinator ${p.owner} (pid ${p.pid}) stderr tail:\n${p.stderr()}`);
  });
  ctx.onTestFinished(async () => {
    await Promise.all(procs.map((p) => p.kill()));
    await observer.close();
  });
  const kv = natsNames(namespace).coordinatorsBucket;
  return {
    namespace,
    observer,
    async coordinator(spec) {
      const p = spawnCoordinator({ ...spec, url: cluster.servers, namespace, replicas: 3 });
      procs.push(p);
      await p.ready;
      return p;
    },
    async lease(owner) {
      const m = await jsm.streams.getMessage(`KV_${kv}`, { last_by_subj: `$KV.${kv}.${owner}` });
      const rec = m && decode(m.data);
      if (!rec) throw new Error(`no lease record for ${owner}`);
      return rec;
    },
  };
}

const ids = (prefix: string): string[] => Array.from({ length: SAGAS }, (_, i) => `${prefix}${i}`);
const startedSteps = (calls: readonly CallRecord[], step: string): Set<string> => new Set(calls.filter((c) => c.step === step && c.outcome === 'start').map((c) => c.sagaId));

/** Starts the sagas spread over the coordinators (round robin), all at once. */
async function startAll(procs: readonly CoordinatorProc[], sagaIds: readonly string[], input: (id: string) => unknown): Promise<void> {
  await Promise.all(sagaIds.map((id, i) => procs[i % procs.length]!.request({ op: 'start', sagaId: id, input: input(id) })));
}

/**
 * `observer.wait`, again after a transient error: a read caught in a leader election (the
 * observer's node killed, or the index stream's leader) times out rather than waits.
 */
async function waitThroughElections(observer: Runtime, id: string): Promise<SagaInfo> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await observer.wait(id, { timeoutMs: 90_000 });
    } catch (e) {
      if ((e as { retryable?: boolean }).retryable !== true || attempt >= 20) throw e;
    }
  }
}

/** Every saga completed; the journals well formed, with the four results once each. */
async function expectAllCompleted(observer: Runtime, sagaIds: readonly string[]): Promise<Map<string, JournalView[]>> {
  const infos = await Promise.all(sagaIds.map((id) => waitThroughElections(observer, id)));
  expect(infos.filter((i) => i.status !== 'completed').map((i) => `${i.id}:${i.status}`)).toEqual([]);
  const journals = new Map<string, JournalView[]>();
  for (const id of sagaIds) {
    const journal = await observer.events(id);
    expectWellFormed(journal);
    expect(doneActors(journal), id).toEqual(['reserve', 'charge', 'ship', 'notify']);
    journals.set(id, journal);
  }
  return journals;
}

/** The journal stream holds exactly these entries: nothing landed twice beside them. */
async function expectStreamHoldsOnly(namespace: string, journals: Map<string, JournalView[]>): Promise<void> {
  const si = await jsm.streams.info(natsNames(namespace).eventsStream);
  expect(si.state.messages).toBe([...journals.values()].reduce((n, j) => n + j.length, 0));
}

/**
 * At most one successful effect per idempotency key across every process, and every run of a
 * step (re-runs after a takeover included) under the key its result was journaled with.
 */
function expectEffectsOncePerKey(calls: readonly CallRecord[], journals: Map<string, JournalView[]>): void {
  const ok = calls.filter((c) => c.outcome === 'ok').map((c) => c.key);
  expect(ok.filter((k, i) => ok.indexOf(k) !== i)).toEqual([]);
  for (const [id, journal] of journals) {
    const keyOf = new Map(resultsOf(journal).map((r) => {
      const key = r.split('|')[1]!;
      return [STEP_OF[key.split(':')[2]!], key];
    }));
    for (const c of calls.filter((x) => x.sagaId === id)) expect(c.key, `${id} ${c.step}`).toBe(keyOf.get(c.step));
  }
}

describe('several coordinators on a three-node cluster', () => {
  it('a SIGKILL of the journal leader node: every saga completes once, nothing is lost or stored twice, the node rejoins', async (ctx) => {
    const w = await world(ctx);
    const procs = await Promise.all(['A', 'B', 'C'].map((owner) => w.coordinator({ owner, leaseTtlMs: 10_000, recoverIntervalMs: 500 })));
    const sagaIds = ids('lk');
    const delayMs = { reserveStock: 30, chargeCard: 30, shipOrder: 30, notifyCustomer: 30 };
    await startAll(procs, sagaIds, (id) => ({ order: id, delayMs }));
    const allCalls = (): CallRecord[] => procs.flatMap((p) => p.calls());
    const ok = (): number => allCalls().filter((c) => c.outcome === 'ok').length;
    await until(() => ok() >= SAGAS, 'a first wave of steps', 60_000);
    const events = natsNames(w.namespace).eventsStream;
    const leader = (await jsm.streams.info(events)).cluster!.leader!;
    const killed = cluster.indexOf(leader);
    await cluster.kill(killed);
    // Killed mid-flight: most steps were still to come.
    expect(ok()).toBeLessThan(SAGAS * 4);

    const journals = await expectAllCompleted(w.observer, sagaIds);
    await expectStreamHoldsOnly(w.namespace, journals);
    expectEffectsOncePerKey(allCalls(), journals);
    const after = await jsm.streams.info(events);
    expect(after.cluster?.leader).toBeDefined();
    expect(after.cluster?.leader).not.toBe(leader);

    await cluster.restart(killed);
    await until(async () => {
      const si = await jsm.streams.info(events).catch(() => null);
      return !!si?.cluster?.leader && si.cluster.replicas?.length === 2 && si.cluster.replicas.every((r) => r.current && !r.offline);
    }, 'the restarted node to catch up', 30_000);
    const rejoined = await jsm.streams.info(events);
    expect([rejoined.cluster!.leader, ...rejoined.cluster!.replicas!.map((r) => r.name)].sort()).toEqual(['n1', 'n2', 'n3']);
    expect(rejoined.state.messages).toBe(after.state.messages);
  }, 150_000);

  it("a SIGKILLed coordinator: its sagas are taken over once each after its lease lapsed, re-run under the same keys, and complete", async (ctx) => {
    const w = await world(ctx);
    // A renews every second; the others look for orphans five times a second.
    const [a, b, c] = await Promise.all([
      w.coordinator({ owner: 'A', leaseTtlMs: 3_000 }),
      w.coordinator({ owner: 'B', leaseTtlMs: 3_000, recoverIntervalMs: 200 }),
      w.coordinator({ owner: 'C', leaseTtlMs: 3_000, recoverIntervalMs: 200 }),
    ]);
    const sagaIds = ids('kc');
    // Every charge is held until A is dead: all its sagas have a step in flight when it dies.
    const charge = gate(ctx);
    await startAll([a], sagaIds, (id) => ({ order: id, holdUntil: { chargeCard: charge.path } }));
    await until(() => startedSteps(a.calls(), 'chargeCard').size === SAGAS, 'every chargeCard to start on A');
    await a.kill();
    charge.open();

    const journals = await expectAllCompleted(w.observer, sagaIds);
    const lease = await w.lease('A');
    const winners = { B: 0, C: 0 };
    for (const [id, journal] of journals) {
      const takeovers = takeoversOf(journal);
      // Exactly one winner, from A, not before A's lease had lapsed (two journaled times).
      expect(takeovers.map((t) => [t.from, t.epoch]), id).toEqual([['A', 2]]);
      expect(takeovers[0]!.at, id).toBeGreaterThanOrEqual(lease.expiresAt);
      winners[takeovers[0]!.owner as 'B' | 'C']++;
    }
    expect(winners.B + winners.C).toBe(SAGAS);
    const calls = [...a.calls(), ...b.calls(), ...c.calls()];
    // A ran no charge to the end; the winners re-ran every charge A had in flight.
    expect(a.calls().filter((x) => x.step === 'chargeCard' && x.outcome === 'ok')).toEqual([]);
    expect(startedSteps([...b.calls(), ...c.calls()], 'chargeCard').size).toBe(SAGAS);
    expectEffectsOncePerKey(calls, journals);
    await expectStreamHoldsOnly(w.namespace, journals);
  }, 120_000);

  it('a coordinator frozen past its lease (SIGSTOP, SIGCONT) is fenced: it never appends again for the sagas taken over', async (ctx) => {
    const w = await world(ctx);
    const [a, b] = await Promise.all([
      w.coordinator({ owner: 'A', leaseTtlMs: 3_000 }),
      w.coordinator({ owner: 'B', leaseTtlMs: 3_000, recoverIntervalMs: 200 }),
    ]);
    const sagaIds = ids('ss');
    const ship = gate(ctx);
    await startAll([a], sagaIds, (id) => ({ order: id, holdUntil: { shipOrder: ship.path } }));
    await until(() => startedSteps(a.calls(), 'shipOrder').size === SAGAS, 'every shipOrder to start on A');
    process.kill(a.pid, 'SIGSTOP');
    // B takes every saga over (its re-run of the ship is the sign) and completes them all.
    await until(() => startedSteps(b.calls(), 'shipOrder').size === SAGAS, 'B to take every saga over', 60_000);
    ship.open();
    const journals = await expectAllCompleted(w.observer, sagaIds);
    const counted = [...journals.values()].reduce((n, j) => n + j.length, 0);

    const lastTakeover = Math.max(...[...journals.values()].map((j) => takeoversOf(j)[0]?.at ?? Infinity));
    process.kill(a.pid, 'SIGCONT');
    // A wakes with its ship steps in flight and a lapsed lease: it stops every saga, renews, and
    // finds them all owned by B; an append of its that was on the wire fails against B's marker.
    await until(async () => (await w.lease('A')).renewedAt > lastTakeover, 'A to renew its lease after SIGCONT', 60_000);
    await until(async () => (await a.request<string[]>({ op: 'loaded' })).length === 0, 'A to drop every saga', 60_000);
    expect(startedSteps(a.calls(), 'notifyCustomer').size).toBe(0);

    for (const id of sagaIds) {
      const journal = await w.observer.events(id);
      expect(journal).toEqual(journals.get(id));
      const takeovers = takeoversOf(journal);
      expect(takeovers.map((t) => [t.owner, t.from]), id).toEqual([['B', 'A']]);
      // After the marker: exactly the results of the steps B ran (ship, notify), none of A's.
      const after = journal.filter((e) => e.entryNo > takeovers[0]!.entryNo).map((e) => STEP_OF[e.event!.type.slice('xstate.done.actor.'.length)]);
      expect(after, id).toEqual(['shipOrder', 'notifyCustomer']);
      const mine = b.calls().filter((c) => c.sagaId === id && c.outcome === 'ok').map((c) => c.step);
      expect(mine, id).toEqual(['shipOrder', 'notifyCustomer']);
    }
    // Nothing more was stored beside the journals.
    await expectStreamHoldsOnly(w.namespace, journals);
    expect(counted).toBe([...journals.values()].reduce((n, j) => n + j.length, 0));
  }, 120_000);

  it('a coordinator stopped gracefully (SIGTERM) hands its sagas over at once, before its lease would have lapsed', async (ctx) => {
    const w = await world(ctx);
    // A lease far longer than the test: a takeover that waited for it could not happen here.
    const ttl = 120_000;
    const [a, b] = await Promise.all([
      w.coordinator({ owner: 'A', leaseTtlMs: ttl, gracefulOnSigterm: true }),
      w.coordinator({ owner: 'B', leaseTtlMs: ttl, recoverIntervalMs: 200 }),
    ]);
    const sagaIds = ids('gs');
    const ship = gate(ctx);
    await startAll([a], sagaIds, (id) => ({ order: id, holdUntil: { shipOrder: ship.path } }));
    await until(() => startedSteps(a.calls(), 'shipOrder').size === SAGAS, 'every shipOrder to start on A');
    const held = await w.lease('A');
    process.kill(a.pid, 'SIGTERM');
    expect(await a.exited).toEqual({ code: 0, signal: null });
    ship.open();

    const journals = await expectAllCompleted(w.observer, sagaIds);
    const released = await w.lease('A');
    // Released on the way out: others need not wait for it.
    expect(released.expiresAt).toBe(0);
    for (const [id, journal] of journals) {
      const takeovers = takeoversOf(journal);
      expect(takeovers.map((t) => [t.owner, t.from]), id).toEqual([['B', 'A']]);
      // Before A's lease would have lapsed (its expiry as last seen only moves later with each
      // renewal), and after A's release.
      expect(takeovers[0]!.at, id).toBeLessThan(held.expiresAt);
      expect(takeovers[0]!.at, id).toBeGreaterThanOrEqual(released.renewedAt);
    }
    expectEffectsOncePerKey([...a.calls(), ...b.calls()], journals);
    await expectStreamHoldsOnly(w.namespace, journals);
  }, 120_000);
});
