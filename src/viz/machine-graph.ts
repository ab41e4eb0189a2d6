/**
 * A machine's chart as data: every state node and every transition, read from `machine.root`.
 * Not `toDirectedGraph` / `machine.definition`: both leave out `always` transitions (the kit's
 * whole compensation loop runs on them) and guard names. Deterministic (document order) and
 * JSON-serialisable, so the same machine always gives the same chart and it can cross HTTP.
 */
import type { AnyStateMachine } from 'xstate';
import type { GraphEdge, GraphInvocation, GraphNode, MachineGraph, StateNodeType } from './graph-types.js';
import { edgeLabel, guardOf, kindOf } from './transition-label.js';
import { undoLinks } from './undo-links.js';

/** The parts of XState's StateNode this reads (its generic type is unwieldy and adds nothing here). */
interface StateNodeLike {
  readonly id: string;
  readonly key: string;
  readonly type: StateNodeType;
  readonly parent?: StateNodeLike;
  readonly states: Readonly<Record<string, StateNodeLike>>;
  readonly initial?: { readonly target: readonly StateNodeLike[] };
  readonly history?: 'shallow' | 'deep' | false;
  readonly tags: readonly string[];
  readonly description?: string;
  readonly invoke: ReadonlyArray<{ readonly id: string; readonly src: unknown }>;
  readonly transitions: ReadonlyMap<string, readonly TransitionLike[]>;
  readonly always?: readonly TransitionLike[];
}

interface TransitionLike {
  readonly target?: readonly StateNodeLike[];
  readonly guard?: unknown;
  readonly reenter?: boolean;
  readonly delay?: number | string;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export function machineGraph(machine: AnyStateMachine): MachineGraph {
  const root = machine.root as unknown as StateNodeLike;
  const nodes: Array<Mutable<GraphNode>> = [];
  const edges: GraphEdge[] = [];
  const visit = (node: StateNodeLike): void => {
    nodes.push(nodeOf(node));
    edges.push(...edgesOf(node));
    for (const child of Object.values(node.states)) visit(child);
  };
  visit(root);
  const links = undoLinks(nodes);
  const byId = new Map(nodes.map((n) => [n.id, n]));
  for (const link of links) {
    byId.get(link.stepState)!.undo = link.undoState;
    byId.get(link.stepState)!.undoSrc = link.undoSrc;
    byId.get(link.undoState)!.undoes = link.stepState;
  }
  return { id: root.id, description: root.description ?? null, nodes, edges, undoLinks: links };
}

function nodeOf(node: StateNodeLike): Mutable<GraphNode> {
  const initial = node.type === 'compound' ? node.initial?.target[0]?.id ?? null : null;
  return {
    id: node.id,
    key: node.key,
    parent: node.parent?.id ?? null,
    type: node.type,
    children: Object.values(node.states).map((c) => c.id),
    initial,
    history: node.type === 'history' && node.history ? node.history : null,
    tags: [...node.tags],
    description: node.description ?? null,
    invocations: node.invoke.map((i): GraphInvocation => ({ id: i.id, src: String(i.src) })),
  };
}

/** A state's transitions in document order: `on`, `onDone`, invocation results, `after` (XState's map order), then `always`. */
function edgesOf(node: StateNodeLike): GraphEdge[] {
  const out: GraphEdge[] = [];
  const add = (t: TransitionLike, eventType: string | null): void => {
    const { kind, invocation } = eventType === null ? { kind: 'always' as const, invocation: null } : kindOf(eventType, node.id, t.delay);
    const targets = (t.target ?? []).map((s) => s.id);
    const guard = guardOf(t.guard);
    const delay = t.delay ?? null;
    out.push({
      id: `${node.id}#${out.length}`,
      source: node.id,
      targets,
      kind,
      event: eventType,
      label: edgeLabel(kind, eventType, invocation, delay, guard),
      guard,
      delay,
      invocation,
      internal: targets.length === 0,
      reenter: t.reenter ?? false,
      self: targets.length === 1 && targets[0] === node.id,
    });
  };
  for (const [eventType, list] of node.transitions) for (const t of list) add(t, eventType);
  for (const t of node.always ?? []) add(t, null);
  return out;
}
