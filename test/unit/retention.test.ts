/**
 * Retention of finished sagas (issue 11, part 4) on in-memory stores: what is purged (journal,
 * checkpoint, extras, index record — the record last) and what never is (blocked, parked, open,
 * recent); crash safety (a purge cut short is done again by the next sweep); bounded passes;
 * and one sweeper at a time through the sweep lease.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SagaStatus, type IndexRecord } from '../../src/journal/index-store.js';
import { memoryStores, type RuntimeStores } from '../../src/runtime/stores.js';
import { RetentionSweeper, SWEEP_LEASE_KEY, type RetentionOptions } from '../../src/runtime/retention.js';
import { eventOf } from '../helpers/controlled-journal.js';
import { memoryCluster, type Cluster } from '../helpers/memory-cluster.js';
import { orderBinding } from '../fixtures/order-saga.js';

const HOUR = 3_600_000;
const enc = new TextEncoder();

let cluster: Cluster | undefined;
const sweepers: RetentionSweeper[] = [];
afterEach(async () => {
  await Promise.all(sweepers.splice(0).map((s) => s.stop()));
  await cluster?.closeAll();
  cluster = undefined;
});

function sweeper(stores: RuntimeStores, options: Partial<RetentionOptions> = {}): RetentionSweeper {
  const s = new RetentionSweeper({
    index: stores.index,
    journal: stores.journal,
    checkpoints: stores.checkpoints,
    leaseKv: stores.checkpoints,
    holder: 'sweeper-a',
    retainMs: HOUR,
    pauseMs: 0,
    ...options,
  });
  sweepers.push(s);
  return s;
}

/** A saga as a finished run leaves it: two journal entries and a record in the given status. */
async function saga(stores: RuntimeStores, id: string, status: SagaStatus, updatedAt: number): Promise<void> {
  const record: IndexRecord = { sagaId: id, machine: 'order@1', status: SagaStatus.Running, owner: 'a', epoch: 1, createdAt: updatedAt - 1_000, updatedAt: updatedAt - 1_000 };
  const { entry } = await stores.index.create(record);
  const first = await stores.journal.append(id, enc.encode('init'), { expectedLastSeq: 0, msgId: `${id}:1` });
  await stores.journal.append(id, enc.encode('done'), { expectedLastSeq: first.seq, msgId: `${id}:2` });
  const final = { ...record, status, updatedAt };
  if (status === SagaStatus.Completed || status === SagaStatus.Compensated || status === SagaStatus.Cancelled) await stores.index.finish(final);
  else await stores.index.update(final, entry.revision);
}

async function traces(stores: RuntimeStores, id: string): Promise<{ entries: number; record: SagaStatus | null; checkpoint: boolean }> {
  return {
    entries: (await stores.journal.read(id)).length,
    record: (await stores.index.get(id))?.record.status ?? null,
    checkpoint: (await stores.checkpoints.get(id)) !== null,
  };
}

describe('retention of finished sagas', () => {
  it('purges completed, compensated and cancelled sagas past the retention; never blocked, parked, running or recent ones', async () => {
    cluster = memoryCluster();
    const rt = await cluster.open('a', { machines: [orderBinding()] });
    await rt.start('order', { order: 'ok' }, { id: 'done' });
    await rt.start('order', { order: 'comp', fail: { chargeCard: 'terminal' } }, { id: 'comp' });
    await rt.start('order', { order: 'blk', fail: { chargeCard: 'terminal' }, failUndo: { releaseStock: 'always' } }, { id: 'blk' });
    await rt.start('order', { order: 'slow', delayMs: { reserveStock: 60_000 } }, { id: 'cancel' });
    cluster.journal.failNext(eventOf('xstate.done.actor.charge', 'park'), () => Object.assign(new Error('insufficient storage resources available'), { name: 'JetStreamApiError' }));
    await rt.start('order', { order: 'park' }, { id: 'park' });
    await rt.start('order', { order: 'run', delayMs: { reserveStock: 60_000 } }, { id: 'run' });
    await rt.send('cancel', { type: 'saga.cancel' });
    const ended = await Promise.all(['done', 'comp', 'blk', 'cancel', 'park'].map((id) => rt.wait(id, { timeoutMs: 10_000 })));
    expect(ended.map((i) => i.status)).toEqual([SagaStatus.Completed, SagaStatus.Compensated, SagaStatus.Blocked, SagaStatus.Cancelled, SagaStatus.Parked]);
    // A checkpoint left behind (a crash between the finish and its delete) goes with its saga.
    await cluster.stores.checkpoints.put('done', enc.encode('{}'));

    const extras: string[] = [];
    const purged: string[] = [];
    const options = { purgeExtra: async (r: IndexRecord) => void extras.push(r.sagaId), onPurged: (r: IndexRecord) => void purged.push(r.sagaId) };

    // Within the retention: nothing goes.
    expect(await sweeper(cluster.stores, options).sweep()).toMatchObject({ scanned: 3, purged: 0, failed: 0 });
    expect(purged).toEqual([]);

    // Two hours on (in the sweeper's eyes), the finished ones go, whole.
    const later = sweeper(cluster.stores, { ...options, now: () => Date.now() + 2 * HOUR });
    expect(await later.sweep()).toMatchObject({ scanned: 3, purged: 3, failed: 0, more: false });
    expect(purged.sort()).toEqual(['cancel', 'comp', 'done']);
    expect(extras.sort()).toEqual(['cancel', 'comp', 'done']);
    for (const id of ['done', 'comp', 'cancel']) expect(await traces(cluster.stores, id)).toEqual({ entries: 0, record: null, checkpoint: false });
    for (const [id, status] of [['blk', SagaStatus.Blocked], ['park', SagaStatus.Parked], ['run', SagaStatus.Running]] as const) {
      const t = await traces(cluster.stores, id);
      expect(t.record).toBe(status);
      expect(t.entries).toBeGreaterThan(0);
    }
    // Listing no longer shows them; the blocked and parked ones are still there for an operator.
    expect((await rt.list()).sagas.map((s) => s.id).sort()).toEqual(['blk', 'park', 'run']);
    // A second sweep finds nothing more to do.
    expect(await later.sweep()).toMatchObject({ scanned: 0, purged: 0 });
  });

  it('removes the index record last: a purge cut short is redone by the next sweep', async () => {
    const stores = memoryStores();
    const now = Date.now();
    await saga(stores, 's1', SagaStatus.Completed, now - 2 * HOUR);
    await saga(stores, 's2', SagaStatus.Completed, now - 2 * HOUR);
    let failOnce = true;
    const s = sweeper(stores, {
      purgeExtra: async (r) => {
        if (r.sagaId === 's1' && failOnce) {
          failOnce = false;
          throw new Error('crash between the journal purge and the record removal');
        }
      },
    });
    expect(await s.sweep()).toMatchObject({ purged: 1, failed: 1 });
    // The journal is gone, the finished record stays: the saga is found again.
    expect(await traces(stores, 's1')).toEqual({ entries: 0, record: SagaStatus.Completed, checkpoint: false });
    expect(await traces(stores, 's2')).toEqual({ entries: 0, record: null, checkpoint: false });
    expect(await s.sweep()).toMatchObject({ scanned: 1, purged: 1, failed: 0 });
    expect(await traces(stores, 's1')).toEqual({ entries: 0, record: null, checkpoint: false });
  });

  it('bounds a pass: at most maxPerPass sagas, in batches, the rest on the next pass', async () => {
    const stores = memoryStores();
    const old = Date.now() - 2 * HOUR;
    for (let i = 0; i < 7; i++) await saga(stores, `b${i}`, SagaStatus.Compensated, old);
    const s = sweeper(stores, { batchSize: 2, maxPerPass: 5 });
    expect(await s.sweep()).toMatchObject({ purged: 5, more: true });
    expect(await s.sweep()).toMatchObject({ purged: 2, more: false });
    expect((await stores.index.listFinished()).entries).toEqual([]);
    expect((await stores.journal.listSagas()).size).toBe(0);
  });

  it('keeps everything with retention 0', async () => {
    const stores = memoryStores();
    await saga(stores, 'kept', SagaStatus.Completed, 0);
    expect(await sweeper(stores, { retainMs: 0 }).sweep()).toMatchObject({ skipped: 'disabled', purged: 0 });
    expect(await traces(stores, 'kept')).toMatchObject({ entries: 2, record: SagaStatus.Completed });
  });

  it('sweeps on one coordinator at a time: the sweep lease, released on stop, taken over once lapsed', async () => {
    const stores = memoryStores();
    const old = Date.now() - 2 * HOUR;
    await saga(stores, 'x1', SagaStatus.Completed, old);
    const a = sweeper(stores, { holder: 'a', leaseTtlMs: 60_000 });
    const b = sweeper(stores, { holder: 'b', leaseTtlMs: 60_000 });
    expect(await a.sweep()).toMatchObject({ purged: 1 });
    await saga(stores, 'x2', SagaStatus.Completed, old);
    // a holds the lease (it renews it on every pass): b leaves the work to it.
    expect(await b.sweep()).toMatchObject({ skipped: 'leaseHeld', purged: 0 });
    expect(await traces(stores, 'x2')).toMatchObject({ record: SagaStatus.Completed });
    // A holder gone without a word: its lease lapses, then b takes over.
    const c = sweeper(stores, { holder: 'c', leaseTtlMs: 60_000, now: () => Date.now() + 61_000 });
    expect(await c.sweep()).toMatchObject({ purged: 1 });
    // A clean stop releases the lease at once.
    await c.stop();
    expect(await stores.checkpoints.get(SWEEP_LEASE_KEY)).toBeNull();
    await saga(stores, 'x3', SagaStatus.Completed, old);
    expect(await b.sweep()).toMatchObject({ purged: 1 });
  });
});
