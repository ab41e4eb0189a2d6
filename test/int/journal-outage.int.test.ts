/**
 * Appends keep flowing through a server crash: the server is SIGKILLed while writers append,
 * restarted on the same port and store, and every append in flight must resolve afterwards,
 * with nothing lost, nothing stored twice and every expected-sequence chain intact.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openJetStreamJournal, type JetStreamJournal } from '../../src/journal/jetstream-journal.js';
import { connectNats } from '../../src/nats/connect.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';

const WRITERS = 8;
const ENTRIES = 60;
const KILL_AFTER = 120;

let server: NatsServerHandle;
let nc: NatsConnection;
let journal: JetStreamJournal;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ servers: server.url, name: 'journal-outage-test' });
  // A short ack timeout makes the retries after the restart come quickly.
  journal = await openJetStreamJournal(nc, { stream: 'OUTAGE', subjectPrefix: 'outage.ev', publishTimeoutMs: 500 });
});

afterAll(async () => {
  await journal?.close();
  await nc?.close();
  await server?.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('JetStreamJournal across a server crash', () => {
  it('resolves the appends in flight after a restart, losing and duplicating nothing', async () => {
    let appended = 0;
    // 0: up, 1: killed, 2: restarted. An append that starts before 2 and ends in 2 was in
    // flight across the outage.
    let phase = 0;
    let spanningOutage = 0;

    const writer = async (sagaId: string): Promise<number[]> => {
      const seqs: number[] = [];
      let last = 0;
      for (let i = 0; i < ENTRIES; i++) {
        const startedIn = phase;
        const r = await journal.append(sagaId, new TextEncoder().encode(`${sagaId}#${i}`), {
          expectedLastSeq: last,
          msgId: `${sagaId}:${i}`,
        });
        if (startedIn < 2 && phase === 2) spanningOutage++;
        last = r.seq;
        seqs.push(r.seq);
        appended++;
      }
      return seqs;
    };

    const ids = Array.from({ length: WRITERS }, (_, w) => `w${w}`);
    const writers = Promise.all(ids.map(writer));

    while (appended < KILL_AFTER) await sleep(1);
    phase = 1;
    await server.kill();
    await sleep(700);
    await server.restart();
    phase = 2;

    const returned = await writers;
    expect(appended).toBe(WRITERS * ENTRIES);
    expect(spanningOutage).toBeGreaterThan(0);

    for (const [w, sagaId] of ids.entries()) {
      const entries = await journal.read(sagaId);
      expect(entries.map((e) => e.msgId)).toEqual(Array.from({ length: ENTRIES }, (_, i) => `${sagaId}:${i}`));
      expect(entries.map((e) => new TextDecoder().decode(e.data))).toEqual(Array.from({ length: ENTRIES }, (_, i) => `${sagaId}#${i}`));
      // the seqs the writers chained their expectations on are the stored ones
      expect(entries.map((e) => e.seq)).toEqual(returned[w]);
    }
    const si = await (await jetstreamManager(nc)).streams.info('OUTAGE');
    expect(si.state.messages).toBe(WRITERS * ENTRIES);
    expect(await journal.listSagas()).toEqual(new Map(ids.map((id) => [id, ENTRIES])));
  });
});
