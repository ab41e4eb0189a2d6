/**
 * The saga runtime: starts, drives, recovers and answers for sagas on one coordinator.
 * See DESIGN.md §2. Everything durable goes through `stores`; everything a saga does goes
 * through the persist-then-act loop of its loaded copy (`SagaInstance`). A copy acts only on
 * what it journaled itself, and only while it still drives the saga: copies are stopped when
 * the coordinator's lease lapses, when another writer fences them, and on close.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { AnyEventObject } from 'xstate';
import { defaultOwner, OWNER_PATTERN } from '../config.js';
import { ClosedError, InvalidArgumentError, SagaError, UnknownSagaError } from '../errors.js';
import { SagaStatus } from '../journal/index-store.js';
import { assertSagaId } from '../journal/saga-id.js';
import { silentLogger, type Logger } from '../log.js';
import { acquireForWork } from './acquire-for-work.js';
import { BackgroundTasks } from './background-tasks.js';
import { ChildSagas } from './child-sagas.js';
import { childStepsOf } from './child-steps.js';
import { CoordinatorLease, type LeaseLoss } from './coordinator-lease.js';
import { FencedReacquire } from './fenced-reacquire.js';
import { IndexKeeper } from './index-keeper.js';
import { journalView, type JournalView } from './journal-view.js';
import { listSagas, type ListOptions } from './listing.js';
import { LoadedSagas } from './loaded-sagas.js';
import { LowWater } from './low-water.js';
import { ReadinessGate } from './readiness-gate.js';
import { recoveryPass, type RecoveryPassHost } from './recovery-pass.js';
import { RecoverySchedule } from './recovery-schedule.js';
import { MachineRegistry } from './registry.js';
import { RuntimeCheckpoints } from './runtime-checkpoints.js';
import type { RuntimeCoreOptions } from './runtime-options.js';
import { SagaCopies } from './saga-copies.js';
import { SagaLoader } from './saga-loader.js';
import { SagaStarter } from './saga-starter.js';
import { checkSaga, type SagaCheck } from './saga-check.js';
import { SagaForker, type ForkOptions, type ForkResult } from './saga-forker.js';
import { SagaNotices } from './saga-notices.js';
import { startInput } from './start-input.js';
import { storedInfo } from './stored-info.js';
import { DEFAULT_CHECKPOINT_IDLE_MS } from './idle-checkpoints.js';
import { loadCheckpoints } from './checkpoint.js';
import type { RuntimeStores } from './stores.js';
import type { SagaInstance } from './saga-instance.js';
import type { RecoveryReport, SagaInfo, SagaSummary, SendOptions, SendResult, StartResult, TransitionNotice } from './types.js';

const TERMINAL_OR_STUCK = new Set<SagaStatus>([
  SagaStatus.Completed,
  SagaStatus.Compensated,
  SagaStatus.Cancelled,
  SagaStatus.Blocked,
  SagaStatus.Parked,
]);

export type { RuntimeCoreOptions, JournalView };

export class Runtime {
  readonly owner: string;
  readonly incarnation = randomBytes(6).toString('base64url');
  readonly registry: MachineRegistry;
  readonly logger: Logger;

  private readonly stores: RuntimeStores;
  private readonly now: () => number;
  private readonly sagas: LoadedSagas;
  private readonly notices: SagaNotices;
  private readonly background: BackgroundTasks;
  private readonly closing = new AbortController();
  private readonly lease: CoordinatorLease;
  private readonly keeper: IndexKeeper;
  private readonly loader: SagaLoader;
  private readonly starter: SagaStarter;
  private readonly forker: SagaForker;
  private readonly gate: ReadinessGate;
  private readonly recovery: RecoverySchedule;
  private readonly lowWater: LowWater;
  private readonly copies: SagaCopies;
  private readonly checkpoints: RuntimeCheckpoints;
  private readonly reacquire: FencedReacquire;
  private closed: Error | undefined;
  /** Child sagas: the built-in child steps, and releasing children once their parent ends. */
  private readonly children: ChildSagas;

  constructor(private readonly options: RuntimeCoreOptions) {
    this.stores = options.stores;
    this.owner = options.owner ?? defaultOwner(process.env);
    if (!OWNER_PATTERN.test(this.owner)) throw new InvalidArgumentError(`owner "${this.owner}" must match ${OWNER_PATTERN}`);
    this.logger = (options.logger ?? silentLogger).child({ owner: this.owner });
    const isClosed = (): boolean => this.closed !== undefined;
    this.background = new BackgroundTasks({ logger: this.logger, closed: isClosed });
    const track = (p: Promise<unknown>): void => this.background.track(p);
    this.notices = new SagaNotices(this.owner, this.logger);
    this.children = new ChildSagas({
      start: (machine, input, id) => this.start(machine, input, { id }),
      get: (id) => this.get(id),
      send: (id, event) => this.send(id, event),
      track,
      logger: this.logger,
    });
    this.registry = new MachineRegistry(options.machines.map((b) => this.children.bind(b)));
    this.now = options.now ?? Date.now;
    this.checkpoints = new RuntimeCheckpoints({
      store: this.stores.checkpoints,
      every: options.checkpointEvery ?? 50,
      idleMs: options.checkpointIdleMs ?? DEFAULT_CHECKPOINT_IDLE_MS,
      logger: this.logger,
      track,
      loaded: (id) => this.sagas.get(id),
    });
    const leaseTtlMs = options.leaseTtlMs ?? 10_000;
    this.lease = new CoordinatorLease({
      kv: this.stores.coordinators,
      owner: this.owner,
      incarnation: this.incarnation,
      ttlMs: leaseTtlMs,
      machines: this.registry.all().map((b) => `${b.id}@${b.version}`),
      now: this.now,
      logger: this.logger,
      signal: this.closing.signal,
      lowWater: () => this.lowWater.value(),
      onLost: (why) => this.onLeaseLost(why),
    });
    this.lowWater = new LowWater({ previous: () => this.lease.previous, driven: () => this.foldedFromJournal() });
    this.copies = new SagaCopies(this.incarnation, () => this.lease.valid());
    this.keeper = new IndexKeeper({
      index: this.stores.index,
      owner: this.owner,
      now: this.now,
      logger: this.logger,
      lost: (sagaId, record) => {
        this.logger.warn({ sagaId, owner: record?.owner }, 'saga was taken over; stopping this copy');
        this.sagas.get(sagaId)?.stop('fenced');
      },
    });
    this.gate = new ReadinessGate(options.readiness, (id, event) => this.sagas.deliver(id, event), this.logger);
    const copies = this.copies.hooks;
    this.loader = new SagaLoader({
      journal: this.stores.journal,
      index: this.stores.index,
      checkpoints: this.stores.checkpoints,
      registry: this.registry,
      owner: this.owner,
      logger: this.logger,
      signal: this.closing.signal,
      now: this.now,
      isAlive: (owner) => this.lease.isAlive(owner),
      lowWaterOf: async (owner) => (owner === this.owner ? this.lowWater.value() : (await this.lease.read(owner))?.lowWaterSeq),
      isLoaded: (id) => this.drivenOrFinishing(id),
      droveAt: (id, epoch) => this.sagas.droveAt(id, epoch),
      ...(options.resumeSliceMs !== undefined ? { resumeSliceMs: options.resumeSliceMs } : {}),
      activate: (folded, entry, copy) => {
        this.sagas.resume(this.sagas.activate(folded, entry, copy));
        this.options.onResumed?.(entry.record.sagaId, entry.record.machine);
      },
      finished: (folded) => {
        this.checkpoints.foundFinished(folded);
        this.notices.foundFinished(folded);
      },
      ...copies,
    });
    this.starter = new SagaStarter({
      journal: this.stores.journal,
      index: this.stores.index,
      loader: this.loader,
      owner: this.owner,
      closing: this.closing.signal,
      // Long enough for a dead starter's lease (renewed at most a TTL ago) to lapse meanwhile.
      startWaitMs: Math.round(leaseTtlMs * 1.5),
      now: this.now,
      isAlive: (owner) => this.lease.isAlive(owner),
      loaded: (id) => this.sagas.get(id),
      get: (id) => this.get(id),
      activate: (folded, entry, copy) => this.sagas.activate(folded, entry, copy),
      launch: (inst, input) => this.sagas.launch(inst, input),
      ...copies,
    });
    this.forker = new SagaForker({
      journal: this.stores.journal,
      index: this.stores.index,
      registry: this.registry,
      loader: this.loader,
      owner: this.owner,
      closing: this.closing.signal,
      now: this.now,
      get: (id) => this.get(id),
      activate: (folded, entry, copy) => this.sagas.activate(folded, entry, copy),
      resume: (inst) => {
        this.lowWater.seen(inst.lastSeq);
        this.sagas.resume(inst);
      },
      ...copies,
    });
    const passHost: RecoveryPassHost = {
      index: this.stores.index,
      owner: this.owner,
      logger: this.logger,
      closing: this.closing.signal,
      concurrency: options.recoveryConcurrency ?? 16,
      lease: this.lease,
      lowWater: this.lowWater,
      loader: this.loader,
      now: this.now,
      isLoaded: (id) => this.drivenOrFinishing(id),
      hasMachine: (id) => this.registry.has(id),
      sweepChildren: () => this.children.sweep(this.sagas.all()),
      allCheckpoints: () => loadCheckpoints(this.stores.checkpoints, 'all'),
    };
    // The first pass (a restart) usually recovers many sagas: it reads their checkpoints while
    // it lists them. Later passes find few, and read only theirs.
    let firstPass = true;
    this.recovery = new RecoverySchedule({
      pass: (signal) => {
        if (this.closed) return Promise.reject(new ClosedError());
        const prefetch = firstPass;
        firstPass = false;
        return recoveryPass(passHost, signal, prefetch);
      },
      intervalMs: options.recoverIntervalMs ?? 15_000,
      passTimeoutMs: options.recoveryPassTimeoutMs ?? 60_000,
      track,
      logger: this.logger,
    });
    this.reacquire = new FencedReacquire({
      index: this.stores.index,
      owner: this.owner,
      logger: this.logger,
      closing: this.closing.signal,
      lease: this.lease,
      loader: this.loader,
      closed: isClosed,
      isLoaded: (id) => this.sagas.has(id),
      track,
    });
    // Built last: the parts above reach the loaded copies only through callbacks, which run
    // once the runtime is constructed.
    this.sagas = new LoadedSagas({
      journal: this.stores.journal,
      owner: this.owner,
      logger: this.logger,
      closing: this.closing.signal,
      keeper: this.keeper,
      gate: this.gate,
      children: this.children,
      checkpoints: this.checkpoints,
      notices: this.notices,
      lowWater: this.lowWater,
      reacquire: this.reacquire,
      now: this.now,
      closed: isClosed,
      track,
    });
  }

  /**
   * Takes the coordinator lease (waiting out a crashed previous holder's; refusing to run
   * beside a live one) and begins background recovery.
   */
  async open(): Promise<this> {
    this.lowWater.opened(await this.stores.journal.lastSeq());
    await this.lease.acquire();
    this.checkpoints.start();
    if (!this.options.deferRecovery) {
      if (this.options.recoverOnStart ?? true) this.beginRecovery();
      else this.recovery.startTimer();
    }
    this.logger.info({ incarnation: this.incarnation, machines: this.registry.ids() }, 'saga runtime open');
    return this;
  }

  /**
   * Starts a saga on the newest version of `machineId`. Idempotent by id for the same machine
   * and input (the existing saga is returned with `created: false`); another machine or input
   * under an existing id is refused (`SAGA_EXISTS`). An acknowledged start always becomes a
   * saga that runs.
   */
  async start(machineId: string, input?: unknown, options: { id?: string } = {}): Promise<StartResult> {
    this.assertOpen();
    const id = options.id ?? randomUUID();
    assertSagaId(id);
    const binding = this.registry.latest(machineId);
    const journaled = startInput(id, input, this.stores.journal.maxEntryBytes);
    return this.loader.exclusive([id], () => this.starter.start(binding, id, journaled));
  }

  /**
   * Forks a finished (or blocked) saga from its entry `from`: a new saga whose journal starts as
   * a copy of the source's entries 1..from, driven from there on this coordinator — steps whose
   * results were copied do not run again, those in flight at `from` start again under the
   * fork's keys. `dryRun` answers what the fork would do and writes nothing. See saga-forker.ts.
   */
  async fork(sourceId: string, options: ForkOptions): Promise<ForkResult> {
    this.assertOpen();
    return this.forker.fork(sourceId, options);
  }

  /**
   * Replays a saga's journal on the machine this coordinator runs now for its machine id and
   * reports the first entry it does not take as recorded (see replay-recorded.ts).
   */
  check(sagaId: string): Promise<SagaCheck> {
    assertSagaId(sagaId);
    return checkSaga(
      {
        ...this.stores,
        registry: this.registry,
        owner: this.owner,
        live: (id) => {
          const inst = this.sagas.get(id);
          return inst && { no: inst.no, status: inst.status };
        },
      },
      sagaId,
    );
  }

  /** Delivers an event to a saga, taking it over first if its owner's lease has lapsed. */
  async send(sagaId: string, event: AnyEventObject, options: SendOptions = {}): Promise<SendResult> {
    this.assertOpen();
    assertSagaId(sagaId);
    const inst = this.sagas.get(sagaId) ?? (await acquireForWork({ index: this.stores.index, loader: this.loader, loaded: (id) => this.sagas.get(id) }, sagaId));
    if (!inst) {
      const info = await this.get(sagaId);
      return { accepted: false, entryNo: info.entryNo, status: info.status, state: info.state };
    }
    return inst.send(event, options);
  }

  /** The saga's current state, from memory when driven here, else folded from its journal. */
  async get(sagaId: string): Promise<SagaInfo> {
    assertSagaId(sagaId);
    const inst = this.sagas.get(sagaId);
    if (inst) return inst.info(this.owner);
    const recent = this.notices.recent(sagaId);
    if (recent) return recent;
    return storedInfo({ index: this.stores.index, loader: this.loader }, sagaId);
  }

  /** `get`, plus the children the saga started (a saga whose machine runs child steps). */
  async show(sagaId: string): Promise<SagaInfo> {
    const info = await this.get(sagaId);
    let binding;
    try {
      binding = this.registry.forReplay(sagaId, info.machine, info.version);
    } catch {
      return info; // a machine (version) this coordinator does not run: no children to tell
    }
    if (childStepsOf(binding.machine).length === 0) return info;
    return { ...info, children: await this.children.childrenOf(sagaId, binding) };
  }

  /**
   * The decoded journal of a saga: what it was started with and every input it consumed; with
   * `fromSeq`, only the entries at or after that journal stream sequence (a follower's next read).
   */
  async events(sagaId: string, options: { fromSeq?: number } = {}): Promise<JournalView[]> {
    assertSagaId(sagaId);
    const entries = await this.stores.journal.read(sagaId, options.fromSeq === undefined ? {} : { fromSeq: options.fromSeq });
    if (entries.length === 0 && (options.fromSeq ?? 1) <= 1 && !(await this.stores.index.get(sagaId))) throw new UnknownSagaError(sagaId);
    return entries.map(journalView);
  }

  /** Sagas from the index (newest status of those driven here), sorted by id and paged; see listing.ts. */
  list(options: ListOptions = {}): Promise<{ sagas: SagaSummary[]; next: string | undefined }> {
    return listSagas(this.stores.index, (id) => this.sagas.get(id), options);
  }

  /** Resolves once the saga's status is in `until` (default: finished, blocked or parked). */
  wait(sagaId: string, options: { until?: readonly SagaStatus[]; timeoutMs?: number; signal?: AbortSignal } = {}): Promise<SagaInfo> {
    const until = new Set(options.until ?? TERMINAL_OR_STUCK);
    return this.notices.wait(sagaId, until, () => this.get(sagaId), {
      timeoutMs: options.timeoutMs,
      signal: options.signal,
      pollMs: 250,
      local: () => this.sagas.has(sagaId),
    });
  }

  /** Calls `listener` after every journaled transition of a saga driven here. */
  subscribe(listener: (notice: TransitionNotice) => void): () => void {
    return this.notices.subscribe(listener);
  }

  /**
   * One recovery pass (see recovery.ts). Concurrent calls share a pass; a call made while a
   * pass runs gets the next one, which sees everything that changed before the call. A pass
   * that outlives `recoveryPassTimeoutMs` is abandoned (this call rejects) and retried.
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
    return this.sagas.ids();
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
    this.copies.invalidate();
    this.recovery.stop();
    this.checkpoints.stop();
    this.gate.close();
    // The lease record written on close must still cover the sagas handed back, so the next
    // coordinator's bulk recovery scans from their first entries.
    void this.sagas.unloadAll();
    if (graceful) await this.keeper.flush();
    this.keeper.stop();
    this.closing.abort(this.closed);
    this.notices.close(this.closed);
    await this.background.settled();
    await this.lease.close(graceful);
    await this.stores.close?.();
    this.logger.info({ graceful }, 'saga runtime closed');
  }

  /**
   * Driven here, or finished here with its final index record still being written: a recovery
   * pass that listed it open must not claim it (it would fold a finished saga again, and bump
   * its epoch under the keeper's feet).
   */
  private drivenOrFinishing(sagaId: string): boolean {
    return this.sagas.has(sagaId) || this.keeper.isFinishing(sagaId);
  }

  /** The sagas driven here that a recovery would have to fold from the journal: those without a stored checkpoint. */
  private *foldedFromJournal(): Iterable<SagaInstance> {
    for (const inst of this.sagas.all()) if (!this.checkpoints.isStored(inst.id)) yield inst;
  }

  /** Test hook: the coordinator lease, to simulate a pause or a partition. */
  get coordinatorLease(): CoordinatorLease {
    return this.lease;
  }

  private onLeaseLost(why: LeaseLoss): void {
    this.copies.invalidate();
    if (why === 'superseded') {
      const err = new SagaError('SUPERSEDED', `another process now runs as coordinator "${this.owner}"`);
      this.sagas.fenceAll();
      void this.close().then(() => this.options.onFatal?.(err));
      return;
    }
    // Our sagas may have been taken over while we were away: drop them all, and once nothing
    // any of them sent is still on the wire, take back those whose records still name us.
    // Re-acquiring earlier would fold a journal that a late append of an old copy may yet
    // extend.
    const settling = [...this.sagas.unloadAll(), ...this.copies.appendsInFlight()];
    this.background.track(Promise.allSettled(settling).then(() => (this.closed ? undefined : this.recover())));
  }

  private assertOpen(): void {
    if (this.closed) throw this.closed;
  }
}
