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
 */
import { JetStreamApiError, type PubAck } from '@nats-io/jetstream';
import {
  createInbox,
  headers as makeHeaders,
  NoRespondersError,
  RequestError,
  TimeoutError,
  type Msg,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node';

export interface AckPublishOptions {
  readonly msgId?: string;
  /** `Nats-Expected-Last-Subject-Sequence`; 0 means the subject must be empty. */
  readonly expectedLastSubjectSequence?: number;
}

interface Waiting {
  readonly resolve: (ack: PubAck) => void;
  readonly reject: (err: Error) => void;
  readonly deadline: number;
}

const decoder = new TextDecoder();

export class AckPublisher {
  private readonly prefix: string;
  private readonly sub: Subscription;
  private readonly waiting = new Map<string, Waiting>();
  private readonly sweeper: NodeJS.Timeout;
  private counter = 0;
  private closed = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs = 2000,
  ) {
    this.prefix = `${createInbox()}.`;
    this.sub = nc.subscribe(`${this.prefix}*`, { callback: (err, msg) => (err ? undefined : this.onAck(msg)) });
    this.sweeper = setInterval(() => this.sweep(), Math.max(25, Math.min(250, timeoutMs / 4)));
    this.sweeper.unref();
  }

  publish(subject: string, data: Uint8Array, options: AckPublishOptions = {}): Promise<PubAck> {
    if (this.closed) return Promise.reject(new RequestError('publisher closed'));
    const token = (this.counter++).toString(36);
    const h = makeHeaders();
    if (options.msgId !== undefined) h.set('Nats-Msg-Id', options.msgId);
    if (options.expectedLastSubjectSequence !== undefined) {
      h.set('Nats-Expected-Last-Subject-Sequence', String(options.expectedLastSubjectSequence));
    }
    return new Promise<PubAck>((resolve, reject) => {
      this.waiting.set(token, { resolve, reject, deadline: Date.now() + this.timeoutMs });
      try {
        this.nc.publish(subject, data, { reply: this.prefix + token, headers: h });
      } catch (e) {
        this.waiting.delete(token);
        reject(e as Error);
      }
    });
  }

  /** Fails everything still waiting and stops listening. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    this.sub.unsubscribe();
    for (const w of this.waiting.values()) w.reject(new RequestError('publisher closed'));
    this.waiting.clear();
  }

  private onAck(msg: Msg): void {
    const token = msg.subject.slice(this.prefix.length);
    const w = this.waiting.get(token);
    if (!w) return; // already timed out: the caller retries with the same msgId
    this.waiting.delete(token);
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
    if (this.waiting.size === 0) return;
    const now = Date.now();
    for (const [token, w] of this.waiting) {
      if (w.deadline <= now) {
        this.waiting.delete(token);
        w.reject(new TimeoutError());
      }
    }
  }
}
