/**
 * Regression: listing open sagas while their records are being replaced (takeovers, status
 * changes) used to hang: the consumer waited for the last record, which had been deleted.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectNats } from '../../src/nats/connect.js';
import { openJetStreamIndexStore } from '../../src/journal/jetstream-index-store.js';
import { openJetStreamJournal } from '../../src/journal/jetstream-journal.js';
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

it('listOpen answers while every record is being superseded', async () => {
  const index = await openJetStreamIndexStore(nc, { stream: 'RACE_INDEX', subjectPrefix: 'race.idx' });
  const now = Date.now();
  const revs = new Map<string, number>();
  for (let i = 0; i < 300; i++) {
    const { entry } = await index.create({ sagaId: `s${i}`, machine: 'm@1', status: 'running', owner: 'a', epoch: 1, createdAt: now, updatedAt: now });
    revs.set(`s${i}`, entry.revision);
  }
  let stop = false;
  const churn = (async () => {
    for (let round = 2; !stop; round++) {
      await Promise.all([...revs].map(async ([id, rev]) => {
        const e = await index.update({ sagaId: id, machine: 'm@1', status: 'running', owner: 'b', epoch: round, createdAt: now, updatedAt: Date.now() }, rev);
        revs.set(id, e.revision);
      }));
    }
  })();
  for (let i = 0; i < 15; i++) {
    const page = await within(index.listOpen({ limit: 1000 }), 10_000);
    expect(page.entries.length).toBeGreaterThan(0);
  }
  stop = true;
  await churn;
});

it('a journal scan ends while sagas are purged under it', async () => {
  const journal = await openJetStreamJournal(nc, { stream: 'RACE_EV', subjectPrefix: 'race.ev' });
  for (let i = 0; i < 200; i++) await journal.append(`j${i}`, new TextEncoder().encode('{}'), { expectedLastSeq: 0, msgId: `j${i}` });
  const purging = Promise.all(Array.from({ length: 200 }, (_, i) => journal.purge(`j${199 - i}`)));
  let n = 0;
  await within((async () => { for await (const _ of journal.scan()) n++; })(), 10_000);
  await purging;
  expect(n).toBeLessThanOrEqual(200);
});
