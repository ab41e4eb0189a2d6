/**
 * `jetsaga ui`: the visualizer on its own, against the coordinators of a namespace (found
 * through NATS the way every CLI command finds it), or offline with `--offline` — bundles
 * only, no NATS — which is also what it falls back to, saying so, when NATS cannot be reached.
 * Prints the page's URL (with its token) and serves until Ctrl-C (SIGINT) or SIGTERM.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { loadConfig, type ConfigInput } from '../config.js';
import { NatsUnreachableError } from '../errors.js';
import { createLogger } from '../log.js';
import { natsAuthFor } from '../boot/embedded-auth.js';
import { connectNats } from '../nats/connect.js';
import { permissionViolation } from '../nats/permission-denied.js';
import { JetsagaClient } from '../service/client.js';
import { startUiServer, type UiServerHandle } from '../ui/server/server.js';
import { cliConnectError, cliNatsUrl } from './cli-nats.js';
import { ExitCode } from './exit-codes.js';
import { warnIfExposed } from './ui-host.js';

export interface UiCommandOptions {
  readonly port: number;
  readonly host: string;
  readonly offline: boolean;
  readonly json?: boolean;
}

export async function ui(input: ConfigInput, options: UiCommandOptions, out: (line: string) => void = (l) => console.log(l), err: (line: string) => void = (l) => console.error(l)): Promise<number> {
  const config = loadConfig(input);
  const logger = createLogger({ destination: process.stderr });
  let nc: NatsConnection | undefined;
  const natsUrl = cliNatsUrl(config);
  if (!options.offline) {
    try {
      nc = await connectNats({ servers: natsUrl, name: 'jetsaga-ui', logger, auth: natsAuthFor(config) });
    } catch (e) {
      // Refused credentials are fatal like for every command; only an unreachable NATS is not.
      if (!(e instanceof NatsUnreachableError)) throw cliConnectError(e);
      err(`jetsaga ui: ${e.message}; serving opened bundles only (offline)`);
    }
  }
  let server: UiServerHandle;
  try {
    if (nc) await assertApiAllowed(nc, config.namespace);
    server = await startUiServer({ nc, namespace: config.namespace, natsUrl, host: options.host, port: options.port, logger });
  } catch (e) {
    await nc?.close().catch(() => undefined);
    throw e;
  }
  warnIfExposed(server.host, err);
  if (options.json) out(JSON.stringify({ url: server.url, mode: server.mode, host: server.host, port: server.port, namespace: config.namespace, nats: nc ? natsUrl : null }));
  else {
    out(`jetsaga visualizer ready (${server.mode === 'live' ? `namespace "${config.namespace}" on ${natsUrl}` : 'offline: bundles only'})`);
    out(`  ui        ${server.url}`);
  }

  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (): void => {
      if (++signals > 1) process.exit(130);
      void server
        .close()
        .then(() => nc?.close())
        .catch(() => undefined)
        .then(() => {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          resolve(ExitCode.Ok);
        });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/** How long the start-up check waits for a coordinator (it only looks for a refusal). */
const API_CHECK_TIMEOUT_MS = 2_000;

/**
 * A NATS user without the namespace's service API would get a page that only ever says "no
 * coordinator answers": refuse it at start instead, naming the subject, as every command does
 * (main.ts: one line, exit 3). Any other outcome (an answer, no coordinator, a slow one) lets the
 * page start; it shows whether a coordinator answers.
 */
async function assertApiAllowed(nc: NatsConnection, namespace: string): Promise<void> {
  try {
    await JetsagaClient.connect(nc, { namespace, timeoutMs: API_CHECK_TIMEOUT_MS }).listMachines();
  } catch (e) {
    if (permissionViolation(e)) throw e;
  }
}
