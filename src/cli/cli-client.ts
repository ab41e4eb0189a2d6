/**
 * The CLI as a client of the service API: connects to NATS (`--nats`, else JETSAGA_NATS_URL,
 * else the default port on loopback) and hands a `JetsagaClient` to the command, closing the
 * connection however the command ends. An unreachable NATS is one line and exit 3.
 */
import { loadConfig, type ConfigInput } from '../config.js';
import { NatsUnreachableError } from '../errors.js';
import { connectNats } from '../nats/connect.js';
import { JetsagaClient } from '../service/client.js';
import { CliError, ExitCode } from './exit-codes.js';

export async function withClient<T>(input: ConfigInput, run: (client: JetsagaClient) => Promise<T>): Promise<T> {
  const config = loadConfig(input);
  const url = config.nats.url ?? `nats://127.0.0.1:${config.nats.port}`;
  const nc = await connectNats({ servers: url, name: 'jetsaga-cli' }).catch((e: unknown) => {
    if (e instanceof NatsUnreachableError) throw new CliError(e.message, ExitCode.Unavailable);
    throw e;
  });
  try {
    return await run(JetsagaClient.connect(nc, { namespace: config.namespace }));
  } finally {
    await nc.close().catch(() => undefined);
  }
}
