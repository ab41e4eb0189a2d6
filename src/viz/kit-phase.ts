/**
 * Where a kit-built saga is, read from its state value alone (the page may hold only the
 * JSON of a snapshot): the kit reserves the top-level names `compensating`, `blocked` and the
 * final states, so any other top-level state is forward progress. `abandoned` is the final
 * state an operator's `saga.abandon` leads to on kits that have it.
 */
export const SagaPhase = {
  Running: 'running',
  Compensating: 'compensating',
  Blocked: 'blocked',
  Completed: 'completed',
  Compensated: 'compensated',
  Cancelled: 'cancelled',
  Abandoned: 'abandoned',
} as const;
export type SagaPhase = (typeof SagaPhase)[keyof typeof SagaPhase];

const AT_REST: ReadonlySet<string> = new Set([SagaPhase.Blocked, SagaPhase.Completed, SagaPhase.Compensated, SagaPhase.Cancelled, SagaPhase.Abandoned]);

export interface KitPosition {
  readonly phase: SagaPhase;
  /** Inside `compensating`: its child state (`next`, `backoff`, `undo_<step>`). */
  readonly compensating: string | null;
}

export function kitPosition(value: unknown): KitPosition {
  if (typeof value === 'string') return { phase: AT_REST.has(value) ? (value as SagaPhase) : SagaPhase.Running, compensating: null };
  if (typeof value === 'object' && value !== null && SagaPhase.Compensating in value) {
    const sub = (value as Record<string, unknown>)[SagaPhase.Compensating];
    return { phase: SagaPhase.Compensating, compensating: typeof sub === 'string' ? sub : null };
  }
  return { phase: SagaPhase.Running, compensating: null };
}
