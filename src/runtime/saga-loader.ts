/**
 * Acquiring sagas: decide whether this coordinator may drive each one, take it over by CAS on
 * its index record when its owner's lease has lapsed, fold its journal (from a checkpoint when
 * usable) and resume it. One acquisition per saga at a time in a process, and one winner
 * across coordinators (the CAS), so each saga is recovered exactly once per lease. Many sagas
 * at once are folded with one journal scan (bulk-fold.ts).
 */
import { performance } from 'node:perf_hooks';
import { JournalConflictError, KvConflictError } from '../errors.js';
import { encodeRecord, peekEntryNo } from '../journal/codec.js';
import { isTerminalStatus, type IndexEntry, type IndexStore } from '../journal/index-store.js';
import type { Journal } from '../journal/journal.js';
import type { KvStore } from '../journal/kv-store.js';
import type { Logger } from '../log.js';
import { foldMany } from './bulk-fold.js';
import { loadCheckpoint } from './checkpoint.js';
import { foldSaga, type FoldedSaga } from './fold.js';
import { forEachLimit } from './recovery.js';
import type { MachineRegistry } from './registry.js';
import { statusOf } from './status.js';

export type AcquireOutcome =
  | 'loaded'
  | 'alreadyLoaded'
  | 'liveOwner'
  | 'lostRace'
  | 'finished'
  | 'repaired'
  | 'empty'
  | 'foreignMachine';

export interface LoaderDeps {
  readonly journal: Journal;
  readonly index: IndexStore;
  readonly checkpoints: KvStore;
  readonly registry: MachineRegistry;
  readonly owner: string;
  readonly incarnation: string;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  now(): number;
  isAlive(owner: string): Promise<boolean>;
  /** The journal seq below which `owner` has no open saga, if known. */
  lowWaterOf(owner: string): Promise<number | undefined>;
  isLoaded(sagaId: string): boolean;
  /** Makes the folded saga live under `entry` (the record as now owned by us). */
  activate(folded: FoldedSaga, entry: IndexEntry): void;
}

/** A saga this coordinator may now drive: its record (ours after a takeover). */
interface Claim {
  readonly entry: IndexEntry;
  /** The owner it was taken from, if it was taken over. */
  readonly from: string | undefined;
}

type Alive = Map<string, Promise<boolean>>;

const ms = (x: number): number => Math.round(x);

export class SagaLoader {
  private readonly inflight = new Map<string, Promise<unknown>>();

  constructor(private readonly deps: LoaderDeps) {}

  /** Acquires `entry`'s saga; joins an acquisition of it already under way here. */
  acquire(entry: IndexEntry, alive?: Alive): Promise<AcquireOutcome> {
    return this.exclusive([entry.record.sagaId], () => this.acquireLocked(entry, alive));
  }

  /** `acquire` for a caller already inside `exclusive` for this saga. */
  async acquireLocked(entry: IndexEntry, alive?: Alive): Promise<AcquireOutcome> {
    const claim = await this.claim(entry, alive);
    if (typeof claim === 'string') return claim;
    return this.settle(claim, await this.fold(claim.entry.record.sagaId));
  }

  /** Acquires many sagas, folding them with one journal scan from the owners' low-water seq. */
  acquireMany(entries: readonly IndexEntry[], alive: Alive): Promise<Map<string, AcquireOutcome | Error>> {
    return this.exclusive(
      entries.map((e) => e.record.sagaId),
      async () => {
        const t0 = performance.now();
        const outcomes = new Map<string, AcquireOutcome | Error>();
        const claims: Claim[] = [];
        await forEachLimit(entries, 64, async (entry) => {
          try {
            const claim = await this.claim(entry, alive);
            if (typeof claim === 'string') outcomes.set(entry.record.sagaId, claim);
            else claims.push(claim);
          } catch (e) {
            outcomes.set(entry.record.sagaId, e as Error);
          }
        });
        if (claims.length === 0) return outcomes;
        const owners = new Set(claims.map((c) => c.from ?? this.deps.owner));
        const marks = await Promise.all([...owners].map((o) => this.deps.lowWaterOf(o)));
        const fromSeq = marks.some((m) => m === undefined) ? 1 : Math.min(...(marks as number[]));
        const t1 = performance.now();
        const byId = new Map(claims.map((c) => [c.entry.record.sagaId, c]));
        await foldMany({ ...this.deps, foldOne: (id) => this.fold(id) }, [...byId.keys()], fromSeq, async (id, folded) => {
          try {
            if (folded instanceof Error) throw folded;
            outcomes.set(id, await this.settle(byId.get(id)!, folded));
          } catch (e) {
            outcomes.set(id, e as Error);
          }
        });
        const t2 = performance.now();
        this.deps.logger.info(
          { sagas: claims.length, fromSeq, claimMs: ms(t1 - t0), foldAndSettleMs: ms(t2 - t1) },
          'bulk recovery',
        );
        return outcomes;
      },
    );
  }

  /**
   * Runs `work` alone for these sagas in this process: a start, an acquisition or a takeover.
   * Without it, a recovery pass could see a start's index record before its first entry and
   * remove it as a start that died half-way.
   */
  async exclusive<T>(sagaIds: readonly string[], work: () => Promise<T>): Promise<T> {
    for (;;) {
      const busy = sagaIds.map((id) => this.inflight.get(id)).filter((p) => p !== undefined);
      if (busy.length === 0) break;
      await Promise.allSettled(busy);
    }
    const p = work();
    for (const id of sagaIds) this.inflight.set(id, p);
    try {
      return await p;
    } finally {
      for (const id of sagaIds) if (this.inflight.get(id) === p) this.inflight.delete(id);
    }
  }

  /** Folds a saga from its own reads, without driving it. */
  async fold(sagaId: string): Promise<FoldedSaga | null> {
    const cp = await loadCheckpoint(this.deps.checkpoints, sagaId).catch(() => null);
    if (cp) {
      const tail = await this.deps.journal.read(sagaId, { fromSeq: cp.seq + 1 });
      try {
        if (tail.length === 0 || peekEntryNo(tail[0]!.data) === cp.no + 1) return foldSaga(this.deps.registry, sagaId, tail, cp);
      } catch (e) {
        this.deps.logger.warn({ sagaId, err: (e as Error).message }, 'checkpoint unusable; folding the whole journal');
      }
    }
    const entries = await this.deps.journal.read(sagaId);
    return entries.length === 0 ? null : foldSaga(this.deps.registry, sagaId, entries);
  }

  /** May we drive it? Takes it over (CAS on the index record) from an owner whose lease lapsed. */
  private async claim(entry: IndexEntry, alive?: Alive): Promise<Claim | AcquireOutcome> {
    const { deps } = this;
    const rec = entry.record;
    if (deps.isLoaded(rec.sagaId)) return 'alreadyLoaded';
    if (isTerminalStatus(rec.status)) return 'finished';
    if (!deps.registry.has(rec.machine.split('@')[0]!)) return 'foreignMachine';
    if (rec.owner === deps.owner) return { entry, from: undefined };
    let live = alive?.get(rec.owner);
    if (!live) {
      live = deps.isAlive(rec.owner);
      alive?.set(rec.owner, live);
    }
    if (await live) return 'liveOwner';
    try {
      const taken = await deps.index.update({ ...rec, owner: deps.owner, epoch: rec.epoch + 1, updatedAt: deps.now() }, entry.revision);
      deps.logger.info({ sagaId: rec.sagaId, from: rec.owner, epoch: rec.epoch + 1 }, 'took over saga from a coordinator whose lease lapsed');
      return { entry: taken, from: rec.owner };
    } catch (e) {
      if (e instanceof KvConflictError) return 'lostRace';
      throw e;
    }
  }

  /** Repairs, fences or activates a claimed saga, given its fold. */
  private async settle(claim: Claim, folded: FoldedSaga | null): Promise<AcquireOutcome> {
    const { deps } = this;
    const id = claim.entry.record.sagaId;
    if (!folded) {
      // The index record was written but the init entry never was: the start died half-way.
      // Its client got no saga back from the failed start, and a retried start recreates it.
      await deps.index.remove(id);
      deps.logger.info({ sagaId: id }, 'removed the index record of a saga that never started');
      return 'empty';
    }
    const status = statusOf(folded.snapshot);
    if (isTerminalStatus(status)) {
      await deps.index.finish({ ...claim.entry.record, status, updatedAt: folded.lastAt });
      return 'repaired';
    }
    if (claim.from !== undefined) {
      // Until the marker is journaled, the old owner (if it still runs) may append: look again.
      let marked = await this.markTakeover(folded, claim.entry.record.epoch, claim.from);
      while (!marked) {
        const again = await this.fold(id);
        if (!again) return 'empty';
        if (isTerminalStatus(statusOf(again.snapshot))) return this.settle({ entry: claim.entry, from: undefined }, again);
        marked = await this.markTakeover(again, claim.entry.record.epoch, claim.from);
      }
      folded = marked;
    }
    deps.activate(folded, claim.entry);
    return 'loaded';
  }

  /** Appends the takeover marker; null when the old owner got an append in first. */
  private async markTakeover(folded: FoldedSaga, epoch: number, from: string): Promise<FoldedSaga | null> {
    const { deps } = this;
    const no = folded.no + 1;
    const at = deps.now();
    const data = encodeRecord({ no, at, takeover: { owner: deps.owner, epoch, from } });
    try {
      const { seq } = await deps.journal.append(folded.sagaId, data, {
        expectedLastSeq: folded.lastSeq,
        msgId: `${folded.sagaId}:${no}:${deps.incarnation}`,
        signal: deps.signal,
      });
      return { ...folded, no, lastSeq: seq, lastAt: at };
    } catch (e) {
      if (e instanceof JournalConflictError) return null;
      throw e;
    }
  }
}
