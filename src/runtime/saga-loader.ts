/**
 * Acquiring sagas: decide whether this coordinator may drive each one, claim it by CAS on its
 * index record (a takeover from an owner whose lease lapsed, and also a saga of our own — the
 * same CAS fences a previous incarnation of this coordinator), fold its journal (from a
 * checkpoint when usable), fence any other writer with a takeover marker, and resume it. One
 * acquisition per saga at a time in a process, and one winner across coordinators (the CAS),
 * so each saga is recovered exactly once per lease. Many sagas at once are folded with one
 * journal scan (bulk-fold.ts).
 */
import { performance } from 'node:perf_hooks';
import { JournalConflictError, KvConflictError } from '../errors.js';
import { encodeRecord, peekEntryNo } from '../journal/codec.js';
import { isTerminalStatus, SagaStatus, type IndexEntry, type IndexStore } from '../journal/index-store.js';
import type { Journal } from '../journal/journal.js';
import type { KvStore } from '../journal/kv-store.js';
import { msgIdOf } from '../journal/msg-id.js';
import type { Logger } from '../log.js';
import { forEachLimit } from '../util/for-each-limit.js';
import { limiter } from '../util/limiter.js';
import { foldMany, type FoldOutcome } from './bulk-fold.js';
import { loadCheckpoint, type Checkpoint } from './checkpoint.js';
import { foldJournal, foldSaga, incompleteForkProblem, isIncompleteFork, type FoldedSaga } from './fold.js';
import { unstartedHead } from './journal-start.js';
import { parseMachineRef } from './machine-ref.js';
import type { MachineRegistry } from './registry.js';
import { inSlices, oldestFirst, RESUME_SLICE_MS } from './resume-order.js';
import { statusOf } from './status.js';

export type AcquireOutcome =
  | 'loaded'
  | 'alreadyLoaded'
  | 'liveOwner'
  | 'lostRace'
  | 'finished'
  | 'repaired'
  | 'empty'
  | 'foreignMachine'
  /** A fork whose copying was interrupted: parked (see `parkIncompleteFork`), never driven. */
  | 'parked'
  /** This process lost its lease (or closed) while loading: it must not act; a later pass will. */
  | 'abandoned';

export interface LoaderDeps {
  readonly journal: Journal;
  readonly index: IndexStore;
  readonly checkpoints: KvStore;
  readonly registry: MachineRegistry;
  readonly owner: string;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  now(): number;
  isAlive(owner: string): Promise<boolean>;
  /** The journal seq below which `owner` has no open saga, if known. */
  lowWaterOf(owner: string): Promise<number | undefined>;
  isLoaded(sagaId: string): boolean;
  /** A token for a new loaded copy of a saga (see msg-id.ts). */
  newCopy(): string;
  /** Changes whenever this process's copies are invalidated (lease lapse, close). */
  generation(): number;
  /** Whether this process's lease is renewed and not about to lapse (no claims otherwise). */
  leaseValid(): boolean;
  /**
   * True when this process drove the saga last, at this epoch: its copies are stopped and their
   * appends settled, so no other writer can have appended since, and no marker is needed.
   */
  droveAt(sagaId: string, epoch: number): boolean;
  /** Registers an append whose settling a lease-loss recovery must wait for. */
  trackAppend(p: Promise<unknown>): void;
  /** Makes the folded saga live under `entry` (the record as now owned by us), as `copy`. */
  activate(folded: FoldedSaga, entry: IndexEntry, copy: string): void;
  /**
   * The journal shows the saga finished and its index record now says so too: its last driver
   * may have died (or lost its lease) between that append and telling anyone, so listeners hear
   * of the end here.
   */
  finished?(folded: FoldedSaga): void;
  /** How long a bulk recovery makes sagas act between yields to the event loop (resume-order.ts). */
  readonly resumeSliceMs?: number;
}

/** A saga this coordinator may now drive: its record, now ours. */
interface Claim {
  readonly entry: IndexEntry;
  /** The owner it was claimed from (this coordinator's own name for its own sagas). */
  readonly from: string;
  /** Whether a takeover marker must fence earlier writers before this copy acts. */
  readonly marker: boolean;
  /** The generation the claim was made in. */
  readonly generation: number;
}

/** A claimed saga, folded and fenced: it may act as `copy` once activated. */
interface Ready {
  readonly claim: Claim;
  readonly folded: FoldedSaga;
  readonly copy: string;
}

type Alive = Map<string, Promise<boolean>>;

const ms = (x: number): number => Math.round(x);
/** Rounds of "another writer got in first" before an acquisition gives up for this pass. */
const MAX_FENCE_ROUNDS = 5;
/** Takeover markers in flight at once in a bulk recovery (the appends are pipelined). */
const MARK_CONCURRENCY = 512;
/** Index claims (CAS round trips) in flight at once in a bulk recovery. */
const CLAIM_CONCURRENCY = 512;

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

  /**
   * Acquires many sagas, folding them with one journal scan from the owners' low-water seq.
   * The claims (round trips to the index) run while the journal is scanned and folded (our
   * CPU); each saga is fenced as soon as it is both claimed and folded, and only once every
   * one is fenced do they act, oldest first: folding is CPU, and sagas acting meanwhile would
   * make each later fold wait behind their transitions and appends.
   */
  acquireMany(entries: readonly IndexEntry[], alive: Alive, checkpoints?: Promise<ReadonlyMap<string, Checkpoint>>): Promise<Map<string, AcquireOutcome | Error>> {
    return this.exclusive(
      entries.map((e) => e.record.sagaId),
      async () => {
        const t0 = performance.now();
        const cpu0 = process.cpuUsage();
        const outcomes = new Map<string, AcquireOutcome | Error>();
        // Only sagas it may claim are folded: a pass in a cluster lists every coordinator's.
        const candidates: IndexEntry[] = [];
        await forEachLimit(entries, CLAIM_CONCURRENCY, async (entry) => {
          const refused = await this.refusal(entry, alive).catch((e: unknown) => e as Error);
          if (refused) outcomes.set(entry.record.sagaId, refused);
          else candidates.push(entry);
        });
        if (candidates.length === 0) return outcomes;
        const owners = [...new Set(candidates.map((e) => e.record.owner))];
        const marks = await Promise.all(owners.map((o) => this.deps.lowWaterOf(o)));
        const fromSeq = marks.some((m) => m === undefined) ? 1 : Math.min(...(marks as number[]));

        const folds = new Map<string, { promise: Promise<FoldOutcome>; settle(o: FoldOutcome): void }>();
        for (const e of candidates) {
          let settle!: (o: FoldOutcome) => void;
          const promise = new Promise<FoldOutcome>((resolve) => (settle = resolve));
          folds.set(e.record.sagaId, { promise, settle });
        }
        let foldMs = 0;
        const folding = foldMany(
          { ...this.deps, foldOne: (id) => this.fold(id) },
          [...folds.keys()],
          fromSeq,
          async (id, folded) => {
            folds.get(id)?.settle(folded);
          },
          checkpoints,
        ).then(
          (stats) => {
            foldMs = performance.now() - t0;
            return stats;
          },
          (e: unknown) => {
            // The scan failed: no saga of this pass may act on a partial fold.
            for (const f of folds.values()) f.settle(e as Error);
            throw e;
          },
        );
        folding.catch(() => undefined);

        const fence = limiter(MARK_CONCURRENCY);
        const ready: Ready[] = [];
        const fencing: Promise<void>[] = [];
        await forEachLimit(candidates, CLAIM_CONCURRENCY, async (entry) => {
          const id = entry.record.sagaId;
          try {
            const claim = await this.claim(entry, alive);
            if (typeof claim === 'string') {
              outcomes.set(id, claim);
              return;
            }
            // Folded before it was claimed: only a marker proves no append landed in between.
            const marked: Claim = { ...claim, marker: true };
            fencing.push(
              folds
                .get(id)!
                .promise.then((folded) => {
                  if (folded instanceof Error) throw folded;
                  return fence(() => this.prepare(marked, folded));
                })
                .then(
                  (prepared) => {
                    if (typeof prepared === 'string') outcomes.set(id, prepared);
                    else ready.push(prepared);
                  },
                  (e: unknown) => void outcomes.set(id, e as Error),
                ),
            );
          } catch (e) {
            outcomes.set(id, e as Error);
          }
        });
        const claimMs = performance.now() - t0;
        await Promise.all(fencing);
        const stats = await folding;
        folds.clear();
        const t1 = performance.now();
        ready.sort((x, y) => oldestFirst(x.claim.entry.record, y.claim.entry.record));
        await inSlices(ready, this.deps.resumeSliceMs ?? RESUME_SLICE_MS, (r) => {
          try {
            outcomes.set(r.claim.entry.record.sagaId, this.activateReady(r));
          } catch (e) {
            outcomes.set(r.claim.entry.record.sagaId, e as Error);
          }
        });
        const t2 = performance.now();
        this.deps.logger.info(
          { sagas: entries.length, claimed: ready.length, fromSeq, ...stats, claimMs: ms(claimMs), foldMs: ms(foldMs), fencedMs: ms(t1 - t0), activateMs: ms(t2 - t1), cpuMs: ms(process.cpuUsage(cpu0).user / 1000) },
          'bulk recovery',
        );
        return outcomes;
      },
    );
  }

  /**
   * Runs `work` alone for these sagas in this process: a start, an acquisition or a takeover.
   * Without it, a recovery pass could see a start's index record before its first entry and
   * void it as a start that died half-way.
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

  /** Folds a saga from its own reads, without driving it; null when it has no init entry yet. */
  async fold(sagaId: string): Promise<FoldedSaga | null> {
    const cp = await loadCheckpoint(this.deps.checkpoints, sagaId).catch(() => null);
    if (cp) {
      const tail = await this.deps.journal.read(sagaId, { fromSeq: cp.seq + 1 });
      try {
        if (tail.length === 0 || peekEntryNo(tail[0]!.data) === cp.no + 1) return { ...foldSaga(this.deps.registry, sagaId, tail, cp), hasCheckpoint: true };
      } catch (e) {
        this.deps.logger.warn({ sagaId, err: (e as Error).message }, 'checkpoint unusable; folding the whole journal');
      }
    }
    const folded = foldJournal(this.deps.registry, sagaId, await this.deps.journal.read(sagaId));
    return folded && cp ? { ...folded, hasCheckpoint: true } : folded;
  }

  /**
   * May we drive it? Claims it by CAS on the index record, with a new epoch: from an owner whose
   * lease lapsed, or from ourselves — the CAS then fences a previous incarnation of this
   * coordinator (its index writes fail), and the marker written before acting fences its appends.
   */
  private async claim(entry: IndexEntry, alive?: Alive): Promise<Claim | AcquireOutcome> {
    const { deps } = this;
    const rec = entry.record;
    const generation = deps.generation();
    const refused = await this.refusal(entry, alive);
    if (refused) return refused;
    try {
      const taken = await deps.index.update({ ...rec, owner: deps.owner, epoch: rec.epoch + 1, updatedAt: deps.now() }, entry.revision);
      if (rec.owner !== deps.owner) {
        deps.logger.info({ sagaId: rec.sagaId, from: rec.owner, epoch: rec.epoch + 1 }, 'took over saga from a coordinator whose lease lapsed');
      }
      const marker = rec.owner !== deps.owner || !deps.droveAt(rec.sagaId, rec.epoch);
      return { entry: taken, from: rec.owner, marker, generation };
    } catch (e) {
      if (e instanceof KvConflictError) return 'lostRace';
      throw e;
    }
  }

  /** Why this coordinator may not claim the saga now; null when it may try. */
  private async refusal(entry: IndexEntry, alive?: Alive): Promise<AcquireOutcome | null> {
    const { deps } = this;
    const rec = entry.record;
    if (deps.isLoaded(rec.sagaId)) return 'alreadyLoaded';
    if (!deps.leaseValid()) return 'abandoned';
    if (isTerminalStatus(rec.status)) return 'finished';
    if (!deps.registry.has(parseMachineRef(rec.machine).id)) return 'foreignMachine';
    if (rec.owner !== deps.owner) {
      let live = alive?.get(rec.owner);
      if (!live) {
        live = deps.isAlive(rec.owner);
        alive?.set(rec.owner, live);
      }
      if (await live) return 'liveOwner';
    }
    return null;
  }

  /** Repairs, fences or activates a claimed saga, given its fold. */
  private async settle(claim: Claim, folded: FoldedSaga | null): Promise<AcquireOutcome> {
    const ready = await this.prepare(claim, folded);
    return typeof ready === 'string' ? ready : this.activateReady(ready);
  }

  /**
   * Everything a claimed saga needs before it may act: repairs a start that never journaled,
   * parks an incomplete fork, finishes a saga that already ended, and fences earlier writers
   * with a takeover marker. What it returns is current: no writer can append after it.
   */
  private async prepare(claim: Claim, folded: FoldedSaga | null): Promise<AcquireOutcome | Ready> {
    const { deps } = this;
    const id = claim.entry.record.sagaId;
    for (let round = 0; round < MAX_FENCE_ROUNDS; round++) {
      if (deps.generation() !== claim.generation) return 'abandoned';
      if (!folded) {
        const voided = await this.voidStart(claim);
        if (voided !== 'initLanded') return voided;
        // A late init landed: its starter may still be running it, so fence it off.
        claim = { ...claim, marker: true };
        folded = await this.fold(id);
        continue;
      }
      // Before any marker: a takeover entry would take the number of a copy still missing.
      if (isIncompleteFork(folded)) return this.parkIncompleteFork(claim, folded);
      const status = statusOf(folded.snapshot);
      if (isTerminalStatus(status)) {
        await deps.index.finish({ ...claim.entry.record, status, updatedAt: folded.lastAt });
        deps.finished?.(folded);
        return 'repaired';
      }
      const copy = deps.newCopy();
      // A fold that did not read the journal past its checkpoint is proven current by the marker.
      if (folded.tailUnchecked && !claim.marker) claim = { ...claim, marker: true };
      if (claim.marker) {
        // Until the marker is journaled, the copy it was claimed from (if it still runs) may
        // append: if it got in first, fold again and mark after that.
        const marked = await this.markTakeover(folded, claim, copy);
        if (!marked) {
          folded = await this.fold(id);
          continue;
        }
        folded = marked;
      }
      return { claim, folded, copy };
    }
    deps.logger.warn({ sagaId: id }, 'another writer kept appending while this coordinator claimed the saga; leaving it to the next pass');
    return 'lostRace';
  }

  /** Makes a prepared saga live and acting, unless this process's copies were invalidated since. */
  private activateReady(ready: Ready): AcquireOutcome {
    if (this.deps.generation() !== ready.claim.generation) return 'abandoned';
    this.deps.activate(ready.folded, ready.claim.entry, ready.copy);
    return 'loaded';
  }

  /**
   * A fork holds fewer entries than its init announced: the coordinator copying it died (or
   * gave up) half-way. Driving it would act on a prefix of the state the fork was asked for —
   * steps the source finished would run again — so it is parked, with a problem that says so,
   * and nothing is appended (every pass finds it the same way; a copier that still finishes
   * the copy makes it complete, and the next pass resumes it).
   */
  private async parkIncompleteFork(claim: Claim, folded: FoldedSaga): Promise<AcquireOutcome> {
    const { deps } = this;
    const from = folded.forkedFrom!;
    const problem = incompleteForkProblem(from, folded.no);
    const rec = claim.entry.record;
    if (rec.status === SagaStatus.Parked && rec.problem === problem) return 'parked';
    try {
      await deps.index.update({ ...rec, status: SagaStatus.Parked, problem, updatedAt: deps.now() }, claim.entry.revision);
    } catch (e) {
      if (e instanceof KvConflictError) return 'lostRace';
      throw e;
    }
    deps.logger.warn({ sagaId: rec.sagaId, forkedFrom: from.sagaId, entries: folded.no, expected: from.entries }, 'parked a fork whose copy is incomplete');
    return 'parked';
  }

  /** Appends the takeover marker as `copy`; null when another writer got an append in first. */
  private async markTakeover(folded: FoldedSaga, claim: Claim, copy: string): Promise<FoldedSaga | null> {
    const { deps } = this;
    const no = folded.no + 1;
    const at = deps.now();
    const data = encodeRecord({ no, at, takeover: { owner: deps.owner, epoch: claim.entry.record.epoch, from: claim.from } });
    try {
      const p = deps.journal.append(folded.sagaId, data, { expectedLastSeq: folded.lastSeq, msgId: msgIdOf(folded.sagaId, no, copy), signal: deps.signal });
      deps.trackAppend(p);
      const { seq } = await p;
      return { ...folded, no, lastSeq: seq, lastAt: at, tailUnchecked: false };
    } catch (e) {
      if (e instanceof JournalConflictError) return null;
      throw e;
    }
  }

  /**
   * A claimed saga without an init entry: its start died (or stalls) between the index record
   * and the first entry, and no client was told it started. Fence the journal with a void entry
   * where the init would go — a late init then fails, and its start goes round again — and only
   * then remove the record (conditionally: a record created since is kept).
   */
  private async voidStart(claim: Claim): Promise<AcquireOutcome | 'initLanded'> {
    const { deps } = this;
    const id = claim.entry.record.sagaId;
    const head = await unstartedHead(deps.journal, id);
    if (head === null) return 'initLanded';
    const copy = deps.newCopy();
    const data = encodeRecord({
      no: 0,
      at: deps.now(),
      void: { owner: deps.owner, epoch: claim.entry.record.epoch, reason: 'the start never journaled its init entry' },
    });
    try {
      const p = deps.journal.append(id, data, { expectedLastSeq: head, msgId: msgIdOf(id, 0, copy), signal: deps.signal });
      deps.trackAppend(p);
      await p;
    } catch (e) {
      if (e instanceof JournalConflictError) return 'initLanded';
      throw e;
    }
    await deps.index.remove(id, { revision: claim.entry.revision });
    deps.logger.info({ sagaId: id }, 'voided a start that never journaled its init entry, and removed its index record');
    return 'empty';
  }
}
