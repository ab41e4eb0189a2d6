/**
 * `runtime.fork` on shared in-memory stores: a dry run says what would run again and writes
 * nothing; a fork copies entries 1..n (takeover records left out, renumbered), marks its init
 * `forkedFrom`, and is driven from there — only the steps after the fork point run, under the
 * fork's keys; refusals are typed; a fork whose copy was interrupted is parked, never driven.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, type TestContext } from 'vitest';
import { JournalUnavailableError, type SagaError } from '../../src/errors.js';
import { decodeRecord, encodeRecord } from '../../src/journal/codec.js';
import { SagaStatus } from '../../src/journal/index-store.js';
import { SAGA_ID_PATTERN } from '../../src/journal/saga-id.js';
import { defaultForkId } from '../../src/runtime/saga-forker.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { gate } from '../helpers/gate.js';
import { expectWellFormed, takeoversOf } from '../helpers/journal-checks.js';
import { memoryCluster, type Cluster } from '../helpers/memory-cluster.js';
import { until } from '../helpers/until.js';
import { tripBinding, type TripCall, type TripInput } from '../fixtures/trip-saga.js';

let cluster: Cluster;
afterEach(async () => {
  await cluster?.closeAll();
});

/** A file whose existence makes a step fail; `lift()` removes it. */
function failure(ctx: TestContext): { path: string; lift(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'jetsaga-fail-'));
  ctx.onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'failing');
  writeFileSync(path, '');
  return { path, lift: () => rmSync(path, { force: true }) };
}

async function rejection(p: Promise<unknown>): Promise<SagaError> {
  try {
    await p;
  } catch (e) {
    return e as SagaError;
  }
  throw new Error('resolved');
}

/** A trip whose payment fails: flight, hotel, car done, pay refused, then every undo. */
async function failedTrip(rt: Runtime, id: string, failing: string): Promise<void> {
  const input: TripInput = { trip: id, failWhile: { pay: failing } };
  await rt.start('trip', input, { id });
  expect((await rt.wait(id, { timeoutMs: 10_000 })).status).toBe(SagaStatus.Compensated);
}

describe('fork', () => {
  it('a dry run lists the steps in flight at n, the steps done after n and the undos the source ran; it writes nothing', async (ctx) => {
    cluster = memoryCluster();
    const rt = await cluster.open('a', { machines: [tripBinding()] });
    await failedTrip(rt, 't1', failure(ctx).path);
    const events = await rt.events('t1');
    expect(events.map((e) => e.event?.type ?? 'init')).toEqual([
      'init',
      'xstate.done.actor.flight',
      'xstate.done.actor.hotel',
      'xstate.done.actor.car',
      'xstate.error.actor.pay',
      'xstate.done.actor.undo.pay',
      'xstate.done.actor.undo.car',
      'xstate.done.actor.undo.hotel',
      'xstate.done.actor.undo.flight',
    ]);
    const before = await cluster.journal.listSagas();

    const plan = await rt.fork('t1', { from: 3, id: 't1-again', dryRun: true });
    expect(plan).toEqual({
      source: 't1',
      from: 3,
      machine: 'trip',
      version: 1,
      entries: 3,
      state: { car: 'running' },
      status: 'running',
      willRun: [{ id: 'car', src: 'rentCar' }],
      stepsAfter: [{ id: 'car', src: 'rentCar', entry: 4, outcome: 'done' }],
      undosRun: [
        { id: 'undo.pay', src: 'refundTrip', entry: 6, outcome: 'done' },
        { id: 'undo.car', src: 'returnCar', entry: 7, outcome: 'done' },
        { id: 'undo.hotel', src: 'cancelHotel', entry: 8, outcome: 'done' },
        { id: 'undo.flight', src: 'cancelFlight', entry: 9, outcome: 'done' },
      ],
      dryRun: true,
      id: 't1-again',
      created: false,
      saga: null,
    });
    expect(await cluster.journal.listSagas()).toEqual(before);
    expect(await cluster.stores.index.get('t1-again')).toBeNull();
    // Without an id the dry run names none; from the init entry the first step runs again.
    const fromInit = await rt.fork('t1', { from: 1, dryRun: true });
    expect(fromInit).toMatchObject({ id: null, entries: 1, willRun: [{ id: 'flight', src: 'bookFlight' }] });
    expect(fromInit.stepsAfter.map((s) => s.id)).toEqual(['flight', 'hotel', 'car']);
  });

  it('re-runs only the steps after the fork point, under its own keys, from copies that keep their times', async (ctx) => {
    cluster = memoryCluster();
    const calls: TripCall[] = [];
    const rt = await cluster.open('a', { machines: [tripBinding((c) => calls.push(c))] });
    const fail = failure(ctx);
    await failedTrip(rt, 't2', fail.path);
    fail.lift();
    const sourceCalls = calls.length;

    const forked = await rt.fork('t2', { from: 3, id: 't2-f' });
    expect(forked).toMatchObject({ dryRun: false, created: true, id: 't2-f', willRun: [{ id: 'car', src: 'rentCar' }] });
    expect(forked.saga).toMatchObject({ id: 't2-f', forkedFrom: { sagaId: 't2', entry: 3 } });
    const done = await rt.wait('t2-f', { timeoutMs: 10_000 });
    expect(done).toMatchObject({ status: SagaStatus.Completed, forkedFrom: { sagaId: 't2', entry: 3 } });

    const forkCalls = calls.slice(sourceCalls);
    expect(forkCalls.map((c) => `${c.step}|${c.sagaId}|${c.key}|${c.outcome}`)).toEqual(['rentCar|t2-f|t2-f:3:car|ok', 'payTrip|t2-f|t2-f:4:pay|ok']);

    const source = await rt.events('t2');
    const fork = await rt.events('t2-f');
    expectWellFormed(fork);
    expect(fork[0]!.init).toMatchObject({ machine: 'trip', version: 1, input: source[0]!.init && (source[0]!.init as { input: unknown }).input, owner: 'a', forkedFrom: { sagaId: 't2', entry: 3, entries: 3 } });
    // The copies: the source's events at the source's times.
    expect(fork.slice(0, 3).map((e) => [e.at, e.event])).toEqual(source.slice(0, 3).map((e) => [e.at, e.event]));
    expect(fork.slice(3).map((e) => e.event?.type)).toEqual(['xstate.done.actor.car', 'xstate.done.actor.pay']);
    expect(await rt.get('t2-f')).toMatchObject({ forkedFrom: { sagaId: 't2', entry: 3 } });

    // Forks are idempotent by id: the same fork again answers the existing one.
    const again = await rt.fork('t2', { from: 3, id: 't2-f' });
    expect(again).toMatchObject({ created: false, id: 't2-f', saga: { status: SagaStatus.Completed } });
    expect(calls.length).toBe(sourceCalls + 2);
    // A default id names the source and the entry.
    const second = await rt.fork('t2', { from: 2 });
    expect(second.id).toMatch(/^t2-f2-[0-9a-f]{6}$/);
    expect((await rt.wait(second.id!, { timeoutMs: 10_000 })).status).toBe(SagaStatus.Completed);
  });

  it('refuses with typed errors: unknown saga, entry out of range, a source still running, a fork point already final, an id taken, a machine not run here', async (ctx) => {
    cluster = memoryCluster();
    const rt = await cluster.open('a', { machines: [tripBinding()] });
    const fail = failure(ctx);
    await failedTrip(rt, 't3', fail.path);
    expect(await rejection(rt.fork('nope', { from: 1 }))).toMatchObject({ code: 'UNKNOWN_SAGA', status: 404 });
    expect(await rejection(rt.fork('t3', { from: 0 }))).toMatchObject({ code: 'INVALID_ARGUMENT', status: 400 });
    expect(await rejection(rt.fork('t3', { from: 10 }))).toMatchObject({ code: 'INVALID_ARGUMENT', status: 400, message: expect.stringContaining('between 1 and 9') });
    expect(await rejection(rt.fork('t3', { from: 9 }))).toMatchObject({ code: 'FORK_POINT_FINAL', status: 409, message: expect.stringContaining('pick an earlier entry') });
    expect(await rejection(rt.fork('t3', { from: 3, id: 't3' }))).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await rejection(rt.fork('t3', { from: 3, id: 'bad id' }))).toMatchObject({ code: 'INVALID_ARGUMENT' });

    const hold = gate(ctx);
    await rt.start('trip', { trip: 'other', holdUntil: { car: hold.path } } satisfies TripInput, { id: 'busy' });
    await until(async () => (await rt.get('busy')).pending.some((p) => p.id === 'car'));
    const active = await rejection(rt.fork('busy', { from: 2 }));
    expect(active).toMatchObject({ code: 'SAGA_ACTIVE', status: 409, message: expect.stringContaining('jetsaga sagas cancel busy') });
    expect(await rejection(rt.fork('busy', { from: 2, dryRun: true }))).toMatchObject({ code: 'SAGA_ACTIVE' });
    expect(await rejection(rt.fork('t3', { from: 3, id: 'busy' }))).toMatchObject({ code: 'SAGA_EXISTS', status: 409 });
    hold.open();
    expect((await rt.wait('busy', { timeoutMs: 10_000 })).status).toBe(SagaStatus.Completed);

    const elsewhere = await cluster.open('b', { machines: [] });
    expect(await rejection(elsewhere.fork('t3', { from: 3 }))).toMatchObject({ code: 'UNKNOWN_MACHINE', status: 404 });
  });

  it('leaves takeover records out of the copy and numbers the copies without gaps', async (ctx) => {
    cluster = memoryCluster();
    const hold = gate(ctx);
    const calls: TripCall[] = [];
    const a = await cluster.open('a', { machines: [tripBinding()] });
    await a.start('trip', { trip: 'x', holdUntil: { car: hold.path } } satisfies TripInput, { id: 't4' });
    await until(async () => (await a.get('t4')).pending.some((p) => p.id === 'car'));
    await a.close({ graceful: false });
    const b = await cluster.open('b', { machines: [tripBinding((c) => calls.push(c))], skewMs: 5_000 });
    expect(await b.recover()).toMatchObject({ recovered: 1 });
    hold.open();
    expect((await b.wait('t4', { timeoutMs: 10_000 })).status).toBe(SagaStatus.Completed);
    const source = await b.events('t4');
    expect(takeoversOf(source).map((t) => t.entryNo)).toEqual([4]);

    // Entry 4 is the marker: forking from it is forking from entry 3, with the car in flight.
    const atMarker = await b.fork('t4', { from: 4, dryRun: true });
    expect(atMarker).toMatchObject({ entries: 3, willRun: [{ id: 'car', src: 'rentCar' }] });
    const fork = await b.fork('t4', { from: 5, id: 't4-f' });
    expect(fork).toMatchObject({ entries: 4, willRun: [{ id: 'pay', src: 'payTrip' }] });
    expect((await b.wait('t4-f', { timeoutMs: 10_000 })).status).toBe(SagaStatus.Completed);
    const journal = await b.events('t4-f');
    expectWellFormed(journal);
    expect(takeoversOf(journal)).toEqual([]);
    expect(journal.map((e) => e.event?.type ?? 'init')).toEqual(['init', 'xstate.done.actor.flight', 'xstate.done.actor.hotel', 'xstate.done.actor.car', 'xstate.done.actor.pay']);
    expect(calls.filter((c) => c.sagaId === 't4-f').map((c) => `${c.step}|${c.key}`)).toEqual(['payTrip|t4-f:4:pay']);
  });
});

describe('steps owned by the source', () => {
  it('a fork may not copy the result of a step whose effect is held under the source id; before it, the fork runs it itself', async (ctx) => {
    cluster = memoryCluster();
    const calls: TripCall[] = [];
    // As the build saga's lock: the hotel booking stands for something held under the saga's id.
    const rt = await cluster.open('a', { machines: [{ ...tripBinding((c) => calls.push(c)), ownedSteps: ['hotel'] }] });
    const fail = failure(ctx);
    await failedTrip(rt, 't5', fail.path);
    fail.lift();
    const refused = await rejection(rt.fork('t5', { from: 3, dryRun: true }));
    expect(refused).toMatchObject({ code: 'FORK_COPIES_OWNED_STEP', status: 409, details: { sagaId: 't5', from: 3, step: 'hotel', entry: 3 } });
    expect(refused.message).toMatch(/fork from an entry before 3/);
    expect(await rt.list()).toMatchObject({ sagas: [{ id: 't5' }] });

    const before = calls.length;
    const forked = await rt.fork('t5', { from: 2, id: 't5-f' });
    expect(forked.willRun).toEqual([{ id: 'hotel', src: 'bookHotel' }]);
    expect((await rt.wait('t5-f', { timeoutMs: 10_000 })).status).toBe(SagaStatus.Completed);
    expect(calls.slice(before).map((c) => `${c.step}|${c.key}`)).toContain('bookHotel|t5-f:2:hotel');
  });
});

describe('an interrupted fork', () => {
  it('a coordinator that dies mid-copy leaves a fork that recovery parks and never drives', async (ctx) => {
    cluster = memoryCluster();
    const fail = failure(ctx);
    const calls: TripCall[] = [];
    const a = await cluster.open('a', { machines: [tripBinding()] });
    await failedTrip(a, 't5', fail.path);
    fail.lift();
    // The third copy never reaches the journal: its coordinator died with it on the wire.
    const held = cluster.journal.hold((id, record) => id === 't5-f' && record.no === 3);
    void a.fork('t5', { from: 5, id: 't5-f' }).catch(() => undefined);
    await held.arrived;
    held.drop();
    await a.close({ graceful: false });

    const b = await cluster.open('b', { machines: [tripBinding((c) => calls.push(c))], skewMs: 5_000 });
    await b.recover();
    const parked = await b.get('t5-f');
    expect(parked).toMatchObject({ status: SagaStatus.Parked, forkedFrom: { sagaId: 't5', entry: 5 }, problem: expect.stringContaining('holds 2 of the 5 entries') });
    expect(b.loadedSagaIds()).toEqual([]);
    expect((await cluster.stores.index.get('t5-f'))?.record).toMatchObject({ status: SagaStatus.Parked, owner: 'b' });
    // Every later pass finds it the same way: nothing appended (no takeover marker), nothing run.
    await b.recover();
    expect((await b.events('t5-f')).map((e) => e.entryNo)).toEqual([1, 2]);
    expect(calls).toEqual([]);
    // Delivering an event does not drive it either.
    expect(await b.send('t5-f', { type: 'saga.cancel' })).toMatchObject({ accepted: false, status: SagaStatus.Parked });
    expect(calls).toEqual([]);
  });

  it('a copy the journal refuses part-way: the fork fails and is parked; refused at once: no fork at all', async (ctx) => {
    cluster = memoryCluster();
    const fail = failure(ctx);
    const calls: TripCall[] = [];
    const rt = await cluster.open('a', { machines: [tripBinding((c) => calls.push(c))] });
    await failedTrip(rt, 't6', fail.path);
    fail.lift();
    const sourceCalls = calls.length;

    cluster.journal.failNext((id, record) => id === 't6-f' && record.no === 2, () => new Error('maximum messages exceeded'));
    expect((await rejection(rt.fork('t6', { from: 3, id: 't6-f' }))).message).toContain('maximum messages exceeded');
    expect(await rt.get('t6-f')).toMatchObject({ status: SagaStatus.Parked, problem: expect.stringContaining('holds 1 of the 3 entries') });
    expect(await rt.recover()).toMatchObject({ recovered: 0, failed: 0 });
    expect(await rt.get('t6-f')).toMatchObject({ status: SagaStatus.Parked });
    expect(rt.loadedSagaIds()).toEqual([]);

    cluster.journal.failNext((id, record) => id === 't6-g' && 'init' in record, () => new JournalUnavailableError('NATS is away'));
    expect(await rejection(rt.fork('t6', { from: 3, id: 't6-g' }))).toMatchObject({ code: 'JOURNAL_UNAVAILABLE' });
    expect(await cluster.stores.index.get('t6-g')).toBeNull();
    expect(await rejection(rt.get('t6-g'))).toMatchObject({ code: 'UNKNOWN_SAGA' });
    expect(calls.length).toBe(sourceCalls);
  });
});

describe('fork ids and records', () => {
  it('the default id is <source>-f<n>-<6 hex>, the source cut so it stays a saga id', () => {
    expect(defaultForkId('order-1', 12)).toMatch(/^order-1-f12-[0-9a-f]{6}$/);
    const long = defaultForkId('x'.repeat(128), 1234);
    expect(long).toHaveLength(128);
    expect(long).toMatch(SAGA_ID_PATTERN);
    expect(long.endsWith(long.slice(-13))).toBe(true);
    expect(long).toMatch(/^x+-f1234-[0-9a-f]{6}$/);
  });

  it('an init entry with forkedFrom round-trips; a malformed one is a corrupt entry', () => {
    const where = { sagaId: 's', seq: 1 };
    const ok = encodeRecord({ no: 1, at: 1, init: { machine: 'm', version: 1, input: null, forkedFrom: { sagaId: 'src', entry: 4, entries: 3 } } });
    expect(decodeRecord(ok, where)).toMatchObject({ init: { forkedFrom: { sagaId: 'src', entry: 4, entries: 3 } } });
    const bad = (forkedFrom: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify({ no: 1, at: 1, init: { machine: 'm', version: 1, input: null, forkedFrom } }));
    expect(() => decodeRecord(bad({ sagaId: 'src', entry: 0, entries: 1 }), where)).toThrow(/forkedFrom\.entry/);
    expect(() => decodeRecord(bad({ sagaId: 'src', entry: 2 }), where)).toThrow(/forkedFrom\.entries/);
    expect(() => decodeRecord(bad('src'), where)).toThrow(/forkedFrom\.sagaId/);
  });
});
