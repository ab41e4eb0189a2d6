/**
 * The fast transition path (a reused inert scope, XState internals) must agree with XState's
 * public pure functions on every step of random runs: same snapshots, same actions.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { transition } from 'xstate';
import type { AnyMachineSnapshot } from 'xstate';
import { applyEntry, emptyBook } from '../../src/runtime/book.js';
import { pureTransitions } from '../../src/runtime/pure-transition.js';
import { orderMachine } from '../fixtures/order-saga.js';
import { choice, nextEvent } from '../helpers/random-inputs.js';

const describeActions = (actions: ReturnType<typeof transition>[1]) =>
  actions.map((a: ReturnType<typeof transition>[1][number]) => {
    const p = a.params as Record<string, unknown> | undefined;
    return { type: a.type, id: p?.id, src: p?.src, input: p?.input, delay: p?.delay, sendId: p?.sendId, event: p?.event };
  });

const comparable = (s: AnyMachineSnapshot) => ({ value: s.value, context: s.context, status: s.status, output: s.output, children: Object.keys(s.children).sort() });

describe('pure transitions', () => {
  it('uses the fast path for kit-built machines', () => {
    expect(pureTransitions(orderMachine).fast).toBe(true);
  });

  it('the fast path agrees with xstate.transition on random runs', () => {
    const fast = pureTransitions(orderMachine);
    const slow = pureTransitions(orderMachine, { fast: false });
    fc.assert(
      fc.property(fc.array(choice, { minLength: 1, maxLength: 40 }), (choices) => {
        const [a0, fastInit] = fast.initial({ order: 'p' });
        const [b0, initActions] = slow.initial({ order: 'p' });
        expect(comparable(a0)).toEqual(comparable(b0));
        expect(describeActions(fastInit)).toEqual(describeActions(initActions));
        let [a, b] = [a0, b0];
        const book = emptyBook();
        applyEntry(book, { sagaId: 's', no: 1, at: 0, event: undefined, final: false }, initActions);
        choices.forEach((c, i) => {
          const event = { ...nextEvent(book, c), at: 1000 + i };
          const [a2, fa] = fast.next(a, event);
          const [b2, sa] = slow.next(b, event);
          expect(comparable(a2)).toEqual(comparable(b2));
          expect(describeActions(fa)).toEqual(describeActions(sa));
          expect(a2 === a).toBe(b2 === b);
          applyEntry(book, { sagaId: 's', no: i + 2, at: 1000 + i, event, final: b2.status === 'done' }, sa);
          [a, b] = [a2, b2];
        });
      }),
      { numRuns: 300 },
    );
  });
});
