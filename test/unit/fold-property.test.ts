/**
 * Property: whatever happens to a saga (random step failures, retries, undo failures, cancels
 * at random moments), folding its journal gives exactly the state the live runtime holds.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import { decodeRecord, isInitRecord } from '../../src/journal/codec.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { memoryStores } from '../../src/runtime/stores.js';
import { ORDER_STEPS, ORDER_UNDOS, orderBinding, orderMachine, type OrderInput } from '../fixtures/order-saga.js';

const stores = memoryStores();
let rt: Runtime;
afterAll(() => rt?.close());

const plan = fc.record({
  fail: fc.dictionary(fc.constantFrom(...ORDER_STEPS), fc.constantFrom('terminal', 'retryable:1', 'retryable:2', 'retryable:5'), { maxKeys: 2 }),
  failUndo: fc.dictionary(fc.constantFrom(...ORDER_UNDOS), fc.constantFrom('1', '2', 'always'), { maxKeys: 1 }),
  delayMs: fc.dictionary(fc.constantFrom(...ORDER_STEPS, ...ORDER_UNDOS), fc.integer({ min: 1, max: 30 }), { maxKeys: 3 }),
  cancelAfterMs: fc.option(fc.integer({ min: 0, max: 60 })),
  operator: fc.constantFrom('saga.retry', 'saga.skip'),
});

let n = 0;

describe('fold equals live (property)', () => {
  it('holds for random failure plans and cancels', async () => {
    rt = await createRuntime({ machines: [orderBinding()], stores, owner: 'prop', recoverOnStart: false, recoverIntervalMs: 0 });
    await fc.assert(
      fc.asyncProperty(fc.array(plan, { minLength: 8, maxLength: 8 }), async (plans) => {
        const ids = await Promise.all(
          plans.map(async (p) => {
            const id = `p${n++}`;
            const input: OrderInput = { order: id, fail: p.fail, failUndo: p.failUndo, delayMs: p.delayMs };
            await rt.start('order', input, { id });
            if (p.cancelAfterMs !== null) setTimeout(() => void rt.send(id, { type: 'saga.cancel' }).catch(() => undefined), p.cancelAfterMs);
            return { id, p };
          }),
        );
        for (const { id, p } of ids) {
          let info = await rt.wait(id, { timeoutMs: 20_000 });
          // A blocked saga gets the operator's decision; an operator retries twice at most.
          for (let tries = 0; info.status === 'blocked'; tries++) {
            await rt.send(id, { type: tries < 2 ? p.operator : 'saga.skip' });
            info = await rt.wait(id, { timeoutMs: 20_000 });
          }
          const live = await rt.get(id);
          const records = (await stores.journal.read(id)).map((e) => decodeRecord(e.data, e));
          const init = records[0]!;
          if (!isInitRecord(init)) throw new Error('no init record');
          let [s] = initialTransition(orderMachine, init.init.input);
          for (const r of records.slice(1)) if ('event' in r) [s] = transition(orderMachine, s, { ...r.event, at: r.at } as never);
          expect({ value: s.value, context: s.context }).toEqual({ value: live.state, context: live.context });
          expect(['completed', 'compensated', 'cancelled']).toContain(live.status);
        }
      }),
      { numRuns: 25 },
    );
  }, 120_000);
});
