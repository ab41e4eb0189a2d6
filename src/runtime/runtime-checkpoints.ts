/**
 * Checkpoint keeping for the sagas driven here: one every `every` entries and one when a saga
 * goes idle (idle-checkpoints.ts), so that a recovery restores a saga from its checkpoint
 * instead of folding its whole journal. Saves of one saga are chained, so they land in order
 * and a finished saga's checkpoint is deleted after its last save, not before it (a save
 * landing after the delete would outlive the saga).
 */
import { performance } from 'node:perf_hooks';
import { isTerminalStatus } from '../journal/index-store.js';
import type { KvStore } from '../journal/kv-store.js';
import type { Logger } from '../log.js';
import { makeCheckpoint, saveCheckpoint } from './checkpoint.js';
import type { FoldedSaga } from './fold.js';
import { IdleCheckpoints } from './idle-checkpoints.js';
import type { Commit, SagaInstance } from './saga-instance.js';

export interface RuntimeCheckpointsOptions {
  readonly store: KvStore;
  /** A checkpoint every this many entries (0: none). */
  readonly every: number;
  /** A checkpoint once a saga journaled nothing for this long (0: none). */
  readonly idleMs: number;
  readonly logger: Logger;
  track(p: Promise<unknown>): void;
  /** The copy of a saga driven here now. */
  loaded(sagaId: string): SagaInstance | undefined;
}

export class RuntimeCheckpoints {
  /** The checkpoint save in flight per saga, so that a finish deletes after it, not before. */
  private readonly saves = new Map<string, Promise<void>>();
  /** Sagas driven here that have (or may have) a checkpoint, which their finish must delete. */
  private readonly checkpointed = new Set<string>();
  /**
   * Sagas driven here with a checkpoint known to be in the store (restored from one, or a save
   * landed). A recovery restores these from it and never scans the journal for them, so the
   * low-water mark leaves them out (see low-water.ts).
   */
  private readonly stored = new Set<string>();
  private readonly idle: IdleCheckpoints;

  constructor(private readonly opts: RuntimeCheckpointsOptions) {
    this.idle = new IdleCheckpoints({
      idleMs: opts.idleMs,
      clock: () => performance.now(),
      save: (id, no) => {
        const inst = opts.loaded(id);
        // Not if it moved on, finished, or has a periodic checkpoint at this very entry.
        if (!inst || inst.isStopped || inst.no !== no || isTerminalStatus(inst.status)) return;
        if (this.isPeriodic(no)) return;
        // Waiting on its own append (a backlog), not on a step: it is about to move on, and
        // a checkpoint per saga would only add to the backlog. Looked at again next sweep.
        if (inst.isBusy) return this.idle.touched(id, no);
        this.save(inst, { no, at: inst.lastAt });
      },
    });
  }

  start(): void {
    this.idle.start();
  }

  stop(): void {
    this.idle.stop();
  }

  /** A copy restored from a checkpoint was registered: that checkpoint goes when the saga finishes. */
  restored(sagaId: string): void {
    this.checkpointed.add(sagaId);
    this.stored.add(sagaId);
  }

  /** Whether the saga, driven here, has a checkpoint known to be in the store. */
  isStored(sagaId: string): boolean {
    return this.stored.has(sagaId);
  }

  /** A saga driven here journaled entry `c.no` and is not finished. */
  committed(inst: SagaInstance, c: Pick<Commit, 'no' | 'at'>): void {
    if (this.isPeriodic(c.no)) this.save(inst, c);
    this.idle.touched(inst.id, c.no);
  }

  /** A copy is no longer driven here, its saga unfinished: whoever drives it next keeps its checkpoint. */
  dropped(sagaId: string): void {
    this.idle.forget(sagaId);
    this.checkpointed.delete(sagaId);
    this.stored.delete(sagaId);
  }

  /** Recovery found a saga not driven here finished in its journal: a checkpoint left of it goes. */
  foundFinished(folded: Pick<FoldedSaga, 'sagaId' | 'hasCheckpoint'>): void {
    if (folded.hasCheckpoint) this.opts.track(this.opts.store.delete(folded.sagaId));
  }

  /** The saga finished: its checkpoint goes, after any save still in flight. */
  finished(inst: SagaInstance): void {
    const id = inst.id;
    this.idle.forget(id);
    const checkpointed = this.checkpointed.delete(id);
    this.stored.delete(id);
    const saving = this.saves.get(id);
    if (saving || checkpointed || (this.opts.every > 0 && inst.no >= this.opts.every)) {
      this.opts.track((async () => {
        await saving;
        await this.opts.store.delete(id);
      })());
    }
  }

  private isPeriodic(no: number): boolean {
    return this.opts.every > 0 && no % this.opts.every === 0;
  }

  /** Saves a checkpoint after the saga's previous one, so a finish can wait for both. */
  private save(inst: SagaInstance, c: Pick<Commit, 'no' | 'at'>): void {
    const cp = makeCheckpoint(inst.binding.machine, {
      no: c.no, seq: inst.lastSeq, at: c.at, createdAt: inst.createdAt, firstSeq: inst.firstSeq,
      machine: inst.binding.id, version: inst.binding.version, snapshot: inst.snapshot, book: structuredClone(inst.book),
      ...(inst.forkedFrom ? { forkedFrom: inst.forkedFrom } : {}),
    });
    const id = inst.id;
    this.checkpointed.add(id);
    const save = (this.saves.get(id) ?? Promise.resolve())
      .then(() => saveCheckpoint(this.opts.store, id, cp))
      .then(() => {
        // Not for a saga finished or handed on meanwhile (whose entry would only leak).
        if (this.checkpointed.has(id)) this.stored.add(id);
      })
      .catch((e: unknown) => this.opts.logger.warn({ sagaId: id, err: (e as Error).message }, 'checkpoint not saved'));
    this.saves.set(id, save);
    this.opts.track(save.finally(() => this.saves.get(id) === save && this.saves.delete(id)));
  }
}
