/**
 * A coordinator that cannot renew its lease (NATS away for it, a starved process) stops
 * driving its sagas before the lease lapses in others' eyes, takes no new work meanwhile, and
 * takes back what is still its own once a renewal gets through — so that it never runs on past
 * its expiry beside a coordinator taking its sagas over.
 */
import { afterEach, expect, it } from 'vitest';
import { SagaStatus } from '../../src/journal/index-store.js';
import type { KvStore } from '../../src/journal/kv-store.js';
import { memoryCluster, type Cluster } from '../helpers/memory-cluster.js';
import { until } from '../helpers/until.js';
import { orderBinding, type StepCall } from '../fixtures/order-saga.js';

let cluster: Cluster;
afterEach(async () => {
  await cluster?.closeAll();
});

it('stops its sagas when renewals hang, refuses starts meanwhile, and resumes once renewed', async () => {
  let away = false;
  cluster = memoryCluster((stores) => {
    const kv = stores.coordinators;
    // Renewals that never answer while "away" (a request in flight when the server died).
    const flaky: KvStore = new Proxy(kv, {
      get: (target, key) => {
        if (key === 'update') return (k: string, v: Uint8Array, r: number) => (away ? new Promise<number>(() => undefined) : target.update(k, v, r));
        return (Reflect.get(target, key) as unknown as (...a: unknown[]) => unknown).bind(target);
      },
    });
    return { ...stores, coordinators: flaky };
  });
  const calls: StepCall[] = [];
  const rt = await cluster.open('w', { machines: [orderBinding((c) => calls.push(c))], leaseTtlMs: 600 });
  await rt.start('order', { order: 'w', delayMs: { chargeCard: 1_500 } }, { id: 'w' });
  await until(async () => (await rt.get('w')).pending[0]?.id === 'charge');

  away = true;
  // Before the lease lapses, the copy is stopped: its step in flight is aborted.
  await until(() => rt.loadedSagaIds().length === 0, 10_000);
  expect(calls.filter((c) => c.step === 'chargeCard').map((c) => c.outcome)).toEqual(['aborted']);
  await expect(rt.start('order', { order: 'n' }, { id: 'n' })).rejects.toMatchObject({ code: 'LEASE_LAPSED', retryable: true, status: 503 });

  away = false;
  // The next renewal gets through: the saga is taken back and finished, charge re-run under its key.
  expect((await rt.wait('w', { timeoutMs: 20_000 })).status).toBe(SagaStatus.Completed);
  expect(calls.filter((c) => c.step === 'chargeCard').map((c) => `${c.key}:${c.outcome}`)).toEqual(['w:2:charge:aborted', 'w:2:charge:ok']);
  expect((await rt.start('order', { order: 'n' }, { id: 'n' })).created).toBe(true);
});
