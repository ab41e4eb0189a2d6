/**
 * The client's side of a follow endpoint (`builds.follow`, `sagas.follow`): subscribe to a
 * fresh inbox, ask a coordinator to stream to it, answer its acks, yield its items.
 *
 * A coordinator may die mid-stream. Silence for `SILENT_BEATS` heartbeats means it is gone: the
 * client follows again — through the queue group, so another coordinator, or the same one
 * restarted, answers — from the last item it yielded, and drops anything it already yielded.
 * While nobody answers it keeps trying (with backoff) until its signal aborts, and says so once
 * through `onStatus`. Each attempt gets a new inbox, so a stream it gave up on but which is
 * still running somewhere cannot interleave with the new one: its next ack finds no responder
 * and it stops.
 */
import { createInbox, type NatsConnection } from '@nats-io/transport-node';
import { deserializeError, ErrorCode, SagaError } from '../errors.js';
import { abortable, backoffMs, sleep } from '../nats/retry.js';
import { FollowMessage } from './schemas-follow.js';
import { StreamErrorCode } from './stream-session.js';

export type FollowStatus =
  /** The stream was lost (or never opened) and no coordinator has taken it up yet. */
  | { readonly state: 'waiting'; readonly reason: string }
  /** A coordinator streams again, from where the client was. */
  | { readonly state: 'resumed'; readonly coordinator: string };

export interface FollowOptions {
  /** Stops following (the generator throws the signal's reason). */
  readonly signal?: AbortSignal;
  /** The heartbeat period asked of the coordinator (250–30,000 ms; default 2,000). */
  readonly heartbeatMs?: number;
  /** Told once when the stream is lost and no coordinator answers yet, and once when it resumes. */
  readonly onStatus?: (status: FollowStatus) => void;
}

/** How one endpoint is followed: its request, and how its items advance the resume point. */
export interface FollowPlan<T> {
  /** Sends a follow request (the endpoint's), resolving with its reply. */
  call(body: Record<string, unknown>): Promise<{ heartbeatMs: number; coordinator: string }>;
  /** The body of the next follow request, resuming after what was yielded so far. */
  request(inbox: string): Record<string, unknown>;
  /** The item to yield, or undefined for one already yielded (or not understood). */
  accept(item: unknown): T | undefined;
  /** The item after which nothing follows (a build's result): no need to wait for `end`. */
  isLast?(item: T): boolean;
}

/** Heartbeats missed before the coordinator is taken for gone. */
const SILENT_BEATS = 3;

/** Whether following again may work: nobody answering, a timeout, a coordinator booting or stopping. */
export function canFollowAgain(e: unknown): boolean {
  if (!(e instanceof SagaError) || e.code === StreamErrorCode.StreamLimit) return false;
  return e.code === ErrorCode.Closed || (e.retryable && (e.status === 503 || e.status === 504));
}

export async function* follow<T>(nc: NatsConnection, plan: FollowPlan<T>, options: FollowOptions = {}): AsyncGenerator<T> {
  const { signal } = options;
  let waiting = false;
  let attempt = 0;
  const lost = (reason: string): void => {
    if (waiting) return;
    waiting = true;
    options.onStatus?.({ state: 'waiting', reason });
  };
  for (;;) {
    signal?.throwIfAborted();
    const inbox = new FollowInbox(nc, createInbox());
    try {
      let reply: { heartbeatMs: number; coordinator: string };
      try {
        reply = await abortable(plan.call(plan.request(inbox.subject)), [signal]);
      } catch (e) {
        if (signal?.aborted) throw signal.reason;
        if (!canFollowAgain(e)) throw e;
        lost((e as SagaError).message);
        await sleep(backoffMs(attempt++), [signal]);
        continue;
      }
      attempt = 0;
      if (waiting) {
        waiting = false;
        options.onStatus?.({ state: 'resumed', coordinator: reply.coordinator });
      }
      const silenceMs = SILENT_BEATS * reply.heartbeatMs;
      for (;;) {
        const m = await inbox.next(silenceMs, signal);
        if (m === undefined) {
          lost(`coordinator "${reply.coordinator}" went silent for ${silenceMs} ms`);
          break;
        }
        if (m.kind === 'item') {
          const value = plan.accept(m.item);
          if (value === undefined) continue;
          yield value;
          if (plan.isLast?.(value)) return;
        } else if (m.kind === 'end') {
          return;
        } else if (m.kind === 'error') {
          const err = deserializeError({ name: 'SagaError', ...m.error });
          if (!canFollowAgain(err)) throw err;
          lost(err.message);
          break;
        }
      }
    } finally {
      inbox.close();
    }
  }
}

/** The inbox of one follow attempt: acks what asks for one, queues what it understands. */
class FollowInbox {
  readonly #sub;
  readonly #queue: FollowMessage[] = [];
  #waiter: (() => void) | undefined;

  constructor(
    nc: NatsConnection,
    readonly subject: string,
  ) {
    this.#sub = nc.subscribe(subject, {
      callback: (err, m) => {
        if (err) return;
        // Answered on arrival, however slowly the caller consumes: an ack says "still here".
        if (m.reply) m.respond();
        let parsed;
        try {
          parsed = FollowMessage.safeParse(m.json());
        } catch {
          return;
        }
        if (!parsed.success) return;
        this.#queue.push(parsed.data);
        this.#waiter?.();
      },
    });
  }

  /** The next message, or undefined after `ms` without one. */
  async next(ms: number, signal: AbortSignal | undefined): Promise<FollowMessage | undefined> {
    if (this.#queue.length === 0) {
      let timer: NodeJS.Timeout | undefined;
      const arrived = new Promise<void>((resolve) => {
        this.#waiter = resolve;
        timer = setTimeout(resolve, ms);
      });
      try {
        await abortable(arrived, [signal]);
      } finally {
        clearTimeout(timer);
        this.#waiter = undefined;
      }
    }
    return this.#queue.shift();
  }

  close(): void {
    this.#sub.unsubscribe();
  }
}
