/**
 * Keeps each driven saga's index record in step with its journal, off the hot path: the
 * journal is the truth and the index a cache that may lag it (2.9 has no atomic multi-subject
 * write), so status changes are written after the append, serially per saga, retried while
 * NATS is away. A CAS failure whose fresh record names another owner or epoch means the saga
 * was taken over: the keeper reports it and the runtime stops its copy.
 */
import { KvConflictError } from '../errors.js';
import { isTerminalStatus, type IndexEntry, type IndexRecord, type IndexStore, type SagaStatus } from '../journal/index-store.js';
import type { Logger } from '../log.js';

interface Kept {
  entry: IndexEntry;
  chain: Promise<void>;
}

export interface IndexKeeperOptions {
  readonly index: IndexStore;
  readonly owner: string;
  readonly now: () => number;
  readonly logger: Logger;
  /** Called when the record shows the saga is no longer ours. */
  readonly lost: (sagaId: string, record: IndexRecord | null) => void;
}

const RETRY_MS = [50, 100, 250, 500, 1000];

export class IndexKeeper {
  private readonly kept = new Map<string, Kept>();
  /** Sagas finished here whose final record is still being written. */
  private readonly finishing = new Set<string>();
  private readonly inflight = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly opts: IndexKeeperOptions) {}

  /** Starts keeping a saga this coordinator now drives. */
  adopt(entry: IndexEntry): void {
    this.kept.set(entry.record.sagaId, { entry, chain: Promise.resolve() });
  }

  forget(sagaId: string): void {
    this.kept.delete(sagaId);
  }

  /**
   * Records a status change (with the reason, for `parked`); a terminal status moves the saga
   * to the finished set. Writes queued for a copy that was since forgotten still land unless
   * the record moved on; they never touch what a newer copy keeps.
   */
  statusChanged(sagaId: string, status: SagaStatus, options: { problem?: string } = {}): Promise<void> {
    const kept = this.kept.get(sagaId);
    if (!kept) return Promise.resolve();
    const terminal = isTerminalStatus(status);
    if (terminal) this.finishing.add(sagaId);
    const work = kept.chain.then(() => this.write(sagaId, kept, status, options.problem)).then(() => {
      if (terminal && this.kept.get(sagaId) === kept) this.kept.delete(sagaId);
    });
    kept.chain = work.catch(() => undefined);
    if (terminal) void kept.chain.then(() => this.finishing.delete(sagaId));
    this.track(kept.chain);
    return kept.chain;
  }

  /**
   * Whether the saga finished here and its final record is not written yet: until it is, the
   * index still lists it open, and a recovery pass must not take it for a saga to resume.
   */
  isFinishing(sagaId: string): boolean {
    return this.finishing.has(sagaId);
  }

  /** Waits for every write queued so far (bounded by `timeoutMs`). */
  async flush(timeoutMs = 5000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([Promise.all([...this.inflight]), timeout]);
    clearTimeout(timer);
  }

  /** Stops retrying; pending writes give up at their next attempt. */
  stop(): void {
    this.stopped = true;
  }

  private track(p: Promise<void>): void {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  private async write(sagaId: string, kept: Kept, status: SagaStatus, problem: string | undefined): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      const { problem: _old, ...rest } = kept.entry.record;
      const record: IndexRecord = { ...rest, status, updatedAt: this.opts.now(), ...(problem === undefined ? {} : { problem }) };
      try {
        if (isTerminalStatus(status)) {
          await this.opts.index.finish(record);
          kept.entry = { record, revision: kept.entry.revision };
        } else {
          kept.entry = await this.opts.index.update(record, kept.entry.revision);
        }
        return;
      } catch (e) {
        if (e instanceof KvConflictError) {
          const current = await this.opts.index.get(sagaId).catch(() => undefined);
          if (current === undefined) continue;
          const r = current?.record ?? null;
          if (!r || r.owner !== this.opts.owner || r.epoch !== kept.entry.record.epoch || isTerminalStatus(r.status)) {
            // Only the copy this write was for has lost the saga; a newer copy keeps its own.
            if (this.kept.get(sagaId) === kept) {
              this.kept.delete(sagaId);
              this.opts.lost(sagaId, r);
            }
            return;
          }
          kept.entry = current!;
          continue;
        }
        const delay = RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)]!;
        if (attempt === 2) this.opts.logger.warn({ sagaId, err: (e as Error).message }, 'index write failing; retrying');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }
}
