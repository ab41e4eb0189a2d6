/**
 * The journal on JetStream: one stream, one subject per saga (`<prefix>.<sagaId>`). Optimistic
 * concurrency is the server's `Nats-Expected-Last-Subject-Sequence` check (10071 on a stale
 * writer); idempotency is `Nats-Msg-Id` dedupe, which the server checks before the expectation,
 * so a retry of an append that already landed is acknowledged as a duplicate.
 */
import {
  jetstream,
  jetstreamManager,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type JetStreamPublishOptions,
  type PubAck,
  type StoredMsg,
} from '@nats-io/jetstream';
import { setMaxListeners } from 'node:events';
import { nanos, type Msg, type NatsConnection, type QueuedIterator, type Status } from '@nats-io/transport-node';
import { ClosedError, EntryTooLargeError, JournalConflictError, JournalUnavailableError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { assertServerVersion } from '../nats/connect.js';
import { actualLastSequence, isTransient, isWrongLastSequence } from '../nats/nats-errors.js';
import { abortable, backoffMs, firstAborted, sleep } from '../nats/retry.js';
import { AckPublisher } from '../nats/ack-publisher.js';
import { pushRead } from '../nats/push-read.js';
import { assertReplicasPossible } from '../nats/replicas.js';
import { ensureStream } from '../nats/streams.js';
import { invalidSagaIdError, isValidSagaId } from './saga-id.js';
import {
  type AppendLoad,
  type AppendOptions,
  type AppendResult,
  type Journal,
  type JournalEntry,
  type SagaHead,
  type ScanOptions,
} from './journal.js';

export interface JetStreamJournalOptions {
  /** Stream name (default `JETSAGA_EVENTS`). */
  readonly stream?: string;
  /** Subject prefix; a saga's subject is `<prefix>.<sagaId>` (default `jetsaga.ev`). */
  readonly subjectPrefix?: string;
  /** Must outlast the longest retry loop of one append (default 120 000 ms). */
  readonly duplicateWindowMs?: number;
  readonly replicas?: number;
  /** How long one publish attempt waits for its ack before it counts as ambiguous (default 2000 ms). */
  readonly publishTimeoutMs?: number;
  readonly logger?: Logger;
}

export interface JetStreamJournalParts {
  readonly nc: NatsConnection;
  /** Its timeout is the per-attempt ack timeout of `append`. */
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly stream: string;
  readonly subjectPrefix: string;
  readonly logger?: Logger;
  /**
   * How an append is published; `js.publish` when absent. `openJetStreamJournal` passes the
   * lean `AckPublisher` (src/nats/ack-publisher.ts), closed with the journal.
   */
  readonly publish?: { publish: PublishFn; close?(): void; load?(): AppendLoad };
}

/**
 * `js.publish`'s shape, as far as appends use it; `signal` drops a publish still waiting for
 * its turn to be sent (one on the wire is waited for).
 */
export type PublishFn = (subject: string, data: Uint8Array, opts: Partial<JetStreamPublishOptions>, signal?: AbortSignal) => Promise<PubAck>;

const MSG_ID_HEADER = 'Nats-Msg-Id';
/** Why an attempt was cut short at a reconnect: retried at once, with the same msgId. */
const RECONNECTED = Symbol('reconnected');
/** During an outage every append in flight retries; one warning a second is enough. */
const WARN_INTERVAL_MS = 1_000;
/**
 * How many entries `read` fetches by direct gets before it switches to a consumer (push-read.ts).
 * bench/journal-read.ts, nats-server 2.9.10, file store, loopback, 2-core VM; p50 of 100
 * interleaved reads, the saga's entries spread over a 50k-message stream / packed in a 1.2k one:
 *   entries          0        1        3        5        8       10       20       50      100
 *   walk (ms)  0.2/0.3  0.4/0.7  2.3/1.0  3.3/1.4  6.0/2.2  7.6/2.2   13/3.8   19/10    32/19
 *   consumer   0.8/1.3  1.2/1.7  3.1/1.6  3.7/1.8  6.2/2.1  6.9/1.4  9.9/1.4   11/2.2   12/2.6
 *   read()     0.3/0.5  0.5/0.6  2.4/1.1  3.5/1.6  6.5/2.5  8.7/3.0   13/3.0   13/4.2   15/4.6
 * A walk costs a round trip per entry, more when the entries lie far apart (the server searches
 * for the next one); the consumer costs 1–2 ms to set up (stream info + consumer create + pull)
 * and little per entry. They cross at 6–10 entries; above the switch `read` pays for the walk
 * it began with (≈2 ms extra at 100 entries).
 */
const WALK_LIMIT = 8;
/** Room left in a message for the headers an append carries (msgId, expected sequence). */
const HEADER_ROOM = 1024;

export class JetStreamJournal implements Journal {
  readonly stream: string;
  readonly maxEntryBytes: number;
  readonly subjectPrefix: string;
  readonly #nc: NatsConnection;
  readonly #jsm: JetStreamManager;
  readonly #publish: PublishFn;
  readonly #publisher: JetStreamJournalParts['publish'];
  readonly #log: Logger;
  /** `<prefix>.`, precomputed: the append path concatenates it with the saga id. */
  readonly #subjectBase: string;
  readonly #closing = new AbortController();
  /** Aborted (and replaced) whenever the client reconnects. */
  #reconnected = new AbortController();
  #disconnected = false;
  readonly #status: AsyncIterable<Status>;
  #lastWarnAt = 0;

  /** Prefer `openJetStreamJournal`, which also creates the stream; this binds to an existing one. */
  constructor(parts: JetStreamJournalParts) {
    // Every append waiting out an outage listens on these two: thousands at once is expected.
    setMaxListeners(0, this.#closing.signal, this.#reconnected.signal);
    this.#nc = parts.nc;
    this.#jsm = parts.jsm;
    this.#publisher = parts.publish;
    this.#publish = parts.publish ? parts.publish.publish : (subject, data, opts) => parts.js.publish(subject, data, opts);
    this.stream = parts.stream;
    this.subjectPrefix = parts.subjectPrefix;
    this.#subjectBase = `${parts.subjectPrefix}.`;
    // A message over the server's max_payload is refused by the client outright: entries are
    // checked against it before they are appended (1 MiB by default).
    this.maxEntryBytes = (parts.nc.info?.max_payload ?? 1024 * 1024) - HEADER_ROOM;
    this.#log = parts.logger ?? silentLogger;
    this.#status = parts.nc.status();
    void this.#watchReconnects(this.#status);
  }

  appendLoad(): AppendLoad {
    return this.#publisher?.load?.() ?? { inFlight: 0, queued: 0 };
  }

  /** Stops retry loops in flight (they reject); the NATS connection belongs to the caller. */
  async close(): Promise<void> {
    this.#closing.abort(new ClosedError('journal'));
    this.#publisher?.close?.();
    (this.#status as Partial<QueuedIterator<Status>>).stop?.();
  }

  /**
   * The hot path. Deliberately not `async`: without the async frame and its extra await the
   * wrapper costs ≈0.17 µs per call over a bare `js.publish` instead of ≈0.23 µs
   * (bench/journal-append.ts, stub client); everything unusual is in `#appendSlow`.
   */
  append(sagaId: string, data: Uint8Array, options: AppendOptions): Promise<AppendResult> {
    if (!isValidSagaId(sagaId)) return Promise.reject(invalidSagaIdError(sagaId));
    if (this.#closing.signal.aborted) return Promise.reject(new ClosedError('journal'));
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    if (data.length > this.maxEntryBytes) return Promise.reject(new EntryTooLargeError(sagaId, data.length, this.maxEntryBytes));
    const subject = this.#subjectBase + sagaId;
    const opts: Partial<JetStreamPublishOptions> = {
      msgID: options.msgId,
      expect: { lastSubjectSequence: options.expectedLastSeq },
    };
    // While disconnected, go straight to the path that retries at the reconnect.
    if (this.#disconnected) return this.#appendSlow(sagaId, subject, data, options, opts, RECONNECTED);
    // A PubAck is an AppendResult (seq, duplicate): returned as is to save a copy.
    return this.#publish(subject, data, opts, options.signal).then(
      (ack) => (ack.duplicate ? this.#checkDuplicate(sagaId, subject, data, options, ack) : ack),
      (err: unknown) => this.#appendSlow(sagaId, subject, data, options, opts, err),
    );
  }

  /**
   * A duplicate ack says "a message with this msgId is stored at `seq`" — not that it is this
   * append. It is this append only if the message there is on this saga's subject with the
   * same msgId and the same bytes; anything else means another writer, so the caller is fenced.
   */
  async #checkDuplicate(sagaId: string, subject: string, data: Uint8Array, options: AppendOptions, ack: AppendResult): Promise<AppendResult> {
    const stop = [options.signal, this.#closing.signal];
    const m = await this.#retrying(() => this.#jsm.direct.getMessage(this.stream, { seq: ack.seq }), stop, sagaId);
    const ours =
      m !== null && m.subject === subject && m.header.get(MSG_ID_HEADER) === options.msgId && m.data.length === data.length && Buffer.compare(m.data, data) === 0;
    if (ours) return { seq: ack.seq, duplicate: true };
    throw new JournalConflictError(sagaId, options.expectedLastSeq, undefined, new Error(`acknowledged as a duplicate of seq ${ack.seq}, which is not this append`));
  }

  /** Everything but the first clean attempt: conflicts, and retries of ambiguous outcomes. */
  async #appendSlow(
    sagaId: string,
    subject: string,
    data: Uint8Array,
    options: AppendOptions,
    opts: Partial<JetStreamPublishOptions>,
    firstErr: unknown,
  ): Promise<AppendResult> {
    let err = firstErr;
    let ambiguous = false;
    const stop = [options.signal, this.#closing.signal];
    for (let attempt = 0; ; attempt++) {
      if (isWrongLastSequence(err)) {
        // After an ambiguous attempt, a conflict may be our own write seen once the dedupe
        // window has passed: the head then carries our msgId (and our bytes).
        if (ambiguous) {
          const head = await this.#retrying(() => this.#jsm.direct.getMessage(this.stream, { last_by_subj: subject }), stop, sagaId);
          if (head !== null && head.header.get(MSG_ID_HEADER) === options.msgId) {
            return this.#checkDuplicate(sagaId, subject, data, options, { seq: head.seq, duplicate: true });
          }
        }
        throw new JournalConflictError(sagaId, options.expectedLastSeq, actualLastSequence(err), err);
      }
      if (err !== RECONNECTED && !isTransient(err)) throw err;
      if (this.#nc.isClosed()) throw new JournalUnavailableError(`NATS connection closed while appending to saga "${sagaId}"`, err);
      if (!ambiguous) this.#warnRetry(sagaId, err);
      ambiguous = true;
      // Nothing of this append is in flight here: a stop takes effect at once.
      const stopped = firstAborted(stop);
      if (stopped) throw this.#abortError(stopped, sagaId, err);
      try {
        if (err !== RECONNECTED) await sleep(backoffMs(attempt), stop);
      } catch (e) {
        throw this.#abortError(firstAborted(stop) ?? this.#closing.signal, sagaId, e);
      }
      // An attempt, once sent, is waited for even if the caller stops meanwhile (it ends
      // within the publish timeout): when the append settles, none of it is on the wire. Only
      // our own close cuts it short, and a reconnect — a request made while the client is
      // disconnected is dropped when it reconnects (client 3.4.0 resets its outbound buffer).
      try {
        const ack = await abortable(this.#publish(subject, data, opts, options.signal), [this.#closing.signal, this.#reconnected.signal]);
        return ack.duplicate ? await this.#checkDuplicate(sagaId, subject, data, options, ack) : ack;
      } catch (e) {
        if (this.#closing.signal.aborted) throw this.#abortError(this.#closing.signal, sagaId, e);
        if (e instanceof JournalConflictError) throw e;
        err = e;
      }
    }
  }

  #warnRetry(sagaId: string, err: unknown): void {
    const now = Date.now();
    const level = now - this.#lastWarnAt >= WARN_INTERVAL_MS ? 'warn' : 'debug';
    if (level === 'warn') this.#lastWarnAt = now;
    this.#log[level]({ sagaId, err }, 'journal append outcome unknown; retrying with the same msgId');
  }

  /** Runs a read until it gets an answer, for use inside the append retry loop. */
  async #retrying<T>(fn: () => Promise<T>, stop: readonly (AbortSignal | undefined)[], sagaId: string): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await abortable(fn(), stop);
      } catch (err) {
        const stopped = firstAborted(stop);
        if (stopped) throw this.#abortError(stopped, sagaId, err);
        if (!isTransient(err) || this.#nc.isClosed()) throw err;
        await sleep(backoffMs(attempt), stop).catch((e: unknown) => {
          throw this.#abortError(firstAborted(stop) as AbortSignal, sagaId, e);
        });
      }
    }
  }

  /** The caller's abort reason as is; our own close as "outcome unknown". */
  #abortError(signal: AbortSignal, sagaId: string, cause: unknown): unknown {
    if (signal !== this.#closing.signal) return signal.reason;
    return new JournalUnavailableError(`journal closed while an append to saga "${sagaId}" was unresolved`, cause);
  }

  async #watchReconnects(status: AsyncIterable<Status>): Promise<void> {
    try {
      for await (const s of status) {
        if (s.type === 'disconnect') this.#disconnected = true;
        if (s.type !== 'reconnect') continue;
        this.#disconnected = false;
        const old = this.#reconnected;
        this.#reconnected = new AbortController();
        setMaxListeners(0, this.#reconnected.signal);
        old.abort(RECONNECTED);
      }
    } catch {
      // the status stream ends with the connection
    }
  }

  async read(sagaId: string, options: { fromSeq?: number; limit?: number } = {}): Promise<JournalEntry[]> {
    if (!isValidSagaId(sagaId)) throw invalidSagaIdError(sagaId);
    const subject = this.#subjectBase + sagaId;
    const fromSeq = Math.max(1, options.fromSeq ?? 1);
    const limit = options.limit ?? Infinity;
    const out: JournalEntry[] = [];
    // The head is fetched alongside the first entry so that the walk knows where to stop
    // without a last, empty round trip.
    const [first, head] = await Promise.all([
      this.#jsm.direct.getMessage(this.stream, { seq: fromSeq, next_by_subj: subject }),
      this.#jsm.direct.getMessage(this.stream, { last_by_subj: subject }),
    ]);
    if (first === null || head === null || limit < 1) return out;
    out.push(this.#fromStored(sagaId, first));
    let last = first.seq;
    while (last < head.seq && out.length < limit) {
      if (out.length >= WALK_LIMIT && limit === Infinity) {
        await this.#readByConsumer(sagaId, subject, last + 1, head.seq, out);
        return out;
      }
      const m = await this.#jsm.direct.getMessage(this.stream, { seq: last + 1, next_by_subj: subject });
      if (m === null || m.seq > head.seq) break;
      out.push(this.#fromStored(sagaId, m));
      last = m.seq;
    }
    return out;
  }

  /** Appends the saga's entries from `fromSeq` up to `untilSeq` (inclusive) to `out`. */
  async #readByConsumer(sagaId: string, subject: string, fromSeq: number, untilSeq: number, out: JournalEntry[]): Promise<void> {
    // A connection lost mid-read fails the read: a partial history never passes for a whole one.
    const read = pushRead(this.#nc, this.#jsm, { stream: this.stream, filterSubject: subject, from: { seq: fromSeq }, untilSeq }, (_, seq, m) => scanned(sagaId, seq, m));
    for await (const batch of read) for (const e of batch) out.push(e);
  }

  async *scan(options: ScanOptions = {}): AsyncIterable<JournalEntry> {
    const { signal, sagaIds } = options;
    signal?.throwIfAborted();
    const fromSeq = Math.max(1, options.fromSeq ?? 1);
    const endSeq = await this.lastSeq();
    if (endSeq < fromSeq) return;
    const base = this.#subjectBase;
    // Unfiltered, the subjects checked here: nats-server 2.9 starts a consumer filtered on
    // `<prefix>.>` mid-stream at a cost that grows with the stream (5k entries from seq 65k of
    // 70k: 280 ms of server CPU filtered, 50 ms unfiltered), and a recovery scans from its
    // low-water seq. Entries of sagas not asked for are skipped as they arrive, before any
    // object is made for them.
    const read = pushRead(this.#nc, this.#jsm, { stream: this.stream, from: { seq: fromSeq }, untilSeq: endSeq, ...(signal ? { signal } : {}) }, (subject, seq, m) => {
      if (!subject.startsWith(base)) return undefined;
      const sagaId = subject.slice(base.length);
      return sagaIds === undefined || sagaIds.has(sagaId) ? scanned(sagaId, seq, m) : undefined;
    });
    for await (const batch of read) {
      for (const e of batch) {
        yield e;
        signal?.throwIfAborted();
      }
    }
  }

  async head(sagaId: string): Promise<SagaHead | null> {
    if (!isValidSagaId(sagaId)) throw invalidSagaIdError(sagaId);
    const m = await this.#jsm.direct.getMessage(this.stream, { last_by_subj: this.#subjectBase + sagaId });
    return m === null ? null : { seq: m.seq, msgId: m.header.get(MSG_ID_HEADER) || undefined };
  }

  async listSagas(): Promise<Map<string, number>> {
    const si = await this.#jsm.streams.info(this.stream, { subjects_filter: `${this.subjectPrefix}.>` });
    const out = new Map<string, number>();
    const prefixLen = this.#subjectBase.length;
    for (const [subject, count] of Object.entries(si.state.subjects ?? {})) out.set(subject.slice(prefixLen), count);
    return out;
  }

  async purge(sagaId: string): Promise<void> {
    if (!isValidSagaId(sagaId)) throw invalidSagaIdError(sagaId);
    await this.#jsm.streams.purge(this.stream, { filter: this.#subjectBase + sagaId });
  }

  async lastSeq(): Promise<number> {
    return (await this.#jsm.streams.info(this.stream)).state.last_seq;
  }

  #fromStored(sagaId: string, m: StoredMsg): JournalEntry {
    return { sagaId, seq: m.seq, msgId: m.header.get(MSG_ID_HEADER) || undefined, data: m.data };
  }
}

/**
 * A scanned entry whose msgId header is decoded only when read: a recovery scans every entry
 * from a low-water seq and reads none of them (decoding the headers was ~3% of its CPU).
 */
function scanned(sagaId: string, seq: number, m: Msg): JournalEntry {
  return {
    sagaId,
    seq,
    data: m.data,
    get msgId() {
      return m.headers?.get(MSG_ID_HEADER) || undefined;
    },
  };
}

/** Creates (or reconciles) the journal stream and returns a journal over it. */
export async function openJetStreamJournal(nc: NatsConnection, opts: JetStreamJournalOptions = {}): Promise<JetStreamJournal> {
  assertServerVersion(nc);
  const stream = opts.stream ?? 'JETSAGA_EVENTS';
  const subjectPrefix = opts.subjectPrefix ?? 'jetsaga.ev';
  assertReplicasPossible(nc, opts.replicas ?? 1);
  const jsm = await jetstreamManager(nc, { timeout: 5_000 });
  const js = jetstream(nc, { timeout: opts.publishTimeoutMs ?? 2_000 });
  await ensureStream(jsm, {
    name: stream,
    subjects: [`${subjectPrefix}.>`],
    storage: StorageType.File,
    allow_direct: true,
    duplicate_window: nanos(opts.duplicateWindowMs ?? 120_000),
    // Explicit so that a stream someone configured with an age or per-subject limit is
    // corrected: either would silently cut long-lived sagas.
    max_age: 0,
    max_msgs_per_subject: -1,
    num_replicas: opts.replicas ?? 1,
  });
  const publisher = new AckPublisher(nc, opts.publishTimeoutMs ?? 2_000);
  const publish: PublishFn = (subject, data, o, signal) =>
    publisher.publish(subject, data, { msgId: o.msgID, expectedLastSubjectSequence: o.expect?.lastSubjectSequence, signal });
  return new JetStreamJournal({
    nc,
    js,
    jsm,
    stream,
    subjectPrefix,
    logger: opts.logger ?? silentLogger,
    publish: { publish, close: () => publisher.close(), load: () => publisher.load },
  });
}
