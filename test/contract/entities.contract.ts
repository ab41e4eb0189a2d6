/**
 * The behaviour every backend of the entity stores must show, run over the memory KV store
 * (unit) and a NATS KV bucket on a real nats-server (int). Clocks are moved, never waited on.
 */
import { describe, expect, it } from 'vitest';
import { createEntityStores } from '../../src/entities/entity-stores.js';
import type { ImageRef } from '../../src/entities/records.js';
import type { NewVersion } from '../../src/entities/versions.js';
import { describeDeployLockContract } from './deploy-lock.contract.js';
import { T0, rejectionOf, snapshot, useEntityWorld, type EntityKvFactory } from './entity-world.js';

export { rejectionOf, snapshot, type EntityKvFactory };

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const OTHER_DIGEST = `sha256:${'cd'.repeat(32)}`;
const image = (digest = DIGEST): ImageRef => ({ repo: 'cluster.local:5000/shop', digest });
const processes = { web: ['node', 'server.js'] };

export function describeEntitiesContract(name: string, factory: EntityKvFactory): void {
  describe(`entity stores contract: ${name}`, () => {
    const w = useEntityWorld(factory);

    /** Allocates, records config and version for `saga`: a built version ready to activate. */
    async function built(app: string, saga: string, digest = DIGEST): Promise<number> {
      const n = await w.s.versions.allocate(app, saga);
      await w.s.configs.create({ app, version: n, env: { A: '1' }, sagaId: saga });
      await w.s.versions.create({ app, version: n, sagaId: saga, image: image(digest), configVersion: n, processes });
      return n;
    }

    describe('argument checks', () => {
      const badApps: unknown[] = ['', 'Shop', '-shop', 'a.b', 'a*', 'a>', 'a b', 'a_b', 'x'.repeat(64), 7, null];
      const badSagas: unknown[] = ['', 'a.b', 'a b', 'x'.repeat(129), 'a*'];

      it('refuses bad app names on every operation with INVALID_ARGUMENT, writing nothing', async () => {
        for (const app of badApps as string[]) {
          const calls = [
            () => w.s.apps.ensure(app),
            () => w.s.apps.get(app),
            () => w.s.apps.setActive(app, 1, 's1'),
            () => w.s.apps.restoreActive(app, 's1'),
            () => w.s.versions.allocate(app, 's1'),
            () => w.s.versions.abandon(app, 's1'),
            () => w.s.versions.get(app, 1),
            () => w.s.versions.list(app),
            () => w.s.versions.mark(app, 1, 'ready'),
            () => w.s.versions.create({ app, version: 1, sagaId: 's1', image: image(), configVersion: 1, processes }),
            () => w.s.configs.create({ app, version: 1, env: {}, sagaId: 's1' }),
            () => w.s.configs.discard(app, 1, 's1'),
            () => w.s.sandboxes.create({ id: 'sb1', app, version: 1, sagaId: 's1', dir: '/tmp/x' }),
            () => w.s.sandboxes.list(app),
            () => w.s.locks.acquire(app, 's1'),
            () => w.s.locks.release(app, 's1'),
            () => w.s.locks.renew(app, 's1'),
            () => w.s.locks.waitFor(app),
          ];
          for (const call of calls) {
            const err = await rejectionOf(call());
            expect(err.code, `${JSON.stringify(app)}: ${call.toString()}`).toBe('INVALID_ARGUMENT');
          }
        }
        expect(await w.kv.keys()).toEqual([]);
      });

      it('refuses bad saga ids, version numbers, sandbox ids and lock durations', async () => {
        for (const saga of badSagas as string[]) {
          for (const call of [
            () => w.s.versions.allocate('shop', saga),
            () => w.s.apps.setActive('shop', 1, saga),
            () => w.s.locks.acquire('shop', saga),
            () => w.s.locks.release('shop', saga),
            () => w.s.configs.create({ app: 'shop', version: 1, env: {}, sagaId: saga }),
          ]) {
            expect((await rejectionOf(call())).code).toBe('INVALID_ARGUMENT');
          }
        }
        for (const v of [0, -1, 1.5, Number.NaN, '1'] as number[]) {
          expect((await rejectionOf(w.s.versions.get('shop', v))).code).toBe('INVALID_ARGUMENT');
          expect((await rejectionOf(w.s.apps.setActive('shop', v, 's1'))).code).toBe('INVALID_ARGUMENT');
        }
        for (const id of ['', 'a.b', 'x'.repeat(129)]) {
          expect((await rejectionOf(w.s.sandboxes.get('shop', id))).code).toBe('INVALID_ARGUMENT');
        }
        for (const ttlMs of [0, -5, 1.5]) {
          expect((await rejectionOf(w.s.locks.acquire('shop', 's1', { ttlMs }))).code).toBe('INVALID_ARGUMENT');
        }
        expect((await rejectionOf(w.s.versions.mark('shop', 1, 'gone' as 'ready'))).code).toBe('INVALID_ARGUMENT');
        // Without a predicate given here or to the store, reconcile cannot judge a holder.
        expect((await rejectionOf(createEntityStores(w.kv).locks.reconcile())).code).toBe('INVALID_ARGUMENT');
        expect(await w.kv.keys()).toEqual([]);
      });

      it('refuses bad version content: digest, repo, processes, env names', async () => {
        const n = await w.s.versions.allocate('shop', 's1');
        await w.s.configs.create({ app: 'shop', version: n, env: {}, sagaId: 's1' });
        const base = { app: 'shop', version: n, sagaId: 's1', configVersion: n, processes };
        const bads: NewVersion[] = [
          { ...base, image: { repo: 'cluster.local:5000/shop', digest: 'sha256:xyz' } },
          { ...base, image: { repo: 'UPPER/case', digest: DIGEST } },
          { ...base, image: image(), processes: {} },
          { ...base, image: image(), processes: { web: [] } },
          { ...base, image: image(), processes: { 'we b': ['x'] } },
        ];
        for (const bad of bads) {
          expect((await rejectionOf(w.s.versions.create(bad))).code).toBe('INVALID_ARGUMENT');
        }
        expect((await rejectionOf(w.s.configs.create({ app: 'shop', version: 2, env: { 'BAD-NAME': 'x' }, sagaId: 's1' }))).code).toBe('INVALID_ARGUMENT');
        // The largest env a build accepts (256 KiB) fits; twice that does not.
        expect((await w.s.configs.create({ app: 'shop', version: 2, env: { BIG: 'x'.repeat(256 * 1024) }, sagaId: 's1' })).version).toBe(2);
        expect((await rejectionOf(w.s.configs.create({ app: 'shop', version: 3, env: { BIG: 'x'.repeat(512 * 1024) }, sagaId: 's1' }))).code).toBe('INVALID_ARGUMENT');
        expect((await w.s.versions.get('shop', n))?.status).toBe('building');
        expect(await w.s.configs.get('shop', 3)).toBeNull();
      });
    });

    describe('apps', () => {
      it('creates an app once; ensure is idempotent and lists apps by name', async () => {
        expect(await w.s.apps.get('shop')).toBeNull();
        const a = await w.s.apps.ensure('shop');
        expect(a).toMatchObject({ name: 'shop', createdAt: T0, activeVersion: null, activeSince: null, previousActive: null });
        w.now += 1_000;
        expect(await w.s.apps.ensure('shop')).toEqual(a);
        await w.s.apps.ensure('blog');
        expect((await w.s.apps.list()).map((x) => x.name)).toEqual(['blog', 'shop']);
      });
    });

    describe('version allocation', () => {
      it('allocates increasing numbers per app, creating the app and a building version', async () => {
        expect(await w.s.versions.allocate('shop', 's1')).toBe(1);
        expect(await w.s.versions.allocate('shop', 's2')).toBe(2);
        expect(await w.s.versions.allocate('blog', 's3')).toBe(1);
        expect(await w.s.apps.get('shop')).toMatchObject({ name: 'shop', activeVersion: null });
        expect(await w.s.versions.get('shop', 2)).toMatchObject({ app: 'shop', version: 2, sagaId: 's2', status: 'building', image: null, allocatedAt: T0 });
      });

      it('gives a saga that asks again the same number, whatever came in between', async () => {
        const a = await w.s.versions.allocate('shop', 's1');
        await w.s.versions.allocate('shop', 's2');
        const before = await snapshot(w.kv);
        expect(await w.s.versions.allocate('shop', 's1')).toBe(a);
        expect(await w.s.versions.allocate('shop', 's1')).toBe(a);
        expect(await snapshot(w.kv)).toEqual(before);
        expect(await w.s.versions.allocate('shop', 's3')).toBe(3);
      });

      it('gives sagas racing for numbers distinct ones, and each saga racing itself one', async () => {
        const sagas = Array.from({ length: 8 }, (_, i) => `race-${i}`);
        // Every saga asks twice at once, as a step re-run beside a stalled first run would.
        const got = await Promise.all(sagas.flatMap((id) => [w.s.versions.allocate('shop', id), w.s.versions.allocate('shop', id)]));
        const perSaga = sagas.map((_, i) => [got[2 * i], got[2 * i + 1]]);
        for (const [x, y] of perSaga) expect(x).toBe(y);
        expect(perSaga.map(([x]) => x).sort((a, b) => a! - b!)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
        const versions = await w.s.versions.list('shop');
        expect(versions.map((v) => [v.version, v.sagaId])).toEqual(sagas.map((id, i) => [perSaga[i]![0], id]).sort((a, b) => (a[0] as number) - (b[0] as number)));
      });

      it('abandons an allocation for good: repeatable, a no-op when never allocated, the number never reused', async () => {
        expect(await w.s.versions.abandon('shop', 'never')).toBeNull();
        expect(await w.kv.keys('ver.')).toEqual([]);
        const n = await w.s.versions.allocate('shop', 's1');
        expect((await w.s.versions.abandon('shop', 's1'))?.status).toBe('abandoned');
        const once = await snapshot(w.kv);
        expect((await w.s.versions.abandon('shop', 's1'))?.status).toBe('abandoned');
        expect(await snapshot(w.kv)).toEqual(once);
        expect(await w.s.versions.allocate('shop', 's2')).toBe(n + 1);
        // The abandoned saga asking again still gets its own number, not a new one.
        expect(await w.s.versions.allocate('shop', 's1')).toBe(n);
        expect((await w.s.versions.get('shop', n))?.status).toBe('abandoned');
      });

      it('leaves a version that went live as it is when its allocation is abandoned', async () => {
        const n = await built('shop', 's1');
        await w.s.apps.setActive('shop', n, 's1');
        expect((await w.s.versions.abandon('shop', 's1'))?.status).toBe('active');
        expect((await w.s.apps.get('shop'))?.activeVersion).toBe(n);
      });

      it('lists versions in numeric order', async () => {
        for (let i = 1; i <= 11; i++) await w.s.versions.allocate('shop', `s${i}`);
        await w.s.versions.allocate('shop-2', 'other');
        expect((await w.s.versions.list('shop')).map((v) => v.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        expect((await w.s.versions.list('shop-2')).map((v) => v.version)).toEqual([1]);
      });
    });

    describe('versions and config versions', () => {
      it('records a built version once: a repeat answers the stored record, other content conflicts', async () => {
        const n = await w.s.versions.allocate('shop', 's1');
        expect((await rejectionOf(w.s.versions.create({ app: 'shop', version: n, sagaId: 's1', image: image(), configVersion: n, processes }))).code).toBe('ENTITY_NOT_FOUND');
        const cfg = await w.s.configs.create({ app: 'shop', version: n, env: { A: '1', B: '2' }, sagaId: 's1' });
        w.now += 10;
        const v = await w.s.versions.create({ app: 'shop', version: n, sagaId: 's1', image: image(), configVersion: n, processes });
        expect(v).toMatchObject({ status: 'ready', image: image(), configVersion: n, processes, createdAt: T0 + 10 });
        w.now += 10;
        const before = await snapshot(w.kv);
        // A repeat, keys in another order and with another createdAt: the first stands.
        expect(await w.s.versions.create({ app: 'shop', version: n, sagaId: 's1', processes, configVersion: n, image: image(), createdAt: w.now })).toEqual(v);
        expect(await w.s.configs.create({ app: 'shop', version: n, env: { B: '2', A: '1' }, sagaId: 's1', createdAt: w.now })).toEqual(cfg);
        expect(await snapshot(w.kv)).toEqual(before);
        const other = await rejectionOf(w.s.versions.create({ app: 'shop', version: n, sagaId: 's1', image: image(OTHER_DIGEST), configVersion: n, processes }));
        expect(other).toMatchObject({ code: 'ENTITY_CONFLICT', status: 409, retryable: false });
        expect((await rejectionOf(w.s.versions.create({ app: 'shop', version: n, sagaId: 's2', image: image(), configVersion: n, processes }))).code).toBe('ENTITY_CONFLICT');
        expect((await rejectionOf(w.s.configs.create({ app: 'shop', version: n, env: { A: '2' }, sagaId: 's1' }))).code).toBe('ENTITY_CONFLICT');
        expect((await rejectionOf(w.s.configs.create({ app: 'shop', version: n, env: { A: '1', B: '2' }, sagaId: 's2' }))).code).toBe('ENTITY_CONFLICT');
        expect(await snapshot(w.kv)).toEqual(before);
        expect((await w.s.configs.list('shop')).map((c) => c.version)).toEqual([n]);
      });

      it('discards a config version only for its saga, and never one whose version went live', async () => {
        expect(await w.s.configs.discard('shop', 1, 's1')).toBe(false);
        const n = await w.s.versions.allocate('shop', 's1');
        await w.s.configs.create({ app: 'shop', version: n, env: { SECRET: 'x' }, sagaId: 's1' });
        expect(await w.s.configs.discard('shop', n, 's2')).toBe(false);
        expect(await w.s.configs.get('shop', n)).not.toBeNull();
        expect(await w.s.configs.discard('shop', n, 's1')).toBe(true);
        expect(await w.s.configs.discard('shop', n, 's1')).toBe(false);
        expect(await w.s.configs.get('shop', n)).toBeNull();
        const live = await built('shop', 's2');
        await w.s.apps.setActive('shop', live, 's2');
        const before = await snapshot(w.kv);
        expect(await w.s.configs.discard('shop', live, 's2')).toBe(false);
        expect(await snapshot(w.kv)).toEqual(before);
      });

      it('refuses to record a version that was never allocated or was given up', async () => {
        await w.s.configs.create({ app: 'shop', version: 1, env: {}, sagaId: 's1' });
        expect((await rejectionOf(w.s.versions.create({ app: 'shop', version: 1, sagaId: 's1', image: image(), configVersion: 1, processes }))).code).toBe('ENTITY_NOT_FOUND');
        await w.s.versions.allocate('shop', 's1');
        await w.s.versions.abandon('shop', 's1');
        expect((await rejectionOf(w.s.versions.create({ app: 'shop', version: 1, sagaId: 's1', image: image(), configVersion: 1, processes }))).code).toBe('ENTITY_CONFLICT');
      });

      it('marks statuses along a version’s life and refuses the rest', async () => {
        expect((await rejectionOf(w.s.versions.mark('shop', 1, 'failed'))).code).toBe('ENTITY_NOT_FOUND');
        const n = await w.s.versions.allocate('shop', 's1');
        expect((await rejectionOf(w.s.versions.mark('shop', n, 'ready'))).code).toBe('ENTITY_CONFLICT'); // never recorded
        await w.s.configs.create({ app: 'shop', version: n, env: {}, sagaId: 's1' });
        await w.s.versions.create({ app: 'shop', version: n, sagaId: 's1', image: image(), configVersion: n, processes });
        expect((await w.s.versions.mark('shop', n, 'failed')).status).toBe('failed');
        const before = await snapshot(w.kv);
        expect((await w.s.versions.mark('shop', n, 'failed')).status).toBe('failed');
        expect(await snapshot(w.kv)).toEqual(before);
        const err = await rejectionOf(w.s.versions.mark('shop', n, 'active'));
        expect(err).toMatchObject({ code: 'ENTITY_CONFLICT', details: { from: 'failed', to: 'active' } });
        expect(err.message).toContain('cannot go from failed to active');
      });
    });

    describe('the active version', () => {
      it('sets the active version, answering what was before; idempotent for its saga', async () => {
        const v1 = await built('shop', 's1');
        expect(await w.s.apps.setActive('shop', v1, 's1')).toEqual({ previous: null });
        const once = await snapshot(w.kv);
        w.now += 5;
        expect(await w.s.apps.setActive('shop', v1, 's1')).toEqual({ previous: null });
        expect(await snapshot(w.kv)).toEqual(once);
        const v2 = await built('shop', 's2');
        w.now += 5;
        expect(await w.s.apps.setActive('shop', v2, 's2')).toEqual({ previous: v1 });
        expect(await w.s.apps.setActive('shop', v2, 's2')).toEqual({ previous: v1 });
        expect(await w.s.apps.get('shop')).toMatchObject({ activeVersion: v2, previousActive: v1, activeSince: T0 + 10, activatedBy: 's2' });
        expect((await w.s.versions.get('shop', v1))?.status).toBe('retired');
        expect((await w.s.versions.get('shop', v2))?.status).toBe('active');
      });

      it('undoes its own activation: puts back what was active, repeatable', async () => {
        const v1 = await built('shop', 's1');
        await w.s.apps.setActive('shop', v1, 's1');
        const v2 = await built('shop', 's2');
        const { previous } = await w.s.apps.setActive('shop', v2, 's2');
        w.now += 100;
        expect(await w.s.apps.restoreActive('shop', 's2', previous)).toEqual({ restored: true, active: v1 });
        const once = await snapshot(w.kv);
        expect(await w.s.apps.restoreActive('shop', 's2', previous)).toEqual({ restored: true, active: v1 });
        // An undo that runs without its step's output (it never reported) does the same.
        expect(await w.s.apps.restoreActive('shop', 's2')).toEqual({ restored: true, active: v1 });
        expect(await snapshot(w.kv)).toEqual(once);
        expect(await w.s.apps.get('shop')).toMatchObject({ activeVersion: v1, activeSince: T0 + 100, activatedBy: null, restoredBy: 's2' });
        expect((await w.s.versions.get('shop', v1))?.status).toBe('active');
        expect((await w.s.versions.get('shop', v2))?.status).toBe('ready');
      });

      it('never undoes another saga’s newer activation', async () => {
        const v1 = await built('shop', 's1');
        await w.s.apps.setActive('shop', v1, 's1');
        const v2 = await built('shop', 's2');
        await w.s.apps.setActive('shop', v2, 's2');
        const before = await snapshot(w.kv);
        expect(await w.s.apps.restoreActive('shop', 's1', null)).toEqual({ restored: false, active: v2 });
        expect(await snapshot(w.kv)).toEqual(before);
        // After s2's undo, s1's late undo still does nothing: v1 is active again, but not by s1's doing anew.
        await w.s.apps.restoreActive('shop', 's2');
        const after = await snapshot(w.kv);
        expect(await w.s.apps.restoreActive('shop', 's1')).toEqual({ restored: false, active: v1 });
        expect(await snapshot(w.kv)).toEqual(after);
      });

      it('restoring is a no-op for a saga that never activated anything, and on an unknown app', async () => {
        expect(await w.s.apps.restoreActive('ghost', 's9')).toEqual({ restored: false, active: null });
        const v1 = await built('shop', 's1');
        await w.s.apps.setActive('shop', v1, 's1');
        const before = await snapshot(w.kv);
        expect(await w.s.apps.restoreActive('shop', 's9')).toEqual({ restored: false, active: v1 });
        expect(await snapshot(w.kv)).toEqual(before);
        expect(await w.kv.keys('app.ghost')).toEqual([]);
      });

      it('activates only built versions', async () => {
        expect((await rejectionOf(w.s.apps.setActive('shop', 1, 's1'))).code).toBe('ENTITY_NOT_FOUND');
        const n = await w.s.versions.allocate('shop', 's1');
        expect((await rejectionOf(w.s.apps.setActive('shop', n, 's1'))).code).toBe('ENTITY_CONFLICT');
        await w.s.versions.abandon('shop', 's1');
        expect((await rejectionOf(w.s.apps.setActive('shop', n, 's1'))).code).toBe('ENTITY_CONFLICT');
        expect((await w.s.apps.get('shop'))?.activeVersion).toBeNull();
      });
    });

    describe('sandboxes', () => {
      const sb = (id: string, app = 'shop', sagaId = 's1') => ({ id, app, version: 1, sagaId, dir: `/var/lib/jetsaga/sandboxes/${id}` });

      it('creates once per saga; a repeat answers the current record without undoing progress', async () => {
        const a = await w.s.sandboxes.create(sb('sb1'));
        expect(a).toMatchObject({ id: 'sb1', app: 'shop', version: 1, state: 'starting', port: null, pid: null, startedAt: T0, sagaId: 's1' });
        w.now += 10;
        const running = await w.s.sandboxes.update('shop', 'sb1', { state: 'running', port: 41_234, pid: 4242 });
        expect(running).toMatchObject({ state: 'running', port: 41_234, pid: 4242, updatedAt: T0 + 10 });
        expect(await w.s.sandboxes.create(sb('sb1'))).toEqual(running);
        expect((await rejectionOf(w.s.sandboxes.create(sb('sb1', 'shop', 's2')))).code).toBe('ENTITY_CONFLICT');
        const before = await snapshot(w.kv);
        w.now += 10;
        expect(await w.s.sandboxes.update('shop', 'sb1', { state: 'running', port: 41_234 })).toEqual(running);
        expect(await snapshot(w.kv)).toEqual(before);
      });

      it('updates, lists by app and deletes idempotently', async () => {
        await w.s.sandboxes.create(sb('b'));
        await w.s.sandboxes.create(sb('a'));
        await w.s.sandboxes.create(sb('c', 'shop-2'));
        expect((await w.s.sandboxes.list('shop')).map((x) => x.id)).toEqual(['a', 'b']);
        expect((await w.s.sandboxes.list()).map((x) => `${x.app}/${x.id}`)).toEqual(['shop/a', 'shop/b', 'shop-2/c']);
        expect((await rejectionOf(w.s.sandboxes.update('shop', 'zz', { state: 'stopped' }))).code).toBe('ENTITY_NOT_FOUND');
        for (const bad of [{ port: 0 }, { port: 70_000 }, { state: 'bogus' }, { pid: -1 }, { app: 'x' }] as object[]) {
          expect((await rejectionOf(w.s.sandboxes.update('shop', 'a', bad))).code).toBe('INVALID_ARGUMENT');
        }
        expect(await w.s.sandboxes.delete('shop', 'a')).toBe(true);
        expect(await w.s.sandboxes.delete('shop', 'a')).toBe(false);
        expect(await w.s.sandboxes.delete('shop', 'never')).toBe(false);
        expect(await w.s.sandboxes.get('shop', 'a')).toBeNull();
        expect((await w.s.sandboxes.list('shop')).map((x) => x.id)).toEqual(['b']);
      });
    });

    it('refuses to read a corrupt record, naming its key', async () => {
      await w.kv.put('ver.shop.1', new TextEncoder().encode('{"app":"shop","version":"one"}'));
      const err = await rejectionOf(w.s.versions.get('shop', 1));
      expect(err).toMatchObject({ code: 'CORRUPT_ENTRY', details: { key: 'ver.shop.1' } });
    });
  });
  describeDeployLockContract(name, factory);
}
