/**
 * JetStream publishing without the client's per-request machinery.
 *
 * `js.publish()` is a request: per call it allocates a request object, a timer and a deferred,
 * looks up a reply mux, and — even with `noAsyncTraces` — builds a `RequestError("cancelled")`
 * with a stack trace once the reply has arrived. In a profile of the saga runtime that was
 * about a quarter of its CPU per step. Here every publish is a core publish whose reply
 * subject is a token under one inbox subscription; acks are matched by token, and one sweep
 * timer fails the publishes that waited too long. Semantics are those of `js.publish`:
 * a PubAck, a `JetStreamApiError` for API errors (10071 and friends), `NoRespondersError`
 * (wrapped in `RequestError`) while no stream answers, `TimeoutError` when the ack is late.
 *
 * At most `maxInFlight` publishes are on the wire at once; the rest wait here, in order, and
 * their timeout starts when they are sent. Unbounded, a burst (ten thousand recovered sagas
 * taking their next step at once) queues so many acks that each takes longer than the timeout
 * on a slow machine: every publish then times out and is sent again, and the work never
 * drains. A bounded window keeps each ack's wait short, and a request of another kind on the
 * same connection (a lease renewal) behind a few hundred acks instead of tens of thousands.
 */
import { JetStreamApiError, type PubAck } from '@nats-io/jetstream';
import {
  createInbox,
  headers as makeHeaders,
  NoRespondersError,
  RequestError,
  TimeoutError,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node';

export interface AckPublishOptions {
  readonly msgId?: string;
  /** `Nats-Expected-Last-Subject-Sequence`; 0 means the subject must be empty. */
  readonly expectedLastSubjectSequence?: number;
  /**
   * Gives up on a publish still waiting for its turn (rejected with the signal's reason, never
   * sent). A publish already on the wire is waited for: its outcome is the server's.
   */
  readonly signal?: AbortSignal;
}

interface Waiting {
  readonly resolve: (ack: PubAck) => void;
  readonly reject: (err: Error) => void;
  readonly deadline: number;
}

/** Publishes on the wire (sent, not yet acknowledged) and publishes waiting for room. */
export interface PublishLoad {
  readonly inFlight: number;
  readonly queued: number;
}

/** A publish in the window, not yet handed to the client. */
interface Outgoing {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly headers: MsgHdrs;
  readonly token: string;
}

/** A publish waiting for room in the window. */
interface Queued {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly options: AckPublishOptions;
  readonly resolve: (ack: PubAck) => void;
  readonly reject: (err: Error) => void;
}

/** Publishes on the wire at once by default: far more than a pipeline needs on loopback or a LAN. */
export const DEFAULT_MAX_IN_FLIGHT = 512;

const decoder = new TextDecoder();

export class AckPublisher {
  private readonly prefix: string;
  private readonly sub: Subscription;
  private readonly waiting = new Map<string, Waiting>();
  /** Publishes in the window, handed to the client at the end of this turn of the event loop. */
  private outbox: Outgoing[] = [];
  /** Publishes not yet sent, oldest first (a Set: an aborted one leaves from the middle). */
  private readonly queued = new Set<Queued>();
  /** The queued publishes given each signal, and the one listener that drops them on abort. */
  private readonly bySignal = new Map<AbortSignal, { readonly items: Set<Queued>; readonly onAbort: () => void }>();
  private readonly sweeper: NodeJS.Timeout;
  private counter = 0;
  private closed = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs = 2000,
    private readonly maxInFlight = DEFAULT_MAX_IN_FLIGHT,
  ) {
    this.prefix = `${createInbox()}.`;
    this.sub = nc.subscribe(`${this.prefix}*`, { callback: (err, msg) => (err ? undefined : this.onAck(msg)) });
    this.sweeper = setInterval(() => this.sweep(), Math.max(25, Math.min(250, timeoutMs / 4)));
    this.sweeper.unref();
  }

  publish(subject: string, data: Uint8Array, options: AckPublishOptions = {}): Promise<PubAck> {
    if (this.closed) return Promise.reject(new RequestError('publisher closed'));
    if (options.signal?.aborted) return Promise.reject(options.signal.reason as Error);
    return new Promise<PubAck>((resolve, reject) => {
      if (this.waiting.size < this.maxInFlight && this.queued.size === 0) {
        this.send(subject, data, options, resolve, reject);
        return;
      }
      const q: Queued = { subject, data, options, resolve, reject };
      this.queued.add(q);
      if (options.signal) this.listen(options.signal, q);
    });
  }

  /** Publishes on the wire now, and how many wait for room. */
  get load(): PublishLoad {
    return { inFlight: this.waiting.size, queued: this.queued.size };
  }

  /** Fails everything still waiting and stops listening. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    this.sub.unsubscribe();
    for (const w of this.waiting.values()) w.reject(new RequestError('publisher closed'));
    this.waiting.clear();
    for (const q of this.queued) {
      this.unlisten(q);
      q.reject(new RequestError('publisher closed'));
    }
    this.queued.clear();
  }

  private send(subject: string, data: Uint8Array, options: AckPublishOptions, resolve: (ack: PubAck) => void, reject: (err: Error) => void): void {
    const token = (this.counter++).toString(36);
    const h = makeHeaders();
    if (options.msgId !== undefined) h.set('Nats-Msg-Id', options.msgId);
    if (options.expectedLastSubjectSequence !== undefined) {
      h.set('Nats-Expected-Last-Subject-Sequence', String(options.expectedLastSubjectSequence));
    }
    // The timeout runs from here: time spent waiting for room is not the server's.
    this.waiting.set(token, { resolve, reject, deadline: Date.now() + this.timeoutMs });
    this.outbox.push({ subject, data, headers: h, token });
    if (this.outbox.length === 1) setImmediate(this.flushOutbox);
  }

  /**
   * Hands everything published since the last turn of the event loop to the client at once.
   * The client writes what it holds at its next microtask, so publishes made from different
   * promise continuations (each ack resumes one saga, which publishes a few hops later) went
   * out a write each: ~2.5 messages per syscall in a bulk recovery, a syscall costing up to
   * ~50 µs on a virtual machine. One write per loop turn carries them all; a lone publish is
   * delayed only to the end of the current turn.
   */
  private readonly flushOutbox = (): void => {
    const out = this.outbox;
    this.outbox = [];
    for (const o of out) {
      if (!this.waiting.has(o.token)) continue; // closed or timed out meanwhile
      try {
        this.nc.publish(o.subject, o.data, { reply: this.prefix + o.token, headers: o.headers });
      } catch (e) {
        const w = this.waiting.get(o.token);
        this.waiting.delete(o.token);
        w?.reject(e as Error);
      }
    }
  };

  /** Sends queued publishes while the window has room. */
  private drain(): void {
    for (const q of this.queued) {
      if (this.closed || this.waiting.size >= this.maxInFlight) return;
      this.queued.delete(q);
      this.unlisten(q);
      this.send(q.subject, q.data, q.options, q.resolve, q.reject);
    }
  }

  /**
   * One abort listener per signal, not per publish: thousands of queued publishes often share
   * one (the runtime's), and an EventTarget removes a listener by walking its list.
   */
  private listen(signal: AbortSignal, q: Queued): void {
    let watch = this.bySignal.get(signal);
    if (!watch) {
      const items = new Set<Queued>();
      const onAbort = (): void => {
        this.bySignal.delete(signal);
        for (const item of items) if (this.queued.delete(item)) item.reject(signal.reason as Error);
      };
      watch = { items, onAbort };
      this.bySignal.set(signal, watch);
      signal.addEventListener('abort', onAbort, { once: true });
    }
    watch.items.add(q);
  }

  private unlisten(q: Queued): void {
    const { signal } = q.options;
    const watch = signal && this.bySignal.get(signal);
    if (!watch) return;
    watch.items.delete(q);
    if (watch.items.size > 0) return;
    this.bySignal.delete(signal);
    signal.removeEventListener('abort', watch.onAbort);
  }

  private onAck(msg: Msg): void {
    const token = msg.subject.slice(this.prefix.length);
    const w = this.waiting.get(token);
    if (!w) return; // already timed out: the caller retries with the same msgId
    this.waiting.delete(token);
    if (this.queued.size > 0) this.drain();
    const status = msg.headers?.code ?? 0;
    if (status === 503 || (msg.data.length === 0 && status !== 0)) {
      w.reject(new RequestError('no responders', { cause: new NoRespondersError(msg.subject) }));
      return;
    }
    let body: { stream?: string; seq?: number; duplicate?: boolean; domain?: string; error?: { code: number; err_code: number; description: string } };
    try {
      body = JSON.parse(decoder.decode(msg.data)) as typeof body;
    } catch {
      w.reject(new Error(`invalid publish ack: ${decoder.decode(msg.data).slice(0, 200)}`));
      return;
    }
    if (body.error) {
      w.reject(new JetStreamApiError(body.error));
      return;
    }
    w.resolve({ stream: body.stream ?? '', seq: body.seq ?? 0, duplicate: body.duplicate === true, domain: body.domain ?? '' } as PubAck);
  }

  private sweep(): void {
    if (this.waiting.size === 0 && this.queued.size === 0) return;
    const now = Date.now();
    for (const [token, w] of this.waiting) {
      if (w.deadline <= now) {
        this.waiting.delete(token);
        w.reject(new TimeoutError());
      }
    }
    if (this.queued.size > 0) this.drain();
  }
}
