/**
 * The index and the checkpoints stay consistent with the journal where writes race or a
 * process dies between two of them (issue 7, items 3 and 8): `list()` never shows a saga twice,
 * a checkpoint saved while a saga finishes does not outlive it, and a recovery pass stuck on a
 * read is abandoned at its deadline and run again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SagaStatus, type IndexRecord, type IndexStore } from '../../src/journal/index-store.js';
import type { KvStore } from '../../src/journal/kv-store.js';
import { MemoryIndexStore } from '../../src/journal/memory-index-store.js';
import { crash } from '../helpers/lease.js';
import { memoryCluster, type Cluster } from '../helpers/memory-cluster.js';
import { until } from '../helpers/until.js';
import { orderBinding } from '../fixtures/order-saga.js';

let cluster: Cluster;
afterEach(async () => {
  await cluster?.closeAll();
});

/** An index whose `finish` dies half-way while `crashing`: the done record is written, the open one stays. */
class CrashingFinishIndex extends MemoryIndexStore {
  crashing = true;
  readonly #done = new MemoryIndexStore('done-only');

  override async finish(record: IndexRecord): Promise<void> {
    if (this.crashing) {
      await this.#done.finish(record);
      throw new Error('coordinator died between the done record and the purge of the open one');
    }
    await super.finish(record);
    await this.#done.remove(record.sagaId);
  }

  override async whichFinished(sagaIds: readonly string[]): Promise<Set<string>> {
    const inBoth = await this.#done.whichFinished(sagaIds);
    for (const id of await super.whichFinished(sagaIds)) inBoth.add(id);
    return inBoth;
  }

  override async listFinished(options: { after?: string; limit?: number } = {}) {
    const mine = await super.listFinished(options);
    const half = await this.#done.listFinished(options);
    return { entries: [...mine.entries, ...half.entries].sort((a, b) => a.record.sagaId.localeCompare(b.record.sagaId)), next: undefined };
  }
}

describe('list()', () => {
  it('never shows a saga twice, also when a finish died between its two writes; recovery repairs it', async () => {
    const index = new CrashingFinishIndex();
    cluster = memoryCluster((stores) => ({ ...stores, index }));
    const rt = await cluster.open('a', { machines: [orderBinding()] });
    await rt.start('order', { order: 'twice' }, { id: 'twice' });
    await until(async () => (await index.whichFinished(['twice'])).has('twice'));
    // The done record is there and the open one too.
    expect((await index.listOpen()).entries.map((e) => e.record.sagaId)).toEqual(['twice']);
    const listed = (await rt.list()).sagas;
    expect(listed.map((s) => [s.id, s.status])).toEqual([['twice', 'completed']]);
    expect((await rt.list({ status: SagaStatus.Running })).sagas).toEqual([]);

    // The coordinator dies there; another one's recovery repairs the index. (Its own keeper
    // would have retried, and its own passes leave a saga it is finishing alone.)
    await crash(rt, cluster.stores);
    index.crashing = false;
    const b = await cluster.open('b', { machines: [orderBinding()] });
    expect(await b.recover()).toMatchObject({ repaired: 1 });
    expect((await index.listOpen()).entries).toEqual([]);
    expect((await b.list()).sagas.map((s) => s.id)).toEqual(['twice']);
  });

  it('names the machine and its version apart, as get() does', async () => {
    cluster = memoryCluster();
    const rt = await cluster.open('a', { machines: [orderBinding()] });
    await rt.start('order', { order: 'm' }, { id: 'm' });
    const [summary] = (await rt.list()).sagas;
    const info = await rt.get('m');
    expect(summary).toMatchObject({ id: 'm', machine: 'order', version: 1 });
    expect({ machine: summary!.machine, version: summary!.version }).toEqual({ machine: info.machine, version: info.version });
  });
});

describe('a checkpoint saved while its saga finishes', () => {
  it('is deleted after it lands, not before: no checkpoint outlives its saga', async () => {
    let hold: (() => void) | undefined;
    let held = 0;
    cluster = memoryCluster((stores) => {
      const kv = stores.checkpoints;
      const slow: KvStore = {
        bucket: kv.bucket,
        get: (k) => kv.get(k),
        create: (k, v) => kv.create(k, v),
        update: (k, v, r) => kv.update(k, v, r),
        delete: (k, o) => kv.delete(k, o),
        keys: (p) => kv.keys(p),
        // The save of the checkpoint at entry 4 stays on the wire until the saga has finished.
        put: async (k, v) => {
          if (held++ === 1) await new Promise<void>((r) => (hold = r));
          return kv.put(k, v);
        },
      };
      return { ...stores, checkpoints: slow };
    });
    const rt = await cluster.open('a', { machines: [orderBinding()], checkpointEvery: 2 });
    await rt.start('order', { order: 'cp' }, { id: 'cp' });
    await until(() => hold !== undefined);
    expect((await rt.wait('cp', { timeoutMs: 10_000 })).status).toBe(SagaStatus.Completed);
    hold!();
    await until(async () => (await cluster.stores.index.get('cp'))?.record.status === SagaStatus.Completed);
    await until(async () => (await cluster.stores.checkpoints.keys()).length === 0, 2_000).catch(() => undefined);
    expect(await cluster.stores.checkpoints.keys()).toEqual([]);
  });
});

describe('a recovery pass', () => {
  it('stuck on a read is abandoned at its deadline and run again, so a dead coordinator’s sagas are still taken over', async () => {
    let stuck = true;
    cluster = memoryCluster((stores) => {
      const index = stores.index;
      const listOpen: IndexStore['listOpen'] = (o) => (stuck ? new Promise(() => undefined) : index.listOpen(o));
      const sticky = new Proxy(index, {
        get: (target, key) => (key === 'listOpen' ? listOpen : (Reflect.get(target, key) as unknown as (...a: unknown[]) => unknown).bind(target)),
      });
      return { ...stores, index: sticky };
    });
    const dead = await cluster.open('dead', { machines: [orderBinding()] });
    await dead.start('order', { order: 'd', delayMs: { chargeCard: 60_000 } }, { id: 'd' });
    await until(async () => (await dead.get('d')).pending[0]?.id === 'charge');
    await dead.close();

    const b = await cluster.open('b', { machines: [orderBinding()], recoveryPassTimeoutMs: 300 });
    await expect(b.recover()).rejects.toMatchObject({ code: 'TIMEOUT', retryable: true });
    stuck = false;
    // The pass abandoned at its deadline is retried by itself, without anyone asking.
    await until(() => b.loadedSagaIds().includes('d'), 10_000);
    expect((await b.recover()).skippedLoaded).toBe(1);
  });
});
