/**
 * Two or more coordinator processes on one namespace: a SIGKILLed owner's sagas are taken
 * over by another coordinator once (and only once) its lease has lapsed, and two live
 * coordinators never both drive one saga. The test process only reads (an observer runtime
 * and the stores).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { connectNats } from '../../src/nats/connect.js';
import { decode, type CoordinatorRecord } from '../../src/runtime/coordinator-lease.js';
import { openNatsStores } from '../../src/runtime/nats-stores.js';
import type { RuntimeStores } from '../../src/runtime/stores.js';
import type { RecoveryReport, StartResult } from '../../src/runtime/types.js';
import { killAllCoordinators, scenario, until, type CallRecord, type CoordinatorProc } from '../helpers/coordinator-proc.js';
import { gate } from '../helpers/gate.js';
import { doneActors, expectWellFormed, resultsOf, takeoversOf } from '../helpers/journal-checks.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';

let server: NatsServerHandle;
let nc: NatsConnection;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ servers: server.url, name: 'takeover-test' });
});
afterAll(async () => {
  await killAllCoordinators();
  await nc?.close();
  await server?.stop();
});

/** The namespace's stores on the test's connection, closed when the test ends. */
async function storesOf(ctx: TestContext, namespace: string): Promise<RuntimeStores> {
  const stores = await openNatsStores(nc, { namespace });
  ctx.onTestFinished(() => stores.close?.());
  return stores;
}
const STEP_OF: Record<string, string> = { reserve: 'reserveStock', charge: 'chargeCard', ship: 'shipOrder', notify: 'notifyCustomer' };
const ACTOR_OF = Object.fromEntries(Object.entries(STEP_OF).map(([a, s]) => [s, a]));
const started = (calls: readonly CallRecord[], step: string, sagaId?: string): CallRecord[] =>
  calls.filter((c) => c.step === step && c.outcome === 'start' && (sagaId === undefined || c.sagaId === sagaId));

async function leaseOf(stores: RuntimeStores, owner: string): Promise<CoordinatorRecord> {
  const e = await stores.coordinators.get(owner);
  const rec = e && decode(e.value);
  if (!rec) throw new Error(`no lease record for ${owner}`);
  return rec;
}

describe('takeover of a SIGKILLed coordinator', () => {
  it('another coordinator takes the saga over once the lease lapses, re-runs the step in flight and completes it', async (ctx) => {
    const { namespace, observer, coordinator } = await scenario(ctx, server.url);
    const stores = await storesOf(ctx, namespace);
    const id = 'taken';
    // Both run before the saga starts, so that B's first look at it finds its step in flight.
    // A renews its lease every second; the lease outlives a renewal missed on a loaded machine.
    const [a, b] = await Promise.all([
      coordinator({ owner: 'A', leaseTtlMs: 3000 }),
      coordinator({ owner: 'B', leaseTtlMs: 3000, recoverIntervalMs: 200 }),
    ]);
    // The charge is held until A is dead.
    const charge = gate(ctx);
    await a.request({ op: 'start', sagaId: id, input: { order: id, holdUntil: { chargeCard: charge.path } } });
    await until(() => started(a.calls(), 'chargeCard').length > 0, 'chargeCard to start on A');
    // While A lives, B leaves its saga alone: it skips it, has not loaded it, ran nothing.
    const report = await b.request<RecoveryReport>({ op: 'recover' });
    expect(report).toMatchObject({ recovered: 0, skippedLiveOwner: 1 });
    expect(await b.request<string[]>({ op: 'loaded' })).toEqual([]);
    expect(b.calls()).toEqual([]);
    await a.kill();
    charge.open();

    expect((await observer.wait(id, { timeoutMs: 30_000 })).status).toBe('completed');
    const lease = await leaseOf(stores, 'A');
    const journal = await observer.events(id);
    expectWellFormed(journal);
    expect(doneActors(journal)).toEqual(['reserve', 'charge', 'ship', 'notify']);
    const takeovers = takeoversOf(journal);
    expect(takeovers).toEqual([{ owner: 'B', from: 'A', epoch: 2, entryNo: 3, at: expect.any(Number) }]);
    // Not before A's lease had lapsed: two journaled times, the marker's and the lease's.
    expect(takeovers[0]!.at).toBeGreaterThanOrEqual(lease.expiresAt);
    expect(journal.length).toBe(6);

    const callsA = a.calls();
    const callsB = b.calls();
    expect(callsA.map((c) => `${c.step}:${c.outcome}`)).toEqual(['reserveStock:start', 'reserveStock:ok', 'chargeCard:start']);
    expect(callsB.map((c) => `${c.step}:${c.outcome}`)).toEqual([
      'chargeCard:start', 'chargeCard:ok', 'shipOrder:start', 'shipOrder:ok', 'notifyCustomer:start', 'notifyCustomer:ok',
    ]);
    expect(started(callsB, 'chargeCard').map((c) => [c.key, c.attempt])).toEqual(started(callsA, 'chargeCard').map((c) => [c.key, c.attempt]));

    await until(async () => (await stores.index.get(id))?.record.status === 'completed', 'the index to say completed');
    expect((await stores.index.get(id))?.record).toMatchObject({ owner: 'B', epoch: 2, status: 'completed' });
  });
});

describe('two live coordinators told to drive the same sagas', () => {
  it('both recovering a dead owner at once: each saga is taken and advanced by exactly one', async (ctx) => {
    const { namespace, observer, coordinator } = await scenario(ctx, server.url);
    const stores = await storesOf(ctx, namespace);
    // Enough sagas (at least bulkMin, 32) for recovery to fold them with one journal scan.
    const ids = Array.from({ length: 40 }, (_, i) => `dead${i}`);
    // Every charge is held until C is dead, every ship until the new owners' loaded sagas are
    // read (a finished saga is no longer loaded anywhere).
    const charge = gate(ctx);
    const ship = gate(ctx);
    const dead = await coordinator({
      owner: 'C',
      leaseTtlMs: 1000,
      start: ids.map((id) => ({ id, input: { order: id, holdUntil: { chargeCard: charge.path, shipOrder: ship.path } } })),
    });
    await until(() => started(dead.calls(), 'chargeCard').length === ids.length, 'every chargeCard to start on C');
    await dead.kill();
    charge.open();

    const a = await coordinator({ owner: 'A', recoverOnStart: false });
    const b = await coordinator({ owner: 'B', recoverOnStart: false });
    const lease = await leaseOf(stores, 'C');
    await until(() => Date.now() > lease.expiresAt, "C's lease to lapse");
    // Both are told to recover, at the same moment, until every saga is taken.
    let recovered = 0;
    const reports: RecoveryReport[] = [];
    await until(async () => {
      const rs = await Promise.all([a.request<RecoveryReport>({ op: 'recover' }), b.request<RecoveryReport>({ op: 'recover' })]);
      reports.push(...rs);
      recovered += rs[0]!.recovered + rs[1]!.recovered;
      return recovered >= ids.length;
    }, 'every saga to be recovered');
    expect(recovered).toBe(ids.length);
    expect(reports.reduce((n, r) => n + r.failed, 0)).toBe(0);
    const loadedA = await a.request<string[]>({ op: 'loaded' });
    const loadedB = await b.request<string[]>({ op: 'loaded' });
    expect(loadedA.filter((id) => loadedB.includes(id))).toEqual([]);
    expect([...loadedA, ...loadedB].sort()).toEqual([...ids].sort());
    ship.open();

    const infos = await Promise.all(ids.map((id) => observer.wait(id, { timeoutMs: 30_000 })));
    expect(infos.map((i) => i.status)).toEqual(ids.map(() => 'completed'));

    const callsA = a.calls();
    const callsB = b.calls();
    const runners = { A: callsA, B: callsB };
    let runs = 0;
    for (const id of ids) {
      const journal = await observer.events(id);
      expectWellFormed(journal);
      expect(doneActors(journal)).toEqual(['reserve', 'charge', 'ship', 'notify']);
      const takeovers = takeoversOf(journal);
      expect(takeovers.map((t) => [t.from, t.epoch]), id).toEqual([['C', 2]]);
      const winner = takeovers[0]!.owner as 'A' | 'B';
      const loser = winner === 'A' ? 'B' : 'A';
      // Only the winner ran anything of this saga after the takeover: exactly the steps whose
      // results come after the marker (the charge C had in flight among them), each under the
      // key its result was journaled with, as C's runs were.
      expect(runners[loser].filter((c) => c.sagaId === id), id).toEqual([]);
      const keyOf = new Map(resultsOf(journal).map((r) => [r.split('|')[1]!.split(':')[2]!, r.split('|')[1]!]));
      const afterTakeover = journal.filter((e) => e.entryNo > takeovers[0]!.entryNo).map((e) => e.event!.type.slice('xstate.done.actor.'.length));
      const mine = runners[winner].filter((c) => c.sagaId === id && c.outcome === 'start');
      expect(mine.map((c) => [c.step, c.key]), id).toEqual(afterTakeover.map((actor) => [STEP_OF[actor], keyOf.get(actor)]));
      expect(mine.length, id).toBeGreaterThan(0);
      for (const c of dead.calls().filter((x) => x.sagaId === id)) expect(c.key, id).toBe(keyOf.get(ACTOR_OF[c.step]!));
      expect((winner === 'A' ? loadedA : loadedB).includes(id), id).toBe(true);
      runs += mine.length;
    }
    // Nothing else ran on A or B.
    expect(callsA.length + callsB.length).toBe(runs * 2);
  });

  it('a live owner keeps its saga: another coordinator cannot send to it, recover it or start it again', async (ctx) => {
    const { namespace, observer, coordinator } = await scenario(ctx, server.url);
    const stores = await storesOf(ctx, namespace);
    const id = 'owned';
    const [a, b] = await Promise.all([coordinator({ owner: 'A', recoverOnStart: false }), coordinator({ owner: 'B', recoverOnStart: false })]);
    // The charge is held until B's three attempts below are over.
    const charge = gate(ctx);
    await a.request({ op: 'start', sagaId: id, input: { order: id, holdUntil: { chargeCard: charge.path } } });
    await until(() => started(a.calls(), 'chargeCard').length > 0, 'chargeCard to start on A');

    await expect(b.request({ op: 'send', sagaId: id, event: { type: 'saga.cancel' } })).rejects.toMatchObject({ code: 'NOT_OWNER' });
    expect(await b.request<RecoveryReport>({ op: 'recover' })).toMatchObject({ recovered: 0, skippedLiveOwner: 1 });
    // Another input under that id is refused; the same input answers with A's saga.
    await expect(b.request({ op: 'start', sagaId: id, input: { order: 'other' } })).rejects.toMatchObject({ code: 'SAGA_EXISTS' });
    const again = await b.request<StartResult>({ op: 'start', sagaId: id, input: { order: id, holdUntil: { chargeCard: charge.path } } });
    expect(again).toMatchObject({ id, created: false, owner: 'A' });
    expect(await b.request<string[]>({ op: 'loaded' })).toEqual([]);
    charge.open();

    // Both told to start one new saga at the same moment: one start wins, the other answers
    // with that saga and leaves it alone.
    const both = 'both';
    const answers = await Promise.all([a, b].map((c) => c.request<StartResult>({ op: 'start', sagaId: both, input: { order: both, delayMs: { shipOrder: 300 } } })));
    expect(answers.map((x) => x.id)).toEqual([both, both]);
    expect(answers.map((x) => x.created).sort()).toEqual([false, true]);

    const done = await Promise.all([id, both].map((s) => observer.wait(s, { timeoutMs: 30_000 })));
    expect(done.map((d) => d.status)).toEqual(['completed', 'completed']);
    const ownerOfBoth = (await stores.index.get(both))!.record.owner;
    expect(['A', 'B']).toContain(ownerOfBoth);
    const procs: Record<string, CoordinatorProc> = { A: a, B: b };
    for (const s of [id, both]) {
      const journal = await observer.events(s);
      expectWellFormed(journal);
      expect(journal.length, s).toBe(5);
      expect(doneActors(journal), s).toEqual(['reserve', 'charge', 'ship', 'notify']);
      expect(takeoversOf(journal), s).toEqual([]);
    }
    expect((await observer.events(id))[0]!.init).toMatchObject({ input: { order: id }, owner: 'A' });
    expect((await observer.events(both))[0]!.init).toMatchObject({ owner: ownerOfBoth });
    // Each saga's steps ran once, all on its owner.
    expect(a.calls().filter((c) => c.sagaId === id && c.outcome === 'ok').map((c) => c.step)).toEqual([
      'reserveStock', 'chargeCard', 'shipOrder', 'notifyCustomer',
    ]);
    expect(b.calls().filter((c) => c.sagaId === id)).toEqual([]);
    const other = ownerOfBoth === 'A' ? 'B' : 'A';
    expect(procs[other]!.calls().filter((c) => c.sagaId === both)).toEqual([]);
    expect(procs[ownerOfBoth]!.calls().filter((c) => c.sagaId === both && c.outcome === 'ok').length).toBe(4);
  });
});
