/**
 * A saga whose last driver journaled its final transition and died (or lost its lease) before
 * its index record said so, or before its listeners heard of it: the recovery pass that finds
 * it finished tells this runtime's listeners of its end, as of its last entry. What hangs off a
 * saga's end (a build's `result` progress record, the completion metrics) would otherwise never
 * happen, and a follower of the build's progress would wait for ever.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SagaStatus, type IndexRecord } from '../../src/journal/index-store.js';
import { MemoryIndexStore } from '../../src/journal/memory-index-store.js';
import type { TransitionNotice } from '../../src/runtime/types.js';
import { crash } from '../helpers/lease.js';
import { memoryCluster, type Cluster } from '../helpers/memory-cluster.js';
import { until } from '../helpers/until.js';
import { orderBinding } from '../fixtures/order-saga.js';

let cluster: Cluster;
afterEach(async () => {
  await cluster?.closeAll();
});

/** An index whose `finish` fails while `failing`: the saga's record stays open. */
class FailingFinishIndex extends MemoryIndexStore {
  failing = true;

  override async finish(record: IndexRecord): Promise<void> {
    if (this.failing) throw new Error('the coordinator died before its index record said finished');
    await super.finish(record);
  }
}

describe('a saga recovery finds finished in its journal', () => {
  it('is told to the listeners of the runtime that repairs it, as of its last entry', async () => {
    const index = new FailingFinishIndex();
    cluster = memoryCluster((stores) => ({ ...stores, index }));
    const a = await cluster.open('a', { machines: [orderBinding()] });
    await a.start('order', { order: 'late' }, { id: 'late' });
    await until(async () => (await a.get('late')).status === SagaStatus.Completed);
    const entries = await cluster.stores.journal.read('late');
    await crash(a, cluster.stores);
    expect((await index.get('late'))?.record.status).toBe(SagaStatus.Running);

    index.failing = false;
    const b = await cluster.open('b', { machines: [orderBinding()] });
    const heard: TransitionNotice[] = [];
    b.subscribe((n) => heard.push(n));
    expect(await b.recover()).toMatchObject({ repaired: 1 });
    expect(heard).toEqual([expect.objectContaining({ sagaId: 'late', machine: 'order', status: SagaStatus.Completed, entryNo: entries.length })]);
    expect((await b.get('late')).status).toBe(SagaStatus.Completed);

    // Finished now in the index too: the next pass does not tell it again.
    expect(await b.recover()).toMatchObject({ repaired: 0 });
    expect(heard).toHaveLength(1);
  });

  it('is not told when recovery resumes a saga that has not finished', async () => {
    cluster = memoryCluster();
    const a = await cluster.open('a', { machines: [orderBinding()] });
    // Its step takes longer than the test: it is in flight when the coordinator dies, and again after.
    await a.start('order', { order: 'open', delayMs: { shipOrder: 600_000 } }, { id: 'open' });
    await until(async () => JSON.stringify((await a.get('open')).state).includes('ship'));
    await crash(a, cluster.stores);
    const b = await cluster.open('b', { machines: [orderBinding()] });
    const heard: TransitionNotice[] = [];
    b.subscribe((n) => heard.push(n));
    expect(await b.recover()).toMatchObject({ recovered: 1, repaired: 0 });
    expect(heard).toEqual([]);
  });
});
