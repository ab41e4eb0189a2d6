/**
 * The invariants every saga must hold after the chaos, checked over the gathered evidence
 * (no I/O here). Each failure is a `Violation` naming the invariant, the saga or key, and the
 * evidence that shows it, so a report can say precisely what went wrong.
 *
 *   1 settled: its status is completed, compensated, cancelled (or parked, once the runtime has it)
 *   2 its live state on the final coordinator equals the fold of its journal
 *   3 every effect applied exactly once per idempotency key
 *   4 a step ran more than once per key only as often as chaos interrupted it
 *   5 its journal is well formed: entries 1..n, no result journaled twice
 *   6 the index lists it exactly once; an acknowledged start is never missing; list() never hangs
 */
import { isDeepStrictEqual } from 'node:util';
import { initialTransition, transition, type AnyEventObject } from 'xstate';
import type { JournalView } from '../../src/runtime/runtime.js';
import { expectWellFormed } from '../helpers/journal-checks.js';
import { hitting, lapseNotice, type ChaosEvent } from './chaos-log.js';
import { chaosMachine } from './chaos-saga.js';
import type { Evidence, LogNote, SagaEvidence } from './evidence.js';
import { SETTLED } from './final-coordinator.js';
import { LIST_HANG_MS } from './lister.js';
import type { RunRecord } from './run-log.js';

export type InvariantNo = 1 | 2 | 3 | 4 | 5 | 6;

export const INVARIANTS: Record<InvariantNo, string> = {
  1: 'every saga settles (completed, compensated, cancelled or parked)',
  2: 'live state equals the fold of the journal',
  3: 'each effect applied exactly once per idempotency key',
  4: 'runs per key ≤ 1 + chaos interruptions',
  5: 'journal well formed (entries 1..n, no result twice)',
  6: 'listed in the index exactly once; no acknowledged start missing; list() never hangs',
};

export interface Violation {
  readonly invariant: InvariantNo;
  readonly sagaId?: string;
  readonly key?: string;
  readonly message: string;
  readonly evidence?: Record<string, unknown>;
}

export interface RunStats {
  readonly keys: number;
  readonly runs: number;
  /** Runs per key → number of keys. */
  readonly histogram: ReadonlyMap<number, number>;
  /** Keys run more than twice. */
  readonly overTwo: number;
  /** Re-runs (runs beyond the first) that chaos explains / does not. */
  readonly explained: number;
  readonly unexplained: number;
}

export interface CheckResult {
  readonly violations: Violation[];
  readonly runStats: RunStats;
}

const DONE = 'xstate.done.actor.';
const ERROR = 'xstate.error.actor.';

/** `leaseTtlMs`: the coordinators' lease TTL, which bounds how long a stall or an outage acts (chaos-log.ts). */
export function checkInvariants(ev: Evidence, opts: { leaseTtlMs: number }): CheckResult {
  const violations: Violation[] = [];
  const add = (v: Violation): void => void violations.push(v);
  for (const s of ev.sagas.values()) {
    checkSettled(ev, s, add);
    checkFold(ev, s, add);
    checkWellFormed(ev, s, add);
    checkListed(ev, s, add);
  }
  if (ev.listing.error) add({ invariant: 6, message: `listing failed: ${ev.listing.error}`, evidence: { idsBeforeFailure: ev.listing.ids.length } });
  // A listing may fail while the nats-server is away; it must not hang.
  for (const l of ev.listings.filter((x) => x.outcome === 'hung')) {
    add({ invariant: 6, message: `list() during the chaos did not answer within ${LIST_HANG_MS} ms`, evidence: { at: l.t, sagasSeenBefore: l.sagas, chaosAround: ev.chaos.filter((e) => e.t >= l.t - 5_000 && e.t <= l.t + LIST_HANG_MS) } });
  }
  // Paging through every saga while they finish shows each once (sets are merged by id).
  for (const l of ev.listings.filter((x) => x.twice.length > 0)) {
    add({ invariant: 6, message: `a listing during the chaos showed ${l.twice.join(', ')} twice`, evidence: { at: l.t, sagas: l.sagas } });
  }
  checkEffects(ev, add);
  const runStats = checkRuns(ev, opts.leaseTtlMs, add);
  return { violations, runStats };
}

function checkSettled(ev: Evidence, s: SagaEvidence, add: (v: Violation) => void): void {
  const status = s.info?.status;
  if (status !== undefined && SETTLED.has(status)) return;
  add({
    invariant: 1,
    sagaId: s.id,
    message: status === undefined ? `no status (${s.infoError})${s.acked ? ' although its start was acknowledged' : ''}` : `stuck ${status}`,
    evidence: sagaBrief(ev, s),
  });
}

function checkFold(ev: Evidence, s: SagaEvidence, add: (v: Violation) => void): void {
  if (!s.info || !s.journal || s.journal.length === 0) return;
  let folded: { value: unknown; context: unknown; no: number };
  try {
    folded = fold(s.journal);
  } catch (e) {
    add({ invariant: 2, sagaId: s.id, message: `its journal does not fold: ${(e as Error).message}`, evidence: sagaBrief(ev, s) });
    return;
  }
  const live = { value: json(s.info.state), context: json(s.info.context), no: s.info.entryNo };
  const diff: string[] = [];
  if (!isDeepStrictEqual(json(folded.value), live.value)) diff.push(`state: fold ${JSON.stringify(folded.value)} vs live ${JSON.stringify(live.value)}`);
  if (!isDeepStrictEqual(json(folded.context), live.context)) diff.push(`context differs in ${differingKeys(json(folded.context), live.context).join(', ')}`);
  if (folded.no !== live.no) diff.push(`entries: journal ${folded.no} vs live seq ${live.no}`);
  if (diff.length > 0) add({ invariant: 2, sagaId: s.id, message: diff.join('; '), evidence: sagaBrief(ev, s) });
}

/**
 * The journal folded with XState's public pure functions; takeover markers are not inputs, and
 * void entries (starts fenced off before their init) may only precede the init entry.
 */
export function fold(journal: readonly JournalView[]): { value: unknown; context: unknown; no: number } {
  const start = journal.findIndex((e) => !e.void);
  const init = journal[start]?.init as { input?: unknown } | undefined;
  if (!init) throw new Error('the first entry after any voids is not an init entry');
  let [snapshot] = initialTransition(chaosMachine, init.input);
  for (const e of journal.slice(start + 1)) {
    if (e.takeover || !e.event) continue;
    [snapshot] = transition(chaosMachine, snapshot, { ...e.event, at: e.at } as AnyEventObject);
  }
  return { value: snapshot.value, context: snapshot.context, no: journal.at(-1)!.entryNo };
}

function checkWellFormed(ev: Evidence, s: SagaEvidence, add: (v: Violation) => void): void {
  if (!s.journal) return;
  try {
    expectWellFormed(s.journal);
  } catch (e) {
    add({ invariant: 5, sagaId: s.id, message: firstLine((e as Error).message), evidence: { ...sagaBrief(ev, s), duplicateResults: duplicates(results(s.journal)) } });
  }
}

function checkListed(ev: Evidence, s: SagaEvidence, add: (v: Violation) => void): void {
  if (s.listed === 1) return;
  const known = [s.acked && 'acknowledged', s.journal?.length && 'journaled', s.index && 'in the index store'].filter(Boolean).join(', ');
  add({
    invariant: 6,
    sagaId: s.id,
    message: s.listed === 0 ? `missing from list() (${known || 'known only from start attempts'})` : `listed ${s.listed} times`,
    evidence: sagaBrief(ev, s),
  });
}

function checkEffects(ev: Evidence, add: (v: Violation) => void): void {
  // Every key journaled as a done result: its effect must be in the sink, once.
  const doneKeys = new Map<string, string>();
  for (const s of ev.sagas.values()) {
    for (const e of s.journal ?? []) if (e.event?.type.startsWith(DONE) && typeof e.event.key === 'string') doneKeys.set(e.event.key, s.id);
  }
  const reported = new Set<string>();
  for (const [key, sagaId] of doneKeys) {
    const writes = ev.effects.get(key)?.length ?? 0;
    if (writes === 1) continue;
    reported.add(key);
    add({ invariant: 3, sagaId, key, message: writes === 0 ? 'done result journaled, but its effect is not in the sink' : `effect written ${writes} times`, evidence: keyBrief(ev, key) });
  }
  for (const [key, writes] of ev.effects) {
    if (writes.length > 1 && !reported.has(key)) add({ invariant: 3, sagaId: key.split(':')[0], key, message: `effect written ${writes.length} times`, evidence: keyBrief(ev, key) });
  }
  // A run that applied the effect itself (rather than finding it applied): once per key.
  const applied = new Map<string, RunRecord[]>();
  for (const r of ev.runs) if (r.effect === 'applied') applied.set(r.key, [...(applied.get(r.key) ?? []), r]);
  for (const [key, rs] of applied) {
    if (rs.length > 1) add({ invariant: 3, sagaId: rs[0]!.sagaId, key, message: `${rs.length} runs each applied the effect`, evidence: keyBrief(ev, key) });
  }
  // A completed saga committed every step it ran: no effect of it under a key its journal
  // never committed (retries fail before their effect; only cancels leave steps unfinished).
  for (const s of ev.sagas.values()) {
    if (s.info?.status !== 'completed') continue;
    for (const key of ev.effects.keys()) {
      if (key.startsWith(`${s.id}:`) && !doneKeys.has(key)) add({ invariant: 3, sagaId: s.id, key, message: 'completed saga has an effect under a key its journal never committed', evidence: keyBrief(ev, key) });
    }
  }
}

function checkRuns(ev: Evidence, leaseTtlMs: number, add: (v: Violation) => void): RunStats {
  // When each key's result was journaled (done or error); a run is interruptible until then.
  const resultAt = new Map<string, number>();
  for (const s of ev.sagas.values()) {
    for (const e of s.journal ?? []) {
      const t = e.event?.type;
      if (typeof e.event?.key === 'string' && (t?.startsWith(DONE) || t?.startsWith(ERROR)) && !resultAt.has(e.event.key)) resultAt.set(e.event.key, e.at);
    }
  }
  const starts = new Map<string, RunRecord[]>();
  for (const r of ev.runs) if (r.phase === 'start') starts.set(r.key, [...(starts.get(r.key) ?? []), r]);
  const lapses = ev.notes.filter((n) => n.msg.startsWith('lease had expired before renewal'));
  const actsUntil = lapseNotice(lapses, leaseTtlMs);
  const histogram = new Map<number, number>();
  let runs = 0;
  let overTwo = 0;
  let explained = 0;
  let unexplained = 0;
  for (const [key, rs] of starts) {
    runs += rs.length;
    histogram.set(rs.length, (histogram.get(rs.length) ?? 0) + 1);
    if (rs.length > 2) overTwo++;
    if (rs.length === 1) continue;
    const until = resultAt.get(key) ?? Number.MAX_SAFE_INTEGER;
    const events = new Set<ChaosEvent>();
    for (const r of rs) for (const e of hitting(ev.chaos, r.pid, r.t, until, actsUntil)) events.add(e);
    const extra = rs.length - 1;
    explained += Math.min(extra, events.size);
    unexplained += Math.max(0, extra - events.size);
    if (rs.length > 1 + events.size) {
      add({
        invariant: 4,
        sagaId: rs[0]!.sagaId,
        key,
        message: `ran ${rs.length}× with ${events.size} chaos interruption(s)`,
        evidence: {
          ...keyBrief(ev, key),
          resultAt: resultAt.get(key),
          interruptions: [...events],
          // What the processes that ran it logged meanwhile (a lapse, a fence, an outage).
          log: ev.notes.filter((n) => rs.some((r) => r.pid === n.pid) && n.t >= rs[0]!.t - 3_000 && n.t <= (resultAt.get(key) ?? rs.at(-1)!.t) + 1_000 && n.sagaId === undefined).map(noteLine),
        },
      });
    }
  }
  return { keys: starts.size, runs, histogram, overTwo, explained, unexplained };
}

/** A saga's state in brief, for a violation's evidence. */
export function sagaBrief(ev: Evidence, s: SagaEvidence): Record<string, unknown> {
  return {
    status: s.info?.status ?? s.infoError,
    acked: s.acked,
    starts: s.attempts.map((a) => {
      const answer = a.outcome === 'ok' ? ` ${a.status} seq ${a.seq} owner ${a.sagaOwner}` : a.code ? ` ${a.code}` : '';
      return `#${a.n} via ${a.owner ?? '-'} ${a.outcome}${answer}${a.late ? ' (late)' : ''} @${a.t}${a.tDone ? `→${a.tDone}` : ''}`;
    }),
    index: s.index === undefined ? 'unread' : s.index === null ? null : { ...s.index.record, revision: s.index.revision },
    listed: s.listed,
    journal: s.journal ? s.journal.map(journalLine) : s.journalError,
    pending: s.info?.pending.map((p) => p.key),
    timers: s.info?.timers.map((t) => `${t.id}@${t.dueAt}`),
    problem: s.info?.problem,
    log: ev.notes.filter((n) => n.sagaId === s.id).map(noteLine),
  };
}

function noteLine(n: LogNote): string {
  return `${n.owner}/${n.pid} @${n.t} ${n.msg}${n.sagaId ? ` ${n.sagaId}` : ''}${n.err ? `: ${n.err}` : ''}`;
}

/** One journal entry in one line: `no @at seq kind detail`. */
export function journalLine(e: JournalView): string {
  if (e.init) return `${e.entryNo} @${e.at} seq${e.streamSeq} init owner=${(e.init as { owner?: string }).owner}`;
  if (e.takeover) return `${e.entryNo} @${e.at} seq${e.streamSeq} takeover ${e.takeover.from}→${e.takeover.owner} epoch ${e.takeover.epoch}`;
  if (e.void) return `${e.entryNo} @${e.at} seq${e.streamSeq} void by ${e.void.owner} epoch ${e.void.epoch}`;
  const key = typeof e.event?.key === 'string' ? ` ${e.event.key}` : '';
  return `${e.entryNo} @${e.at} seq${e.streamSeq} ${e.event?.type}${key}`;
}

function keyBrief(ev: Evidence, key: string): Record<string, unknown> {
  return {
    runs: ev.runs.filter((r) => r.key === key).map((r) => `${r.phase} ${r.owner}/${r.pid} @${r.t}${r.outcome ? ` ${r.outcome}` : ''}${r.effect ? ` ${r.effect}` : ''}${r.code ? ` ${r.code}` : ''}`),
    sink: (ev.effects.get(key) ?? []).map((w) => `${w.owner}/${w.pid}`),
  };
}

function results(journal: readonly JournalView[]): string[] {
  return journal.filter((e) => typeof e.event?.key === 'string').map((e) => `${e.event!.type}|${e.event!.key as string}`);
}

function duplicates(xs: readonly string[]): string[] {
  return xs.filter((x, i) => xs.indexOf(x) !== i);
}

function json(x: unknown): unknown {
  return x === undefined ? undefined : JSON.parse(JSON.stringify(x));
}

function differingKeys(a: unknown, b: unknown): string[] {
  const ra = (a ?? {}) as Record<string, unknown>;
  const rb = (b ?? {}) as Record<string, unknown>;
  return [...new Set([...Object.keys(ra), ...Object.keys(rb)])].filter((k) => !isDeepStrictEqual(ra[k], rb[k]));
}

function firstLine(s: string): string {
  return s.split('\n')[0]!;
}
