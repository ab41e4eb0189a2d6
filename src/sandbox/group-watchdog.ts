/**
 * Sandboxes never outlive the coordinator. Two layers, as for the embedded servers
 * (`src/boot/managed-process.ts`), but aimed at a whole process group rather than one pid:
 *
 * - a synchronous SIGTERM to every live sandbox group on the coordinator's `exit` event
 *   (normal exits, uncaught errors);
 * - a detached shell watchdog per sandbox that, once the coordinator has vanished (SIGKILL, or a
 *   signal without a handler, where no JS runs), sends SIGTERM to the group, waits a grace
 *   period and sends SIGKILL to whatever is left of it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../log.js';
import { processStartTime, signalGroup } from './process-group.js';

/** Tenths of a second the watchdog lets an orphaned group shut down before SIGKILL. */
export const WATCHDOG_GRACE_TENTHS = 50;

/**
 * Runs in its own session, so a signal to the coordinator's group does not take it down first,
 * and polls every 500 ms. The coordinator is identified by pid and start time (from JS, so a
 * coordinator that dies before the watchdog runs is noticed too; pids are reused quickly);
 * liveness is read from /proc because a dead coordinator lingers as a zombie until reaped. The
 * group is checked with `kill -0 -<pgid>`: once it is empty the watchdog exits, so it never
 * signals a later group that reuses the number.
 * Arguments: $1 coordinator pid, $2 its start time, $3 sandbox pgid, $4 grace in tenths.
 */
const WATCHDOG_SCRIPT = `
if [ -r /proc/$$/stat ]; then
  ident() { s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; s=\${s##*") "}; set -- $s; [ "$1" != Z ] || return 1; echo "\${20}"; }
else
  ident() { kill -0 "$1" 2>/dev/null && echo up; }
fi
p=$1; pt=$2; g=$3; grace=$4
parent_alive() { [ "$(ident "$p")" = "$pt" ]; }
group_alive() { kill -0 -"$g" 2>/dev/null; }
while parent_alive && group_alive; do sleep 0.5; done
group_alive || exit 0
kill -TERM -"$g" 2>/dev/null
i=0
while [ "$i" -lt "$grace" ] && group_alive; do sleep 0.1; i=$((i + 1)); done
kill -KILL -"$g" 2>/dev/null
exit 0
`;

/** The argv[0] the watchdog shows in `ps`, so that tests and people can tell it apart. */
export const WATCHDOG_NAME_PREFIX = 'jetsaga-sandbox-watchdog:';

/** Starts the watchdog of group `pgid`; undefined (with a warning) if it cannot be started. */
export function startGroupWatchdog(sandboxId: string, pgid: number, logger: Logger): ChildProcess | undefined {
  installExitHook();
  const startTime = processStartTime(process.pid) ?? 'up';
  try {
    const args = ['-c', WATCHDOG_SCRIPT, `${WATCHDOG_NAME_PREFIX}${sandboxId}`, String(process.pid), startTime, String(pgid), String(WATCHDOG_GRACE_TENTHS)];
    const w = spawn('/bin/sh', args, { detached: true, stdio: 'ignore' });
    w.on('error', (err) => logger.warn({ err }, 'sandbox watchdog failed; the sandbox may outlive a killed coordinator'));
    // The watchdog must not keep the coordinator's event loop alive.
    w.unref();
    return w;
  } catch (err) {
    logger.warn({ err }, 'could not start the sandbox watchdog; the sandbox may outlive a killed coordinator');
    return undefined;
  }
}

/** Ends the watchdog (and its `sleep`: it leads its own group). */
export function stopGroupWatchdog(w: ChildProcess | undefined): void {
  if (w?.pid === undefined || w.exitCode !== null || w.signalCode !== null) return;
  signalGroup(w.pid, 'SIGKILL');
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
