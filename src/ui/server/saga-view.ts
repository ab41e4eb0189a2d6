/**
 * The page's views of a saga (api-types.ts `SagaDetail`, `Timeline`, `SagaAt`), built from
 * plain facts — a saga's current info, its replayed journal, its machine's graph — the same way
 * whether they came from a coordinator (live) or from a bundle (offline).
 */
import type { ReplayEffect, ReplayStep } from '../../runtime/replay-saga.js';
import { compensationPlan, type CompensationPlan } from '../../viz/compensation-plan.js';
import type { MachineGraph } from '../../viz/graph-types.js';
import type { ChildView, ContextChangeView, ParentView, PendingStep, SagaAt, SagaDetail, Timeline } from '../api-types.js';
import { activeIds, stateIndex, visitedIds, waitingOf, type StateIndex } from './state-ids.js';
import { timelineEntry } from './timeline.js';

/** What is known of a saga now (a `SagaInfo` has these fields). */
export interface SagaFacts {
  readonly id: string;
  readonly machine: string;
  readonly version: number;
  readonly status: string;
  readonly owner: string | null;
  readonly state: unknown;
  readonly context: unknown;
  readonly entryNo: number;
  readonly updatedAt: number;
  readonly forkedFrom: { readonly sagaId: string; readonly entry: number } | null;
  readonly parent: ParentView | null;
  readonly children: readonly ChildView[];
  readonly pending: readonly PendingStep[];
  readonly timers: ReadonlyArray<{ readonly id: string; readonly dueAt: number }>;
}

const UNDO = 'undo.';

function isKitContext(context: unknown): boolean {
  if (typeof context !== 'object' || context === null) return false;
  const c = context as Record<string, unknown>;
  return Array.isArray(c.stack) && typeof c.outputs === 'object' && c.outputs !== null;
}

/** Steps whose undo finished, in the order they did (from the replay's effects). */
export function undoneOf(steps: readonly ReplayStep[]): string[] {
  const out: string[] = [];
  for (const s of steps) {
    for (const e of s.effects) if (e.kind === 'step.stopped' && e.outcome === 'done' && e.id.startsWith(UNDO)) out.push(e.id.slice(UNDO.length));
  }
  return out;
}

/** A kit saga's compensation plan (null for other machines, or a context it cannot read). */
export function planOf(state: unknown, context: unknown, graph: MachineGraph | null, steps: readonly ReplayStep[] | null): CompensationPlan | null {
  if (!isKitContext(context)) return null;
  try {
    return compensationPlan(
      { value: state, context: context as never },
      steps ? { undone: undoneOf(steps) } : { undoable: graph?.undoLinks.map((l) => l.step) ?? [] },
    );
  } catch {
    return null;
  }
}

function history(steps: readonly ReplayStep[], machine: string, index: StateIndex | null): Array<{ at: number; active: ReadonlySet<string> }> {
  return steps.filter((s) => s.no >= 1 && s.state !== null).map((s) => ({ at: s.at, active: new Set(activeIds(s.state, machine, index)) }));
}

function visitedAlong(steps: readonly ReplayStep[], machine: string, index: StateIndex | null, active: readonly string[]): string[] {
  const visited = visitedIds(steps.filter((s) => s.no >= 1).map((s) => s.state), machine, index);
  const seen = new Set(visited);
  for (const id of active) if (!seen.has(id)) visited.push(id);
  return visited;
}

/**
 * The detail view. `steps` is the replayed journal (null when it could not be replayed: the
 * path and waiting times are then estimated from the current state alone).
 */
export function sagaDetail(facts: SagaFacts, graph: MachineGraph | null, steps: readonly ReplayStep[] | null): SagaDetail {
  const index = graph ? stateIndex(graph) : null;
  const upTo = steps?.filter((s) => s.no <= facts.entryNo) ?? null;
  const active = activeIds(facts.state, facts.machine, index);
  return {
    id: facts.id,
    machine: facts.machine,
    version: facts.version,
    status: facts.status,
    owner: facts.owner,
    state: facts.state,
    context: facts.context,
    entryNo: facts.entryNo,
    updatedAt: facts.updatedAt,
    forkedFrom: facts.forkedFrom,
    parent: facts.parent ? { sagaId: facts.parent.sagaId, step: facts.parent.step } : null,
    children: facts.children.map((c) => ({ sagaId: c.sagaId, step: c.step, machine: c.machine, status: c.status })),
    active,
    visited: upTo ? visitedAlong(upTo, facts.machine, index, active) : active,
    pending: facts.pending.map((p) => ({ id: p.id, src: p.src, attempt: p.attempt, key: p.key })),
    timers: facts.timers.map((t) => ({ id: t.id, dueAt: t.dueAt })),
    waiting: waitingOf(active, index, upTo ? history(upTo, facts.machine, index) : [], facts.updatedAt),
    plan: planOf(facts.state, facts.context, graph, upTo),
  };
}

export function timelineOf(id: string, steps: readonly ReplayStep[]): Timeline {
  return { id, entries: steps.map(timelineEntry) };
}

function changeView(c: ReplayStep['contextDiff'][number]): ContextChangeView {
  return {
    path: c.path,
    op: c.op === 'replace' ? 'change' : c.op,
    ...(c.before === undefined ? {} : { before: c.before }),
    ...(c.after === undefined ? {} : { after: c.after }),
  };
}

/** The saga at entry `step.no`: `upTo` are the replayed entries up to it (it included), `context` the context after it. */
export function sagaAt(id: string, machine: string, graph: MachineGraph | null, upTo: readonly ReplayStep[], step: ReplayStep, context: unknown): SagaAt {
  const index = graph ? stateIndex(graph) : null;
  const active = activeIds(step.state, machine, index);
  return {
    id,
    no: step.no,
    at: step.at,
    event: step.event,
    state: step.state,
    status: step.status,
    context,
    contextDiff: step.contextDiff.map(changeView),
    effects: step.effects,
    active,
    visited: visitedAlong(upTo, machine, index, active),
    plan: step.state === null ? null : planOf(step.state, context, graph, upTo),
  };
}

/** What a journal alone says is in flight after its last entry: the effects folded in order. */
export function inFlight(steps: readonly ReplayStep[]): { pending: PendingStep[]; timers: Array<{ id: string; dueAt: number }> } {
  const pending = new Map<string, PendingStep>();
  const timers = new Map<string, { id: string; dueAt: number }>();
  const apply = (e: ReplayEffect): void => {
    switch (e.kind) {
      case 'step.started':
        pending.set(e.id, { id: e.id, src: e.src, attempt: e.attempt, key: e.key ?? '' });
        break;
      case 'step.stopped':
        pending.delete(e.id);
        break;
      case 'timer.armed':
        timers.set(e.id, { id: e.id, dueAt: e.dueAt });
        break;
      case 'timer.fired':
      case 'timer.cancelled':
        timers.delete(e.id);
        break;
      default:
        break;
    }
  };
  for (const s of steps) for (const e of s.effects) apply(e);
  return { pending: [...pending.values()], timers: [...timers.values()] };
}
