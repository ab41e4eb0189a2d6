/**
 * `KvStore` on a NATS KV bucket. CAS is JetStream's expected-last-subject-sequence check, so a
 * failed compare surfaces as 10071 and becomes `KvConflictError`.
 */
import { jetstreamManager, type JetStreamApiError, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { KvConflictError } from '../errors.js';
import { checkKey, checkRevision } from './kv-validate.js';
import { isWrongLastSequence } from '../nats/nats-errors.js';
import { withReplicas } from '../nats/replicas.js';
import { pushRead } from '../nats/push-read.js';
import { forEachLimit } from '../util/for-each-limit.js';
import type { KvEntry, KvStore } from './kv-store.js';


export interface NatsKvStoreOptions {
  /** Values kept per key (default 1: the store only ever reads the latest). */
  readonly history?: number;
  readonly replicas?: number;
}

export class NatsKvStore implements KvStore {
  readonly bucket: string;
  readonly #kv: KV;
  readonly #jsm: JetStreamManager;
  readonly #nc: NatsConnection;

  constructor(bucket: string, kv: KV, jsm: JetStreamManager, nc: NatsConnection) {
    this.bucket = bucket;
    this.#kv = kv;
    this.#jsm = jsm;
    this.#nc = nc;
  }

  async get(key: string): Promise<KvEntry | null> {
    checkKey(key);
    const e = await this.#kv.get(key);
    if (e === null || e.operation !== 'PUT') return null;
    return { key, value: e.value, revision: e.revision };
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    checkKey(key);
    try {
      // Unlike a raw publish with expectation 0, kv.create also succeeds over a delete marker.
      return await this.#kv.create(key, value);
    } catch (err) {
      throw this.#conflict(err, key, undefined);
    }
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    checkKey(key);
    checkRevision(revision);
    try {
      return await this.#kv.update(key, value, revision);
    } catch (err) {
      throw this.#conflict(err, key, revision);
    }
  }

  async put(key: string, value: Uint8Array): Promise<number> {
    checkKey(key);
    return this.#kv.put(key, value);
  }

  async delete(key: string, options: { revision?: number } = {}): Promise<void> {
    checkKey(key);
    const { revision } = options;
    if (revision === undefined) {
      await this.#kv.delete(key);
      return;
    }
    checkRevision(revision);
    try {
      await this.#kv.delete(key, { previousSeq: revision });
    } catch (err) {
      throw this.#conflict(err, key, revision);
    }
  }

  /**
   * The bucket's subjects from stream info (one bounded reply), then a read of each to leave out
   * deleted keys. Not the client's `kv.keys()`: its consumer waits for the last message of every
   * key it counted at the start, and hangs on nats-server 2.9 when one of those keys is
   * rewritten meanwhile (its old message is gone) — as checkpoints and readiness records are.
   */
  async keys(prefix = ''): Promise<string[]> {
    const base = `$KV.${this.bucket}.`;
    const si = await this.#jsm.streams.info(`KV_${this.bucket}`, { subjects_filter: `${base}${subjectFilterFor(prefix)}` });
    const candidates = Object.keys(si.state.subjects ?? {})
      .map((s) => s.slice(base.length))
      .filter((k) => k.startsWith(prefix));
    const live: string[] = [];
    await forEachLimit(candidates, 64, async (k) => {
      if (await this.get(k)) live.push(k);
    });
    return live.sort();
  }

  /**
   * One pass over the bucket's stream, the last message of each key (push-read.ts): thousands
   * of keys in a fraction of the time thousands of gets take. Bounded by the stream's last seq
   * when the read begins, so a key rewritten meanwhile may be missing (its old message is gone,
   * its new one lies past the bound): the interface says so.
   */
  async getMany(keys: ReadonlySet<string> | 'all'): Promise<Map<string, KvEntry>> {
    const out = new Map<string, KvEntry>();
    if (keys !== 'all' && keys.size === 0) return out;
    const wanted = (key: string): boolean => keys === 'all' || keys.has(key);
    const stream = `KV_${this.bucket}`;
    const base = `$KV.${this.bucket}.`;
    const last = (await this.#jsm.streams.info(stream)).state.last_seq;
    if (last === 0) return out;
    // A delete or purge marker is an empty message with a KV-Operation header: only those are
    // looked at for it.
    const read = pushRead(this.#nc, this.#jsm, { stream, filterSubject: `${base}>`, from: 'lastPerSubject', untilSeq: last }, (subject, seq, m) => {
      const key = subject.slice(base.length);
      if (!wanted(key)) return undefined;
      const op = m.data.length === 0 ? m.headers?.get('KV-Operation') : undefined;
      return op === undefined || op === '' || op === 'PUT' ? { key, value: m.data, revision: seq } : { key, value: null, revision: seq };
    });
    for await (const batch of read) {
      for (const e of batch) {
        if (e.value) out.set(e.key, e as KvEntry);
        else out.delete(e.key);
      }
    }
    return out;
  }

  #conflict(err: unknown, key: string, revision: number | undefined): unknown {
    return isWrongLastSequence(err) ? new KvConflictError(this.bucket, key, revision, err as JetStreamApiError) : err;
  }
}

/**
 * Key filters match whole dot-separated tokens, so the server filters on the prefix's complete
 * tokens and the rest of the prefix is matched here ("a.b" → "a.>" plus startsWith).
 */
function subjectFilterFor(prefix: string): string {
  const cut = prefix.lastIndexOf('.');
  return cut < 0 ? '>' : `${prefix.slice(0, cut + 1)}>`;
}


/** Creates the bucket (or binds to it) and returns a store over it. */
export async function openNatsKvStore(nc: NatsConnection, bucket: string, opts: NatsKvStoreOptions = {}): Promise<NatsKvStore> {
  const jsm = await jetstreamManager(nc);
  const kv = await withReplicas(nc, jsm, { stream: `KV_${bucket}`, what: `KV bucket ${bucket}`, replicas: opts.replicas }, () =>
    new Kvm(nc).create(bucket, {
      history: opts.history ?? 1,
      ...(opts.replicas === undefined ? {} : { replicas: opts.replicas }),
    }),
  );
  return new NatsKvStore(bucket, kv, jsm, nc);
}
