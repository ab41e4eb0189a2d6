/**
 * Nested sagas, as data shared by the kit and the host. A kit step may name a child saga
 * (`child: '<machineId>'`) instead of a step implementation: the machine still invokes it like
 * any step, under a `src` the host runs itself (start or attach the child, wait for its
 * outcome), and the step's implicit undo compensates the child.
 *
 * A child saga is started with its input wrapped in a `ChildSagaInput`, so its init entry
 * records its parent and a replay of its journal sees the same context. Only a machine built
 * with `nestable: true` unwraps it; such a machine, run as a child, stops in the non-final
 * state `succeeded` once its steps are done, compensable until its parent releases it.
 */
import { SagaEventType, SagaTag } from './tags.js';

/** The invoke `src` of a child step that starts a saga of `machine`. */
export const CHILD_SRC_PREFIX = 'child:';
/** The invoke `src` of the undo of every child step. */
export const CHILD_UNDO_SRC = 'child.undo';
/** The state a nestable machine run as a child waits in once its steps are done. */
export const HELD_STATE = 'succeeded';

/** The invocation id of a step's undo (the parent's book holds it while the undo runs). */
export function undoInvocationId(step: string): string {
  return `undo.${step}`;
}

export function childSrc(machine: string): string {
  return `${CHILD_SRC_PREFIX}${machine}`;
}

/** The machine a child step's `src` starts, or undefined for any other `src`. */
export function childMachineOf(src: string): string | undefined {
  return src.startsWith(CHILD_SRC_PREFIX) ? src.slice(CHILD_SRC_PREFIX.length) : undefined;
}

export function isChildSrc(src: string): boolean {
  return src === CHILD_UNDO_SRC || src.startsWith(CHILD_SRC_PREFIX);
}

/** Who started a child saga: the parent saga and the step (its invocation id) that did. */
export interface ParentRef {
  readonly sagaId: string;
  readonly step: string;
}

/** The parent a saga's context names (`context.parent` of a nestable machine run as a child). */
export function parentOf(context: unknown): ParentRef | undefined {
  const p = (context as { parent?: Partial<ParentRef> } | null | undefined)?.parent;
  return p && typeof p.sagaId === 'string' && typeof p.step === 'string' ? { sagaId: p.sagaId, step: p.step } : undefined;
}

/** The input a child saga is started with: its own input and its parent. */
export interface ChildSagaInput {
  readonly $parent: ParentRef;
  readonly input: unknown;
}

export function isChildSagaInput(value: unknown): value is ChildSagaInput {
  if (typeof value !== 'object' || value === null || !('$parent' in value)) return false;
  const p = (value as { $parent: unknown }).$parent as Partial<ParentRef> | null;
  return typeof p === 'object' && p !== null && typeof p.sagaId === 'string' && typeof p.step === 'string';
}

/** What the machine hands a child step: the child's machine, the step, the child's input. */
export interface ChildStepInput {
  readonly machine: string;
  readonly step: string;
  readonly input: unknown;
}

/** What the machine hands a child step's undo: as `ChildStepInput`, plus the step's output. */
export interface ChildUndoInput extends ChildStepInput {
  readonly output: unknown;
}

/**
 * The `succeeded` state of a nestable machine (guard `topLevel` and action
 * `markCompensatedByParent` are the kit's).
 */
export function heldState(): Record<string, unknown> {
  return {
    tags: [SagaTag.Held],
    description:
      'run as a child: its steps are done and its output delivered; it stays compensable until its parent sends saga.release (→ completed) or saga.compensate',
    // Run on its own, nobody would release it: it passes straight on to completed.
    always: { guard: 'topLevel', target: 'completed' },
    on: {
      [SagaEventType.Release]: { target: 'completed' },
      [SagaEventType.Compensate]: { target: 'compensating', actions: 'markCompensatedByParent' },
    },
  };
}
