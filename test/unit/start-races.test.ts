/**
 * Starts racing coordinators that stall or die between a saga's index record and its init
 * entry (issue 7, items 2 and 4): no saga ever goes missing from the index, and a start that
 * was acknowledged always becomes a saga that runs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SagaStatus } from '../../src/journal/index-store.js';
import { initOf } from '../helpers/controlled-journal.js';
import { doneActors, expectWellFormed } from '../helpers/journal-checks.js';
import { expectLiveEqualsFold, memoryCluster, type Cluster } from '../helpers/memory-cluster.js';
import { orderBinding, orderMachine } from '../fixtures/order-saga.js';

let cluster: Cluster;
afterEach(async () => {
  await cluster?.closeAll();
});

/** Ahead of the others' clocks by more than any lease here: their leases look lapsed to it. */
const AHEAD = 60_000;

describe('a start whose init entry stalls while its coordinator’s lease lapses', () => {
  it('is not lost: a recovery that gives up on it fences the journal first, and the late start still runs, indexed', async () => {
    cluster = memoryCluster();
    const a = await cluster.open('a', { machines: [orderBinding()] });
    const b = await cluster.open('b', { machines: [orderBinding()], skewMs: AHEAD });
    const held = cluster.journal.hold(initOf('late'));
    const starting = a.start('order', { order: 'late', delayMs: { chargeCard: 300 } }, { id: 'late' });
    await held.arrived;

    // B sees A's lease lapsed, claims the record and finds no init entry: the start died, as
    // far as B can tell.
    const report = await b.recover();
    expect(report).toMatchObject({ listed: 1, repaired: 1 });
    held.release();

    // A's start goes round again after the void B left, and its saga runs, indexed.
    const started = await starting;
    // While it runs it is open in the index: a recovery would find it if A died now.
    expect((await cluster.stores.index.listOpen()).entries.map((e) => e.record.sagaId)).toEqual(['late']);
    expect((await a.wait('late', { timeoutMs: 10_000 })).status).toBe(SagaStatus.Completed);
    expect((await cluster.stores.index.get('late'))?.record).toMatchObject({ owner: 'a', status: 'completed' });
    expect(started).toMatchObject({ id: 'late', created: true, entryNo: 1 });
    expect((await a.list()).sagas.map((s) => s.id)).toEqual(['late']);
    const journal = await a.events('late');
    // The void B appended fenced the late init; the start journaled its init after it.
    expect(journal.map((e) => (e.void ? 'void' : e.init ? 'init' : e.event?.type))).toEqual([
      'void', 'init', 'xstate.done.actor.reserve', 'xstate.done.actor.charge', 'xstate.done.actor.ship', 'xstate.done.actor.notify',
    ]);
    expectWellFormed(journal.filter((e) => !e.void));
    await expectLiveEqualsFold(a, 'late', orderMachine);
  });

  it('a recovery that finds the init landed after all takes the saga over instead of voiding it', async () => {
    cluster = memoryCluster();
    const a = await cluster.open('a', { machines: [orderBinding()] });
    const b = await cluster.open('b', { machines: [orderBinding()], skewMs: AHEAD });
    const held = cluster.journal.hold(initOf('landed'));
    const starting = a.start('order', { order: 'landed', delayMs: { reserveStock: 300 } }, { id: 'landed' });
    await held.arrived;
    held.release();
    await starting;
    expect(await b.recover()).toMatchObject({ recovered: 1 });
    expect((await b.wait('landed', { timeoutMs: 10_000 })).status).toBe(SagaStatus.Completed);
    expect(doneActors(await b.events('landed'))).toEqual(['reserve', 'charge', 'ship', 'notify']);
  });
});

describe('two coordinators starting the same id', () => {
  it('the second waits while the first is alive and answers with its saga once journaled', async () => {
    cluster = memoryCluster();
    const a = await cluster.open('a', { machines: [orderBinding()] });
    // B waits up to its own lease TTL for another coordinator's start: long enough here.
    const b = await cluster.open('b', { machines: [orderBinding()], leaseTtlMs: 10_000 });
    const held = cluster.journal.hold(initOf('same'));
    const first = a.start('order', { order: 'same' }, { id: 'same' });
    await held.arrived;
    const second = b.start('order', { order: 'same' }, { id: 'same' });
    // With A's init held, B cannot answer: A is alive and the saga is not journaled yet.
    const early = await Promise.race([second.then(() => 'answered'), new Promise((r) => setTimeout(() => r('waiting'), 150))]);
    expect(early).toBe('waiting');
    held.release();
    const [ra, rb] = await Promise.all([first, second]);
    // B answers with a saga that exists (journaled), never "running, entry 0".
    expect(rb.entryNo).toBeGreaterThanOrEqual(1);
    expect(ra).toMatchObject({ created: true, owner: 'a' });
    expect(rb).toMatchObject({ created: false, owner: 'a' });
    expect((await b.wait('same', { timeoutMs: 10_000 })).status).toBe(SagaStatus.Completed);
    expect(b.loadedSagaIds()).toEqual([]);
  });

  it('the second takes over a start whose coordinator died before its init, and its saga runs', async () => {
    cluster = memoryCluster();
    const a = await cluster.open('a', { machines: [orderBinding()] });
    const b = await cluster.open('b', { machines: [orderBinding()] });
    const held = cluster.journal.hold(initOf('orphan'));
    void a.start('order', { order: 'orphan' }, { id: 'orphan' }).catch(() => undefined);
    await held.arrived;
    // A dies: its init never reaches the journal, its lease is not released.
    held.drop();
    await a.close({ graceful: false });

    const started = await b.start('order', { order: 'orphan' }, { id: 'orphan' });
    // Never "running, seq 0, owner a" for a saga that does not exist.
    expect(started).toMatchObject({ id: 'orphan', owner: 'b', entryNo: 1 });
    expect(started.created).toBe(true);
    expect((await b.wait('orphan', { timeoutMs: 10_000 })).status).toBe(SagaStatus.Completed);
    expect((await cluster.stores.index.get('orphan'))?.record).toMatchObject({ owner: 'b', status: 'completed', epoch: 2 });
    expect((await b.events('orphan'))[0]!.init).toMatchObject({ owner: 'b' });
  });

  it('a start that cannot wait long enough fails with a retryable SAGA_STARTING, and a retry succeeds', async () => {
    cluster = memoryCluster();
    // A's lease is long, so B cannot take over within the start's wait (one lease TTL of its own).
    const a = await cluster.open('a', { machines: [orderBinding()], leaseTtlMs: 60_000 });
    const b = await cluster.open('b', { machines: [orderBinding()], leaseTtlMs: 200 });
    const held = cluster.journal.hold(initOf('slow'));
    const first = a.start('order', { order: 'slow' }, { id: 'slow' });
    await held.arrived;
    await expect(b.start('order', { order: 'slow' }, { id: 'slow' })).rejects.toMatchObject({ code: 'SAGA_STARTING', retryable: true, status: 503 });
    held.release();
    await first;
    expect(await b.start('order', { order: 'slow' }, { id: 'slow' })).toMatchObject({ created: false, owner: 'a' });
  });
});
