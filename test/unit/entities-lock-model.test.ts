/**
 * The deployment lock against a reference model: random sequences of acquire, renew, release,
 * reconcile, clock moves and sagas finishing, each answer and the stored lock compared with
 * what the model says after every step.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createEntityStores } from '../../src/entities/entity-stores.js';
import { MemoryKvStore } from '../../src/journal/memory-kv-store.js';

const APPS = ['shop', 'blog'] as const;
const SAGAS = ['s1', 's2', 's3'] as const;
const TTL = 1_000;

type Op =
  | { readonly kind: 'acquire'; readonly app: string; readonly saga: string; readonly ttlMs: number }
  | { readonly kind: 'renew'; readonly app: string; readonly saga: string }
  | { readonly kind: 'release'; readonly app: string; readonly saga: string }
  | { readonly kind: 'reconcile' }
  | { readonly kind: 'tick'; readonly ms: number }
  | { readonly kind: 'finish'; readonly saga: string };

const app = fc.constantFrom(...APPS);
const saga = fc.constantFrom(...SAGAS);
const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('acquire' as const), app, saga, ttlMs: fc.constantFrom(TTL, 2 * TTL) }), weight: 5 },
  { arbitrary: fc.record({ kind: fc.constant('renew' as const), app, saga }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('release' as const), app, saga }), weight: 3 },
  { arbitrary: fc.constant({ kind: 'reconcile' as const }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.constantFrom(1, TTL / 2, TTL - 1, TTL, 3 * TTL) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('finish' as const), saga }), weight: 1 },
);

interface ModelLock {
  holder: string;
  since: number;
  expiresAt: number;
  ttlMs: number;
  renewedAt: number;
}

async function outcome(p: Promise<unknown>): Promise<unknown> {
  try {
    return { ok: await p };
  } catch (e) {
    const err = e as { code?: string; details?: unknown };
    return { code: err.code, details: err.details };
  }
}

describe('deployment lock model', () => {
  it('answers and stores what the model says, for any sequence of operations', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), async (ops) => {
        let now = 1_000_000;
        const finished = new Set<string>();
        const model = new Map<string, ModelLock>();
        const s = createEntityStores(new MemoryKvStore('model'), { now: () => now, lockTtlMs: TTL, isFinished: async (id) => finished.has(id) });

        for (const o of ops) {
          switch (o.kind) {
            case 'tick':
              now += o.ms;
              continue;
            case 'finish':
              finished.add(o.saga);
              continue;
            case 'acquire': {
              const cur = model.get(o.app);
              const fresh = { holder: o.saga, since: now, expiresAt: now + o.ttlMs, ttlMs: o.ttlMs, renewedAt: now };
              let expected: unknown;
              if (!cur) {
                model.set(o.app, fresh);
                expected = { ok: { outcome: 'acquired', lock: { app: o.app, ...fresh } } };
              } else if (cur.holder === o.saga) {
                Object.assign(cur, { expiresAt: now + o.ttlMs, ttlMs: o.ttlMs, renewedAt: now });
                expected = { ok: { outcome: 'renewed', lock: { app: o.app, ...cur } } };
              } else if (cur.expiresAt <= now || finished.has(cur.holder)) {
                const reason = cur.expiresAt <= now ? 'expired' : 'finished';
                expected = {
                  ok: { outcome: 'stolen', lock: { app: o.app, ...fresh }, stolenFrom: { holder: cur.holder, since: cur.since, expiresAt: cur.expiresAt, reason } },
                };
                model.set(o.app, fresh);
              } else {
                expected = { code: 'DEPLOY_LOCKED', details: { app: o.app, holder: cur.holder, since: cur.since, expiresAt: cur.expiresAt } };
              }
              expect(await outcome(s.locks.acquire(o.app, o.saga, { ttlMs: o.ttlMs }))).toEqual(expected);
              break;
            }
            case 'renew': {
              const cur = model.get(o.app);
              let expected: unknown;
              if (cur?.holder === o.saga) {
                Object.assign(cur, { expiresAt: now + cur.ttlMs, renewedAt: now });
                expected = { ok: { app: o.app, ...cur } };
              } else {
                expected = { code: 'DEPLOY_LOCK_LOST', details: { app: o.app, sagaId: o.saga, holder: cur?.holder ?? null } };
              }
              expect(await outcome(s.locks.renew(o.app, o.saga))).toEqual(expected);
              break;
            }
            case 'release': {
              const mine = model.get(o.app)?.holder === o.saga;
              if (mine) model.delete(o.app);
              expect(await s.locks.release(o.app, o.saga)).toBe(mine);
              break;
            }
            case 'reconcile': {
              const released = [...model.entries()]
                .filter(([, l]) => finished.has(l.holder))
                .map(([a, l]) => ({ app: a, holder: l.holder, since: l.since, expiresAt: l.expiresAt }))
                .sort((x, y) => (x.app < y.app ? -1 : 1));
              for (const r of released) model.delete(r.app);
              expect(await s.locks.reconcile()).toEqual({ released, failed: [] });
              break;
            }
          }
          for (const a of APPS) {
            const m = model.get(a);
            expect(await s.locks.get(a)).toEqual(m ? { app: a, ...m } : null);
          }
        }
      }),
      { numRuns: 150 },
    );
  });
});
