/**
 * Raised when a helper binary the coordinator would launch (nats-server, docker-registry) is
 * absent or not executable. The message carries the caller's hint, because the fix (which
 * package to install, which variable to set) is known only where the binary is chosen.
 */
import { SagaError } from '../errors.js';

export const MISSING_BINARY = 'MISSING_BINARY';

export class MissingBinaryError extends SagaError {
  override name = 'MissingBinaryError';

  constructor(
    readonly binaryName: string,
    readonly bin: string,
    options: { hint?: string; reason?: 'missing' | 'not-executable'; cause?: unknown } = {},
  ) {
    const what = options.reason === 'not-executable' ? `${binaryName} at ${bin} is not executable` : `${binaryName} not found at ${bin}`;
    super(MISSING_BINARY, options.hint ? `${what}: ${options.hint}` : what, {
      status: 500,
      retryable: false,
      cause: options.cause,
      details: { name: binaryName, bin, hint: options.hint },
    });
  }
}
