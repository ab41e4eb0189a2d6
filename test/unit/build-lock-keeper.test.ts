/**
 * The lock keeper: locks held by builds this process drives are renewed before they expire;
 * locks whose holder is finished or unknown are released; a failing store never throws out.
 */
import { describe, expect, it } from 'vitest';
import { LockKeeper } from '../../src/build/lock-keeper.js';
import { memoryEntityStores } from '../../src/entities/index.js';
import { silentLogger } from '../../src/log.js';

describe('LockKeeper.pass', () => {
  it('renews the locks of builds driven here, releases those of finished or unknown builds, leaves others', async () => {
    let now = 1_000_000;
    const finished = new Set(['done-build']);
    const entities = memoryEntityStores({ now: () => now, lockTtlMs: 60_000, isFinished: async (id) => finished.has(id) || id === 'gone-build' });
    await entities.locks.acquire('a', 'running-here');
    await entities.locks.acquire('b', 'done-build');
    await entities.locks.acquire('c', 'gone-build');
    await entities.locks.acquire('d', 'running-elsewhere');
    now += 30_000;
    const keeper = new LockKeeper({ entities, drivenHere: () => ['running-here'], logger: silentLogger, lockTtlMs: 60_000 });
    const { released, renewed } = await keeper.pass();
    expect(released.sort()).toEqual(['b', 'c']);
    expect(renewed).toEqual(['a']);
    expect((await entities.locks.get('a'))?.expiresAt).toBe(now + 60_000);
    // Not driven here and not finished: untouched (its own coordinator renews it).
    expect((await entities.locks.get('d'))?.expiresAt).toBe(now - 30_000 + 60_000);
  });

  it('a store that fails is reported, not thrown', async () => {
    const entities = memoryEntityStores();
    const broken = { ...entities, locks: { reconcile: () => Promise.reject(new Error('store down')) } } as unknown as typeof entities;
    const keeper = new LockKeeper({ entities: broken, drivenHere: () => [], logger: silentLogger });
    await expect(keeper.pass()).resolves.toEqual({ released: [], renewed: [] });
    keeper.start();
    await keeper.stop();
  });
});
