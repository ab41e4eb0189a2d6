/**
 * Errors of the service API and their wire form. An error reply carries the micro-service
 * headers (`Nats-Service-Error-Code`: the HTTP-like status, `Nats-Service-Error`: the message),
 * `Jetsaga-Error-Code` with the stable code, and the JSON body `{ error: { code, message,
 * status, retryable, details? } }`, so that any NATS client can tell what went wrong and the
 * jetsaga client rebuilds the `SagaError`.
 */
import type { z } from 'zod';
import { ensureError, ErrorCode, SagaError, serializeError } from '../errors.js';
import type { ErrorReply } from './schemas.js';

export const ServiceErrorCode = {
  /** The request is not JSON, too large, or does not match the endpoint's schema. */
  BadRequest: 'BAD_REQUEST',
  /** The coordinator does not admit work yet (it is booting, or stopping). */
  NotAdmitted: 'NOT_ADMITTED',
  /** No coordinator answers the API in this namespace. */
  NoCoordinator: 'NO_COORDINATOR',
  /** The handler did not finish in time. */
  Timeout: ErrorCode.Timeout,
  UnknownBuild: 'UNKNOWN_BUILD',
  UnknownApp: 'UNKNOWN_APP',
  UnknownVersion: 'UNKNOWN_VERSION',
  /** An operator action on a blocked saga (retry, skip, abandon) asked of a saga that is not blocked (409). */
  NotBlocked: 'NOT_BLOCKED',
} as const;
export type ServiceErrorCode = (typeof ServiceErrorCode)[keyof typeof ServiceErrorCode];

export function badRequest(message: string, details?: Record<string, unknown>): SagaError {
  return new SagaError(ServiceErrorCode.BadRequest, message, { status: 400, details });
}

/** `path.to.field: message; …` — the zod issues, with where each one is. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.map(String).join('.') : '(body)'}: ${i.message}`)
    .join('; ');
}

/** The body of an error reply; anything that is not a SagaError becomes INTERNAL (500). */
export function errorReplyOf(value: unknown): ErrorReply {
  const err = ensureError(value);
  const s = serializeError(err);
  const known = err instanceof SagaError;
  return {
    error: {
      code: known ? s.code : ErrorCode.Internal,
      message: s.message,
      status: known ? err.status : 500,
      retryable: known ? err.retryable : true,
      ...(s.details ? { details: s.details } : {}),
    },
  };
}

/** A header value: one line, bounded (headers are not a place for a stack of messages). */
export function headerSafe(text: string): string {
  // eslint-disable-next-line no-control-regex
  const line = text.replace(/[\r\n\u0000-\u001f]+/g, ' ').trim();
  return line.length > 512 ? `${line.slice(0, 511)}…` : line || 'error';
}
