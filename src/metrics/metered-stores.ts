/**
 * Store decorators that time what matters to operators without touching the runtime: every
 * journal append (its latency is the floor of every transition), and the coordinator lease's
 * renewals (a CAS on the coordinator's own key in the coordinators bucket).
 */
import type { Journal } from '../journal/journal.js';
import type { KvStore } from '../journal/kv-store.js';
import type { RuntimeStores } from '../runtime/stores.js';

export interface StoreMeters {
  /** An append settled after `seconds`; `ok` false when it threw (a conflict, an outage). */
  append(seconds: number, ok: boolean): void;
  /** A renewal of `owner`'s lease record succeeded or failed. */
  leaseRenewal(ok: boolean): void;
}

export function meteredJournal(journal: Journal, meters: StoreMeters): Journal {
  return {
    get maxEntryBytes() {
      return journal.maxEntryBytes;
    },
    async append(sagaId, data, options) {
      const t0 = process.hrtime.bigint();
      try {
        const r = await journal.append(sagaId, data, options);
        meters.append(Number(process.hrtime.bigint() - t0) / 1e9, true);
        return r;
      } catch (e) {
        meters.append(Number(process.hrtime.bigint() - t0) / 1e9, false);
        throw e;
      }
    },
    read: (sagaId, options) => journal.read(sagaId, options),
    scan: (options) => journal.scan(options),
    head: (sagaId) => journal.head(sagaId),
    listSagas: () => journal.listSagas(),
    purge: (sagaId) => journal.purge(sagaId),
    lastSeq: () => journal.lastSeq(),
    ...(journal.appendLoad ? { appendLoad: () => journal.appendLoad!() } : {}),
  };
}

/** Counts CAS updates of `owner`'s key: the lease's renewals (acquire and release included). */
export function meteredLeaseKv(kv: KvStore, owner: string, meters: StoreMeters): KvStore {
  return {
    bucket: kv.bucket,
    get: (key) => kv.get(key),
    create: (key, value) => kv.create(key, value),
    async update(key, value, revision) {
      if (key !== owner) return kv.update(key, value, revision);
      try {
        const r = await kv.update(key, value, revision);
        meters.leaseRenewal(true);
        return r;
      } catch (e) {
        meters.leaseRenewal(false);
        throw e;
      }
    },
    put: (key, value) => kv.put(key, value),
    delete: (key, options) => kv.delete(key, options),
    keys: (prefix) => kv.keys(prefix),
  };
}

/** The stores with the journal and the lease bucket metered; everything else passes through. */
export function meteredStores(stores: RuntimeStores, owner: string, meters: StoreMeters): RuntimeStores {
  return {
    ...stores,
    journal: meteredJournal(stores.journal, meters),
    coordinators: meteredLeaseKv(stores.coordinators, owner, meters),
  };
}
