/**
 * The entity stores across a nats-server crash: while the server is down every operation
 * fails with ENTITIES_UNAVAILABLE (retryable) once its request times out — none hangs — and
 * once the server is back on the same store, running the same operations again completes
 * them with the results they would have had.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EntityStores } from '../../src/entities/entity-stores.js';
import { openEntityStores } from '../../src/entities/nats-entity-stores.js';
import { connectNats } from '../../src/nats/connect.js';
import { rejectionOf } from '../contract/entities.contract.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';

/** Runs `fn` until it does not fail with ENTITIES_UNAVAILABLE (bounded by the test's timeout). */
async function retryWhileUnavailable<T>(fn: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if ((e as { code?: string }).code !== 'ENTITIES_UNAVAILABLE') throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

let server: NatsServerHandle;
let nc: NatsConnection;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ servers: server.url, name: 'entities-outage-test' });
});

afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

describe('entity stores while NATS is down', () => {
  it('fail with retryable ENTITIES_UNAVAILABLE, then work again after a restart', async () => {
    let now = Date.UTC(2026, 0, 5);
    const s: EntityStores = await openEntityStores(nc, 'outage', { timeoutMs: 2_000, now: () => now, isFinished: async () => false });
    expect(await s.versions.allocate('shop', 's1')).toBe(1);
    await s.locks.acquire('shop', 's1');

    await server.kill();
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['get app', () => s.apps.get('shop')],
      ['list apps', () => s.apps.list()],
      ['allocate', () => s.versions.allocate('shop', 's2')],
      ['list versions', () => s.versions.list('shop')],
      ['acquire', () => s.locks.acquire('shop', 's2')],
      ['renew', () => s.locks.renew('shop', 's1')],
      ['release', () => s.locks.release('shop', 's1')],
      ['reconcile', () => s.locks.reconcile()],
      ['create sandbox', () => s.sandboxes.create({ id: 'sb1', app: 'shop', version: 1, sagaId: 's1', dir: '/srv/sb1' })],
      ['open', () => openEntityStores(nc, 'outage', { timeoutMs: 2_000 })],
    ];
    // All at once: each must settle on its own timeout, whatever the others do.
    const errors = await Promise.all(calls.map(([, call]) => rejectionOf(call())));
    for (const [i, err] of errors.entries()) {
      expect(err, calls[i]![0]).toMatchObject({ code: 'ENTITIES_UNAVAILABLE', status: 503, retryable: true });
      expect(err.message, calls[i]![0]).toContain('outage_entities');
    }

    await server.restart();
    // The same operations, run again as a retried step would: results as if nothing happened.
    // Each is retried on ENTITIES_UNAVAILABLE only (the client reconnects on its own schedule).
    const retry = retryWhileUnavailable;
    expect(await retry(() => s.versions.allocate('shop', 's2'))).toBe(2);
    expect(await retry(() => s.versions.allocate('shop', 's1'))).toBe(1);
    expect((await rejectionOf(retry(() => s.locks.acquire('shop', 's2')))).code).toBe('DEPLOY_LOCKED');
    now += 1_000;
    expect((await retry(() => s.locks.renew('shop', 's1'))).renewedAt).toBe(now);
    expect(await retry(() => s.locks.release('shop', 's1'))).toBe(true);
    expect((await retry(() => s.locks.acquire('shop', 's2'))).outcome).toBe('acquired');
    expect((await retry(() => s.versions.list('shop'))).map((v) => [v.version, v.sagaId])).toEqual([
      [1, 's1'],
      [2, 's2'],
    ]);
  });
});
