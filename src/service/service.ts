/**
 * jetsaga's NATS service API: a micro-service (`$SRV.INFO.jetsaga`) whose endpoints read and
 * drive a coordinator's sagas, builds, apps and readiness. Every coordinator of a namespace
 * joins the queue group `jetsaga`, so a request is answered by one of them, whichever.
 *
 * A handler never throws out and never hangs: every request gets exactly one reply, a success
 * JSON body or an error reply (see errors.ts), within `handlerTimeoutMs`.
 */
import { readFileSync } from 'node:fs';
import { Svcm, type Service, type ServiceMsg } from '@nats-io/services';
import { headers } from '@nats-io/transport-node';
import type { Coordinator } from '../coordinator.js';
import { ensureError, ErrorCode, SagaError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { ForkErrorCode } from '../runtime/fork-errors.js';
import { badRequest, describeIssues, errorReplyOf, headerSafe, ServiceErrorCode } from './errors.js';
import { handlers } from './handlers.js';
import { endpointStats } from './stats.js';
import { RequestSchemas } from './schemas.js';
import { StreamErrorCode, StreamHub, type HandlerContext } from './stream-session.js';
import { apiPrefix, endpointName, Endpoint, ERROR_CODE_HEADER, MAX_REQUEST_BYTES, SERVICE_NAME, SERVICE_QUEUE } from './subjects.js';
import { redactedJson } from '../secrets/redact.js';

export interface StartServiceOptions {
  readonly logger?: Logger;
  /** Default 30 s: a handler still running then is answered with TIMEOUT (504). */
  readonly handlerTimeoutMs?: number;
  /** Default 1 MiB (NATS's default max payload). */
  readonly maxRequestBytes?: number;
  /** The subject prefix; default `<namespace>.api`. */
  readonly prefix?: string;
  /** Reported in `$SRV.INFO`; default package.json's. */
  readonly version?: string;
  /** Concurrent follow streams (`builds.follow`, `sagas.follow`); default 256. */
  readonly maxStreams?: number;
}

export interface ServiceHandle {
  /** This instance's micro-service id (as in `$SRV.INFO`/`$SRV.STATS`). */
  readonly id: string;
  readonly prefix: string;
  /** Follow streams open now (a metric, and how tests see a stream end). */
  activeStreams(): number;
  /** Stops answering and ends every follow stream; requests in flight still get their reply. Idempotent. */
  stop(): Promise<void>;
}

/** The codes each endpoint may answer with, besides INTERNAL and TIMEOUT (in its metadata). */
const ENDPOINT_ERRORS: Record<Endpoint, readonly string[]> = {
  'sagas.list': [ServiceErrorCode.BadRequest, ServiceErrorCode.NotAdmitted],
  'sagas.get': [ServiceErrorCode.BadRequest, ErrorCode.UnknownSaga, ServiceErrorCode.NotAdmitted],
  'sagas.events': [ServiceErrorCode.BadRequest, ErrorCode.UnknownSaga, ServiceErrorCode.NotAdmitted],
  'sagas.cancel': [ServiceErrorCode.BadRequest, ErrorCode.UnknownSaga, ErrorCode.NotOwner, ServiceErrorCode.NotAdmitted],
  'sagas.retry': [ServiceErrorCode.BadRequest, ErrorCode.UnknownSaga, ServiceErrorCode.NotBlocked, ErrorCode.NotOwner, ServiceErrorCode.NotAdmitted],
  'sagas.skip': [ServiceErrorCode.BadRequest, ErrorCode.UnknownSaga, ServiceErrorCode.NotBlocked, ErrorCode.NotOwner, ServiceErrorCode.NotAdmitted],
  'sagas.abandon': [ServiceErrorCode.BadRequest, ErrorCode.UnknownSaga, ServiceErrorCode.NotBlocked, ErrorCode.NotOwner, ServiceErrorCode.NotAdmitted],
  'sagas.follow': [ServiceErrorCode.BadRequest, ErrorCode.UnknownSaga, StreamErrorCode.StreamLimit, ServiceErrorCode.NotAdmitted],
  'sagas.fork': [ServiceErrorCode.BadRequest, ErrorCode.InvalidArgument, ErrorCode.UnknownSaga, ErrorCode.UnknownMachine, ErrorCode.MachineVersionMismatch, ForkErrorCode.SagaActive, ForkErrorCode.ForkPointFinal, ForkErrorCode.ForkCopiesOwnedStep, ErrorCode.SagaExists, ServiceErrorCode.NotAdmitted],
  'sagas.check': [ServiceErrorCode.BadRequest, ErrorCode.UnknownSaga, ErrorCode.UnknownMachine, ServiceErrorCode.NotAdmitted],
  'sagas.replay': [ServiceErrorCode.BadRequest, ErrorCode.UnknownSaga, ErrorCode.UnknownMachine, ErrorCode.MachineVersionMismatch, ErrorCode.SagaStarting, 'REPLAY_FAILED', ErrorCode.CorruptEntry, ServiceErrorCode.NotAdmitted],
  'machines.list': [ServiceErrorCode.BadRequest, ServiceErrorCode.NotAdmitted],
  'machines.graph': [ServiceErrorCode.BadRequest, ErrorCode.UnknownMachine, ErrorCode.MachineVersionMismatch, ServiceErrorCode.NotAdmitted],
  'builds.start': [ServiceErrorCode.BadRequest, ErrorCode.SagaExists, ErrorCode.SagaStarting, 'BUILDS_DISABLED', ServiceErrorCode.NotAdmitted],
  'builds.get': [ServiceErrorCode.BadRequest, ErrorCode.UnknownSaga, ServiceErrorCode.UnknownBuild, ServiceErrorCode.NotAdmitted],
  'builds.progress': [ServiceErrorCode.BadRequest, ErrorCode.UnknownSaga, ServiceErrorCode.UnknownBuild, ErrorCode.JournalUnavailable, ServiceErrorCode.NotAdmitted],
  'builds.follow': [ServiceErrorCode.BadRequest, ErrorCode.UnknownSaga, ServiceErrorCode.UnknownBuild, 'BUILDS_DISABLED', StreamErrorCode.StreamLimit, ServiceErrorCode.NotAdmitted],
  'apps.list': [ServiceErrorCode.BadRequest, 'BUILDS_DISABLED', ServiceErrorCode.NotAdmitted],
  'apps.get': [ServiceErrorCode.BadRequest, ServiceErrorCode.UnknownApp, 'BUILDS_DISABLED', ServiceErrorCode.NotAdmitted],
  'versions.list': [ServiceErrorCode.BadRequest, ServiceErrorCode.UnknownApp, 'BUILDS_DISABLED', ServiceErrorCode.NotAdmitted],
  'versions.rollback': [ServiceErrorCode.BadRequest, ServiceErrorCode.UnknownApp, ServiceErrorCode.UnknownVersion, ErrorCode.SagaExists, ErrorCode.SagaStarting, 'BUILDS_DISABLED', ServiceErrorCode.NotAdmitted],
  'addons.list': [ServiceErrorCode.BadRequest, 'BUILDS_DISABLED', ServiceErrorCode.NotAdmitted],
  'addons.get': [ServiceErrorCode.BadRequest, 'UNKNOWN_ADDON', 'BUILDS_DISABLED', ServiceErrorCode.NotAdmitted],
  'boot.status': [ServiceErrorCode.BadRequest],
};

/** Endpoints whose every field is optional take an empty body as `{}`. */
const EMPTY_OK = new Set<Endpoint>([Endpoint.SagasList, Endpoint.AppsList, Endpoint.BootStatus, Endpoint.MachinesList]);

const decoder = new TextDecoder('utf-8', { fatal: true });

/** package.json's version (`0.1.0`), read the way `jetsaga --version` reads it. */
export function packageVersion(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'jetsaga' && pkg.version) return pkg.version;
    } catch {
      // not at this level
    }
  }
  return '0.0.0';
}

/** Parses and validates a request body; throws BAD_REQUEST naming the offending field. */
export function parseRequest(endpoint: Endpoint, data: Uint8Array, maxBytes = MAX_REQUEST_BYTES): unknown {
  if (data.length > maxBytes) throw badRequest(`request body is ${data.length} bytes; at most ${maxBytes} are taken`, { bytes: data.length, maxBytes });
  let value: unknown;
  if (data.length === 0) {
    if (!EMPTY_OK.has(endpoint)) throw badRequest(`${endpoint} needs a JSON body (${RequestSchemas[endpoint].name})`);
    value = {};
  } else {
    let text: string;
    try {
      text = decoder.decode(data);
    } catch {
      throw badRequest('request body is not UTF-8');
    }
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw badRequest(`request body is not JSON: ${(e as Error).message}`);
    }
  }
  const parsed = RequestSchemas[endpoint].schema.safeParse(value);
  if (!parsed.success) {
    throw badRequest(`invalid ${RequestSchemas[endpoint].name}: ${describeIssues(parsed.error)}`, {
      issues: parsed.error.issues.slice(0, 20).map((i) => ({ path: i.path.map(String), message: i.message })),
    });
  }
  return parsed.data;
}

/** Starts the API of `coordinator` (which must have admitted work: its runtime is open). */
export async function startService(coordinator: Coordinator, options: StartServiceOptions = {}): Promise<ServiceHandle> {
  const log = (options.logger ?? silentLogger).child({ part: 'service' });
  const prefix = options.prefix ?? apiPrefix(coordinator.config.namespace);
  const timeoutMs = options.handlerTimeoutMs ?? 30_000;
  const maxBytes = options.maxRequestBytes ?? MAX_REQUEST_BYTES;
  const inFlight = new Set<Promise<void>>();
  const streams = new StreamHub(coordinator.nats, { maxStreams: options.maxStreams, logger: log });

  const service: Service = await new Svcm(coordinator.nats).add({
    name: SERVICE_NAME,
    version: options.version ?? packageVersion(),
    description: 'jetsaga coordinator API: sagas, builds, apps, versions and boot readiness',
    queue: SERVICE_QUEUE,
    metadata: { namespace: coordinator.config.namespace, coordinator: coordinator.config.owner, prefix },
    statsHandler: (endpoint) => endpointStats(coordinator, endpoint),
  });
  const group = service.addGroup(prefix);

  const answer = async (endpoint: Endpoint, msg: ServiceMsg): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    // A stream starts only once its reply is out (nothing may reach the inbox before it), and a
    // handler still running after its timeout reply gives its stream place back at once.
    let replied: boolean | undefined;
    const afterReply: Array<(replied: boolean) => void> = [];
    const context: HandlerContext = { streams, afterReply: (fn) => (replied === undefined ? void afterReply.push(fn) : fn(false)) };
    try {
      const request = parseRequest(endpoint, msg.data, maxBytes);
      const handler = handlers[endpoint] as (r: unknown, c: Coordinator, x: HandlerContext) => Promise<unknown>;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new SagaError(ErrorCode.Timeout, `${endpoint} did not finish within ${timeoutMs} ms`, { status: 504, retryable: true })),
          timeoutMs,
        );
      });
      const reply = await Promise.race([handler(request, coordinator, context), timedOut]);
      // Sealed secrets (in a build's input, its settings, a config version) show as [redacted].
      replied = msg.respond(redactedJson(reply ?? null));
    } catch (e) {
      const body = errorReplyOf(e);
      if (body.error.status >= 500) log.warn({ endpoint, code: body.error.code, err: ensureError(e).message }, 'service request failed');
      const h = headers();
      h.set(ERROR_CODE_HEADER, body.error.code);
      try {
        msg.respondError(body.error.status, headerSafe(body.error.message), JSON.stringify(body), { headers: h });
      } catch (re) {
        log.warn({ endpoint, err: ensureError(re).message }, 'service error reply not sent');
      }
    } finally {
      clearTimeout(timer);
      replied ??= false;
      for (const fn of afterReply) fn(replied);
    }
  };

  for (const endpoint of Object.values(Endpoint)) {
    group.addEndpoint(endpointName(endpoint), {
      subject: endpoint,
      metadata: { request: RequestSchemas[endpoint].name, errors: ENDPOINT_ERRORS[endpoint].join(',') },
      handler: (err, msg) => {
        if (err) {
          log.warn({ endpoint, err: err.message }, 'service endpoint subscription failed');
          return;
        }
        const p = answer(endpoint, msg).catch(() => undefined);
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      },
    });
  }
  // The endpoints' subscriptions reach the server before this resolves: a request sent right
  // after start-up must find a responder, not "no responders".
  await coordinator.nats.flush();
  const id = service.info().id;
  log.info({ prefix, id }, 'service API answering');

  let stopping: Promise<void> | undefined;
  return {
    id,
    prefix,
    activeStreams: () => streams.active,
    stop() {
      stopping ??= (async () => {
        await service.stop().catch(() => undefined);
        await streams.close();
        await Promise.allSettled([...inFlight]);
      })();
      return stopping;
    },
  };
}
