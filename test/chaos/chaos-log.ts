/**
 * What the harness did and when: the record the invariants use to tell a re-run that chaos
 * explains (its process was killed or stalled, or the nats-server was away, while it ran)
 * from one nothing explains.
 */

export type ChaosEvent =
  /** A coordinator process began (`spawn`) or was SIGKILLed by the harness. */
  | { readonly kind: 'spawn'; readonly t: number; readonly slot: string; readonly owner: string; readonly pid: number }
  | { readonly kind: 'kill'; readonly t: number; readonly slot: string; readonly owner: string; readonly pid: number; readonly why: 'chaos' | 'burst' | 'shutdown' }
  /** SIGSTOP at `t`, SIGCONT at `until`. */
  | { readonly kind: 'stall'; readonly t: number; readonly until: number; readonly slot: string; readonly owner: string; readonly pid: number }
  /** nats-server SIGKILLed at `t`, up again (JetStream answering) at `until`. */
  | { readonly kind: 'nats-kill'; readonly t: number; readonly until: number }
  /** A coordinator that exited without being killed by the harness. */
  | { readonly kind: 'exit'; readonly t: number; readonly slot: string; readonly owner: string; readonly pid: number; readonly code: number | null; readonly signal: string | null }
  /** The harness began bursting `ids` at two coordinators, one to be killed mid-burst. */
  | { readonly kind: 'burst'; readonly t: number; readonly ids: readonly string[] };

export type ChaosKind = ChaosEvent['kind'];

export class ChaosLog {
  readonly events: ChaosEvent[] = [];

  add(e: ChaosEvent): void {
    this.events.push(e);
  }
}

/** When an event's effect ends: a stall or an outage lasts, a kill is a moment. */
export function endOf(e: ChaosEvent): number {
  return 'until' in e ? e.until : e.t;
}

/**
 * Events that could interrupt a run by `pid` between `from` and `to`: a kill or stall of that
 * process by the harness, or an outage of the nats-server (which can cost every coordinator
 * its lease). A kill acts at once; a stall or an outage acts until `actsUntil(event, pid)`,
 * the moment that process drops its steps because of it (see `lapseNotice`). A process's own
 * exit is not chaos the harness caused: it explains nothing.
 */
export function hitting(
  events: readonly ChaosEvent[],
  pid: number,
  from: number,
  to: number,
  actsUntil: (e: ChaosEvent, pid: number) => number,
): ChaosEvent[] {
  return events.filter((e) => {
    if (e.kind !== 'kill' && e.kind !== 'stall' && e.kind !== 'nats-kill') return false;
    if (e.kind !== 'nats-kill' && e.pid !== pid) return false;
    const end = e.kind === 'kill' ? e.t : actsUntil(e, pid);
    return e.t <= to && end >= from;
  });
}

/**
 * How long a stall or an outage acts on a process: a coordinator that lost its lease to it
 * learns so at its next successful renewal, logs "lease had expired before renewal", and only
 * then drops and re-runs the steps it has in flight, including those it started after the
 * stall or outage ended. So the event acts until that notice (`lapses`: when each process
 * logged one), if it came within `4 × leaseTtlMs` of the event's end; else for one TTL.
 */
export function lapseNotice(lapses: ReadonlyArray<{ pid: number; t: number }>, leaseTtlMs: number): (e: ChaosEvent, pid: number) => number {
  return (e, pid) => {
    const end = endOf(e);
    const notice = lapses.filter((l) => l.pid === pid && l.t >= e.t && l.t <= end + 4 * leaseTtlMs).map((l) => l.t);
    return Math.max(end + leaseTtlMs, ...notice);
  };
}
