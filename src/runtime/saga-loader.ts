/**
 * Acquiring a saga: decide whether this coordinator may drive it, take it over by CAS on its
 * index record when its owner's lease has lapsed, then fold its journal (from the checkpoint
 * if there is a usable one) and resume it. One acquisition per saga at a time in a process,
 * and one winner across coordinators (the CAS), so each saga is recovered exactly once per
 * lease.
 */
import { JournalConflictError, KvConflictError } from '../errors.js';
import { encodeRecord } from '../journal/codec.js';
import { isTerminalStatus, type IndexEntry, type IndexStore } from '../journal/index-store.js';
import type { Journal } from '../journal/journal.js';
import type { KvStore } from '../journal/kv-store.js';
import type { Logger } from '../log.js';
import { loadCheckpoint } from './checkpoint.js';
import { foldSaga, type FoldedSaga } from './fold.js';
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
  isLoaded(sagaId: string): boolean;
  /** Makes the folded saga live under `entry` (the record as now owned by us). */
  activate(folded: FoldedSaga, entry: IndexEntry): void;
}

export class SagaLoader {
  private readonly inflight = new Map<string, Promise<unknown>>();

  constructor(private readonly deps: LoaderDeps) {}

  /** Acquires `entry`'s saga; joins an acquisition of it already under way here. */
  acquire(entry: IndexEntry, alive?: Map<string, Promise<boolean>>): Promise<AcquireOutcome> {
    return this.exclusive(entry.record.sagaId, () => this.acquireLocked(entry, alive));
  }

  /**
   * Runs `work` alone for this saga in this process: a start, an acquisition or a takeover.
   * Without it, a recovery pass could see a start's index record before its first entry and
   * remove it as a start that died half-way.
   */
  async exclusive<T>(sagaId: string, work: () => Promise<T>): Promise<T> {
    for (let busy = this.inflight.get(sagaId); busy; busy = this.inflight.get(sagaId)) {
      await busy.catch(() => undefined);
    }
    const p = work();
    this.inflight.set(sagaId, p);
    try {
      return await p;
    } finally {
      if (this.inflight.get(sagaId) === p) this.inflight.delete(sagaId);
    }
  }

  /** Folds a saga without driving it (read-only views of sagas owned elsewhere or finished). */
  async fold(sagaId: string): Promise<FoldedSaga | null> {
    const cp = await loadCheckpoint(this.deps.checkpoints, sagaId).catch(() => null);
    if (cp) {
      const tail = await this.deps.journal.read(sagaId, { fromSeq: cp.seq + 1 });
      try {
        if (tail.length === 0 || decodeNo(tail[0]!.data) === cp.no + 1) return foldSaga(this.deps.registry, sagaId, tail, cp);
      } catch (e) {
        this.deps.logger.warn({ sagaId, err: (e as Error).message }, 'checkpoint unusable; folding the whole journal');
      }
    }
    const entries = await this.deps.journal.read(sagaId);
    return entries.length === 0 ? null : foldSaga(this.deps.registry, sagaId, entries);
  }

  /** `acquire` for a caller already inside `exclusive` for this saga. */
  async acquireLocked(entry: IndexEntry, alive?: Map<string, Promise<boolean>>): Promise<AcquireOutcome> {
    const { deps } = this;
    const rec = entry.record;
    if (deps.isLoaded(rec.sagaId)) return 'alreadyLoaded';
    if (isTerminalStatus(rec.status)) return 'finished';
    if (!deps.registry.has(rec.machine.split('@')[0]!)) return 'foreignMachine';
    if (rec.owner !== deps.owner) {
      let live = alive?.get(rec.owner);
      if (!live) {
        live = deps.isAlive(rec.owner);
        alive?.set(rec.owner, live);
      }
      if (await live) return 'liveOwner';
      try {
        const now = deps.now();
        entry = await deps.index.update({ ...rec, owner: deps.owner, epoch: rec.epoch + 1, updatedAt: now }, entry.revision);
        deps.logger.info({ sagaId: rec.sagaId, from: rec.owner, epoch: rec.epoch + 1 }, 'took over saga from a coordinator whose lease lapsed');
      } catch (e) {
        if (e instanceof KvConflictError) return 'lostRace';
        throw e;
      }
    }
    const tookOver = rec.owner !== deps.owner;
    let folded = await this.fold(rec.sagaId);
    while (folded && tookOver && !isTerminalStatus(statusOf(folded.snapshot))) {
      const marked = await this.markTakeover(folded, entry.record.epoch, rec.owner);
      if (marked) {
        folded = marked;
        break;
      }
      folded = await this.fold(rec.sagaId); // the old owner appended meanwhile; look again
    }
    if (!folded) {
      // The index record was written but the init entry never was: the start died half-way.
      // Its client gets no saga id back from a failed start, and a retried start recreates it.
      await deps.index.remove(rec.sagaId);
      deps.logger.info({ sagaId: rec.sagaId }, 'removed the index record of a saga that never started');
      return 'empty';
    }
    const status = statusOf(folded.snapshot);
    if (isTerminalStatus(status)) {
      await deps.index.finish({ ...entry.record, status, updatedAt: folded.lastAt });
      return 'repaired';
    }
    deps.activate(folded, entry);
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

function decodeNo(data: Uint8Array): number {
  // Only the entry number is needed to check a checkpoint lines up with the tail.
  const m = /^\{"no":(\d+)/.exec(new TextDecoder().decode(data.subarray(0, 32)));
  return m ? Number(m[1]) : -1;
}
