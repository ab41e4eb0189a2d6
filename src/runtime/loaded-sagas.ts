/**
 * The copies of sagas this coordinator drives, and the host side of their persist-then-act
 * loop: a loaded copy is registered under its index record, then let act; after each of its
 * commits, and when it finishes or stops, the index, checkpoints, readiness gate, child sagas,
 * low-water mark and notices are brought in step with it. Kept apart from runtime.ts, which
 * answers callers and wires the parts together, because this is what every saga passes
 * through on every transition.
 */
import type { AnyEventObject } from 'xstate';
import { InvalidEventError, JournalConflictError, JournalUnavailableError } from '../errors.js';
import { isTerminalStatus, SagaStatus, type IndexEntry } from '../journal/index-store.js';
import type { Journal } from '../journal/journal.js';
import type { Logger } from '../log.js';
import { sleep } from '../nats/retry.js';
import type { ChildSagas } from './child-sagas.js';
import type { FencedReacquire } from './fenced-reacquire.js';
import type { FoldedSaga } from './fold.js';
import type { IndexKeeper } from './index-keeper.js';
import type { LowWater } from './low-water.js';
import type { ReadinessGate } from './readiness-gate.js';
import type { RuntimeCheckpoints } from './runtime-checkpoints.js';
import { SagaInstance, type Commit, type InstanceHost, type StopReason } from './saga-instance.js';
import type { SagaNotices } from './saga-notices.js';

export interface LoadedSagasOptions {
  readonly journal: Journal;
  readonly owner: string;
  readonly logger: Logger;
  /** Aborted when the runtime closes. */
  readonly closing: AbortSignal;
  readonly keeper: IndexKeeper;
  readonly gate: ReadinessGate;
  readonly children: ChildSagas;
  readonly checkpoints: RuntimeCheckpoints;
  readonly notices: SagaNotices;
  readonly lowWater: LowWater;
  readonly reacquire: FencedReacquire;
  now(): number;
  closed(): boolean;
  track(p: Promise<unknown>): void;
}

export class LoadedSagas {
  private readonly instances = new Map<string, SagaInstance>();
  /** The epoch at which this process last drove each saga it has not finished. */
  private readonly driven = new Map<string, number>();
  private readonly host: InstanceHost;

  constructor(private readonly opts: LoadedSagasOptions) {
    this.host = {
      journal: opts.journal,
      logger: opts.logger,
      closing: opts.closing,
      now: opts.now,
      committed: (inst, c) => this.committed(inst, c),
      stopped: (inst, reason, cause) => this.stopped(inst, reason, cause),
    };
  }

  get(sagaId: string): SagaInstance | undefined {
    return this.instances.get(sagaId);
  }

  has(sagaId: string): boolean {
    return this.instances.has(sagaId);
  }

  all(): IterableIterator<SagaInstance> {
    return this.instances.values();
  }

  ids(): string[] {
    return [...this.instances.keys()];
  }

  /** Whether this process drove the saga at `epoch` and has not finished it since. */
  droveAt(sagaId: string, epoch: number): boolean {
    return this.driven.get(sagaId) === epoch;
  }

  /** Registers a live copy of a saga under its (now ours) index record. It does not act yet. */
  activate(folded: FoldedSaga, entry: IndexEntry, copy: string): SagaInstance {
    const { opts } = this;
    const inst = new SagaInstance(this.host, folded, copy);
    this.instances.set(inst.id, inst);
    opts.notices.forget(inst.id);
    opts.keeper.adopt(entry);
    this.driven.set(inst.id, entry.record.epoch);
    if (folded.hasCheckpoint) opts.checkpoints.restored(inst.id);
    // The record may say otherwise (parked, or a status the previous copy never wrote).
    if (entry.record.status !== inst.status || entry.record.problem !== undefined) void opts.keeper.statusChanged(inst.id, inst.status);
    return inst;
  }

  /** A freshly started saga acts: the init notice, its first steps and timers. */
  launch(inst: SagaInstance, input: unknown): void {
    this.opts.lowWater.seen(inst.lastSeq);
    this.notify(inst, { no: 1, at: inst.lastAt, event: { type: 'xstate.init', input } as AnyEventObject, previousStatus: SagaStatus.Running, status: inst.status });
    this.resume(inst);
    if (isTerminalStatus(inst.status)) {
      inst.stop('final');
      this.finish(inst);
    }
  }

  /** A registered copy acts: pending steps and timers, readiness waits, children. */
  resume(inst: SagaInstance): void {
    inst.resume();
    if (!inst.isStopped && !isTerminalStatus(inst.status)) {
      this.opts.gate.sync(inst.id, inst.snapshot.tags);
      this.opts.children.resumed(inst);
    }
  }

  /** Host-originated input (a readiness event) into a saga driven here; journaled as usual. */
  deliver(sagaId: string, event: AnyEventObject): void {
    const { opts } = this;
    const inst = this.instances.get(sagaId);
    if (!inst) return;
    inst.send(event).catch((e: unknown) => {
      if (opts.closed() || inst.isStopped) return;
      if (e instanceof JournalUnavailableError) {
        // Not delivered, so the saga still waits: offer the event again shortly.
        opts.track(
          sleep(1_000, [opts.closing]).then(() => {
            if (this.instances.get(sagaId) === inst) opts.gate.sync(sagaId, inst.snapshot.tags);
          }),
        );
        return;
      }
      const what = e instanceof InvalidEventError ? 'the saga machine rejected' : 'could not journal';
      inst.park(`${what} the host event "${event.type}": ${(e as Error).message}`, e);
    });
  }

  /**
   * Hands back every saga driven here (lease lapse, close); the low-water mark keeps covering
   * them until they are recovered. Returns when each copy will have settled.
   */
  unloadAll(): Promise<void>[] {
    const unloaded = [...this.instances.values()];
    for (const inst of unloaded) {
      // One with a checkpoint is restored from it, its journal unscanned (low-water.ts).
      if (!this.opts.checkpoints.isStored(inst.id)) this.opts.lowWater.retain(inst.firstSeq);
      inst.stop('unloaded');
    }
    return unloaded.map((i) => i.settled());
  }

  /** Stops every copy at once: another process now runs under this coordinator's name. */
  fenceAll(): void {
    for (const inst of [...this.instances.values()]) inst.stop('fenced');
  }

  private committed(inst: SagaInstance, c: Commit): void {
    const { opts } = this;
    opts.lowWater.seen(inst.lastSeq);
    if (c.status !== c.previousStatus && !isTerminalStatus(c.status)) void opts.keeper.statusChanged(inst.id, c.status);
    if (!isTerminalStatus(c.status)) opts.checkpoints.committed(inst, c);
    this.notify(inst, c);
    if (isTerminalStatus(c.status)) {
      this.finish(inst);
      return;
    }
    if (c.event !== undefined && c.event.type.startsWith('xstate.error.actor.')) opts.gate.observeError(inst.id, c.event);
    opts.gate.sync(inst.id, inst.snapshot.tags);
  }

  private finish(inst: SagaInstance): void {
    const { opts } = this;
    const info = inst.info(opts.owner);
    const id = inst.id;
    opts.notices.remember(info);
    this.driven.delete(id);
    opts.reacquire.forget(id);
    // Waiters hear of a finished saga once the index says so too, so a caller that waited
    // for it finds it in `list()` straight away.
    void opts.keeper.statusChanged(id, inst.status).finally(() => opts.notices.reached(info));
    opts.children.ended(inst);
    opts.checkpoints.finished(inst);
  }

  private notify(inst: SagaInstance, c: Commit): void {
    this.opts.children.wake(inst.id);
    this.opts.notices.transition(inst, c);
  }

  private stopped(inst: SagaInstance, reason: StopReason, cause: unknown): void {
    const { opts } = this;
    const id = inst.id;
    if (this.instances.get(id) === inst) this.instances.delete(id);
    opts.gate.forget(id);
    if (reason === 'final') return;
    opts.checkpoints.dropped(id);
    if (reason === 'parked') {
      // Until the index says parked, `get` answers from memory.
      const info = inst.info(opts.owner);
      opts.notices.remember(info);
      void opts.keeper.statusChanged(id, SagaStatus.Parked, { problem: inst.problem }).finally(() => opts.notices.forget(id, info));
      opts.notices.reached(info);
    }
    opts.keeper.forget(id);
    if (reason === 'fenced' && cause instanceof JournalConflictError) opts.reacquire.fenced(inst);
  }
}
