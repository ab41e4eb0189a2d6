/**
 * Replay compatibility (Temporal's replayer, for sagas): does a candidate machine — a newer
 * version, an edited definition — take a recorded journal exactly where its own machine took
 * it? The journal holds inputs, not states, so "where its own machine took it" is the replay
 * of the journal on the original machine; the candidate must reach the same state and status
 * after every entry. The first entry where it does not (or where it throws) is reported.
 */
import { isDeepStrictEqual } from 'node:util';
import type { StateValue } from 'xstate';
import type { SagaStatus } from '../journal/index-store.js';
import type { JournalView } from './journal-view.js';
import { replaySteps, type ReplayStep } from './replay-saga.js';
import type { SagaDefinition } from './types.js';

export interface ReplayOutcome {
  readonly state: StateValue | null;
  readonly status: SagaStatus | null;
}

export type ReplayCheck =
  | { readonly ok: true; /** Entries compared. */ readonly entries: number }
  | {
      readonly ok: false;
      /** The number of the first entry where the candidate diverged. */
      readonly entry: number;
      /** What the original machine reached after that entry. */
      readonly expected: ReplayOutcome;
      /** What the candidate reached, or why it could not replay the entry. */
      readonly actual: ReplayOutcome | { readonly error: string };
    };

export interface CheckReplayArgs {
  /** The machine version that wrote the journal. */
  readonly original: SagaDefinition;
  /** The machine to check against it. */
  readonly candidate: SagaDefinition;
  readonly journal: readonly JournalView[];
}

/**
 * Replays `journal` on both machines and compares them entry by entry. Throws if the original
 * itself cannot replay the journal (then the journal, or the original given, is wrong).
 */
export function checkReplay({ original, candidate, journal }: CheckReplayArgs): ReplayCheck {
  const actual = replaySteps(candidate, journal);
  let entries = 0;
  for (const expected of replaySteps(original, journal)) {
    let got: IteratorResult<ReplayStep>;
    try {
      got = actual.next();
    } catch (e) {
      return { ok: false, entry: expected.no, expected: outcomeOf(expected), actual: { error: (e as Error).message } };
    }
    if (got.done) return { ok: false, entry: expected.no, expected: outcomeOf(expected), actual: { error: 'the candidate stopped replaying early' } };
    if (!isDeepStrictEqual(got.value.state, expected.state) || got.value.status !== expected.status) {
      return { ok: false, entry: expected.no, expected: outcomeOf(expected), actual: outcomeOf(got.value) };
    }
    entries++;
  }
  return { ok: true, entries };
}

function outcomeOf(step: ReplayStep): ReplayOutcome {
  return { state: step.state, status: step.status };
}
