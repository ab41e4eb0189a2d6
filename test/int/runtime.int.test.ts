import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll } from 'vitest';
import { connectNats } from '../../src/nats/connect.js';
import { openNatsStores } from '../../src/runtime/nats-stores.js';
import { describeRuntimeContract } from '../contract/runtime.contract.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';

let server: NatsServerHandle;
const connections: NatsConnection[] = [];

beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await Promise.all(connections.map((nc) => nc.close()));
  await server?.stop();
});

// Every coordinator gets its own connection, as separate processes would.
describeRuntimeContract('nats', async (ns) => {
  const nc = await connectNats({ servers: server.url });
  connections.push(nc);
  return openNatsStores(nc, { namespace: ns, ownsConnection: true });
});
