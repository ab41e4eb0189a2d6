/**
 * The append retry paths of the JetStream journal, driven by a client wrapper that loses acks
 * or refuses requests, against a real server (so that dedupe and 10071 are the server's).
 */
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager, type PubAck } from '@nats-io/jetstream';
import { TimeoutError, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JournalConflictError } from '../../src/errors.js';
import { JetStreamJournal, openJetStreamJournal } from '../../src/journal/jetstream-journal.js';
import { silentLogger } from '../../src/log.js';
import { connectNats } from '../../src/nats/connect.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';

let server: NatsServerHandle;
let nc: NatsConnection;
let jsm: JetStreamManager;
let n = 0;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ servers: server.url });
  jsm = await jetstreamManager(nc);
});

afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

type Publish = JetStreamClient['publish'];

/** A journal whose client runs `publish` through `wrap`; the stream is real. */
async function journalWith(wrap: (real: Publish) => Publish, duplicateWindowMs = 120_000): Promise<{ journal: JetStreamJournal; real: JetStreamJournal }> {
  const i = ++n;
  const stream = `R_${i}`;
  const prefix = `r${i}.ev`;
  const real = await openJetStreamJournal(nc, { stream, subjectPrefix: prefix, duplicateWindowMs });
  const js = jetstream(nc, { timeout: 2_000 });
  const fake = Object.create(js) as JetStreamClient;
  fake.publish = wrap(js.publish.bind(js));
  return { journal: new JetStreamJournal({ nc, js: fake, jsm, stream, subjectPrefix: prefix, logger: silentLogger }), real };
}

const data = new Uint8Array([7]);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('JetStreamJournal append retries', () => {
  it('retries a lost ack with the same msgId and gets the dedupe answer', async () => {
    let calls = 0;
    const { journal } = await journalWith((real) => async (subj, payload, opts) => {
      calls++;
      const pa = await real(subj, payload, opts);
      if (calls === 1) throw new TimeoutError();
      return pa;
    });
    const r = await journal.append('lost', data, { expectedLastSeq: 0, msgId: 'lost:0' });
    expect(r).toMatchObject({ seq: 1, duplicate: true });
    expect(calls).toBe(2);
    expect((await journal.read('lost')).length).toBe(1);
  });

  it('recognises its own write at the head once the dedupe window has passed', async () => {
    let calls = 0;
    const { journal } = await journalWith(
      (real) => async (subj, payload, opts) => {
        calls++;
        const pa = await real(subj, payload, opts);
        if (calls === 1) {
          // the ack is lost and the retry comes after the server forgot the msgId
          await sleep(400);
          throw new TimeoutError();
        }
        return pa;
      },
      100,
    );
    const r = await journal.append('late', data, { expectedLastSeq: 0, msgId: 'late:0' });
    expect(r).toEqual({ seq: 1, duplicate: true });
    expect(calls).toBe(2);
    expect((await journal.read('late')).map((e) => e.msgId)).toEqual(['late:0']);
  });

  it('reports a conflict when the head after an ambiguous attempt is a foreign write', async () => {
    let calls = 0;
    let rival: Promise<PubAck> | undefined;
    const { journal, real } = await journalWith((pub) => async (subj, payload, opts) => {
      calls++;
      if (calls === 1) {
        // our first attempt never reaches the server; meanwhile another writer takes the slot
        rival = real.append('taken', data, { expectedLastSeq: 0, msgId: 'taken:rival' }) as Promise<PubAck>;
        await rival;
        throw new TimeoutError();
      }
      return pub(subj, payload, opts);
    });
    const err = await journal.append('taken', data, { expectedLastSeq: 0, msgId: 'taken:mine' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JournalConflictError);
    expect((err as JournalConflictError).actualLastSeq).toBe((await rival)?.seq);
  });

  it('keeps retrying while the server has no responders, and gives up when the signal aborts', async () => {
    let calls = 0;
    const { journal } = await journalWith(() => async () => {
      calls++;
      throw Object.assign(new Error('jetstream is not enabled'), { name: 'JetStreamNotEnabled' });
    });
    const ctl = new AbortController();
    const pending = journal.append('nobody', data, { expectedLastSeq: 0, msgId: 'nobody:0', signal: ctl.signal });
    while (calls < 3) await sleep(10);
    ctl.abort(new Error('shutting down'));
    await expect(pending).rejects.toThrow('shutting down');
  });

  it('gives up with JournalUnavailableError when the journal closes', async () => {
    let calls = 0;
    const { journal } = await journalWith(() => async () => {
      calls++;
      throw new TimeoutError();
    });
    const pending = journal.append('closing', data, { expectedLastSeq: 0, msgId: 'closing:0' });
    while (calls < 2) await sleep(10);
    await journal.close();
    await expect(pending).rejects.toMatchObject({ code: 'JOURNAL_UNAVAILABLE' });
    await expect(journal.append('closing', data, { expectedLastSeq: 0, msgId: 'closing:1' })).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('does not retry errors that cannot heal', async () => {
    let calls = 0;
    const { journal } = await journalWith(() => async () => {
      calls++;
      throw new Error('boom');
    });
    await expect(journal.append('once', data, { expectedLastSeq: 0, msgId: 'once:0' })).rejects.toThrow('boom');
    expect(calls).toBe(1);
  });
});
