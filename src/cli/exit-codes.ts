/** Exit codes scripts can rely on (documented in the README and `jetsaga --help`). */
export const ExitCode = {
  Ok: 0,
  /**
   * The command ran and failed (e.g. boot failed, a dependency is missing); for `boot status`:
   * unhealthy (a coordinator shown is stopped, or one of its dependencies is not ready).
   */
  Failure: 1,
  /** Bad flags or arguments. */
  Usage: 2,
  /** NATS (or the coordinator) could not be reached, refused the credentials, or denied the user a subject. */
  Unavailable: 3,
  /** What was asked for does not exist (unknown saga, no boot status yet). */
  NotFound: 4,
  /** Refused: the app's deployment lock is held by another build (the holder is named). */
  Locked: 5,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error that ends the CLI with a given exit code and a one-line message. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(message: string, readonly exitCode: ExitCode) {
    super(message);
  }
}
