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
import { startUiServer } from '../ui/server/server.js';
import { cliNatsUrl } from './cli-nats.js';
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
      if (!(e instanceof NatsUnreachableError)) throw e;
      err(`jetsaga ui: ${e.message}; serving opened bundles only (offline)`);
    }
  }
  const server = await startUiServer({ nc, namespace: config.namespace, natsUrl, host: options.host, port: options.port, logger }).catch(async (e: unknown) => {
    await nc?.close().catch(() => undefined);
    throw e;
  });
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
