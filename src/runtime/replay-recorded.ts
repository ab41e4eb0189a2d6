/**
 * A determinism check against what was recorded: does a machine — the one a coordinator runs
 * now, perhaps changed since the saga was journaled, perhaps under the same version — take a
 * saga's journal the way the machine that wrote it did?
 *
 * The journal holds inputs, not states, and the machine that wrote it may be gone (or be this
 * very definition, edited), so "the way it did" is read from what the runtime would only ever
 * have journaled:
 *   - an external event is journaled only if the machine took it as a transition: the
 *     candidate must not ignore it;
 *   - a step's result (`xstate.done.actor.<id>` / `xstate.error.actor.<id>`) only while that
 *     invocation was in flight, under its key: the candidate must have it in flight, under the
 *     same key (the key names the spawning entry, so a step spawned elsewhere differs);
 *   - a timer firing only while the timer was armed: the candidate must have armed it;
 *   - where the runtime saved a checkpoint, its state value after that entry;
 *   - and the saga's status (its index record, or its live copy) after the last entry.
 * The first entry that breaks one of these is reported, with what was expected and what the
 * candidate did, in words.
 */
import { isDeepStrictEqual } from 'node:util';
import type { StateValue } from 'xstate';
import { SagaError } from '../errors.js';
import type { SagaStatus } from '../journal/index-store.js';
import { resultActorId } from './book.js';
import type { JournalView } from './journal-view.js';
import { replaySteps, type ReplayStep } from './replay-saga.js';
import type { SagaDefinition } from './types.js';

/** What the runtime recorded besides the journal. */
export interface RecordedFacts {
  /** The status the saga reached (index record, or the live copy driving it). */
  readonly status?: SagaStatus;
  /** A checkpoint: the state value recorded after entry `no`. */
  readonly checkpoint?: { readonly no: number; readonly state: StateValue };
}

export type RecordedCheck =
  | { readonly ok: true; /** The saga's entries checked (its last entry's number). */ readonly entries: number }
  | {
      readonly ok: false;
      /** The number of the first entry the candidate does not take as recorded. */
      readonly entry: number;
      /** That entry's event type (`init` for the init entry). */
      readonly event: string;
      /** What the journal (or the record) says happened. */
      readonly expected: string;
      /** What the candidate did instead. */
      readonly actual: string;
      /** The candidate's state value before the entry (null before the init entry). */
      readonly state: StateValue | null;
    };

export interface CheckRecordedArgs {
  readonly candidate: SagaDefinition;
  readonly sagaId: string;
  readonly journal: readonly JournalView[];
  readonly recorded?: RecordedFacts;
}

const stateText = (s: StateValue | null): string => (s === null ? '(none)' : typeof s === 'string' ? s : JSON.stringify(s));
const list = (names: Iterable<string>): string => [...names].join(', ') || 'none';

export function checkRecorded({ candidate, sagaId, journal, recorded = {} }: CheckRecordedArgs): RecordedCheck {
  /** The candidate's invocations in flight (id → key) and armed timers, read from its effects. */
  const inFlight = new Map<string, string | undefined>();
  const armed = new Set<string>();
  let state: StateValue | null = null;
  let status: SagaStatus | null = null;
  let last = 0;
  const steps = replaySteps(candidate, journal, { sagaId });
  for (;;) {
    let next: IteratorResult<ReplayStep>;
    try {
      next = steps.next();
    } catch (e) {
      // The candidate threw on an entry (a guard, an assign, its input): divergence, not a
      // broken journal (which is rethrown).
      if (!(e instanceof SagaError) || e.code !== 'REPLAY_FAILED') throw e;
      const no = Number(e.details?.no ?? last + 1);
      const type = typeAt(journal, no);
      return { ok: false, entry: no, event: type, expected: `${type} taken as a transition`, actual: `the machine threw: ${(e.cause as Error | undefined)?.message ?? e.message}`, state };
    }
    if (next.done) break;
    const step = next.value;
    if (step.kind === 'void') continue;
    last = step.no;
    if (step.kind === 'event' && step.event) {
      const found = offence(step, sagaId, inFlight, armed, state);
      if (found) return { ok: false, entry: step.no, event: step.event.type, ...found, state };
    }
    for (const e of step.effects) {
      if (e.kind === 'step.started') inFlight.set(e.id, e.key);
      else if (e.kind === 'step.stopped') inFlight.delete(e.id);
      else if (e.kind === 'timer.armed') armed.add(e.id);
      else if (e.kind === 'timer.fired' || e.kind === 'timer.cancelled') armed.delete(e.id);
    }
    const cp = recorded.checkpoint;
    if (cp && cp.no === step.no && !isDeepStrictEqual(step.state, cp.state)) {
      return { ok: false, entry: step.no, event: step.event?.type ?? step.kind, expected: `state ${stateText(cp.state)} (recorded in a checkpoint)`, actual: `state ${stateText(step.state)}`, state };
    }
    state = step.state;
    status = step.status;
  }
  if (recorded.status !== undefined && status !== recorded.status) {
    return {
      ok: false,
      entry: last,
      event: typeAt(journal, last),
      expected: `status ${recorded.status} after the last entry (as recorded)`,
      actual: `status ${status ?? '(none)'} in state ${stateText(state)}`,
      state,
    };
  }
  return { ok: true, entries: last };
}

/** The event type of entry `no` (`init`, `takeover` for a marker). */
function typeAt(journal: readonly JournalView[], no: number): string {
  if (no === 1) return 'init';
  const view = journal.find((v) => v.entryNo === no && v.void === undefined);
  return view?.event?.type ?? (view?.takeover ? 'takeover' : '?');
}

/** What is wrong with how the candidate took an event entry, if anything. */
function offence(
  step: ReplayStep,
  sagaId: string,
  inFlight: ReadonlyMap<string, string | undefined>,
  armed: ReadonlySet<string>,
  before: StateValue | null,
): { expected: string; actual: string } | undefined {
  const event = step.event as { type: string; payload: Readonly<Record<string, unknown>> };
  const actorId = resultActorId(event);
  if (actorId !== undefined) {
    const key = typeof event.payload.key === 'string' ? event.payload.key : undefined;
    // A fork's copied results carry the source's keys: only this saga's own are compared.
    const ownKey = key !== undefined && key.startsWith(`${sagaId}:`) ? key : undefined;
    const expected = `invocation "${actorId}" in flight${ownKey ? ` (key ${ownKey})` : ''}`;
    if (!inFlight.has(actorId)) return { expected, actual: `no invocation "${actorId}" in flight (in flight: ${list(inFlight.keys())}; state ${stateText(before)})` };
    const got = inFlight.get(actorId);
    if (ownKey && got !== ownKey) return { expected, actual: `invocation "${actorId}" in flight under key ${got ?? '?'} (spawned by another entry)` };
    return undefined;
  }
  const timerId = event.payload.timerId;
  if (typeof timerId === 'string') {
    if (!armed.has(timerId)) return { expected: `timer "${timerId}" armed`, actual: `no timer "${timerId}" armed (armed: ${list(armed)}; state ${stateText(before)})` };
    return undefined;
  }
  if (step.accepted === false) return { expected: `event "${event.type}" taken as a transition (it was journaled)`, actual: `"${event.type}" changes nothing in state ${stateText(before)}` };
  return undefined;
}
