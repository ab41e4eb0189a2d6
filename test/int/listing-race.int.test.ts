/**
 * Regression: listing open sagas while their records are being replaced (takeovers, status
 * changes) used to hang: the consumer waited for the last record, which had been deleted. The
 * same for a journal scan whose last entries are purged. Each read must end, and must still
 * return exactly what was there throughout.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats } from '../../src/nats/connect.js';
import { openJetStreamIndexStore } from '../../src/journal/jetstream-index-store.js';
import { openJetStreamJournal, type JetStreamJournal } from '../../src/journal/jetstream-journal.js';
import { openNatsKvStore } from '../../src/journal/nats-kv-store.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';

let server: NatsServerHandle;
let nc: NatsConnection;
beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ servers: server.url });
});
afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

const within = <T>(p: Promise<T>, ms: number): Promise<T> =>
  Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms))]);

it('listOpen answers while every record is being superseded, listing each saga once', async () => {
  const index = await openJetStreamIndexStore(nc, { stream: 'RACE_INDEX', subjectPrefix: 'race.idx' });
  const now = 1_700_000_000_000;
  const revs = new Map<string, number>();
  const ids = Array.from({ length: 300 }, (_, i) => `s${i}`).sort();
  for (let i = 0; i < 300; i++) {
    const { entry } = await index.create({ sagaId: `s${i}`, machine: 'm@1', status: 'running', owner: 'a', epoch: 1, createdAt: now, updatedAt: now });
    revs.set(`s${i}`, entry.revision);
  }
  let stop = false;
  const churn = (async () => {
    for (let round = 2; !stop; round++) {
      await Promise.all([...revs].map(async ([id, rev]) => {
        const e = await index.update({ sagaId: id, machine: 'm@1', status: 'running', owner: 'b', epoch: round, createdAt: now, updatedAt: now + round }, rev);
        revs.set(id, e.revision);
      }));
    }
  })();
  for (let i = 0; i < 15; i++) {
    const page = await within(index.listOpen({ limit: 1000 }), 30_000);
    // No record ever goes away (an update replaces it), so every saga is listed, once, sorted,
    // each as one of its writers wrote it (epoch 1 by a, later ones by b).
    expect(page.entries.map((e) => e.record.sagaId)).toEqual(ids);
    expect(page.next).toBeUndefined();
    for (const e of page.entries) expect(e.record.epoch === 1 ? 'a' : 'b').toBe(e.record.owner);
  }
  stop = true;
  await churn;
}, 120_000);

describe('a journal scan whose sagas are purged', () => {
  // One-entry sagas, more than a scan fetches at once (5,000), so that a scan is still reading
  // when purges land. Odd ones among the last 1,000 are purged, the last entry among them, so
  // that a read waiting for the journal's last seq would wait forever. The rest stay.
  const N = 6_000;
  const ids = Array.from({ length: N }, (_, i) => `j${i}`);
  const isPurged = (i: number): boolean => i >= N - 1_000 && i % 2 === 1;
  const purged = ids.filter((_, i) => isPurged(i));

  /** The journal, and the sagas kept in journal order. */
  async function journalWithSagas(stream: string): Promise<{ journal: JetStreamJournal; kept: string[] }> {
    const journal = await openJetStreamJournal(nc, { stream, subjectPrefix: `${stream.toLowerCase()}.ev` });
    const seqOf = new Map<string, number>();
    // A hundred appends in flight at a time.
    for (let i = 0; i < N; i += 100) {
      await Promise.all(ids.slice(i, i + 100).map(async (id) => seqOf.set(id, (await journal.append(id, new TextEncoder().encode('{}'), { expectedLastSeq: 0, msgId: id })).seq)));
    }
    const kept = ids.filter((_, i) => !isPurged(i)).sort((a, b) => seqOf.get(a)! - seqOf.get(b)!);
    return { journal, kept };
  }

  it('purged before the scan: it ends, with exactly the sagas left', async () => {
    const { journal, kept } = await journalWithSagas('RACE_EV_BEFORE');
    const end = await journal.lastSeq();
    await Promise.all(purged.map((id) => journal.purge(id)));
    // Purging does not lower the journal's last seq: the scan still aims at the purged entry.
    expect(await journal.lastSeq()).toBe(end);
    const seen: string[] = [];
    await within((async () => { for await (const e of journal.scan()) seen.push(e.sagaId); })(), 30_000);
    expect(seen).toEqual(kept);
  });

  /**
   * Scans `journal`, purging the `purged` sagas once the scan has begun (its end fixed, its first
   * entry read) and before it reads on. Whether a purged entry is read depends on how much the
   * scan had fetched before the purges.
   */
  async function scanWhilePurging(journal: JetStreamJournal): Promise<Array<{ id: string; seq: number }>> {
    const seen: Array<{ id: string; seq: number }> = [];
    await within((async () => {
      const it = journal.scan()[Symbol.asyncIterator]();
      const first = await it.next();
      if (!first.done) seen.push({ id: first.value.sagaId, seq: first.value.seq });
      await Promise.all(purged.map((id) => journal.purge(id)));
      for (let r = await it.next(); !r.done; r = await it.next()) seen.push({ id: r.value.sagaId, seq: r.value.seq });
    })(), 60_000);
    const seenIds = seen.map((e) => e.id);
    // Nothing unknown, nothing twice, in journal order.
    expect(seenIds.filter((id) => !ids.includes(id))).toEqual([]);
    expect(new Set(seenIds).size).toBe(seenIds.length);
    expect(seen.map((e) => e.seq)).toEqual([...seen.map((e) => e.seq)].sort((a, b) => a - b));
    return seen;
  }

  it('purged while it reads: it ends, with nothing twice, nothing unknown and in order', async () => {
    // (It used to fetch for ever: after a short batch the ordered read asked the consumer's
    // cached info how much was pending.)
    const { journal } = await journalWithSagas('RACE_EV_ENDS');
    await scanWhilePurging(journal);
  }, 90_000);

  // Skipped for a nats-server 2.9.10 bug: it moves a consumer filtered on `<prefix>.>` past every
  // message up to a filtered purge's last seq (fixed upstream in nats-io/nats-server#3838), so
  // kept sagas among purged ones are skipped. jetsaga never purges a saga's journal while it
  // runs (finished sagas stay), so no scan of its own meets this; an operator's purge could.
  it.skip('purged while it reads: every saga left is read', async () => {
    const { journal, kept } = await journalWithSagas('RACE_EV_DURING');
    const seen = await scanWhilePurging(journal);
    expect(seen.map((e) => e.id).filter((id) => kept.includes(id))).toEqual(kept);
  }, 90_000);
});

// NatsKvStore.keys() used to be the KV client's keys(), which on nats-server 2.9.10 can wait
// for good when a key is rewritten while it lists (nats-io/nats-server#3481); jetsaga lists keys
// in bulk recovery (checkpoints, rewritten by live coordinators) and in `jetsaga boot status`
// (readiness records, rewritten by dependencies in backoff).
it('NatsKvStore.keys ends while a record is rewritten under it', async () => {
  const kv = await openNatsKvStore(nc, 'race_keys');
  const keys = ['c1.a', 'c1.b', 'c1.c', 'c1.d', 'c1.e', 'c1.f', 'c1.g', 'c1.h'];
  for (const k of keys) await kv.put(k, new TextEncoder().encode('0'));
  let stop = false;
  const rewriting = (async () => {
    for (let n = 1; !stop; n++) {
      await kv.put('c1.h', new TextEncoder().encode(String(n)));
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  try {
    for (let i = 0; i < 500; i++) expect(await within(kv.keys('c1.'), 30_000)).toEqual(keys);
  } finally {
    stop = true;
    await rewriting;
  }
}, 120_000);
