/** The entity stores contract over the in-memory KV store. */
import { MemoryKvStore } from '../../src/journal/memory-kv-store.js';
import { describeEntitiesContract } from '../contract/entities.contract.js';

describeEntitiesContract('MemoryKvStore', async () => ({ kv: new MemoryKvStore('entities') }));
