/**
 * An in-memory journal with the JetStream journal's semantics, for unit tests and the
 * single-process mode: one global seq counter, a per-saga last-seq expectation, and msgId
 * dedupe inside a window that is checked before the expectation, as the server does.
 */
import { ClosedError, EntryTooLargeError, JournalConflictError } from '../errors.js';
import { assertSagaId } from './saga-id.js';
import {
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
  /** Largest entry accepted (default 1 MiB less 1 KiB, as a default nats-server's). */
  readonly maxEntryBytes?: number;
}

interface Dedupe {
  readonly entry: JournalEntry;
  readonly at: number;
}

export class MemoryJournal implements Journal {
  readonly maxEntryBytes: number;
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
    this.maxEntryBytes = opts.maxEntryBytes ?? 1024 * 1024 - 1024;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  async append(sagaId: string, data: Uint8Array, options: AppendOptions): Promise<AppendResult> {
    assertSagaId(sagaId);
    if (this.#closed) throw new ClosedError('journal');
    options.signal?.throwIfAborted();
    if (data.length > this.maxEntryBytes) throw new EntryTooLargeError(sagaId, data.length, this.maxEntryBytes);
    const now = this.#now();
    this.#expire(now);
    const seen = this.#dedupe.get(options.msgId);
    if (seen) {
      // As the JetStream journal: a duplicate ack stands only for this very write.
      const e = seen.entry;
      if (e.sagaId === sagaId && sameBytes(e.data, data) && this.#bySaga.get(sagaId)?.includes(e)) return { seq: e.seq, duplicate: true };
      throw new JournalConflictError(sagaId, options.expectedLastSeq, undefined, new Error(`msgId ${options.msgId} was stored with other content`));
    }
    const entries = this.#bySaga.get(sagaId);
    const last = entries?.[entries.length - 1]?.seq ?? 0;
    if (last !== options.expectedLastSeq) throw new JournalConflictError(sagaId, options.expectedLastSeq, last);
    const entry: JournalEntry = { sagaId, seq: ++this.#seq, msgId: options.msgId, data: data.slice() };
    if (entries) entries.push(entry);
    else this.#bySaga.set(sagaId, [entry]);
    this.#all.push(entry);
    this.#dedupe.set(options.msgId, { entry, at: now });
    return { seq: entry.seq, duplicate: false };
  }

  async read(sagaId: string, options: { fromSeq?: number; limit?: number } = {}): Promise<JournalEntry[]> {
    assertSagaId(sagaId);
    const fromSeq = options.fromSeq ?? 1;
    return (this.#bySaga.get(sagaId) ?? []).filter((e) => e.seq >= fromSeq).slice(0, options.limit).map(copy);
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
    assertSagaId(sagaId);
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
    assertSagaId(sagaId);
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

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

function copy(e: JournalEntry): JournalEntry {
  return { sagaId: e.sagaId, seq: e.seq, msgId: e.msgId, data: e.data.slice() };
}
