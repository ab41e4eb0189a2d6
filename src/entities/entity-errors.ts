/**
 * Errors of the build saga's entities. Each is a `SagaError` with a stable code, so that a step
 * that lets one through tells the runtime whether to retry (the store was unreachable, the
 * lock is taken) or to compensate (the request contradicts what is stored).
 */
import { SagaError } from '../errors.js';

/** Codes of the entity errors (an `as const` object plus a union, like `ErrorCode`). */
export const EntityErrorCode = {
  DeployLocked: 'DEPLOY_LOCKED',
  DeployLockLost: 'DEPLOY_LOCK_LOST',
  EntityNotFound: 'ENTITY_NOT_FOUND',
  EntityConflict: 'ENTITY_CONFLICT',
  EntitiesUnavailable: 'ENTITIES_UNAVAILABLE',
} as const;
/** One of `EntityErrorCode`'s values. */
export type EntityErrorCode = (typeof EntityErrorCode)[keyof typeof EntityErrorCode];

/** A record the operation needs does not exist (404, not retryable: waiting will not create it). */
export class EntityNotFoundError extends SagaError {
  override name = 'EntityNotFoundError';
  constructor(message: string, details: Record<string, unknown>) {
    super(EntityErrorCode.EntityNotFound, message, { status: 404, details });
  }
}

/**
 * The request contradicts what is stored: an immutable record holds other content, a record
 * belongs to another saga, a status change is not allowed (409, not retryable).
 */
export class EntityConflictError extends SagaError {
  override name = 'EntityConflictError';
  constructor(message: string, details: Record<string, unknown>) {
    super(EntityErrorCode.EntityConflict, message, { status: 409, details });
  }
}

/**
 * The entity store could not be reached (NATS away, a leader election, a timed-out request), or
 * a key kept changing under every compare-and-set attempt. Retryable: every entity operation is
 * idempotent, so running it again is safe even when the failed attempt did land.
 */
export class EntitiesUnavailableError extends SagaError {
  override name = 'EntitiesUnavailableError';
  constructor(message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(EntityErrorCode.EntitiesUnavailable, message, { status: 503, retryable: true, ...options });
  }
}
