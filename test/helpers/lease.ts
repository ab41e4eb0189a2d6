/**
 * Simulated time for coordinator leases: after a simulated crash (`close({ graceful: false })`)
 * the dead coordinator's lease would lapse once its TTL has passed; `expireLease` makes it so at
 * once, as a test that does not wait on the clock needs.
 */
import type { KvStore } from '../../src/journal/kv-store.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { RuntimeStores } from '../../src/runtime/stores.js';

/** Marks `owner`'s lease lapsed (expiresAt 0), keeping the rest of its record (its low-water seq). */
export async function expireLease(coordinators: KvStore, owner: string): Promise<void> {
  const entry = await coordinators.get(owner);
  if (!entry) return;
  const record = JSON.parse(new TextDecoder().decode(entry.value)) as Record<string, unknown>;
  await coordinators.put(owner, new TextEncoder().encode(JSON.stringify({ ...record, expiresAt: 0 })));
}

/** A crash of `rt` (nothing flushed or released), then its lease lapsing. */
export async function crash(rt: Runtime, stores: Pick<RuntimeStores, 'coordinators'>): Promise<void> {
  await rt.close({ graceful: false });
  await expireLease(stores.coordinators, rt.owner);
}
