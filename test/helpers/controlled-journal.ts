/**
 * A journal wrapper that lets a test stage the races of a real network: an append held on the
 * wire (it reaches the store only when released), an append that fails, an append that lands
 * but whose writer is told it conflicted. Everything else passes through to the inner journal.
 */
import { decodeRecord } from '../../src/journal/codec.js';
import type { AppendOptions, AppendResult, Journal, JournalEntry, SagaHead, ScanOptions } from '../../src/journal/journal.js';

/** What a rule matches: the saga, the decoded record and the append options. */
export type AppendMatch = (sagaId: string, record: Record<string, unknown>, options: AppendOptions) => boolean;

export interface Held {
  /** Resolves when a matching append has arrived (and is being held). */
  readonly arrived: Promise<void>;
  /** Lets it go on to the store; the writer then gets the store's answer. */
  release(): void;
  /** The writer's connection "dies": the append never reaches the store and never settles. */
  readonly dropped: boolean;
  drop(): void;
}

interface Rule {
  readonly match: AppendMatch;
  /** `go(true)` sends it as already on the wire: the writer's signal can no longer recall it. */
  readonly apply: (go: (sent?: boolean) => Promise<AppendResult>) => Promise<AppendResult>;
  once: boolean;
  used: boolean;
}

export class ControlledJournal implements Journal {
  private readonly rules: Rule[] = [];

  constructor(readonly inner: Journal) {}

  get maxEntryBytes(): number {
    return this.inner.maxEntryBytes;
  }

  /** Holds the first append that matches until `release()`. */
  hold(match: AppendMatch): Held {
    let arrive!: () => void;
    let go!: () => void;
    const arrived = new Promise<void>((r) => (arrive = r));
    const released = new Promise<void>((r) => (go = r));
    let dropped = false;
    this.rules.push({
      match,
      once: true,
      used: false,
      apply: async (append) => {
        arrive();
        await released;
        if (dropped) return new Promise<AppendResult>(() => undefined);
        return append(true);
      },
    });
    return {
      arrived,
      release: go,
      get dropped() {
        return dropped;
      },
      drop: () => {
        dropped = true;
        go();
      },
    };
  }

  /** The first matching append fails with `error` (and is not stored). */
  failNext(match: AppendMatch, error: () => Error, options: { times?: number } = {}): void {
    let left = options.times ?? 1;
    this.rules.push({
      match: (...args) => left > 0 && match(...args),
      once: false,
      used: false,
      apply: async () => {
        left--;
        throw error();
      },
    });
  }

  /** The first matching append is stored, but its writer is told `error` (an outcome it misreads). */
  landThenFail(match: AppendMatch, error: () => Error): void {
    this.rules.push({
      match,
      once: true,
      used: false,
      apply: async (append) => {
        await append();
        throw error();
      },
    });
  }

  append(sagaId: string, data: Uint8Array, options: AppendOptions): Promise<AppendResult> {
    const go = (sent = false): Promise<AppendResult> => this.inner.append(sagaId, data, sent ? { ...options, signal: undefined } : options);
    let record: Record<string, unknown> | undefined;
    for (const rule of this.rules) {
      if (rule.once && rule.used) continue;
      record ??= decodeRecord(data, { sagaId, seq: 0 }) as unknown as Record<string, unknown>;
      if (!rule.match(sagaId, record, options)) continue;
      rule.used = true;
      return rule.apply(go);
    }
    return go();
  }

  read(sagaId: string, options?: { fromSeq?: number; limit?: number }): Promise<JournalEntry[]> {
    return this.inner.read(sagaId, options);
  }

  scan(options?: ScanOptions): AsyncIterable<JournalEntry> {
    return this.inner.scan(options);
  }

  head(sagaId: string): Promise<SagaHead | null> {
    return this.inner.head(sagaId);
  }

  listSagas(): Promise<Map<string, number>> {
    return this.inner.listSagas();
  }

  purge(sagaId: string): Promise<void> {
    return this.inner.purge(sagaId);
  }

  lastSeq(): Promise<number> {
    return this.inner.lastSeq();
  }
}

/** Matches an event entry whose event type starts with `prefix`. */
export const eventOf =
  (prefix: string, sagaId?: string): AppendMatch =>
  (id, record) =>
    (sagaId === undefined || id === sagaId) && typeof (record.event as { type?: string } | undefined)?.type === 'string' && (record.event as { type: string }).type.startsWith(prefix);

/** Matches a saga's init entry. */
export const initOf =
  (sagaId?: string): AppendMatch =>
  (id, record) =>
    (sagaId === undefined || id === sagaId) && 'init' in record;
