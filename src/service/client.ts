/**
 * A typed client of jetsaga's service API. Errors come back as `SagaError`s with the code the
 * coordinator answered with (branch on `code`); nobody answering is `NO_COORDINATOR` (503,
 * retryable). `deploy` uploads the source itself (the object store is shared) and then starts
 * the build; `followBuild` and `followSagaEvents` stream through the follow endpoints and
 * survive a coordinator restart (follow-client.ts).
 */
import type { NatsConnection, Msg } from '@nats-io/transport-node';
import { NoRespondersError, RequestError, TimeoutError } from '@nats-io/transport-node';
import { ServiceError, ServiceErrorCodeHeader, ServiceErrorHeader } from '@nats-io/services';
import type { z } from 'zod';
import { newBuildId } from '../build/deploy.js';
import type { ProgressRecord } from '../build/progress.js';
import { packDirectory, SourceStore, type PutSourceResult, type SourceData } from '../build/source/index.js';
import { deserializeError, ErrorCode, SagaError } from '../errors.js';
import { connectNats, type ConnectNatsOptions } from '../nats/connect.js';
import type { JournalView } from '../runtime/journal-view.js';
import { badRequest, ServiceErrorCode } from './errors.js';
import { follow, type FollowOptions } from './follow-client.js';
import type { ReplyOf } from './handlers.js';
import * as F from './schemas-follow.js';
import * as S from './schemas.js';
import { VersionsRollbackReply } from './schemas-rollback.js';
import { AddonsGetReply, AddonsListReply } from './schemas-addons.js';
import { SagaOperatorReply } from './schemas-blocked.js';
import * as SF from './schemas-fork.js';
import * as SM from './schemas-machines.js';
import { apiPrefix, Endpoint, endpointSubject, ERROR_CODE_HEADER, MAX_REQUEST_BYTES } from './subjects.js';
import { retryTransient, type TransientRetryOptions } from './transient-retry.js';

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
  /**
   * Secret env vars, plain: sent in the request (a NATS request, never stored), sealed by the
   * coordinator before it journals the build, opened only for the new version's process.
   */
  readonly secretEnv?: Readonly<Record<string, string>>;
  readonly id?: string;
  readonly waitForLock?: boolean;
  readonly compression?: 'gzip' | 'none';
  readonly signal?: AbortSignal;
  /**
   * How a NATS outage (a leader election on a cluster) is ridden out: the upload of a directory
   * and the start are repeated under the same build id, for `forMs` in all (default 60 s; 0: not
   * at all) or `until` a deadline. A tar given as a stream is read once, so its upload is not
   * repeated.
   */
  readonly retry?: Omit<TransientRetryOptions, 'signal'>;
}

/** A follow request is answered at once (the stream comes after): a coordinator this slow is taken for gone. */
const FOLLOW_REQUEST_TIMEOUT_MS = 5_000;

function heartbeat(options: FollowOptions): { heartbeatMs?: number } {
  return options.heartbeatMs === undefined ? {} : { heartbeatMs: options.heartbeatMs };
}

const REPLIES = {
  'sagas.list': S.SagasListReply,
  'sagas.get': S.SagaInfoReply,
  'sagas.events': S.SagaEventsReply,
  'sagas.cancel': S.SagaCancelReply,
  'sagas.retry': SagaOperatorReply,
  'sagas.skip': SagaOperatorReply,
  'sagas.abandon': SagaOperatorReply,
  'sagas.follow': F.FollowReply,
  'sagas.fork': SF.SagasForkReply,
  'sagas.check': SF.SagasCheckReply,
  'sagas.replay': SM.SagasReplayReply,
  'machines.list': SM.MachinesListReply,
  'machines.graph': SM.MachinesGraphReply,
  'builds.start': S.BuildsStartReply,
  'builds.get': S.BuildsGetReply,
  'builds.progress': S.BuildsProgressReply,
  'builds.follow': F.FollowReply,
  'apps.list': S.AppsListReply,
  'apps.get': S.AppsGetReply,
  'versions.list': S.VersionsListReply,
  'versions.rollback': VersionsRollbackReply,
  'addons.list': AddonsListReply,
  'addons.get': AddonsGetReply,
  'boot.status': S.BootStatusReply,
} satisfies Record<Endpoint, z.ZodType>;

export class JetsagaClient {
  readonly namespace: string;
  readonly prefix: string;
  readonly timeoutMs: number;
  #sources: Promise<SourceStore> | undefined;
  /** Made by `open`, so closed by `close`. */
  #ownsConnection = false;

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

  /**
   * Connects (as `connectNats` does: `servers`, `auth` from `loadNatsAuth` for credentials and
   * TLS, …) and returns a client over that connection; `close()` closes it.
   */
  static async open(connect: ConnectNatsOptions, options: JetsagaClientOptions = {}): Promise<JetsagaClient> {
    const nc = await connectNats({ name: 'jetsaga-client', ...connect });
    const client = new JetsagaClient(nc, options);
    client.#ownsConnection = true;
    return client;
  }

  /** Closes the connection if `open` made it; one given to `connect` stays the caller's. */
  async close(): Promise<void> {
    if (this.#ownsConnection) await this.nc.close();
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
  /** Blocked sagas only (else NOT_BLOCKED, 409): runs the failed undo again, its attempts starting over. */
  retrySaga(id: string): Promise<ReplyOf<'sagas.retry'>> {
    return this.call(Endpoint.SagasRetry, { id });
  }
  /** Blocked sagas only (else NOT_BLOCKED): gives the failed undo up (fixed by hand) and undoes the rest. */
  skipSaga(id: string): Promise<ReplyOf<'sagas.skip'>> {
    return this.call(Endpoint.SagasSkip, { id });
  }
  /** Blocked sagas only (else NOT_BLOCKED): undoes nothing more; ends `cancelled`, state `abandoned`. */
  abandonSaga(id: string): Promise<ReplyOf<'sagas.abandon'>> {
    return this.call(Endpoint.SagasAbandon, { id });
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
  /**
   * The saga's journal replayed on the coordinator's own definition of its machine (custom
   * machines too), entry by entry with no side effects: steps from `from` to `to`, the context
   * after the last one, and `next` when the reply stopped early (pass it as `from`).
   */
  replaySaga(id: string, options: { from?: number; to?: number; limit?: number } = {}): Promise<ReplyOf<'sagas.replay'>> {
    return this.call(Endpoint.SagasReplay, { id, ...options });
  }
  /** The machines the answering coordinator runs (newest version of each). */
  listMachines(): Promise<ReplyOf<'machines.list'>> {
    return this.call(Endpoint.MachinesList, {});
  }
  /** A machine's chart as data (`machineGraph`): the newest version, or the one that replays `version`. */
  machineGraph(id: string, version?: number): Promise<ReplyOf<'machines.graph'>> {
    return this.call(Endpoint.MachinesGraph, version === undefined ? { id } : { id, version });
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
  /**
   * Starts the rollback of `app` to version `to` (an earlier version becomes the active one again);
   * follow it like a build (`followBuild`, `getBuild`). UNKNOWN_APP / UNKNOWN_VERSION up front;
   * a refusal under the lock (ALREADY_ACTIVE, VERSION_NOT_RUNNABLE, DEPLOY_LOCKED) is the saga's error.
   */
  rollback(app: string, to: number, options: { id?: string; waitForLock?: boolean } = {}): Promise<ReplyOf<'versions.rollback'>> {
    return this.call(Endpoint.VersionsRollback, { app, to, ...(options.id ? { id: options.id } : {}), ...(options.waitForLock ? { waitForLock: true } : {}) });
  }
  /** The app's addons (their URLs with the password `[redacted]`); none: an empty list. */
  listAddons(app: string): Promise<ReplyOf<'addons.list'>> {
    return this.call(Endpoint.AddonsList, { app });
  }
  /** One addon of the app; UNKNOWN_ADDON when it has none of that name. */
  getAddon(app: string, name: string): Promise<ReplyOf<'addons.get'>> {
    return this.call(Endpoint.AddonsGet, { app, name });
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
    const until = request.retry?.until ?? Date.now() + (request.retry?.forMs ?? 60_000);
    const retry: TransientRetryOptions = { outage: { seen: false }, ...request.retry, until, signal: request.signal };
    const sources = await retryTransient(() => {
      this.#sources ??= SourceStore.open(this.nc, { namespace: this.namespace });
      return this.#sources.catch((e: unknown) => {
        this.#sources = undefined;
        throw e;
      });
    }, retry);
    // Packed only now, read at once by put: a pack error (not a directory, an unreadable file)
    // must find its reader listening, never be an unhandled stream error.
    const upload = (): Promise<PutSourceResult> =>
      sources.put(id, typeof source === 'string' ? packDirectory(source, { signal: request.signal, gzipLevel: 1 }) : source, { app: request.app });
    const put = await retryTransient(upload, typeof source === 'string' ? retry : { ...retry, until: 0 });
    const started = await retryTransient(() => this.startBuild({
      app: request.app,
      source: { name: id, digest: put.digest },
      id,
      ...(request.env ? { env: { ...request.env } } : {}),
      ...(request.secretEnv ? { secretEnv: { ...request.secretEnv } } : {}),
      ...(request.waitForLock ? { waitForLock: true } : {}),
      ...(request.compression ? { compression: request.compression } : {}),
    }), retry);
    return { id: started.id, created: started.created, source: put };
  }

  /**
   * The build's progress from the start (or after `afterSeq`), live until its `result` record
   * (`builds.follow`). Survives a coordinator restart: it follows again from the last record
   * it yielded, yielding none twice, and keeps trying while no coordinator answers (see
   * `onStatus`) until `signal` aborts. The first request's errors (UNKNOWN_SAGA, UNKNOWN_BUILD,
   * STREAM_LIMIT …) are thrown, except that nobody answering is waited out.
   */
  followBuild(id: string, options: FollowOptions & { afterSeq?: number } = {}): AsyncGenerator<ProgressRecord> {
    let after = options.afterSeq;
    return follow<ProgressRecord>(
      this.nc,
      {
        call: (body) => this.call(Endpoint.BuildsFollow, body, { timeoutMs: FOLLOW_REQUEST_TIMEOUT_MS }),
        request: (inbox) => ({ id, inbox, ...(after === undefined ? {} : { afterSeq: after }), ...heartbeat(options) }),
        accept: (item) => {
          const p = item as ProgressRecord;
          if (typeof p?.seq !== 'number' || (after !== undefined && p.seq <= after)) return undefined;
          after = p.seq;
          return p;
        },
        isLast: (p) => p.kind === 'result',
      },
      options,
    );
  }

  /**
   * The saga's journal entries from the start (or after entry `afterEntry`) as they are
   * journaled, until the saga is completed, compensated or cancelled (`sagas.follow`); resumes
   * like `followBuild`.
   */
  followSagaEvents(id: string, options: FollowOptions & { afterEntry?: number } = {}): AsyncGenerator<JournalView> {
    let afterEntry = options.afterEntry;
    // Void entries (number 0) precede the init: the stream sequence tells them apart.
    let lastStreamSeq = 0;
    return follow<JournalView>(
      this.nc,
      {
        call: (body) => this.call(Endpoint.SagasFollow, body, { timeoutMs: FOLLOW_REQUEST_TIMEOUT_MS }),
        request: (inbox) => ({ id, inbox, ...(afterEntry === undefined ? {} : { afterEntry }), ...heartbeat(options) }),
        accept: (item) => {
          const e = item as JournalView;
          if (typeof e?.entryNo !== 'number' || typeof e.streamSeq !== 'number' || e.streamSeq <= lastStreamSeq) return undefined;
          if (afterEntry !== undefined && e.entryNo <= afterEntry) return undefined;
          lastStreamSeq = e.streamSeq;
          if (e.entryNo > 0) afterEntry = e.entryNo;
          return e;
        },
      },
      options,
    );
  }

  /** Sends a raw request and decodes the reply (exposed for tools that build their own bodies). */
  async call<E extends Endpoint>(endpoint: E, request: unknown, options: { timeoutMs?: number } = {}): Promise<ReplyOf<E>> {
    const body = JSON.stringify(request);
    const bytes = Buffer.byteLength(body);
    const max = Math.min(MAX_REQUEST_BYTES, this.nc.info?.max_payload ?? MAX_REQUEST_BYTES);
    if (bytes > max) throw badRequest(`request body is ${bytes} bytes; at most ${max} are taken`, { bytes, maxBytes: max });
    const subject = endpointSubject(endpoint, this.prefix);
    let reply: Msg;
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    try {
      reply = await this.nc.request(subject, body, { timeout: timeoutMs });
    } catch (e) {
      throw this.#requestFailure(e, subject, timeoutMs);
    }
    return decodeReply(endpoint, reply) as ReplyOf<E>;
  }

  #requestFailure(e: unknown, subject: string, timeoutMs: number): SagaError {
    const noResponders = e instanceof NoRespondersError || (e instanceof RequestError && e.isNoResponders());
    if (noResponders) {
      return new SagaError(
        ServiceErrorCode.NoCoordinator,
        `no jetsaga coordinator answers ${subject} (namespace "${this.namespace}"): is one running with the service API on, on this NATS?`,
        { status: 503, retryable: true, cause: e, details: { subject, namespace: this.namespace } },
      );
    }
    if (e instanceof TimeoutError) {
      return new SagaError(ErrorCode.Timeout, `no reply on ${subject} within ${timeoutMs} ms`, { status: 504, retryable: true, cause: e, details: { subject } });
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
