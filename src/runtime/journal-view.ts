/** A journal entry decoded for readers (`runtime.events()`, the CLI, the visualizer). */
import type { AnyEventObject } from 'xstate';
import { decodeRecord, isInitRecord, isTakeoverRecord, isVoidRecord, type TakeoverRecord, type VoidRecord } from '../journal/codec.js';
import type { JournalEntry } from '../journal/journal.js';

/** One decoded journal entry, as `events()` returns it. */
export interface JournalView {
  readonly no: number;
  readonly at: number;
  readonly seq: number;
  readonly init?: unknown;
  readonly event?: AnyEventObject;
  readonly takeover?: TakeoverRecord['takeover'];
  /** A start that never journaled its init, fenced off (number 0: not an entry of the saga). */
  readonly void?: VoidRecord['void'];
}

export function journalView(e: JournalEntry): JournalView {
  const r = decodeRecord(e.data, e);
  if (isInitRecord(r)) return { no: r.no, at: r.at, seq: e.seq, init: r.init };
  if (isTakeoverRecord(r)) return { no: r.no, at: r.at, seq: e.seq, takeover: r.takeover };
  if (isVoidRecord(r)) return { no: r.no, at: r.at, seq: e.seq, void: r.void };
  return { no: r.no, at: r.at, seq: e.seq, event: r.event as AnyEventObject };
}
