/**
 * The saga runtime: starts, drives, recovers and answers for sagas on one coordinator.
 * See DESIGN.md §2. Everything durable goes through `stores`; everything a saga does goes
 * through its `SagaInstance`'s persist-then-act loop.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { initialTransition, type AnyEventObject } from 'xstate';
import { defaultOwner } from '../config.js';
import {
  ClosedError,
  InvalidArgumentError,
  JournalConflictError,
  NotOwnerError,
  SagaExistsError,
  SagaError,
  UnknownSagaError,
  ensureError,
} from '../errors.js';
import { encodeRecord } from '../journal/codec.js';
import { isTerminalStatus, SagaStatus, type IndexEntry, type IndexRecord } from '../journal/index-store.js';
import { isValidSagaId } from '../journal/journal.js';
import { silentLogger, type Logger } from '../log.js';
import { applyEntry, emptyBook } from './book.js';
import { makeCheckpoint, saveCheckpoint } from './checkpoint.js';
import { CoordinatorLease, type LeaseLoss } from './coordinator-lease.js';
import type { FoldedSaga } from './fold.js';
import { IndexKeeper } from './index-keeper.js';
import { RecoverySchedule } from './recovery-schedule.js';
import { runRecovery } from './recovery.js';
import { ReadinessGate } from './readiness-gate.js';
import type { RuntimeCoreOptions } from './runtime-options.js';
import { journalView, type JournalView } from './journal-view.js';
import { listSagas, type ListOptions } from './listing.js';
import { MachineRegistry } from './registry.js';
import { SagaInstance, type Commit, type InstanceHost, type StopReason } from './saga-instance.js';
import { SagaLoader } from './saga-loader.js';
import { infoOf, summaryInfo } from './saga-info.js';
import type { RuntimeStores } from './stores.js';
import type { RecoveryReport, SagaBinding, SagaInfo, SagaSummary, SendResult, TransitionNotice } from './types.js';
import { Waiters } from './waiters.js';



const TERMINAL_OR_BLOCKED = new Set<SagaStatus>([SagaStatus.Completed, SagaStatus.Compensated, SagaStatus.Cancelled, SagaStatus.Blocked]);
const OWNER = /^[A-Za-z0-9_-]{1,64}$/;

export type { RuntimeCoreOptions, JournalView };

export class Runtime {
  readonly owner: string;
  readonly incarnation = randomBytes(6).toString('base64url');
  readonly registry: MachineRegistry;
  readonly logger: Logger;

  private readonly stores: RuntimeStores;
  private readonly now: () => number;
  private readonly checkpointEvery: number;
  private readonly instances = new Map<string, SagaInstance>();
  private readonly listeners = new Set<(n: TransitionNotice) => void>();
  private readonly waiters = new Waiters();
  private readonly recent = new Map<string, SagaInfo>();
  private readonly background = new Set<Promise<unknown>>();
  private readonly closing = new AbortController();
  private readonly lease: CoordinatorLease;
  private readonly keeper: IndexKeeper;
  private readonly loader: SagaLoader;
  private readonly host: InstanceHost;
  private readonly gate: ReadinessGate;
  private readonly recovery: RecoverySchedule;
  private closed: Error | undefined;
  /** Highest journal seq this coordinator has seen (bounds its low-water seq from above). */
  private maxSeen = 0;
  /** Sagas of a previous life not yet recovered: keep the previous low-water seq until they are. */
  private inheritLowWater = true;
  /** Lowest first seq of sagas unloaded after our lease lapsed, until they are recovered. */
  private retainedLowWater: number | undefined;

  constructor(private readonly options: RuntimeCoreOptions) {
    this.registry = new MachineRegistry(options.machines);
    this.stores = options.stores;
    this.owner = options.owner ?? defaultOwner(process.env);
    if (!OWNER.test(this.owner)) throw new InvalidArgumentError(`owner "${this.owner}" must match ${OWNER}`);
    this.logger = (options.logger ?? silentLogger).child({ owner: this.owner });
    this.now = options.now ?? Date.now;
    this.checkpointEvery = options.checkpointEvery ?? 50;
    this.lease = new CoordinatorLease({
      kv: this.stores.coordinators,
      owner: this.owner,
      incarnation: this.incarnation,
      ttlMs: options.leaseTtlMs ?? 10_000,
      machines: this.registry.all().map((b) => `${b.id}@${b.version}`),
      now: this.now,
      logger: this.logger,
      lowWater: () => this.lowWater(),
      onLost: (why) => this.onLeaseLost(why),
    });
    this.keeper = new IndexKeeper({
      index: this.stores.index,
      owner: this.owner,
      now: this.now,
      logger: this.logger,
      lost: (sagaId, record) => {
        this.logger.warn({ sagaId, owner: record?.owner }, 'saga was taken over; stopping this copy');
        this.instances.get(sagaId)?.stop('fenced');
      },
    });
    this.recovery = new RecoverySchedule(() => (this.closed ? Promise.reject(new ClosedError()) : this.recoveryPass()), options.recoverIntervalMs ?? 15_000, (p) => this.track(p));
    this.gate = new ReadinessGate(options.readiness, (id, event) => this.deliverInternal(id, event), this.logger);
    this.host = {
      journal: this.stores.journal,
      incarnation: this.incarnation,
      logger: this.logger,
      closing: this.closing.signal,
      now: this.now,
      committed: (inst, c) => this.onCommitted(inst, c),
      stopped: (inst, reason) => this.onStopped(inst, reason),
    };
    this.loader = new SagaLoader({
      journal: this.stores.journal,
      index: this.stores.index,
      checkpoints: this.stores.checkpoints,
      registry: this.registry,
      owner: this.owner,
      incarnation: this.incarnation,
      logger: this.logger,
      signal: this.closing.signal,
      now: this.now,
      isAlive: (owner) => this.lease.isAlive(owner),
      lowWaterOf: async (owner) => (owner === this.owner ? this.lowWater() : (await this.lease.read(owner))?.lowWaterSeq),
      isLoaded: (id) => this.instances.has(id),
      activate: (folded, entry) => this.resumeInstance(this.activate(folded, entry)),
    });
  }

  /** Takes the coordinator lease and begins background recovery. */
  async open(): Promise<this> {
    this.maxSeen = await this.stores.journal.lastSeq();
    await this.lease.acquire();
    if (!this.options.deferRecovery) {
      if (this.options.recoverOnStart ?? true) this.beginRecovery();
      else this.recovery.startTimer();
    }
    this.logger.info({ incarnation: this.incarnation, machines: this.registry.ids() }, 'saga runtime open');
    return this;
  }

  /**
   * Starts a saga on the newest version of `machineId`. With an `id` that already exists the
   * call is idempotent: it returns that saga (refusing only if it runs another machine).
   */
  async start(machineId: string, input?: unknown, options: { id?: string } = {}): Promise<SagaInfo> {
    this.assertOpen();
    const id = options.id ?? randomUUID();
    if (!isValidSagaId(id)) throw new InvalidArgumentError(`saga id "${id}" must be 1–128 of [A-Za-z0-9_-]`, { id });
    const binding = this.registry.latest(machineId);
    let inputJson: string;
    try {
      inputJson = JSON.stringify(input ?? null);
    } catch (e) {
      throw new InvalidArgumentError(`input of saga "${id}" is not JSON-serialisable: ${(e as Error).message}`);
    }
    return this.loader.exclusive([id], async () => {
      const loaded = this.instances.get(id);
      if (loaded) {
        if (loaded.binding.id !== machineId) throw new SagaExistsError(id, loaded.binding.id, machineId);
        return loaded.info(this.owner);
      }
      const now = this.now();
      const record: IndexRecord = {
        sagaId: id,
        machine: `${binding.id}@${binding.version}`,
        status: SagaStatus.Running,
        owner: this.owner,
        epoch: 1,
        createdAt: now,
        updatedAt: now,
      };
      // The index record goes first, create-only, so that no saga is ever missing from it.
      const { entry, created } = await this.stores.index.create(record);
      if (!created) {
        const existingMachine = entry.record.machine.split('@')[0]!;
        if (existingMachine !== machineId) throw new SagaExistsError(id, entry.record.machine, machineId);
        if (isTerminalStatus(entry.record.status)) return this.get(id);
        // It exists: drive it here if we may; otherwise answer with what it is.
        if ((await this.loader.acquireLocked(entry)) !== 'empty') return this.get(id);
        // An earlier start died between its index record and its first entry: start afresh.
        const again = await this.stores.index.create(record);
        if (!again.created) return this.get(id);
        return this.initialise(binding, id, JSON.parse(inputJson) as unknown, again.entry, now);
      }
      return this.initialise(binding, id, JSON.parse(inputJson) as unknown, entry, now);
    });
  }

  /** Delivers an event to a saga, taking it over first if its owner's lease has lapsed. */
  async send(sagaId: string, event: AnyEventObject): Promise<SendResult> {
    this.assertOpen();
    const inst = this.instances.get(sagaId) ?? (await this.acquireForWork(sagaId));
    if (!inst) {
      const info = await this.get(sagaId);
      return { accepted: false, seq: info.seq, status: info.status, state: info.state };
    }
    return inst.send(event);
  }

  /** The saga's current state, from memory when driven here, else folded from its journal. */
  async get(sagaId: string): Promise<SagaInfo> {
    const inst = this.instances.get(sagaId);
    if (inst) return inst.info(this.owner);
    const recent = this.recent.get(sagaId);
    if (recent) return recent;
    if (!isValidSagaId(sagaId)) throw new UnknownSagaError(String(sagaId));
    const [entry, folded] = await Promise.all([this.stores.index.get(sagaId), this.loader.fold(sagaId).catch(ensureError)]);
    if (folded instanceof Error) {
      if (!entry) throw folded;
      return summaryInfo(entry.record, folded.message);
    }
    if (!folded) {
      if (!entry) throw new UnknownSagaError(sagaId);
      return summaryInfo(entry.record);
    }
    return folded && infoOf(folded, entry?.record.owner);
  }

  /** The decoded journal of a saga: what it was started with and every input it consumed. */
  async events(sagaId: string): Promise<JournalView[]> {
    const entries = await this.stores.journal.read(sagaId);
    if (entries.length === 0 && !(await this.stores.index.get(sagaId))) throw new UnknownSagaError(sagaId);
    return entries.map(journalView);
  }


  /** Sagas from the index (newest status of those driven here), sorted by id and paged; see listing.ts. */
  list(options: ListOptions = {}): Promise<{ sagas: SagaSummary[]; next: string | undefined }> {
    return listSagas(this.stores.index, (id) => this.instances.get(id), options);
  }

  /** Resolves once the saga's status is in `until` (default: finished or blocked). */
  wait(sagaId: string, options: { until?: readonly SagaStatus[]; timeoutMs?: number; signal?: AbortSignal } = {}): Promise<SagaInfo> {
    const until = new Set(options.until ?? TERMINAL_OR_BLOCKED);
    return this.waiters.wait(sagaId, until, () => this.get(sagaId), {
      timeoutMs: options.timeoutMs,
      signal: options.signal,
      pollMs: 250,
      local: () => this.instances.has(sagaId),
    });
  }

  /** Calls `listener` after every journaled transition of a saga driven here. */
  subscribe(listener: (notice: TransitionNotice) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * One recovery pass (see recovery.ts). Concurrent calls share a pass; a call made while a
   * pass runs gets the next one, which sees everything that changed before the call.
   */
  recover(): Promise<RecoveryReport> {
    if (this.closed) return Promise.reject(new ClosedError());
    return this.recovery.run();
  }

  /**
   * Starts background recovery: a pass now, then one every `recoverIntervalMs`. `open()` calls
   * it unless `recoverOnStart` is false or `deferRecovery` is set; a coordinator's boot graph
   * calls it once work is admitted. Idempotent.
   */
  beginRecovery(): void {
    this.assertOpen();
    this.recovery.begin();
  }

  /** Sagas driven by this coordinator right now. */
  loadedSagaIds(): string[] {
    return [...this.instances.keys()];
  }

  /**
   * Stops driving every saga (their steps are aborted and will re-run, with the same keys,
   * wherever the sagas are resumed), flushes index writes and releases the lease so another
   * coordinator may take over at once. `graceful: false` skips the flush and the release, as
   * a crash would: others wait for the lease to lapse.
   */
  async close(options: { graceful?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    const graceful = options.graceful ?? true;
    this.closed = new ClosedError();
    this.recovery.stop();
    this.gate.close();
    // The lease record written on close must still cover the sagas handed back, so the next
    // coordinator's bulk recovery scans from their first entries.
    for (const inst of this.instances.values()) this.retainedLowWater = Math.min(this.retainedLowWater ?? Infinity, inst.firstSeq);
    for (const inst of [...this.instances.values()]) inst.stop('unloaded');
    if (graceful) await this.keeper.flush();
    this.keeper.stop();
    this.closing.abort(this.closed);
    this.waiters.rejectAll(this.closed);
    await Promise.allSettled([...this.background]);
    await this.lease.close(graceful);
    await this.stores.close?.();
    this.logger.info({ graceful }, 'saga runtime closed');
  }

  /** Test hook: the coordinator lease, to simulate a pause or a partition. */
  get coordinatorLease(): CoordinatorLease {
    return this.lease;
  }

  private async initialise(binding: SagaBinding, id: string, input: unknown, entry: IndexEntry, now: number): Promise<SagaInfo> {
    let first: ReturnType<typeof initialTransition>;
    try {
      first = initialTransition(binding.machine, input);
    } catch (e) {
      await this.stores.index.remove(id).catch(() => undefined);
      throw new InvalidArgumentError(`machine ${binding.id} refused the input of saga "${id}": ${(e as Error).message}`);
    }
    const [snapshot, actions] = first;
    if (snapshot.status === 'error') {
      await this.stores.index.remove(id).catch(() => undefined);
      throw new InvalidArgumentError(`machine ${binding.id} refused the input of saga "${id}": ${String(snapshot.error)}`);
    }
    const data = encodeRecord({ no: 1, at: now, init: { machine: binding.id, version: binding.version, input, owner: this.owner } });
    let seq: number;
    try {
      ({ seq } = await this.stores.journal.append(id, data, { expectedLastSeq: 0, msgId: `${id}:1:${this.incarnation}`, signal: this.closing.signal }));
    } catch (e) {
      if (!(e instanceof JournalConflictError)) throw e;
      // Started concurrently by another coordinator: that start wins.
      return this.get(id);
    }
    const book = emptyBook();
    applyEntry(book, { sagaId: id, no: 1, at: now, event: undefined, final: snapshot.status === 'done' }, actions);
    if (seq > this.maxSeen) this.maxSeen = seq;
    const inst = this.activate({ sagaId: id, binding, snapshot, book, no: 1, lastSeq: seq, firstSeq: seq, lastAt: now, createdAt: now }, entry);
    this.notify(inst, { no: 1, at: now, event: { type: 'xstate.init', input } as AnyEventObject, previousStatus: SagaStatus.Running, status: inst.status });
    this.resumeInstance(inst);
    const info = inst.info(this.owner);
    if (isTerminalStatus(inst.status)) this.finish(inst);
    return info;
  }

  private resumeInstance(inst: SagaInstance): void {
    inst.resume();
    if (!inst.isStopped && !isTerminalStatus(inst.status)) this.gate.sync(inst.id, inst.snapshot.tags);
  }

  /** Host-originated input (a readiness event) into a saga driven here; journaled as usual. */
  private deliverInternal(sagaId: string, event: AnyEventObject): void {
    const inst = this.instances.get(sagaId);
    if (!inst) return;
    inst.send(event).catch((e: unknown) => {
      if (!this.closed) this.logger.debug({ sagaId, event: event.type, err: (e as Error).message }, 'internal event not delivered');
    });
  }

  private activate(folded: FoldedSaga, entry: IndexEntry): SagaInstance {
    const inst = new SagaInstance(this.host, folded);
    this.instances.set(inst.id, inst);
    this.recent.delete(inst.id);
    this.keeper.adopt(entry);
    return inst;
  }

  private async acquireForWork(sagaId: string): Promise<SagaInstance | undefined> {
    if (!isValidSagaId(sagaId)) throw new UnknownSagaError(String(sagaId));
    const entry = await this.stores.index.get(sagaId);
    if (!entry) throw new UnknownSagaError(sagaId);
    const outcome = await this.loader.acquire(entry);
    const inst = this.instances.get(sagaId);
    if (inst) return inst;
    if (outcome === 'liveOwner') throw new NotOwnerError(sagaId, entry.record.owner);
    if (outcome === 'lostRace') {
      const now = await this.stores.index.get(sagaId);
      throw new NotOwnerError(sagaId, now?.record.owner ?? 'unknown');
    }
    if (outcome === 'foreignMachine') throw new SagaError('UNKNOWN_MACHINE', `saga "${sagaId}" runs ${entry.record.machine}, which this coordinator does not have`, { status: 404 });
    return undefined;
  }

  /**
   * No open saga of this coordinator has an entry below this seq: the lowest first seq of the
   * sagas it drives, of those it still has to recover, and at most one past the last seq seen.
   */
  private lowWater(): number | undefined {
    let low = this.maxSeen + 1;
    const inherited = this.inheritLowWater ? this.lease.previous?.lowWaterSeq : undefined;
    if (this.inheritLowWater && this.lease.previous && inherited === undefined) return undefined;
    if (inherited !== undefined) low = Math.min(low, inherited);
    if (this.retainedLowWater !== undefined) low = Math.min(low, this.retainedLowWater);
    for (const inst of this.instances.values()) if (inst.firstSeq < low) low = inst.firstSeq;
    return low;
  }

  private onCommitted(inst: SagaInstance, c: Commit): void {
    if (inst.lastSeq > this.maxSeen) this.maxSeen = inst.lastSeq;
    if (c.status !== c.previousStatus && !isTerminalStatus(c.status)) void this.keeper.statusChanged(inst.id, c.status);
    if (this.checkpointEvery > 0 && c.no % this.checkpointEvery === 0 && !isTerminalStatus(c.status)) {
      const cp = makeCheckpoint(inst.binding.machine, {
        no: c.no, seq: inst.lastSeq, at: c.at, createdAt: inst.createdAt, firstSeq: inst.firstSeq,
        machine: inst.binding.id, version: inst.binding.version, snapshot: inst.snapshot, book: structuredClone(inst.book),
      });
      this.track(saveCheckpoint(this.stores.checkpoints, inst.id, cp).catch((e: unknown) => this.logger.warn({ sagaId: inst.id, err: (e as Error).message }, 'checkpoint not saved')));
    }
    this.notify(inst, c);
    if (isTerminalStatus(c.status)) {
      this.finish(inst);
      return;
    }
    if (c.event !== undefined && c.event.type.startsWith('xstate.error.actor.')) this.gate.observeError(inst.id, c.event);
    this.gate.sync(inst.id, inst.snapshot.tags);
  }

  private finish(inst: SagaInstance): void {
    const info = inst.info(this.owner);
    this.recent.set(inst.id, info);
    if (this.recent.size > 1000) this.recent.delete(this.recent.keys().next().value!);
    const hadCheckpoint = this.checkpointEvery > 0 && inst.no >= this.checkpointEvery;
    // Waiters hear of a finished saga once the index says so too, so a caller that waited
    // for it finds it in `list()` straight away.
    void this.keeper.statusChanged(inst.id, inst.status, async () => {
      if (hadCheckpoint) await this.stores.checkpoints.delete(inst.id).catch(() => undefined);
    }).finally(() => this.waiters.notify(info));
  }

  private notify(inst: SagaInstance, c: Commit): void {
    if (this.listeners.size > 0) {
      const notice: TransitionNotice = { sagaId: inst.id, machine: inst.binding.id, seq: c.no, at: c.at, event: c.event, status: c.status, state: inst.snapshot.value };
      for (const l of this.listeners) {
        try {
          l(notice);
        } catch (e) {
          this.logger.warn({ err: (e as Error).message }, 'transition listener threw');
        }
      }
    }
    if (this.waiters.has(inst.id) && !isTerminalStatus(c.status)) this.waiters.notify(inst.info(this.owner));
  }

  private onStopped(inst: SagaInstance, reason: StopReason): void {
    if (this.instances.get(inst.id) === inst) this.instances.delete(inst.id);
    this.gate.forget(inst.id);
    if (reason !== 'final') this.keeper.forget(inst.id);
  }

  private onLeaseLost(why: LeaseLoss): void {
    if (why === 'superseded') {
      const err = new SagaError('SUPERSEDED', `another process now runs as coordinator "${this.owner}"`);
      for (const inst of [...this.instances.values()]) inst.stop('fenced');
      void this.close().then(() => this.options.onFatal?.(err));
      return;
    }
    // Our sagas may have been taken over while we were away: drop them all, then take back
    // those whose index records still name us.
    for (const inst of [...this.instances.values()]) {
      this.retainedLowWater = Math.min(this.retainedLowWater ?? Infinity, inst.firstSeq);
      inst.stop('unloaded');
    }
    this.track(this.recover());
  }

  private async recoveryPass(): Promise<RecoveryReport> {
    const started = this.now();
    const report = await runRecovery({
      index: this.stores.index,
      logger: this.logger,
      concurrency: this.options.recoveryConcurrency ?? 16,
      // One page of up to 10k records is read with a single consumer pass (~0.1 s); small
      // pages would be read record by record.
      pageSize: 10_000,
      bulkMin: 32,
      signal: this.closing.signal,
      isLoaded: (id) => this.instances.has(id),
      hasMachine: (id) => this.registry.has(id),
      acquire: (entry, alive) => this.loader.acquire(entry, alive),
      acquireMany: (entries, alive) => this.loader.acquireMany(entries, alive),
    });
    if (report.failed === 0) {
      this.inheritLowWater = false;
      this.retainedLowWater = undefined;
    }
    if (report.recovered || report.repaired || report.failed) {
      this.logger.info({ ...report, ms: this.now() - started }, 'recovery pass');
    }
    return report;
  }

  private track(p: Promise<unknown>): void {
    const q = p.catch((e: unknown) => {
      if (!this.closed) this.logger.error({ err: (e as Error).message }, 'background task failed');
    });
    this.background.add(q);
    void q.finally(() => this.background.delete(q));
  }

  private assertOpen(): void {
    if (this.closed) throw this.closed;
  }
}

