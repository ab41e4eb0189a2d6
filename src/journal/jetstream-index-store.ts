/**
 * `IndexStore` on a raw JetStream stream with one message per subject: `<prefix>.open.<id>`
 * holds an open saga's record, `<prefix>.done.<id>` a finished one's. Finishing purges the open
 * subject, and a purged subject leaves nothing behind, so listing open sagas costs the same
 * however many have finished (a KV bucket would keep a delete marker per finished saga and
 * read them all on every listing).
 */
import {
  jetstream,
  jetstreamManager,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type PubAck,
  type StoredMsg,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { CorruptEntryError, JournalUnavailableError, KvConflictError } from '../errors.js';
import { isTransient, isWrongLastSequence } from '../nats/nats-errors.js';
import { AckPublisher } from '../nats/ack-publisher.js';
import { pushRead } from '../nats/push-read.js';
import { assertReplicasPossible } from '../nats/replicas.js';
import { ensureStream } from '../nats/streams.js';
import { forEachLimit } from '../util/for-each-limit.js';
import type { IndexEntry, IndexPage, IndexRecord, IndexStore } from './index-store.js';
import { checkRecord, checkSagaId, pageOf } from './index-shared.js';
import { checkRevision } from './kv-validate.js';

export interface JetStreamIndexStoreOptions {
  /** Stream name (default `JETSAGA_INDEX`). */
  readonly stream?: string;
  /** Subject prefix (default `jetsaga.idx`). */
  readonly subjectPrefix?: string;
  readonly replicas?: number;
  /** JetStream request timeout (default 5000 ms). */
  readonly timeoutMs?: number;
}

type Kind = 'open' | 'done';

/**
 * How a page's payloads are loaded. bench/index-list.ts (nats-server 2.9.10, 2-core VM,
 * 10,000 sagas of which 2,500 open; medians of 20): names via stream info 8.6 ms; all 2,500
 * payloads through one consumer 24 ms; by direct gets ≈0.045 ms a record whatever the
 * number in flight (16, 64 or 256: 103–117 ms for 2,500, 25 ms for a page of 500). The
 * consumer has to read the whole set, so it wins once the page is more than about a fifth of
 * it. listOpen() measured 51 ms for a page of 500 and 44 ms for all 2,500; listFinished() 50 ms
 * for a page of 500 of 7,500.
 */
const CONSUMER_WHEN_PAGE_IS_AT_LEAST = 1 / 5;
const GET_CONCURRENCY = 64;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

export class JetStreamIndexStore implements IndexStore {
  readonly stream: string;
  readonly subjectPrefix: string;
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #publisher: AckPublisher | undefined;

  /** Prefer `openJetStreamIndexStore`, which also creates the stream; this binds to an existing one. */
  constructor(parts: { nc: NatsConnection; js: JetStreamClient; jsm: JetStreamManager; stream: string; subjectPrefix: string; publisher?: AckPublisher }) {
    this.#nc = parts.nc;
    this.#js = parts.js;
    this.#jsm = parts.jsm;
    this.#publisher = parts.publisher;
    this.stream = parts.stream;
    this.subjectPrefix = parts.subjectPrefix;
  }

  async create(record: IndexRecord): Promise<{ entry: IndexEntry; created: boolean }> {
    checkRecord(record);
    return this.#create(record, 0);
  }

  async #create(record: IndexRecord, attempt: number): Promise<{ entry: IndexEntry; created: boolean }> {
    const { sagaId } = record;
    // The done check travels with the publish: a finished saga must not be re-opened, and
    // after a finish the open subject is empty, so the expectation alone would let it through.
    const [pub, done] = await Promise.allSettled([
      this.#publish(this.#subject('open', sagaId), record, 0),
      this.#direct('done', sagaId),
    ]);
    const finished = done.status === 'fulfilled' ? done.value : await this.#direct('done', sagaId);
    if (finished) {
      if (pub.status === 'fulfilled') await this.#purge('open', sagaId);
      return { entry: finished, created: false };
    }
    if (pub.status === 'fulfilled') return { entry: { record, revision: pub.value.seq }, created: true };
    if (!isWrongLastSequence(pub.reason)) throw pub.reason;
    const existing = await this.get(sagaId);
    if (existing) return { entry: existing, created: false };
    // Removed between our publish and our read: the saga is free again.
    if (attempt >= 3) throw pub.reason;
    return this.#create(record, attempt + 1);
  }

  async get(sagaId: string): Promise<IndexEntry | null> {
    checkSagaId(sagaId);
    const [open, done] = await Promise.all([this.#direct('open', sagaId), this.#direct('done', sagaId)]);
    return open ?? done;
  }

  async update(record: IndexRecord, revision: number): Promise<IndexEntry> {
    checkRecord(record);
    checkRevision(revision);
    try {
      const pa = await this.#publish(this.#subject('open', record.sagaId), record, revision);
      return { record, revision: pa.seq };
    } catch (err) {
      if (isWrongLastSequence(err)) throw new KvConflictError(this.stream, record.sagaId, revision, err);
      throw err;
    }
  }

  async finish(record: IndexRecord): Promise<void> {
    checkRecord(record);
    // Done first: a crash between the two leaves the saga listed as open, which recovery
    // repairs by finishing it again; the other order could lose the record altogether.
    await this.#publish(this.#subject('done', record.sagaId), record);
    await this.#purge('open', record.sagaId);
  }

  /** Stops the publisher this store opened. */
  close(): void {
    this.#publisher?.close();
  }

  #publish(subject: string, record: IndexRecord, expectedLastSeq?: number): Promise<PubAck> {
    const data = encoder.encode(JSON.stringify(record));
    const p = this.#publisher
      ? this.#publisher.publish(subject, data, { expectedLastSubjectSequence: expectedLastSeq })
      : this.#js.publish(subject, data, expectedLastSeq === undefined ? {} : { expect: { lastSubjectSequence: expectedLastSeq } });
    return p.catch(unavailable);
  }

  async remove(sagaId: string, options: { revision?: number } = {}): Promise<void> {
    checkSagaId(sagaId);
    // A purge with a sequence removes only the subject's messages below it: a record written
    // after `revision` survives, which makes the removal conditional without a CAS.
    if (options.revision !== undefined) return this.#purge('open', sagaId, options.revision + 1);
    await Promise.all([this.#purge('open', sagaId), this.#purge('done', sagaId)]);
  }

  async whichFinished(sagaIds: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    await forEachLimit(sagaIds, GET_CONCURRENCY, async (id) => {
      if (await this.#direct('done', id)) found.add(id);
    });
    return found;
  }

  listOpen(options: { after?: string; limit?: number } = {}): Promise<IndexPage> {
    return this.#list('open', options).catch(unavailable);
  }

  listFinished(options: { after?: string; limit?: number } = {}): Promise<IndexPage> {
    return this.#list('done', options).catch(unavailable);
  }

  async #list(kind: Kind, options: { after?: string; limit?: number }): Promise<IndexPage> {
    const { ids: all, lastSeq } = await this.#ids(kind);
    const { ids, next } = pageOf(all, options);
    if (ids.length === 0) return { entries: [], next };
    const entries =
      ids.length >= all.length * CONSUMER_WHEN_PAGE_IS_AT_LEAST ? await this.#loadAll(kind, ids, lastSeq) : await this.#loadSome(kind, ids);
    return { entries, next };
  }

  /**
   * The saga ids that have a record of this kind, sorted, and the stream's last seq then. Stream
   * info with a subjects filter answers with every live subject at once: ≈9 ms for 2,500 here.
   */
  async #ids(kind: Kind): Promise<{ ids: string[]; lastSeq: number }> {
    const base = `${this.subjectPrefix}.${kind}.`;
    const si = await this.#jsm.streams.info(this.stream, { subjects_filter: `${base}*` });
    const ids = Object.keys(si.state.subjects ?? {})
      .map((s) => s.slice(base.length))
      .sort();
    return { ids, lastSeq: si.state.last_seq };
  }

  /**
   * Reads the whole set in one pass (push-read.ts) (one message per subject: exactly the
   * live records) up to the stream's last seq at listing time, and keeps the page's ids. A
   * record replaced meanwhile is neither at its old seq nor before the end: those few are
   * fetched one by one. Ids gone by now (finished) are skipped.
   */
  async #loadAll(kind: Kind, ids: readonly string[], untilSeq: number): Promise<IndexEntry[]> {
    const base = `${this.subjectPrefix}.${kind}.`;
    const found = new Map<string, IndexEntry>();
    const read = pushRead(this.#nc, this.#jsm, { stream: this.stream, filterSubject: `${base}*`, from: { seq: 1 }, untilSeq }, (subject, seq, m) => [
      subject.slice(base.length),
      { record: decode(m.data, subject), revision: seq },
    ] as const);
    for await (const batch of read) for (const [id, e] of batch) found.set(id, e);
    const missing = ids.filter((id) => !found.has(id));
    if (missing.length > 0) for (const e of await this.#loadSome(kind, missing)) found.set(e.record.sagaId, e);
    return ids.map((id) => found.get(id)).filter((e): e is IndexEntry => e !== undefined);
  }

  /** A page of a larger set: direct gets, a bounded number in flight. */
  async #loadSome(kind: Kind, ids: readonly string[]): Promise<IndexEntry[]> {
    const found = new Map<string, IndexEntry>();
    await forEachLimit(ids, GET_CONCURRENCY, async (id) => {
      const e = await this.#direct(kind, id);
      if (e) found.set(id, e);
    });
    return ids.map((id) => found.get(id)).filter((e): e is IndexEntry => e !== undefined);
  }

  #subject(kind: Kind, sagaId: string): string {
    return `${this.subjectPrefix}.${kind}.${sagaId}`;
  }

  async #direct(kind: Kind, sagaId: string): Promise<IndexEntry | null> {
    const m: StoredMsg | null = await this.#jsm.direct.getMessage(this.stream, { last_by_subj: this.#subject(kind, sagaId) }).catch(unavailable);
    return m === null ? null : { record: decode(m.data, m.subject), revision: m.seq };
  }

  async #purge(kind: Kind, sagaId: string, belowSeq?: number): Promise<void> {
    const filter = this.#subject(kind, sagaId);
    await this.#jsm.streams.purge(this.stream, belowSeq === undefined ? { filter } : { filter, seq: belowSeq }).catch(unavailable);
  }
}

/**
 * A NATS outage surfaces as a typed, retryable JOURNAL_UNAVAILABLE (503) rather than a raw
 * client timeout: callers such as `start` are idempotent by saga id and may simply retry.
 */
function unavailable(err: unknown): never {
  if (isTransient(err)) throw new JournalUnavailableError(`the saga index is unavailable (NATS): ${(err as Error).message}`, err);
  throw err;
}

function decode(data: Uint8Array, subject: string): IndexRecord {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(data));
  } catch (err) {
    throw new CorruptEntryError(`index record on ${subject} is not JSON`, { subject, error: String(err) });
  }
  const r = value as Partial<IndexRecord> | null;
  if (typeof r !== 'object' || r === null || typeof r.sagaId !== 'string' || typeof r.status !== 'string') {
    throw new CorruptEntryError(`index record on ${subject} is malformed`, { subject });
  }
  return r as IndexRecord;
}

/** Creates (or reconciles) the index stream and returns a store over it. */
export async function openJetStreamIndexStore(nc: NatsConnection, opts: JetStreamIndexStoreOptions = {}): Promise<JetStreamIndexStore> {
  const stream = opts.stream ?? 'JETSAGA_INDEX';
  const subjectPrefix = opts.subjectPrefix ?? 'jetsaga.idx';
  const timeout = opts.timeoutMs ?? 5_000;
  assertReplicasPossible(nc, opts.replicas ?? 1);
  const jsm = await jetstreamManager(nc, { timeout });
  const js = jetstream(nc, { timeout });
  await ensureStream(jsm, {
    name: stream,
    subjects: [`${subjectPrefix}.open.*`, `${subjectPrefix}.done.*`],
    storage: StorageType.File,
    allow_direct: true,
    max_msgs_per_subject: 1,
    max_age: 0,
    num_replicas: opts.replicas ?? 1,
  });
  return new JetStreamIndexStore({ nc, js, jsm, stream, subjectPrefix, publisher: new AckPublisher(nc, timeout) });
}
