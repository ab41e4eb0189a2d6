/**
 * `defineSaga` compiles a list of steps into an XState machine the jetsaga host can drive:
 * each step is an invoked actor (run by the host with an idempotency key), retried with a
 * deterministic backoff while its errors are retryable, and pushed on a compensation stack
 * the moment it starts — its outcome is unknown until its result is journaled, so its undo
 * must run even if it never reported back. Compensation undoes the stack top-down; an undo
 * that keeps failing, or fails terminally, leaves the saga `blocked` for an operator
 * (`saga.retry` / `saga.skip`, or `saga.abandon`: stop compensating, leaving a note of what is
 * left to clean up by hand).
 *
 * Steps run one after another; a **parallel group** runs named branches of steps at once (a
 * parallel state: independent work side by side in the chart) and goes on when every branch is
 * done. A failure anywhere leaves the group — the other branches' steps in flight are stopped,
 * and undone like any started step. An **optional** step's last failure is recorded in
 * `warnings` and the saga goes on (for clean-up that must never roll back a finished job).
 *
 * A **child step** (`child: '<machineId>'` instead of `run`) runs another saga as a child: the
 * host starts it (or attaches to it, after a recovery) and journals its outcome as the step's
 * result; the step's implicit undo compensates the child (see child-step.ts). A machine that
 * may itself run as a child says so with `nestable: true`.
 *
 * The result is a plain machine: the visualizer draws it, tests drive it with `transition()`.
 */
import { assign, setup, type AnyStateMachine } from 'xstate';
import { backoffDelay, DEFAULT_STEP_RETRY, DEFAULT_UNDO_RETRY, resolvePolicy, type RetryPolicy } from './backoff.js';
import { childSrc, CHILD_UNDO_SRC, HELD_STATE, heldState, isChildSagaInput, undoInvocationId, type ParentRef } from './child-step.js';
import { stepActor } from './step-actor.js';
import { awaitsTag, isStepErrorData, SagaEventType, SagaTag, type StepErrorData } from './tags.js';

export interface SagaStepConfig {
  /** State name and invocation id: letters, digits, `_` and `-`. */
  readonly name: string;
  /** Name of the step implementation the host runs (exactly one of `run` and `child`). */
  readonly run?: string;
  /**
   * Id of a `nestable` machine to run as a child saga instead: `input` is the child's input, its
   * outputs become this step's output, and its failure this step's (terminal) error. The step's
   * undo is implicit: it compensates the child.
   */
  readonly child?: string;
  /** Name of the implementation that undoes it; receives `{ input, output }`. */
  readonly undo?: string;
  /** Builds the step's input from the saga's input and earlier outputs (default: the saga input). */
  readonly input?: (data: { input: unknown; outputs: Readonly<Record<string, unknown>> }) => unknown;
  /** Overrides of the saga's step retry policy. */
  readonly retry?: Partial<RetryPolicy>;
  /**
   * Boot dependencies (e.g. `registry`) the step needs: before every attempt the saga waits,
   * in a state of its own, for each one's readiness event, and a DEPENDENCY_UNAVAILABLE error
   * sends it back to waiting, so an outage is waited out instead of burning retries.
   */
  readonly needs?: readonly string[];
  /** Gives up on an attempt after this long (a retryable `STEP_TIMEOUT`); the step is aborted. */
  readonly timeoutMs?: number;
  /**
   * When its retries are spent (or it fails terminally), record the failure in `warnings` and
   * go on instead of compensating. For work whose failure must not undo what is done (e.g. a
   * clean-up after the job succeeded). An optional step has no undo.
   */
  readonly optional?: boolean;
  readonly description?: string;
}

/** Branches of steps run side by side; the group is done when every branch is. */
export interface SagaParallelConfig {
  /** State name of the group (`[A-Za-z0-9_-]`). */
  readonly name: string;
  /** Branch name → its steps, in order. Branch names are state names too. */
  readonly parallel: Readonly<Record<string, readonly SagaStepConfig[]>>;
  readonly description?: string;
}

/** A step, or a group of branches run in parallel. */
export type SagaStepEntry = SagaStepConfig | SagaParallelConfig;

export function isParallel(entry: SagaStepEntry): entry is SagaParallelConfig {
  return 'parallel' in entry;
}

export interface SagaConfig {
  /** Machine id (`[A-Za-z0-9_-]`), also the `#id` prefix of state ids. */
  readonly id: string;
  readonly steps: readonly SagaStepEntry[];
  /** Default retry policy of every step. */
  readonly retry?: Partial<RetryPolicy>;
  /**
   * Retry policy of undos (default `DEFAULT_UNDO_RETRY`: 8 attempts, 500 ms doubling to 60 s).
   * A retryable undo failure is retried with this backoff; after the last failed attempt the
   * saga is `blocked`. A non-retryable one (a `TerminalError`, anything with `retryable: false`)
   * blocks it at once: retrying cannot fix it. Either way `undoError` holds the failure and the
   * saga waits for an operator's `saga.retry` (the same undo, attempts start over),
   * `saga.skip` (give that undo up and undo the rest) or `saga.abandon` (undo nothing more).
   */
  readonly undoRetry?: Partial<RetryPolicy>;
  /**
   * The machine may run as a child of another saga (a `child` step). Run as one, it stops in
   * the non-final state `succeeded` once its steps are done, so that its parent can still have
   * it compensated (`saga.compensate`) until it releases it (`saga.release` → `completed`).
   * Run on its own it completes as any other. Opt-in: the journals of other machines replay
   * exactly as before.
   */
  readonly nestable?: boolean;
  readonly description?: string;
}

export interface CompensationEntry {
  readonly step: string;
  readonly input: unknown;
}

/** An undo, named for an operator: the step it undoes and its implementation. */
export interface UndoRef {
  readonly step: string;
  readonly undo: string;
}

/**
 * What `saga.abandon` left undone, for the operator to clean up by hand: the undo that kept
 * failing (with its last error) and the undos below it that never ran, in the order
 * compensation would have run them. Their inputs are the `stack` entries of the same steps.
 */
export interface AbandonedNote {
  readonly failedUndo: UndoRef & { readonly error: SagaContext['undoError'] };
  readonly notRun: readonly UndoRef[];
}

/** The context of every kit-built saga. */
export interface SagaContext {
  readonly input: unknown;
  /** Output of every completed step, by step name. */
  readonly outputs: Record<string, unknown>;
  /** Started steps that have an undo, oldest first. */
  readonly stack: CompensationEntry[];
  /** Failed attempts per step since it last succeeded. */
  readonly attempts: Record<string, number>;
  /** The failure that started compensation, if any. */
  readonly error: (StepErrorData & { step: string }) | null;
  readonly cancelled: boolean;
  /** Failed attempts of the undo at the top of the stack. */
  readonly undoAttempts: number;
  readonly undoError: (StepErrorData & { step: string }) | null;
  /** Failures of optional steps, which did not stop the saga (absent in older snapshots). */
  readonly warnings?: Array<StepErrorData & { step: string }>;
  /** Set when an operator abandoned the compensation (absent otherwise). */
  readonly abandoned?: AbandonedNote;
  /** The saga that runs this one as a child (nestable machines only; absent otherwise). */
  readonly parent?: ParentRef;
}

/** What a kit-built saga's final state outputs. */
export interface SagaOutput {
  readonly outputs: Record<string, unknown>;
  readonly error: SagaContext['error'];
  readonly warnings: NonNullable<SagaContext['warnings']>;
  /** Only in the output of an abandoned saga. */
  readonly abandoned?: AbandonedNote;
}

export function initialSagaContext(input: unknown): SagaContext {
  return { input, outputs: {}, stack: [], attempts: {}, error: null, cancelled: false, undoAttempts: 0, undoError: null, warnings: [] };
}

/** Every step of a config, parallel branches included, in document order. */
export function stepsOf(config: Pick<SagaConfig, 'steps'>): SagaStepConfig[] {
  return config.steps.flatMap((e) => (isParallel(e) ? Object.values(e.parallel).flat() : [e]));
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const DEPENDENCY = /^[a-z0-9_-]{1,64}$/;
const RESERVED = new Set(['compensating', 'blocked', 'completed', 'compensated', 'cancelled', 'abandoned', HELD_STATE]);

interface GuardArgs {
  context: SagaContext;
  event: { type: string; error?: unknown; at?: number; dependency?: unknown };
}

const DEPENDENCY_UNAVAILABLE = 'DEPENDENCY_UNAVAILABLE';

export function defineSaga(config: SagaConfig): AnyStateMachine {
  validate(config);
  const allSteps = stepsOf(config);
  const stepPolicy = resolvePolicy(DEFAULT_STEP_RETRY, config.retry);
  const undoPolicy = resolvePolicy(DEFAULT_UNDO_RETRY, config.undoRetry);
  const policies = new Map(allSteps.map((s) => [s.name, resolvePolicy(stepPolicy, s.retry)]));
  const inputOf = (step: SagaStepConfig, ctx: SagaContext): unknown =>
    step.input ? step.input({ input: ctx.input, outputs: ctx.outputs }) : ctx.input;
  const byName = new Map(allSteps.map((s) => [s.name, s]));
  const id = config.id;
  const nestable = config.nestable === true;
  // A child step's run and undo are the host's own, named after the child's machine.
  const srcOf = (step: SagaStepConfig): string => (step.child === undefined ? step.run! : childSrc(step.child));
  const undoOf = (step: SagaStepConfig | undefined): string | undefined => (step?.child === undefined ? step?.undo : CHILD_UNDO_SRC);
  const invokeInputOf = (step: SagaStepConfig, ctx: SagaContext): unknown =>
    step.child === undefined ? inputOf(step, ctx) : { machine: step.child, step: step.name, input: inputOf(step, ctx) };

  const delays: Record<string, (args: GuardArgs) => number> = {
    'retry.undo': ({ context, event }) =>
      backoffDelay(undoPolicy, context.undoAttempts, `undo:${context.stack.length}:${context.undoAttempts}:${event.at ?? 0}`),
  };
  for (const step of allSteps) {
    const policy = policies.get(step.name)!;
    delays[`retry.${step.name}`] = ({ context, event }) => {
      const failures = context.attempts[step.name] ?? 1;
      return backoffDelay(policy, failures, `${step.name}:${failures}:${event.at ?? 0}`);
    };
    if (step.timeoutMs !== undefined) delays[`timeout.${step.name}`] = () => step.timeoutMs!;
  }

  const failureOf = (event: GuardArgs['event'], step: string): StepErrorData & { step: string } => {
    if (event.type.startsWith('xstate.after.')) {
      const ms = byName.get(step)?.timeoutMs;
      return { step, code: 'STEP_TIMEOUT', message: `step "${step}" timed out after ${ms} ms`, retryable: true };
    }
    const e = event.error;
    if (isStepErrorData(e)) return { ...e, step };
    return { step, code: 'STEP_FAILED', message: typeof e === 'string' ? e : 'step failed', retryable: false };
  };

  const actors: Record<string, ReturnType<typeof stepActor>> = {};
  for (const step of allSteps) {
    actors[srcOf(step)] = stepActor();
    const undo = undoOf(step);
    if (undo) actors[undo] = stepActor();
  }

  const kit = setup({
    types: {} as { context: SagaContext; input: unknown; output: SagaOutput },
    actors,
    guards: {
      canRetry: ({ context, event }: GuardArgs, params: { step: string }) => {
        const failure = failureOf(event, params.step);
        const policy = policies.get(params.step) ?? stepPolicy;
        return failure.retryable && (context.attempts[params.step] ?? 0) + 1 < policy.maxAttempts;
      },
      // A failure that says retrying cannot fix it goes to an operator at once instead of
      // spending the undo's attempts (a minute or more of backoff) on the same answer.
      canRetryUndo: ({ context, event }: GuardArgs) =>
        failureOf(event, context.stack.at(-1)?.step ?? '').retryable && context.undoAttempts + 1 < undoPolicy.maxAttempts,
      stackEmpty: ({ context }: GuardArgs) => context.stack.length === 0,
      cancelledAndDone: ({ context }: GuardArgs) => context.stack.length === 0 && context.cancelled,
      topIs: ({ context }: GuardArgs, params: { step: string }) => context.stack.at(-1)?.step === params.step,
      readyFor: ({ event }: GuardArgs, params: { dependency: string }) => event.dependency === params.dependency,
      topLevel: ({ context }: GuardArgs) => context.parent === undefined,
      unavailable: ({ context, event }: GuardArgs, params: { step: string; dependency: string }) => {
        const e = event.error;
        const policy = policies.get(params.step) ?? stepPolicy;
        return (
          isStepErrorData(e) &&
          e.code === DEPENDENCY_UNAVAILABLE &&
          e.details?.dependency === params.dependency &&
          (context.attempts[params.step] ?? 0) + 1 < policy.maxAttempts
        );
      },
    },
    actions: {
      pushStep: assign(({ context }: { context: SagaContext }, params: { step: string }) => {
        // Re-entry after a retry must not stack the same step twice (step names are unique; in
        // a parallel group another branch may have stacked its own step meanwhile).
        if (context.stack.some((e) => e.step === params.step)) return {};
        const step = byName.get(params.step)!;
        return { stack: [...context.stack, { step: params.step, input: inputOf(step, context) }] };
      }),
      recordOutput: assign(({ context, event }: { context: SagaContext; event: { type: string } }, params: { step: string }) => {
        const { [params.step]: _done, ...attempts } = context.attempts;
        const output = (event as { output?: unknown }).output ?? null;
        return { outputs: { ...context.outputs, [params.step]: output }, attempts };
      }),
      countFailure: assign(({ context }: { context: SagaContext }, params: { step: string }) => ({
        attempts: { ...context.attempts, [params.step]: (context.attempts[params.step] ?? 0) + 1 },
      })),
      recordError: assign(({ event }: GuardArgs, params: { step: string }) => ({ error: failureOf(event, params.step) })),
      recordWarning: assign(({ context, event }: GuardArgs, params: { step: string }) => {
        const { [params.step]: _failed, ...attempts } = context.attempts;
        return { warnings: [...(context.warnings ?? []), failureOf(event, params.step)], attempts };
      }),
      markCancelled: assign(() => ({
        cancelled: true,
        error: { step: '', code: 'CANCELLED', message: 'saga cancelled', retryable: false },
      })),
      popStack: assign(({ context }: { context: SagaContext }) => ({
        stack: context.stack.slice(0, -1),
        undoAttempts: 0,
        undoError: null,
      })),
      countUndoFailure: assign(({ context, event }: GuardArgs) => ({
        undoAttempts: context.undoAttempts + 1,
        undoError: failureOf(event, context.stack.at(-1)?.step ?? ''),
      })),
      resetUndo: assign(() => ({ undoAttempts: 0 })),
      markCompensatedByParent: assign(({ context }: { context: SagaContext }) => ({
        error: context.error ?? { step: '', code: 'PARENT_COMPENSATING', message: 'compensated by its parent saga', retryable: false },
      })),
      // The stack is kept as it is: it still holds the inputs of what was left undone.
      noteAbandoned: assign(({ context }: { context: SagaContext }) => {
        const ref = (e: CompensationEntry): UndoRef => ({ step: e.step, undo: undoOf(byName.get(e.step)) ?? '' });
        const [top, ...below] = [...context.stack].reverse();
        const abandoned: AbandonedNote = { failedUndo: { ...ref(top!), error: context.undoError }, notRun: below.map(ref) };
        return { abandoned };
      }),
    },
    delays: delays as never,
  });

  const compensate = { target: `#${id}.compensating` };
  // A nestable machine's parent may have it compensated at any point before releasing it.
  const byParent = nestable ? { [SagaEventType.Compensate]: { ...compensate, actions: 'markCompensatedByParent' } } : {};

  /** The state of one step; `next` is the absolute target it goes on to when done. */
  const stepState = (step: SagaStepConfig, next: string): Record<string, unknown> => {
    const p = { step: step.name };
    const needs = step.needs ?? [];
    const awaitState = (dep: string): string => `await_${dep}`;
    const first = needs.length > 0 ? awaitState(needs[0]!) : 'running';
    const giveUp = step.optional
      ? { target: next, actions: { type: 'recordWarning', params: p } }
      : { ...compensate, actions: { type: 'recordError', params: p } };
    const onFailure = [{ guard: { type: 'canRetry', params: p }, target: 'waiting', actions: { type: 'countFailure', params: p } }, giveUp];
    // A dependency the step reports unavailable is waited for again before the next attempt.
    const onError = [
      ...needs.map((dep) => ({ guard: { type: 'unavailable', params: { step: step.name, dependency: dep } }, target: awaitState(dep), actions: { type: 'countFailure', params: p } })),
      ...onFailure,
    ];
    const awaiting: Record<string, unknown> = {};
    needs.forEach((dep, k) => {
      awaiting[awaitState(dep)] = {
        tags: [awaitsTag(dep)],
        description: `waits for boot dependency "${dep}" to be ready`,
        on: { [SagaEventType.Ready]: { guard: { type: 'readyFor', params: { dependency: dep } }, target: needs[k + 1] ? awaitState(needs[k + 1]!) : 'running' } },
      };
    });
    return {
      description: step.description,
      entry: undoOf(step) ? { type: 'pushStep', params: p } : undefined,
      initial: first,
      on: { [SagaEventType.Cancel]: { ...compensate, actions: 'markCancelled' }, ...byParent },
      states: {
        ...awaiting,
        running: {
          invoke: {
            id: step.name,
            src: srcOf(step),
            input: ({ context }: { context: SagaContext }) => invokeInputOf(step, context),
            onDone: { target: next, actions: { type: 'recordOutput', params: p } },
            onError,
          },
          after: step.timeoutMs === undefined ? undefined : { [`timeout.${step.name}`]: onFailure },
        },
        waiting: { after: { [`retry.${step.name}`]: first } },
      },
    };
  };

  /** States of a sequence of entries under `path` (a state id), ending at `end`. */
  const sequence = (entries: readonly SagaStepEntry[], path: string, end: string): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    entries.forEach((entry, i) => {
      const after = entries[i + 1];
      const next = after ? `${path}.${after.name}` : end;
      if (!isParallel(entry)) {
        out[entry.name] = stepState(entry, next);
        return;
      }
      const regions: Record<string, unknown> = {};
      for (const [branch, steps] of Object.entries(entry.parallel)) {
        const branchPath = `${path}.${entry.name}.${branch}`;
        regions[branch] = { initial: steps[0]!.name, states: { ...sequence(steps, branchPath, `${branchPath}.done`), done: { type: 'final' } } };
      }
      out[entry.name] = { description: entry.description, type: 'parallel', states: regions, onDone: { target: next } };
    });
    return out;
  };

  const states: Record<string, unknown> = sequence(config.steps, `#${id}`, `#${id}.${nestable ? HELD_STATE : 'completed'}`);

  const undoable = allSteps.filter((s) => undoOf(s));
  const compensating: Record<string, unknown> = {
    next: {
      always: [
        { guard: 'cancelledAndDone', target: `#${id}.cancelled` },
        { guard: 'stackEmpty', target: `#${id}.compensated` },
        ...undoable.map((s) => ({ guard: { type: 'topIs', params: { step: s.name } }, target: `undo_${s.name}` })),
      ],
    },
    backoff: { after: { 'retry.undo': 'next' } },
  };
  for (const step of undoable) {
    compensating[`undo_${step.name}`] = {
      invoke: {
        id: undoInvocationId(step.name),
        src: undoOf(step),
        input: ({ context }: { context: SagaContext }) => ({
          ...(step.child === undefined ? {} : { machine: step.child, step: step.name }),
          input: context.stack.at(-1)?.input,
          output: context.outputs[step.name] ?? null,
        }),
        onDone: { target: 'next', actions: 'popStack' },
        onError: [
          { guard: 'canRetryUndo', target: 'backoff', actions: 'countUndoFailure' },
          { target: `#${id}.blocked`, actions: 'countUndoFailure' },
        ],
      },
    };
  }

  states.compensating = { tags: [SagaTag.Compensating], initial: 'next', states: compensating };
  states.blocked = {
    tags: [SagaTag.Blocked],
    description:
      'an undo failed terminally or kept failing; send saga.retry to try it again, saga.skip to give it up and undo the rest, or saga.abandon to undo nothing more',
    on: {
      [SagaEventType.Retry]: { target: 'compensating', actions: 'resetUndo' },
      [SagaEventType.Skip]: { target: 'compensating', actions: 'popStack' },
      [SagaEventType.Abandon]: { target: 'abandoned', actions: 'noteAbandoned' },
    },
  };
  if (nestable) states[HELD_STATE] = heldState();
  const output = ({ context }: { context: SagaContext }): SagaOutput => outputOf(context);
  states.completed = { type: 'final', output };
  states.compensated = { type: 'final', tags: [SagaTag.Compensated], output };
  states.cancelled = { type: 'final', tags: [SagaTag.Cancelled], output };
  // Tagged cancelled (an operator stopped it), not compensated: it was not rolled back cleanly.
  // Only `saga.abandon` leads here, so journals written before this state existed replay the same.
  states.abandoned = {
    type: 'final',
    tags: [SagaTag.Cancelled],
    description: 'an operator abandoned the compensation; context.abandoned names the failed undo and the undos that never ran',
    output,
  };

  // The config is built from data, so its literal types are unknown to setup(); the shape is
  // checked by the unit tests that drive every path through transition().
  return kit.createMachine({
    id,
    description: config.description,
    // Only a nestable machine unwraps a child's input: every other context is as it always was.
    context: ({ input }) =>
      nestable && isChildSagaInput(input) ? { ...initialSagaContext(input.input), parent: input.$parent } : initialSagaContext(input),
    initial: config.steps[0]!.name,
    states: states as never,
    output: ({ context }) => outputOf(context),
  }) as unknown as AnyStateMachine;
}

/** What a kit-built saga outputs (also what a child in `succeeded` hands its parent). */
export function outputOf(context: SagaContext): SagaOutput {
  // `abandoned` only when set: the output of every other saga stays as it always was.
  return { outputs: context.outputs, error: context.error, warnings: context.warnings ?? [], ...(context.abandoned ? { abandoned: context.abandoned } : {}) };
}

function validate(config: SagaConfig): void {
  if (!NAME.test(config.id)) throw new Error(`saga id "${config.id}" must match ${NAME}`);
  if (config.steps.length === 0) throw new Error(`saga "${config.id}" needs at least one step`);
  const seen = new Set<string>();
  const name = (n: string, what: string): void => {
    if (!NAME.test(n)) throw new Error(`${what} name "${n}" must match ${NAME}`);
    if (RESERVED.has(n)) throw new Error(`${what} name "${n}" is reserved`);
    if (seen.has(n)) throw new Error(`${what} name "${n}" is used twice`);
    seen.add(n);
  };
  for (const entry of config.steps) {
    if (!isParallel(entry)) {
      name(entry.name, 'step');
      continue;
    }
    name(entry.name, 'parallel group');
    const branches = Object.entries(entry.parallel);
    if (branches.length < 2) throw new Error(`parallel group "${entry.name}" needs at least two branches`);
    for (const [branch, steps] of branches) {
      if (!NAME.test(branch) || branch === 'done') throw new Error(`branch name "${branch}" of "${entry.name}" must match ${NAME} and not be "done"`);
      if (steps.length === 0) throw new Error(`branch "${branch}" of "${entry.name}" has no steps`);
      for (const step of steps) {
        if (isParallel(step as SagaStepEntry)) throw new Error(`branch "${branch}" of "${entry.name}": parallel groups do not nest`);
        name(step.name, 'step');
      }
    }
  }
  for (const step of stepsOf(config)) {
    if (!step.run && step.child === undefined) throw new Error(`step "${step.name}" has no run implementation name (or child machine id)`);
    if (step.run && step.child !== undefined) throw new Error(`step "${step.name}" names both run and child: one step runs one or the other`);
    if (step.child !== undefined) {
      if (!NAME.test(step.child)) throw new Error(`step "${step.name}": child machine id "${step.child}" must match ${NAME}`);
      if (step.undo || step.optional) throw new Error(`step "${step.name}" runs a child saga: its undo is implicit (it compensates the child) and it cannot be optional`);
    }
    if (step.optional && step.undo) throw new Error(`step "${step.name}" is optional and cannot have an undo`);
    if (step.timeoutMs !== undefined && !(step.timeoutMs > 0)) throw new Error(`step "${step.name}": timeoutMs must be > 0`);
    for (const dep of step.needs ?? []) {
      if (!DEPENDENCY.test(dep)) throw new Error(`step "${step.name}": needed dependency "${dep}" must match ${DEPENDENCY}`);
    }
    if (new Set(step.needs).size !== (step.needs?.length ?? 0)) throw new Error(`step "${step.name}" names a needed dependency twice`);
  }
}
