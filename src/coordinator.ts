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
import type { BuildHost } from './build/build-host.js';
import type { SandboxController } from './sandbox/index.js';
import { startService, type ServiceHandle } from './service/service.js';
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
   * Runs the build-from-tar saga (machine `build`) and the rollback saga (machine `rollback`): sources, staging, entities, progress,
   * the registry client and the local sandboxes are opened at admission. `jetsaga serve` turns
   * it on; `true` takes the defaults.
   */
  readonly builds?: boolean | CoordinatorBuildOptions;
  /**
   * Answers jetsaga's NATS service API (`<namespace>.api.*`, `$SRV.INFO.jetsaga`) once work is
   * admitted, and stops answering before the runtime closes. Off by default.
   */
  readonly service?: boolean;
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

  /** Pids of embedded servers (for operators and the no-orphans test). */
  embeddedPids(): { nats?: number; registry?: number } {
    return { nats: this.resources.embeddedNats?.process.pid, registry: this.resources.embeddedRegistry?.process.pid };
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
      });
    }
    const runtime = new Runtime({
      stores: this.resources.stores!,
      machines: this.buildService ? [...this.options.machines, ...this.buildService.bindings()] : this.options.machines,
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
    // Readiness is published under the coordinator's name only once this process holds that
    // name (its lease, just taken): a second process started under a name in use must not
    // overwrite the live one's report before it is refused. Until now the bus kept every
    // change; it writes them all out on connect.
    await this.bus.connect(this.resources.nc!);
    if (this.options.service) this.serviceRef = await startService(this, { logger: this.logger });
  }
}
