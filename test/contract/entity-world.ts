/**
 * What the entity-store contract suites share: a fresh store per test over the KV under test,
 * with a clock the test moves and a list of sagas that count as finished (what the deployment
 * lock asks before it takes over a lock), and the small helpers their assertions use.
 */
import { afterEach, beforeEach } from 'vitest';
import { createEntityStores, type EntityStores } from '../../src/entities/entity-stores.js';
import type { KvStore } from '../../src/journal/kv-store.js';

/** A fresh, empty store per test. */
export type EntityKvFactory = () => Promise<{ kv: KvStore; cleanup?: () => Promise<void> }>;

/** When every test's clock starts. */
export const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);

export interface EntityWorld {
  kv: KvStore;
  s: EntityStores;
  /** The stores' clock: a test moves it. */
  now: number;
  /** Sagas the stores are told have finished. */
  readonly finished: Set<string>;
  /** The sagas the stores asked about, in order. */
  finishedCalls: string[];
}

/** Registers the per-test set-up and clean-up; the world's fields are set in each test. */
export function useEntityWorld(factory: EntityKvFactory): EntityWorld {
  const w = { now: T0, finished: new Set<string>(), finishedCalls: [] } as unknown as EntityWorld;
  let cleanup: (() => Promise<void>) | undefined;
  beforeEach(async () => {
    let kv: KvStore;
    ({ kv, cleanup } = await factory());
    w.kv = kv;
    w.now = T0;
    w.finished.clear();
    w.finishedCalls = [];
    w.s = createEntityStores(kv, {
      now: () => w.now,
      lockTtlMs: 60_000,
      isFinished: async (id) => {
        w.finishedCalls.push(id);
        return w.finished.has(id);
      },
    });
  });
  afterEach(async () => {
    await cleanup?.();
  });
  return w;
}

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
