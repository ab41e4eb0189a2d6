/**
 * `KvStore` in memory with the NATS bucket's semantics: one revision counter per bucket, create
 * succeeds over a deleted key, and values are copied in and out so callers cannot alias them.
 */
import { KvConflictError } from '../errors.js';
import { checkKey, checkRevision } from './kv-validate.js';
import type { KvEntry, KvStore } from './kv-store.js';

export class MemoryKvStore implements KvStore {
  readonly bucket: string;
  #revision = 0;
  readonly #entries = new Map<string, KvEntry>();

  constructor(bucket = 'memory') {
    this.bucket = bucket;
  }

  async get(key: string): Promise<KvEntry | null> {
    checkKey(key);
    const e = this.#entries.get(key);
    return e ? { key, value: e.value.slice(), revision: e.revision } : null;
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    checkKey(key);
    if (this.#entries.has(key)) throw new KvConflictError(this.bucket, key, undefined);
    return this.#write(key, value);
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    checkKey(key);
    checkRevision(revision);
    if (this.#entries.get(key)?.revision !== revision) throw new KvConflictError(this.bucket, key, revision);
    return this.#write(key, value);
  }

  async put(key: string, value: Uint8Array): Promise<number> {
    checkKey(key);
    return this.#write(key, value);
  }

  async delete(key: string, options: { revision?: number } = {}): Promise<void> {
    checkKey(key);
    const { revision } = options;
    if (revision !== undefined) {
      checkRevision(revision);
      if (this.#entries.get(key)?.revision !== revision) throw new KvConflictError(this.bucket, key, revision);
    }
    // NATS writes a delete marker, which takes a revision too.
    this.#revision++;
    this.#entries.delete(key);
  }

  async getMany(keys: ReadonlySet<string> | 'all'): Promise<Map<string, KvEntry>> {
    const out = new Map<string, KvEntry>();
    for (const key of keys === 'all' ? [...this.#entries.keys()] : keys) {
      const e = this.#entries.get(key);
      if (e) out.set(key, { key, value: e.value.slice(), revision: e.revision });
    }
    return out;
  }

  async keys(prefix = ''): Promise<string[]> {
    return [...this.#entries.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  #write(key: string, value: Uint8Array): number {
    const revision = ++this.#revision;
    this.#entries.set(key, { key, value: value.slice(), revision });
    return revision;
  }
}
