/**
 * The saga the chaos test drives: four steps, each with an undo. Its input scripts how long
 * each step takes and how it fails, keyed by attempt number (which the journal fixes), so a
 * saga behaves the same on whichever process runs it and however often it is re-run.
 *
 * Every step applies its effect through the idempotent sink under `ctx.idempotencyKey`, and
 * records each run (start and outcome) in the process's run log, so runs of a process that is
 * SIGKILLed later stay visible.
 */
import { defineSaga } from '../../machines/kit/index.js';
import { RetryableError, TerminalError } from '../../src/errors.js';
import type { SagaBinding, StepContext, StepFn } from '../../src/runtime/types.js';
import type { EffectSink } from './effects.js';
import type { RunLog } from './run-log.js';

export const CHAOS_MACHINE = 'chaos';

/** Forward step → its undo. */
export const STEPS = { reserve: 'release', charge: 'refund', ship: 'recall', notify: 'retract' } as const;
export type StepName = keyof typeof STEPS;
export type UndoName = (typeof STEPS)[StepName];
export const STEP_NAMES = Object.keys(STEPS) as StepName[];

export interface ChaosInput {
  readonly saga: string;
  /** Milliseconds each step and undo takes (10–200). */
  readonly ms: Readonly<Record<string, number>>;
  /** Step → `N` (its first N attempts fail retryably) or `terminal` (its first attempt refuses). */
  readonly fail?: Readonly<Partial<Record<StepName, number | 'terminal'>>>;
  /** Undo → its first N attempts fail retryably (fewer than the undo policy allows). */
  readonly failUndo?: Readonly<Partial<Record<UndoName, number>>>;
}

/** Retries are few and short: the point is many journaled transitions, not long waits. */
export const STEP_ATTEMPTS = 4;
export const UNDO_ATTEMPTS = 4;

export const chaosMachine = defineSaga({
  id: CHAOS_MACHINE,
  retry: { initialDelayMs: 20, maxDelayMs: 150, maxAttempts: STEP_ATTEMPTS },
  undoRetry: { initialDelayMs: 20, maxDelayMs: 150, maxAttempts: UNDO_ATTEMPTS },
  steps: STEP_NAMES.map((name) => ({ name, run: name, undo: STEPS[name] })),
});

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });

function stepFn(name: string, undo: boolean, sink: EffectSink, runs: RunLog): StepFn {
  return async (raw: unknown, ctx: StepContext) => {
    // An undo receives `{ input, output }` (defineSaga); a step the saga's input.
    const input = (undo ? (raw as { input: ChaosInput }).input : raw) as ChaosInput;
    const base = { sagaId: ctx.sagaId, key: ctx.idempotencyKey, step: name, attempt: ctx.attempt };
    runs.write({ ...base, phase: 'start' });
    const signal = ctx.signal;
    try {
      await sleep(input.ms[name] ?? 20, signal);
      const plan = undo ? input.failUndo?.[name as UndoName] : input.fail?.[name as StepName];
      if (plan === 'terminal' && ctx.attempt === 1) throw new TerminalError(`${name} refused`, { code: 'REFUSED' });
      if (typeof plan === 'number' && ctx.attempt <= plan) throw new RetryableError(`${name} unavailable`, { code: 'UNAVAILABLE' });
      const effect = await sink.apply(ctx.idempotencyKey, { sagaId: ctx.sagaId, step: name, attempt: ctx.attempt, owner: runs.owner, pid: process.pid }, signal);
      runs.write({ ...base, phase: 'end', outcome: 'ok', effect });
      return { step: name, key: ctx.idempotencyKey };
    } catch (e) {
      const aborted = signal.aborted;
      runs.write({ ...base, phase: 'end', outcome: aborted ? 'aborted' : 'error', code: (e as { code?: string }).code });
      throw e;
    }
  };
}

export function chaosBinding(sink: EffectSink, runs: RunLog): SagaBinding {
  const steps: Record<string, StepFn> = {};
  for (const name of STEP_NAMES) {
    steps[name] = stepFn(name, false, sink, runs);
    steps[STEPS[name]] = stepFn(STEPS[name], true, sink, runs);
  }
  return { id: CHAOS_MACHINE, version: 1, machine: chaosMachine, steps };
}
