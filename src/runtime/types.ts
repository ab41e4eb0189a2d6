/** Public types of the saga runtime. */
import type { AnyEventObject, AnyStateMachine, StateValue } from 'xstate';
import type { Logger } from '../log.js';
import type { ParentRef } from '../../machines/kit/child-step.js';
import type { SagaStatus } from '../journal/index-store.js';

export type { SagaStatus };

/** What every step implementation receives besides its input. */
export interface StepContext {
  readonly sagaId: string;
  /** The invocation id (the invoke `id`, e.g. the step name). */
  readonly invocationId: string;
  /**
   * `<sagaId>:<entry no>:<invocation id>`: the same for every re-run of this attempt (after a
   * crash or a takeover), different for a new attempt. Pass it to the systems you call so a
   * re-run is deduplicated: steps are at-least-once, transitions exactly-once.
   */
  readonly idempotencyKey: string;
  /** 1 for the first attempt of this invocation, 2 for its first retry, ... */
  readonly attempt: number;
  /** Aborted when the saga leaves the invoking state (cancel, timeout) or the runtime closes. */
  readonly signal: AbortSignal;
  readonly logger: Logger;
}

/** A step implementation: must be idempotent under its `idempotencyKey`; output must be JSON. */
export type StepFn<TInput = any, TOutput = unknown> = (input: TInput, ctx: StepContext) => TOutput | Promise<TOutput>;

/** A versioned saga machine, as listed in `machines/index.ts`. */
export interface SagaDefinition {
  readonly id: string;
  readonly version: number;
  readonly machine: AnyStateMachine;
  /**
   * Older versions whose journals this version replays identically (e.g. it only added
   * states no old saga can be in). Without it, a saga started on another version is refused.
   */
  readonly resumesFrom?: readonly number[];
  /**
   * Steps whose effect belongs to the saga's own id (e.g. a lock held under it): a fork may not
   * copy their results — the fork, another saga, would act as if it held what the source does.
   * Forks must start before such a step completed (the fork then runs it under its own id).
   */
  readonly ownedSteps?: readonly string[];
}

/** A definition bound to the implementations of the steps its machine invokes. */
export interface SagaBinding extends SagaDefinition {
  readonly steps: Readonly<Record<string, StepFn>>;
}

export interface SagaInfo {
  readonly id: string;
  readonly machine: string;
  readonly version: number;
  readonly status: SagaStatus;
  readonly state: StateValue;
  readonly context: unknown;
  /** The machine's output once it reached a final state. */
  readonly output?: unknown;
  /**
   * The number of the saga's last journal entry (the init entry is 1): how many entries it has.
   * Not a stream sequence (see `JournalView.streamSeq`).
   */
  readonly entryNo: number;
  readonly owner: string | undefined;
  /** Host time of the last journaled entry (epoch ms). */
  readonly updatedAt: number;
  /** Invocations in flight: id, step and attempt. */
  readonly pending: ReadonlyArray<{ id: string; src: string; attempt: number; key: string }>;
  /** Armed durable timers. */
  readonly timers: ReadonlyArray<{ id: string; dueAt: number }>;
  /** Why the saga is `parked`: what could not be journaled or what its machine rejected. */
  readonly problem?: string;
  /** For a fork (`runtime.fork`): the saga and entry number its journal was copied from. */
  readonly forkedFrom?: { readonly sagaId: string; readonly entry: number };  /** For a saga run as a child (a `child` step of another): its parent and that step. */
  readonly parent?: ParentRef;
  /** The children the saga started, by step (only in `runtime.show`, for machines with child steps). */
  readonly children?: readonly ChildInfo[];
}

/** A child saga as its parent's `show` lists it. */
export interface ChildInfo {
  readonly sagaId: string;
  /** The parent's step that runs it. */
  readonly step: string;
  readonly machine: string;
  readonly status: SagaStatus;
}

/** What `start` answers: the saga, and whether this call created it. */
export interface StartResult extends SagaInfo {
  /** False when the id already existed (started earlier with the same machine and input). */
  readonly created: boolean;
}

export interface SendOptions {
  /**
   * Deliver the event only while the saga's status is one of these (checked in the saga's
   * mailbox, so no other input changes it in between); otherwise nothing is journaled and the
   * result is `accepted: false` with the status the saga is in. For operator actions that make
   * sense in one status only (`saga.retry` of a `blocked` saga).
   */
  readonly onlyIn?: readonly SagaStatus[];
}

export interface SendResult {
  /** False when the event changed nothing (not handled in the current state) and was not journaled. */
  readonly accepted: boolean;
  /** The entry number the event was journaled as (the last entry's when not accepted). */
  readonly entryNo: number;
  readonly status: SagaStatus;
  readonly state: StateValue;
}

/** Published to subscribers after every journaled transition. */
export interface TransitionNotice {
  readonly sagaId: string;
  readonly machine: string;
  /** The journaled entry's number within the saga. */
  readonly entryNo: number;
  readonly at: number;
  readonly event: AnyEventObject | undefined;
  readonly status: SagaStatus;
  readonly state: StateValue;
}

export interface SagaSummary {
  readonly id: string;
  /** The machine's id, as in `SagaInfo` (the version apart). */
  readonly machine: string;
  readonly version: number;
  readonly status: SagaStatus;
  readonly owner: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** For a child saga: the id of the saga that runs it (`show` names the step too). */
  readonly parentId?: string;
}

export interface RecoveryReport {
  /** Open sagas listed in the index. */
  readonly listed: number;
  /** Resumed by this pass (folded and acting). */
  readonly recovered: number;
  /** Found finished in the journal and fixed in the index. */
  readonly repaired: number;
  readonly skippedLoaded: number;
  readonly skippedForeignMachine: number;
  readonly skippedLiveOwner: number;
  /** Another coordinator took them first. */
  readonly lostRace: number;
  /** Left alone because this coordinator lost its lease (or closed) while loading them. */
  readonly abandoned: number;
  readonly failed: number;
}
