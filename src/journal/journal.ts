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
  /**
   * Stops retrying when aborted. An attempt already sent is waited for (it ends within the
   * publish timeout), so that once the append settles nothing of it is still on the wire: it
   * resolves if that attempt landed, else rejects with the signal's reason. An attempt still
   * waiting for its turn to be sent (the store bounds its writes in flight) is never sent.
   */
  readonly signal?: AbortSignal;
}

export interface AppendResult {
  readonly seq: number;
  /**
   * The store acknowledged an earlier write with this msgId (e.g. a retry of an attempt that
   * had landed). Only ever returned after checking that the stored message is this append's
   * (same saga, msgId and bytes); a duplicate of anything else is a `JournalConflictError`.
   */
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
  /** The largest entry `append` accepts, in bytes (the server's max payload less room for headers). */
  readonly maxEntryBytes: number;
  /**
   * Appends one entry to a saga. Throws `JournalConflictError` when the saga's last seq is not
   * `expectedLastSeq`; retries an ambiguous outcome (timeout, no responders, disconnect) with
   * the same msgId until it is known, the signal aborts, or the journal closes.
   */
  append(sagaId: string, data: Uint8Array, options: AppendOptions): Promise<AppendResult>;
  /** The saga's entries with seq ≥ `fromSeq` (default 1), in order: all, or the first `limit`. */
  read(sagaId: string, options?: { fromSeq?: number; limit?: number }): Promise<JournalEntry[]>;
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
  /**
   * Appends on the wire now, and how many wait for room (a store that bounds its writes in
   * flight); absent where appends are not queued.
   */
  appendLoad?(): AppendLoad;
}

/** Appends sent and not yet acknowledged, and appends waiting for room to be sent. */
export interface AppendLoad {
  readonly inFlight: number;
  readonly queued: number;
}
