import { memoryStores, type RuntimeStores } from '../../src/runtime/stores.js';
import { describeRuntimeContract } from '../contract/runtime.contract.js';

const byNamespace = new Map<string, RuntimeStores>();

describeRuntimeContract('memory', async (ns) => {
  let stores = byNamespace.get(ns);
  if (!stores) byNamespace.set(ns, (stores = memoryStores()));
  return stores;
});
