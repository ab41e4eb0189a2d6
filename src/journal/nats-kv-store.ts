/**
 * `KvStore` on a NATS KV bucket. CAS is JetStream's expected-last-subject-sequence check, so a
 * failed compare surfaces as 10071 and becomes `KvConflictError`.
 */
import type { JetStreamApiError } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { KvConflictError } from '../errors.js';
import { checkKey, checkRevision } from './kv-validate.js';
import { isWrongLastSequence } from '../nats/nats-errors.js';
import type { KvEntry, KvStore } from './kv-store.js';

export interface NatsKvStoreOptions {
  /** Values kept per key (default 1: the store only ever reads the latest). */
  readonly history?: number;
  readonly replicas?: number;
}

export class NatsKvStore implements KvStore {
  readonly bucket: string;
  readonly #kv: KV;

  constructor(bucket: string, kv: KV) {
    this.bucket = bucket;
    this.#kv = kv;
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

  async keys(prefix = ''): Promise<string[]> {
    const out: string[] = [];
    for await (const k of await this.#kv.keys(subjectFilterFor(prefix))) {
      if (k.startsWith(prefix)) out.push(k);
    }
    return out.sort();
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
  const kv = await new Kvm(nc).create(bucket, {
    history: opts.history ?? 1,
    ...(opts.replicas === undefined ? {} : { replicas: opts.replicas }),
  });
  return new NatsKvStore(bucket, kv);
}
