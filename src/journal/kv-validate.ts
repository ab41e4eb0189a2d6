/** Argument checks shared by the `KvStore` implementations, so that both refuse the same input. */
import { InvalidArgumentError } from '../errors.js';
import { KV_KEY_PATTERN } from './kv-store.js';

export function checkKey(key: string): void {
  if (!KV_KEY_PATTERN.test(key)) throw new InvalidArgumentError(`invalid key ${JSON.stringify(key)}`, { key });
}

export function checkRevision(revision: number): void {
  if (!Number.isSafeInteger(revision) || revision <= 0) {
    throw new InvalidArgumentError(`invalid revision ${revision}: must be a positive integer`, { revision });
  }
}
