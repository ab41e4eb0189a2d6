/**
 * Build progress: one JetStream subject per build (`<ns>.progress.<buildId>`) holding its phase
 * changes, messages, onbuild output lines, errors and final result, in order. A client reads it
 * from the start or follows it live — also after a coordinator restart, and for a build
 * recovered with no client attached: the stream, not a connection, is the progress.
 *
 * Progress is written after the fact and is not the saga's truth (the journal is): a line lost
 * while NATS is away is logged, not retried for ever, and steps re-run after a crash may write
 * their lines twice (each line carries the step's attempt key so a reader can tell).
 */
import { DeliverPolicy, jetstream, jetstreamManager, StorageType, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import { assertSagaId } from '../journal/saga-id.js';
import { silentLogger, type Logger } from '../log.js';
import { readUntilCaughtUp } from '../nats/ordered-read.js';
import { abortable, backoffMs, sleep } from '../nats/retry.js';
import { isTransient } from '../nats/nats-errors.js';
import { JournalUnavailableError } from '../errors.js';
import { assertReplicasPossible } from '../nats/replicas.js';
import { ensureStream } from '../nats/streams.js';
import { natsNames } from '../runtime/nats-stores.js';

export type ProgressEvent =
  /** The saga entered a new state (its `status` and state value). */
  | { readonly kind: 'phase'; readonly phase: string; readonly status: string; readonly state: unknown }
  /** A line of a step's own output (onbuild commands, image build). */
  | { readonly kind: 'log'; readonly step: string; readonly stream: 'stdout' | 'stderr' | 'info'; readonly text: string; readonly key?: string }
  /** A failure a user should see (a step error, a compensation). */
  | { readonly kind: 'error'; readonly step: string; readonly code: string; readonly message: string }
  /** The end: the build's final status and what it produced or why it failed. */
  | { readonly kind: 'result'; readonly status: string; readonly output: unknown };

/** An event as stored: stamped with the build, the time and its place in the stream. */
export type ProgressRecord = ProgressEvent & { readonly buildId: string; readonly at: number; readonly seq: number };

export interface ProgressLogOptions {
  readonly namespace?: string;
  /** How long progress is kept (default 7 days): it is for people watching, not for recovery. */
  readonly maxAgeMs?: number;
  readonly replicas?: number;
  readonly logger?: Logger;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const DEFAULT_MAX_AGE_MS = 7 * 24 * 3_600_000;
/** Long lines are cut: progress is for reading, and a stream message has a size limit. */
const MAX_TEXT = 8_192;

export class ProgressLog {
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #stream: string;
  readonly #prefix: string;
  readonly #log: Logger;

  private constructor(nc: NatsConnection, js: JetStreamClient, jsm: JetStreamManager, stream: string, prefix: string, log: Logger) {
    this.#nc = nc;
    this.#js = js;
    this.#jsm = jsm;
    this.#stream = stream;
    this.#prefix = prefix;
    this.#log = log;
  }

  /** Creates (or reconciles) the progress stream and returns a log over it. */
  static async open(nc: NatsConnection, options: ProgressLogOptions = {}): Promise<ProgressLog> {
    const names = natsNames(options.namespace);
    if (options.replicas !== undefined) assertReplicasPossible(nc, options.replicas);
    const jsm = await jetstreamManager(nc, { timeout: 5_000 });
    await ensureStream(jsm, {
      name: names.progressStream,
      subjects: [`${names.progressPrefix}.*`],
      storage: StorageType.File,
      // Readers look up a build's last event by subject (a direct get times out without it).
      allow_direct: true,
      max_age: nanos(options.maxAgeMs ?? DEFAULT_MAX_AGE_MS),
      num_replicas: options.replicas ?? 1,
    });
    return new ProgressLog(nc, jetstream(nc, { timeout: 5_000 }), jsm, names.progressStream, names.progressPrefix, options.logger ?? silentLogger);
  }

  subject(buildId: string): string {
    assertSagaId(buildId);
    return `${this.#prefix}.${buildId}`;
  }

  /** Removes a build's progress (retention of finished sagas). Idempotent. */
  async purge(buildId: string): Promise<void> {
    await this.#jsm.streams.purge(this.#stream, { filter: this.subject(buildId) });
  }

  /** Appends an event; a failure is logged and reported as false, never thrown. */
  async publish(buildId: string, event: ProgressEvent, options: { msgId?: string } = {}): Promise<boolean> {
    const stored = { ...cut(event), buildId, at: Date.now() };
    try {
      await this.#js.publish(this.subject(buildId), encoder.encode(JSON.stringify(stored)), options.msgId ? { msgID: options.msgId } : undefined);
      return true;
    } catch (e) {
      this.#log.warn({ buildId, kind: event.kind, err: (e as Error).message }, 'build progress not written');
      return false;
    }
  }

  /**
   * The build's progress from the start (or after `afterSeq`). With `follow`, goes on with new
   * events as they come until the `result` event or the signal; without, ends at what is
   * stored now.
   */
  async *read(buildId: string, options: { follow?: boolean; afterSeq?: number; signal?: AbortSignal } = {}): AsyncGenerator<ProgressRecord> {
    const subject = this.subject(buildId);
    let after = options.afterSeq ?? 0;
    for (let failures = 0; ; ) {
      options.signal?.throwIfAborted();
      try {
        const last = await this.#jsm.direct.getMessage(this.#stream, { last_by_subj: subject });
        if (last !== null && last.seq > after) {
          const oc = await this.#js.consumers.get(this.#stream, {
            filter_subjects: subject,
            deliver_policy: DeliverPolicy.StartSequence,
            opt_start_seq: after + 1,
          });
          try {
            for await (const m of readUntilCaughtUp(oc, { untilSeq: last.seq, signal: options.signal })) {
              after = m.seq;
              const record = { ...(JSON.parse(decoder.decode(m.data)) as ProgressEvent & { buildId: string; at: number }), seq: m.seq };
              yield record;
              if (record.kind === 'result') return;
            }
          } finally {
            oc.delete().catch(() => undefined);
          }
        }
        if (!options.follow) return;
        await this.#next(subject, after, options.signal);
        failures = 0;
      } catch (e) {
        // A follower waits out a NATS outage and goes on from the last event it delivered; a
        // one-off read reports it.
        if (options.signal?.aborted || !options.follow || !isTransient(e)) throw options.signal?.aborted ? options.signal.reason : unavailable(e);
        await sleep(backoffMs(failures++), [options.signal]);
      }
    }
  }

  /** Waits for an event after `after` (a core subscription wakes the follower; a poll covers a miss). */
  async #next(subject: string, after: number, signal: AbortSignal | undefined): Promise<void> {
    const sub = this.#nc.subscribe(subject, { max: 1 });
    const woke = (async () => {
      for await (const _ of sub) return;
    })();
    try {
      const again = await this.#jsm.direct.getMessage(this.#stream, { last_by_subj: subject });
      if (again !== null && again.seq > after) return;
      let timer: NodeJS.Timeout | undefined;
      const poll = new Promise<void>((resolve) => (timer = setTimeout(resolve, 1_000)));
      try {
        await abortable(Promise.race([woke, poll]), [signal]);
      } finally {
        clearTimeout(timer);
      }
    } finally {
      sub.unsubscribe();
    }
  }
}

function cut(event: ProgressEvent): ProgressEvent {
  if (event.kind === 'log' && event.text.length > MAX_TEXT) return { ...event, text: `${event.text.slice(0, MAX_TEXT)}…` };
  if (event.kind === 'error' && event.message.length > MAX_TEXT) return { ...event, message: `${event.message.slice(0, MAX_TEXT)}…` };
  return event;
}

function unavailable(e: unknown): unknown {
  return isTransient(e) ? new JournalUnavailableError(`build progress is unavailable (NATS): ${(e as Error).message}`, e) : e;
}
