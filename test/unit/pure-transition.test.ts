/**
 * The fast transition path (a reused inert scope, XState internals) must agree with XState's
 * public pure functions on every step of random runs: same snapshots, same actions.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { transition} from 'xstate';
import { type AnyEventObject, type AnyMachineSnapshot } from 'xstate';
import { applyEntry, emptyBook, type Book } from '../../src/runtime/book.js';
import { pureTransitions } from '../../src/runtime/pure-transition.js';
import { orderMachine } from '../fixtures/order-saga.js';

type Choice = { kind: 'result' | 'timer' | 'external'; pick: number; ok: boolean; retryable: boolean; external: number };

const choice = fc.record({
  kind: fc.constantFrom('result', 'result', 'result', 'timer', 'external'),
  pick: fc.nat(),
  ok: fc.boolean(),
  retryable: fc.boolean(),
  external: fc.nat({ max: 3 }),
}) as fc.Arbitrary<Choice>;

const EXTERNAL = ['saga.cancel', 'saga.retry', 'saga.skip', 'noise'];

/** The next input a host could deliver, given the book. */
function nextEvent(book: Book, c: Choice, at: number): AnyEventObject {
  const pending = Object.values(book.pending);
  const timers = Object.values(book.timers);
  if (c.kind === 'timer' && timers.length) {
    const t = timers[c.pick % timers.length]!;
    return { ...t.event, timerId: t.id, at };
  }
  if (c.kind !== 'external' && pending.length) {
    const p = pending[c.pick % pending.length]!;
    return c.ok
      ? { type: `xstate.done.actor.${p.id}`, actorId: p.id, key: p.key, output: { n: c.pick }, at }
      : { type: `xstate.error.actor.${p.id}`, actorId: p.id, key: p.key, error: { code: 'E', message: 'x', retryable: c.retryable }, at };
  }
  return { type: EXTERNAL[c.external]!, at };
}

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
          const event = nextEvent(book, c, 1000 + i);
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
