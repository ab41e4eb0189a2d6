/**
 * The behaviour every backend of the entity stores must show, run over the memory KV store
 * (unit) and a NATS KV bucket on a real nats-server (int). Clocks are moved, never waited on.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KvStore } from '../../src/journal/kv-store.js';
import { createEntityStores, type EntityStores } from '../../src/entities/entity-stores.js';
import { DeployLockedError } from '../../src/entities/deploy-lock-errors.js';
import type { ImageRef } from '../../src/entities/records.js';
import type { NewVersion } from '../../src/entities/versions.js';

/** A fresh, empty store per test. */
export type EntityKvFactory = () => Promise<{ kv: KvStore; cleanup?: () => Promise<void> }>;

const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);
const DIGEST = `sha256:${'ab'.repeat(32)}`;
const OTHER_DIGEST = `sha256:${'cd'.repeat(32)}`;
const image = (digest = DIGEST): ImageRef => ({ repo: 'cluster.local:5000/shop', digest });
const processes = { web: ['node', 'server.js'] };

/** Settles `p` and answers what it rejected with (fails the test if it resolved). */
export async function rejectionOf(p: Promise<unknown>): Promise<Error & { code?: string; status?: number; retryable?: boolean; details?: Record<string, unknown> }> {
  const r = await p.then(
    (v: unknown) => ({ ok: true as const, v }),
    (e: unknown) => ({ ok: false as const, e }),
  );
  if (r.ok) throw new Error(`expected a rejection, got ${JSON.stringify(r.v)}`);
  return r.e as Error;
}

/** Every live key and its value, for "a repeat changed nothing". */
export async function snapshot(kv: KvStore, prefix = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const k of await kv.keys(prefix)) {
    const e = await kv.get(k);
    if (e) out[k] = new TextDecoder().decode(e.value);
  }
  return out;
}

export function describeEntitiesContract(name: string, factory: EntityKvFactory): void {
  describe(`entity stores contract: ${name}`, () => {
    let kv: KvStore;
    let cleanup: (() => Promise<void>) | undefined;
    let s: EntityStores;
    let now: number;
    const finished = new Set<string>();
    let finishedCalls: string[];

    beforeEach(async () => {
      ({ kv, cleanup } = await factory());
      now = T0;
      finished.clear();
      finishedCalls = [];
      s = createEntityStores(kv, {
        now: () => now,
        lockTtlMs: 60_000,
        isFinished: async (id) => {
          finishedCalls.push(id);
          return finished.has(id);
        },
      });
    });
    afterEach(async () => {
      await cleanup?.();
    });

    /** Allocates, records config and version for `saga`: a built version ready to activate. */
    async function built(app: string, saga: string, digest = DIGEST): Promise<number> {
      const n = await s.versions.allocate(app, saga);
      await s.configs.create({ app, version: n, env: { A: '1' }, sagaId: saga });
      await s.versions.create({ app, version: n, sagaId: saga, image: image(digest), configVersion: n, processes });
      return n;
    }

    describe('argument checks', () => {
      const badApps: unknown[] = ['', 'Shop', '-shop', 'a.b', 'a*', 'a>', 'a b', 'a_b', 'x'.repeat(64), 7, null];
      const badSagas: unknown[] = ['', 'a.b', 'a b', 'x'.repeat(129), 'a*'];

      it('refuses bad app names on every operation with INVALID_ARGUMENT, writing nothing', async () => {
        for (const app of badApps as string[]) {
          const calls = [
            () => s.apps.ensure(app),
            () => s.apps.get(app),
            () => s.apps.setActive(app, 1, 's1'),
            () => s.apps.restoreActive(app, 's1'),
            () => s.versions.allocate(app, 's1'),
            () => s.versions.abandon(app, 's1'),
            () => s.versions.get(app, 1),
            () => s.versions.list(app),
            () => s.versions.mark(app, 1, 'ready'),
            () => s.versions.create({ app, version: 1, sagaId: 's1', image: image(), configVersion: 1, processes }),
            () => s.configs.create({ app, version: 1, env: {}, sagaId: 's1' }),
            () => s.configs.discard(app, 1, 's1'),
            () => s.sandboxes.create({ id: 'sb1', app, version: 1, sagaId: 's1', dir: '/tmp/x' }),
            () => s.sandboxes.list(app),
            () => s.locks.acquire(app, 's1'),
            () => s.locks.release(app, 's1'),
            () => s.locks.renew(app, 's1'),
            () => s.locks.waitFor(app),
          ];
          for (const call of calls) {
            const err = await rejectionOf(call());
            expect(err.code, `${JSON.stringify(app)}: ${call.toString()}`).toBe('INVALID_ARGUMENT');
          }
        }
        expect(await kv.keys()).toEqual([]);
      });

      it('refuses bad saga ids, version numbers, sandbox ids and lock durations', async () => {
        for (const saga of badSagas as string[]) {
          for (const call of [
            () => s.versions.allocate('shop', saga),
            () => s.apps.setActive('shop', 1, saga),
            () => s.locks.acquire('shop', saga),
            () => s.locks.release('shop', saga),
            () => s.configs.create({ app: 'shop', version: 1, env: {}, sagaId: saga }),
          ]) {
            expect((await rejectionOf(call())).code).toBe('INVALID_ARGUMENT');
          }
        }
        for (const v of [0, -1, 1.5, Number.NaN, '1'] as number[]) {
          expect((await rejectionOf(s.versions.get('shop', v))).code).toBe('INVALID_ARGUMENT');
          expect((await rejectionOf(s.apps.setActive('shop', v, 's1'))).code).toBe('INVALID_ARGUMENT');
        }
        for (const id of ['', 'a.b', 'x'.repeat(129)]) {
          expect((await rejectionOf(s.sandboxes.get('shop', id))).code).toBe('INVALID_ARGUMENT');
        }
        for (const ttlMs of [0, -5, 1.5]) {
          expect((await rejectionOf(s.locks.acquire('shop', 's1', { ttlMs }))).code).toBe('INVALID_ARGUMENT');
        }
        expect((await rejectionOf(s.versions.mark('shop', 1, 'gone' as 'ready'))).code).toBe('INVALID_ARGUMENT');
        // Without a predicate given here or to the store, reconcile cannot judge a holder.
        expect((await rejectionOf(createEntityStores(kv).locks.reconcile())).code).toBe('INVALID_ARGUMENT');
        expect(await kv.keys()).toEqual([]);
      });

      it('refuses bad version content: digest, repo, processes, env names', async () => {
        const n = await s.versions.allocate('shop', 's1');
        await s.configs.create({ app: 'shop', version: n, env: {}, sagaId: 's1' });
        const base = { app: 'shop', version: n, sagaId: 's1', configVersion: n, processes };
        const bads: NewVersion[] = [
          { ...base, image: { repo: 'cluster.local:5000/shop', digest: 'sha256:xyz' } },
          { ...base, image: { repo: 'UPPER/case', digest: DIGEST } },
          { ...base, image: image(), processes: {} },
          { ...base, image: image(), processes: { web: [] } },
          { ...base, image: image(), processes: { 'we b': ['x'] } },
        ];
        for (const bad of bads) {
          expect((await rejectionOf(s.versions.create(bad))).code).toBe('INVALID_ARGUMENT');
        }
        expect((await rejectionOf(s.configs.create({ app: 'shop', version: 2, env: { 'BAD-NAME': 'x' }, sagaId: 's1' }))).code).toBe('INVALID_ARGUMENT');
        // The largest env a build accepts (256 KiB) fits; twice that does not.
        expect((await s.configs.create({ app: 'shop', version: 2, env: { BIG: 'x'.repeat(256 * 1024) }, sagaId: 's1' })).version).toBe(2);
        expect((await rejectionOf(s.configs.create({ app: 'shop', version: 3, env: { BIG: 'x'.repeat(512 * 1024) }, sagaId: 's1' }))).code).toBe('INVALID_ARGUMENT');
        expect((await s.versions.get('shop', n))?.status).toBe('building');
        expect(await s.configs.get('shop', 3)).toBeNull();
      });
    });

    describe('apps', () => {
      it('creates an app once; ensure is idempotent and lists apps by name', async () => {
        expect(await s.apps.get('shop')).toBeNull();
        const a = await s.apps.ensure('shop');
        expect(a).toMatchObject({ name: 'shop', createdAt: T0, activeVersion: null, activeSince: null, previousActive: null });
        now += 1_000;
        expect(await s.apps.ensure('shop')).toEqual(a);
        await s.apps.ensure('blog');
        expect((await s.apps.list()).map((x) => x.name)).toEqual(['blog', 'shop']);
      });
    });

    describe('version allocation', () => {
      it('allocates increasing numbers per app, creating the app and a building version', async () => {
        expect(await s.versions.allocate('shop', 's1')).toBe(1);
        expect(await s.versions.allocate('shop', 's2')).toBe(2);
        expect(await s.versions.allocate('blog', 's3')).toBe(1);
        expect(await s.apps.get('shop')).toMatchObject({ name: 'shop', activeVersion: null });
        expect(await s.versions.get('shop', 2)).toMatchObject({ app: 'shop', version: 2, sagaId: 's2', status: 'building', image: null, allocatedAt: T0 });
      });

      it('gives a saga that asks again the same number, whatever came in between', async () => {
        const a = await s.versions.allocate('shop', 's1');
        await s.versions.allocate('shop', 's2');
        const before = await snapshot(kv);
        expect(await s.versions.allocate('shop', 's1')).toBe(a);
        expect(await s.versions.allocate('shop', 's1')).toBe(a);
        expect(await snapshot(kv)).toEqual(before);
        expect(await s.versions.allocate('shop', 's3')).toBe(3);
      });

      it('gives sagas racing for numbers distinct ones, and each saga racing itself one', async () => {
        const sagas = Array.from({ length: 8 }, (_, i) => `race-${i}`);
        // Every saga asks twice at once, as a step re-run beside a stalled first run would.
        const got = await Promise.all(sagas.flatMap((id) => [s.versions.allocate('shop', id), s.versions.allocate('shop', id)]));
        const perSaga = sagas.map((_, i) => [got[2 * i], got[2 * i + 1]]);
        for (const [x, y] of perSaga) expect(x).toBe(y);
        expect(perSaga.map(([x]) => x).sort((a, b) => a! - b!)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
        const versions = await s.versions.list('shop');
        expect(versions.map((v) => [v.version, v.sagaId])).toEqual(sagas.map((id, i) => [perSaga[i]![0], id]).sort((a, b) => (a[0] as number) - (b[0] as number)));
      });

      it('abandons an allocation for good: repeatable, a no-op when never allocated, the number never reused', async () => {
        expect(await s.versions.abandon('shop', 'never')).toBeNull();
        expect(await kv.keys('ver.')).toEqual([]);
        const n = await s.versions.allocate('shop', 's1');
        expect((await s.versions.abandon('shop', 's1'))?.status).toBe('abandoned');
        const once = await snapshot(kv);
        expect((await s.versions.abandon('shop', 's1'))?.status).toBe('abandoned');
        expect(await snapshot(kv)).toEqual(once);
        expect(await s.versions.allocate('shop', 's2')).toBe(n + 1);
        // The abandoned saga asking again still gets its own number, not a new one.
        expect(await s.versions.allocate('shop', 's1')).toBe(n);
        expect((await s.versions.get('shop', n))?.status).toBe('abandoned');
      });

      it('leaves a version that went live as it is when its allocation is abandoned', async () => {
        const n = await built('shop', 's1');
        await s.apps.setActive('shop', n, 's1');
        expect((await s.versions.abandon('shop', 's1'))?.status).toBe('active');
        expect((await s.apps.get('shop'))?.activeVersion).toBe(n);
      });

      it('lists versions in numeric order', async () => {
        for (let i = 1; i <= 11; i++) await s.versions.allocate('shop', `s${i}`);
        await s.versions.allocate('shop-2', 'other');
        expect((await s.versions.list('shop')).map((v) => v.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        expect((await s.versions.list('shop-2')).map((v) => v.version)).toEqual([1]);
      });
    });

    describe('versions and config versions', () => {
      it('records a built version once: a repeat answers the stored record, other content conflicts', async () => {
        const n = await s.versions.allocate('shop', 's1');
        expect((await rejectionOf(s.versions.create({ app: 'shop', version: n, sagaId: 's1', image: image(), configVersion: n, processes }))).code).toBe('ENTITY_NOT_FOUND');
        const cfg = await s.configs.create({ app: 'shop', version: n, env: { A: '1', B: '2' }, sagaId: 's1' });
        now += 10;
        const v = await s.versions.create({ app: 'shop', version: n, sagaId: 's1', image: image(), configVersion: n, processes });
        expect(v).toMatchObject({ status: 'ready', image: image(), configVersion: n, processes, createdAt: T0 + 10 });
        now += 10;
        const before = await snapshot(kv);
        // A repeat, keys in another order and with another createdAt: the first stands.
        expect(await s.versions.create({ app: 'shop', version: n, sagaId: 's1', processes, configVersion: n, image: image(), createdAt: now })).toEqual(v);
        expect(await s.configs.create({ app: 'shop', version: n, env: { B: '2', A: '1' }, sagaId: 's1', createdAt: now })).toEqual(cfg);
        expect(await snapshot(kv)).toEqual(before);
        const other = await rejectionOf(s.versions.create({ app: 'shop', version: n, sagaId: 's1', image: image(OTHER_DIGEST), configVersion: n, processes }));
        expect(other).toMatchObject({ code: 'ENTITY_CONFLICT', status: 409, retryable: false });
        expect((await rejectionOf(s.versions.create({ app: 'shop', version: n, sagaId: 's2', image: image(), configVersion: n, processes }))).code).toBe('ENTITY_CONFLICT');
        expect((await rejectionOf(s.configs.create({ app: 'shop', version: n, env: { A: '2' }, sagaId: 's1' }))).code).toBe('ENTITY_CONFLICT');
        expect((await rejectionOf(s.configs.create({ app: 'shop', version: n, env: { A: '1', B: '2' }, sagaId: 's2' }))).code).toBe('ENTITY_CONFLICT');
        expect(await snapshot(kv)).toEqual(before);
        expect((await s.configs.list('shop')).map((c) => c.version)).toEqual([n]);
      });

      it('discards a config version only for its saga, and never one whose version went live', async () => {
        expect(await s.configs.discard('shop', 1, 's1')).toBe(false);
        const n = await s.versions.allocate('shop', 's1');
        await s.configs.create({ app: 'shop', version: n, env: { SECRET: 'x' }, sagaId: 's1' });
        expect(await s.configs.discard('shop', n, 's2')).toBe(false);
        expect(await s.configs.get('shop', n)).not.toBeNull();
        expect(await s.configs.discard('shop', n, 's1')).toBe(true);
        expect(await s.configs.discard('shop', n, 's1')).toBe(false);
        expect(await s.configs.get('shop', n)).toBeNull();
        const live = await built('shop', 's2');
        await s.apps.setActive('shop', live, 's2');
        const before = await snapshot(kv);
        expect(await s.configs.discard('shop', live, 's2')).toBe(false);
        expect(await snapshot(kv)).toEqual(before);
      });

      it('refuses to record a version that was never allocated or was given up', async () => {
        await s.configs.create({ app: 'shop', version: 1, env: {}, sagaId: 's1' });
        expect((await rejectionOf(s.versions.create({ app: 'shop', version: 1, sagaId: 's1', image: image(), configVersion: 1, processes }))).code).toBe('ENTITY_NOT_FOUND');
        await s.versions.allocate('shop', 's1');
        await s.versions.abandon('shop', 's1');
        expect((await rejectionOf(s.versions.create({ app: 'shop', version: 1, sagaId: 's1', image: image(), configVersion: 1, processes }))).code).toBe('ENTITY_CONFLICT');
      });

      it('marks statuses along a version’s life and refuses the rest', async () => {
        expect((await rejectionOf(s.versions.mark('shop', 1, 'failed'))).code).toBe('ENTITY_NOT_FOUND');
        const n = await s.versions.allocate('shop', 's1');
        expect((await rejectionOf(s.versions.mark('shop', n, 'ready'))).code).toBe('ENTITY_CONFLICT'); // never recorded
        await s.configs.create({ app: 'shop', version: n, env: {}, sagaId: 's1' });
        await s.versions.create({ app: 'shop', version: n, sagaId: 's1', image: image(), configVersion: n, processes });
        expect((await s.versions.mark('shop', n, 'failed')).status).toBe('failed');
        const before = await snapshot(kv);
        expect((await s.versions.mark('shop', n, 'failed')).status).toBe('failed');
        expect(await snapshot(kv)).toEqual(before);
        const err = await rejectionOf(s.versions.mark('shop', n, 'active'));
        expect(err).toMatchObject({ code: 'ENTITY_CONFLICT', details: { from: 'failed', to: 'active' } });
        expect(err.message).toContain('cannot go from failed to active');
      });
    });

    describe('the active version', () => {
      it('sets the active version, answering what was before; idempotent for its saga', async () => {
        const v1 = await built('shop', 's1');
        expect(await s.apps.setActive('shop', v1, 's1')).toEqual({ previous: null });
        const once = await snapshot(kv);
        now += 5;
        expect(await s.apps.setActive('shop', v1, 's1')).toEqual({ previous: null });
        expect(await snapshot(kv)).toEqual(once);
        const v2 = await built('shop', 's2');
        now += 5;
        expect(await s.apps.setActive('shop', v2, 's2')).toEqual({ previous: v1 });
        expect(await s.apps.setActive('shop', v2, 's2')).toEqual({ previous: v1 });
        expect(await s.apps.get('shop')).toMatchObject({ activeVersion: v2, previousActive: v1, activeSince: T0 + 10, activatedBy: 's2' });
        expect((await s.versions.get('shop', v1))?.status).toBe('retired');
        expect((await s.versions.get('shop', v2))?.status).toBe('active');
      });

      it('undoes its own activation: puts back what was active, repeatable', async () => {
        const v1 = await built('shop', 's1');
        await s.apps.setActive('shop', v1, 's1');
        const v2 = await built('shop', 's2');
        const { previous } = await s.apps.setActive('shop', v2, 's2');
        now += 100;
        expect(await s.apps.restoreActive('shop', 's2', previous)).toEqual({ restored: true, active: v1 });
        const once = await snapshot(kv);
        expect(await s.apps.restoreActive('shop', 's2', previous)).toEqual({ restored: true, active: v1 });
        // An undo that runs without its step's output (it never reported) does the same.
        expect(await s.apps.restoreActive('shop', 's2')).toEqual({ restored: true, active: v1 });
        expect(await snapshot(kv)).toEqual(once);
        expect(await s.apps.get('shop')).toMatchObject({ activeVersion: v1, activeSince: T0 + 100, activatedBy: null, restoredBy: 's2' });
        expect((await s.versions.get('shop', v1))?.status).toBe('active');
        expect((await s.versions.get('shop', v2))?.status).toBe('ready');
      });

      it('never undoes another saga’s newer activation', async () => {
        const v1 = await built('shop', 's1');
        await s.apps.setActive('shop', v1, 's1');
        const v2 = await built('shop', 's2');
        await s.apps.setActive('shop', v2, 's2');
        const before = await snapshot(kv);
        expect(await s.apps.restoreActive('shop', 's1', null)).toEqual({ restored: false, active: v2 });
        expect(await snapshot(kv)).toEqual(before);
        // After s2's undo, s1's late undo still does nothing: v1 is active again, but not by s1's doing anew.
        await s.apps.restoreActive('shop', 's2');
        const after = await snapshot(kv);
        expect(await s.apps.restoreActive('shop', 's1')).toEqual({ restored: false, active: v1 });
        expect(await snapshot(kv)).toEqual(after);
      });

      it('restoring is a no-op for a saga that never activated anything, and on an unknown app', async () => {
        expect(await s.apps.restoreActive('ghost', 's9')).toEqual({ restored: false, active: null });
        const v1 = await built('shop', 's1');
        await s.apps.setActive('shop', v1, 's1');
        const before = await snapshot(kv);
        expect(await s.apps.restoreActive('shop', 's9')).toEqual({ restored: false, active: v1 });
        expect(await snapshot(kv)).toEqual(before);
        expect(await kv.keys('app.ghost')).toEqual([]);
      });

      it('activates only built versions', async () => {
        expect((await rejectionOf(s.apps.setActive('shop', 1, 's1'))).code).toBe('ENTITY_NOT_FOUND');
        const n = await s.versions.allocate('shop', 's1');
        expect((await rejectionOf(s.apps.setActive('shop', n, 's1'))).code).toBe('ENTITY_CONFLICT');
        await s.versions.abandon('shop', 's1');
        expect((await rejectionOf(s.apps.setActive('shop', n, 's1'))).code).toBe('ENTITY_CONFLICT');
        expect((await s.apps.get('shop'))?.activeVersion).toBeNull();
      });
    });

    describe('sandboxes', () => {
      const sb = (id: string, app = 'shop', sagaId = 's1') => ({ id, app, version: 1, sagaId, dir: `/var/lib/jetsaga/sandboxes/${id}` });

      it('creates once per saga; a repeat answers the current record without undoing progress', async () => {
        const a = await s.sandboxes.create(sb('sb1'));
        expect(a).toMatchObject({ id: 'sb1', app: 'shop', version: 1, state: 'starting', port: null, pid: null, startedAt: T0, sagaId: 's1' });
        now += 10;
        const running = await s.sandboxes.update('shop', 'sb1', { state: 'running', port: 41_234, pid: 4242 });
        expect(running).toMatchObject({ state: 'running', port: 41_234, pid: 4242, updatedAt: T0 + 10 });
        expect(await s.sandboxes.create(sb('sb1'))).toEqual(running);
        expect((await rejectionOf(s.sandboxes.create(sb('sb1', 'shop', 's2')))).code).toBe('ENTITY_CONFLICT');
        const before = await snapshot(kv);
        now += 10;
        expect(await s.sandboxes.update('shop', 'sb1', { state: 'running', port: 41_234 })).toEqual(running);
        expect(await snapshot(kv)).toEqual(before);
      });

      it('updates, lists by app and deletes idempotently', async () => {
        await s.sandboxes.create(sb('b'));
        await s.sandboxes.create(sb('a'));
        await s.sandboxes.create(sb('c', 'shop-2'));
        expect((await s.sandboxes.list('shop')).map((x) => x.id)).toEqual(['a', 'b']);
        expect((await s.sandboxes.list()).map((x) => `${x.app}/${x.id}`)).toEqual(['shop/a', 'shop/b', 'shop-2/c']);
        expect((await rejectionOf(s.sandboxes.update('shop', 'zz', { state: 'stopped' }))).code).toBe('ENTITY_NOT_FOUND');
        for (const bad of [{ port: 0 }, { port: 70_000 }, { state: 'bogus' }, { pid: -1 }, { app: 'x' }] as object[]) {
          expect((await rejectionOf(s.sandboxes.update('shop', 'a', bad))).code).toBe('INVALID_ARGUMENT');
        }
        expect(await s.sandboxes.delete('shop', 'a')).toBe(true);
        expect(await s.sandboxes.delete('shop', 'a')).toBe(false);
        expect(await s.sandboxes.delete('shop', 'never')).toBe(false);
        expect(await s.sandboxes.get('shop', 'a')).toBeNull();
        expect((await s.sandboxes.list('shop')).map((x) => x.id)).toEqual(['b']);
      });
    });

    describe('the deployment lock', () => {
      it('is taken by one saga; another gets DEPLOY_LOCKED naming the holder and since when', async () => {
        const got = await s.locks.acquire('shop', 's1');
        expect(got).toEqual({ outcome: 'acquired', lock: { app: 'shop', holder: 's1', since: T0, expiresAt: T0 + 60_000, renewedAt: T0, ttlMs: 60_000 } });
        now += 1_000;
        const err = await rejectionOf(s.locks.acquire('shop', 's2'));
        expect(err).toBeInstanceOf(DeployLockedError);
        expect(err).toMatchObject({ code: 'DEPLOY_LOCKED', status: 409, retryable: true, details: { app: 'shop', holder: 's1', since: T0, expiresAt: T0 + 60_000 } });
        expect(err.message).toContain('saga "s1"');
        expect(err.message).toContain(new Date(T0).toISOString());
        expect(finishedCalls).toEqual(['s1']);
        expect(await s.locks.get('shop')).toEqual(got.lock);
      });

      it('re-acquiring by the holder renews it, keeping since', async () => {
        await s.locks.acquire('shop', 's1');
        now += 30_000;
        const again = await s.locks.acquire('shop', 's1', { ttlMs: 90_000 });
        expect(again).toEqual({ outcome: 'renewed', lock: { app: 'shop', holder: 's1', since: T0, expiresAt: now + 90_000, renewedAt: now, ttlMs: 90_000 } });
        now += 10_000;
        expect(await s.locks.renew('shop', 's1')).toMatchObject({ since: T0, expiresAt: now + 90_000, renewedAt: now });
        expect(await s.locks.renew('shop', 's1', { ttlMs: 5_000 })).toMatchObject({ expiresAt: now + 5_000, ttlMs: 5_000 });
      });

      it('of sagas racing for a free lock exactly one wins', async () => {
        const sagas = Array.from({ length: 8 }, (_, i) => `r${i}`);
        const results = await Promise.allSettled(sagas.map((id) => s.locks.acquire('shop', id)));
        const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [sagas[i]!] : []));
        expect(won).toHaveLength(1);
        const lost = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as DeployLockedError] : []));
        expect(lost).toHaveLength(7);
        for (const e of lost) expect(e).toMatchObject({ code: 'DEPLOY_LOCKED', details: { holder: won[0] } });
        expect((await s.locks.get('shop'))?.holder).toBe(won[0]);
      });

      it('is taken over once expired; the old holder can then neither renew nor release it', async () => {
        await s.locks.acquire('shop', 's1');
        now = T0 + 60_000 - 1;
        expect((await rejectionOf(s.locks.acquire('shop', 's2'))).code).toBe('DEPLOY_LOCKED');
        now = T0 + 60_000;
        const taken = await s.locks.acquire('shop', 's2');
        expect(taken).toMatchObject({ outcome: 'stolen', stolenFrom: { holder: 's1', since: T0, expiresAt: T0 + 60_000, reason: 'expired' }, lock: { holder: 's2', since: now } });
        const lost = await rejectionOf(s.locks.renew('shop', 's1'));
        expect(lost).toMatchObject({ code: 'DEPLOY_LOCK_LOST', retryable: false, details: { app: 'shop', sagaId: 's1', holder: 's2' } });
        const before = await snapshot(kv);
        expect(await s.locks.release('shop', 's1')).toBe(false);
        expect(await snapshot(kv)).toEqual(before);
      });

      it('is taken over from a holder the predicate says is finished', async () => {
        await s.locks.acquire('shop', 's1');
        expect((await rejectionOf(s.locks.acquire('shop', 's2'))).code).toBe('DEPLOY_LOCKED');
        finished.add('s1');
        expect(await s.locks.acquire('shop', 's2')).toMatchObject({ outcome: 'stolen', stolenFrom: { holder: 's1', reason: 'finished' } });
        // A per-call predicate overrides the store's.
        await s.locks.acquire('blog', 's3');
        expect(await s.locks.acquire('blog', 's4', { isFinished: async (id) => id === 's3' })).toMatchObject({ outcome: 'stolen' });
      });

      it('takes over a lock whose stored value cannot be read', async () => {
        await kv.put('lock.shop', new TextEncoder().encode('{"holder": 42'));
        expect(await s.locks.get('shop')).toBeNull();
        expect(await s.locks.acquire('shop', 's1')).toMatchObject({ outcome: 'stolen', stolenFrom: { holder: null, reason: 'unreadable' } });
      });

      it('is released only by its holder; release is idempotent', async () => {
        expect(await s.locks.release('shop', 's1')).toBe(false);
        await s.locks.acquire('shop', 's1');
        expect(await s.locks.release('shop', 's2')).toBe(false);
        expect((await s.locks.get('shop'))?.holder).toBe('s1');
        expect(await s.locks.release('shop', 's1')).toBe(true);
        expect(await s.locks.release('shop', 's1')).toBe(false);
        expect(await s.locks.get('shop')).toBeNull();
        expect((await rejectionOf(s.locks.renew('shop', 's1'))).details).toEqual({ app: 'shop', sagaId: 's1', holder: null });
        expect((await s.locks.acquire('shop', 's2')).outcome).toBe('acquired');
      });

      it('reconciles: releases the locks of finished or unknown holders, keeps the rest', async () => {
        await s.locks.acquire('a', 'done');
        await s.locks.acquire('b', 'live');
        await s.locks.acquire('c', 'gone');
        await s.locks.acquire('d', 'boom');
        await kv.put('lock.e', new TextEncoder().encode('not json'));
        now += 120_000; // expired, but a live holder's lock is not reconcile's to release
        const report = await s.locks.reconcile(async (id) => {
          if (id === 'boom') throw new Error('saga index unreachable');
          return id !== 'live';
        });
        expect(report.released).toEqual([
          { app: 'a', holder: 'done', since: T0, expiresAt: T0 + 60_000 },
          { app: 'c', holder: 'gone', since: T0, expiresAt: T0 + 60_000 },
          { app: 'e', holder: null, since: null, expiresAt: null },
        ]);
        expect(report.failed).toEqual([{ app: 'd', error: expect.objectContaining({ message: 'saga index unreachable' }) }]);
        expect((await s.locks.list()).map((l) => [l.app, l.holder])).toEqual([
          ['b', 'live'],
          ['d', 'boom'],
        ]);
        expect(await s.locks.reconcile(async () => false)).toEqual({ released: [], failed: [] });
      });

      it('waits for a lock to become free: released, expired, or its holder finished', async () => {
        await s.locks.waitFor('shop'); // free
        await s.locks.acquire('shop', 's1');
        await s.locks.waitFor('shop', { sagaId: 's1' }); // own
        let freed = false;
        const released = s.locks.waitFor('shop', { pollMs: 5 }).then(() => (freed = true));
        await new Promise((r) => setTimeout(r, 30));
        expect(freed).toBe(false);
        await s.locks.release('shop', 's1');
        await released;

        await s.locks.acquire('shop', 's2');
        const expired = s.locks.waitFor('shop', { pollMs: 5 });
        now += 60_000;
        await expired;

        await s.locks.acquire('blog', 's3');
        const done = s.locks.waitFor('blog', { pollMs: 5 });
        finished.add('s3');
        await done;

        const ctl = new AbortController();
        const aborted = s.locks.waitFor('blog', { pollMs: 5, signal: ctl.signal, isFinished: async () => false });
        ctl.abort(new Error('deploy cancelled'));
        expect((await rejectionOf(aborted)).message).toBe('deploy cancelled');
      });
    });

    it('refuses to read a corrupt record, naming its key', async () => {
      await kv.put('ver.shop.1', new TextEncoder().encode('{"app":"shop","version":"one"}'));
      const err = await rejectionOf(s.versions.get('shop', 1));
      expect(err).toMatchObject({ code: 'CORRUPT_ENTRY', details: { key: 'ver.shop.1' } });
    });
  });
}
