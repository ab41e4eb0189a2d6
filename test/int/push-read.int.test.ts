/**
 * The push-consumer range read (push-read.ts) against a real nats-server: it reads a range in
 * stream order and ends at its bound, skips what `pick` drops, reads the last message of each
 * subject, ends when messages of its range were deleted after it began, outlives a server
 * restart mid-read (its consumer is gone; it reads on after the last message it handled), and
 * leaves no consumer behind however it ends.
 */
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats } from '../../src/nats/connect.js';
import { pushRead, type PushReadOptions } from '../../src/nats/push-read.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';

let server: NatsServerHandle;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ servers: server.url, name: 'push-read-test' });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
});

afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

const encoder = new TextEncoder();
const decoder = new TextDecoder();
let streams = 0;

/** A stream `PR<n>` on `pr<n>.>` holding `count` messages, spread over `subjects` subjects. */
async function streamWith(count: number, subjects: number, size = 16): Promise<{ name: string; prefix: string; last: number }> {
  const n = ++streams;
  const name = `PR${n}`;
  const prefix = `pr${n}`;
  await jsm.streams.add({ name, subjects: [`${prefix}.>`] });
  const pad = 'x'.repeat(Math.max(0, size - 8));
  const acks: Promise<unknown>[] = [];
  for (let i = 1; i <= count; i++) {
    acks.push(js.publish(`${prefix}.s${i % subjects}`, encoder.encode(`${i}:${pad}`)));
    if (acks.length >= 500) await Promise.all(acks.splice(0));
  }
  await Promise.all(acks);
  return { name, prefix, last: (await jsm.streams.info(name)).state.last_seq };
}

interface Seen {
  readonly subject: string;
  readonly seq: number;
  readonly body: string;
}

async function readAll(options: PushReadOptions, keep: (s: Seen) => boolean = () => true): Promise<Seen[]> {
  const out: Seen[] = [];
  const read = pushRead(nc, jsm, options, (subject, seq, m) => {
    const s = { subject, seq, body: decoder.decode(m.data).split(':')[0]! };
    return keep(s) ? s : undefined;
  });
  for await (const batch of read) out.push(...batch);
  return out;
}

async function consumers(stream: string): Promise<number> {
  return (await jsm.streams.info(stream)).state.consumer_count;
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('pushRead', () => {
  it('reads a range in stream order, up to its bound, and removes its consumer', async () => {
    const s = await streamWith(300, 7);
    const seen = await readAll({ stream: s.name, filterSubject: `${s.prefix}.>`, from: { seq: 11 }, untilSeq: 250 });
    expect(seen.map((e) => e.seq)).toEqual(range(11, 250));
    expect(seen.map((e) => Number(e.body))).toEqual(range(11, 250));
    expect(seen[0]!.subject).toBe(`${s.prefix}.s4`);
    expect(await consumers(s.name)).toBe(0);
  });

  it('hands on only what pick keeps, in batches', async () => {
    const s = await streamWith(200, 10);
    const seen = await readAll({ stream: s.name, filterSubject: `${s.prefix}.>`, from: { seq: 1 }, untilSeq: s.last }, (e) => e.subject === `${s.prefix}.s3`);
    expect(seen.map((e) => e.seq)).toEqual(range(1, 200).filter((i) => i % 10 === 3));
  });

  it('ends at its bound while writers keep appending past it', async () => {
    const s = await streamWith(100, 3);
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) await js.publish(`${s.prefix}.late`, encoder.encode(`late${i}:`));
    })();
    try {
      const seen = await readAll({ stream: s.name, filterSubject: `${s.prefix}.>`, from: { seq: 1 }, untilSeq: s.last });
      expect(seen.map((e) => e.seq)).toEqual(range(1, 100));
    } finally {
      writing = false;
      await writer;
    }
  });

  it('reads the last message of each subject', async () => {
    const s = await streamWith(50, 5);
    const seen = await readAll({ stream: s.name, filterSubject: `${s.prefix}.>`, from: 'lastPerSubject', untilSeq: s.last });
    expect(seen.map((e) => e.seq)).toEqual([46, 47, 48, 49, 50]);
  });

  it('reads nothing from an empty range, and ends', async () => {
    const s = await streamWith(20, 2);
    expect(await readAll({ stream: s.name, filterSubject: `${s.prefix}.none.>`, from: { seq: 1 }, untilSeq: s.last })).toEqual([]);
    expect(await consumers(s.name)).toBe(0);
  });

  it('ends when the messages at the end of its range are gone before it began', async () => {
    const s = await streamWith(40, 4);
    for (const seq of range(31, 40)) await jsm.streams.deleteMessage(s.name, seq, false);
    const seen = await readAll({ stream: s.name, filterSubject: `${s.prefix}.>`, from: { seq: 1 }, untilSeq: 40, heartbeatMs: 100 });
    expect(seen.map((e) => e.seq)).toEqual(range(1, 30));
    expect(await consumers(s.name)).toBe(0);
  });

  it('ends when messages of its range are deleted while it reads, with nothing twice and in order', async () => {
    // Large messages, so that the server is still sending when the deletes land: the bound
    // (the last seq) may then never be delivered, and only the consumer's pending count, asked
    // on an idle heartbeat, says the read is complete.
    const s = await streamWith(2_000, 20, 2_000);
    let deleting: Promise<unknown> | undefined;
    const seen = await readAll({ stream: s.name, filterSubject: `${s.prefix}.>`, from: { seq: 1 }, untilSeq: s.last, heartbeatMs: 100 }, () => {
      deleting ??= Promise.all(range(1_001, 2_000).map((seq) => jsm.streams.deleteMessage(s.name, seq, false)));
      return true;
    });
    await deleting;
    const seqs = seen.map((e) => e.seq);
    expect(seqs.slice(0, 1_000)).toEqual(range(1, 1_000));
    expect(seqs).toEqual([...new Set(seqs)].sort((a, b) => a - b));
    expect(await consumers(s.name)).toBe(0);
  }, 60_000);

  it('keeps pace with a reader slower than the server (flow control), losing nothing', async () => {
    // ~24 MB: well past what the server sends before it asks for flow control.
    const s = await streamWith(12_000, 50, 2_000);
    let n = 0;
    const seen = await readAll({ stream: s.name, filterSubject: `${s.prefix}.>`, from: { seq: 1 }, untilSeq: s.last }, () => {
      // A little work per message, as a fold does.
      if (++n % 1_000 === 0) {
        const until = Date.now() + 5;
        while (Date.now() < until) {
          /* busy */
        }
      }
      return true;
    });
    expect(seen.map((e) => e.seq)).toEqual(range(1, 12_000));
  }, 60_000);

  it('stops when its signal aborts or its reader leaves, and removes its consumer', async () => {
    const s = await streamWith(5_000, 5, 2_000);
    const ctl = new AbortController();
    const got: number[] = [];
    const aborted = (async () => {
      for await (const batch of pushRead(nc, jsm, { stream: s.name, filterSubject: `${s.prefix}.>`, from: { seq: 1 }, untilSeq: s.last, signal: ctl.signal }, (_, seq) => seq)) {
        got.push(...batch);
        ctl.abort(new Error('enough'));
      }
    })();
    await expect(aborted).rejects.toThrow('enough');
    expect(got.length).toBeGreaterThan(0);
    expect(got.length).toBeLessThan(5_000);

    for await (const batch of pushRead(nc, jsm, { stream: s.name, filterSubject: `${s.prefix}.>`, from: { seq: 1 }, untilSeq: s.last }, (_, seq) => seq)) {
      expect(batch[0]).toBe(1);
      break;
    }
    await expect.poll(() => consumers(s.name), { timeout: 10_000 }).toBe(0);
  }, 60_000);

  it('fails with what pick threw', async () => {
    const s = await streamWith(10, 2);
    const read = readAll({ stream: s.name, filterSubject: `${s.prefix}.>`, from: { seq: 1 }, untilSeq: s.last }, (e) => {
      if (e.seq === 5) throw new Error('corrupt at 5');
      return true;
    });
    await expect(read).rejects.toThrow('corrupt at 5');
    await expect.poll(() => consumers(s.name), { timeout: 10_000 }).toBe(0);
  });

  it('reads on after the last message it handled when the server restarts mid-read', async () => {
    const s = await streamWith(3_000, 10);
    const seqs: number[] = [];
    let restarted: Promise<void> | undefined;
    const read = pushRead(nc, jsm, { stream: s.name, filterSubject: `${s.prefix}.>`, from: { seq: 1 }, untilSeq: s.last, heartbeatMs: 100 }, (_, seq) => {
      // The first message stops the server: its consumer (in memory) is gone when it is back.
      restarted ??= server.restart();
      return seq;
    });
    for await (const batch of read) seqs.push(...batch);
    await restarted;
    expect(seqs).toEqual(range(1, 3_000));
  }, 60_000);
});
