/**
 * How an app's build command failed. A non-zero exit and a timeout are terminal: the same
 * commands on the same source fail the same way, and retrying a command that already ran for
 * its whole timeout would hold the app's deployment lock for many times that long. (A flaky
 * network during `npm ci` is the exception; the user can raise `[build] timeout` and deploy
 * again.) An abort is retryable: it says nothing about the command, only that this attempt
 * was stopped (the saga left the step, the coordinator is closing).
 */
import { StepError } from '../../errors.js';

/** The codes of {@link OnbuildError}. */
export const OnbuildErrorCode = {
  /** The command exited non-zero, was killed by a signal it did not get from us, or could not start. */
  Failed: 'ONBUILD_FAILED',
  /** The command ran past its timeout and was killed, with its whole process group. */
  Timeout: 'ONBUILD_TIMEOUT',
  /** The caller's signal stopped the build. */
  Aborted: 'ONBUILD_ABORTED',
} as const;
export type OnbuildErrorCode = (typeof OnbuildErrorCode)[keyof typeof OnbuildErrorCode];

/** What an {@link OnbuildError} says about the command (also its `details`, JSON-safe). */
export interface OnbuildFailure {
  readonly command: string;
  /** 0-based position of the command in the list. */
  readonly index: number;
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** The timeout the command ran under, in seconds. */
  readonly timeoutSec: number;
  /** The last lines it printed (both streams, in arrival order; `stderr` lines prefixed). */
  readonly lastLines: readonly string[];
}

/** An onbuild command failed, timed out or was aborted. `details` is the {@link OnbuildFailure}. */
export class OnbuildError extends StepError {
  override name = 'OnbuildError';
  readonly failure: OnbuildFailure;

  constructor(code: OnbuildErrorCode, failure: OnbuildFailure, options: { retryable?: boolean; cause?: unknown; what?: string } = {}) {
    const what = options.what ?? describe(code, failure);
    const tail = failure.lastLines.length ? `; last output:\n${failure.lastLines.map((l) => `  ${l}`).join('\n')}` : '';
    super(`onbuild command ${failure.index + 1} ${JSON.stringify(failure.command)} ${what}${tail}`, {
      code,
      status: code === OnbuildErrorCode.Aborted ? 503 : 422,
      retryable: options.retryable ?? code === OnbuildErrorCode.Aborted,
      cause: options.cause,
      details: { ...failure },
    });
    this.failure = failure;
  }
}

function describe(code: OnbuildErrorCode, f: OnbuildFailure): string {
  if (code === OnbuildErrorCode.Timeout) return `ran longer than its timeout of ${f.timeoutSec} s and was killed ([build] timeout in app.toml)`;
  if (code === OnbuildErrorCode.Aborted) return 'was stopped: the build was aborted';
  if (f.signal !== null) return `was killed by ${f.signal}`;
  return `exited with code ${f.exitCode}`;
}
