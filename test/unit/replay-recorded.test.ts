/**
 * checkRecorded (the engine of `sagas.check` / `jetsaga sagas replay --check`): journals written
 * by a real runtime on memory stores, checked against the machine that wrote them and against
 * deliberately changed ones — without the original machine at hand, only what was recorded.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { assign, setup } from 'xstate';
import { defineSaga } from '../../machines/kit/index.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import type { JournalView } from '../../src/runtime/journal-view.js';
import { checkRecorded, exportBundle } from '../../src/runtime/replay.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { memoryStores } from '../../src/runtime/stores.js';
import type { SagaBinding, SagaDefinition } from '../../src/runtime/types.js';
import { orderBinding, orderMachine } from '../fixtures/order-saga.js';
import { tripBinding, tripMachine } from '../fixtures/trip-saga.js';

const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.close()));
});

async function runtimeWith(binding: SagaBinding): Promise<Runtime> {
  const rt = await createRuntime({ machines: [binding], stores: memoryStores(), owner: 'c1', recoverOnStart: false, recoverIntervalMs: 0 });
  runtimes.push(rt);
  return rt;
}

async function journalOf(binding: SagaBinding, input: unknown, id: string): Promise<JournalView[]> {
  const rt = await runtimeWith(binding);
  await rt.start(binding.id, input, { id });
  await rt.wait(id, { timeoutMs: 20_000 });
  return rt.events(id);
}

const trip = (variant: Parameters<typeof tripMachine>[0] = 'original'): SagaDefinition => ({ id: 'trip', version: 1, machine: tripMachine(variant) });

describe('checkRecorded', () => {
  it('passes the machine that wrote the journal, with the status it recorded', async () => {
    const journal = await journalOf(tripBinding(), { trip: 'r1' }, 'r1');
    expect(checkRecorded({ candidate: trip(), sagaId: 'r1', journal, recorded: { status: 'completed' } })).toEqual({ ok: true, entries: 5 });
  });

  it('a reordered or shortened machine diverges at the first result of a step it does not have in flight', async () => {
    const journal = await journalOf(tripBinding(), { trip: 'r2' }, 'r2');
    const expected = 'invocation "hotel" in flight (key r2:2:hotel)';
    expect(checkRecorded({ candidate: trip('reordered'), sagaId: 'r2', journal })).toEqual({
      ok: false,
      entry: 3,
      event: 'xstate.done.actor.hotel',
      expected,
      actual: 'no invocation "hotel" in flight (in flight: car; state {"car":"running"})',
      state: { car: 'running' },
    });
    expect(checkRecorded({ candidate: trip('shortened'), sagaId: 'r2', journal })).toMatchObject({ ok: false, entry: 3, expected });
  });

  it('a changed retry policy diverges where the recorded timer fires but was never armed', async () => {
    const journal = await journalOf(orderBinding(), { order: 'r3', fail: { chargeCard: 'retryable:1' } }, 'r3');
    const noRetries: SagaDefinition = {
      id: 'order',
      version: 1,
      machine: defineSaga({
        id: 'order',
        retry: { maxAttempts: 1 },
        steps: [
          { name: 'reserve', run: 'reserveStock', undo: 'releaseStock' },
          { name: 'charge', run: 'chargeCard', undo: 'refundCard', input: ({ input, outputs }) => ({ input, reservation: outputs.reserve }) },
          { name: 'ship', run: 'shipOrder', undo: 'cancelShipment' },
          { name: 'notify', run: 'notifyCustomer' },
        ],
      }),
    };
    const fired = journal.findIndex((v) => typeof v.event?.timerId === 'string');
    const check = checkRecorded({ candidate: noRetries, sagaId: 'r3', journal });
    expect(check).toMatchObject({ ok: false, entry: journal[fired]!.entryNo, expected: expect.stringMatching(/^timer ".*" armed$/), actual: expect.stringContaining('no timer') });
    expect(checkRecorded({ candidate: { id: 'order', version: 1, machine: orderMachine }, sagaId: 'r3', journal }).ok).toBe(true);
  });

  it('an external event the candidate ignores, a machine that throws, a checkpoint and a status that differ', async () => {
    const make = (handled: boolean, throws = false) =>
      setup({ types: {} as { context: { n: number } } }).createMachine({
        id: 'flip',
        context: { n: 0 },
        initial: 'a',
        states: {
          a: {
            on: {
              GO: handled
                ? {
                    target: 'b',
                    actions: assign(({ context }) => {
                      if (throws) throw new Error('no going');
                      return { n: context.n + 1 };
                    }),
                  }
                : undefined,
            },
          },
          b: {},
        },
      });
    const binding: SagaBinding = { id: 'flip', version: 1, machine: make(true), steps: {} };
    const rt = await runtimeWith(binding);
    await rt.start('flip', null, { id: 'f1' });
    expect(await rt.send('f1', { type: 'GO' })).toMatchObject({ accepted: true });
    const journal = await rt.events('f1');
    const def = (machine: ReturnType<typeof make>): SagaDefinition => ({ id: 'flip', version: 1, machine });

    expect(checkRecorded({ candidate: def(make(true)), sagaId: 'f1', journal, recorded: { status: 'running', checkpoint: { no: 2, state: 'b' } } })).toEqual({ ok: true, entries: 2 });
    expect(checkRecorded({ candidate: def(make(false)), sagaId: 'f1', journal })).toEqual({
      ok: false,
      entry: 2,
      event: 'GO',
      expected: 'event "GO" taken as a transition (it was journaled)',
      actual: '"GO" changes nothing in state a',
      state: 'a',
    });
    expect(checkRecorded({ candidate: def(make(true, true)), sagaId: 'f1', journal })).toMatchObject({ ok: false, entry: 2, event: 'GO', actual: 'the machine threw: no going' });
    expect(checkRecorded({ candidate: def(make(true)), sagaId: 'f1', journal, recorded: { checkpoint: { no: 2, state: 'a' } } })).toMatchObject({
      ok: false,
      entry: 2,
      expected: 'state a (recorded in a checkpoint)',
      actual: 'state b',
    });
    expect(checkRecorded({ candidate: def(make(true)), sagaId: 'f1', journal, recorded: { status: 'completed' } })).toMatchObject({
      ok: false,
      entry: 2,
      expected: 'status completed after the last entry (as recorded)',
      actual: 'status running in state b',
    });
  });

  it("a fork's copied results carry the source's keys: checked by invocation, not by key", async () => {
    const rt = await runtimeWith(tripBinding());
    await rt.start('trip', { trip: 'r5' }, { id: 'r5' });
    await rt.wait('r5', { timeoutMs: 10_000 });
    await rt.fork('r5', { from: 3, id: 'r5-f' });
    await rt.wait('r5-f', { timeoutMs: 10_000 });
    const journal = await rt.events('r5-f');
    expect(journal[1]!.event?.key).toBe('r5:1:flight');
    expect(checkRecorded({ candidate: trip(), sagaId: 'r5-f', journal, recorded: { status: 'completed' } })).toEqual({ ok: true, entries: 5 });
    expect(checkRecorded({ candidate: trip('reordered'), sagaId: 'r5-f', journal })).toMatchObject({ ok: false, entry: 3, expected: 'invocation "hotel" in flight' });
    // A bundle of a fork keeps where it came from.
    expect(exportBundle({ id: 'r5-f', machine: 'trip', version: 1 }, journal).journal[0]!.init).toMatchObject({ forkedFrom: { sagaId: 'r5', entry: 3, entries: 3 } });
  });
});
