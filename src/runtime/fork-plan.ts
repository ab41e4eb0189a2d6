/**
 * What a fork of a saga from entry n would be, computed without writing anything: the copies of
 * the source's entries 1..n (takeover and void records left out, renumbered without gaps, the
 * init marked `forkedFrom`), the fork's state once they are folded — by the same fold recovery
 * uses — and what it means for effects: the invocations in flight at n start again, the steps
 * the source completed after n run again, and the undos the source ran after n are listed so an
 * operator sees what was already rolled back.
 */
import type { StateValue } from 'xstate';
import { CorruptEntryError, InvalidArgumentError } from '../errors.js';
import { decodeRecord, encodeRecord, isInitRecord, isTakeoverRecord, isVoidRecord, type JournalRecord } from '../journal/codec.js';
import type { SagaStatus } from '../journal/index-store.js';
import type { JournalEntry } from '../journal/journal.js';
import { isDoneEvent, resultActorId } from './book.js';
import { foldJournal, type FoldedSaga } from './fold.js';
import { ForkCopiesOwnedStepError, ForkPointFinalError } from './fork-errors.js';
import { journalView } from './journal-view.js';
import type { MachineRegistry } from './registry.js';
import { replaySteps } from './replay-saga.js';
import { statusOf } from './status.js';

/** An invocation, by invoke id (`ship`, `undo.ship`) and step implementation (`src`). */
export interface ForkStep {
  readonly id: string;
  readonly src: string;
}

/** A result the source journaled after the fork point (`src` is null where the machine here cannot tell it). */
export interface ForkResultEntry {
  readonly id: string;
  readonly src: string | null;
  /** The source's entry number of the result. */
  readonly entry: number;
  readonly outcome: 'done' | 'error';
}

/** The answer of `runtime.fork` (and of a dry run); the README documents it as the JSON of `sagas.fork`. */
export interface ForkPlan {
  readonly source: string;
  /** The source's entry number the fork starts from. */
  readonly from: number;
  /** The machine that drives the fork (the source's, or a version here that resumes from it). */
  readonly machine: string;
  readonly version: number;
  /** Entries copied (the init included; takeover records are not copied). */
  readonly entries: number;
  /** The fork's state and status once the copies are folded: where it goes on from. */
  readonly state: StateValue;
  readonly status: SagaStatus;
  /** Invocations in flight at the fork point: started again, under the fork's keys. */
  readonly willRun: readonly ForkStep[];
  /** Undo invocations the source ran after the fork point (done or failed). */
  readonly undosRun: readonly ForkResultEntry[];
  /** Step invocations the source completed after the fork point: the fork runs them again. */
  readonly stepsAfter: readonly ForkResultEntry[];
}

export interface ForkDraft {
  readonly plan: ForkPlan;
  /** The fork's journal, encoded, in order (entry 1 is the init). */
  readonly copies: readonly Uint8Array[];
  /** The fold of the copies (with placeholder journal seqs). */
  readonly folded: FoldedSaga;
}

export interface DraftForkArgs {
  readonly registry: MachineRegistry;
  readonly sourceId: string;
  /** The source's journal as stored. */
  readonly source: readonly JournalEntry[];
  readonly from: number;
  /** The fork's id (keys of the in-flight invocations are computed with it). */
  readonly forkId: string;
  /** The coordinator that writes the fork (the copied init names it). */
  readonly owner: string;
}

const UNDO_PREFIX = 'undo.';

/**
 * Drafts the fork. Throws INVALID_ARGUMENT for an entry number outside the source's journal,
 * UNKNOWN_MACHINE / MACHINE_VERSION_MISMATCH when no machine here replays the source, and
 * FORK_POINT_FINAL when the source is already finished at that entry.
 */
export function draftFork(args: DraftForkArgs): ForkDraft {
  const { sourceId, from, forkId } = args;
  const records = args.source.map((e) => decodeRecord(e.data, e)).filter((r) => !isVoidRecord(r));
  const last = records.at(-1)?.no ?? 0;
  if (!Number.isInteger(from) || from < 1 || from > last) {
    throw new InvalidArgumentError(`entry ${from} is not in saga "${sourceId}": fork from an entry between 1 and ${last}`, { sagaId: sourceId, from, last });
  }
  const kept = records.filter((r) => r.no <= from && !isTakeoverRecord(r));
  const first = kept[0];
  if (!first || !isInitRecord(first)) throw new CorruptEntryError(`saga "${sourceId}" does not start with an init entry`, { sagaId: sourceId });
  const entries = kept.length;
  const copies = kept.map((r, i): Uint8Array => {
    const no = i + 1;
    if (isInitRecord(r)) {
      const { machine, version, input } = r.init;
      return encodeRecord({ no: 1, at: r.at, init: { machine, version, input, owner: args.owner, forkedFrom: { sagaId: sourceId, entry: from, entries } } });
    }
    if (!('event' in r)) throw new CorruptEntryError(`saga "${sourceId}": entry ${r.no} is a second init entry`, { sagaId: sourceId, no: r.no });
    // The event as journaled (a result's key names the source's attempt), at its own time.
    return encodeRecord({ no, at: r.at, event: r.event });
  });
  const folded = foldJournal(
    args.registry,
    forkId,
    copies.map((data, i) => ({ sagaId: forkId, seq: i + 1, msgId: undefined, data })),
  )!;
  const status = statusOf(folded.snapshot);
  if (folded.snapshot.status === 'done') throw new ForkPointFinalError(sourceId, from, status);
  const owned = new Set(folded.binding.ownedSteps ?? []);
  for (const r of kept) {
    if (!('event' in r)) continue;
    const id = resultActorId(r.event);
    if (id !== undefined && owned.has(id) && isDoneEvent(r.event)) throw new ForkCopiesOwnedStepError(sourceId, from, id, r.no);
  }

  const { undosRun, stepsAfter } = resultsAfter(args, folded, records);
  return {
    copies,
    folded,
    plan: {
      source: sourceId,
      from,
      machine: folded.binding.id,
      version: folded.binding.version,
      entries,
      state: folded.snapshot.value,
      status,
      willRun: Object.values(folded.book.pending).map((p) => ({ id: p.id, src: p.src })),
      undosRun,
      stepsAfter,
    },
  };
}

/** The results the source journaled after the fork point, with their step names. */
function resultsAfter(args: DraftForkArgs, folded: FoldedSaga, records: readonly JournalRecord[]): { undosRun: ForkResultEntry[]; stepsAfter: ForkResultEntry[] } {
  // Step names come from replaying the source here, as far as this machine replays it (a fork
  // is how one goes on past an entry a changed machine no longer takes).
  const srcAt = new Map<string, string>();
  try {
    for (const step of replaySteps(folded.binding, args.source.map(journalView), { sagaId: args.sourceId })) {
      if (step.no <= args.from) continue;
      for (const e of step.effects) if (e.kind === 'step.stopped' && e.outcome !== 'aborted') srcAt.set(`${step.no}:${e.id}`, e.src);
    }
  } catch {
    // beyond here results are listed from the journal alone
  }
  const undosRun: ForkResultEntry[] = [];
  const stepsAfter: ForkResultEntry[] = [];
  for (const r of records) {
    if (r.no <= args.from || !('event' in r)) continue;
    const id = resultActorId(r.event);
    if (id === undefined) continue;
    const outcome = isDoneEvent(r.event) ? 'done' : 'error';
    const result: ForkResultEntry = { id, src: srcAt.get(`${r.no}:${id}`) ?? null, entry: r.no, outcome };
    if (id.startsWith(UNDO_PREFIX)) undosRun.push(result);
    else if (outcome === 'done') stepsAfter.push(result);
  }
  return { undosRun, stepsAfter };
}
