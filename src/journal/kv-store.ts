/**
 * A key/value store with compare-and-set on revisions: checkpoints, coordinator heartbeats,
 * locks and entities live here. nats-server 2.9 ignores per-key TTLs, so expiry is kept in the
 * values by the callers, never in the store.
 */

export interface KvEntry {
  readonly key: string;
  readonly value: Uint8Array;
  /** Increases with every write to the bucket; the CAS token for `update`/`delete`. */
  readonly revision: number;
}

export interface KvStore {
  readonly bucket: string;
  /** The current value, or null when the key is absent or deleted. */
  get(key: string): Promise<KvEntry | null>;
  /** Writes only if the key is absent (or deleted); else throws `KvConflictError`. Returns the revision. */
  create(key: string, value: Uint8Array): Promise<number>;
  /** Writes only if the key's revision is `revision`; else throws `KvConflictError`. */
  update(key: string, value: Uint8Array, revision: number): Promise<number>;
  /** Unconditional write. */
  put(key: string, value: Uint8Array): Promise<number>;
  /** Removes the key (only at `revision` when given; else `KvConflictError`). Idempotent without a revision. */
  delete(key: string, options?: { revision?: number }): Promise<void>;
  /** Live keys, optionally only those starting with `prefix`. */
  keys(prefix?: string): Promise<string[]>;
  /**
   * The current entries of those of `keys` that exist, read in one pass over the bucket
   * (optional: callers fall back to `keys` and `get`). A key written while the read runs may be
   * missing from the answer; callers must treat a missing key as "not known", never as absent.
   * `'all'`: every entry of the bucket.
   */
  getMany?(keys: ReadonlySet<string> | 'all'): Promise<Map<string, KvEntry>>;
}

/** Keys are subject tokens joined by dots: letters, digits, `_`, `-`, `=`, `/` and `.` (not at the ends). */
export const KV_KEY_PATTERN = /^[A-Za-z0-9_=/-]+(\.[A-Za-z0-9_=/-]+)*$/;
