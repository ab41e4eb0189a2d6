/**
 * The behaviour every `Journal` must show, run over each implementation (memory in unit tests,
 * JetStream in integration tests), so that a test passing on one passes on the other.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode, JournalConflictError } from '../../src/errors.js';
import type { Journal, JournalEntry } from '../../src/journal/journal.js';

export type JournalFactory = () => Promise<{ journal: Journal; cleanup?: () => Promise<void> }>;

const enc = new TextEncoder();
const dec = new TextDecoder();
const bytes = (s: string): Uint8Array => enc.encode(s);
const text = (e: JournalEntry): string => dec.decode(e.data);

/** Appends `n` entries to a saga, each expecting the previous one; returns their seqs. */
async function chain(j: Journal, sagaId: string, n: number, from = 0): Promise<number[]> {
  const seqs: number[] = [];
  let last = (await j.head(sagaId))?.seq ?? 0;
  for (let i = from; i < from + n; i++) {
    const r = await j.append(sagaId, bytes(`${sagaId}-${i}`), { expectedLastSeq: last, msgId: `${sagaId}:${i}` });
    expect(r.duplicate).toBe(false);
    last = r.seq;
    seqs.push(r.seq);
  }
  return seqs;
}

async function collect(it: AsyncIterable<JournalEntry>): Promise<JournalEntry[]> {
  const out: JournalEntry[] = [];
  for await (const e of it) out.push(e);
  return out;
}

async function conflictOf(p: Promise<unknown>): Promise<JournalConflictError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(JournalConflictError);
  return err as JournalConflictError;
}

export function describeJournalContract(name: string, factory: JournalFactory): void {
  describe(`Journal contract: ${name}`, () => {
    let j: Journal;
    let cleanup: (() => Promise<void>) | undefined;

    beforeEach(async () => {
      ({ journal: j, cleanup } = await factory());
    });
    afterEach(async () => {
      await cleanup?.();
    });

    it('starts empty', async () => {
      expect(await j.lastSeq()).toBe(0);
      expect(await j.listSagas()).toEqual(new Map());
      expect(await collect(j.scan())).toEqual([]);
    });

    it('keeps the entries of a saga in order, with their msgIds', async () => {
      const seqs = await chain(j, 'order-1', 5);
      const entries = await j.read('order-1');
      expect(entries.map((e) => e.seq)).toEqual(seqs);
      expect(entries.map(text)).toEqual(['order-1-0', 'order-1-1', 'order-1-2', 'order-1-3', 'order-1-4']);
      expect(entries.map((e) => e.msgId)).toEqual(seqs.map((_, i) => `order-1:${i}`));
      expect(entries.every((e) => e.sagaId === 'order-1')).toBe(true);
      expect(await j.lastSeq()).toBe(seqs[4]);
    });

    it('reads sagas longer than a handful of entries completely', async () => {
      await chain(j, 'long', 40);
      await chain(j, 'other', 3);
      await chain(j, 'long', 5, 40);
      const entries = await j.read('long');
      expect(entries.map(text)).toEqual(Array.from({ length: 45 }, (_, i) => `long-${i}`));
      const tail = await j.read('long', { fromSeq: (entries[30] as JournalEntry).seq });
      expect(tail.map(text)).toEqual(Array.from({ length: 15 }, (_, i) => `long-${i + 30}`));
    });

    it('numbers entries across sagas with one increasing sequence', async () => {
      const seen: number[] = [];
      let a = 0;
      let b = 0;
      for (let i = 0; i < 4; i++) {
        a = (await j.append('saga-a', bytes(`a${i}`), { expectedLastSeq: a, msgId: `a:${i}` })).seq;
        seen.push(a);
        b = (await j.append('saga-b', bytes(`b${i}`), { expectedLastSeq: b, msgId: `b:${i}` })).seq;
        seen.push(b);
      }
      expect([...seen].sort((x, y) => x - y)).toEqual(seen);
      expect(new Set(seen).size).toBe(seen.length);
      const aSeqs = (await j.read('saga-a')).map((e) => e.seq);
      expect(aSeqs).toEqual([seen[0], seen[2], seen[4], seen[6]]);
    });

    it('refuses a stale expectedLastSeq with JournalConflictError carrying the actual last seq', async () => {
      const [s1, s2] = await chain(j, 'conflict', 2);
      const err = await conflictOf(j.append('conflict', bytes('late'), { expectedLastSeq: s1 as number, msgId: 'conflict:late' }));
      expect(err.code).toBe(ErrorCode.JournalConflict);
      expect(err.code).toBe('JOURNAL_CONFLICT');
      expect(err.actualLastSeq).toBe(s2);
      expect(err.expectedLastSeq).toBe(s1);
      expect(err.sagaId).toBe('conflict');
      expect((await j.read('conflict')).length).toBe(2);
    });

    it('refuses expectedLastSeq 0 for a saga that has entries', async () => {
      const [s1] = await chain(j, 'taken', 1);
      const err = await conflictOf(j.append('taken', bytes('again'), { expectedLastSeq: 0, msgId: 'taken:other' }));
      expect(err.code).toBe('JOURNAL_CONFLICT');
      expect(err.actualLastSeq).toBe(s1);
    });

    it('refuses an expectation on a saga that has no entries', async () => {
      const [s1] = await chain(j, 'elsewhere', 1);
      const err = await conflictOf(j.append('empty-one', bytes('x'), { expectedLastSeq: s1 as number, msgId: 'empty-one:0' }));
      expect(err.actualLastSeq ?? 0).toBe(0);
    });

    it('lets exactly one of two racing writers win', async () => {
      const [s1] = await chain(j, 'race', 1);
      const results = await Promise.allSettled([
        j.append('race', bytes('w1'), { expectedLastSeq: s1 as number, msgId: 'race:w1' }),
        j.append('race', bytes('w2'), { expectedLastSeq: s1 as number, msgId: 'race:w2' }),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const rejected = results.find((r) => r.status === 'rejected');
      expect((rejected as PromiseRejectedResult).reason).toBeInstanceOf(JournalConflictError);
      expect((await j.read('race')).length).toBe(2);
    });

    it('acknowledges a repeated msgId with the first seq, even with a now-stale expectation', async () => {
      const first = await j.append('idem', bytes('one'), { expectedLastSeq: 0, msgId: 'idem:1' });
      expect(first.duplicate).toBe(false);
      const again = await j.append('idem', bytes('one'), { expectedLastSeq: 0, msgId: 'idem:1' });
      expect(again).toMatchObject({ seq: first.seq, duplicate: true });
      const second = await j.append('idem', bytes('two'), { expectedLastSeq: first.seq, msgId: 'idem:2' });
      const retry = await j.append('idem', bytes('one'), { expectedLastSeq: 0, msgId: 'idem:1' });
      expect(retry).toMatchObject({ seq: first.seq, duplicate: true });
      const entries = await j.read('idem');
      expect(entries.map((e) => e.seq)).toEqual([first.seq, second.seq]);
      expect(entries.map(text)).toEqual(['one', 'two']);
    });

    it('a repeated msgId with other bytes, or on another saga, is a conflict, never an ack', async () => {
      // The msgId is checked before the expectation: a "duplicate" ack says only that some
      // message with that id is stored. Taken as success, a writer would act on an event that
      // was never journaled (issue 7, item 1).
      const first = await j.append('dup', bytes('done.reserve'), { expectedLastSeq: 0, msgId: 'dup:2:copy' });
      const other = await conflictOf(j.append('dup', bytes('saga.cancel'), { expectedLastSeq: first.seq, msgId: 'dup:2:copy' }));
      expect(other.code).toBe(ErrorCode.JournalConflict);
      await conflictOf(j.append('dup-other', bytes('done.reserve'), { expectedLastSeq: 0, msgId: 'dup:2:copy' }));
      // The same bytes under the same id are this append's own earlier attempt.
      expect(await j.append('dup', bytes('done.reserve'), { expectedLastSeq: 0, msgId: 'dup:2:copy' })).toMatchObject({ seq: first.seq, duplicate: true });
      expect((await j.read('dup')).map(text)).toEqual(['done.reserve']);
      expect(await j.read('dup-other')).toEqual([]);
    });

    it('refuses an entry larger than maxEntryBytes, storing nothing', async () => {
      const big = new Uint8Array(j.maxEntryBytes + 1);
      await expect(j.append('big', big, { expectedLastSeq: 0, msgId: 'big:1' })).rejects.toMatchObject({ code: ErrorCode.EntryTooLarge });
      expect(await j.read('big')).toEqual([]);
      const fits = new Uint8Array(j.maxEntryBytes);
      expect((await j.append('big', fits, { expectedLastSeq: 0, msgId: 'big:2' })).duplicate).toBe(false);
    });

    it('reads from a sequence', async () => {
      const seqs = await chain(j, 'from', 4);
      await chain(j, 'noise', 2);
      const tail = await j.read('from', { fromSeq: seqs[2] as number });
      expect(tail.map((e) => e.seq)).toEqual(seqs.slice(2));
      expect(await j.read('from', { fromSeq: (seqs[3] as number) + 1 })).toEqual([]);
      // a fromSeq between two entries starts at the next one
      const between = await j.read('from', { fromSeq: (seqs[1] as number) + 1 });
      expect(between[0]?.seq).toBe(seqs[2]);
    });

    it('reads an unknown saga as empty', async () => {
      expect(await j.read('nobody')).toEqual([]);
      await chain(j, 'somebody', 2);
      expect(await j.read('nobody')).toEqual([]);
    });

    it('reports the head of a saga', async () => {
      expect(await j.head('headless')).toBeNull();
      const seqs = await chain(j, 'headed', 3);
      expect(await j.head('headed')).toEqual({ seq: seqs[2], msgId: 'headed:2' });
    });

    it('lists sagas with their entry counts', async () => {
      await chain(j, 'l1', 3);
      await chain(j, 'l2', 1);
      await chain(j, 'l3', 2);
      expect(await j.listSagas()).toEqual(
        new Map([
          ['l1', 3],
          ['l2', 1],
          ['l3', 2],
        ]),
      );
    });

    it('purges a saga idempotently, after which it can start again', async () => {
      await chain(j, 'gone', 3);
      await chain(j, 'stays', 2);
      await j.purge('gone');
      expect(await j.read('gone')).toEqual([]);
      expect(await j.head('gone')).toBeNull();
      expect(await j.listSagas()).toEqual(new Map([['stays', 2]]));
      await j.purge('gone');
      await j.purge('never-was');
      const restarted = await j.append('gone', bytes('new life'), { expectedLastSeq: 0, msgId: 'gone:new-0' });
      expect(restarted.duplicate).toBe(false);
      expect((await j.read('gone')).map(text)).toEqual(['new life']);
      expect((await j.read('stays')).length).toBe(2);
    });

    it('scans all sagas in journal order from a seq, optionally only some sagas', async () => {
      const a = await chain(j, 'sa', 2);
      const b = await chain(j, 'sb', 2);
      const c = await chain(j, 'sc', 1);
      await chain(j, 'sa', 1, 2);
      const all = await collect(j.scan());
      expect(all.map((e) => `${e.sagaId}:${text(e)}`)).toEqual(['sa:sa-0', 'sa:sa-1', 'sb:sb-0', 'sb:sb-1', 'sc:sc-0', 'sa:sa-2']);
      expect(all.map((e) => e.seq)).toEqual([...all.map((e) => e.seq)].sort((x, y) => x - y));
      const fromB = await collect(j.scan({ fromSeq: b[1] }));
      expect(fromB.map((e) => e.seq)).toEqual([b[1], c[0], all[5]?.seq]);
      const onlyA = await collect(j.scan({ sagaIds: new Set(['sa']) }));
      expect(onlyA.map(text)).toEqual(['sa-0', 'sa-1', 'sa-2']);
      const aFromSecond = await collect(j.scan({ fromSeq: a[1], sagaIds: new Set(['sa', 'sc']) }));
      expect(aFromSecond.map(text)).toEqual(['sa-1', 'sc-0', 'sa-2']);
      expect(await collect(j.scan({ fromSeq: (await j.lastSeq()) + 1 }))).toEqual([]);
      expect(all[0]?.msgId).toBe('sa:0');
    });

    it('scans skip purged sagas and stop at the last seq seen when the scan began', async () => {
      await chain(j, 'p1', 2);
      await chain(j, 'p2', 2);
      await j.purge('p1');
      const iter = j.scan()[Symbol.asyncIterator]();
      const first = await iter.next();
      expect(first.done).toBe(false);
      expect((first.value as JournalEntry).sagaId).toBe('p2');
      await chain(j, 'p3', 2);
      const rest: JournalEntry[] = [];
      for (let r = await iter.next(); !r.done; r = await iter.next()) rest.push(r.value);
      expect(rest.map((e) => e.sagaId)).toEqual(['p2']);
    });

    it('stops a scan when its signal aborts', async () => {
      await chain(j, 'ab', 3);
      const ctl = new AbortController();
      const seen: JournalEntry[] = [];
      const run = (async () => {
        for await (const e of j.scan({ signal: ctl.signal })) {
          seen.push(e);
          ctl.abort(new Error('enough'));
        }
      })();
      await expect(run).rejects.toThrow('enough');
      expect(seen).toHaveLength(1);
    });

    it('refuses invalid saga ids with InvalidArgumentError', async () => {
      for (const bad of ['', 'a.b', 'a*', 'a>', 'with space', 'x'.repeat(129)]) {
        await expect(j.append(bad, bytes('x'), { expectedLastSeq: 0, msgId: 'bad' })).rejects.toMatchObject({
          code: 'INVALID_ARGUMENT',
        });
        await expect(j.read(bad)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
        await expect(j.head(bad)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
        await expect(j.purge(bad)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      }
      expect(await j.lastSeq()).toBe(0);
    });

    it('round-trips binary data byte for byte, and empty data', async () => {
      const all = Uint8Array.from({ length: 512 }, (_, i) => (i * 7 + 3) % 256);
      all[0] = 0;
      all[1] = 0xff;
      const r1 = await j.append('bin', all, { expectedLastSeq: 0, msgId: 'bin:0' });
      await j.append('bin', new Uint8Array(0), { expectedLastSeq: r1.seq, msgId: 'bin:1' });
      const [e1, e2] = await j.read('bin');
      expect(Buffer.from(e1?.data ?? []).equals(Buffer.from(all))).toBe(true);
      expect(e2?.data.length).toBe(0);
      const scanned = await collect(j.scan());
      expect(Buffer.from(scanned[0]?.data ?? []).equals(Buffer.from(all))).toBe(true);
    });

    it('is not affected by the caller changing its buffers afterwards', async () => {
      const data = bytes('original');
      await j.append('alias', data, { expectedLastSeq: 0, msgId: 'alias:0' });
      data.fill(0);
      const [e] = await j.read('alias');
      expect(text(e as JournalEntry)).toBe('original');
      (e as JournalEntry).data.fill(0);
      expect(text((await j.read('alias'))[0] as JournalEntry)).toBe('original');
    });
  });
}
