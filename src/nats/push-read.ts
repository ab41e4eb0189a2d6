/**
 * Reads a range of a stream through an ephemeral push consumer, handing each message to a
 * synchronous `pick` and yielding what it keeps in batches.
 *
 * Why not the client's consumer API (ordered-read.ts): there every message becomes a JsMsg
 * whose reply subject is parsed into an info object, passes a pull consumer's bookkeeping and
 * then an async iterator, one promise per message. A bulk recovery reads ~100k messages (index,
 * checkpoints, journal) and most of them are skipped: that path was ~15% of its CPU. Here a
 * message costs its protocol parse and a few string operations, and only what `pick` keeps
 * reaches the caller, a batch at a time.
 *
 * The read is bounded as ordered-read.ts explains: it ends at the first message at or past
 * `untilSeq`, or once the server has nothing more pending for it (each message says how many
 * follow; on an idle heartbeat the consumer is asked, since messages deleted after the read
 * began are never delivered). Flow control keeps the server from outrunning this client. Each
 * message's consumer sequence is checked: a gap (the connection dropped messages) or a silence
 * restarts the read after the last message handled, a few times at most.
 */
import { AckPolicy, DeliverPolicy, type ConsumerConfig, type JetStreamManager } from '@nats-io/jetstream';
import { createInbox, Empty, nanos, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';

export interface PushReadOptions {
  readonly stream: string;
  /**
   * One subject filter (nats-server 2.9 has no multi-filter consumers); none reads every
   * subject, which 2.9 starts mid-stream far more cheaply than a wildcard filter.
   */
  readonly filterSubject?: string;
  /** Where the read starts: a stream seq, or the last message of each subject. */
  readonly from: { readonly seq: number } | 'lastPerSubject';
  /** The last stream sequence wanted; the read ends at the first message at or past it. */
  readonly untilSeq: number;
  readonly signal?: AbortSignal;
  /** Idle heartbeat of the consumer (default 250 ms); silence for 4× that restarts the read. */
  readonly heartbeatMs?: number;
}

/** Keeps a message (returns what to yield) or skips it (undefined). `msg.data` is the payload. */
export type Pick<T> = (subject: string, seq: number, msg: Msg) => T | undefined;

/** Restarts after a gap or a silence before the read fails. */
const MAX_RESTARTS = 3;
/** Heartbeat intervals without a message of any kind that count as silence. */
const SILENT_TICKS = 8;
/** How long the server keeps the consumer if this client goes away without deleting it. */
const INACTIVE_MS = 30_000;

export class PushReadError extends Error {
  override readonly name = 'PushReadError';
}

/** Delivery facts from a push message's reply subject ($JS.ACK.…). */
export interface AckFacts {
  streamSeq: number;
  consumerSeq: number;
  /** Messages the consumer has yet to deliver after this one. */
  pending: number;
}

/** One object, overwritten by every parse: a read parses one per message. */
const ack: AckFacts = { streamSeq: 0, consumerSeq: 0, pending: 0 };
/** The reply subject's numeric tokens by position (NaN for one that is not a number). */
const tokens = new Float64Array(12);

/**
 * `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>` (9 tokens), or with a
 * domain and account hash after ACK and a random token at the end (11–12 tokens). One pass over
 * the characters: splitting it into strings cost as much as the JsMsg parse this file avoids.
 * The result is valid until the next call; null when `reply` is not such a subject.
 */
export function parseAck(reply: string): Readonly<AckFacts> | null {
  if (!reply.startsWith('$JS.ACK.')) return null;
  let count = 2;
  let n = 0;
  let numeric = true;
  for (let i = 8; i < reply.length; i++) {
    const c = reply.charCodeAt(i);
    if (c === 46) {
      if (count < tokens.length) tokens[count] = numeric ? n : NaN;
      count++;
      n = 0;
      numeric = true;
    } else if (c >= 48 && c <= 57) {
      n = n * 10 + (c - 48);
    } else {
      numeric = false;
    }
  }
  if (count < tokens.length) tokens[count] = numeric ? n : NaN;
  count++;
  const at = count === 9 ? 5 : count >= 11 ? 7 : -1;
  if (at < 0) return null;
  ack.streamSeq = tokens[at]!;
  ack.consumerSeq = tokens[at + 1]!;
  ack.pending = tokens[at + 3]!;
  return Number.isNaN(ack.streamSeq) || Number.isNaN(ack.consumerSeq) || Number.isNaN(ack.pending) ? null : ack;
}

export async function* pushRead<T>(nc: NatsConnection, jsm: JetStreamManager, options: PushReadOptions, pick: Pick<T>): AsyncGenerator<T[]> {
  const { untilSeq, signal, stream } = options;
  const heartbeatMs = options.heartbeatMs ?? 250;
  signal?.throwIfAborted();

  let batch: T[] = [];
  let finished = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const finish = (err?: unknown): void => {
    if (finished) return;
    finished = true;
    failure = err;
    wake?.();
  };

  /**
   * The last stream seq handled: a restart reads on after it. Before the first, the one before
   * the start (a read of each subject's last message restarts from the stream's start: later
   * messages of a subject come after earlier ones, so the last one still wins).
   */
  let lastSeq = options.from === 'lastPerSubject' ? 0 : options.from.seq - 1;
  let restarts = 0;
  let sub: Subscription | undefined;
  let inbox = '';
  let consumer: string | undefined;
  let expectConsumerSeq = 1;
  let heard = true;
  let silentTicks = 0;
  let checking = false;
  /** A delivery count the server reported past what was handled, at the last heartbeat (0: none). */
  let behind = 0;

  const drop = (): void => {
    sub?.unsubscribe();
    sub = undefined;
    if (consumer) jsm.consumers.delete(stream, consumer).catch(() => undefined);
    consumer = undefined;
  };

  const restart = (why: string): void => {
    drop();
    if (++restarts > MAX_RESTARTS) finish(new PushReadError(`the read of stream "${stream}" failed: ${why}`));
    else if (lastSeq >= untilSeq) finish();
    else open({ seq: lastSeq + 1 }).catch(finish);
  };

  /** On an idle heartbeat: nothing pending and nothing missed means the read is complete. */
  const checkPending = (): void => {
    if (checking || !consumer) return;
    checking = true;
    const name = consumer;
    jsm.consumers.info(stream, name).then(
      (info) => {
        checking = false;
        if (finished || name !== consumer) return;
        const delivered = info.delivered.consumer_seq;
        if (delivered < expectConsumerSeq) {
          behind = 0;
          if (info.num_pending === 0) finish();
        } else if (behind > 0 && behind >= expectConsumerSeq) {
          // Still not handled a heartbeat later: they are not on the wire, they are lost.
          restart(`messages were lost (delivered ${behind}, handled ${expectConsumerSeq - 1})`);
        } else {
          // Sent but not handled yet: they may still be on the wire. Lost if still so next time.
          behind = delivered;
        }
      },
      () => {
        checking = false;
      },
    );
  };

  const onControl = (m: Msg): void => {
    // Flow control asks for an answer once this client has taken what came before: it has.
    if (m.reply) {
      m.respond(Empty);
      return;
    }
    const code = m.headers?.code ?? 0;
    if (code === 100) {
      const stalled = m.headers?.get('Nats-Consumer-Stalled');
      if (stalled) nc.publish(stalled, Empty);
      checkPending();
    } else if (code >= 400) {
      restart(`${code} ${m.headers?.description ?? ''}`.trim());
    }
  };

  const onMsg = (m: Msg): void => {
    if (finished) return;
    heard = true;
    if (m.subject === inbox) {
      onControl(m);
      return;
    }
    const ack = m.reply ? parseAck(m.reply) : null;
    if (!ack) {
      finish(new PushReadError(`unexpected message on a read of stream "${stream}" (subject "${m.subject}")`));
      return;
    }
    if (ack.consumerSeq !== expectConsumerSeq) {
      restart(`messages were lost (delivery ${ack.consumerSeq}, expected ${expectConsumerSeq})`);
      return;
    }
    expectConsumerSeq++;
    const seq = ack.streamSeq;
    const pending = ack.pending;
    if (seq > untilSeq) {
      finish();
      return;
    }
    lastSeq = seq;
    let kept: T | undefined;
    try {
      kept = pick(m.subject, seq, m);
    } catch (e) {
      finish(e);
      return;
    }
    if (kept !== undefined) {
      batch.push(kept);
      if (batch.length === 1) wake?.();
    }
    if (seq === untilSeq || pending === 0) finish();
  };

  async function open(from: PushReadOptions['from']): Promise<void> {
    expectConsumerSeq = 1;
    behind = 0;
    // A fresh inbox each time: messages of a dropped consumer still on the wire go nowhere.
    const own = (inbox = createInbox((nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix));
    const s = (sub = nc.subscribe(own, { callback: (err, m) => (err ? finish(err) : onMsg(m)) }));
    void s.closed.then((err) => {
      if (sub === s) finish(err ?? new PushReadError(`the read of stream "${stream}" lost its subscription (connection closed)`));
    });
    const config: Partial<ConsumerConfig> = {
      deliver_subject: own,
      ack_policy: AckPolicy.None,
      ...(options.filterSubject ? { filter_subject: options.filterSubject } : {}),
      flow_control: true,
      idle_heartbeat: nanos(heartbeatMs),
      inactive_threshold: nanos(INACTIVE_MS),
      mem_storage: true,
      num_replicas: 1,
      ...(from === 'lastPerSubject' ? { deliver_policy: DeliverPolicy.LastPerSubject } : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from.seq }),
    };
    const info = await jsm.consumers.add(stream, config);
    if (sub !== s) {
      // Dropped while it was being created.
      jsm.consumers.delete(stream, info.name).catch(() => undefined);
      return;
    }
    consumer = info.name;
    if (info.num_pending === 0 && info.delivered.consumer_seq === 0) finish();
  }

  const onAbort = (): void => finish(signal!.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  // Silence is counted in ticks, not by the clock: a tick that runs late because the event loop
  // was busy must not pass for silence while the messages wait in the socket.
  const watchdog = setInterval(() => {
    if (heard) {
      heard = false;
      silentTicks = 0;
    } else if (++silentTicks >= SILENT_TICKS && !finished) {
      silentTicks = 0;
      restart('the server went silent');
    }
  }, heartbeatMs);
  try {
    await open(options.from).catch(finish);
    for (;;) {
      if (batch.length > 0) {
        const out = batch;
        batch = [];
        yield out;
        signal?.throwIfAborted();
        continue;
      }
      if (finished) break;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
    if (failure !== undefined) throw failure;
  } finally {
    finished = true;
    clearInterval(watchdog);
    signal?.removeEventListener('abort', onAbort);
    drop();
  }
}
