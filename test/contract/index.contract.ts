/** The behaviour every `IndexStore` must show, run over the memory store and the JetStream one. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KvConflictError } from '../../src/errors.js';
import { SagaStatus, type IndexRecord, type IndexStore } from '../../src/journal/index-store.js';

export type IndexFactory = () => Promise<{ index: IndexStore; cleanup?: () => Promise<void> }>;

function rec(sagaId: string, patch: Partial<IndexRecord> = {}): IndexRecord {
  return {
    sagaId,
    machine: 'order@1',
    status: SagaStatus.Running,
    owner: 'coord-a',
    epoch: 1,
    createdAt: 1_700_000_000_000,
    updatedAt: 1_700_000_000_000,
    ...patch,
  };
}

async function conflictOf(p: Promise<unknown>): Promise<KvConflictError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(KvConflictError);
  expect((err as KvConflictError).code).toBe('KV_CONFLICT');
  return err as KvConflictError;
}

export function describeIndexContract(name: string, factory: IndexFactory): void {
  describe(`IndexStore contract: ${name}`, () => {
    let index: IndexStore;
    let cleanup: (() => Promise<void>) | undefined;

    beforeEach(async () => {
      ({ index, cleanup } = await factory());
    });
    afterEach(async () => {
      await cleanup?.();
    });

    it('creates a record once and returns the existing one afterwards', async () => {
      expect(await index.get('s1')).toBeNull();
      const first = await index.create(rec('s1'));
      expect(first.created).toBe(true);
      expect(first.entry.record).toEqual(rec('s1'));
      expect(first.entry.revision).toBeGreaterThan(0);
      expect(await index.get('s1')).toEqual(first.entry);
      const second = await index.create(rec('s1', { owner: 'coord-b' }));
      expect(second.created).toBe(false);
      expect(second.entry).toEqual(first.entry);
    });

    it('updates at the current revision only', async () => {
      const { entry } = await index.create(rec('u1'));
      const updated = await index.update(rec('u1', { status: SagaStatus.Compensating, updatedAt: 2 }), entry.revision);
      expect(updated.revision).toBeGreaterThan(entry.revision);
      expect(updated.record.status).toBe(SagaStatus.Compensating);
      expect(await index.get('u1')).toEqual(updated);
      const err = await conflictOf(index.update(rec('u1', { owner: 'coord-b', epoch: 2 }), entry.revision));
      expect(err.key).toBe('u1');
      expect((await index.get('u1'))?.record.owner).toBe('coord-a');
      const takeover = await index.update(rec('u1', { owner: 'coord-b', epoch: 2 }), updated.revision);
      expect((await index.get('u1'))?.record).toEqual(takeover.record);
    });

    it('refuses to update a saga without an open record', async () => {
      const { entry } = await index.create(rec('exists'));
      await conflictOf(index.update(rec('missing'), entry.revision));
      expect(await index.get('missing')).toBeNull();
    });

    it('finishes a saga: it moves from the open list to the finished list', async () => {
      const { entry } = await index.create(rec('f1'));
      await index.create(rec('f2'));
      const done = rec('f1', { status: SagaStatus.Completed, updatedAt: 5 });
      await index.finish(done);
      expect((await index.get('f1'))?.record).toEqual(done);
      const open = await index.listOpen();
      expect(open.entries.map((e) => e.record.sagaId)).toEqual(['f2']);
      expect(open.next).toBeUndefined();
      const finished = await index.listFinished();
      expect(finished.entries.map((e) => e.record)).toEqual([done]);
      // finishing again is harmless
      await index.finish(done);
      expect((await index.listFinished()).entries).toHaveLength(1);
      // a finished saga is not re-opened, and its old revision is dead
      const again = await index.create(rec('f1', { owner: 'coord-z' }));
      expect(again.created).toBe(false);
      expect(again.entry.record).toEqual(done);
      expect((await index.listOpen()).entries.map((e) => e.record.sagaId)).toEqual(['f2']);
      await conflictOf(index.update(rec('f1'), entry.revision));
      expect((await index.get('f1'))?.record.status).toBe(SagaStatus.Completed);
    });

    it('lists open records sorted by saga id, page by page', async () => {
      const ids = ['m', 'c', 'x', 'a', 'k', 'b', 'z', 'e'];
      for (const id of ids) await index.create(rec(id));
      const sorted = [...ids].sort();
      const pages: string[][] = [];
      let after: string | undefined;
      do {
        const page = await index.listOpen({ after, limit: 3 });
        pages.push(page.entries.map((e) => e.record.sagaId));
        for (const e of page.entries) expect(e.revision).toBeGreaterThan(0);
        after = page.next;
      } while (after !== undefined && pages.length < 10);
      // Full pages until the last one.
      expect(pages).toEqual([sorted.slice(0, 3), sorted.slice(3, 6), sorted.slice(6)]);
      // `after` need not be an existing id
      expect((await index.listOpen({ after: 'd', limit: 2 })).entries.map((e) => e.record.sagaId)).toEqual(['e', 'k']);
      expect((await index.listOpen({ after: 'z' })).entries).toEqual([]);
      const whole = await index.listOpen();
      expect(whole.entries.map((e) => e.record.sagaId)).toEqual(sorted);
      expect(whole.next).toBeUndefined();
      expect((await index.listOpen({ limit: 8 })).next).toBeUndefined();
    });

    it('lists finished records page by page', async () => {
      for (const id of ['q3', 'q1', 'q2']) {
        await index.create(rec(id));
        await index.finish(rec(id, { status: SagaStatus.Compensated }));
      }
      const p1 = await index.listFinished({ limit: 2 });
      expect(p1.entries.map((e) => e.record.sagaId)).toEqual(['q1', 'q2']);
      expect(p1.next).toBe('q2');
      const p2 = await index.listFinished({ after: p1.next, limit: 2 });
      expect(p2.entries.map((e) => e.record.sagaId)).toEqual(['q3']);
      expect(p2.next).toBeUndefined();
      expect((await index.listOpen()).entries).toEqual([]);
    });

    it('removes every trace of a saga, idempotently', async () => {
      await index.create(rec('r1'));
      await index.create(rec('r2'));
      await index.finish(rec('r2', { status: SagaStatus.Cancelled }));
      await index.remove('r1');
      await index.remove('r2');
      await index.remove('r2');
      await index.remove('never');
      expect(await index.get('r1')).toBeNull();
      expect(await index.get('r2')).toBeNull();
      expect((await index.listOpen()).entries).toEqual([]);
      expect((await index.listFinished()).entries).toEqual([]);
      expect((await index.create(rec('r2'))).created).toBe(true);
    });

    it('removes an open record only up to a revision: a record written since is kept', async () => {
      const { entry: first } = await index.create(rec('c1'));
      const later = await index.update(rec('c1', { owner: 'coord-b', epoch: 2 }), first.revision);
      // A removal by a writer that still believes the first revision takes nothing newer.
      await index.remove('c1', { revision: first.revision });
      expect((await index.get('c1'))?.record).toMatchObject({ owner: 'coord-b', epoch: 2 });
      await index.remove('c1', { revision: later.revision });
      expect(await index.get('c1')).toBeNull();
      // A finished record is never removed by a conditional removal.
      await index.create(rec('c2'));
      await index.finish(rec('c2', { status: SagaStatus.Completed }));
      await index.remove('c2', { revision: Number.MAX_SAFE_INTEGER });
      expect((await index.get('c2'))?.record.status).toBe(SagaStatus.Completed);
    });

    it('tells which sagas have a finished record', async () => {
      await index.create(rec('w1'));
      await index.create(rec('w2'));
      await index.finish(rec('w2', { status: SagaStatus.Completed }));
      expect([...(await index.whichFinished(['w1', 'w2', 'nope']))]).toEqual(['w2']);
      expect([...(await index.whichFinished([]))]).toEqual([]);
    });

    it('keeps a parked record with its problem', async () => {
      const { entry } = await index.create(rec('p1'));
      await index.update(rec('p1', { status: SagaStatus.Parked, problem: 'stream full' }), entry.revision);
      expect((await index.get('p1'))?.record).toMatchObject({ status: 'parked', problem: 'stream full' });
      expect((await index.listOpen()).entries.map((e) => e.record.sagaId)).toEqual(['p1']);
    });

    it('refuses invalid saga ids and page limits', async () => {
      await expect(index.create(rec('a.b'))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(index.get('a*')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(index.listOpen({ limit: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    });
  });
}
