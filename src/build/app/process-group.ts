/**
 * Signals to a whole process group. A build command is a shell whose children fork freely
 * (npm → node → esbuild …); killing the shell alone would leave them running, so each
 * command gets its own group and is stopped as a group.
 *
 * Linux does not hand out a pid as a new pid while a process group of that number still has
 * members, so signalling `-pgid` reaches only the command's own descendants for as long as
 * any of them lives. A descendant that starts its own session (setsid, a daemonising server)
 * leaves the group and is out of reach here; only a cgroup could hold it.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Sends `signal` to every process of group `pgid`; false when the group has no process left. */
export function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw e;
  }
}

/** Whether group `pgid` still has a process (zombies not yet reaped count). */
export function groupAlive(pgid: number): boolean {
  return signalGroup(pgid, 0);
}

/** Options of {@link terminateGroup}. */
export interface TerminateOptions {
  /** How long the group has to exit after SIGTERM before SIGKILL. */
  readonly graceMs: number;
  /** How often to look whether it has. */
  readonly pollMs?: number;
}

/**
 * SIGTERM to the group, then SIGKILL once it is gone or `graceMs` passed — SIGKILL is sent
 * either way, because the group's leader exiting says nothing of members that ignore SIGTERM.
 * Resolves after the SIGKILL; the caller waits for its child's `close` to know the pipes ended.
 */
export async function terminateGroup(pgid: number, options: TerminateOptions): Promise<void> {
  if (!signalGroup(pgid, 'SIGTERM')) return;
  const pollMs = options.pollMs ?? 25;
  const deadline = Date.now() + options.graceMs;
  while (Date.now() < deadline && groupAlive(pgid)) await sleep(pollMs);
  signalGroup(pgid, 'SIGKILL');
}
