/**
 * Entity operations racing each other under every interleaving fast-check's scheduler tries:
 * each call to the KV store is a scheduled task, so reads and compare-and-sets of concurrent
 * operations interleave in orders a loaded server could produce.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createEntityStores, type EntityStores } from '../../src/entities/entity-stores.js';
import type { KvEntry, KvStore } from '../../src/journal/kv-store.js';
import { MemoryKvStore } from '../../src/journal/memory-kv-store.js';

/** A KvStore whose every call first waits for the scheduler to let it go. */
class ScheduledKv implements KvStore {
  readonly bucket = 'scheduled';
  readonly inner = new MemoryKvStore('scheduled');
  live = false;
  constructor(private readonly sched: fc.Scheduler) {}

  #go<T>(label: string, fn: () => Promise<T>): Promise<T> {
    // Setup runs unscheduled; only the operations under test are interleaved.
    return this.live ? this.sched.schedule(Promise.resolve(), label).then(fn) : fn();
  }
  get(key: string): Promise<KvEntry | null> {
    return this.#go(`get ${key}`, () => this.inner.get(key));
  }
  keys(prefix?: string): Promise<string[]> {
    return this.#go(`keys ${prefix}`, () => this.inner.keys(prefix));
  }
  create(key: string, value: Uint8Array): Promise<number> {
    return this.#go(`create ${key}`, () => this.inner.create(key, value));
  }
  update(key: string, value: Uint8Array, revision: number): Promise<number> {
    return this.#go(`update ${key}@${revision}`, () => this.inner.update(key, value, revision));
  }
  put(key: string, value: Uint8Array): Promise<number> {
    return this.#go(`put ${key}`, () => this.inner.put(key, value));
  }
  delete(key: string, options?: { revision?: number }): Promise<void> {
    return this.#go(`delete ${key}`, () => this.inner.delete(key, options));
  }
}

function storesOn(sched: fc.Scheduler): { kv: ScheduledKv; s: EntityStores } {
  const kv = new ScheduledKv(sched);
  return { kv, s: createEntityStores(kv, { now: () => 1_000, lockTtlMs: 60_000 }) };
}

const settle = (p: Promise<unknown>): Promise<unknown> => p.then((v) => ({ ok: v }), (e: { code?: string }) => ({ code: e.code }));

describe('entity operations under interleavings', () => {
  it('allocations: one number per saga (however often it asks), distinct, no gaps', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { minLength: 1, maxLength: 8 }), async (sched, calls) => {
        const { kv, s } = storesOn(sched);
        kv.live = true;
        const got = await sched.waitFor(Promise.all(calls.map((id) => s.versions.allocate('shop', id))));
        const bySaga = new Map<string, Set<number>>();
        calls.forEach((id, i) => bySaga.set(id, (bySaga.get(id) ?? new Set()).add(got[i]!)));
        for (const [, ns] of bySaga) expect(ns.size).toBe(1);
        const numbers = [...bySaga.values()].map((ns) => [...ns][0]!).sort((x, y) => x - y);
        expect(numbers).toEqual(numbers.map((_, i) => i + 1));
      }),
      { numRuns: 200 },
    );
  });

  it('acquisitions of a free lock: exactly one saga wins; the others are told who', async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.array(fc.constantFrom('a', 'b', 'c'), { minLength: 2, maxLength: 6 }), async (sched, calls) => {
        const { kv, s } = storesOn(sched);
        kv.live = true;
        const results = (await sched.waitFor(Promise.all(calls.map((id) => settle(s.locks.acquire('shop', id)))))) as Array<{ ok?: unknown; code?: string }>;
        const winners = new Set(calls.filter((_, i) => results[i]!.ok));
        expect(winners.size).toBe(1);
        kv.live = false;
        const holder = (await s.locks.get('shop'))?.holder;
        expect([...winners]).toEqual([holder]);
        for (const r of results) if (!r.ok) expect(r.code).toBe('DEPLOY_LOCKED');
      }),
      { numRuns: 200 },
    );
  });

  it('an undo racing another saga’s activation never reverts that activation', async () => {
    const seen = new Set<boolean>();
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), async (sched) => {
        const { kv, s } = storesOn(sched);
        const image = { repo: 'r/shop', digest: `sha256:${'0'.repeat(64)}` };
        for (const id of ['a', 'b']) {
          const n = await s.versions.allocate('shop', id);
          await s.configs.create({ app: 'shop', version: n, env: {}, sagaId: id });
          await s.versions.create({ app: 'shop', version: n, sagaId: id, image, configVersion: n, processes: { web: ['x'] } });
        }
        await s.apps.setActive('shop', 1, 'a');
        kv.live = true;
        const [undo, set] = await sched.waitFor(Promise.all([s.apps.restoreActive('shop', 'a'), s.apps.setActive('shop', 2, 'b')]));
        kv.live = false;
        const app = await s.apps.get('shop');
        expect(app?.activeVersion).toBe(2);
        expect(app?.activatedBy).toBe('b');
        // Either the undo came first (b replaced nothing) or b did (the undo found b's activation and left it).
        expect([undo.active, set.previous]).toEqual(undo.restored ? [null, null] : [2, 1]);
        seen.add(undo.restored);
        expect((await s.versions.get('shop', 2))?.status).toBe('active');
        expect((await s.versions.get('shop', 1))?.status).toBe(undo.restored ? 'ready' : 'retired');
      }),
      { numRuns: 200 },
    );
    // Both orders were tried.
    expect([...seen].sort()).toEqual([false, true]);
  });
});
