/**
 * Why a sandbox did not start. Each carries a stable code; the process's own last words are in
 * the message and `details.output`, because "exited with code 1" alone is rarely enough.
 */
import { SagaError } from '../errors.js';

export const SandboxErrorCode = {
  /** The process ended before it was healthy. */
  Exited: 'SANDBOX_EXITED',
  /** The health check did not pass in time; the sandbox was killed. */
  Unhealthy: 'SANDBOX_UNHEALTHY',
  /** The command could not be run at all (not found, not executable). */
  StartFailed: 'SANDBOX_START_FAILED',
  /** The id runs with another spec. */
  Conflict: 'SANDBOX_CONFLICT',
  /** `stop` or `close` was called while the sandbox was starting. */
  Stopped: 'SANDBOX_STOPPED',
} as const;
export type SandboxErrorCode = (typeof SandboxErrorCode)[keyof typeof SandboxErrorCode];

function tailText(output: readonly string[]): string {
  return output.length ? `; last output:\n${output.join('\n')}` : '; it printed nothing';
}

/** The process exited during start-up. Not retryable: a version that dies at once is broken. */
export class SandboxExitedError extends SagaError {
  override name = 'SandboxExitedError';

  constructor(
    readonly sandboxId: string,
    readonly exit: { code: number | null; signal: string | null },
    readonly output: readonly string[],
    readonly pid?: number,
  ) {
    const how = exit.signal ? `signal ${exit.signal}` : `exit code ${String(exit.code)}`;
    super(SandboxErrorCode.Exited, `sandbox "${sandboxId}" exited before it was healthy (${how})${tailText(output)}`, {
      status: 502,
      retryable: false,
      details: { sandboxId, pid, code: exit.code, signal: exit.signal, output: [...output] },
    });
  }
}

/**
 * Not healthy within its timeout, so it was killed. Retryable like any timeout: on a loaded
 * machine a slow start may pass the next time.
 */
export class SandboxUnhealthyError extends SagaError {
  override name = 'SandboxUnhealthyError';

  constructor(
    readonly sandboxId: string,
    readonly timeoutMs: number,
    readonly lastProbe: string,
    readonly output: readonly string[],
    readonly pid?: number,
  ) {
    super(
      SandboxErrorCode.Unhealthy,
      `sandbox "${sandboxId}" was not healthy after ${timeoutMs} ms (last check: ${lastProbe}) and was stopped${tailText(output)}`,
      { status: 504, retryable: true, details: { sandboxId, pid, timeoutMs, lastProbe, output: [...output] } },
    );
  }
}

export class SandboxStartFailedError extends SagaError {
  override name = 'SandboxStartFailedError';

  constructor(sandboxId: string, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(SandboxErrorCode.StartFailed, `sandbox "${sandboxId}": ${message}`, {
      status: 500,
      retryable: false,
      cause: options.cause,
      details: { sandboxId, ...options.details },
    });
  }
}

export class SandboxConflictError extends SagaError {
  override name = 'SandboxConflictError';

  constructor(sandboxId: string) {
    super(SandboxErrorCode.Conflict, `sandbox "${sandboxId}" is already running with another spec; stop it first`, {
      status: 409,
      retryable: false,
      details: { sandboxId },
    });
  }
}

export class SandboxStoppedError extends SagaError {
  override name = 'SandboxStoppedError';

  constructor(sandboxId: string) {
    super(SandboxErrorCode.Stopped, `sandbox "${sandboxId}" was stopped while it was starting`, {
      status: 409,
      retryable: false,
      details: { sandboxId },
    });
  }
}
