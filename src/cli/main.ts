#!/usr/bin/env node
/**
 * The `jetsaga` command (bin/jetsaga.js runs it). Flags override `JETSAGA_*` environment
 * variables, which override defaults (see src/config.ts). Exit codes: see exit-codes.ts.
 * The commands are in program.ts; this file only runs them and reports what they throw.
 */
import { CommanderError } from 'commander';
import { ConfigError } from '../config.js';
import { SagaError } from '../errors.js';
import { describePermissionViolation, permissionViolation } from '../nats/permission-denied.js';
import { isTransientFailure } from '../service/transient-retry.js';
import { CliError, ExitCode } from './exit-codes.js';
import { createProgram } from './program.js';

// A reader that stops early (`jetsaga --help | head`) is not an error of jetsaga's: commander
// writes to stdout directly, and an unhandled EPIPE would end the command with a stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
});

createProgram()
  .parseAsync(process.argv.slice(2), { from: 'user' })
  .catch((e: unknown) => {
    process.exitCode = exitCodeOf(e);
  });

/** Prints what ended the command (unless commander already did) and says how to exit. */
/** Stable error codes to the exit codes scripts rely on. */
function exitCodeOfSagaError(e: SagaError): number {
  if (e.code === 'NO_COORDINATOR' || e.code === 'NATS_UNREACHABLE' || e.code === 'NATS_AUTH_FAILED' || e.code === 'NOT_ADMITTED') return ExitCode.Unavailable;
  // NATS answered "not now" (an outage, a leader election) for longer than the command waited.
  if (isTransientFailure(e)) return ExitCode.Unavailable;
  if (e.code === 'DEPLOY_LOCKED') return ExitCode.Locked;
  if (e.status === 404) return ExitCode.NotFound;
  if (e.status === 400) return ExitCode.Usage;
  return ExitCode.Failure;
}

function exitCodeOf(e: unknown): number {
  if (e instanceof CommanderError) {
    // --help, --version and `help` end here with 0; every usage error (already printed on
    // stderr, as is the help shown when a command is missing) is 2.
    return e.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
  }
  if (e instanceof CliError) {
    console.error(`jetsaga: ${e.message}`);
    return e.exitCode;
  }
  if (e instanceof ConfigError) {
    console.error(`jetsaga: ${e.message}`);
    return ExitCode.Usage;
  }
  // Before jetsaga's own errors: one may wrap the refusal, and the subject is what to fix.
  const denied = permissionViolation(e);
  if (denied) {
    console.error(`jetsaga: ${describePermissionViolation(denied)}`);
    return ExitCode.Unavailable;
  }
  if (e instanceof SagaError) {
    console.error(`jetsaga: ${e.message} [${e.code}]`);
    return exitCodeOfSagaError(e);
  }
  console.error(`jetsaga: ${(e as Error).stack ?? String(e)}`);
  return ExitCode.Failure;
}
