/**
 * The visualizer's JSON views of one saga (src/ui/api-types.ts), computed from its journal as
 * a server would: replayed with the real replay library (src/runtime/replay.ts), the state
 * value mapped to the chart's state ids, the compensation plan from src/viz. For the fake
 * server the browser tests run against; the real server derives the same shapes its own way.
 */
import type { AnyMachineSnapshot, StateValue } from 'xstate';
import { isChildSagaInput } from '../../machines/kit/child-step.js';
import { AWAITS_TAG_PREFIX } from '../../machines/kit/tags.js';
import type { ChildView, ContextChangeView, ParentView, PendingStep, SagaAt, SagaDetail, SagaRow, Timeline, TimelineEntry, Waiting } from '../../src/ui/api-types.js';
import type { JournalView } from '../../src/runtime/journal-view.js';
import { pureTransitions } from '../../src/runtime/pure-transition.js';
import { replaySaga, type ReplayStep } from '../../src/runtime/replay.js';
import { statusOf } from '../../src/runtime/status.js';
import type { SagaDefinition } from '../../src/runtime/types.js';
import { compensationPlan } from '../../src/viz/compensation-plan.js';
import type { MachineGraph } from '../../src/viz/graph-types.js';

interface Point {
  readonly step: ReplayStep;
  readonly snapshot: AnyMachineSnapshot | null;
  readonly active: readonly string[];
}

export class SagaViews {
  private readonly points: Point[];

  constructor(
    readonly id: string,
    readonly definition: SagaDefinition,
    readonly graph: MachineGraph,
    readonly journal: readonly JournalView[],
    readonly owner = 'c1',
    /** The child sagas it started, as the server would list them (the fake server knows them). */
    readonly children: () => ChildView[] = () => [],
  ) {
    const steps = replaySaga(definition, journal, { sagaId: id });
    const pure = pureTransitions(definition.machine);
    let snapshot: AnyMachineSnapshot | null = null;
    this.points = steps.map((step, i) => {
      const view = journal[i]!;
      if (view.init !== undefined) snapshot = pure.initial((view.init as { input: unknown }).input)[0] as AnyMachineSnapshot;
      else if (view.event !== undefined && snapshot) snapshot = pure.next(snapshot, { ...view.event, at: view.at })[0] as AnyMachineSnapshot;
      return { step, snapshot, active: snapshot ? activeIds(graph, snapshot.value) : [] };
    });
  }

  private point(no: number): { point: Point; index: number } {
    const index = this.points.findIndex((p) => p.step.no === no);
    if (index < 0) throw Object.assign(new Error(`saga ${this.id} has no entry ${no}`), { code: 'UNKNOWN_ENTRY', status: 404 });
    return { point: this.points[index]!, index };
  }

  get lastNo(): number {
    return this.points.at(-1)!.step.no;
  }

  row(): SagaRow {
    const last = this.points.at(-1)!;
    return {
      id: this.id,
      machine: this.definition.id,
      version: this.definition.version,
      status: last.snapshot ? statusOf(last.snapshot) : 'running',
      owner: this.owner,
      createdAt: this.journal.find((v) => v.init !== undefined)!.at,
      updatedAt: last.step.at,
      parentId: this.parent()?.sagaId ?? null,
    };
  }

  /** A child saga's parent, from its init entry's input (as the runtime records it). */
  parent(): ParentView | null {
    const input = (this.journal.find((v) => v.init !== undefined)!.init as { input?: unknown }).input;
    return isChildSagaInput(input) ? input.$parent : null;
  }

  at(no: number): SagaAt {
    const { point, index } = this.point(no);
    const upTo = this.points.slice(0, index + 1);
    return {
      id: this.id,
      no,
      at: point.step.at,
      event: point.step.event,
      state: point.snapshot?.value ?? null,
      status: point.snapshot ? statusOf(point.snapshot) : null,
      context: point.snapshot?.context ?? null,
      contextDiff: point.step.contextDiff.map((c): ContextChangeView => ({ ...c, op: c.op === 'replace' ? 'change' : c.op })),
      effects: point.step.effects,
      active: point.active,
      visited: visitedIds(upTo),
      plan: this.plan(upTo),
    };
  }

  detail(no = this.lastNo): SagaDetail {
    const { point, index } = this.point(no);
    const upTo = this.points.slice(0, index + 1);
    const init = this.journal.find((v) => v.init !== undefined)!.init as { forkedFrom?: { sagaId: string; entry: number } };
    const snap = point.snapshot!;
    return {
      id: this.id,
      machine: this.definition.id,
      version: this.definition.version,
      status: statusOf(snap),
      owner: this.owner,
      state: snap.value,
      context: snap.context,
      entryNo: no,
      updatedAt: point.step.at,
      forkedFrom: init.forkedFrom ? { sagaId: init.forkedFrom.sagaId, entry: init.forkedFrom.entry } : null,
      parent: this.parent(),
      children: this.children(),
      active: point.active,
      visited: visitedIds(upTo),
      pending: pendingOf(upTo),
      timers: timersOf(upTo),
      waiting: this.waitingOf(upTo),
      plan: this.plan(upTo),
    };
  }

  timeline(): Timeline {
    return { id: this.id, entries: this.points.map(({ step }): TimelineEntry => ({ no: step.no, at: step.at, type: typeOf(step), summary: summaryOf(step) })) };
  }

  private plan(upTo: readonly Point[]): SagaDetail['plan'] {
    const last = upTo.at(-1)!.snapshot;
    if (!last || this.graph.undoLinks.length === 0) return null;
    const undone = upTo.flatMap((p) => {
      const type = p.step.event?.type ?? '';
      return type.startsWith('xstate.done.actor.undo.') ? [type.slice('xstate.done.actor.undo.'.length)] : [];
    });
    return compensationPlan({ value: last.value, context: last.context as object }, { undoable: this.graph.undoLinks.map((l) => l.step), undone });
  }

  private waitingOf(upTo: readonly Point[]): Waiting[] {
    const last = upTo.at(-1)!;
    const byId = new Map(this.graph.nodes.map((n) => [n.id, n]));
    return last.active.flatMap((state) =>
      (byId.get(state)?.tags ?? [])
        .filter((t) => t.startsWith(AWAITS_TAG_PREFIX))
        .map((t) => {
          // Since the entry that entered the state (it has been active ever since).
          let k = upTo.length - 1;
          while (k > 0 && upTo[k - 1]!.active.includes(state)) k--;
          return { dependency: t.slice(AWAITS_TAG_PREFIX.length), since: upTo[k]!.step.at, state };
        }),
    );
  }
}

/** The chart ids of the active states: the root, then each state in the value, parents first. */
export function activeIds(graph: MachineGraph, value: StateValue): string[] {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const root = graph.nodes[0]!;
  const out = [root.id];
  const childOf = (parent: string, key: string): string | undefined => byId.get(parent)?.children.find((c) => byId.get(c)?.key === key);
  const walk = (parent: string, v: StateValue): void => {
    if (typeof v === 'string') {
      const child = childOf(parent, v);
      if (child) out.push(child);
      return;
    }
    for (const [key, sub] of Object.entries(v)) {
      const child = childOf(parent, key);
      if (!child) continue;
      out.push(child);
      if (sub !== undefined) walk(child, sub as StateValue);
    }
  };
  walk(root.id, value);
  return out;
}

function visitedIds(upTo: readonly Point[]): string[] {
  const seen = new Set<string>();
  for (const p of upTo) for (const id of p.active) seen.add(id);
  return [...seen];
}

function pendingOf(upTo: readonly Point[]): PendingStep[] {
  const pending = new Map<string, PendingStep>();
  for (const e of upTo.flatMap((p) => p.step.effects)) {
    if (e.kind === 'step.started') pending.set(e.id, { id: e.id, src: e.src, attempt: e.attempt, key: e.key ?? '' });
    if (e.kind === 'step.stopped') pending.delete(e.id);
  }
  return [...pending.values()];
}

function timersOf(upTo: readonly Point[]): Array<{ id: string; dueAt: number }> {
  const timers = new Map<string, number>();
  for (const e of upTo.flatMap((p) => p.step.effects)) {
    if (e.kind === 'timer.armed') timers.set(e.id, e.dueAt);
    if (e.kind === 'timer.fired' || e.kind === 'timer.cancelled') timers.delete(e.id);
  }
  return [...timers].map(([id, dueAt]) => ({ id, dueAt }));
}

function typeOf(step: ReplayStep): string {
  if (step.kind === 'init') return 'init';
  if (step.kind === 'takeover' || step.kind === 'void') return step.kind;
  return step.event?.type ?? 'event';
}

function summaryOf(step: ReplayStep): string {
  const text = (v: unknown): string => {
    const s = JSON.stringify(v) ?? String(v);
    return s.length > 80 ? `${s.slice(0, 79)}…` : s;
  };
  const event = step.event;
  if (event === null) return step.note ?? '';
  if (event.type === 'init') return text((event as { input: unknown }).input);
  const payload = (event as { payload: Record<string, unknown> }).payload;
  if (payload.error && typeof payload.error === 'object') {
    const e = payload.error as { code?: string; message?: string };
    return `${e.code ?? 'ERROR'}: ${e.message ?? ''}`;
  }
  if ('output' in payload) return text(payload.output);
  if (typeof payload.dependency === 'string') return payload.dependency;
  if (typeof payload.timerId === 'string') return `timer ${payload.timerId}`;
  return text(payload);
}
