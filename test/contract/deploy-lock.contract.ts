/**
 * The deployment lock's contract, for every KV implementation the entity stores run on: one
 * holder at a time, renewals that keep `since`, expiry and takeover of a lock whose holder
 * ended, and releases only by the holder. Run by describeEntitiesContract.
 */
import { describe, expect, it } from 'vitest';
import { DeployLockedError } from '../../src/entities/deploy-lock-errors.js';
import { T0, rejectionOf, snapshot, useEntityWorld, type EntityKvFactory } from './entity-world.js';

export function describeDeployLockContract(name: string, factory: EntityKvFactory): void {
  describe(`deployment lock contract: ${name}`, () => {
    const w = useEntityWorld(factory);

    describe('the deployment lock', () => {
      it('is taken by one saga; another gets DEPLOY_LOCKED naming the holder and since when', async () => {
        const got = await w.s.locks.acquire('shop', 's1');
        expect(got).toEqual({ outcome: 'acquired', lock: { app: 'shop', holder: 's1', since: T0, expiresAt: T0 + 60_000, renewedAt: T0, ttlMs: 60_000 } });
        w.now += 1_000;
        const err = await rejectionOf(w.s.locks.acquire('shop', 's2'));
        expect(err).toBeInstanceOf(DeployLockedError);
        expect(err).toMatchObject({ code: 'DEPLOY_LOCKED', status: 409, retryable: true, details: { app: 'shop', holder: 's1', since: T0, expiresAt: T0 + 60_000 } });
        expect(err.message).toContain('saga "s1"');
        expect(err.message).toContain(new Date(T0).toISOString());
        expect(w.finishedCalls).toEqual(['s1']);
        expect(await w.s.locks.get('shop')).toEqual(got.lock);
      });

      it('re-acquiring by the holder renews it, keeping since', async () => {
        await w.s.locks.acquire('shop', 's1');
        w.now += 30_000;
        const again = await w.s.locks.acquire('shop', 's1', { ttlMs: 90_000 });
        expect(again).toEqual({ outcome: 'renewed', lock: { app: 'shop', holder: 's1', since: T0, expiresAt: w.now + 90_000, renewedAt: w.now, ttlMs: 90_000 } });
        w.now += 10_000;
        expect(await w.s.locks.renew('shop', 's1')).toMatchObject({ since: T0, expiresAt: w.now + 90_000, renewedAt: w.now });
        expect(await w.s.locks.renew('shop', 's1', { ttlMs: 5_000 })).toMatchObject({ expiresAt: w.now + 5_000, ttlMs: 5_000 });
      });

      it('of sagas racing for a free lock exactly one wins', async () => {
        const sagas = Array.from({ length: 8 }, (_, i) => `r${i}`);
        const results = await Promise.allSettled(sagas.map((id) => w.s.locks.acquire('shop', id)));
        const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [sagas[i]!] : []));
        expect(won).toHaveLength(1);
        const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as DeployLockedError] : []));
        expect(lost).toHaveLength(7);
        for (const e of lost) expect(e).toMatchObject({ code: 'DEPLOY_LOCKED', details: { holder: won[0] } });
        expect((await w.s.locks.get('shop'))?.holder).toBe(won[0]);
      });

      it('is taken over once expired; the old holder can then neither renew nor release it', async () => {
        await w.s.locks.acquire('shop', 's1');
        w.now = T0 + 60_000 - 1;
        expect((await rejectionOf(w.s.locks.acquire('shop', 's2'))).code).toBe('DEPLOY_LOCKED');
        w.now = T0 + 60_000;
        const taken = await w.s.locks.acquire('shop', 's2');
        expect(taken).toMatchObject({ outcome: 'stolen', stolenFrom: { holder: 's1', since: T0, expiresAt: T0 + 60_000, reason: 'expired' }, lock: { holder: 's2', since: w.now } });
        const lost = await rejectionOf(w.s.locks.renew('shop', 's1'));
        expect(lost).toMatchObject({ code: 'DEPLOY_LOCK_LOST', retryable: false, details: { app: 'shop', sagaId: 's1', holder: 's2' } });
        const before = await snapshot(w.kv);
        expect(await w.s.locks.release('shop', 's1')).toBe(false);
        expect(await snapshot(w.kv)).toEqual(before);
      });

      it('is taken over from a holder the predicate says is finished', async () => {
        await w.s.locks.acquire('shop', 's1');
        expect((await rejectionOf(w.s.locks.acquire('shop', 's2'))).code).toBe('DEPLOY_LOCKED');
        w.finished.add('s1');
        expect(await w.s.locks.acquire('shop', 's2')).toMatchObject({ outcome: 'stolen', stolenFrom: { holder: 's1', reason: 'finished' } });
        // A per-call predicate overrides the store's.
        await w.s.locks.acquire('blog', 's3');
        expect(await w.s.locks.acquire('blog', 's4', { isFinished: async (id) => id === 's3' })).toMatchObject({ outcome: 'stolen' });
      });

      it('takes over a lock whose stored value cannot be read', async () => {
        await w.kv.put('lock.shop', new TextEncoder().encode('{"holder": 42'));
        expect(await w.s.locks.get('shop')).toBeNull();
        expect(await w.s.locks.acquire('shop', 's1')).toMatchObject({ outcome: 'stolen', stolenFrom: { holder: null, reason: 'unreadable' } });
      });

      it('is released only by its holder; release is idempotent', async () => {
        expect(await w.s.locks.release('shop', 's1')).toBe(false);
        await w.s.locks.acquire('shop', 's1');
        expect(await w.s.locks.release('shop', 's2')).toBe(false);
        expect((await w.s.locks.get('shop'))?.holder).toBe('s1');
        expect(await w.s.locks.release('shop', 's1')).toBe(true);
        expect(await w.s.locks.release('shop', 's1')).toBe(false);
        expect(await w.s.locks.get('shop')).toBeNull();
        expect((await rejectionOf(w.s.locks.renew('shop', 's1'))).details).toEqual({ app: 'shop', sagaId: 's1', holder: null });
        expect((await w.s.locks.acquire('shop', 's2')).outcome).toBe('acquired');
      });

      it('reconciles: releases the locks of finished or unknown holders, keeps the rest', async () => {
        await w.s.locks.acquire('a', 'done');
        await w.s.locks.acquire('b', 'live');
        await w.s.locks.acquire('c', 'gone');
        await w.s.locks.acquire('d', 'boom');
        await w.kv.put('lock.e', new TextEncoder().encode('not json'));
        w.now += 120_000; // expired, but a live holder's lock is not reconcile's to release
        const report = await w.s.locks.reconcile(async (id) => {
          if (id === 'boom') throw new Error('saga index unreachable');
          return id !== 'live';
        });
        expect(report.released).toEqual([
          { app: 'a', holder: 'done', since: T0, expiresAt: T0 + 60_000 },
          { app: 'c', holder: 'gone', since: T0, expiresAt: T0 + 60_000 },
          { app: 'e', holder: null, since: null, expiresAt: null },
        ]);
        expect(report.failed).toEqual([{ app: 'd', error: expect.objectContaining({ message: 'saga index unreachable' }) }]);
        expect((await w.s.locks.list()).map((l) => [l.app, l.holder])).toEqual([
          ['b', 'live'],
          ['d', 'boom'],
        ]);
        expect(await w.s.locks.reconcile(async () => false)).toEqual({ released: [], failed: [] });
      });

      it('waits for a lock to become free: released, expired, or its holder finished', async () => {
        await w.s.locks.waitFor('shop'); // free
        await w.s.locks.acquire('shop', 's1');
        await w.s.locks.waitFor('shop', { sagaId: 's1' }); // own
        let freed = false;
        const released = w.s.locks.waitFor('shop', { pollMs: 5 }).then(() => (freed = true));
        await new Promise((r) => setTimeout(r, 30));
        expect(freed).toBe(false);
        await w.s.locks.release('shop', 's1');
        await released;

        await w.s.locks.acquire('shop', 's2');
        const expired = w.s.locks.waitFor('shop', { pollMs: 5 });
        w.now += 60_000;
        await expired;

        await w.s.locks.acquire('blog', 's3');
        const done = w.s.locks.waitFor('blog', { pollMs: 5 });
        w.finished.add('s3');
        await done;

        const ctl = new AbortController();
        const aborted = w.s.locks.waitFor('blog', { pollMs: 5, signal: ctl.signal, isFinished: async () => false });
        ctl.abort(new Error('deploy cancelled'));
        expect((await rejectionOf(aborted)).message).toBe('deploy cancelled');
      });
    });
  });
}
