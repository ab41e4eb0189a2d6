/**
 * The contract between saga machines and the host, as data. The host derives a saga's status
 * from its snapshot: a final state is `completed` unless tagged `compensated` or `cancelled`;
 * otherwise `blocked` or `compensating` when the current states carry that tag, else `running`.
 */

export const SagaTag = {
  Compensating: 'compensating',
  Blocked: 'blocked',
  Compensated: 'compensated',
  Cancelled: 'cancelled',
  /**
   * A nestable saga run as a child whose steps are done: its status stays `running` (its parent
   * may still have it compensated) until its parent releases it.
   */
  Held: 'held',
} as const;
export type SagaTag = (typeof SagaTag)[keyof typeof SagaTag];

/**
 * A state tagged `awaits:<dependency>` waits for that boot dependency: the host delivers
 * `{ type: 'boot.ready', dependency }` (journaled like any input) once it is ready.
 */
export const AWAITS_TAG_PREFIX = 'awaits:';
export const awaitsTag = (dependency: string): string => `${AWAITS_TAG_PREFIX}${dependency}`;

/** The readiness event the host delivers to a saga in an `awaits:<dependency>` state. */
export interface ReadyEvent {
  readonly type: 'boot.ready';
  readonly dependency: string;
}

/** Operator and client events every kit-built saga understands. */
export const SagaEventType = {
  /** Stop forward progress and undo what was started; ends `cancelled`. */
  Cancel: 'saga.cancel',
  /** From `blocked`: try the failing undo again (its attempts start over). */
  Retry: 'saga.retry',
  /** From `blocked`: give up on the failing undo (an operator fixed it by hand) and go on. */
  Skip: 'saga.skip',
  /**
   * From `blocked`: stop compensating and leave the rest undone (an operator cleans up by hand);
   * ends in the final state `abandoned`, status `cancelled`, with a note of what was left.
   */
  Abandon: 'saga.abandon',
  /** Delivered by the host: a boot dependency the saga waits for is ready. */
  Ready: 'boot.ready',
  /** To a nestable saga run as a child, from its parent's host: done with you (→ `completed`). */
  Release: 'saga.release',
  /** To a nestable saga run as a child, from its parent's undo: undo what you did (→ `compensated`). */
  Compensate: 'saga.compensate',
} as const;
export type SagaEventType = (typeof SagaEventType)[keyof typeof SagaEventType];

/** An error as journaled by the host (the shape of `SerializedError`). */
export interface StepErrorData {
  readonly name?: string;
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
  readonly status?: number;
  readonly details?: Record<string, unknown>;
}

export function isStepErrorData(value: unknown): value is StepErrorData {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as StepErrorData).code === 'string' &&
    typeof (value as StepErrorData).message === 'string'
  );
}
