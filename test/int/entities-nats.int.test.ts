/** The entity stores contract over a NATS KV bucket on a real nats-server, one bucket per test. */
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entitiesBucket, openEntityStores } from '../../src/entities/nats-entity-stores.js';
import { connectNats } from '../../src/nats/connect.js';
import { describeEntitiesContract } from '../contract/entities.contract.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';

let server: NatsServerHandle;
let nc: NatsConnection;
let jsm: JetStreamManager;
let n = 0;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ servers: server.url, name: 'entities-test' });
  jsm = await jetstreamManager(nc);
});

afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

describeEntitiesContract('NATS KV', async () => {
  const namespace = `ent${++n}`;
  const stores = await openEntityStores(nc, namespace);
  return { kv: stores.kv, cleanup: async () => void (await jsm.streams.delete(`KV_${entitiesBucket(namespace)}`)) };
});

describe('openEntityStores', () => {
  it('keeps entities in one bucket per namespace, and binds to it again', async () => {
    const a = await openEntityStores(nc, 'binding');
    expect(await a.versions.allocate('shop', 's1')).toBe(1);
    const b = await openEntityStores(nc, 'binding');
    expect(await b.versions.allocate('shop', 's1')).toBe(1);
    expect(await b.versions.allocate('shop', 's2')).toBe(2);
    const other = await openEntityStores(nc, 'binding-2');
    expect(await other.versions.allocate('shop', 's9')).toBe(1);
    const info = await jsm.streams.info('KV_binding_entities');
    expect(info.config.max_msgs_per_subject).toBe(1);
    await jsm.streams.delete('KV_binding_entities');
    await jsm.streams.delete('KV_binding-2_entities');
  });

  it('refuses a bad namespace before touching the server', async () => {
    await expect(openEntityStores(nc, 'Bad.Name')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(openEntityStores(nc, 'ok', { timeoutMs: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
