/**
 * State node ids from state values, as the chart names them (`data-state`). A state value
 * (`{ compensating: 'undo_lock' }`) names states by key under their parent; their ids are
 * looked up in the machine graph's node list, so machines that give states explicit ids are
 * drawn right too. Without a graph (a machine the answering coordinator does not run) ids are
 * derived the default way, `<machine id>.<path>`.
 */
import type { GraphNode, MachineGraph } from '../../viz/graph-types.js';

export interface StateIndex {
  readonly root: GraphNode | undefined;
  readonly byId: ReadonlyMap<string, GraphNode>;
  /** parent id → child key → child node. */
  readonly children: ReadonlyMap<string, ReadonlyMap<string, GraphNode>>;
}

export function stateIndex(graph: MachineGraph): StateIndex {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const children = new Map<string, Map<string, GraphNode>>();
  for (const n of graph.nodes) {
    if (n.parent === null) continue;
    let keys = children.get(n.parent);
    if (!keys) children.set(n.parent, (keys = new Map()));
    keys.set(n.key, n);
  }
  return { root: graph.nodes.find((n) => n.parent === null), byId, children };
}

/**
 * The active state nodes of a state value: the root, then each state of the configuration
 * before its children (document order of the value). Empty for a null value.
 */
export function activeIds(value: unknown, machineId: string, index: StateIndex | null): string[] {
  if (value === null || value === undefined) return [];
  const out: string[] = [];
  const rootId = index?.root?.id ?? machineId;
  out.push(rootId);
  const visit = (parentId: string, v: unknown): void => {
    const enter = (key: string): string => {
      const id = index?.children.get(parentId)?.get(key)?.id ?? `${parentId}.${key}`;
      out.push(id);
      return id;
    };
    if (typeof v === 'string') enter(v);
    else if (typeof v === 'object' && v !== null) for (const [key, sub] of Object.entries(v)) visit(enter(key), sub);
  };
  visit(rootId, value);
  return out;
}

/** Every state node entered along `states` (in order), each once, in the order first entered. */
export function visitedIds(states: readonly unknown[], machineId: string, index: StateIndex | null): string[] {
  const seen = new Set<string>();
  for (const s of states) for (const id of activeIds(s, machineId, index)) seen.add(id);
  return [...seen];
}

const AWAITS = 'awaits:';

export interface WaitingState {
  readonly dependency: string;
  readonly state: string;
  readonly since: number;
}

/**
 * The boot dependencies the configuration waits for (`awaits:<dependency>` tags of active
 * nodes), each with when the saga entered that state: the time of the earliest entry of the
 * trailing run of `history` in which the state stayed active (`fallbackSince` without history).
 */
export function waitingOf(
  active: readonly string[],
  index: StateIndex | null,
  history: ReadonlyArray<{ readonly at: number; readonly active: ReadonlySet<string> }>,
  fallbackSince: number,
): WaitingState[] {
  if (!index) return [];
  const out: WaitingState[] = [];
  for (const id of active) {
    const node = index.byId.get(id);
    for (const tag of node?.tags ?? []) {
      if (!tag.startsWith(AWAITS)) continue;
      let since = fallbackSince;
      for (let i = history.length - 1; i >= 0 && history[i]!.active.has(id); i--) since = history[i]!.at;
      out.push({ dependency: tag.slice(AWAITS.length), state: id, since });
    }
  }
  return out;
}
