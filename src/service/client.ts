/**
 * A typed client of jetsaga's service API. Errors come back as `SagaError`s with the code the
 * coordinator answered with (branch on `code`); nobody answering is `NO_COORDINATOR` (503,
 * retryable). `deploy` uploads the source itself (the object store is shared) and then starts
 * the build; `followBuild` reads the build's progress stream directly.
 */
import type { NatsConnection, Msg } from '@nats-io/transport-node';
import { NoRespondersError, RequestError, TimeoutError } from '@nats-io/transport-node';
import { ServiceError, ServiceErrorCodeHeader, ServiceErrorHeader } from '@nats-io/services';
import type { z } from 'zod';
import { newBuildId } from '../build/deploy.js';
import { ProgressLog, type ProgressRecord } from '../build/progress.js';
import { packDirectory, SourceStore, type PutSourceResult, type SourceData } from '../build/source/index.js';
import { deserializeError, ErrorCode, SagaError } from '../errors.js';
import { badRequest, ServiceErrorCode } from './errors.js';
import type { ReplyOf } from './handlers.js';
import * as S from './schemas.js';
import * as SF from './schemas-fork.js';
import { apiPrefix, Endpoint, endpointSubject, ERROR_CODE_HEADER, MAX_REQUEST_BYTES } from './subjects.js';

export interface JetsagaClientOptions {
  /** The coordinators' namespace (default `jetsaga`). */
  readonly namespace?: string;
  /** The API subject prefix; default `<namespace>.api`. */
  readonly prefix?: string;
  /** Per request (default 35 s: longer than the coordinator's own 30 s handler timeout). */
  readonly timeoutMs?: number;
}

export interface ClientDeployRequest {
  readonly app: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly id?: string;
  readonly waitForLock?: boolean;
  readonly compression?: 'gzip' | 'none';
  readonly signal?: AbortSignal;
}

const REPLIES = {
  'sagas.list': S.SagasListReply,
  'sagas.get': S.SagaInfoReply,
  'sagas.events': S.SagaEventsReply,
  'sagas.cancel': S.SagaCancelReply,
  'sagas.fork': SF.SagasForkReply,
  'sagas.check': SF.SagasCheckReply,
  'builds.start': S.BuildsStartReply,
  'builds.get': S.BuildsGetReply,
  'builds.progress': S.BuildsProgressReply,
  'apps.list': S.AppsListReply,
  'apps.get': S.AppsGetReply,
  'versions.list': S.VersionsListReply,
  'boot.status': S.BootStatusReply,
} satisfies Record<Endpoint, z.ZodType>;

export class JetsagaClient {
  readonly namespace: string;
  readonly prefix: string;
  readonly timeoutMs: number;
  #sources: Promise<SourceStore> | undefined;
  #progress: Promise<ProgressLog> | undefined;

  private constructor(
    readonly nc: NatsConnection,
    options: JetsagaClientOptions,
  ) {
    this.namespace = options.namespace ?? 'jetsaga';
    this.prefix = options.prefix ?? apiPrefix(this.namespace);
    this.timeoutMs = options.timeoutMs ?? 35_000;
  }

  /** A client over an open connection; nothing is sent until the first call. */
  static connect(nc: NatsConnection, options: JetsagaClientOptions = {}): JetsagaClient {
    return new JetsagaClient(nc, options);
  }

  listSagas(request: S.RequestOf<'sagas.list'> = {}): Promise<ReplyOf<'sagas.list'>> {
    return this.call(Endpoint.SagasList, request);
  }
  getSaga(id: string): Promise<ReplyOf<'sagas.get'>> {
    return this.call(Endpoint.SagasGet, { id });
  }
  sagaEvents(id: string): Promise<ReplyOf<'sagas.events'>> {
    return this.call(Endpoint.SagasEvents, { id });
  }
  /** Sends `saga.cancel`: the saga stops going forward and undoes what it did. */
  cancelSaga(id: string): Promise<ReplyOf<'sagas.cancel'>> {
    return this.call(Endpoint.SagasCancel, { id });
  }
  /**
   * Forks a finished (or blocked) saga from its entry `from` (see `runtime.fork`); with
   * `dryRun`, answers what the fork would do and writes nothing.
   */
  forkSaga(id: string, options: { from: number; newId?: string; dryRun?: boolean }): Promise<ReplyOf<'sagas.fork'>> {
    return this.call(Endpoint.SagasFork, { id, ...options });
  }
  /** Replays the saga on the machine the coordinator runs now; the first entry it takes otherwise. */
  checkSaga(id: string): Promise<ReplyOf<'sagas.check'>> {
    return this.call(Endpoint.SagasCheck, { id });
  }
  /** Starts a build of a source already in the object store (see `deploy`). */
  startBuild(request: S.RequestOf<'builds.start'>): Promise<ReplyOf<'builds.start'>> {
    return this.call(Endpoint.BuildsStart, request);
  }
  getBuild(id: string): Promise<ReplyOf<'builds.get'>> {
    return this.call(Endpoint.BuildsGet, { id });
  }
  /** One page of the build's stored progress; pass `next` as `afterSeq` for the next. */
  buildProgress(id: string, options: { afterSeq?: number; limit?: number } = {}): Promise<ReplyOf<'builds.progress'>> {
    return this.call(Endpoint.BuildsProgress, { id, ...options });
  }
  listApps(): Promise<ReplyOf<'apps.list'>> {
    return this.call(Endpoint.AppsList, {});
  }
  getApp(app: string): Promise<ReplyOf<'apps.get'>> {
    return this.call(Endpoint.AppsGet, { app });
  }
  listVersions(app: string): Promise<ReplyOf<'versions.list'>> {
    return this.call(Endpoint.VersionsList, { app });
  }
  bootStatus(request: S.RequestOf<'boot.status'> = {}): Promise<ReplyOf<'boot.status'>> {
    return this.call(Endpoint.BootStatus, request);
  }

  /**
   * Packs `source` (a directory, honouring .jetsagaignore) or takes it as a tar, uploads it to
   * the namespace's source store and starts its build. Repeating with the same `id` uploads
   * again but starts nothing new.
   */
  async deploy(source: string | SourceData, request: ClientDeployRequest): Promise<{ id: string; created: boolean; source: PutSourceResult }> {
    const id = request.id ?? newBuildId(request.app);
    const data = typeof source === 'string' ? packDirectory(source, { signal: request.signal, gzipLevel: 1 }) : source;
    this.#sources ??= SourceStore.open(this.nc, { namespace: this.namespace });
    const sources = await this.#sources.catch((e: unknown) => {
      this.#sources = undefined;
      throw e;
    });
    const put = await sources.put(id, data, { app: request.app });
    const started = await this.startBuild({
      app: request.app,
      source: { name: id, digest: put.digest },
      id,
      ...(request.env ? { env: { ...request.env } } : {}),
      ...(request.waitForLock ? { waitForLock: true } : {}),
      ...(request.compression ? { compression: request.compression } : {}),
    });
    return { id: started.id, created: started.created, source: put };
  }

  /** The build's progress from the start, live until its `result` record (read from the stream directly). */
  async *followBuild(id: string, options: { afterSeq?: number; signal?: AbortSignal } = {}): AsyncGenerator<ProgressRecord> {
    this.#progress ??= ProgressLog.open(this.nc, { namespace: this.namespace });
    const progress = await this.#progress.catch((e: unknown) => {
      this.#progress = undefined;
      throw e;
    });
    yield* progress.read(id, { follow: true, afterSeq: options.afterSeq, signal: options.signal });
  }

  /** Sends a raw request and decodes the reply (exposed for tools that build their own bodies). */
  async call<E extends Endpoint>(endpoint: E, request: unknown): Promise<ReplyOf<E>> {
    const body = JSON.stringify(request);
    const bytes = Buffer.byteLength(body);
    const max = Math.min(MAX_REQUEST_BYTES, this.nc.info?.max_payload ?? MAX_REQUEST_BYTES);
    if (bytes > max) throw badRequest(`request body is ${bytes} bytes; at most ${max} are taken`, { bytes, maxBytes: max });
    const subject = endpointSubject(endpoint, this.prefix);
    let reply: Msg;
    try {
      reply = await this.nc.request(subject, body, { timeout: this.timeoutMs });
    } catch (e) {
      throw this.#requestFailure(e, subject);
    }
    return decodeReply(endpoint, reply) as ReplyOf<E>;
  }

  #requestFailure(e: unknown, subject: string): SagaError {
    const noResponders = e instanceof NoRespondersError || (e instanceof RequestError && e.isNoResponders());
    if (noResponders) {
      return new SagaError(
        ServiceErrorCode.NoCoordinator,
        `no jetsaga coordinator answers ${subject} (namespace "${this.namespace}"): is one running with the service API on, on this NATS?`,
        { status: 503, retryable: true, cause: e, details: { subject, namespace: this.namespace } },
      );
    }
    if (e instanceof TimeoutError) {
      return new SagaError(ErrorCode.Timeout, `no reply on ${subject} within ${this.timeoutMs} ms`, { status: 504, retryable: true, cause: e, details: { subject } });
    }
    return new SagaError(ErrorCode.Internal, `request on ${subject} failed: ${(e as Error).message}`, { status: 503, retryable: true, cause: e });
  }
}

/** A reply as data, or the SagaError it carries. */
export function decodeReply(endpoint: Endpoint, reply: Msg): unknown {
  const code = reply.headers?.get(ERROR_CODE_HEADER);
  if (code || ServiceError.isServiceError(reply)) throw errorOf(reply);
  let value: unknown;
  try {
    value = reply.json();
  } catch (e) {
    throw new SagaError(ErrorCode.Internal, `${endpoint} answered with a body that is not JSON: ${(e as Error).message}`, { status: 502 });
  }
  const checked = REPLIES[endpoint].safeParse(value);
  if (!checked.success) throw new SagaError(ErrorCode.Internal, `${endpoint} answered with an unexpected reply: ${checked.error.message}`, { status: 502 });
  return checked.data;
}

function errorOf(reply: Msg): SagaError {
  try {
    const parsed = S.ErrorReply.safeParse(reply.json());
    if (parsed.success) {
      const { code, message, status, retryable, details } = parsed.data.error;
      return deserializeError({ name: 'SagaError', code, message, status, retryable, ...(details ? { details } : {}) });
    }
  } catch {
    // not JSON: the headers alone say what happened
  }
  const status = Number(reply.headers?.get(ServiceErrorCodeHeader)) || 500;
  return new SagaError(reply.headers?.get(ERROR_CODE_HEADER) || ErrorCode.Internal, reply.headers?.get(ServiceErrorHeader) || 'service error', {
    status,
    retryable: status >= 500,
  });
}
