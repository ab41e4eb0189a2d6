/**
 * Random inputs a host could deliver to a saga, chosen from its book: step results (success or
 * failure), timer firings and client events. Shared by the property tests.
 */
import fc from 'fast-check';
import type { AnyEventObject } from 'xstate';
import type { Book } from '../../src/runtime/book.js';

export type Choice = { kind: 'result' | 'timer' | 'external'; pick: number; ok: boolean; retryable: boolean; external: number };

export const choice = fc.record({
  kind: fc.constantFrom('result', 'result', 'result', 'timer', 'external'),
  pick: fc.nat(),
  ok: fc.boolean(),
  retryable: fc.boolean(),
  external: fc.nat({ max: 3 }),
}) as fc.Arbitrary<Choice>;

export const EXTERNAL = ['saga.cancel', 'saga.retry', 'saga.skip', 'noise'];

/** The next input, given the book; `outputOf` shapes step outputs. */
export function nextEvent(book: Book, c: Choice, outputOf: (pick: number) => unknown = (n) => ({ n })): AnyEventObject {
  const pending = Object.values(book.pending);
  const timers = Object.values(book.timers);
  if (c.kind === 'timer' && timers.length) {
    const t = timers[c.pick % timers.length]!;
    return { ...t.event, timerId: t.id };
  }
  if (c.kind !== 'external' && pending.length) {
    const p = pending[c.pick % pending.length]!;
    return c.ok
      ? { type: `xstate.done.actor.${p.id}`, actorId: p.id, key: p.key, output: outputOf(c.pick) }
      : { type: `xstate.error.actor.${p.id}`, actorId: p.id, key: p.key, error: { code: 'E', message: 'x', retryable: c.retryable } };
  }
  return { type: EXTERNAL[c.external]! };
}
