/**
 * The coordinator's default NATS: a `nats-server -js` it starts itself, on loopback only, with
 * its JetStream store under the coordinator's data dir (so the same dir means the same sagas
 * after a restart). No monitoring, cluster or leafnode listener is opened, and no client gets
 * in without the data dir's nkey (embedded-auth.ts).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { InvalidArgumentError } from '../errors.js';
import type { NatsAuth } from '../nats/nats-auth.js';
import { embeddedNatsAuth, ensureEmbeddedNkey, writeEmbeddedNatsConfig } from './embedded-auth.js';
import type { EmbeddedServerOptions } from './embedded-options.js';
import { spawnManaged, type ManagedProcess } from './managed-process.js';
import { isListening, PortInUseError, waitListening, waitReady } from './port-probe.js';

export const NATS_SERVER_INSTALL_HINT = 'install it (Debian: apt-get install nats-server) or set JETSAGA_NATS_SERVER_BIN';
const DEFAULT_BIN = '/usr/sbin/nats-server';
const HOST = '127.0.0.1';

/** See EmbeddedServerOptions; `bin` defaults as documented on the launcher. */
export type EmbeddedNatsOptions = EmbeddedServerOptions;

export interface EmbeddedNats {
  readonly url: string;
  readonly port: number;
  /** The `-sd` directory (nats-server keeps JetStream data in its `jetstream/` subdirectory). */
  readonly storeDir: string;
  /** What a client needs to be let in. */
  readonly auth: NatsAuth;
  readonly process: ManagedProcess;
  /** Stops the server gracefully; idempotent. */
  stop(): Promise<void>;
}

export async function startEmbeddedNats(options: EmbeddedNatsOptions): Promise<EmbeddedNats> {
  const { port, logger } = options;
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new InvalidArgumentError(`invalid NATS port ${port}`, { port });
  const bin = options.bin ?? process.env.JETSAGA_NATS_SERVER_BIN ?? DEFAULT_BIN;
  const url = `nats://${HOST}:${port}`;
  const storeDir = join(options.dataDir, 'nats');
  await mkdir(storeDir, { recursive: true, mode: 0o700 });
  // Otherwise the readiness probe could be answered by whoever already holds the port.
  if (await isListening(HOST, port, 500)) throw new PortInUseError(HOST, port, 'the embedded nats-server');
  const publicKey = await ensureEmbeddedNkey(options.dataDir);
  const configFile = await writeEmbeddedNatsConfig(options.dataDir, { host: HOST, port, storeDir, publicKey });
  const auth = embeddedNatsAuth(options.dataDir)!;

  const proc = await spawnManaged({
    name: 'nats-server',
    bin,
    args: ['-c', configFile],
    logger,
    installHint: NATS_SERVER_INSTALL_HINT,
  });
  const wait = { timeoutMs: options.readyTimeoutMs ?? 30_000, signal: options.signal, process: proc };
  try {
    await waitListening(HOST, port, wait);
    await waitReady(`nats-server on ${url}`, (ms) => acceptsJetStream(url, auth, ms), wait);
  } catch (err) {
    await proc.stop({ timeoutMs: 2_000 });
    throw err;
  }
  logger.info({ url, storeDir, childPid: proc.pid }, 'embedded nats-server started');
  const stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
  return {
    url,
    port,
    storeDir,
    auth,
    process: proc,
    stop: () => proc.stop({ timeoutMs: stopTimeoutMs }),
  };
}

/** A full client handshake plus a JetStream API answer: the port being open is not enough. */
async function acceptsJetStream(url: string, auth: NatsAuth, timeoutMs: number): Promise<boolean> {
  const nc = await connect({ servers: url, reconnect: false, timeout: timeoutMs, name: 'jetsaga-embedded-probe', authenticator: auth.authenticator });
  try {
    const reply = await nc.request('$JS.API.INFO', '', { timeout: timeoutMs });
    return reply.json<{ error?: unknown }>().error === undefined;
  } finally {
    await nc.close();
  }
}
