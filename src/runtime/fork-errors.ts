/**
 * Why a fork is refused. Codes are stable (the service API and the CLI's exit code rest on
 * them); the other refusals reuse the general ones: UNKNOWN_SAGA (404), INVALID_ARGUMENT for an
 * entry number out of range (400), UNKNOWN_MACHINE / MACHINE_VERSION_MISMATCH for a source this
 * coordinator cannot replay, SAGA_EXISTS for a new id already taken (409).
 */
import { SagaError } from '../errors.js';

export const ForkErrorCode = {
  /** The source is still driven (running, compensating, or parked and retried by recovery). */
  SagaActive: 'SAGA_ACTIVE',
  /** The source's state at the fork point is final: a fork would have nothing to do. */
  ForkPointFinal: 'FORK_POINT_FINAL',
  /** The copied entries include the result of a step whose effect belongs to the source's id. */
  ForkCopiesOwnedStep: 'FORK_COPIES_OWNED_STEP',
} as const;
export type ForkErrorCode = (typeof ForkErrorCode)[keyof typeof ForkErrorCode];

/**
 * Two sagas must never drive the same effects: a source that still runs (or that recovery
 * resumes, when parked) would go on beside its fork.
 */
export class SagaActiveError extends SagaError {
  override name = 'SagaActiveError';
  constructor(sagaId: string, status: string) {
    super(
      ForkErrorCode.SagaActive,
      `saga "${sagaId}" is ${status}: a fork would drive the same effects beside it; cancel it (jetsaga sagas cancel ${sagaId}) or wait until it finishes`,
      { status: 409, details: { sagaId, status } },
    );
  }
}

export class ForkPointFinalError extends SagaError {
  override name = 'ForkPointFinalError';
  constructor(sagaId: string, entry: number, status: string) {
    super(
      ForkErrorCode.ForkPointFinal,
      `saga "${sagaId}" is already ${status} at entry ${entry}: a fork from there has nothing to do; pick an earlier entry`,
      { status: 409, details: { sagaId, entry, status } },
    );
  }
}

export class ForkCopiesOwnedStepError extends SagaError {
  override name = 'ForkCopiesOwnedStepError';
  constructor(sagaId: string, from: number, step: string, entry: number) {
    super(
      ForkErrorCode.ForkCopiesOwnedStep,
      `entry ${entry} of saga "${sagaId}" completed step "${step}", whose effect belongs to that saga (held under its id): a fork from entry ${from} would act without it; fork from an entry before ${entry}, where the fork runs "${step}" itself`,
      { status: 409, details: { sagaId, from, step, entry } },
    );
  }
}
