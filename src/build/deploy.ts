/**
 * Deploying from a program: the app's source (a directory, packed with its .jetsagaignore, or a
 * tar you already have) goes into the source store, then a build saga is started on it. The
 * saga's id is the build's id: wait for it with `runtime.wait`, follow its progress to the end
 * with `followBuild` (follow-build.ts).
 */
import { randomBytes } from 'node:crypto';
import { BUILD_MACHINE_ID, type BuildInput } from '../../machines/build.machine.js';
import { InvalidArgumentError } from '../errors.js';
import { assertAppName } from '../entities/names.js';
import { sealDeploySecrets, type SecretSealing } from './deploy-secrets.js';
import { packDirectory, type PutSourceResult, type SourceData, type SourceStore } from './source/index.js';

export interface DeployRequest {
  readonly app: string;
  /** The app's directory: packed (honouring .jetsagaignore) and uploaded. */
  readonly dir?: string;
  /** Or a tar (plain or gzipped) of the app's source. */
  readonly tar?: SourceData;
  /** Env of the new version, on top of app.toml's `[env]`. */
  readonly env?: Readonly<Record<string, string>>;
  /** Secret env of the new version (plain here): sealed before the build is journaled, opened only for its process. */
  readonly secretEnv?: Readonly<Record<string, string>>;
  /** The build's (saga's) id; default `<app>-<time>-<random>`. Repeating a deploy under the same id starts nothing new. */
  readonly id?: string;
  readonly compression?: BuildInput['compression'];
  /** Wait while another deploy of the app holds its lock instead of being refused. */
  readonly waitForLock?: boolean;
  readonly signal?: AbortSignal;
}

export interface DeployStarted {
  /** The build's id: the saga id, and the progress stream's subject token. */
  readonly id: string;
  /** False when a build of this id already existed (a repeated request). */
  readonly created: boolean;
  readonly source: PutSourceResult;
}

/** A build id for `app`: sortable by time, unique by its random tail. */
export function newBuildId(app: string): string {
  return `${app}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** Uploads the source and starts the build saga; resolves once the build is journaled. */
export async function deploy(target: SecretSealing & { readonly sources: SourceStore }, request: DeployRequest): Promise<DeployStarted> {
  assertAppName(request.app);
  if ((request.dir === undefined) === (request.tar === undefined)) {
    throw new InvalidArgumentError('deploy needs exactly one of `dir` (the app directory) or `tar` (its source archive)');
  }
  const id = request.id ?? newBuildId(request.app);
  // Sealed first: a coordinator that cannot seal them uploads nothing.
  const secretEnv = await sealDeploySecrets(target, request.app, request.id, request.secretEnv);
  // gzip level 1: the tar crosses loopback or a LAN once; level 6 would cost seconds per 100 MB for ~2 % fewer bytes.
  const data = request.dir !== undefined ? packDirectory(request.dir, { signal: request.signal, gzipLevel: 1 }) : request.tar!;
  const source = await target.sources.put(id, data, { app: request.app });
  const input: BuildInput = {
    app: request.app,
    source: { name: id, digest: source.digest },
    ...(request.env ? { env: { ...request.env } } : {}),
    ...(secretEnv ? { secretEnv } : {}),
    ...(request.compression ? { compression: request.compression } : {}),
    ...(request.waitForLock ? { waitForLock: true } : {}),
  };
  const started = await target.runtime.start(BUILD_MACHINE_ID, input, { id });
  return { id, created: started.created, source };
}
