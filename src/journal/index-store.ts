/**
 * The saga index: one current record per saga. Open (non-terminal) sagas are kept apart from
 * finished ones so that listing the sagas to recover stays fast however many have finished.
 * The index is a cache of the journal: it is written before a saga's first entry (so no saga
 * is ever missing) and may lag it afterwards; recovery re-checks every record it acts on.
 */

export const SagaStatus = {
  Running: 'running',
  Compensating: 'compensating',
  Completed: 'completed',
  Compensated: 'compensated',
  Blocked: 'blocked',
  Cancelled: 'cancelled',
  /**
   * The host could not go on with the saga (a permanent journal failure, or a result its
   * machine rejects): it is unloaded, the record says why (`problem`), and recovery tries it
   * again on every pass. An operator should look.
   */
  Parked: 'parked',
} as const;
export type SagaStatus = (typeof SagaStatus)[keyof typeof SagaStatus];

export const TERMINAL_STATUSES: ReadonlySet<SagaStatus> = new Set<SagaStatus>([
  SagaStatus.Completed,
  SagaStatus.Compensated,
  SagaStatus.Cancelled,
]);

export function isTerminalStatus(status: SagaStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

export interface IndexRecord {
  readonly sagaId: string;
  /** `id@version` of the machine that drives it. */
  readonly machine: string;
  readonly status: SagaStatus;
  /** The coordinator that drives it. */
  readonly owner: string;
  /** Incremented every time ownership changes hands; fences stale writers of the record. */
  readonly epoch: number;
  /** Epoch milliseconds. */
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Why the saga is parked (status `parked`). */
  readonly problem?: string;
  /** The saga that runs this one as a child (a nested saga), if any. */
  readonly parent?: string;
}

export interface IndexEntry {
  readonly record: IndexRecord;
  /** CAS token for `update`. */
  readonly revision: number;
}

export interface IndexPage {
  readonly entries: IndexEntry[];
  /** Pass back as `after` for the next page; undefined on the last page. */
  readonly next: string | undefined;
}

export interface IndexStore {
  /**
   * Adds an open record if the saga has none (open or finished). Returns the stored entry and
   * whether this call created it; an existing record is returned unchanged.
   */
  create(record: IndexRecord): Promise<{ entry: IndexEntry; created: boolean }>;
  /** The saga's record, open or finished, or null. */
  get(sagaId: string): Promise<IndexEntry | null>;
  /**
   * Replaces an open record if its revision is still `revision`; else `KvConflictError`
   * (someone else changed it). Use for status changes and ownership takeover.
   */
  update(record: IndexRecord, revision: number): Promise<IndexEntry>;
  /**
   * Moves a saga to the finished set with its terminal record. Idempotent; after it, `get`
   * returns the finished record and `listOpen` no longer lists the saga.
   */
  finish(record: IndexRecord): Promise<void>;
  /**
   * Removes every trace of the saga from the index. Idempotent. With `revision`, only an open
   * record written at or before it is removed (a record created since is kept), and a finished
   * one is left alone: the removal of a record one believes stale cannot take a newer one.
   */
  remove(sagaId: string, options?: { revision?: number }): Promise<void>;
  /** Which of these sagas have a finished record (a crash mid-`finish` can leave both). */
  whichFinished(sagaIds: readonly string[]): Promise<Set<string>>;
  /** Open records sorted by saga id, `limit` per page (default 500), starting after `after`. */
  listOpen(options?: { after?: string; limit?: number }): Promise<IndexPage>;
  /** Finished records, paged the same way. */
  listFinished(options?: { after?: string; limit?: number }): Promise<IndexPage>;
}
