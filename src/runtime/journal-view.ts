/** A journal entry decoded for readers (`runtime.events()`, the CLI, the visualizer). */
import type { AnyEventObject } from 'xstate';
import { decodeRecord, isInitRecord, isTakeoverRecord, isVoidRecord, type TakeoverRecord, type VoidRecord } from '../journal/codec.js';
import type { JournalEntry } from '../journal/journal.js';

/** One decoded journal entry, as `events()` returns it. */
export interface JournalView {
  /** The entry's number within the saga: 1 for the init entry, then 2, 3, ... (0 for a void). */
  readonly entryNo: number;
  readonly at: number;
  /** Its sequence in the whole journal stream (increasing, not contiguous per saga). */
  readonly streamSeq: number;
  readonly init?: unknown;
  readonly event?: AnyEventObject;
  readonly takeover?: TakeoverRecord['takeover'];
  /** A start that never journaled its init, fenced off (number 0: not an entry of the saga). */
  readonly void?: VoidRecord['void'];
}

export function journalView(e: JournalEntry): JournalView {
  const r = decodeRecord(e.data, e);
  if (isInitRecord(r)) return { entryNo: r.no, at: r.at, streamSeq: e.seq, init: r.init };
  if (isTakeoverRecord(r)) return { entryNo: r.no, at: r.at, streamSeq: e.seq, takeover: r.takeover };
  if (isVoidRecord(r)) return { entryNo: r.no, at: r.at, streamSeq: e.seq, void: r.void };
  return { entryNo: r.no, at: r.at, streamSeq: e.seq, event: r.event as AnyEventObject };
}
