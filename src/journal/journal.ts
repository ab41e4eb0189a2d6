/**
 * The journal: an append-only log per saga with optimistic concurrency. It stores opaque
 * bytes and knows nothing of XState; `codec.ts` gives the bytes their meaning.
 */

/** One stored entry. */
export interface JournalEntry {
  readonly sagaId: string;
  /** Sequence in the whole journal: increasing, but not contiguous per saga. */
  readonly seq: number;
  /** The id given at append time (the dedupe key), if the store kept one. */
  readonly msgId: string | undefined;
  readonly data: Uint8Array;
}

export interface AppendOptions {
  /** The saga's last seq as the writer knows it; 0 means "the saga must have no entries". */
  readonly expectedLastSeq: number;
  /**
   * Dedupe key. An append repeated with the same id inside the store's dedupe window is
   * acknowledged with the first write's seq (`duplicate: true`) and not stored again.
   */
  readonly msgId: string;
  /** Gives up waiting (e.g. while the server is away) when aborted. */
  readonly signal?: AbortSignal;
}

export interface AppendResult {
  readonly seq: number;
  readonly duplicate: boolean;
}

export interface SagaHead {
  readonly seq: number;
  readonly msgId: string | undefined;
}

export interface ScanOptions {
  /** First journal seq to deliver (inclusive); default: the oldest entry. */
  readonly fromSeq?: number;
  /** Only these sagas (others are skipped by the reader, not filtered by the server). */
  readonly sagaIds?: ReadonlySet<string>;
  readonly signal?: AbortSignal;
}

export interface Journal {
  /**
   * Appends one entry to a saga. Throws `JournalConflictError` when the saga's last seq is not
   * `expectedLastSeq`; retries an ambiguous outcome (timeout, no responders, disconnect) with
   * the same msgId until it is known, the signal aborts, or the journal closes.
   */
  append(sagaId: string, data: Uint8Array, options: AppendOptions): Promise<AppendResult>;
  /** Every entry of one saga with seq ≥ `fromSeq` (default 1), in order. */
  read(sagaId: string, options?: { fromSeq?: number }): Promise<JournalEntry[]>;
  /** Entries of all sagas in journal order from `fromSeq`; for recovering many sagas at once. */
  scan(options?: ScanOptions): AsyncIterable<JournalEntry>;
  /** The saga's last entry (seq and msgId), or null when it has none. */
  head(sagaId: string): Promise<SagaHead | null>;
  /** Every saga that has entries, with its number of entries. */
  listSagas(): Promise<Map<string, number>>;
  /** Removes every entry of one saga. Idempotent. */
  purge(sagaId: string): Promise<void>;
  /** The journal's last seq (0 when empty). */
  lastSeq(): Promise<number>;
}

/** Saga ids become subject tokens: letters, digits, `_` and `-`, 1–128 characters. */
export const SAGA_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

export function isValidSagaId(id: unknown): id is string {
  return typeof id === 'string' && SAGA_ID_PATTERN.test(id);
}
