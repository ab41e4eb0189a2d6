/**
 * Everything the build saga's steps act on, opened once per coordinator: the source store,
 * the staging area, the entities (with the deployment locks), the progress stream, the
 * registry client, the local sandboxes and the secrets key ring. The steps reach it through `BuildHost.current()`
 * at call time, so the saga binding can be registered before the coordinator has booted.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { join } from 'node:path';
import type { NameMap } from '../boot/name-map.js';
import { openEntityStores, type EntityStores, type IsFinished } from '../entities/index.js';
import { ClosedError } from '../errors.js';
import type { Logger } from '../log.js';
import { LocalSandboxController, type SandboxController } from '../sandbox/index.js';
import { loadSecretKeys, type SecretKeyRing } from '../secrets/index.js';
import { RegistryClient } from './image/index.js';
import { BuildWorkspace } from './build-workspace.js';
import { ProgressLog } from './progress.js';
import { SourceStore, StagingArea } from './source/index.js';
import { VersionRunner } from './version-runner.js';
import { openAddonProviders, type AddonProviders } from '../addons/addon-providers.js';

export interface BuildHostOptions {
  readonly nc: NatsConnection;
  readonly namespace: string;
  /** Replicas of the source bucket, the entities bucket and the progress stream (default 1). */
  readonly replicas?: number;
  /** Staging, images and sandboxes live under it. */
  readonly dataDir: string;
  /** `http://<registry name>:<port>`, resolved through `names`. */
  readonly registryUrl: string;
  readonly names?: NameMap;
  readonly logger: Logger;
  /** Whether a saga is finished or unknown: its deployment locks may be taken over. */
  readonly isFinished: IsFinished;
  /** The services this coordinator offers apps (app.toml `[require] services`). */
  readonly services?: readonly string[];
  /** Deployment lock TTL (default 10 min); renewed while its build runs. */
  readonly lockTtlMs?: number;
  /** Replaces the local sandbox controller (e.g. a container runtime). */
  readonly controller?: SandboxController;
  /** The secrets key file (config `secretsKeyFile`); see src/secrets/key-source.ts for the fallbacks. */
  readonly secretsKeyFile?: string;
  /** A key ring to use instead of loading one. */
  readonly secrets?: SecretKeyRing;
  /** The PostgreSQL server addons are made on (an admin URL; config `addonPostgres`); absent: none. */
  readonly addonPostgres?: string;
}

export class BuildHost {
  readonly sources: SourceStore;
  readonly staging: StagingArea;
  /** A build's files on this host (staged source, onbuild record, image), under `staging`. */
  readonly workspace: BuildWorkspace;
  readonly entities: EntityStores;
  readonly progress: ProgressLog;
  readonly registry: RegistryClient;
  readonly controller: SandboxController;
  readonly runner: VersionRunner;
  /** Seals secrets on receipt and opens them for a sandbox's process. */
  readonly secrets: SecretKeyRing;
  /** The addon providers this coordinator offers apps (app.toml `[[addons]]`). */
  readonly addons: AddonProviders;
  readonly services: readonly string[];
  readonly logger: Logger;
  readonly lockTtlMs: number | undefined;
  #closed = false;

  private constructor(parts: {
    sources: SourceStore;
    staging: StagingArea;
    entities: EntityStores;
    progress: ProgressLog;
    registry: RegistryClient;
    controller: SandboxController;
    runner: VersionRunner;
    secrets: SecretKeyRing;
    addons: AddonProviders;
    options: BuildHostOptions;
  }) {
    this.sources = parts.sources;
    this.staging = parts.staging;
    this.workspace = new BuildWorkspace(parts.staging, parts.sources);
    this.entities = parts.entities;
    this.progress = parts.progress;
    this.registry = parts.registry;
    this.controller = parts.controller;
    this.runner = parts.runner;
    this.secrets = parts.secrets;
    this.addons = parts.addons;
    this.services = parts.options.services ?? [];
    this.logger = parts.options.logger;
    this.lockTtlMs = parts.options.lockTtlMs;
  }

  /** Opens (creating where missing) the bucket, streams and dirs a build uses. */
  static async open(options: BuildHostOptions): Promise<BuildHost> {
    const { nc, namespace, logger, replicas } = options;
    // First: a key file that cannot be read stops the coordinator before anything is opened.
    const secrets = options.secrets ?? (await loadSecretKeys({ keyFile: options.secretsKeyFile, dataDir: options.dataDir, logger })).ring;
    const addons = openAddonProviders({ namespace, postgresUrl: options.addonPostgres });
    if (addons.postgres) logger.info({ addonPostgres: addons.postgres.server.redacted }, 'PostgreSQL addons are made on this server');
    const sources = await SourceStore.open(nc, { namespace, replicas });
    const entities = await openEntityStores(nc, namespace, { isFinished: options.isFinished, lockTtlMs: options.lockTtlMs, logger, replicas });
    const progress = await ProgressLog.open(nc, { namespace, logger, replicas });
    const staging = new StagingArea(join(options.dataDir, 'staging'), logger.child({ part: 'staging' }));
    const registry = new RegistryClient({ url: options.registryUrl, nameMap: options.names, logger: logger.child({ part: 'registry' }) });
    const controller =
      options.controller ?? new LocalSandboxController({ logger: logger.child({ part: 'sandboxes' }), logDir: join(options.dataDir, 'sandbox-logs') });
    const runner = new VersionRunner({ root: join(options.dataDir, 'sandboxes'), controller, entities, registry: () => registry, logger, secrets });
    return new BuildHost({ sources, staging, entities, progress, registry, controller, runner, secrets, addons, options });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Throws CLOSED once the host is closed: a step of a stopping coordinator acts on nothing. */
  assertOpen(): void {
    if (this.#closed) throw new ClosedError('build host');
  }

  /** Stops the sandboxes this process runs and closes the registry client. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.controller.close();
    await this.registry.close();
  }
}
