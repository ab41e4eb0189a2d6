/**
 * Runs a version of an app the way a cluster node would: its image is pulled from the registry
 * by digest (through the name map) and unpacked into the sandbox's own dir, then its `web`
 * process runs there under the sandbox controller, recorded as a sandbox entity.
 *
 * One sandbox per (app, version): its id is `<app>-v<version>`, so a step that runs again, an
 * undo and the restart of sandboxes after a coordinator restart all name the same sandbox and
 * are serialised per id. The unpacked rootfs is reused when complete (a marker written last),
 * and the spec is kept beside it so a restart needs nothing but the disk and the records.
 */
import { chmod, mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import type { EntityStores, ImageRef } from '../entities/index.js';
import { SandboxState } from '../entities/index.js';
import type { SandboxController, SandboxHandle, SandboxSpec } from '../sandbox/index.js';
import { readJsonFile, writeFileAtomic } from './source/atomic-file.js';
import { KeyedLock } from './source/keyed-lock.js';
import { pullImage, type RegistryClient } from './image/index.js';
import { openEnv, SecretsKeyMissingError, type SealedEnv, type SecretKeyRing } from '../secrets/index.js';

/** What a version runs with; everything a restart needs, kept as `spec.json` beside the rootfs. */
export interface VersionRun {
  readonly app: string;
  readonly version: number;
  readonly image: ImageRef;
  /** argv of the web process. */
  readonly web: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Secret env vars, sealed: opened only into the process's environment, never written out plain. */
  readonly secrets?: SealedEnv;
  /** A pinned port, or null: the controller picks a free one. */
  readonly port: number | null;
  /** The HTTP path that must answer before the version counts as running. */
  readonly health: string;
  /** The saga that started it (recorded on the sandbox entity). */
  readonly sagaId: string;
}

/** The running sandbox, as a step output: small JSON. */
export interface RunningVersion {
  readonly id: string;
  readonly port: number;
  readonly pid: number;
  readonly url: string;
}

const ROOTFS = 'rootfs';
const ROOTFS_MARKER = 'rootfs.json';
const SPEC_FILE = 'spec.json';

/** `<app>-v<version>`: the one sandbox of a version on this host. */
export function sandboxIdOf(app: string, version: number): string {
  return `${app}-v${version}`;
}

/** The repository path inside the registry of an `ImageRef.repo` (`cluster.local:5000/apps/x` → `apps/x`). */
export function repositoryPath(repo: string): string {
  const slash = repo.indexOf('/');
  const first = slash < 0 ? '' : repo.slice(0, slash);
  // A first part with a dot or a port is a registry host, as in docker's reference grammar.
  return first.includes('.') || first.includes(':') || first === 'localhost' ? repo.slice(slash + 1) : repo;
}

export interface VersionRunnerOptions {
  readonly root: string;
  readonly controller: SandboxController;
  readonly entities: EntityStores;
  readonly registry: () => RegistryClient;
  readonly logger: Logger;
  /** Opens a version's secrets; without it a version with secrets does not start. */
  readonly secrets?: SecretKeyRing;
}

export class VersionRunner {
  readonly #o: VersionRunnerOptions;
  readonly #lock = new KeyedLock();

  constructor(options: VersionRunnerOptions) {
    this.#o = options;
  }

  /** Where a sandbox's files are. */
  dirOf(id: string): string {
    return join(this.#o.root, id);
  }

  /**
   * Starts the version (pulling its image if its rootfs is not complete on disk) and resolves
   * once it is healthy; a sandbox already running with the same spec is answered as it is.
   * Registry failures surface as the client's REGISTRY_UNAVAILABLE / REGISTRY_REJECTED.
   */
  async start(run: VersionRun, signal?: AbortSignal): Promise<RunningVersion> {
    const id = sandboxIdOf(run.app, run.version);
    return this.#lock.run(id, () => this.#start(id, run, signal));
  }

  async #start(id: string, run: VersionRun, signal?: AbortSignal): Promise<RunningVersion> {
    // Opened first, so a version whose secrets this coordinator cannot read starts nothing.
    const secretEnv = this.#openSecrets(run);
    const dir = this.dirOf(id);
    await mkdir(dir, { recursive: true });
    await writeFileAtomic(join(dir, SPEC_FILE), JSON.stringify(run));
    // It holds the version's env (its secrets sealed): for this host's owner only.
    await chmod(join(dir, SPEC_FILE), 0o600);
    const existing = await this.#o.entities.sandboxes.get(run.app, id);
    if (!existing) await this.#o.entities.sandboxes.create({ id, app: run.app, version: run.version, sagaId: run.sagaId, dir });
    const rootDir = await this.#rootfs(dir, run.image, signal);
    const handle = await this.#o.controller.start(this.#spec(id, rootDir, run, secretEnv), { signal });
    await this.#o.entities.sandboxes.update(run.app, id, { state: SandboxState.Running, port: handle.port, pid: handle.pid });
    return running(handle);
  }

  /** Stops the sandbox and forgets it (record, files). Idempotent; safe for one never started. */
  async stop(app: string, version: number, options: { keepFiles?: boolean } = {}): Promise<boolean> {
    const id = sandboxIdOf(app, version);
    return this.#lock.run(id, async () => {
      await this.#o.controller.stop(id);
      const had = await this.#o.entities.sandboxes.delete(app, id);
      if (!options.keepFiles) await rm(this.dirOf(id), { recursive: true, force: true });
      return had;
    });
  }

  /**
   * Starts again what should be running after a coordinator restart: every recorded sandbox
   * whose spec is on disk. A sandbox whose record went away meanwhile (an undo) is left alone.
   * Returns the ids that could not be started yet (e.g. the registry is down); call again.
   */
  async restartRecorded(signal?: AbortSignal): Promise<{ started: string[]; failed: { id: string; error: string }[] }> {
    const started: string[] = [];
    const failed: { id: string; error: string }[] = [];
    for (const record of await this.#o.entities.sandboxes.list()) {
      if (signal?.aborted) break;
      if (this.#o.controller.status(record.id)?.state === 'running') continue;
      const spec = await readJsonFile(join(this.dirOf(record.id), SPEC_FILE)).catch(() => undefined);
      if (!isVersionRun(spec)) {
        failed.push({ id: record.id, error: 'no spec.json beside the sandbox (its dir is gone)' });
        continue;
      }
      try {
        // Checked under the sandbox's lock: a stop (an undo, stopOld) that got there first wins.
        const restarted = await this.#lock.run(record.id, async () => {
          if (!(await this.#o.entities.sandboxes.get(record.app, record.id))) return false;
          await this.#start(record.id, spec, signal);
          return true;
        });
        if (restarted) started.push(record.id);
      } catch (err) {
        failed.push({ id: record.id, error: (err as Error).message });
      }
    }
    return { started, failed };
  }

  /** The spec a restart would use, if the sandbox's dir still has it. */
  async recordedRun(app: string, version: number): Promise<VersionRun | undefined> {
    const spec = await readJsonFile(join(this.dirOf(sandboxIdOf(app, version)), SPEC_FILE)).catch(() => undefined);
    return isVersionRun(spec) ? spec : undefined;
  }

  #openSecrets(run: VersionRun): Record<string, string> {
    const sealed = run.secrets ?? {};
    const names = Object.keys(sealed);
    if (names.length === 0) return {};
    const ring = this.#o.secrets;
    if (!ring) throw new SecretsKeyMissingError(`secret ${names[0]} of app "${run.app}"`, '(any)', []);
    return openEnv(ring, run.app, sealed);
  }

  /** The sandbox's spec: the only place a version's secrets are plain (the process's env). */
  #spec(id: string, rootDir: string, run: VersionRun, secretEnv: Record<string, string>): SandboxSpec {
    const spec: SandboxSpec = { id, rootDir, workingDir: '/app', command: [...run.web], env: { ...run.env, ...secretEnv }, health: { path: run.health } };
    if (run.port !== null) spec.port = run.port;
    return spec;
  }

  /** The unpacked rootfs of `image` in `dir`: reused when its marker names the same digest. */
  async #rootfs(dir: string, image: ImageRef, signal?: AbortSignal): Promise<string> {
    const rootDir = join(dir, ROOTFS);
    const marker = (await readJsonFile(join(dir, ROOTFS_MARKER)).catch(() => undefined)) as { digest?: string } | undefined;
    if (marker?.digest === image.digest) return rootDir;
    const partial = join(dir, `${ROOTFS}.partial`);
    await rm(partial, { recursive: true, force: true });
    await rm(join(dir, ROOTFS_MARKER), { force: true });
    // Only the app layer: a local sandbox runs the app on this host, whose own system stands in
    // for a base image (a container runtime would apply every layer).
    await pullImage(this.#o.registry(), repositoryPath(image.repo), image.digest, partial, { signal, layers: 'app' });
    await rm(rootDir, { recursive: true, force: true });
    await rename(partial, rootDir);
    await writeFileAtomic(join(dir, ROOTFS_MARKER), JSON.stringify({ digest: image.digest }));
    this.#o.logger.info({ dir, digest: image.digest }, 'image pulled and unpacked');
    return rootDir;
  }
}

function running(h: SandboxHandle): RunningVersion {
  return { id: h.id, port: h.port, pid: h.pid, url: h.url };
}

function isVersionRun(v: unknown): v is VersionRun {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Partial<VersionRun>;
  return typeof r.app === 'string' && typeof r.version === 'number' && Array.isArray(r.web) && typeof r.image?.digest === 'string' && typeof r.health === 'string';
}
