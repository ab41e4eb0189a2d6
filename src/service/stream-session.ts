/**
 * Streaming over NATS request/reply, shared by the follow endpoints. A follow request names an
 * inbox the client has subscribed to; once the reply is sent, a session publishes the source's
 * items to that inbox, a heartbeat after every `heartbeatMs` without items, and `end` when the
 * source is done.
 *
 * A coordinator must notice a client that went away, or it would stream to nobody for as long
 * as the saga lasts. So heartbeats — and every `ACK_EVERY`th item, or the first after a quiet
 * `heartbeatMs` — are sent as *requests*, which the client's subscription answers: "no
 * responders" (its subscription is gone) or `MAX_MISSED_ACKS` unanswered in a row ends the
 * session. The same acks bound how far a session runs ahead of a slow client.
 *
 * The hub caps the sessions of one coordinator and ends them all when the service stops, so a
 * stream never keeps a stopping coordinator alive.
 */
import { NoRespondersError, RequestError, TimeoutError, type NatsConnection } from '@nats-io/transport-node';
import { ClosedError, SagaError, ensureError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { abortable, sleep } from '../nats/retry.js';
import { errorReplyOf, ServiceErrorCode } from './errors.js';
import type { FollowMessage } from './schemas-follow.js';
import { redactedJson } from '../secrets/redact.js';

export const StreamErrorCode = {
  /** The coordinator streams to as many followers as it may; another may answer a retry. */
  StreamLimit: 'STREAM_LIMIT',
} as const;

/** Concurrent streams per coordinator unless the service says otherwise. */
export const DEFAULT_MAX_STREAMS = 256;
/** Items sent without an ack before one asks for it. */
const ACK_EVERY = 64;
/** Acks missed in a row before the client is taken for gone. */
const MAX_MISSED_ACKS = 3;
/** How long closing the hub waits for its sessions (a source read in flight) before going on. */
const CLOSE_WAIT_MS = 5_000;

/** What a source yields: an item with its place (the client's resume point), or the end. */
export type SourceEvent = { readonly kind: 'item'; readonly item: unknown; readonly seq: number } | { readonly kind: 'end'; readonly status: string };

export interface StreamSpec {
  readonly endpoint: string;
  readonly id: string;
  readonly inbox: string;
  readonly heartbeatMs: number;
  /** Where the client resumes from (reported in heartbeats until an item moves it). */
  readonly cursor: number | null;
  /** The items, live, ending with `end`; must stop promptly when the signal aborts. */
  readonly source: (signal: AbortSignal) => AsyncIterable<SourceEvent>;
  /**
   * Asked after quiet heartbeats: a status ends the stream although the source has not (see
   * follow-sources.ts: a build whose result record was never written).
   */
  readonly idle?: () => Promise<string | undefined>;
}

/** What a handler gets besides its request: the coordinator's streams, and a hook on its reply. */
export interface HandlerContext {
  readonly streams: StreamHub;
  /** `fn(true)` once the reply is sent; `fn(false)` if it was not (an error, a timeout). */
  afterReply(fn: (replied: boolean) => void): void;
}

export interface StreamHubOptions {
  readonly maxStreams?: number;
  readonly logger?: Logger;
}

/** The follow streams of one service instance. */
export class StreamHub {
  readonly maxStreams: number;
  readonly #nc: NatsConnection;
  readonly #log: Logger;
  readonly #sessions = new Set<StreamSession>();
  readonly #closing = new AbortController();

  constructor(nc: NatsConnection, options: StreamHubOptions = {}) {
    this.#nc = nc;
    this.maxStreams = options.maxStreams ?? DEFAULT_MAX_STREAMS;
    this.#log = (options.logger ?? silentLogger).child({ part: 'streams' });
  }

  /** Streams open or reserved now (a test hook and a metric). */
  get active(): number {
    return this.#sessions.size;
  }

  /** Takes a place for a stream (STREAM_LIMIT when there is none); start it once the reply is out. */
  reserve(spec: StreamSpec): StreamSession {
    if (this.#closing.signal.aborted) {
      throw new SagaError(ServiceErrorCode.NotAdmitted, 'this coordinator is stopping; follow again and another one answers', { status: 503, retryable: true });
    }
    if (this.#sessions.size >= this.maxStreams) {
      throw new SagaError(StreamErrorCode.StreamLimit, `this coordinator already streams to ${this.maxStreams} followers, its limit; follow again later`, {
        status: 503,
        retryable: true,
        details: { maxStreams: this.maxStreams },
      });
    }
    const session: StreamSession = new StreamSession(this.#nc, spec, this.#closing.signal, this.#log, () => this.#sessions.delete(session));
    this.#sessions.add(session);
    return session;
  }

  /** Ends every stream (clients notice the silence and follow again elsewhere). Idempotent. */
  async close(): Promise<void> {
    this.#closing.abort(new ClosedError('the service'));
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS).unref()));
    await Promise.race([Promise.allSettled([...this.#sessions].map((s) => s.done)), waited]);
    clearTimeout(timer);
  }
}

/** Why a session stopped without an `end`. */
class Stopped extends Error {}

export class StreamSession {
  /** Settles once the session is over (or was released unstarted). */
  readonly done: Promise<void>;
  #settle!: () => void;
  #state: 'reserved' | 'running' | 'over' = 'reserved';

  constructor(
    private readonly nc: NatsConnection,
    private readonly spec: StreamSpec,
    private readonly closing: AbortSignal,
    private readonly log: Logger,
    private readonly onOver: () => void,
  ) {
    this.done = new Promise<void>((resolve) => (this.#settle = resolve));
  }

  /** Starts streaming (call once the reply is sent: nothing may reach the inbox before it). */
  start(): void {
    if (this.#state !== 'reserved') return;
    this.#state = 'running';
    void this.#run()
      .catch((e: unknown) => this.log.warn({ endpoint: this.spec.endpoint, id: this.spec.id, err: ensureError(e).message }, 'stream failed'))
      .finally(() => this.#over());
  }

  /** Gives the place back without streaming (the reply never went out). */
  release(): void {
    if (this.#state === 'reserved') this.#over();
  }

  #over(): void {
    this.#state = 'over';
    this.onOver();
    this.#settle();
  }

  async #run(): Promise<void> {
    const { spec, nc } = this;
    const stop = new AbortController();
    const onClosing = (): void => stop.abort(this.closing.reason);
    if (this.closing.aborted) return;
    this.closing.addEventListener('abort', onClosing, { once: true });
    const ackTimeoutMs = Math.max(1_000, spec.heartbeatMs);
    let cursor = spec.cursor;
    let lastSent = Date.now();
    let lastAck = Date.now();
    let unacked = 0;
    let missed = 0;
    let chain: Promise<unknown> = Promise.resolve();
    let why = 'ended';
    const gone = (reason: string): void => {
      if (stop.signal.aborted) return;
      why = reason;
      stop.abort(new Stopped(reason));
    };

    // One message at a time, in order: heartbeats wait behind an item whose ack is awaited.
    const deliver = (msg: FollowMessage, ack: boolean): Promise<void> => {
      const sent = chain.then(async () => {
        if (stop.signal.aborted) return;
        // Followed journal entries and progress show sealed secrets as [redacted], as replies do.
        const data = redactedJson(msg);
        lastSent = Date.now();
        if (!ack) {
          nc.publish(spec.inbox, data);
          unacked++;
          return;
        }
        try {
          await abortable(nc.request(spec.inbox, data, { timeout: ackTimeoutMs }), [stop.signal]);
          missed = 0;
          unacked = 0;
          lastAck = Date.now();
        } catch (e) {
          if (stop.signal.aborted) return;
          if (e instanceof NoRespondersError || (e instanceof RequestError && e.isNoResponders())) return gone('the follower is gone (no responders on its inbox)');
          if (e instanceof TimeoutError && ++missed >= MAX_MISSED_ACKS) return gone(`the follower answered none of ${MAX_MISSED_ACKS} acks`);
          if (!(e instanceof TimeoutError)) throw e;
        }
      });
      chain = sent.catch(() => undefined);
      return sent;
    };
    const needsAck = (): boolean => unacked + 1 >= ACK_EVERY || Date.now() - lastAck >= spec.heartbeatMs;

    const heartbeats = (async () => {
      while (!stop.signal.aborted) {
        const wait = lastSent + spec.heartbeatMs - Date.now();
        if (wait > 0) {
          await sleep(wait, [stop.signal]).catch(() => undefined);
          continue;
        }
        await deliver({ kind: 'heartbeat', at: Date.now(), lastSeq: cursor }, true).catch((e: unknown) => gone(`heartbeat not sent: ${ensureError(e).message}`));
        const status = spec.idle && !stop.signal.aborted ? await spec.idle().catch(() => undefined) : undefined;
        if (status !== undefined && !stop.signal.aborted) {
          await deliver({ kind: 'end', status }, false).catch(() => undefined);
          gone(`ended (${status})`);
        }
      }
    })();

    this.log.debug({ endpoint: spec.endpoint, id: spec.id, inbox: spec.inbox }, 'stream started');
    try {
      for await (const ev of spec.source(stop.signal)) {
        if (stop.signal.aborted) break;
        if (ev.kind === 'end') {
          await deliver({ kind: 'end', status: ev.status }, false);
          why = `ended (${ev.status})`;
          break;
        }
        cursor = ev.seq;
        await deliver({ kind: 'item', item: ev.item }, needsAck());
      }
    } catch (e) {
      if (!stop.signal.aborted) {
        why = `failed: ${ensureError(e).message}`;
        await deliver({ kind: 'error', error: errorReplyOf(e).error }, false).catch(() => undefined);
      }
    } finally {
      if (!stop.signal.aborted) stop.abort(new Stopped(why));
      this.closing.removeEventListener('abort', onClosing);
      await heartbeats;
      this.log.debug({ endpoint: spec.endpoint, id: spec.id, why: this.closing.aborted ? 'the service stopped' : why }, 'stream over');
    }
  }
}
