/**
 * Replay for people: folds a saga's journal through the same pure transition functions and the
 * same book (book.ts) as the runtime, and says, entry by entry, what the machine did — the
 * state and status it reached, how its context changed, and what the runtime acted on: steps
 * started and stopped, timers armed and cancelled. Runs nothing (no step, no timer, no custom
 * action), so it is safe on any journal, offline, against any machine version.
 *
 * Effects are the runtime's own: it brings running steps and armed timers in line with the
 * book after every entry (saga-instance.ts `act()`), so they are read here as the difference
 * between the book before and after the entry.
 */
import type { AnyEventObject, AnyMachineSnapshot, StateValue } from 'xstate';
import { CorruptEntryError, InvalidArgumentError, SagaError } from '../errors.js';
import type { SagaStatus } from '../journal/index-store.js';
import { applyEntry, cloneBook, emptyBook, isDoneEvent, resultActorId, type Book } from './book.js';
import type { JournalView } from './journal-view.js';
import { pureTransitions } from './pure-transition.js';
import { diffContext, type ContextChange } from './replay-diff.js';
import { statusOf } from './status.js';
import type { SagaDefinition } from './types.js';

/** What an entry fed the machine: the init input, or an event (its fields but `type`). */
export type ReplayEvent =
  | { readonly type: 'init'; readonly input: unknown }
  | { readonly type: string; readonly payload: Readonly<Record<string, unknown>> };

/** What the runtime does after an entry, as derived from the transition's actions. */
export type ReplayEffect =
  | {
      readonly kind: 'step.started';
      /** The invocation id (the step's state name; `undo.<step>` for an undo). */
      readonly id: string;
      /** The step implementation run. */
      readonly src: string;
      readonly input: unknown;
      readonly attempt: number;
      /** The idempotency key the step runs under (only when the saga id is known). */
      readonly key?: string;
    }
  | {
      readonly kind: 'step.stopped';
      readonly id: string;
      readonly src: string;
      /** `done`/`error`: this entry is its result; `aborted`: the saga left it in flight. */
      readonly outcome: 'done' | 'error' | 'aborted';
      readonly key?: string;
    }
  | {
      readonly kind: 'timer.armed';
      readonly id: string;
      /** The event it delivers when due. */
      readonly event: string;
      readonly delayMs: number;
      /** Epoch ms: the entry's `at` plus the delay (kept across restarts). */
      readonly dueAt: number;
      readonly key?: string;
    }
  /** The entry is this timer's firing. */
  | { readonly kind: 'timer.fired'; readonly id: string; readonly key?: string }
  /** The saga left the state that armed it. */
  | { readonly kind: 'timer.cancelled'; readonly id: string; readonly key?: string }
  /** A custom (non-`xstate.*`) action: run once live after the append, never on recovery. */
  | { readonly kind: 'action'; readonly type: string };

/** An action as `transition()` returns it (only what replay reads). */
interface Action {
  readonly type: string;
  readonly params?: unknown;
  readonly exec?: unknown;
}

export type ReplayEntryKind = 'init' | 'event' | 'takeover' | 'void';

/** One journal entry, replayed. */
export interface ReplayStep {
  /** The entry's number within the saga (1 = init; 0 = a void record before it). */
  readonly no: number;
  readonly at: number;
  readonly streamSeq: number;
  readonly kind: ReplayEntryKind;
  /** What the entry fed the machine; null for a takeover or void record (no transition). */
  readonly event: ReplayEvent | null;
  /** The state value after the entry (null before the init entry). */
  readonly state: StateValue | null;
  readonly status: SagaStatus | null;
  /** How the machine context changed (from `{}` for the init entry). */
  readonly contextDiff: readonly ContextChange[];
  readonly effects: readonly ReplayEffect[];
  /**
   * For an init or event entry: whether the machine took it as a transition (a new snapshot or
   * actions). False means the machine ignored it — the runtime would not have journaled an
   * external event it ignores (`runtime.send` answers `accepted: false`).
   */
  readonly accepted?: boolean;
  /** Why an entry has no transition (takeover and void records). */
  readonly note?: string;
  /** The whole machine context after the entry (null before the init entry): only with `withContext`. */
  readonly context?: unknown;
}

export interface ReplayOptions {
  /** The last entry number to replay (inclusive); default: all. */
  readonly to?: number;
  /** The saga's id: with it, effects carry the idempotency keys the runtime used. */
  readonly sagaId?: string;
  /**
   * Add each entry's whole context (`context`): what a scrubber shows at an entry. Contexts are
   * the machine's own immutable values, shared between entries, not copies.
   */
  readonly withContext?: boolean;
}

/**
 * Replays `journal` (as `runtime.events()` returns it) against `definition`. Throws
 * CorruptEntryError for a journal out of order, and REPLAY_FAILED (details `no`) when the
 * machine throws on an entry. The journal's machine version is not checked: replaying an old
 * journal on a newer version is what `checkReplay` is for.
 */
export function replaySaga(definition: SagaDefinition, journal: readonly JournalView[], options: ReplayOptions = {}): ReplayStep[] {
  return [...replaySteps(definition, journal, options)];
}

/** `replaySaga`, one entry at a time (a caller may stop early or compare two replays). */
export function* replaySteps(definition: SagaDefinition, journal: readonly JournalView[], options: ReplayOptions = {}): Generator<ReplayStep> {
  const to = options.to ?? Infinity;
  const withKeys = options.sagaId !== undefined;
  const context = (value: unknown): { context?: unknown } => (options.withContext ? { context: value } : {});
  const sagaId = options.sagaId ?? '';
  const pure = pureTransitions(definition.machine);
  let snapshot: AnyMachineSnapshot | undefined;
  let status: SagaStatus | null = null;
  let no = 0;
  const book = emptyBook();

  for (const view of journal) {
    if (view.void !== undefined) {
      if (snapshot) throw new CorruptEntryError(`journal entry ${view.streamSeq}: a void record after the init entry`, { seq: view.streamSeq });
      if (to < 1) return;
      const v = view.void;
      yield { ...noTransition(view, 'void', null, null, `void record by ${v.owner} (epoch ${v.epoch}): ${v.reason}; not an entry of the saga`), ...context(null) };
      continue;
    }
    if (view.entryNo !== no + 1) {
      throw new CorruptEntryError(`journal entry ${view.streamSeq} has number ${view.entryNo}, expected ${no + 1}`, { seq: view.streamSeq, no: view.entryNo });
    }
    if (view.entryNo > to) return;
    no = view.entryNo;

    if (view.takeover !== undefined) {
      if (!snapshot) throw new CorruptEntryError(`journal entry ${view.streamSeq}: a takeover record before the init entry`, { seq: view.streamSeq });
      const t = view.takeover;
      yield { ...noTransition(view, 'takeover', snapshot.value, status, `taken over by ${t.owner} from ${t.from} (epoch ${t.epoch}); not an input of the machine`), ...context(snapshot.context) };
      continue;
    }

    const before = cloneBook(book);
    const previousContext: unknown = snapshot ? snapshot.context : {};
    let event: AnyEventObject | undefined;
    let next: AnyMachineSnapshot;
    let actions: readonly Action[];
    try {
      if (no === 1) {
        const init = initOf(view);
        if (init.machine !== definition.id) {
          throw new InvalidArgumentError(`the journal was written by machine "${init.machine}", not "${definition.id}"`, { machine: init.machine });
        }
        [next, actions] = pure.initial(init.input) as [AnyMachineSnapshot, Action[]];
      } else {
        if (!snapshot || view.event === undefined) throw new CorruptEntryError(`journal entry ${view.streamSeq} (number ${no}) holds no event`, { seq: view.streamSeq });
        // Exactly what the runtime fed the machine: the journaled event stamped with its time.
        event = { ...view.event, at: view.at } as AnyEventObject;
        [next, actions] = pure.next(snapshot, event) as [AnyMachineSnapshot, Action[]];
      }
    } catch (e) {
      if (e instanceof SagaError) throw e;
      const what = event ? `entry ${no} (${event.type})` : 'the init entry';
      throw new SagaError('REPLAY_FAILED', `replaying ${what} on ${definition.id}@${definition.version} failed: ${(e as Error).message}`, {
        cause: e,
        details: { no, seq: view.streamSeq },
      });
    }
    const accepted = next !== snapshot || actions.length > 0;
    snapshot = next;
    const final = snapshot.status === 'done';
    applyEntry(book, { sagaId, no, at: view.at, event, final }, actions);
    status = statusOf(snapshot);
    yield {
      no,
      at: view.at,
      streamSeq: view.streamSeq,
      kind: no === 1 ? 'init' : 'event',
      event: no === 1 ? { type: 'init', input: initOf(view).input } : payloadOf(view.event!),
      state: snapshot.value,
      status,
      contextDiff: diffContext(previousContext, snapshot.context),
      effects: effectsOf(before, book, { event, at: view.at, actions, withKeys }),
      accepted,
      ...context(snapshot.context),
    };
  }
}

function noTransition(view: JournalView, kind: ReplayEntryKind, state: StateValue | null, status: SagaStatus | null, note: string): ReplayStep {
  return { no: view.entryNo, at: view.at, streamSeq: view.streamSeq, kind, event: null, state, status, contextDiff: [], effects: [], note };
}

/** The init record's body: which machine version started the saga, with what input. */
export function initOf(view: JournalView): { machine: string; version: number; input: unknown } {
  const init = view.init as { machine?: unknown; version?: unknown; input?: unknown } | undefined;
  if (typeof init !== 'object' || init === null || typeof init.machine !== 'string' || typeof init.version !== 'number') {
    throw new CorruptEntryError(`journal entry ${view.streamSeq} is entry 1 but not an init entry`, { seq: view.streamSeq });
  }
  return { machine: init.machine, version: init.version, input: init.input };
}

function payloadOf(event: AnyEventObject): ReplayEvent {
  const { type, ...payload } = event;
  return { type, payload };
}

/**
 * The runtime's `act()` after an entry, as data: steps whose key left the book stop (aborted
 * unless this entry is their result), steps new to it start (in the order the machine spawned
 * them), and likewise for timers; then the custom actions it runs once.
 */
function effectsOf(
  before: Book,
  after: Book,
  entry: { event: AnyEventObject | undefined; at: number; actions: readonly Action[]; withKeys: boolean },
): ReplayEffect[] {
  const { event, actions, withKeys } = entry;
  const key = (k: string): { key?: string } => (withKeys ? { key: k } : {});
  const out: ReplayEffect[] = [];
  const resultOf = event ? resultActorId(event) : undefined;
  for (const [id, p] of Object.entries(before.pending)) {
    if (after.pending[id]?.key === p.key) continue;
    const outcome = resultOf === id ? (isDoneEvent(event!) ? 'done' : 'error') : 'aborted';
    out.push({ kind: 'step.stopped', id, src: p.src, outcome, ...key(p.key) });
  }
  const started = new Set<string>();
  const spawned = actions.filter((a) => a.type === 'xstate.spawnChild').map((a) => (a.params as { id: string }).id);
  for (const id of [...spawned, ...Object.keys(after.pending)]) {
    const p = after.pending[id];
    if (!p || started.has(id) || before.pending[id]?.key === p.key) continue;
    started.add(id);
    out.push({ kind: 'step.started', id, src: p.src, input: p.input, attempt: p.attempt, ...key(p.key) });
  }
  const firedId = (event as { timerId?: unknown } | undefined)?.timerId;
  for (const [id, t] of Object.entries(before.timers)) {
    if (after.timers[id]?.key === t.key) continue;
    out.push({ kind: firedId === id ? ('timer.fired' as const) : ('timer.cancelled' as const), id, ...key(t.key) });
  }
  for (const [id, t] of Object.entries(after.timers)) {
    if (before.timers[id]?.key === t.key) continue;
    out.push({ kind: 'timer.armed', id, event: t.event.type, delayMs: t.dueAt - entry.at, dueAt: t.dueAt, ...key(t.key) });
  }
  for (const a of actions) {
    if (!a.type.startsWith('xstate.') && typeof a.exec === 'function') out.push({ kind: 'action', type: a.type });
  }
  return out;
}
