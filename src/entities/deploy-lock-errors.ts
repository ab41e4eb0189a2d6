/** Errors of the deployment lock. */
import { SagaError } from '../errors.js';
import { EntityErrorCode } from './entity-errors.js';

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * Another saga holds the app's deployment lock. Retryable: the lock is freed when that deploy
 * ends, expires, or its saga is found finished.
 */
export class DeployLockedError extends SagaError {
  override name = 'DeployLockedError';
  constructor(app: string, lock: { readonly holder: string; readonly since: number; readonly expiresAt: number }) {
    super(
      EntityErrorCode.DeployLocked,
      `app "${app}" is being deployed by saga "${lock.holder}" since ${iso(lock.since)} (its lock expires at ${iso(lock.expiresAt)}); retry later`,
      { status: 409, retryable: true, details: { app, holder: lock.holder, since: lock.since, expiresAt: lock.expiresAt } },
    );
  }
}

/**
 * A renewal found that the saga no longer holds the lock (it expired and was taken, or was
 * released): going on could deploy beside another saga. Not retryable.
 */
export class DeployLockLostError extends SagaError {
  override name = 'DeployLockLostError';
  constructor(app: string, sagaId: string, holder: string | null) {
    super(
      EntityErrorCode.DeployLockLost,
      holder === null
        ? `saga "${sagaId}" no longer holds the deployment lock of app "${app}" (it is free)`
        : `saga "${sagaId}" no longer holds the deployment lock of app "${app}"; saga "${holder}" does`,
      { status: 409, details: { app, sagaId, holder } },
    );
  }
}
