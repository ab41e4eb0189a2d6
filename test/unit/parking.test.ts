/**
 * Nothing is dropped silently (issue 7, item 5): a result that cannot be journaled becomes the
 * step's own error when that is what it is (an output too large), parks the saga visibly when
 * it is not (a permanent journal failure), and a timer whose firing could not be journaled
 * fires again. Recovery picks a parked saga up.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { JournalUnavailableError } from '../../src/errors.js';
import { MemoryJournal } from '../../src/journal/memory-journal.js';
import { SagaStatus } from '../../src/journal/index-store.js';
import { ControlledJournal, eventOf } from '../helpers/controlled-journal.js';
import { doneActors, expectWellFormed } from '../helpers/journal-checks.js';
import { expectLiveEqualsFold, memoryCluster, type Cluster } from '../helpers/memory-cluster.js';
import { orderBinding, orderMachine, type StepCall } from '../fixtures/order-saga.js';
import type { SagaBinding } from '../../src/runtime/types.js';

let cluster: Cluster;
afterEach(async () => {
  await cluster?.closeAll();
});

/** The order saga whose charge step returns `bytes` of output. */
function bigOutput(bytes: number, calls: StepCall[]): SagaBinding {
  const b = orderBinding((c) => calls.push(c));
  return { ...b, steps: { ...b.steps, chargeCard: async () => ({ blob: 'x'.repeat(bytes) }) } };
}

describe('a step result that cannot be journaled', () => {
  it('an output larger than the journal takes is the step’s terminal STEP_OUTPUT_TOO_LARGE error: the saga compensates', async () => {
    cluster = memoryCluster((stores) => ({ ...stores, journal: new ControlledJournal(new MemoryJournal({ maxEntryBytes: 4_096 })) }));
    const calls: StepCall[] = [];
    const rt = await cluster.open('a', { machines: [bigOutput(10_000, calls)] });
    await rt.start('order', { order: 'big' }, { id: 'big' });
    const info = await rt.wait('big', { timeoutMs: 10_000 });
    expect(info.status).toBe(SagaStatus.Compensated);
    expect((info.context as { error: unknown }).error).toMatchObject({ step: 'charge', code: 'STEP_OUTPUT_TOO_LARGE', retryable: false });
    const journal = await rt.events('big');
    expectWellFormed(journal);
    const failed = journal.find((e) => e.event?.type === 'xstate.error.actor.charge')!;
    expect(failed.event).toMatchObject({ key: 'big:2:charge', error: { code: 'STEP_OUTPUT_TOO_LARGE', details: { bytes: expect.any(Number), maxBytes: 4_096 } } });
    expect(doneActors(journal)).toEqual(['reserve', 'undo.charge', 'undo.reserve']);
    await expectLiveEqualsFold(rt, 'big', orderMachine);
  });

  it('a permanent journal failure parks the saga, says why, and recovery runs it on', async () => {
    cluster = memoryCluster();
    const calls: StepCall[] = [];
    const rt = await cluster.open('a', { machines: [orderBinding((c) => calls.push(c))] });
    cluster.journal.failNext(eventOf('xstate.done.actor.charge', 'p'), () => Object.assign(new Error('insufficient storage resources available'), { name: 'JetStreamApiError' }));
    await rt.start('order', { order: 'p' }, { id: 'p' });

    const parked = await rt.wait('p', { timeoutMs: 10_000 });
    expect(parked).toMatchObject({ status: SagaStatus.Parked, problem: expect.stringContaining('insufficient storage') });
    expect(rt.loadedSagaIds()).toEqual([]);
    // Visible from the index too: to `list`, to another process's `get`.
    expect((await rt.list({ status: SagaStatus.Parked })).sagas.map((s) => s.id)).toEqual(['p']);
    const observer = await cluster.open('observer', { machines: [orderBinding()] });
    expect(await observer.get('p')).toMatchObject({ status: SagaStatus.Parked, problem: expect.stringContaining('p:2:charge') });

    expect(await rt.recover()).toMatchObject({ recovered: 1 });
    expect((await rt.wait('p', { timeoutMs: 10_000 })).status).toBe(SagaStatus.Completed);
    // The step whose result was lost ran again under its key; the index no longer says parked.
    expect(calls.filter((c) => c.step === 'chargeCard').map((c) => c.key)).toEqual(['p:2:charge', 'p:2:charge']);
    expect((await cluster.stores.index.get('p'))?.record).toMatchObject({ status: SagaStatus.Completed });
    expect((await cluster.stores.index.get('p'))?.record.problem).toBeUndefined();
    expectWellFormed(await rt.events('p'));
  });
});

describe('a timer whose firing could not be journaled', () => {
  it('fires again once the journal is back, and the saga goes on', async () => {
    cluster = memoryCluster();
    const calls: StepCall[] = [];
    const rt = await cluster.open('a', { machines: [orderBinding((c) => calls.push(c))] });
    cluster.journal.failNext(eventOf('xstate.after.', 't'), () => new JournalUnavailableError('NATS is away'), { times: 2 });
    await rt.start('order', { order: 't', fail: { chargeCard: 'retryable:1' } }, { id: 't' });
    const info = await rt.wait('t', { timeoutMs: 20_000 });
    expect(info.status).toBe(SagaStatus.Completed);
    const journal = await rt.events('t');
    expectWellFormed(journal);
    const firings = journal.filter((e) => e.event?.type.startsWith('xstate.after.'));
    expect(firings).toHaveLength(1);
    expect(calls.filter((c) => c.step === 'chargeCard').map((c) => `${c.attempt}:${c.outcome}`)).toEqual(['1:error', '2:ok']);
  });

  it('a firing the journal refuses for good parks the saga instead of losing the timer', async () => {
    cluster = memoryCluster();
    const rt = await cluster.open('a', { machines: [orderBinding()] });
    cluster.journal.failNext(eventOf('xstate.after.', 'tp'), () => new Error('maximum messages exceeded'));
    await rt.start('order', { order: 'tp', fail: { chargeCard: 'retryable:1' } }, { id: 'tp' });
    const parked = await rt.wait('tp', { timeoutMs: 10_000 });
    expect(parked).toMatchObject({ status: SagaStatus.Parked, problem: expect.stringContaining('maximum messages exceeded') });
    expect(await rt.recover()).toMatchObject({ recovered: 1 });
    expect((await rt.wait('tp', { timeoutMs: 10_000 })).status).toBe(SagaStatus.Completed);
  });
});
