/**
 * One way to connect to NATS for the whole project. The client's defaults (10 reconnect
 * attempts, 2 s apart) close the connection for good after ~20 s without a server, and an
 * append in flight then fails instead of waiting: a durable saga host must never give up.
 *
 * The first connection is different: it fails within a bounded wait, with NATS_UNREACHABLE
 * naming the URL(s) and the reason, and without leaving a socket behind (see
 * greeting-probe.ts), so a CLI command or a program that catches the error can exit.
 */
import { connect, type NatsConnection, type Status } from '@nats-io/transport-node';
import { ErrorCode, NatsAuthError, NatsUnreachableError, SagaError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { GreetingProbeError, probeNatsGreeting, type NatsGreeting } from './greeting-probe.js';
import { authFailure, clientTls } from './auth-failure.js';
import type { NatsAuth } from './nats-auth.js';
import { describePermissionViolation, permissionViolation } from './permission-denied.js';
import { parseNatsServers, type NatsServerAddress } from './server-urls.js';

/**
 * How long a first connection may take before NATS counts as unreachable: the CLI, the
 * coordinator's boot and `createRuntime` all wait this long. Long enough for a loaded server
 * to answer, short enough that a wrong address is reported while the user still watches.
 */
export const NATS_CONNECT_TIMEOUT_MS = 4_000;

export interface ConnectNatsOptions {
  /** `host:port` or `nats://host:port`, one or several (see server-urls.ts). */
  readonly servers: string | readonly string[];
  /** Shown in the server's connection list (`nats server report connections`). */
  readonly name?: string;
  readonly logger?: Logger;
  /** How long the first connection may take (default NATS_CONNECT_TIMEOUT_MS). */
  readonly timeoutMs?: number;
  /** Gives up the first connection (e.g. on shutdown); rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /** Credentials and TLS options (see nats-auth.ts `loadNatsAuth`); none by default. */
  readonly auth?: NatsAuth;
}

/**
 * Connects, or rejects with NATS_UNREACHABLE (refused: at once; silent: after `timeoutMs`),
 * NATS_AUTH_FAILED (credentials refused, or the TLS handshake failed), INVALID_ARGUMENT for an
 * address that is not one, or the client's own error for anything else.
 */
export async function connectNats(opts: ConnectNatsOptions): Promise<NatsConnection> {
  const logger = opts.logger ?? silentLogger;
  const servers = parseNatsServers(opts.servers);
  const urls = servers.map((s) => s.url);
  const timeoutMs = opts.timeoutMs ?? NATS_CONNECT_TIMEOUT_MS;
  const greeting = await probeAny(servers, timeoutMs, opts.signal);
  const tls = clientTls(servers, opts.auth?.tls);
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: urls,
      name: opts.name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      // Otherwise every request builds two Error objects up front for async stack traces:
      // measured at ~18% of the runtime's CPU per saga step.
      noAsyncTraces: true,
      timeout: timeoutMs,
      ...(opts.auth?.authenticator ? { authenticator: opts.auth.authenticator } : {}),
      ...(tls ? { tls } : {}),
    });
  } catch (e) {
    const auth = authFailure(e);
    if (auth) throw new NatsAuthError(urls, auth, opts.auth?.hint, e);
    const silentTls = tlsTimeout(e, greeting, timeoutMs);
    if (silentTls) throw new NatsUnreachableError(urls, opts.auth?.hint ? `${silentTls}: ${opts.auth.hint}` : silentTls, e);
    throw isUnreachable(e) ? new NatsUnreachableError(urls, (e as Error).message, e) : e;
  }
  if (opts.signal?.aborted) {
    await nc.close();
    throw opts.signal.reason;
  }
  logger.info({ server: nc.getServer(), version: serverVersion(nc) }, 'nats connected');
  void logStatus(nc, logger);
  return nc;
}

/**
 * A server that greeted, requires TLS and then never completed the connection has most likely
 * refused the handshake: the client sees no alert, only its own timeout (e.g. a server that
 * verifies clients and was shown no client certificate). It may also just be slow, so this
 * stays "unreachable" (retried by a coordinator), with the likely cause in its reason.
 */
function tlsTimeout(e: unknown, greeting: NatsGreeting, timeoutMs: number): string | undefined {
  if (!greeting.tlsRequired || !(e instanceof Error) || e.name !== 'TimeoutError') return undefined;
  return `the TLS handshake did not complete within ${timeoutMs} ms (does the server require a client certificate?)`;
}

/** Resolves as soon as one server greets; otherwise rejects with every server's reason. */
async function probeAny(servers: readonly NatsServerAddress[], timeoutMs: number, signal: AbortSignal | undefined): Promise<NatsGreeting> {
  // The first greeting ends the other probes (and their sockets).
  const done = new AbortController();
  const both = signal ? AbortSignal.any([signal, done.signal]) : done.signal;
  const reasons = new Map<string, string>();
  try {
    return await Promise.any(
      servers.map((s) =>
        probeNatsGreeting(s, timeoutMs, both).catch((e: unknown) => {
          if (e instanceof GreetingProbeError) reasons.set(s.url, e.message);
          throw e;
        }),
      ),
    );
  } catch (e) {
    if (signal?.aborted) throw signal.reason;
    const errors = e instanceof AggregateError ? e.errors : [e];
    const unexpected = errors.find((x) => !(x instanceof GreetingProbeError));
    if (unexpected) throw unexpected;
    const reason = servers.length === 1 ? reasons.get(servers[0]!.url)! : servers.map((s) => `${s.url}: ${reasons.get(s.url)}`).join('; ');
    throw new NatsUnreachableError(servers.map((s) => s.url), reason, errors.length === 1 ? errors[0] : e);
  } finally {
    done.abort();
  }
}

/** What the client throws when no server could be reached (as opposed to e.g. bad credentials). */
function isUnreachable(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  if (e.name === 'TimeoutError' || e.name === 'ConnectionError') return true;
  return typeof (e as NodeJS.ErrnoException).code === 'string' && /^E[A-Z]+$/.test((e as NodeJS.ErrnoException).code!);
}

async function logStatus(nc: NatsConnection, logger: Logger): Promise<void> {
  try {
    for await (const s of nc.status()) logOne(s, logger);
  } catch (err) {
    logger.debug({ err }, 'nats status stream ended');
  }
}

function logOne(s: Status, logger: Logger): void {
  switch (s.type) {
    case 'disconnect':
      logger.warn({ server: s.server }, 'nats disconnected');
      return;
    case 'reconnect':
      logger.info({ server: s.server }, 'nats reconnected');
      return;
    case 'reconnecting':
      // every reconnectTimeWait while the server is away: too chatty for info
      logger.debug('nats reconnecting');
      return;
    case 'ldm':
      logger.warn({ server: s.server }, 'nats server entering lame-duck mode');
      return;
    case 'error': {
      // A refused subject is the user's permissions: say which, not a stack trace of the parser.
      const denied = permissionViolation(s.error);
      if (denied) logger.error({ subject: denied.subject, operation: denied.operation }, `nats: ${describePermissionViolation(denied)}`);
      else logger.error({ err: s.error }, 'nats async error');
      return;
    }
    case 'staleConnection':
      logger.warn('nats connection stale');
      return;
    case 'slowConsumer':
      logger.warn({ subject: s.sub.getSubject(), pending: s.pending }, 'nats slow consumer');
      return;
    case 'close':
      logger.info('nats connection closed');
      return;
    default:
      logger.debug({ status: s.type }, 'nats status');
  }
}

/** The version the connected server announced, e.g. "2.9.10" ("" before the first INFO). */
export function serverVersion(nc: NatsConnection): string {
  return nc.info?.version ?? '';
}

/**
 * Refuses servers older than `min`: several features (per-message TTL, atomic batches,
 * multi-filter consumers) are silently ignored by old servers rather than refused.
 */
export function assertServerVersion(nc: NatsConnection, min = '2.9.0'): void {
  const version = serverVersion(nc);
  const have = parseVersion(version);
  const need = parseVersion(min);
  if (!need) throw new SagaError(ErrorCode.InvalidArgument, `invalid minimum version "${min}"`, { status: 400 });
  if (!have || compareVersions(have, need) < 0) {
    throw new SagaError(
      ErrorCode.ServerTooOld,
      `nats-server ${version || '(unknown version)'} at ${nc.getServer()} is too old: jetsaga needs ${min} or newer`,
      { status: 503, details: { version, min } },
    );
  }
}

type Triple = readonly [number, number, number];

function parseVersion(v: string): Triple | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

function compareVersions(a: Triple, b: Triple): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}
