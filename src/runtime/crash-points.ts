/**
 * Named crash points for crash tests (as DBOS's debug points): with
 * `JETSAGA_CRASH_AT=<point>:<event type prefix>` the process SIGKILLs itself the first time
 * it reaches `<point>` for an input whose type starts with the prefix. Points, in loop order:
 *   before-append  the transition is computed, nothing is journaled
 *   during-append  the append is handed to the client, its ack not awaited (outcome unknown)
 *   during-append-lost    the same, but before the client has written a byte of it: it
 *                  never reaches the server (deterministically "sent but not landed")
 *   during-append-landed  the append has landed and its ack arrived, but the saga never saw
 *                  it (deterministically "landed but unacknowledged")
 *   after-append   the append is acknowledged, nothing committed or started
 *   after-act      committed and acted on (steps started, timers armed)
 * Read once at load: without the variable every point is a no-op.
 */
const spec = process.env.JETSAGA_CRASH_AT;

export type CrashPoint = 'before-append' | 'during-append' | 'during-append-lost' | 'during-append-landed' | 'after-append' | 'after-act';

export const crashPointsEnabled = spec !== undefined && spec !== '';

const [wantedPoint, wantedPrefix = ''] = (spec ?? '').split(/:(.*)/s);

export function crashPoint(point: CrashPoint, eventType: string): void {
  if (!crashPointsEnabled || point !== wantedPoint || !eventType.startsWith(wantedPrefix)) return;
  process.kill(process.pid, 'SIGKILL');
}
