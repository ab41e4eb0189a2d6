/**
 * The build saga (and the rollback saga, which reuses its steps, and the addon saga a build runs
 * as a child) as a coordinator runs it: their
 * bindings (machine + steps), the host the steps act on, and the background work that keeps builds honest — progress relayed from the
 * runtime's transitions, deployment locks renewed and reconciled, and sandboxes of running
 * versions started again after a coordinator restart.
 */
import {
  BUILD_MACHINE_ID,
  BUILD_MACHINE_RESUMES_FROM,
  BUILD_MACHINE_V2_RESUMES_FROM,
  BUILD_MACHINE_V2_VERSION,
  BUILD_MACHINE_VERSION,
  buildMachine,
  buildMachineV2,
} from '../../machines/build.machine.js';
import { ROLLBACK_MACHINE_ID, ROLLBACK_MACHINE_VERSION, rollbackMachine } from '../../machines/rollback.machine.js';
import { POSTGRES_ADDON_MACHINE_ID, POSTGRES_ADDON_MACHINE_VERSION, postgresAddonMachine } from '../../machines/postgres-addon.machine.js';
import { addonSteps } from '../addons/addon-steps.js';
import { ClosedError, UnknownSagaError } from '../errors.js';
import { isTerminalStatus } from '../journal/index-store.js';
import type { Runtime } from '../runtime/runtime.js';
import type { SagaBinding, StepFn } from '../runtime/types.js';
import { BuildHost, type BuildHostOptions } from './build-host.js';
import { buildSteps } from './build-steps.js';
import { LockKeeper } from './lock-keeper.js';
import { relayProgress } from './progress-relay.js';
import { rollbackSteps, type RunSettings } from './rollback-steps.js';

/** How often sandboxes that could not be started again after a restart are retried. */
const RESTART_RETRY_MS = 5_000;
/** How often staging dirs whose removal failed are tried again. */
const CLEANUP_RETRY_MS = 60_000;

export type BuildServiceOptions = Omit<BuildHostOptions, 'isFinished'>;

export class BuildService {
  #host: BuildHost | undefined;
  #runtime: Runtime | undefined;
  #keeper: LockKeeper | undefined;
  #unrelay: (() => void) | undefined;
  #restarts: AbortController | undefined;
  #restarting: Promise<void> | undefined;
  #cleanups: NodeJS.Timeout | undefined;

  /** `wrapStep` wraps each step implementation (tracing, metrics, fault injection). */
  constructor(private readonly wrapStep?: (name: string, step: StepFn) => StepFn) {}

  /** The build saga bound to steps that act on this service's host once it is open. */
  binding(): SagaBinding {
    return {
      id: BUILD_MACHINE_ID,
      version: BUILD_MACHINE_VERSION,
      resumesFrom: BUILD_MACHINE_RESUMES_FROM,
      // The version number, the staged source and the deployment lock are the build's own (held
      // under its saga id): a fork allocates, stages and locks for itself, from the init entry.
      ownedSteps: ['allocate', 'receive', 'lock'],
      machine: buildMachine,
      steps: this.#steps(),
    };
  }

  /** Version 2 of the build saga (no addons), for the builds started on it before 3. */
  legacyBinding(): SagaBinding {
    return { ...this.binding(), version: BUILD_MACHINE_V2_VERSION, resumesFrom: BUILD_MACHINE_V2_RESUMES_FROM, machine: buildMachineV2 };
  }

  /** The rollback saga: the build's lock, start, activate and stopOld steps plus its own. */
  rollbackBinding(): SagaBinding {
    const build = buildSteps(() => this.host);
    const own = rollbackSteps(() => this.host, (id) => this.#buildSettings(id));
    const steps: Record<string, StepFn> = {
      takeDeployLock: build.takeDeployLock,
      releaseDeployLock: build.releaseDeployLock,
      startSandbox: build.startSandbox,
      stopSandbox: build.stopSandbox,
      setActiveVersion: build.setActiveVersion,
      stopOldSandboxes: build.stopOldSandboxes,
      restartOldSandboxes: build.restartOldSandboxes,
      ...own,
    };
    return { id: ROLLBACK_MACHINE_ID, version: ROLLBACK_MACHINE_VERSION, ownedSteps: ['lock'], machine: rollbackMachine, steps: this.#wrap(steps) };
  }

  /**
   * The PostgreSQL addon saga (a build runs it as a child for the `[[addons]]` of app.toml; it
   * also runs on its own). Its claim is its own: a fork claims the addons for itself.
   */
  addonBinding(): SagaBinding {
    return {
      id: POSTGRES_ADDON_MACHINE_ID,
      version: POSTGRES_ADDON_MACHINE_VERSION,
      ownedSteps: ['claim'],
      machine: postgresAddonMachine,
      steps: this.#wrap(addonSteps(() => this.host, { progressTarget: (id) => this.#progressTarget(id) })),
    };
  }

  /** Every saga this service runs. */
  bindings(): SagaBinding[] {
    return [this.binding(), this.legacyBinding(), this.rollbackBinding(), this.addonBinding()];
  }

  #steps(): Record<string, StepFn> {
    return this.#wrap(buildSteps(() => this.host));
  }

  #wrap(steps: Record<string, StepFn>): Record<string, StepFn> {
    const wrap = this.wrapStep;
    if (!wrap) return steps;
    return Object.fromEntries(Object.entries(steps).map(([name, fn]) => [name, wrap(name, fn)]));
  }

  get host(): BuildHost {
    if (!this.#host) throw new ClosedError('build host (not open yet)');
    return this.#host;
  }

  /** Opens the host; call before the runtime opens (the steps need it as soon as recovery runs). */
  async open(options: BuildServiceOptions): Promise<BuildHost> {
    this.#host ??= await BuildHost.open({ ...options, isFinished: (id) => this.#isFinished(id) });
    return this.#host;
  }

  /** Starts the background work against the open runtime. */
  attach(runtime: Runtime): void {
    const host = this.host;
    this.#runtime = runtime;
    this.#unrelay = relayProgress(runtime, host.progress, [BUILD_MACHINE_ID, ROLLBACK_MACHINE_ID, POSTGRES_ADDON_MACHINE_ID], host.logger);
    this.#keeper = new LockKeeper({ entities: host.entities, drivenHere: () => runtime.loadedSagaIds(), logger: host.logger, lockTtlMs: host.lockTtlMs });
    this.#keeper.start();
    this.#restarts = new AbortController();
    this.#restarting = this.#restartSandboxes(this.#restarts.signal);
    const retryCleanups = (): void => {
      void host.staging.retryPendingCleanups().then(
        (r) => r.removed.length && host.logger.info({ builds: r.removed }, 'staging dirs removed on a later try'),
        (err: unknown) => host.logger.warn({ err: (err as Error).message }, 'retrying staging clean-ups failed'),
      );
    };
    retryCleanups();
    this.#cleanups = setInterval(retryCleanups, CLEANUP_RETRY_MS);
  }

  /** Stops the background work, then the sandboxes and the registry client. Idempotent. */
  async close(): Promise<void> {
    this.#unrelay?.();
    this.#restarts?.abort();
    clearInterval(this.#cleanups);
    await this.#keeper?.stop();
    await this.#restarting;
    await this.#host?.close();
  }

  async #isFinished(sagaId: string): Promise<boolean> {
    const runtime = this.#runtime;
    // Before the runtime is open nothing is known to be finished: locks are left alone.
    if (!runtime) return false;
    try {
      return isTerminalStatus((await runtime.get(sagaId)).status);
    } catch (err) {
      if (err instanceof UnknownSagaError) return true;
      throw err;
    }
  }

  /** The saga whose progress stream a saga's lines belong on: its parent's (a build's), if it runs as a child. */
  async #progressTarget(sagaId: string): Promise<string> {
    const runtime = this.#runtime;
    if (!runtime) return sagaId;
    const parent = ((await runtime.get(sagaId)).context as { parent?: { sagaId?: unknown } } | null)?.parent?.sagaId;
    return typeof parent === 'string' ? parent : sagaId;
  }

  /** The port and health a build journaled (its `settings` output): what a rollback to its version runs with. */
  async #buildSettings(buildSagaId: string): Promise<RunSettings | null> {
    const runtime = this.#runtime;
    if (!runtime) return null;
    try {
      const info = await runtime.get(buildSagaId);
      const outputs = (info.context as { outputs?: Record<string, unknown> } | null)?.outputs;
      const settings = outputs?.settings as Partial<RunSettings> | undefined;
      if (typeof settings?.health !== 'string' || !(settings.port === null || typeof settings.port === 'number')) return null;
      return { port: settings.port, health: settings.health };
    } catch (err) {
      if (err instanceof UnknownSagaError) return null;
      throw err;
    }
  }

  async #restartSandboxes(signal: AbortSignal): Promise<void> {
    const host = this.host;
    while (!signal.aborted) {
      try {
        const { started, failed } = await host.runner.restartRecorded(signal);
        if (started.length) host.logger.info({ sandboxes: started }, 'sandboxes of running versions started again');
        if (failed.length === 0) return;
        host.logger.warn({ failed }, 'some sandboxes could not be started again yet; retrying');
      } catch (err) {
        host.logger.warn({ err: (err as Error).message }, 'restarting sandboxes failed; retrying');
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, RESTART_RETRY_MS);
        signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
      });
    }
  }
}
