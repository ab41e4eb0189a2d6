/**
 * `IndexStore` in memory with the JetStream index's semantics: one revision counter, open and
 * finished records kept apart, and a finished saga never re-opened by `create`.
 */
import { KvConflictError } from '../errors.js';
import type { IndexEntry, IndexPage, IndexRecord, IndexStore } from './index-store.js';
import { checkRecord, checkSagaId, pageOf } from './index-shared.js';
import { checkRevision } from './kv-validate.js';

export class MemoryIndexStore implements IndexStore {
  readonly name: string;
  #revision = 0;
  readonly #open = new Map<string, IndexEntry>();
  readonly #done = new Map<string, IndexEntry>();

  constructor(name = 'memory-index') {
    this.name = name;
  }

  async create(record: IndexRecord): Promise<{ entry: IndexEntry; created: boolean }> {
    checkRecord(record);
    const existing = this.#done.get(record.sagaId) ?? this.#open.get(record.sagaId);
    if (existing) return { entry: existing, created: false };
    return { entry: this.#write(this.#open, record), created: true };
  }

  async get(sagaId: string): Promise<IndexEntry | null> {
    checkSagaId(sagaId);
    return this.#open.get(sagaId) ?? this.#done.get(sagaId) ?? null;
  }

  async update(record: IndexRecord, revision: number): Promise<IndexEntry> {
    checkRecord(record);
    checkRevision(revision);
    if (this.#open.get(record.sagaId)?.revision !== revision) {
      throw new KvConflictError(this.name, record.sagaId, revision);
    }
    return this.#write(this.#open, record);
  }

  async finish(record: IndexRecord): Promise<void> {
    checkRecord(record);
    this.#write(this.#done, record);
    this.#open.delete(record.sagaId);
  }

  async remove(sagaId: string, options: { revision?: number } = {}): Promise<void> {
    checkSagaId(sagaId);
    if (options.revision !== undefined) {
      const open = this.#open.get(sagaId);
      if (open && open.revision <= options.revision) this.#open.delete(sagaId);
      return;
    }
    this.#open.delete(sagaId);
    this.#done.delete(sagaId);
  }

  async whichFinished(sagaIds: readonly string[]): Promise<Set<string>> {
    return new Set(sagaIds.filter((id) => this.#done.has(id)));
  }

  async listOpen(options: { after?: string; limit?: number } = {}): Promise<IndexPage> {
    return this.#list(this.#open, options);
  }

  async listFinished(options: { after?: string; limit?: number } = {}): Promise<IndexPage> {
    return this.#list(this.#done, options);
  }

  #list(map: Map<string, IndexEntry>, options: { after?: string; limit?: number }): IndexPage {
    const { ids, next } = pageOf([...map.keys()].sort(), options);
    return { entries: ids.map((id) => map.get(id)).filter((e): e is IndexEntry => e !== undefined), next };
  }

  #write(map: Map<string, IndexEntry>, record: IndexRecord): IndexEntry {
    // A copy, so that a caller mutating its object later cannot change the stored record.
    const entry: IndexEntry = { record: { ...record }, revision: ++this.#revision };
    map.set(record.sagaId, entry);
    return entry;
  }
}
