/**
 * Process-group primitives. A sandbox runs in a group of its own (its pid is the group id), so
 * that the app's workers and helpers go with it. Linux does not hand out a number still used
 * as a group id, so signalling `-pgid` reaches only our processes while the group has members;
 * we check that it has before every signal.
 */
import { readdirSync, readFileSync } from 'node:fs';

const hasProc = ((): boolean => {
  try {
    readFileSync('/proc/self/stat', 'utf8');
    return true;
  } catch {
    return false;
  }
})();

/**
 * Pids of the group's live members. Zombies do not count: an orphaned child is reparented to
 * an init that may be slow to reap it (or, in some containers, never does), yet it is dead.
 * Without /proc only "some member exists" can be told, answered as `[pgid]`.
 */
export function groupMembers(pgid: number): number[] {
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    // EPERM: members exist that we may not signal (they changed uid); they still count.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return [];
  }
  if (!hasProc) return [pgid];
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (entry.charCodeAt(0) < 48 || entry.charCodeAt(0) > 57) continue;
    const fields = statFields(entry);
    // After "(comm) ": state, ppid, pgrp, ...
    if (fields && fields[2] === String(pgid) && fields[0] !== 'Z') members.push(Number(entry));
  }
  return members;
}

/** Whether the group still has a live member. */
export function groupAlive(pgid: number): boolean {
  return groupMembers(pgid).length > 0;
}

/** Sends `signal` to the whole group if it still has members. Never throws. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // the group is gone
  }
}

function statFields(pid: string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may hold spaces and parentheses; the last ')' ends it.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}
