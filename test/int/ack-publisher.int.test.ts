/**
 * The lean JetStream publisher's window, against a real nats-server: at most `maxInFlight`
 * publishes are on the wire, the rest wait in order; a publish's timeout runs from when it is
 * sent, not from when it was queued; a queued publish whose signal aborts is never sent; close
 * fails everything still waiting. A plain subscriber plays the stream, so the test decides
 * which publishes are answered and when.
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { TimeoutError } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AckPublisher } from '../../src/nats/ack-publisher.js';
import { connectNats } from '../../src/nats/connect.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';

let server: NatsServerHandle;
let nc: NatsConnection;

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ servers: server.url, name: 'ack-publisher-test' });
});

afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

const encoder = new TextEncoder();
const decoder = new TextDecoder();
let subjects = 0;

/** A fake stream on its own subject: records what arrives, answers only when told. */
function fakeStream(): { subject: string; got: Msg[]; sub: Subscription; ack(m: Msg, seq: number): void; arrived(n: number): Promise<void> } {
  const subject = `ackpub.${++subjects}`;
  const got: Msg[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const sub = nc.subscribe(subject, {
    callback: (_err, m) => {
      got.push(m);
      for (const w of waiters.filter((x) => got.length >= x.n)) w.resolve();
    },
  });
  return {
    subject,
    got,
    sub,
    ack: (m, seq) => m.respond(encoder.encode(JSON.stringify({ stream: 'FAKE', seq }))),
    arrived: (n) => (got.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
  };
}

const body = (m: Msg): string => decoder.decode(m.data);

type FakeStream = ReturnType<typeof fakeStream>;

/** Runs `test` with a fake stream and a publisher (timeout, window), both closed afterwards. */
async function withPublisher(timeoutMs: number, maxInFlight: number, test: (stream: FakeStream, pub: AckPublisher) => Promise<void>): Promise<void> {
  const stream = fakeStream();
  const pub = new AckPublisher(nc, timeoutMs, maxInFlight);
  try {
    await test(stream, pub);
  } finally {
    pub.close();
    stream.sub.unsubscribe();
  }
}

describe('AckPublisher window', () => {
  it('keeps at most maxInFlight publishes on the wire and sends the rest in order as acks come', () =>
    withPublisher(30_000, 3, async (stream, pub) => {
      const acks = Array.from({ length: 8 }, (_, i) => pub.publish(stream.subject, encoder.encode(`m${i}`)));
      await stream.arrived(3);
      await nc.flush();
      expect(stream.got.map(body)).toEqual(['m0', 'm1', 'm2']);
      expect(pub.load).toEqual({ inFlight: 3, queued: 5 });

      // Each ack makes room for exactly one more.
      stream.ack(stream.got[1]!, 11);
      await expect(acks[1]).resolves.toMatchObject({ seq: 11 });
      await stream.arrived(4);
      await nc.flush();
      expect(stream.got.map(body)).toEqual(['m0', 'm1', 'm2', 'm3']);
      expect(pub.load).toEqual({ inFlight: 3, queued: 4 });

      // Answering everything drains the queue in publish order.
      for (let i = 0; i < 8; i++) {
        await stream.arrived(i + 1);
        if (i !== 1) stream.ack(stream.got[i]!, 100 + i);
      }
      await Promise.all(acks);
      expect(stream.got.map(body)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7']);
      expect(pub.load).toEqual({ inFlight: 0, queued: 0 });
    }));

  // A short timeout, a window of one: the second publish waits for the first to time out.
  it('times a publish from when it is sent: one queued behind a lost publish still gets its ack', () =>
    withPublisher(300, 1, async (stream, pub) => {
      const lost = pub.publish(stream.subject, encoder.encode('lost'));
      const queued = pub.publish(stream.subject, encoder.encode('queued'));
      await expect(lost).rejects.toBeInstanceOf(TimeoutError);
      await stream.arrived(2);
      expect(stream.got.map(body)).toEqual(['lost', 'queued']);
      stream.ack(stream.got[1]!, 7);
      await expect(queued).resolves.toMatchObject({ seq: 7 });
    }));

  it('never sends a queued publish whose signal aborted, and fails the queue on close', () =>
    withPublisher(30_000, 1, async (stream, pub) => {
      const first = pub.publish(stream.subject, encoder.encode('first'));
      const controller = new AbortController();
      const dropped = pub.publish(stream.subject, encoder.encode('dropped'), { signal: controller.signal });
      const third = pub.publish(stream.subject, encoder.encode('third'), { signal: new AbortController().signal });
      const droppedToo = pub.publish(stream.subject, encoder.encode('dropped too'), { signal: controller.signal });
      controller.abort(new Error('stopped'));
      // Both publishes of the aborted signal go; the one of another signal stays queued.
      await expect(dropped).rejects.toThrow('stopped');
      await expect(droppedToo).rejects.toThrow('stopped');
      expect(pub.load).toEqual({ inFlight: 1, queued: 1 });
      await stream.arrived(1);
      stream.ack(stream.got[0]!, 1);
      await expect(first).resolves.toMatchObject({ seq: 1 });
      await stream.arrived(2);
      await nc.flush();
      expect(stream.got.map(body)).toEqual(['first', 'third']);

      // One in flight (third), one queued: close fails both, and nothing more is sent.
      const last = pub.publish(stream.subject, encoder.encode('last'));
      pub.close();
      await expect(third).rejects.toThrow('publisher closed');
      await expect(last).rejects.toThrow('publisher closed');
      await nc.flush();
      expect(stream.got.map(body)).toEqual(['first', 'third']);
    }));
});
