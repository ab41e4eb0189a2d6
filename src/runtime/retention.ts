/**
 * Retention: finished sagas (completed, compensated, cancelled) whose index record was last
 * updated longer ago than the retention are purged — their journal entries, checkpoint,
 * anything kept beside them (a build's progress subject) and, last, their index record.
 * Blocked and parked sagas are open, never finished: they are never purged, however old.
 * A child saga (its record names its `parent`) goes with its parent: it is kept while the parent
 * is open or kept, and purged in the sweep that finds the parent expired too (or gone), so
 * `sagas show` never lists a child whose journal is gone under a parent still shown.
 *
 * One sweeper at a time per namespace. Each step of a purge is idempotent, so two sweepers
 * would do no harm to the saga they both purge — but once a purge removed the index record,
 * the id is free, and a slower sweeper that listed the old record could purge the journal of a
 * new saga started under the same id. So a sweep runs only on the coordinator holding a small
 * sweep lease (a KV record with holder and expiry, taken and renewed by CAS; nats-server 2.9
 * ignores per-key TTLs), renewed before every batch: a sweeper that stalled past its lease
 * stops before touching another saga.
 *
 * Crash safety: the index record goes last. A purge cut short leaves the finished record, so
 * the next sweep finds the saga again and does every step again.
 *
 * Low priority: a pass runs every `intervalMs` (default 5 min), purges in batches of
 * `batchSize` with little concurrency and a pause between batches, and at most `maxPerPass`
 * sagas; the rest waits for the next pass.
 */
import { KvConflictError } from '../errors.js';
import { isTerminalStatus, type IndexRecord, type IndexStore } from '../journal/index-store.js';
import type { Journal } from '../journal/journal.js';
import type { KvStore } from '../journal/kv-store.js';
import { silentLogger, type Logger } from '../log.js';
import { sleep } from '../nats/retry.js';
import { forEachLimit } from '../util/for-each-limit.js';

/** Default retention: 7 days. */
export const DEFAULT_RETAIN_MS = 7 * 86_400_000;
/** The sweep lease's key (a dot: no saga id, which are also checkpoint keys, has one). */
export const SWEEP_LEASE_KEY = 'retention.sweep';

export interface RetentionOptions {
  readonly index: IndexStore;
  readonly journal: Journal;
  readonly checkpoints: KvStore;
  /** Where the sweep lease lives (the checkpoints bucket in a coordinator). */
  readonly leaseKv: KvStore;
  /** Who sweeps (the coordinator's name). */
  readonly holder: string;
  /** How long finished sagas are kept, in ms; 0 keeps them for ever (no sweep). */
  readonly retainMs: number;
  /** Period of sweeps. Default 5 min. */
  readonly intervalMs?: number;
  /** Sagas purged between lease renewals. Default 100. */
  readonly batchSize?: number;
  /** Most sagas purged in one pass. Default 1,000. */
  readonly maxPerPass?: number;
  /** Purges at once. Default 2. */
  readonly concurrency?: number;
  /** Pause between batches, so a sweep never crowds out the sagas' own writes. Default 100 ms. */
  readonly pauseMs?: number;
  /** How long the sweep lease lasts without renewal. Default 60 s. */
  readonly leaseTtlMs?: number;
  /** Removes what is kept beside a saga (before its index record). Idempotent. */
  readonly purgeExtra?: (record: IndexRecord) => Promise<void>;
  /** Called after each saga purged. */
  readonly onPurged?: (record: IndexRecord) => void;
  readonly now?: () => number;
  readonly logger?: Logger;
}

export interface SweepReport {
  /** Finished records looked at. */
  readonly scanned: number;
  readonly purged: number;
  readonly failed: number;
  /** Why nothing was swept (`disabled`: retention 0; `leaseHeld`: another coordinator sweeps). */
  readonly skipped?: 'disabled' | 'leaseHeld' | 'leaseLost';
  /** More expired sagas remain for the next pass (`maxPerPass` reached). */
  readonly more: boolean;
}

interface SweepLeaseRecord {
  readonly holder: string;
  readonly expiresAt: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class RetentionSweeper {
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly stopping = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SweepReport> | undefined;
  private leaseRevision: number | undefined;

  constructor(private readonly options: RetentionOptions) {
    this.log = (options.logger ?? silentLogger).child({ part: 'retention' });
    this.now = options.now ?? Date.now;
  }

  /** Sweeps every `intervalMs` (the first pass one interval from now). No-op with retention 0. */
  start(): void {
    if (this.options.retainMs <= 0 || this.timer || this.stopping.signal.aborted) return;
    const every = this.options.intervalMs ?? 300_000;
    const tick = (): void => {
      this.timer = setTimeout(() => {
        void this.sweep()
          .catch((e: unknown) => this.log.warn({ err: (e as Error).message }, 'retention sweep failed; retried next period'))
          .finally(() => {
            if (!this.stopping.signal.aborted) tick();
          });
      }, every);
      this.timer.unref();
    };
    tick();
  }

  /** Stops sweeping: the batch in flight finishes, the lease is released. Idempotent. */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.stopping.abort();
    await this.running?.catch(() => undefined);
    await this.release().catch(() => undefined);
  }

  /** One pass now (a pass in flight is shared). */
  sweep(): Promise<SweepReport> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(): Promise<SweepReport> {
    const o = this.options;
    if (o.retainMs <= 0) return { scanned: 0, purged: 0, failed: 0, skipped: 'disabled', more: false };
    if (!(await this.takeLease())) return { scanned: 0, purged: 0, failed: 0, skipped: 'leaseHeld', more: false };
    const cutoff = this.now() - o.retainMs;
    const batchSize = o.batchSize ?? 100;
    const maxPerPass = o.maxPerPass ?? 1_000;
    let scanned = 0;
    let purged = 0;
    let failed = 0;
    let batch: IndexRecord[] = [];

    const flush = async (): Promise<boolean> => {
      if (batch.length === 0) return true;
      // Renewed before every batch: a sweeper that lost its lease (stalled, partitioned) stops.
      if (!(await this.takeLease())) return false;
      const todo = batch;
      batch = [];
      await forEachLimit(todo, o.concurrency ?? 2, async (record) => {
        try {
          await this.purgeOne(record);
          purged++;
          o.onPurged?.(record);
        } catch (e) {
          failed++;
          this.log.warn({ sagaId: record.sagaId, err: (e as Error).message }, 'finished saga not purged; retried next sweep');
        }
      });
      if (o.pauseMs !== 0) await sleep(o.pauseMs ?? 100, [this.stopping.signal]).catch(() => undefined);
      return true;
    };

    let after: string | undefined;
    let more = false;
    let lost = false;
    outer: do {
      const page = await o.index.listFinished({ ...(after === undefined ? {} : { after }), limit: 500 });
      for (const { record } of page.entries) {
        scanned++;
        // Only finished statuses, checked here too: the finished set is the index's word, and a
        // blocked or parked saga must never lose its journal.
        if (!isTerminalStatus(record.status) || record.updatedAt > cutoff) continue;
        if (record.parent !== undefined && !(await this.parentExpired(record.parent, cutoff))) continue;
        if (purged + failed + batch.length >= maxPerPass) {
          more = true;
          break outer;
        }
        batch.push(record);
        if (batch.length >= batchSize && (this.stopping.signal.aborted || !(await flush()))) {
          lost = !this.stopping.signal.aborted;
          break outer;
        }
      }
      after = page.next;
    } while (after !== undefined && !this.stopping.signal.aborted);
    if (!lost && !this.stopping.signal.aborted) lost = !(await flush());
    const report: SweepReport = { scanned, purged, failed, more, ...(lost ? { skipped: 'leaseLost' as const } : {}) };
    if (purged || failed || lost) this.log.info({ ...report, retainMs: o.retainMs }, 'retention sweep');
    return report;
  }

  /** Whether a child's parent is finished and expired, or gone: only then may the child go. */
  private async parentExpired(parentId: string, cutoff: number): Promise<boolean> {
    const parent = await this.options.index.get(parentId);
    return !parent || (isTerminalStatus(parent.record.status) && parent.record.updatedAt <= cutoff);
  }

  /** Journal, checkpoint, extras, then the index record: a crash before the last step leaves the record for the next sweep. */
  private async purgeOne(record: IndexRecord): Promise<void> {
    const o = this.options;
    await o.journal.purge(record.sagaId);
    await o.checkpoints.delete(record.sagaId);
    await o.purgeExtra?.(record);
    await o.index.remove(record.sagaId);
  }

  /** Takes or renews the sweep lease; false when another live holder has it. */
  private async takeLease(): Promise<boolean> {
    const { leaseKv, holder } = this.options;
    const ttl = this.options.leaseTtlMs ?? 60_000;
    const now = this.now();
    const value = encoder.encode(JSON.stringify({ holder, expiresAt: now + ttl } satisfies SweepLeaseRecord));
    try {
      const current = await leaseKv.get(SWEEP_LEASE_KEY);
      if (!current) {
        this.leaseRevision = await leaseKv.create(SWEEP_LEASE_KEY, value);
        return true;
      }
      const rec = decodeLease(current.value);
      if (rec && rec.holder !== holder && rec.expiresAt > now) {
        this.leaseRevision = undefined;
        return false;
      }
      this.leaseRevision = await leaseKv.update(SWEEP_LEASE_KEY, value, current.revision);
      return true;
    } catch (e) {
      if (e instanceof KvConflictError) {
        this.leaseRevision = undefined;
        return false;
      }
      throw e;
    }
  }

  /** Lets another coordinator sweep at once rather than after the lease lapses. */
  private async release(): Promise<void> {
    if (this.leaseRevision === undefined) return;
    const revision = this.leaseRevision;
    this.leaseRevision = undefined;
    await this.options.leaseKv.delete(SWEEP_LEASE_KEY, { revision });
  }
}

function decodeLease(bytes: Uint8Array): SweepLeaseRecord | null {
  try {
    const r = JSON.parse(decoder.decode(bytes)) as Partial<SweepLeaseRecord>;
    return typeof r.holder === 'string' && typeof r.expiresAt === 'number' ? (r as SweepLeaseRecord) : null;
  } catch {
    return null;
  }
}
