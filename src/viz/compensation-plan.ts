/**
 * What compensation of a kit-built saga (machines/kit/define-saga.ts) would do, or is doing,
 * read from its context and state value: the undos in the order they run — the top of
 * `context.stack` first, since steps are stacked when they start and undone latest first —
 * each with the input its undo receives. While compensating, the undo in flight (or backing
 * off after a failure) is marked; when `blocked`, the failed undo carries its error
 * (`context.undoError`, with `undoAttempts` failed attempts) and the operator's choices.
 *
 * Undos that already ran are gone from the stack (`popStack`). A caller that read the journal
 * passes them (`options.undone`); otherwise they are inferred: a step that has an undo
 * (`options.undoable`, e.g. the graph's `undoLinks`) and was started — it has an output, failed
 * attempts, or is the step whose failure started compensation — but is no longer stacked. That
 * order is an estimate (latest completed first): the context does not record when each step
 * started. A step stopped in flight (the other branch of a parallel group, or by a cancel)
 * leaves no trace in the context once undone, and a skipped undo looks like a done one.
 */
import type { CompensationEntry, SagaContext } from '../../machines/kit/define-saga.js';
import type { StepErrorData } from '../../machines/kit/tags.js';
import { kitPosition, SagaPhase } from './kit-phase.js';

export type UndoStatus =
  /** Would run, or will once the ones before it are done. */
  | 'pending'
  /** Invoked now. */
  | 'running'
  /** Failed, waiting for its retry delay. */
  | 'backoff'
  /** Failed for good: the saga is blocked on it. */
  | 'failed'
  /** Ran (or an operator skipped it): no longer on the stack. */
  | 'done'
  /** Never run: an operator abandoned the compensation. */
  | 'abandoned';

export type OperatorAction = 'retry' | 'skip' | 'abandon';

export type StepFailure = StepErrorData & { readonly step: string };

export interface PlannedUndo {
  readonly step: string;
  /** The undo's invocation id, `undo.<step>`. */
  readonly undo: string;
  /**
   * What the undo receives: the step's input and its output (null if it never reported one).
   * Null for an undo that already ran: the stack entry holding the input is gone.
   */
  readonly input: { readonly input: unknown; readonly output: unknown } | null;
  readonly status: UndoStatus;
  /** Failed attempts of this undo so far (only the one at the top of the stack counts them). */
  readonly attempts: number;
  /** Its last failure (`backoff`, `failed`, or `running` again after a failure). */
  readonly error: StepFailure | null;
}

export interface CompensationPlan {
  readonly phase: SagaPhase;
  /** The failure that started compensation (`CANCELLED` for a cancel); null while it has not. */
  readonly cause: StepFailure | null;
  /** Inferred done undos first (see above), then the current one, then the rest of the stack top-down. */
  readonly undos: readonly PlannedUndo[];
  /** What an operator may send (`saga.retry` / `saga.skip` / `saga.abandon`): only when blocked. */
  readonly actions: readonly OperatorAction[];
}

/** A kit saga as a snapshot gives it; fields are optional because older snapshots lack some. */
export interface KitSagaState {
  readonly value: unknown;
  readonly context: Partial<SagaContext>;
}

export interface CompensationPlanOptions {
  /** Steps that have an undo (e.g. `graph.undoLinks`' steps): lets the plan infer undos that already ran. */
  readonly undoable?: readonly string[];
  /**
   * Steps whose undo already ran, in the order they ran, when the caller knows them (from the
   * journal's `xstate.done.actor.undo.<step>` entries): used as they are instead of inferring.
   */
  readonly undone?: readonly string[];
}

const UNDO_STATE = 'undo_';
const BACKOFF = 'backoff';

export function compensationPlan(saga: KitSagaState, options: CompensationPlanOptions = {}): CompensationPlan {
  const ctx = saga.context;
  const stack: readonly CompensationEntry[] = ctx.stack ?? [];
  const outputs = ctx.outputs ?? {};
  const { phase, compensating } = kitPosition(saga.value);
  const cause = phase === SagaPhase.Running || phase === SagaPhase.Completed ? null : (ctx.error ?? null);
  if (phase === SagaPhase.Completed) return { phase, cause, undos: [], actions: [] };

  const inputOf = (e: CompensationEntry): PlannedUndo['input'] => ({ input: e.input, output: outputs[e.step] ?? null });
  const topDown = [...stack].reverse();
  const current = currentStep(phase, compensating, topDown);
  const attempts = ctx.undoAttempts ?? 0;
  const undoError = ctx.undoError ?? null;

  const stacked = topDown.map((e): PlannedUndo => {
    if (e.step !== current) {
      return { step: e.step, undo: `undo.${e.step}`, input: inputOf(e), status: phase === SagaPhase.Abandoned ? 'abandoned' : 'pending', attempts: 0, error: null };
    }
    const status: UndoStatus = phase === SagaPhase.Blocked || phase === SagaPhase.Abandoned ? 'failed' : compensating === BACKOFF ? 'backoff' : 'running';
    return { step: e.step, undo: `undo.${e.step}`, input: inputOf(e), status, attempts, error: undoError };
  });
  const done = phase === SagaPhase.Running ? [] : options.undone ? options.undone.map(doneUndo) : inferredDone(ctx, stack, options.undoable ?? []);
  const actions: OperatorAction[] = phase === SagaPhase.Blocked ? ['retry', 'skip', 'abandon'] : [];
  return { phase, cause, undos: [...done, ...stacked], actions };
}

/** The step whose undo is in flight, backing off, or failed; null when none is. */
function currentStep(phase: SagaPhase, compensating: string | null, topDown: readonly CompensationEntry[]): string | null {
  const top = topDown[0]?.step ?? null;
  if (phase === SagaPhase.Blocked || phase === SagaPhase.Abandoned) return top;
  if (phase !== SagaPhase.Compensating || compensating === null) return null;
  if (compensating === BACKOFF) return top;
  // `undo_<step>` names the step outright; it is the stack's top by the kit's own guard (topIs).
  if (compensating.startsWith(UNDO_STATE)) {
    const step = compensating.slice(UNDO_STATE.length);
    return topDown.some((e) => e.step === step) ? step : top;
  }
  // `next` is eventless: a saga never rests there.
  return null;
}

/** Undoable steps that were started and are off the stack, latest first (an estimate, see the module doc). */
function inferredDone(ctx: Partial<SagaContext>, stack: readonly CompensationEntry[], undoable: readonly string[]): PlannedUndo[] {
  const has = new Set(undoable);
  const stacked = new Set(stack.map((e) => e.step));
  // Completion order (outputs gain keys as steps finish), then steps that never finished.
  const started = [...Object.keys(ctx.outputs ?? {}), ...Object.keys(ctx.attempts ?? {}), ...(ctx.error?.step ? [ctx.error.step] : [])];
  const seen = new Set<string>();
  const order = started.filter((s) => has.has(s) && !stacked.has(s) && !seen.has(s) && seen.add(s));
  return order.reverse().map(doneUndo);
}

function doneUndo(step: string): PlannedUndo {
  return { step, undo: `undo.${step}`, input: null, status: 'done', attempts: 0, error: null };
}
