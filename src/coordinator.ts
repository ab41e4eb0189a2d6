/**
 * A coordinator: the boot graph that brings NATS, JetStream, the staging area, name mapping
 * and the registry up in order (embedding servers where none are configured), then admits
 * work (the saga runtime) and only then begins recovery. What `jetsaga serve` runs.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { BootGraph } from './boot/boot-graph.js';
import { coordinatorDependencies, Dep, type CoordinatorResources } from './boot/coordinator-graph.js';
import type { BootDependency } from './boot/graph.js';
import { NameMap } from './boot/name-map.js';
import { ReadinessBus } from './boot/readiness-bus.js';
import type { CoordinatorConfig } from './config.js';
import { ClosedError, SagaError } from './errors.js';
import { silentLogger, type Logger } from './log.js';
import { Runtime } from './runtime/runtime.js';
import type { SagaBinding, StepFn } from './runtime/types.js';
import { BuildService } from './build/build-service.js';
import type { SecretKeyRing } from './secrets/index.js';
import type { BuildHost } from './build/build-host.js';
import type { SandboxController } from './sandbox/index.js';
import { startService, type ServiceHandle } from './service/service.js';
import { JetsagaMetrics } from './metrics/jetsaga-metrics.js';
import { meteredStores } from './metrics/metered-stores.js';
import { journalReplicas } from './metrics/journal-replicas.js';
import { DEFAULT_RETAIN_MS, RetentionSweeper, type RetentionOptions } from './runtime/retention.js';
import { natsNames } from './runtime/nats-stores.js';
import { defaultLeaseTtlMs } from './runtime/lease-defaults.js';

/** Options of the build saga a coordinator runs (see `CoordinatorOptions.builds`). */
export interface CoordinatorBuildOptions {
  /** Services this coordinator offers apps (app.toml `[require] services`). */
  readonly services?: readonly string[];
  /** Deployment lock TTL (default 10 min); renewed while the build runs. */
  readonly lockTtlMs?: number;
  /** Replaces the local sandbox controller. */
  readonly controller?: SandboxController;
  /** Wraps each step implementation (by its name): tracing, metrics, fault injection in tests. */
  readonly wrapStep?: (name: string, step: StepFn) => StepFn;
  /** The secrets key ring, instead of the one the config's key file (or its fallbacks) gives. */
  readonly secrets?: SecretKeyRing;
}

export interface CoordinatorOptions {
  readonly config: CoordinatorConfig;
  readonly machines: readonly SagaBinding[];
  readonly logger?: Logger;
  /** Passed to the runtime. */
  readonly leaseTtlMs?: number;
  readonly recoverIntervalMs?: number;
  readonly checkpointEvery?: number;
  /** Health-check period of NATS and the registry (default 2 s). */
  readonly healthIntervalMs?: number;
  /** Extra dependencies (e.g. a service of your own); they may depend on the built-in ones. */
  readonly dependencies?: readonly BootDependency[];
  /**
   * Runs the build-from-tar saga (machine `build`), the rollback saga (machine `rollback`) and the
   * PostgreSQL addon saga (machine `postgres-addon`, with config `addonPostgres`): sources, staging, entities, progress,
   * the registry client and the local sandboxes are opened at admission. `jetsaga serve` turns
   * it on; `true` takes the defaults.
   */
  readonly builds?: boolean | CoordinatorBuildOptions;
  /**
   * Answers jetsaga's NATS service API (`<namespace>.api.*`, `$SRV.INFO.jetsaga`) once work is
   * admitted, and stops answering before the runtime closes. Off by default.
   */
  readonly service?: boolean;
  /**
   * Retention of finished sagas (see runtime/retention.ts). `retainMs` defaults to the config's
   * (`--retain`, `JETSAGA_RETAIN`), else 7 days; 0 keeps them for ever.
   */
  readonly retention?: Partial<Pick<RetentionOptions, 'retainMs' | 'intervalMs' | 'batchSize' | 'maxPerPass' | 'concurrency' | 'pauseMs' | 'leaseTtlMs'>>;
}

export class Coordinator {
  readonly graph: BootGraph;
  readonly names = new NameMap();
  readonly bus: ReadinessBus;
  readonly config: CoordinatorConfig;
  private readonly logger: Logger;
  private readonly resources: CoordinatorResources = {};
  private runtimeRef: Runtime | undefined;
  private admitting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private readonly buildService: BuildService | undefined;
  private serviceRef: ServiceHandle | undefined;
  private sweeper: RetentionSweeper | undefined;
  /** Figures for operators: `jetsaga serve --metrics <port>` and `$SRV.STATS` (see metrics/). */
  readonly metrics = new JetsagaMetrics();

  constructor(private readonly options: CoordinatorOptions) {
    this.config = options.config;
    if (options.builds) this.buildService = new BuildService(options.builds === true ? undefined : options.builds.wrapStep);
    this.logger = (options.logger ?? silentLogger).child({ coordinator: this.config.owner });
    this.bus = new ReadinessBus({ coordinator: this.config.owner, namespace: this.config.namespace, replicas: this.config.replicas, logger: this.logger });
    const deps = coordinatorDependencies({
      config: this.config,
      resources: this.resources,
      names: this.names,
      logger: this.logger,
      healthIntervalMs: options.healthIntervalMs,
      natsDisconnected: () => this.graph.reportUnavailable(Dep.Nats, 'NATS connection lost'),
      admit: () => (this.admitting = this.admit()),
      checkAdmitted: () => {
        if (!this.runtimeRef) throw new Error('the runtime is not open');
      },
      closeAdmission: async () => {
        // A stop while the runtime is still opening waits for it, so that it is closed too.
        await this.admitting?.catch(() => undefined);
        // No request may reach a closing runtime: the API stops first (its requests in flight finish).
        await this.serviceRef?.stop();
        this.serviceRef = undefined;
        await this.sweeper?.stop();
        await this.runtimeRef?.close();
        await this.buildService?.close();
      },
      beginRecovery: () => this.runtime.beginRecovery(),
    });
    this.graph = new BootGraph([...deps, ...(options.dependencies ?? [])], { logger: this.logger });
    this.graph.onChange((s) => {
      this.bus.publish(s);
      // A write that failed while JetStream was away is retried once it is back.
      if (s.name === Dep.JetStream && s.ready) void this.bus.flush();
    });
  }

  /**
   * Boots; resolves once work is admitted and recovery has begun. Dependencies that admission
   * does not wait for (the registry) may still be coming up: sagas that need them wait, and
   * `jetsaga boot status` shows why. Rejects if a dependency fails for good (e.g. a missing
   * binary).
   */
  async start(): Promise<void> {
    const everything = this.graph.start();
    await Promise.race([this.graph.waitFor(Dep.Recovery), everything]);
  }

  /** Resolves once every dependency has been ready. */
  allReady(): Promise<void> {
    return this.graph.start();
  }

  /** Stops in reverse boot order: runtime first, embedded servers last. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.graph.stop();
    return this.stopping;
  }

  /** The saga runtime, once work is admitted. */
  get runtime(): Runtime {
    if (!this.runtimeRef) throw new SagaError('NOT_ADMITTED', 'the coordinator does not admit work yet (see `jetsaga boot status`)', { status: 503, retryable: true });
    return this.runtimeRef;
  }

  get nats(): NatsConnection {
    if (!this.resources.nc) throw new ClosedError('NATS connection');
    return this.resources.nc;
  }

  get natsUrl(): string | undefined {
    return this.resources.natsUrl;
  }

  /** `http://<registry name>:<port>`; resolve it with `names.lookup`. */
  get registryUrl(): string | undefined {
    return this.resources.registryUrl;
  }

  /** What the build saga acts on (sources, entities, progress, registry, sandboxes), once admitted with `builds`. */
  get builds(): BuildHost {
    if (!this.buildService) throw new SagaError('BUILDS_DISABLED', 'this coordinator does not run builds (CoordinatorOptions.builds)', { status: 400 });
    return this.buildService.host;
  }

  /** The service API of this coordinator while it answers (with `service: true`, once admitted). */
  get service(): ServiceHandle | undefined {
    return this.serviceRef;
  }

  /** The retention sweeper, once work is admitted (`sweep()` runs a pass now). */
  get retention(): RetentionSweeper | undefined {
    return this.sweeper;
  }

  /** Pids of embedded servers (for operators and the no-orphans test). */
  embeddedPids(): { nats?: number; registry?: number } {
    return { nats: this.resources.embeddedNats?.process.pid, registry: this.resources.embeddedRegistry?.process.pid };
  }

  private openRetention(stores: NonNullable<CoordinatorResources['stores']>): RetentionSweeper {
    const builds = this.buildService;
    // Build and rollback sagas write progress under their ids.
    const progressMachines = new Set(builds?.bindings().map((b) => b.id) ?? []);
    const sweeper = new RetentionSweeper({
      retainMs: this.config.retainMs ?? DEFAULT_RETAIN_MS,
      ...this.options.retention,
      index: stores.index,
      journal: stores.journal,
      checkpoints: stores.checkpoints,
      // A key with a dot, in a bucket whose other keys are saga ids: it can clash with none.
      leaseKv: stores.checkpoints,
      holder: this.config.owner,
      logger: this.logger,
      // A build's progress subject is named by its saga id; other sagas have none (a no-op purge).
      purgeExtra: builds ? (record) => (progressMachines.has(record.machine.split('@')[0]!) ? builds.host.progress.purge(record.sagaId) : Promise.resolve()) : undefined,
      onPurged: (record) => this.metrics.sagaPurged(record.machine),
    });
    sweeper.start();
    return sweeper;
  }

  private async admit(): Promise<void> {
    if (this.runtimeRef) return;
    const build = this.options.builds === true ? {} : this.options.builds || undefined;
    if (this.buildService && build) {
      await this.buildService.open({
        nc: this.resources.nc!,
        namespace: this.config.namespace,
        replicas: this.config.replicas,
        dataDir: this.config.dataDir,
        registryUrl: this.resources.registryUrl!,
        names: this.names,
        logger: this.logger,
        services: build.services,
        lockTtlMs: build.lockTtlMs,
        controller: build.controller,
        secretsKeyFile: this.config.secretsKeyFile,
        secrets: build.secrets,
        addonPostgres: this.config.addonPostgres,
      });
    }
    const stores = this.resources.stores!;
    const runtime = new Runtime({
      stores: meteredStores(stores, this.config.owner, this.metrics),
      machines: this.metrics.wrapBindings(this.buildService ? [...this.options.machines, ...this.buildService.bindings()] : this.options.machines),
      onResumed: (_id, machine) => this.metrics.resumed(machine),
      owner: this.config.owner,
      logger: this.logger,
      readiness: this.graph,
      // Recovery is its own boot dependency, after admission.
      deferRecovery: true,
      recoverIntervalMs: this.options.recoverIntervalMs,
      leaseTtlMs: this.options.leaseTtlMs ?? this.config.leaseTtlMs ?? defaultLeaseTtlMs(this.config.replicas),
      checkpointEvery: this.options.checkpointEvery,
      onFatal: (e) => {
        this.logger.fatal({ err: e.message }, 'the runtime closed itself; stopping the coordinator');
        void this.stop();
      },
    });
    await runtime.open();
    this.runtimeRef = runtime;
    this.buildService?.attach(runtime);
    runtime.subscribe(this.metrics.notice);
    const nc = this.resources.nc!;
    this.metrics.attach({
      index: stores.index,
      coordinators: stores.coordinators,
      loaded: () => runtime.loadedSagaIds().length,
      leaseValid: () => runtime.coordinatorLease.valid(),
      journalLastSeq: () => stores.journal.lastSeq(),
      ...(stores.journal.appendLoad ? { appendLoad: () => stores.journal.appendLoad!() } : {}),
      journalReplicas: () => journalReplicas(nc, natsNames(this.config.namespace).eventsStream),
    });
    this.sweeper = this.openRetention(stores);
    // Readiness is published under the coordinator's name only once this process holds that
    // name (its lease, just taken): a second process started under a name in use must not
    // overwrite the live one's report before it is refused. Until now the bus kept every
    // change; it writes them all out on connect.
    await this.bus.connect(this.resources.nc!);
    if (this.options.service) this.serviceRef = await startService(this, { logger: this.logger });
  }
}
