/**
 * Sandboxes never outlive the coordinator. Two layers, as for the embedded servers
 * (`src/boot/managed-process.ts`), but aimed at a whole process group rather than one pid:
 *
 * - a synchronous SIGTERM to every live sandbox group on the coordinator's `exit` event
 *   (normal exits, uncaught errors);
 * - a detached shell watchdog per sandbox that, once the coordinator is gone however it ended
 *   (SIGKILL included, where no JS runs), sends SIGTERM to the group, waits a grace period
 *   and sends SIGKILL to whatever is left of it.
 *
 * Unlike the embedded servers' watchdog, this one does not poll: its stdin is a pipe whose
 * other end only the coordinator holds (Node opens its ends close-on-exec, so no other child
 * inherits it), and the kernel closes that end when the coordinator dies, so the watchdog's
 * blocking `read` returns at once. No CPU while it waits (the polling one costs about 1 % of a
 * core per child here, which adds up with many sandboxes), no pid reuse to guard against for
 * the coordinator, and no delay of up to a poll interval.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../log.js';
import { signalGroup } from './process-group.js';

/** Tenths of a second the watchdog lets an orphaned group shut down before SIGKILL. */
export const WATCHDOG_GRACE_TENTHS = 50;

/**
 * Blocks on stdin until EOF (the coordinator is gone), then ends the group if it still has
 * members. The controller kills the watchdog as soon as the group has ended, so it never
 * waits on a group number that could be reused.
 * Arguments: $1 coordinator pid (shown in `ps`, for people and tests), $2 sandbox pgid,
 * $3 grace in tenths of a second.
 */
const WATCHDOG_SCRIPT = `
g=$2; grace=$3
while read -r _; do :; done
kill -0 -"$g" 2>/dev/null || exit 0
kill -TERM -"$g" 2>/dev/null
i=0
while [ "$i" -lt "$grace" ] && kill -0 -"$g" 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
kill -KILL -"$g" 2>/dev/null
exit 0
`;

/** The argv[0] the watchdog shows in `ps`, so that tests and people can tell it apart. */
export const WATCHDOG_NAME_PREFIX = 'jetsaga-sandbox-watchdog:';

/** Starts the watchdog of group `pgid`; undefined (with a warning) if it cannot be started. */
export function startGroupWatchdog(sandboxId: string, pgid: number, logger: Logger): ChildProcess | undefined {
  installExitHook();
  try {
    const args = ['-c', WATCHDOG_SCRIPT, `${WATCHDOG_NAME_PREFIX}${sandboxId}`, String(process.pid), String(pgid), String(WATCHDOG_GRACE_TENTHS)];
    // Its own session, so a signal to the coordinator's group (Ctrl-C) does not end it first.
    const w = spawn('/bin/sh', args, { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    w.on('error', (err) => logger.warn({ err }, 'sandbox watchdog failed; the sandbox may outlive a killed coordinator'));
    // Neither the watchdog nor its lifeline may keep the coordinator's event loop alive.
    w.unref();
    w.stdin?.on('error', () => undefined);
    (w.stdin as (NodeJS.WritableStream & { unref?: () => void }) | null)?.unref?.();
    return w;
  } catch (err) {
    logger.warn({ err }, 'could not start the sandbox watchdog; the sandbox may outlive a killed coordinator');
    return undefined;
  }
}

/** Ends the watchdog (it leads its own group) and closes its lifeline. */
export function stopGroupWatchdog(w: ChildProcess | undefined): void {
  if (w?.pid === undefined) return;
  if (w.exitCode === null && w.signalCode === null) signalGroup(w.pid, 'SIGKILL');
  w.stdin?.destroy();
}

const liveGroups = new Set<number>();
let exitHookInstalled = false;

/** Marks group `pgid` as one to signal if the coordinator exits while it runs. */
export function trackGroup(pgid: number): void {
  liveGroups.add(pgid);
}

export function untrackGroup(pgid: number): void {
  liveGroups.delete(pgid);
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Only synchronous work is possible here. SIGTERM lets apps shut down cleanly; the watchdogs,
  // which outlive us, escalate to SIGKILL for those that linger.
  process.on('exit', () => {
    for (const pgid of liveGroups) signalGroup(pgid, 'SIGTERM');
  });
}
