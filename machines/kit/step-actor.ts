/**
 * Placeholder actor logic for a step the jetsaga host runs. XState resolves an invocation's
 * `input` only when its `src` names registered logic, so every step must be registered in
 * `setup({ actors })`; this logic only carries the input and output types. The host never
 * starts it: it runs the implementation bound to the same name, with an idempotency key.
 */
import { fromPromise, type PromiseActorLogic } from 'xstate';

const stepLogics = new WeakSet<object>();

export function stepActor<TOutput = unknown, TInput = unknown>(): PromiseActorLogic<TOutput, TInput> {
  const logic = fromPromise<TOutput, TInput>(() =>
    Promise.reject(new Error('jetsaga steps are run by the saga host, not by XState')),
  );
  stepLogics.add(logic);
  return logic;
}

/** Whether `logic` is a step's placeholder: promise logic, whose snapshot persists and restores as is. */
export function isStepLogic(logic: unknown): boolean {
  return typeof logic === 'object' && logic !== null && stepLogics.has(logic);
}
