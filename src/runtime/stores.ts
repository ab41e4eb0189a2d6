/** The stores a runtime persists to: journal, index, checkpoints and coordinator leases. */
import type { IndexStore } from '../journal/index-store.js';
import type { Journal } from '../journal/journal.js';
import type { KvStore } from '../journal/kv-store.js';
import { MemoryIndexStore } from '../journal/memory-index-store.js';
import { MemoryJournal } from '../journal/memory-journal.js';
import { MemoryKvStore } from '../journal/memory-kv-store.js';

export interface RuntimeStores {
  readonly journal: Journal;
  readonly index: IndexStore;
  readonly checkpoints: KvStore;
  readonly coordinators: KvStore;
  /** Releases what the stores opened (e.g. the NATS connection they created). */
  close?(): Promise<void>;
}

/**
 * Stores in memory with the same semantics as the NATS ones (they pass the same contract
 * suites). Several runtimes may share one set to act as coordinators of one cluster.
 */
export function memoryStores(): RuntimeStores {
  return {
    journal: new MemoryJournal(),
    index: new MemoryIndexStore(),
    checkpoints: new MemoryKvStore('checkpoints'),
    coordinators: new MemoryKvStore('coordinators'),
  };
}
