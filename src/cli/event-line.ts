/** One journal entry as `jetsaga sagas events` prints it: number, time, what came in. */

export interface EventLineEntry {
  readonly entryNo: number;
  readonly at: number;
  readonly init?: unknown;
  readonly event?: unknown;
  readonly takeover?: unknown;
}

export function eventLine(e: EventLineEntry): string {
  const what = e.init !== undefined ? 'init' : e.event ? (e.event as { type: string }).type : e.takeover ? 'takeover' : 'void';
  return `${String(e.entryNo).padStart(4)}  ${new Date(e.at).toISOString()}  ${what}`;
}
