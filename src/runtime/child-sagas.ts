/**
 * The host's side of nested sagas: the built-in step that runs a child saga, its undo, and the
 * release of children once their parent has ended.
 *
 * - **Run** (`child:<machine>`): start the child under an id derived from the parent's id and
 *   the step (child-id.ts), create-only, so a re-run — after the parent's recovery, or a retry —
 *   attaches to the same child; then wait for its outcome. A child in `succeeded` (or already
 *   `completed`) hands its output back as the step's output, which the parent journals as any
 *   step result; a child that compensated fails the step terminally (`CHILD_FAILED`), one that
 *   is blocked fails it with `CHILD_BLOCKED` (the parent then compensates, and its undo of that
 *   child blocks it: see below).
 * - **Undo** (`child.undo`): send the child `saga.compensate` (journaled by the child first, as
 *   any input) and wait until it is compensated. Safe when the child never started (nothing to
 *   do) or already compensated. A blocked child fails the undo with `CHILD_BLOCKED` naming the
 *   child, so the parent becomes blocked through the kit's own mechanism, pointing at it; once
 *   an operator resolved the child, `saga.retry` of the parent finds it compensated and goes on.
 * - **Release**: when a parent reaches a final state its host sends `saga.release` to every
 *   child still held in `succeeded`. A crash in between loses nothing: a held child whose
 *   parent has ended (or is gone) is released when it is resumed and at every recovery pass.
 * - **A child driven by another coordinator** cannot be sent to from here (a runtime sends only
 *   to sagas it drives or may take over). Its own coordinator reads what the parent asks of it
 *   from the parent's state, when it resumes the child and at every recovery pass: released
 *   once the parent has ended, compensated while the parent's undo of it is in flight.
 *
 * Waiting reads the child through the runtime (`get`: memory when driven here, else its
 * journal), woken at once by the child's transitions when it is driven here and polled
 * otherwise, so a child driven by another coordinator is waited for too; every wait ends on the
 * step's abort signal.
 */
import type { AnyEventObject } from 'xstate';
import { CHILD_UNDO_SRC, childSrc, HELD_STATE, parentOf, undoInvocationId, type ChildStepInput, type ChildUndoInput, type ParentRef } from '../../machines/kit/child-step.js';
import { outputOf, type SagaContext } from '../../machines/kit/define-saga.js';
import { SagaEventType } from '../../machines/kit/tags.js';
import { ErrorCode, SagaError, SagaExistsError, UnknownSagaError } from '../errors.js';
import { isTerminalStatus, SagaStatus } from '../journal/index-store.js';
import type { Logger } from '../log.js';
import { childSagaId } from './child-id.js';
import { childStepsOf } from './child-steps.js';
import type { ChildInfo, SagaBinding, SagaInfo, SendResult, StartResult, StepContext, StepFn } from './types.js';

/** What the runtime lends the child steps. */
export interface ChildHost {
  start(machine: string, input: unknown, id: string): Promise<StartResult>;
  get(sagaId: string): Promise<SagaInfo>;
  send(sagaId: string, event: AnyEventObject): Promise<SendResult>;
  /** Runs background work (errors are logged; the next sweep tries again). */
  track(p: Promise<unknown>): void;
  readonly logger: Logger;
}

/** What the hooks read of a saga driven here. */
export interface DrivenSaga {
  readonly id: string;
  readonly binding: SagaBinding;
  readonly status: SagaStatus;
  readonly snapshot: { readonly value: unknown; readonly context: unknown };
}

/** What a child step outputs: the child's id and what the child output. */
export interface ChildStepOutput {
  readonly sagaId: string;
  readonly outputs: Record<string, unknown>;
  readonly warnings: unknown[];
}

/** How often a child driven elsewhere is read again. */
const POLL_MS = 250;
/** How long an undo keeps asking a child driven by another live coordinator before it fails (retryably). */
const ELSEWHERE_PATIENCE_MS = 30_000;

/** A child in `succeeded`: done, its output delivered, waiting for its parent's word. */
export function isHeld(info: Pick<SagaInfo, 'status' | 'state'>): boolean {
  return info.status === SagaStatus.Running && info.state === HELD_STATE;
}

export class ChildSagas {
  /** Wake-ups of waits on a saga, fired by its transitions here. */
  private readonly wakers = new Map<string, Set<() => void>>();
  /** Starts in flight, so an undo of the same child waits for one a cancelled run left behind. */
  private readonly starting = new Map<string, Promise<unknown>>();

  constructor(private readonly host: ChildHost) {}

  /**
   * `binding` with the host's child steps added, if its machine has any. They are owned steps
   * too: a fork must not copy a child's result, or it would hold (and release) a child that is
   * its source's.
   */
  bind(binding: SagaBinding): SagaBinding {
    const steps = childStepsOf(binding.machine);
    if (steps.length === 0) return binding;
    const own: Record<string, StepFn> = { [CHILD_UNDO_SRC]: (input: ChildUndoInput, ctx: StepContext) => this.undo(input, ctx) };
    for (const { machine } of steps) own[childSrc(machine)] = (input: ChildStepInput, ctx: StepContext) => this.run(input, ctx);
    const ownedSteps = [...new Set([...(binding.ownedSteps ?? []), ...steps.map((s) => s.step)])];
    return { ...binding, steps: { ...binding.steps, ...own }, ownedSteps };
  }

  /** A saga driven here journaled an entry: waits on it look again now. */
  wake(sagaId: string): void {
    const set = this.wakers.get(sagaId);
    if (set) for (const w of [...set]) w();
  }

  /** A saga driven here ended: release its children still held. Failures are left to `sweep`. */
  ended(saga: DrivenSaga): void {
    const steps = childStepsOf(saga.binding.machine);
    if (steps.length === 0) return;
    this.host.track(Promise.all(steps.map(({ step }) => this.releaseIfHeld(childSagaId(saga.id, step), `parent "${saga.id}" ended`))));
  }

  /** A saga was resumed here (recovery, takeover): a child does what its parent's journal asks. */
  resumed(saga: DrivenSaga): void {
    const parent = saga.status === SagaStatus.Running ? parentOf(saga.snapshot.context) : undefined;
    if (parent) this.host.track(this.heedParent(saga.id, parent, saga.snapshot.value === HELD_STATE));
  }

  /** Every running child driven here does what its parent's journal asks (at each recovery pass). */
  sweep(sagas: Iterable<DrivenSaga>): void {
    for (const saga of sagas) this.resumed(saga);
  }

  /**
   * What a child's parent needs of it, read from the parent's state: a held child whose parent
   * has ended or is gone is released (a crash between the parent's end and its release, or a
   * parent driven elsewhere, whose coordinator cannot send here); a child whose parent's undo
   * of it is in flight compensates (that undo, on another coordinator, cannot send here either).
   */
  private async heedParent(childId: string, parent: ParentRef, held: boolean): Promise<void> {
    const info = await this.find(parent.sagaId);
    if (!info || isTerminalStatus(info.status)) {
      if (held) await this.releaseIfHeld(childId, info ? `parent "${parent.sagaId}" is ${info.status}` : `parent "${parent.sagaId}" is gone`);
      return;
    }
    const undoing = undoInvocationId(parent.step);
    if (!info.pending.some((p) => p.id === undoing)) return;
    const r = await this.host.send(childId, { type: SagaEventType.Compensate });
    this.host.logger.info({ sagaId: childId, accepted: r.accepted, parent: parent.sagaId }, 'child saga compensates: its parent undoes it');
  }

  /** The children a saga started, by step, with their statuses (those never started left out). */
  async childrenOf(sagaId: string, binding: SagaBinding): Promise<ChildInfo[]> {
    const found = await Promise.all(
      childStepsOf(binding.machine).map(async ({ step, machine }): Promise<ChildInfo | undefined> => {
        const id = childSagaId(sagaId, step);
        const info = await this.find(id);
        return info && { sagaId: id, step, machine, status: info.status };
      }),
    );
    return found.filter((c) => c !== undefined);
  }

  private async run(input: ChildStepInput, ctx: StepContext): Promise<ChildStepOutput> {
    const childId = childSagaId(ctx.sagaId, input.step);
    const start = this.host.start(input.machine, { $parent: { sagaId: ctx.sagaId, step: input.step }, input: input.input }, childId);
    this.starting.set(childId, start);
    try {
      await start;
    } catch (e) {
      if (e instanceof SagaExistsError) {
        throw new SagaError(ErrorCode.ChildConflict, `child saga "${childId}" of step "${input.step}" exists with another machine, input or parent: ${e.message}`, {
          details: { child: childId, step: input.step },
        });
      }
      throw e;
    } finally {
      if (this.starting.get(childId) === start) this.starting.delete(childId);
    }
    return this.watch(childId, ctx.signal, (info) => {
      if (!info) throw new UnknownSagaError(childId);
      if (isHeld(info)) return { sagaId: childId, ...outputOf(info.context as SagaContext) };
      if (info.status === SagaStatus.Completed) return { sagaId: childId, ...(info.output as Omit<ChildStepOutput, 'sagaId'>) };
      if (info.status === SagaStatus.Blocked) throw blockedError(childId, input.step);
      if (info.status === SagaStatus.Compensated || info.status === SagaStatus.Cancelled) {
        const why = (info.context as SagaContext | undefined)?.error;
        throw new SagaError(ErrorCode.ChildFailed, `child saga "${childId}" (${input.machine}) ended ${info.status}${why ? `: ${why.message}` : ''}`, {
          details: { child: childId, step: input.step, status: info.status, ...(why ? { error: why.code } : {}) },
        });
      }
      return undefined;
    });
  }

  private async undo(input: ChildUndoInput, ctx: StepContext): Promise<{ sagaId: string; status: SagaStatus | 'never-started' }> {
    const childId = childSagaId(ctx.sagaId, input.step);
    const details = { child: childId, step: input.step };
    // A run aborted mid-start may still create the child: undo what it leaves, not nothing.
    await this.starting.get(childId)?.catch(() => undefined);
    let elsewhereSince: number | undefined;
    return this.watch(childId, ctx.signal, async (info) => {
      if (!info) return { sagaId: childId, status: 'never-started' as const };
      switch (info.status) {
        case SagaStatus.Compensated:
        case SagaStatus.Cancelled:
          return { sagaId: childId, status: info.status };
        case SagaStatus.Blocked:
          throw blockedError(childId, input.step);
        case SagaStatus.Completed:
          throw new SagaError(ErrorCode.ChildReleased, `child saga "${childId}" was released (completed) and cannot be compensated`, { details });
        case SagaStatus.Running:
          try {
            await this.host.send(childId, { type: SagaEventType.Compensate });
            elsewhereSince = undefined;
          } catch (e) {
            // A start that never journaled its init (its coordinator died) left nothing to undo.
            if (e instanceof UnknownSagaError) return { sagaId: childId, status: 'never-started' as const };
            if (!(e instanceof SagaError && e.code === ErrorCode.NotOwner)) throw e;
            elsewhereSince ??= Date.now();
            if (Date.now() - elsewhereSince > ELSEWHERE_PATIENCE_MS) {
              throw new SagaError(ErrorCode.ChildElsewhere, `child saga "${childId}" is driven by another coordinator, which has not compensated it yet`, { retryable: true, details });
            }
          }
          return undefined;
        default:
          // Compensating, or parked (recovery tries it again): wait.
          return undefined;
      }
    });
  }

  /**
   * Reads the saga (undefined: unknown) until `decide` answers or throws; between reads waits
   * for its next change.
   */
  private async watch<T>(sagaId: string, signal: AbortSignal, decide: (info: SagaInfo | undefined) => T | undefined | Promise<T | undefined>): Promise<T> {
    for (;;) {
      const change = this.nextChange(sagaId, signal);
      let answer: T | undefined;
      try {
        answer = await decide(await this.find(sagaId));
      } catch (e) {
        change.cancel();
        throw e;
      }
      if (answer !== undefined) {
        change.cancel();
        return answer;
      }
      await change.promise;
    }
  }

  /**
   * Resolves on the saga's next transition here or after a poll interval; rejects when `signal`
   * aborts. Made before the read it follows, so a transition in between is not missed.
   */
  private nextChange(sagaId: string, signal: AbortSignal): { promise: Promise<void>; cancel: () => void } {
    let settle: (e?: unknown) => void = () => undefined;
    const promise = new Promise<void>((resolve, reject) => {
      settle = (e?: unknown) => (e === undefined ? resolve() : reject(e));
    });
    let set = this.wakers.get(sagaId);
    if (!set) this.wakers.set(sagaId, (set = new Set()));
    const done = (e?: unknown): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      set.delete(wake);
      if (set.size === 0 && this.wakers.get(sagaId) === set) this.wakers.delete(sagaId);
      settle(e);
    };
    const wake = (): void => done();
    const onAbort = (): void => done(signal.reason ?? new SagaError(ErrorCode.StepAborted, 'aborted'));
    const timer = setTimeout(wake, POLL_MS);
    set.add(wake);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    // A cancelled wait rejects nobody: its promise is dropped.
    return { promise, cancel: () => done() };
  }

  /** The saga's info, or undefined when there is no such saga. */
  private find(sagaId: string): Promise<SagaInfo | undefined> {
    return this.host.get(sagaId).catch((e: unknown) => (e instanceof UnknownSagaError ? undefined : Promise.reject(e)));
  }

  private async releaseIfHeld(childId: string, why: string): Promise<void> {
    const info = await this.find(childId);
    if (!info || !isHeld(info)) return;
    try {
      const r = await this.host.send(childId, { type: SagaEventType.Release });
      this.host.logger.info({ sagaId: childId, accepted: r.accepted, why }, 'child saga released');
    } catch (e) {
      // Its own coordinator releases it at its next recovery pass (it sees the parent ended).
      if (!(e instanceof SagaError && e.code === ErrorCode.NotOwner)) throw e;
      this.host.logger.info({ sagaId: childId, why }, 'child saga driven by another coordinator; it releases it');
    }
  }
}

function blockedError(childId: string, step: string): SagaError {
  return new SagaError(ErrorCode.ChildBlocked, `child saga "${childId}" is blocked: resolve it (saga.retry, saga.skip or saga.abandon on the child), then retry this saga`, {
    details: { child: childId, step },
  });
}
