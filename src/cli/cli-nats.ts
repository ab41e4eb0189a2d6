/**
 * Which NATS a CLI command talks to: `--nats`, else JETSAGA_NATS_URL, else the NATS of the
 * coordinator `jetsaga serve` runs with this data dir (see coordinator-record.ts; skipped when a
 * port is given), else the default port on loopback. Credentials: the ones given, else for the
 * default/embedded NATS the data dir's (boot/embedded-auth.ts). An unreachable NATS, or one
 * that refuses the credentials or the TLS handshake, is one line, exit 3.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { CoordinatorConfig } from '../config.js';
import { natsAuthFor } from '../boot/embedded-auth.js';
import { NatsAuthError, NatsUnreachableError } from '../errors.js';
import { connectNats } from '../nats/connect.js';
import { liveCoordinatorRecord } from './coordinator-record.js';
import { CliError, ExitCode } from './exit-codes.js';

export function cliNatsUrl(config: CoordinatorConfig): string {
  if (config.nats.url !== undefined) return config.nats.url;
  const recorded = config.nats.portGiven ? undefined : liveCoordinatorRecord(config.dataDir);
  return recorded?.natsUrl ?? `nats://127.0.0.1:${config.nats.port}`;
}

export async function connectCli(config: CoordinatorConfig): Promise<NatsConnection> {
  return connectNats({ servers: cliNatsUrl(config), name: 'jetsaga-cli', auth: natsAuthFor(config) }).catch((e: unknown) => {
    throw cliConnectError(e);
  });
}

/**
 * A failed connection as every command reports it: NATS unreachable, or refusing the
 * credentials or the TLS handshake, is one line (the message names the URL and what to check),
 * exit 3; anything else is left as it is.
 */
export function cliConnectError(e: unknown): unknown {
  return e instanceof NatsUnreachableError || e instanceof NatsAuthError ? new CliError(e.message, ExitCode.Unavailable) : e;
}
