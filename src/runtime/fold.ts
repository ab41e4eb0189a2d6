/**
 * Replay: folds a saga's journal through `initialTransition`/`transition` into its snapshot
 * and book, running nothing. The same `applyEntry` as the live path builds the book, so the
 * fold of a journal equals the live state that wrote it.
 */
import type { AnyEventObject, AnyMachineSnapshot } from 'xstate';
import { CorruptEntryError, SagaError } from '../errors.js';
import { decodeRecord, isInitRecord, isTakeoverRecord, isVoidRecord, peekEntryNo, type ForkedFrom } from '../journal/codec.js';
import type { JournalEntry } from '../journal/journal.js';
import { applyEntry, cloneBook, emptyBook, type Book } from './book.js';
import { restoreSnapshot, type Checkpoint } from './checkpoint.js';
import { pureTransitions } from './pure-transition.js';
import type { MachineRegistry } from './registry.js';
import type { SagaBinding } from './types.js';

export interface FoldedSaga {
  readonly sagaId: string;
  readonly binding: SagaBinding;
  readonly snapshot: AnyMachineSnapshot;
  readonly book: Book;
  /** Entries folded (= the last entry's number). */
  readonly no: number;
  /** Journal seq of the last entry (the next append's expectation). */
  readonly lastSeq: number;
  readonly firstSeq: number;
  readonly lastAt: number;
  readonly createdAt: number;
  /** Set for a fork (its init says where from); `no < forkedFrom.entries`: its copy is incomplete. */
  readonly forkedFrom?: ForkedFrom;
  /** A checkpoint of it was found (used or not): whoever finishes it must delete it. */
  readonly hasCheckpoint?: boolean;
  /**
   * Restored from a checkpoint without reading the journal after it (bulk-fold.ts): current
   * only once an append conditional on `lastSeq` has landed.
   */
  readonly tailUnchecked?: boolean;
}

/** A fork whose copying was interrupted: it holds fewer entries than its init announced. */
export function isIncompleteFork(folded: Pick<FoldedSaga, 'no' | 'forkedFrom'>): boolean {
  return folded.forkedFrom !== undefined && folded.no < folded.forkedFrom.entries;
}

/** The `problem` of a parked incomplete fork (one text wherever it is parked, so a pass that finds it parked already writes nothing). */
export function incompleteForkProblem(from: ForkedFrom, held: number): string {
  return (
    `fork of saga "${from.sagaId}" from entry ${from.entry} is incomplete: its journal holds ${held} of the ${from.entries} entries to copy ` +
    '(the coordinator copying them stopped half-way); it is never driven: fork the source again'
  );
}

/**
 * Folds a saga's whole journal; null when it holds no init entry yet (nothing, or only void
 * entries left by starts that never journaled their init).
 */
export function foldJournal(registry: MachineRegistry, sagaId: string, entries: readonly JournalEntry[]): FoldedSaga | null {
  const start = firstInit(entries);
  return start < 0 ? null : foldSaga(registry, sagaId, start === 0 ? entries : entries.slice(start));
}

/** Index of the init entry: void entries may only precede it. -1 when there is none. */
function firstInit(entries: readonly JournalEntry[]): number {
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    // Records are written with "no" first: a void is number 0, anything else is not a void.
    const no = peekEntryNo(e.data);
    if (no > 0 || (no < 0 && !isVoidRecord(decodeRecord(e.data, e)))) return i;
  }
  return -1;
}

/** Folds `entries` (the whole journal from its init entry, or the tail after `checkpoint`). */
export function foldSaga(
  registry: MachineRegistry,
  sagaId: string,
  entries: readonly JournalEntry[],
  checkpoint?: Checkpoint | null,
  onEntry?: (no: number, at: number, event: AnyEventObject | undefined, snapshot: AnyMachineSnapshot) => void,
): FoldedSaga {
  let binding: SagaBinding;
  let snapshot: AnyMachineSnapshot;
  let book: Book;
  let no: number;
  let lastSeq: number;
  let firstSeq: number;
  let lastAt: number;
  let createdAt: number;
  let forkedFrom: ForkedFrom | undefined;
  let rest: readonly JournalEntry[];

  if (checkpoint) {
    binding = registry.forReplay(sagaId, checkpoint.machine, checkpoint.version);
    snapshot = restoreSnapshot(binding.machine, checkpoint.snapshot);
    book = cloneBook(checkpoint.book);
    ({ no, seq: lastSeq, firstSeq, at: lastAt, createdAt, forkedFrom } = checkpoint);
    rest = entries;
  } else {
    const skip = firstInit(entries);
    const first = entries[skip];
    if (skip < 0 || !first) throw new CorruptEntryError(`saga "${sagaId}" has no journal entries`, { sagaId });
    const rec = decodeRecord(first.data, first);
    if (!isInitRecord(rec)) throw new CorruptEntryError(`saga "${sagaId}" does not start with an init entry`, { sagaId, seq: first.seq });
    binding = registry.forReplay(sagaId, rec.init.machine, rec.init.version);
    forkedFrom = rec.init.forkedFrom;
    let actions;
    [snapshot, actions] = pureTransitions(binding.machine).initial(rec.init.input);
    book = emptyBook();
    applyEntry(book, { sagaId, no: 1, at: rec.at, event: undefined, final: snapshot.status === 'done' }, actions);
    onEntry?.(1, rec.at, undefined, snapshot);
    no = 1;
    lastSeq = firstSeq = first.seq;
    lastAt = createdAt = rec.at;
    rest = entries.slice(skip + 1);
  }

  const pure = pureTransitions(binding.machine);
  for (const entry of rest) {
    const rec = decodeRecord(entry.data, entry);
    if (isInitRecord(rec) || isVoidRecord(rec) || rec.no !== no + 1) {
      throw new CorruptEntryError(`saga "${sagaId}": entry ${entry.seq} has number ${rec.no}, expected ${no + 1}`, {
        sagaId,
        seq: entry.seq,
      });
    }
    if (isTakeoverRecord(rec)) {
      no = rec.no;
      lastSeq = entry.seq;
      lastAt = rec.at;
      continue;
    }
    const event = { ...rec.event, at: rec.at } as AnyEventObject;
    let actions;
    try {
      [snapshot, actions] = pure.next(snapshot, event);
    } catch (e) {
      throw new SagaError('REPLAY_FAILED', `saga "${sagaId}": replaying entry ${rec.no} (${event.type}) failed: ${(e as Error).message}`, {
        cause: e,
        details: { sagaId, seq: entry.seq, no: rec.no },
      });
    }
    applyEntry(book, { sagaId, no: rec.no, at: rec.at, event, final: snapshot.status === 'done' }, actions);
    onEntry?.(rec.no, rec.at, event, snapshot);
    no = rec.no;
    lastSeq = entry.seq;
    lastAt = rec.at;
  }
  return { sagaId, binding, snapshot, book, no, lastSeq, firstSeq, lastAt, createdAt, ...(forkedFrom ? { forkedFrom } : {}) };
}
