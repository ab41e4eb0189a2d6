/**
 * The CLI as a client of the service API: connects to NATS (see cli-nats.ts for which) and
 * hands a `JetsagaClient` to the command, closing the connection however the command ends.
 */
import { loadConfig, type ConfigInput } from '../config.js';
import { JetsagaClient } from '../service/client.js';
import { connectCli } from './cli-nats.js';

export async function withClient<T>(input: ConfigInput, run: (client: JetsagaClient) => Promise<T>): Promise<T> {
  const config = loadConfig(input);
  const nc = await connectCli(config);
  try {
    return await run(JetsagaClient.connect(nc, { namespace: config.namespace }));
  } finally {
    await nc.close().catch(() => undefined);
  }
}
