/**
 * Typing for step implementations. A saga's machine names its steps as strings, so nothing
 * ties an implementation's input to the step that feeds it; these helpers give an object of
 * implementations the types they would otherwise lack under `strict` (each `ctx` is a
 * `StepContext`, each input is what its implementation declares) without changing them.
 */
import type { StepContext } from './types.js';

/**
 * A step implementation as `defineSteps` accepts it. Method syntax makes the input bivariant,
 * so an implementation may declare the input it expects (`(order: Order, ctx) => …`), while
 * one that declares none gets `unknown` and must narrow it, rather than a silent `any`.
 */
type StepImplementation = { bivariant(input: unknown, ctx: StepContext): unknown }['bivariant'];

/**
 * Returns `steps` unchanged, typed: every implementation's `ctx` is inferred as `StepContext`
 * and its input is the type written on its first parameter (say what a step receives; the
 * host passes whatever the saga's `input` mapper built, so validate untrusted shapes).
 * The result is what `SagaBinding.steps` takes. A single implementation elsewhere is typed
 * with `StepFn<TInput, TOutput>`.
 *
 * @example
 * const steps = defineSteps({
 *   reserveStock: async (order: Order, ctx) => stock.reserve(order, { key: ctx.idempotencyKey }),
 *   releaseStock: async ({ input }: UndoInput<Order, Reservation>, ctx) => stock.release(input.id, { key: ctx.idempotencyKey }),
 * });
 */
export function defineSteps<T extends Record<string, StepImplementation>>(steps: T): T {
  return steps;
}

/**
 * What an undo implementation receives: the input its step started with and the step's
 * output — `null` when the step never reported a result (it was stacked the moment it
 * started, so the undo runs even if the step crashed, timed out or was cancelled mid-call).
 */
export interface UndoInput<TInput, TOutput> {
  readonly input: TInput;
  readonly output: TOutput | null;
}
