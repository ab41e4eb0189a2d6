/**
 * Names in the source store: the bucket derived from the namespace (the same rule as every
 * other NATS resource of jetsaga, see `natsNames`), and the names of sources, which are kept
 * subject-safe like saga ids so that a build id can name its source.
 */
import { InvalidArgumentError } from '../../errors.js';
import { natsNames } from '../../runtime/nats-stores.js';

/** Letters, digits, `_` and `-`, 1–128 characters. */
export const SOURCE_NAME_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** The object store bucket of a namespace: `<namespace>_sources` (INVALID_ARGUMENT for a bad namespace). */
export function sourcesBucketName(namespace = 'jetsaga'): string {
  natsNames(namespace); // validates the namespace
  return `${namespace}_sources`;
}

/** Throws INVALID_ARGUMENT unless `name` is a valid source name. */
export function assertSourceName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !SOURCE_NAME_PATTERN.test(name)) {
    throw new InvalidArgumentError(`invalid source name ${JSON.stringify(name) ?? String(name)}: use 1–128 of [A-Za-z0-9_-]`, { name });
  }
}
