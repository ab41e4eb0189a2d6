/**
 * A copy of a saga acts only on what it journaled itself, and only while it still drives the
 * saga. Each race is staged with a journal that holds an append "on the wire" (issue 7, items
 * 1, 6 and 7): the lease lapses mid-append, an old copy's append lands late, a copy is told its
 * own write conflicted.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { JournalConflictError } from '../../src/errors.js';
import type { TransitionNotice } from '../../src/runtime/types.js';
import { eventOf } from '../helpers/controlled-journal.js';
import { doneActors, expectWellFormed, takeoversOf } from '../helpers/journal-checks.js';
import { expectLiveEqualsFold, memoryCluster, type Cluster } from '../helpers/memory-cluster.js';
import { until } from '../helpers/until.js';
import { orderBinding, orderMachine, type StepCall } from '../fixtures/order-saga.js';

let cluster: Cluster;
afterEach(async () => {
  await cluster?.closeAll();
});

const runs = (calls: readonly StepCall[], step: string): string[] => calls.filter((c) => c.step === step && c.outcome !== 'aborted').map((c) => c.key);

describe('a lease that lapses while an append is on the wire', () => {
  it('the unloaded copy’s late append is never acknowledged to the new copy as its own event', async () => {
    cluster = memoryCluster();
    const calls: StepCall[] = [];
    const a = await cluster.open('a', { machines: [orderBinding((c) => calls.push(c))] });
    const held = cluster.journal.hold(eventOf('xstate.done.actor.reserve', 'x'));
    await a.start('order', { order: 'x', delayMs: { chargeCard: 60_000 } }, { id: 'x' });
    await held.arrived;

    // The coordinator stalled past its lease: its copies are unloaded, then it takes back what
    // is still its own. Give a re-acquisition that does not wait for the append a chance to
    // happen first (it must not).
    cluster.advance('a', 60_000);
    await a.coordinatorLease.renew();
    await until(() => a.loadedSagaIds().includes('x'), 500).catch(() => undefined);
    held.release();
    await until(() => a.loadedSagaIds().includes('x'));
    await until(async () => doneActors(await a.events('x')).includes('reserve'));

    // The next input of the copy that drives the saga now is journaled as its own entry.
    const sent = await a.send('x', { type: 'saga.cancel' });
    expect(sent.accepted).toBe(true);
    const info = await a.wait('x', { timeoutMs: 10_000 });
    expect(info.status).toBe('cancelled');

    const journal = await a.events('x');
    expectWellFormed(journal);
    expect(journal.filter((e) => e.event).map((e) => e.event!.type)).toEqual([
      'xstate.done.actor.reserve',
      'saga.cancel',
      'xstate.done.actor.undo.charge',
      'xstate.done.actor.undo.reserve',
    ]);
    await expectLiveEqualsFold(a, 'x', orderMachine);
    // reserve ran once: the new copy folded its result instead of running it again
    expect(runs(calls, 'reserveStock')).toEqual(['x:1:reserve']);
  });

  it('a copy stopped while its append was in flight does not act on the ack: no commit, no next step', async () => {
    cluster = memoryCluster();
    const calls: StepCall[] = [];
    const a = await cluster.open('a', { machines: [orderBinding((c) => calls.push(c))] });
    const notices: TransitionNotice[] = [];
    a.subscribe((n) => notices.push(n));
    const held = cluster.journal.hold(eventOf('xstate.done.actor.reserve', 's'));
    await a.start('order', { order: 's', delayMs: { chargeCard: 200 } }, { id: 's' });
    await held.arrived;
    cluster.advance('a', 60_000);
    await a.coordinatorLease.renew();
    held.release();

    expect((await a.wait('s', { timeoutMs: 10_000 })).status).toBe('completed');
    // Entry 2 (reserve's result) was acknowledged to the stopped copy: it did not commit it (no
    // notice), and charge ran only in the copy that folded it — once, never aborted.
    expect(notices.filter((n) => n.entryNo === 2)).toEqual([]);
    expect(calls.filter((c) => c.step === 'chargeCard').map((c) => `${c.key}:${c.outcome}`)).toEqual(['s:2:charge:ok']);
    expectWellFormed(await a.events('s'));
    await expectLiveEqualsFold(a, 's', orderMachine);
  });
});

describe('a copy fenced by a write of its own', () => {
  it('is picked up again at once, with periodic recovery off', async () => {
    cluster = memoryCluster();
    const calls: StepCall[] = [];
    const a = await cluster.open('a', { machines: [orderBinding((c) => calls.push(c))], recoverIntervalMs: 0 });
    // reserve's result lands, but the copy is told another writer got there first (as a retry
    // after the dedupe window would be): it stops, and the saga must not be left undriven.
    cluster.journal.landThenFail(eventOf('xstate.done.actor.reserve', 'f'), () => new JournalConflictError('f', 1, 2));
    await a.start('order', { order: 'f' }, { id: 'f' });

    expect((await a.wait('f', { timeoutMs: 10_000 })).status).toBe('completed');
    const journal = await a.events('f');
    expectWellFormed(journal);
    expect(doneActors(journal)).toEqual(['reserve', 'charge', 'ship', 'notify']);
    // Picked up by this process, which drove it at this epoch: no marker needed.
    expect(takeoversOf(journal)).toEqual([]);
    expect(runs(calls, 'reserveStock')).toEqual(['f:1:reserve']);
  });
});
