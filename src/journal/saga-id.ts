/**
 * Saga ids become NATS subject tokens (`<prefix>.<sagaId>`): letters, digits, `_` and `-`,
 * 1–128 characters. One rule and one error for every layer that takes an id.
 */
import { InvalidArgumentError } from '../errors.js';

export const SAGA_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

export function isValidSagaId(id: unknown): id is string {
  return typeof id === 'string' && SAGA_ID_PATTERN.test(id);
}

export function invalidSagaIdError(id: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`invalid saga id ${JSON.stringify(id) ?? String(id)}: use 1–128 of [A-Za-z0-9_-]`, { sagaId: id });
}

/** Throws INVALID_ARGUMENT unless `id` is a valid saga id. */
export function assertSagaId(id: unknown): asserts id is string {
  if (!isValidSagaId(id)) throw invalidSagaIdError(id);
}
