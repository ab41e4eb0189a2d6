/**
 * One driver per saga, also for one coordinator name (issue 7, item 7): a second process under
 * a live name is refused; a restart after a crash waits out the dead process's lease; and a
 * stalled process whose name was taken over can never append again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SagaStatus } from '../../src/journal/index-store.js';
import { doneActors, expectWellFormed, resultsOf, takeoversOf } from '../helpers/journal-checks.js';
import { memoryCluster, type Cluster } from '../helpers/memory-cluster.js';
import { until } from '../helpers/until.js';
import { orderBinding, type StepCall } from '../fixtures/order-saga.js';

let cluster: Cluster;
afterEach(async () => {
  await cluster?.closeAll();
});

describe('a coordinator name', () => {
  it('held by a live process is refused to a second one, with an error naming the holder', async () => {
    cluster = memoryCluster();
    const first = await cluster.open('dup', { machines: [orderBinding()] });
    await first.start('order', { order: 'o' }, { id: 'o' });
    await expect(cluster.open('dup', { machines: [orderBinding()] })).rejects.toMatchObject({
      code: 'OWNER_IN_USE',
      status: 409,
      message: expect.stringContaining(first.incarnation),
      details: { owner: 'dup', incarnation: first.incarnation, pid: process.pid },
    });
    // The first is untouched: it still holds its name and drives its saga.
    expect((await first.wait('o', { timeoutMs: 10_000 })).status).toBe(SagaStatus.Completed);
    const lease = JSON.parse(new TextDecoder().decode((await cluster.stores.coordinators.get('dup'))!.value)) as { incarnation: string };
    expect(lease.incarnation).toBe(first.incarnation);
  });

  it('of a crashed process is taken once its lease has lapsed, and the restart resumes its sagas', async () => {
    cluster = memoryCluster();
    const calls: StepCall[] = [];
    const first = await cluster.open('c', { machines: [orderBinding()] });
    await first.start('order', { order: 'r', delayMs: { chargeCard: 300 } }, { id: 'r' });
    await until(async () => (await first.get('r')).pending[0]?.id === 'charge');
    await first.close({ graceful: false });
    const second = await cluster.open('c', { machines: [orderBinding((c) => calls.push(c))] });
    expect(await second.recover()).toMatchObject({ recovered: 1 });
    expect((await second.wait('r', { timeoutMs: 10_000 })).status).toBe(SagaStatus.Completed);
    // The step in flight re-ran under its original key; nothing before it ran again.
    expect(calls.filter((c) => c.outcome === 'ok').map((c) => c.key)).toEqual(['r:2:charge', 'r:4:ship', 'r:5:notify']);
  });

  it('taken over from a stalled process fences it: its late results are never journaled, and it stops', async () => {
    cluster = memoryCluster();
    const stalledCalls: StepCall[] = [];
    const stalled = await cluster.open('s', { machines: [orderBinding((c) => stalledCalls.push(c))] });
    // Longer than the lease, so that the name is taken over while the charge still runs.
    await stalled.start('order', { order: 'z', delayMs: { chargeCard: 3_000 } }, { id: 'z' });
    await until(async () => (await stalled.get('z')).pending[0]?.id === 'charge');
    // It stops renewing (a pause), but its charge step runs on.
    await stalled.coordinatorLease.close(false);

    const calls: StepCall[] = [];
    const next = await cluster.open('s', { machines: [orderBinding((c) => calls.push(c))] });
    expect(await next.recover()).toMatchObject({ recovered: 1 });
    expect((await next.wait('z', { timeoutMs: 10_000 })).status).toBe(SagaStatus.Completed);
    // The stalled copy's charge finished too, and was fenced off by the takeover marker.
    await until(() => stalledCalls.some((c) => c.step === 'chargeCard' && c.outcome === 'ok'));
    await until(() => !stalled.loadedSagaIds().includes('z'));

    const journal = await next.events('z');
    expectWellFormed(journal);
    expect(takeoversOf(journal)).toMatchObject([{ owner: 's', from: 's', entryNo: 3 }]);
    expect(doneActors(journal)).toEqual(['reserve', 'charge', 'ship', 'notify']);
    // Charge's result was journaled once, after the marker, by the copy that took over.
    expect(resultsOf(journal).filter((r) => r.startsWith('xstate.done.actor.charge'))).toEqual(['xstate.done.actor.charge|z:2:charge']);
    expect(journal.findIndex((e) => e.event?.type === 'xstate.done.actor.charge')).toBeGreaterThan(journal.findIndex((e) => e.takeover));
    // Nothing after the charge ran in the stalled process.
    expect(stalledCalls.filter((c) => c.step === 'shipOrder')).toEqual([]);
  });
});
