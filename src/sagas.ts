/**
 * The saga machines a `jetsaga serve` coordinator drives, bound to their step
 * implementations. Library users pass their own bindings to `createRuntime` or `Coordinator`.
 */
import type { SagaBinding } from './runtime/types.js';

export function sagaBindings(): SagaBinding[] {
  return [];
}
