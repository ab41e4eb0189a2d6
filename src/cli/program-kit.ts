/** What command modules share: how an action's outcome becomes the exit code. */

/**
 * Runs a command's work and makes its result the process's exit code (see exit-codes.ts);
 * a thrown error propagates to main.ts, which prints it and picks the code.
 */
export async function exitWith(run: () => number | Promise<number>): Promise<void> {
  process.exitCode = await run();
}
