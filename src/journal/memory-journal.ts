/**
 * An in-memory journal with the JetStream journal's semantics, for unit tests and the
 * single-process mode: one global seq counter, a per-saga last-seq expectation, and msgId
 * dedupe inside a window that is checked before the expectation, as the server does.
 */
import { ClosedError, InvalidArgumentError, JournalConflictError } from '../errors.js';
import {
  isValidSagaId,
  type AppendOptions,
  type AppendResult,
  type Journal,
  type JournalEntry,
  type SagaHead,
  type ScanOptions,
} from './journal.js';

export interface MemoryJournalOptions {
  /** How long a msgId is remembered (default 120 000 ms, JetStream's default). */
  readonly duplicateWindowMs?: number;
  /** Injectable clock (epoch ms) for the dedupe window. */
  readonly now?: () => number;
}

interface Dedupe {
  readonly seq: number;
  readonly at: number;
}

export class MemoryJournal implements Journal {
  readonly #windowMs: number;
  readonly #now: () => number;
  #seq = 0;
  #closed = false;
  /** Every live entry in seq order. */
  #all: JournalEntry[] = [];
  readonly #bySaga = new Map<string, JournalEntry[]>();
  /** Insertion order is time order, so expired ids are always at the front. */
  readonly #dedupe = new Map<string, Dedupe>();

  constructor(opts: MemoryJournalOptions = {}) {
    this.#windowMs = opts.duplicateWindowMs ?? 120_000;
    this.#now = opts.now ?? Date.now;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  async append(sagaId: string, data: Uint8Array, options: AppendOptions): Promise<AppendResult> {
    checkId(sagaId);
    if (this.#closed) throw new ClosedError('journal');
    options.signal?.throwIfAborted();
    const now = this.#now();
    this.#expire(now);
    const seen = this.#dedupe.get(options.msgId);
    if (seen) return { seq: seen.seq, duplicate: true };
    const entries = this.#bySaga.get(sagaId);
    const last = entries?.[entries.length - 1]?.seq ?? 0;
    if (last !== options.expectedLastSeq) throw new JournalConflictError(sagaId, options.expectedLastSeq, last);
    const entry: JournalEntry = { sagaId, seq: ++this.#seq, msgId: options.msgId, data: data.slice() };
    if (entries) entries.push(entry);
    else this.#bySaga.set(sagaId, [entry]);
    this.#all.push(entry);
    this.#dedupe.set(options.msgId, { seq: entry.seq, at: now });
    return { seq: entry.seq, duplicate: false };
  }

  async read(sagaId: string, options: { fromSeq?: number } = {}): Promise<JournalEntry[]> {
    checkId(sagaId);
    const fromSeq = options.fromSeq ?? 1;
    return (this.#bySaga.get(sagaId) ?? []).filter((e) => e.seq >= fromSeq).map(copy);
  }

  async *scan(options: ScanOptions = {}): AsyncIterable<JournalEntry> {
    const { signal, sagaIds } = options;
    const fromSeq = options.fromSeq ?? 1;
    // A snapshot: entries appended while the caller iterates are not delivered, as with the
    // JetStream journal, which stops at the last seq it saw when the scan began.
    const snapshot = this.#all.filter((e) => e.seq >= fromSeq);
    for (const e of snapshot) {
      signal?.throwIfAborted();
      if (sagaIds === undefined || sagaIds.has(e.sagaId)) yield copy(e);
    }
    signal?.throwIfAborted();
  }

  async head(sagaId: string): Promise<SagaHead | null> {
    checkId(sagaId);
    const entries = this.#bySaga.get(sagaId);
    const last = entries?.[entries.length - 1];
    return last ? { seq: last.seq, msgId: last.msgId } : null;
  }

  async listSagas(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const [id, entries] of this.#bySaga) out.set(id, entries.length);
    return out;
  }

  async purge(sagaId: string): Promise<void> {
    checkId(sagaId);
    if (!this.#bySaga.delete(sagaId)) return;
    this.#all = this.#all.filter((e) => e.sagaId !== sagaId);
  }

  async lastSeq(): Promise<number> {
    return this.#seq;
  }

  #expire(now: number): void {
    for (const [id, d] of this.#dedupe) {
      if (now - d.at < this.#windowMs) return;
      this.#dedupe.delete(id);
    }
  }
}

function checkId(sagaId: string): void {
  if (!isValidSagaId(sagaId)) {
    throw new InvalidArgumentError(`invalid saga id ${JSON.stringify(sagaId)}: use 1-128 of [A-Za-z0-9_-]`, { sagaId });
  }
}

function copy(e: JournalEntry): JournalEntry {
  return { sagaId: e.sagaId, seq: e.seq, msgId: e.msgId, data: e.data.slice() };
}
