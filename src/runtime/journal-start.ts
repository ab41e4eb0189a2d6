/**
 * How a saga's journal begins: void entries (starts that never journaled their init, fenced
 * off by a recovery) may precede the init entry, nothing else. Shared by starting and
 * acquiring, which both have to tell "not started yet" from "started".
 */
import { decodeRecord, isInitRecord, type InitRecord } from '../journal/codec.js';
import type { Journal } from '../journal/journal.js';

/** Entries read at first: voids before an init are rare, so the init is almost always here. */
const FIRST_READ = 4;

/** The init entry and the entries before it; `init` is undefined when there is none yet. */
async function readStart(journal: Journal, sagaId: string): Promise<{ init: InitRecord['init'] | undefined; headSeq: number }> {
  let entries = await journal.read(sagaId, { limit: FIRST_READ });
  if (entries.length === FIRST_READ) entries = await journal.read(sagaId);
  for (const e of entries) {
    const r = decodeRecord(e.data, e);
    if (isInitRecord(r)) return { init: r.init, headSeq: e.seq };
  }
  return { init: undefined, headSeq: entries.at(-1)?.seq ?? 0 };
}

/** The journal's head seq (0 when empty) if it holds no init entry yet; else null. */
export async function unstartedHead(journal: Journal, sagaId: string): Promise<number | null> {
  const start = await readStart(journal, sagaId);
  return start.init ? null : start.headSeq;
}

/** The saga's init (machine, version, input), if it has one. */
export async function initOf(journal: Journal, sagaId: string): Promise<InitRecord['init'] | undefined> {
  return (await readStart(journal, sagaId)).init;
}
