/**
 * Errors of the image registry client and of image pulls. A registry that cannot be reached
 * (refused, reset, timed out, 5xx) is a transient condition the saga waits out, so it is
 * retryable; a 4xx the client did not expect means the request itself is wrong and repeating it
 * cannot help. Messages name the registry, the method, the path and the status.
 */
import { ErrorCode, SagaError } from '../../errors.js';

/** What a failed registry exchange was, for messages and `details`. */
export interface RegistryExchange {
  readonly registry: string;
  readonly method: string;
  readonly path: string;
  /** The HTTP status, when the registry answered at all. */
  readonly status?: number;
}

function describe(x: RegistryExchange): string {
  return `${x.method} ${x.registry}${x.path}`;
}

/**
 * The registry did not answer usefully: connection refused or reset, a timeout, a 5xx, or the
 * network went away mid-request. Retryable (status 503): the client already tried a few times.
 */
export class RegistryUnavailableError extends SagaError {
  override name = 'RegistryUnavailableError';
  constructor(
    readonly exchange: RegistryExchange,
    reason: string,
    cause?: unknown,
  ) {
    super(ErrorCode.RegistryUnavailable, `registry ${exchange.registry} unavailable: ${describe(exchange)} ${reason}`, {
      status: 503,
      retryable: true,
      cause,
      details: { ...exchange },
    });
  }
}

/**
 * The registry refused the request with a 4xx the client did not expect (an unknown manifest,
 * a digest it rejects, a name it does not accept). Not retryable; `details.status` has the status
 * and `details.body` the start of the registry's error document.
 */
export class RegistryRejectedError extends SagaError {
  override name = 'RegistryRejectedError';
  constructor(
    readonly exchange: RegistryExchange & { status: number },
    body: string,
  ) {
    super(
      ErrorCode.RegistryRejected,
      `registry ${exchange.registry} rejected ${describe(exchange)} with HTTP ${exchange.status}${body ? `: ${body}` : ''}`,
      { status: exchange.status >= 400 && exchange.status < 500 ? exchange.status : 502, retryable: false, details: { ...exchange, body } },
    );
  }
}

/**
 * Bytes fetched from a registry do not match the digest that named them (a tampered or damaged
 * blob, a manifest that is not the one asked for). Not retryable: the registry holds bad bytes.
 */
export class ImageCorruptError extends SagaError {
  override name = 'ImageCorruptError';
  constructor(what: string, expected: string, actual: string) {
    super(ErrorCode.ImageCorrupt, `${what}: expected digest ${expected}, got ${actual}`, {
      status: 502,
      retryable: false,
      details: { what, expected, actual },
    });
  }
}
