/**
 * Every entity operation survives being cut short at any of its writes, as a step is when its
 * process dies or its request times out: the operation fails with ENTITIES_UNAVAILABLE
 * (retryable), and running it again — as the saga re-runs the step with the same saga id —
 * reaches exactly the state, and the answer, of a run that was never interrupted.
 *
 * Each write can be cut two ways: `lost` (it never reached the store) and `landed` (it was
 * applied but its answer was lost, like a publish whose ack timed out).
 */
import { TimeoutError } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { createEntityStores, type EntityStores } from '../../src/entities/entity-stores.js';
import type { KvEntry, KvStore } from '../../src/journal/kv-store.js';
import { MemoryKvStore } from '../../src/journal/memory-kv-store.js';
import { rejectionOf, snapshot } from '../contract/entities.contract.js';

type Mode = 'lost' | 'landed';

/** A KvStore that fails its `failAt`-th write (counted from `arm()`), the way `mode` says. */
class FaultyKv implements KvStore {
  readonly bucket = 'faulty';
  writes = 0;
  failAt = 0;
  mode: Mode = 'lost';
  readonly inner = new MemoryKvStore('faulty');

  arm(failAt: number, mode: Mode): void {
    this.writes = 0;
    this.failAt = failAt;
    this.mode = mode;
  }

  get(key: string): Promise<KvEntry | null> {
    return this.inner.get(key);
  }
  keys(prefix?: string): Promise<string[]> {
    return this.inner.keys(prefix);
  }
  create(key: string, value: Uint8Array): Promise<number> {
    return this.#write(() => this.inner.create(key, value));
  }
  update(key: string, value: Uint8Array, revision: number): Promise<number> {
    return this.#write(() => this.inner.update(key, value, revision));
  }
  put(key: string, value: Uint8Array): Promise<number> {
    return this.#write(() => this.inner.put(key, value));
  }
  delete(key: string, options?: { revision?: number }): Promise<void> {
    return this.#write(() => this.inner.delete(key, options));
  }

  async #write<T>(fn: () => Promise<T>): Promise<T> {
    const n = ++this.writes;
    if (n !== this.failAt) return fn();
    if (this.mode === 'landed') await fn();
    throw new TimeoutError();
  }
}

const T0 = Date.UTC(2026, 0, 5, 10);
const image = { repo: 'cluster.local:5000/shop', digest: `sha256:${'ab'.repeat(32)}` };
const processes = { web: ['node', 'server.js'] };

async function build(s: EntityStores, saga: string): Promise<number> {
  const n = await s.versions.allocate('shop', saga);
  await s.configs.create({ app: 'shop', version: n, env: { A: '1' }, sagaId: saga });
  await s.versions.create({ app: 'shop', version: n, sagaId: saga, image, configVersion: n, processes });
  return n;
}

interface Scenario {
  readonly name: string;
  readonly setup: (s: EntityStores, clock: { now: number }) => Promise<void>;
  readonly op: (s: EntityStores) => Promise<unknown>;
  /** Whether a re-run's answer must equal the uninterrupted one's (else only the state must). */
  readonly sameAnswer?: (clean: unknown, rerun: unknown) => void;
}

const scenarios: Scenario[] = [
  { name: 'allocate a version', setup: async (s) => void (await s.versions.allocate('shop', 'first')), op: (s) => s.versions.allocate('shop', 's1') },
  { name: 'abandon an allocation', setup: async (s) => void (await s.versions.allocate('shop', 's1')), op: (s) => s.versions.abandon('shop', 's1') },
  {
    name: 'create a config version',
    setup: async (s) => void (await s.versions.allocate('shop', 's1')),
    op: (s) => s.configs.create({ app: 'shop', version: 1, env: { A: '1', B: '2' }, sagaId: 's1' }),
  },
  {
    name: 'discard a config version',
    setup: async (s) => {
      await s.versions.allocate('shop', 's1');
      await s.configs.create({ app: 'shop', version: 1, env: { A: '1' }, sagaId: 's1' });
    },
    op: (s) => s.configs.discard('shop', 1, 's1'),
    // A re-run after the removal landed answers false (nothing left); the state is the same.
    sameAnswer: () => undefined,
  },
  {
    name: 'record a version',
    setup: async (s) => {
      await s.versions.allocate('shop', 's1');
      await s.configs.create({ app: 'shop', version: 1, env: {}, sagaId: 's1' });
    },
    op: (s) => s.versions.create({ app: 'shop', version: 1, sagaId: 's1', image, configVersion: 1, processes }),
  },
  { name: 'mark a version', setup: async (s) => void (await build(s, 's1')), op: (s) => s.versions.mark('shop', 1, 'failed') },
  {
    name: 'set the active version (and mark both versions)',
    setup: async (s) => {
      await s.apps.setActive('shop', await build(s, 's1'), 's1');
      await build(s, 's2');
    },
    op: (s) => s.apps.setActive('shop', 2, 's2'),
  },
  {
    name: 'restore the active version (and mark both versions)',
    setup: async (s) => {
      await s.apps.setActive('shop', await build(s, 's1'), 's1');
      await s.apps.setActive('shop', await build(s, 's2'), 's2');
    },
    op: (s) => s.apps.restoreActive('shop', 's2', 1),
  },
  {
    name: 'take over an expired deploy lock',
    setup: async (s, clock) => {
      await s.locks.acquire('shop', 's1', { ttlMs: 1_000 });
      clock.now += 5_000;
    },
    op: (s) => s.locks.acquire('shop', 's2'),
    // A re-run after the takeover landed finds its own lock: the same lock, renewed.
    sameAnswer: (clean, rerun) => {
      expect((rerun as { lock: unknown }).lock).toEqual((clean as { lock: unknown }).lock);
      expect(['stolen', 'renewed']).toContain((rerun as { outcome: string }).outcome);
    },
  },
  { name: 'renew a deploy lock', setup: async (s) => void (await s.locks.acquire('shop', 's1')), op: (s) => s.locks.renew('shop', 's1', { ttlMs: 9_000 }) },
  // A re-run after the release landed answers false (nothing left to release); the state is the same.
  { name: 'release a deploy lock', setup: async (s) => void (await s.locks.acquire('shop', 's1')), op: (s) => s.locks.release('shop', 's1'), sameAnswer: () => undefined },
  {
    name: 'reconcile deploy locks',
    setup: async (s) => {
      await s.locks.acquire('a', 'done1');
      await s.locks.acquire('b', 'live');
      await s.locks.acquire('c', 'done2');
    },
    op: (s) => s.locks.reconcile(async (id) => id.startsWith('done')),
    // Reconcile reports a failed release instead of throwing; the state after a re-run is what matters.
    sameAnswer: () => undefined,
  },
  { name: 'create a sandbox', setup: async () => undefined, op: (s) => s.sandboxes.create({ id: 'sb1', app: 'shop', version: 1, sagaId: 's1', dir: '/srv/sb1' }) },
  {
    name: 'update a sandbox',
    setup: async (s) => void (await s.sandboxes.create({ id: 'sb1', app: 'shop', version: 1, sagaId: 's1', dir: '/srv/sb1' })),
    op: (s) => s.sandboxes.update('shop', 'sb1', { state: 'running', port: 40_001, pid: 321 }),
  },
  {
    name: 'delete a sandbox',
    setup: async (s) => void (await s.sandboxes.create({ id: 'sb1', app: 'shop', version: 1, sagaId: 's1', dir: '/srv/sb1' })),
    op: (s) => s.sandboxes.delete('shop', 'sb1'),
    sameAnswer: () => undefined,
  },
];

async function fresh(scenario: Scenario): Promise<{ kv: FaultyKv; s: EntityStores }> {
  const kv = new FaultyKv();
  const clock = { now: T0 };
  const s = createEntityStores(kv, { now: () => clock.now });
  await scenario.setup(s, clock);
  return { kv, s };
}

describe('entity operations cut short at any write', () => {
  for (const scenario of scenarios) {
    it(`${scenario.name}: a re-run completes it exactly`, async () => {
      const clean = await fresh(scenario);
      clean.kv.arm(0, 'lost');
      const answer = await scenario.op(clean.s);
      const writes = clean.kv.writes;
      const state = await snapshot(clean.kv.inner);
      expect(writes).toBeGreaterThan(0);

      for (let k = 1; k <= writes; k++) {
        for (const mode of ['lost', 'landed'] as const) {
          const { kv, s } = await fresh(scenario);
          kv.arm(k, mode);
          const run = scenario.op(s);
          if (scenario.name === 'reconcile deploy locks') {
            // Reconcile keeps going past a lock it could not release, and reports it.
            const report = (await run) as { failed: Array<{ error: { code: string; retryable: boolean } }> };
            expect(report.failed.map((f) => [f.error.code, f.error.retryable])).toEqual([['ENTITIES_UNAVAILABLE', true]]);
          } else {
            const err = await rejectionOf(run);
            expect(err, `write ${k} ${mode}`).toMatchObject({ code: 'ENTITIES_UNAVAILABLE', retryable: true });
          }
          kv.arm(0, 'lost');
          const again = await scenario.op(s);
          if (scenario.sameAnswer) scenario.sameAnswer(answer, again);
          else expect(again, `write ${k} ${mode}`).toEqual(answer);
          expect(await snapshot(kv.inner), `write ${k} ${mode}`).toEqual(state);
        }
      }
    });
  }
});
