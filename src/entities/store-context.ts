/** What every entity store is built on: the records, a clock and a logger. */
import type { Logger } from '../log.js';
import type { EntityKv } from './entity-kv.js';

/** Shared by the stores of one `createEntityStores`. */
export interface StoreContext {
  readonly kv: EntityKv;
  /** Epoch ms. Injected so that tests move clocks instead of sleeping. */
  readonly now: () => number;
  readonly logger: Logger;
}
