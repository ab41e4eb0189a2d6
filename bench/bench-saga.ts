/** The benchmark's saga: 10 no-op steps, each with a no-op undo, as a real saga would have. */
import { defineSaga } from '../machines/kit/index.js';
import type { SagaBinding, StepFn } from '../src/runtime/types.js';

export const STEPS = 10;

export const benchMachine = defineSaga({
  id: 'bench',
  steps: Array.from({ length: STEPS }, (_, i) => ({ name: `s${i + 1}`, run: `do${i + 1}`, undo: `undo${i + 1}` })),
});

/**
 * `hangAt`: the step (1-based) that never finishes, to leave sagas mid-flight. `rerunAt`: the
 * step a recovering coordinator runs again, made to finish a turn of the event loop later, as
 * any I/O does (the others finish at once): a recovery's timing then covers folding the sagas
 * and starting their steps, not handling the results of steps that end synchronously.
 */
export function benchBinding(hangAt?: number, rerunAt?: number): SagaBinding {
  const steps: Record<string, StepFn> = {};
  for (let i = 1; i <= STEPS; i++) {
    steps[`do${i}`] =
      i === hangAt ? () => new Promise(() => undefined) : i === rerunAt ? () => new Promise<undefined>((resolve) => setImmediate(() => resolve(undefined))) : () => undefined;
    steps[`undo${i}`] = () => undefined;
  }
  return { id: 'bench', version: 1, machine: benchMachine, steps };
}
