/**
 * Runs a boot graph: one `bootDependencyMachine` actor per dependency, each released
 * (`deps.ready`) once everything it depends on is ready, so independent dependencies come up
 * in parallel and dependent ones in order. Stops in reverse layer order with a timeout per
 * dependency. Readiness is observable (`onChange`, `waitFor`) and is what gates sagas that
 * wait for a dependency (it implements the runtime's `ReadinessSource`).
 */
import { createActor, fromPromise, waitFor as waitForActor, type Actor } from 'xstate';
import { bootDependencyMachine, bootStateOf, BootState } from '../../machines/boot.machine.js';
import { ClosedError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { ReadinessSource } from '../runtime/readiness-gate.js';
import { planBoot, UnknownDependencyError, type BootDependency, type BootHookContext, type BootPlan } from './graph.js';

/** One dependency's readiness as the bus publishes it and `jetsaga boot status` shows it. */
export interface DependencyStatus {
  readonly name: string;
  readonly state: BootState;
  readonly ready: boolean;
  /** Epoch ms of the last change of `state`. */
  readonly since: number;
  readonly lastError: string | null;
  readonly failures: number;
  readonly dependsOn: readonly string[];
  /** Start layer: 0 depends on nothing, k only on layers below k. */
  readonly layer: number;
}

export interface BootGraphOptions {
  readonly logger?: Logger;
  readonly now?: () => number;
  /** How often to repeat "waiting for <dependency>" while it stays unready (default 5 s). */
  readonly waitingLogIntervalMs?: number;
}

type DependencyActor = Actor<typeof bootDependencyMachine>;

const DEFAULT_STOP_TIMEOUT_MS = 10_000;
/**
 * Retries start at 100 ms: one line per retry would flood the log, one line only at the first
 * failure would leave an operator staring at a silent process. Say it at once, then this often.
 */
const DEFAULT_WAITING_LOG_INTERVAL_MS = 5_000;

export class BootGraph implements ReadinessSource {
  readonly plan: BootPlan;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly actors = new Map<string, DependencyActor>();
  private readonly statusByName = new Map<string, DependencyStatus>();
  private readonly started = new Set<string>();
  private readonly everReady = new Set<string>();
  private readonly startErrors = new Map<string, unknown>();
  private readonly listeners = new Set<(status: DependencyStatus) => void>();
  private readonly stopping = new AbortController();
  /** When "waiting for <name>" was last logged, for dependencies not ready since. */
  private readonly waitingLoggedAt = new Map<string, number>();
  private readonly waitingLogIntervalMs: number;
  private bootDone: Promise<void> | undefined;
  private resolveBoot: (() => void) | undefined;
  private rejectBoot: ((e: Error) => void) | undefined;
  private stopped: Promise<void> | undefined;
  private bootStartedAt = 0;

  constructor(deps: readonly BootDependency[], options: BootGraphOptions = {}) {
    this.plan = planBoot(deps);
    this.logger = (options.logger ?? silentLogger).child({ component: 'boot' });
    this.now = options.now ?? Date.now;
    this.waitingLogIntervalMs = options.waitingLogIntervalMs ?? DEFAULT_WAITING_LOG_INTERVAL_MS;
    const at = this.now();
    this.plan.layers.forEach((layer, k) => {
      for (const name of layer) {
        const dependsOn = this.plan.deps.get(name)!.dependsOn ?? [];
        this.statusByName.set(name, { name, state: BootState.Pending, ready: false, since: at, lastError: null, failures: 0, dependsOn, layer: k });
      }
    });
  }

  /** Starts every dependency; resolves once each has been ready (they may be lost again later). */
  start(): Promise<void> {
    if (this.bootDone) return this.bootDone;
    this.bootStartedAt = this.now();
    this.bootDone = new Promise<void>((resolve, reject) => {
      this.resolveBoot = resolve;
      this.rejectBoot = reject;
    });
    // Stopping before boot completes rejects this promise; a caller that stopped on purpose
    // need not also catch it.
    this.bootDone.catch(() => undefined);
    for (const dep of this.plan.deps.values()) this.actors.set(dep.name, this.spawn(dep));
    for (const actor of this.actors.values()) actor.start();
    this.release();
    return this.bootDone;
  }

  /** Stops the dependencies in reverse layer order, each within its stop timeout. Idempotent. */
  stop(): Promise<void> {
    this.stopped ??= this.stopAll();
    return this.stopped;
  }

  isReady(name: string): boolean {
    return this.statusByName.get(name)?.ready ?? false;
  }

  has(name: string): boolean {
    return this.plan.deps.has(name);
  }

  status(name: string): DependencyStatus {
    const s = this.statusByName.get(name);
    if (!s) throw new UnknownDependencyError(name);
    return s;
  }

  /** Every dependency, in start order. */
  statuses(): DependencyStatus[] {
    return this.plan.layers.flat().map((n) => this.statusByName.get(n)!);
  }

  onChange(listener: (status: DependencyStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves when `name` is ready (at once if it is); a lost dependency gates again. */
  waitFor(name: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    if (!this.plan.deps.has(name)) return Promise.reject(new UnknownDependencyError(name));
    if (this.isReady(name)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const signals = [this.stopping.signal, options.signal].filter((s): s is AbortSignal => s !== undefined);
      const done = (): void => {
        off();
        for (const s of signals) s.removeEventListener('abort', onAbort);
      };
      const onAbort = (): void => {
        done();
        reject(options.signal?.aborted ? options.signal.reason : new ClosedError('boot graph'));
      };
      const off = this.onChange((s) => {
        if (s.name === name && s.ready) {
          done();
          resolve();
        }
      });
      for (const s of signals) {
        if (s.aborted) return onAbort();
        s.addEventListener('abort', onAbort, { once: true });
      }
    });
  }

  /**
   * Something outside the periodic check found `name` unusable (a step failed with
   * DEPENDENCY_UNAVAILABLE): mark it lost now so that waiters gate at once.
   */
  reportUnavailable(name: string, error: string): void {
    if (this.stopping.signal.aborted) return; // e.g. the NATS connection closing on shutdown
    this.actors.get(name)?.send({ type: 'health.failed', error });
  }

  private spawn(dep: BootDependency): DependencyActor {
    const ctx = (signal: AbortSignal): BootHookContext => ({
      name: dep.name,
      signal: AbortSignal.any([signal, this.stopping.signal]),
      logger: this.logger.child({ dependency: dep.name }),
    });
    const machine = bootDependencyMachine.provide({
      actors: {
        start: fromPromise<void, { name: string }>(async ({ signal }) => {
          this.started.add(dep.name);
          try {
            await dep.start?.(ctx(signal));
          } catch (e) {
            // A start given up because of shutdown is no failure of the dependency (and must
            // not be logged as one): as for checks, the stop event ends this state.
            if (this.stopping.signal.aborted) return new Promise<void>(() => undefined);
            this.startErrors.set(dep.name, e);
            throw e;
          }
        }),
        check: fromPromise<void, { name: string }>(async ({ signal }) => {
          try {
            await dep.check(ctx(signal));
          } catch (e) {
            // A check cut short by shutdown says nothing about the dependency: the stop event
            // takes the actor out of this state before this promise would settle.
            if (this.stopping.signal.aborted) return new Promise<void>(() => undefined);
            throw e;
          }
        }),
        stop: fromPromise<void, { name: string }>(async () => {
          // Only what was started is stopped: a dependency still pending has nothing to undo.
          if (!this.started.has(dep.name) || !dep.stop) return;
          await this.withTimeout(dep, (signal) => dep.stop!(ctx(signal)));
        }),
      },
    });
    const actor = createActor(machine, { input: { name: dep.name, healthIntervalMs: dep.healthIntervalMs, retry: dep.retry } });
    actor.subscribe({
      next: (snapshot) => this.observe(dep, bootStateOf(snapshot.value), snapshot.context),
      error: (e) => this.logger.error({ dependency: dep.name, err: (e as Error).message }, 'boot dependency actor failed'),
    });
    return actor;
  }

  private observe(dep: BootDependency, state: BootState, context: { failures: number; lastError: string | null }): void {
    const before = this.statusByName.get(dep.name)!;
    if (before.state === state && before.failures === context.failures) return;
    const ready = state === BootState.Ready;
    const status: DependencyStatus = {
      ...before,
      state,
      ready,
      since: before.state === state ? before.since : this.now(),
      lastError: context.lastError,
      failures: context.failures,
    };
    this.statusByName.set(dep.name, status);
    if (before.state !== state) this.log(status, before);
    if (context.failures > before.failures && !this.stopping.signal.aborted) this.logWaiting(status);
    for (const l of this.listeners) {
      try {
        l(status);
      } catch (e) {
        this.logger.warn({ err: (e as Error).message }, 'boot listener threw');
      }
    }
    if (ready && !this.everReady.has(dep.name)) {
      this.everReady.add(dep.name);
      if (this.everReady.size === this.plan.deps.size) {
        this.logger.info({ ms: this.now() - this.bootStartedAt }, 'boot complete');
        this.resolveBoot?.();
      }
    }
    if (ready) this.release();
    if (state === BootState.Failed) {
      const cause = this.startErrors.get(dep.name);
      this.rejectBoot?.(cause instanceof Error ? cause : new Error(`boot dependency "${dep.name}" failed: ${context.lastError}`));
    }
  }

  private log(status: DependencyStatus, before: DependencyStatus): void {
    const attrs = { dependency: status.name, state: status.state, from: before.state, failures: status.failures, lastError: status.lastError ?? undefined };
    if (status.state === BootState.Failed) this.logger.error(attrs, 'boot dependency failed');
    else if (status.state === BootState.Lost) this.logger.warn(attrs, 'boot dependency lost');
    else if (status.state === BootState.Ready) {
      const waited = this.waitingLoggedAt.delete(status.name);
      this.logger.info(waited ? { ...attrs, failedBefore: before.failures } : attrs, 'boot dependency ready');
    } else this.logger.debug(attrs, 'boot dependency state');
  }

  /**
   * A start or check failed: say what boot is waiting for and why — at once (info: a first
   * failure is common while e.g. an embedded server comes up), then at most every
   * `waitingLogIntervalMs` for as long as it lasts (warn: by then it is not a hiccup).
   */
  private logWaiting(status: DependencyStatus): void {
    const now = this.now();
    const last = this.waitingLoggedAt.get(status.name);
    if (last !== undefined && now - last < this.waitingLogIntervalMs) return;
    this.waitingLoggedAt.set(status.name, now);
    const attrs = { dependency: status.name, state: status.state, failures: status.failures, lastError: status.lastError ?? undefined };
    const msg = `waiting for ${status.name}: ${status.lastError ?? status.state}`;
    if (last === undefined) this.logger.info(attrs, msg);
    else this.logger.warn(attrs, msg);
  }

  /** Sends `deps.ready` to every pending dependency whose dependencies are all ready. */
  private release(): void {
    if (this.stopping.signal.aborted) return;
    for (const [name, actor] of this.actors) {
      if (this.statusByName.get(name)!.state !== BootState.Pending) continue;
      const deps = this.plan.deps.get(name)!.dependsOn ?? [];
      if (deps.every((d) => this.isReady(d))) actor.send({ type: 'deps.ready' });
    }
  }

  private async withTimeout(dep: BootDependency, run: (signal: AbortSignal) => Promise<void> | void): Promise<void> {
    const ms = dep.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
    const ac = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
    try {
      const outcome = await Promise.race([Promise.resolve(run(ac.signal)).then(() => 'ok' as const), timeout]);
      if (outcome === 'timeout') {
        ac.abort(new Error(`stop of "${dep.name}" timed out after ${ms} ms`));
        throw new Error(`stop timed out after ${ms} ms`);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private async stopAll(): Promise<void> {
    this.stopping.abort(new ClosedError('boot graph'));
    if (this.everReady.size < this.plan.deps.size) this.rejectBoot?.(new ClosedError('boot graph (stopped before every dependency was ready)'));
    for (const layer of [...this.plan.layers].reverse()) {
      await Promise.all(
        layer.map(async (name) => {
          const actor = this.actors.get(name);
          if (!actor) return;
          actor.send({ type: 'stop' });
          await waitForActor(actor, (s) => s.status === 'done', { timeout: Infinity });
        }),
      );
    }
    this.logger.info('boot graph stopped');
  }
}
