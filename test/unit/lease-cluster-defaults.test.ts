/**
 * The lease on a cluster: 30 s by default with replicated streams (10 s on one server), set by
 * `--lease-ttl-ms` / JETSAGA_LEASE_TTL_MS; a failed renewal is tried again within a second,
 * not a third of the TTL later, so a leader election of a few seconds cannot use up the lease.
 */
import { afterEach, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { MemoryKvStore } from '../../src/journal/memory-kv-store.js';
import { silentLogger } from '../../src/log.js';
import { CoordinatorLease } from '../../src/runtime/coordinator-lease.js';
import { defaultLeaseTtlMs } from '../../src/runtime/lease-defaults.js';

afterEach(() => {
  vi.useRealTimers();
});

it('defaults to 10 s on one replica and 30 s with more', () => {
  expect([undefined, 1, 3, 5].map(defaultLeaseTtlMs)).toEqual([10_000, 10_000, 30_000, 30_000]);
});

it('takes the TTL from --lease-ttl-ms or JETSAGA_LEASE_TTL_MS, and refuses a bad one', () => {
  expect(loadConfig({ replicas: 3 }, {}).leaseTtlMs).toBeUndefined();
  expect(loadConfig({ leaseTtlMs: '45000' }, {}).leaseTtlMs).toBe(45_000);
  expect(loadConfig({}, { JETSAGA_LEASE_TTL_MS: '20000' }).leaseTtlMs).toBe(20_000);
  expect(() => loadConfig({ leaseTtlMs: '10' }, {})).toThrow('--lease-ttl-ms: lease TTL "10" must be an integer number of milliseconds from 1000 to 600000');
  expect(() => loadConfig({}, { JETSAGA_LEASE_TTL_MS: 'soon' })).toThrow(/^JETSAGA_LEASE_TTL_MS: lease TTL "soon"/);
});

it('retries a failed renewal within a second, then goes back to a third of the TTL', async () => {
  vi.useFakeTimers({ now: 1_000_000 });
  const kv = new MemoryKvStore('coordinators');
  const attempts: number[] = [];
  let failing = false;
  const update = kv.update.bind(kv);
  kv.update = (k, v, r) => {
    attempts.push(Date.now());
    return failing ? Promise.reject(new Error('jetstream is not enabled')) : update(k, v, r);
  };
  const lost: string[] = [];
  const lease = new CoordinatorLease({ kv, owner: 'A', incarnation: 'i1', ttlMs: 30_000, machines: [], now: () => Date.now(), logger: silentLogger, onLost: (why) => lost.push(why) });
  await lease.acquire();
  const t0 = Date.now();
  failing = true;
  await vi.advanceTimersByTimeAsync(10_000); // the first renewal: fails
  await vi.advanceTimersByTimeAsync(1_000); // tried again a second later: fails
  failing = false;
  await vi.advanceTimersByTimeAsync(1_000); // and again: succeeds
  await vi.advanceTimersByTimeAsync(10_000); // back to the normal period
  expect(attempts.map((t) => t - t0)).toEqual([10_000, 11_000, 12_000, 22_000]);
  expect(lease.valid()).toBe(true);
  expect(lost).toEqual([]);
  await lease.close(false);
});
