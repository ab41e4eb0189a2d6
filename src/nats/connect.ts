/**
 * One way to connect to NATS for the whole project. The client's defaults (10 reconnect
 * attempts, 2 s apart) close the connection for good after ~20 s without a server, and an
 * append in flight then fails instead of waiting: a durable saga host must never give up.
 */
import { connect, type NatsConnection, type Status } from '@nats-io/transport-node';
import { ErrorCode, SagaError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';

export interface ConnectNatsOptions {
  readonly servers: string | string[];
  /** Shown in the server's connection list (`nats server report connections`). */
  readonly name?: string;
  readonly logger?: Logger;
  /** How long the first connection attempt may take (default: the client's 20 s). */
  readonly timeoutMs?: number;
}

export async function connectNats(opts: ConnectNatsOptions): Promise<NatsConnection> {
  const logger = opts.logger ?? silentLogger;
  const nc = await connect({
    servers: opts.servers,
    name: opts.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    // Otherwise every request builds two Error objects up front for async stack traces:
    // measured at ~18% of the runtime's CPU per saga step.
    noAsyncTraces: true,
    ...(opts.timeoutMs === undefined ? {} : { timeout: opts.timeoutMs }),
  });
  logger.info({ server: nc.getServer(), version: serverVersion(nc) }, 'nats connected');
  void logStatus(nc, logger);
  return nc;
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
    case 'error':
      logger.error({ err: s.error }, 'nats async error');
      return;
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
