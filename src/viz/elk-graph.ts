/**
 * The ELK input for a machine graph: compound states as nested nodes, every transition as one
 * ELK edge per target placed in the container ELK itself would choose (the lowest common
 * ancestor, or the source/target when one contains the other) — ELK gives edge coordinates
 * relative to that container, and an edge filed elsewhere is routed wrongly. An initial
 * child gets a small marker node with an edge to it, so the dot is laid out, not overlaid.
 *
 * ELK ids are prefixed by what they name (`s:` state, `i:` initial marker, `e:` edge) so that
 * no state id, whatever it contains, can collide with another element.
 */
import type { ElkExtendedEdge, ElkNode, LayoutOptions } from 'elkjs/lib/elk-api.js';
import type { GraphNode, MachineGraph } from './graph-types.js';
import type { TextMetrics } from './layout-types.js';
import { nodeText, textBlock, textWidth } from './node-label.js';

export const ELK_ROOT = 'root';
export const stateElkId = (id: string): string => `s:${id}`;
export const markerElkId = (parent: string): string => `i:${parent}`;
const edgeElkId = (id: string): string => `e:${id}`;
const markerEdgeElkId = (parent: string): string => `e:i:${parent}`;

/** Diameter of the initial-state dot. */
export const MARKER_SIZE = 10;
const CHILD_PAD = 12;

/** One ELK edge: a transition's line to one of its targets. */
export interface Leg {
  readonly id: string;
  readonly elkId: string;
  readonly edge: string;
  readonly source: string;
  readonly target: string;
  readonly label: string | null;
}

export interface InitialLeg {
  readonly parent: string;
  readonly target: string;
  readonly elkId: string;
}

export interface ElkInput {
  readonly root: ElkNode;
  readonly legs: readonly Leg[];
  readonly initials: readonly InitialLeg[];
  /** Header (title block) height of each state. */
  readonly headers: ReadonlyMap<string, number>;
}

export interface ElkGraphOptions {
  readonly metrics: TextMetrics;
  readonly direction: 'DOWN' | 'RIGHT';
  /** Extra ELK options for the root, over the defaults. */
  readonly elk?: LayoutOptions;
}

export function elkInput(graph: MachineGraph, options: ElkGraphOptions): ElkInput {
  const { metrics } = options;
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const elkNodes = new Map<string, ElkNode>();
  const headers = new Map<string, number>();
  for (const node of graph.nodes) {
    const block = textBlock(nodeText(node), metrics);
    headers.set(node.id, block.h);
    elkNodes.set(node.id, node.children.length > 0 ? compoundNode(node, block) : { id: stateElkId(node.id), width: block.w, height: block.h });
  }
  const root: ElkNode = { id: ELK_ROOT, layoutOptions: rootOptions(options), children: [], edges: [] };
  const containerOf = (id: string | null): ElkNode => (id === null ? root : elkNodes.get(id)!);
  for (const node of graph.nodes) (containerOf(node.parent).children ??= []).push(elkNodes.get(node.id)!);

  const initials: InitialLeg[] = [];
  for (const node of graph.nodes) {
    if (node.initial === null) continue;
    const parent = elkNodes.get(node.id)!;
    // First among the children: model order puts it in front of the states it leads to.
    parent.children!.unshift({ id: markerElkId(node.id), width: MARKER_SIZE, height: MARKER_SIZE });
    const elkId = markerEdgeElkId(node.id);
    (parent.edges ??= []).push({ id: elkId, sources: [markerElkId(node.id)], targets: [stateElkId(node.initial)] });
    initials.push({ parent: node.id, target: node.initial, elkId });
  }

  const legs: Leg[] = [];
  for (const edge of graph.edges) {
    const targets = edge.targets.length > 0 ? edge.targets : [edge.source];
    targets.forEach((target, k) => {
      const id = `${edge.id}>${k}`;
      const label = k === 0 ? edge.label : null;
      const elkEdge: ElkExtendedEdge = { id: edgeElkId(id), sources: [stateElkId(edge.source)], targets: [stateElkId(target)] };
      if (label) elkEdge.labels = [{ text: label, width: Math.ceil(textWidth(label, metrics)) + 4, height: metrics.lineHeight }];
      const container = containerOf(edgeContainer(edge.source, target, byId));
      (container.edges ??= []).push(elkEdge);
      legs.push({ id, elkId: elkEdge.id, edge: edge.id, source: edge.source, target, label });
    });
  }
  return { root, legs, initials, headers };
}

function compoundNode(node: GraphNode, header: { w: number; h: number }): ElkNode {
  return {
    id: stateElkId(node.id),
    layoutOptions: {
      'elk.padding': `[top=${header.h + 4},left=${CHILD_PAD},bottom=${CHILD_PAD},right=${CHILD_PAD}]`,
      // A title wider than the children must still fit.
      'elk.nodeSize.constraints': 'MINIMUM_SIZE',
      'elk.nodeSize.minimum': `(${header.w}, ${header.h + CHILD_PAD})`,
    },
    children: [],
    edges: [],
  };
}

function rootOptions(options: ElkGraphOptions): LayoutOptions {
  return {
    'elk.algorithm': 'layered',
    'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
    'elk.direction': options.direction,
    'elk.edgeRouting': 'ORTHOGONAL',
    'elk.layered.spacing.nodeNodeBetweenLayers': '36',
    'elk.spacing.nodeNode': '24',
    'elk.spacing.edgeNode': '12',
    'elk.spacing.edgeEdge': '8',
    'elk.spacing.edgeLabel': '3',
    'elk.edgeLabels.placement': 'CENTER',
    // Keep states in document order where the layering allows: charts read like the code.
    'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
    'elk.randomSeed': '1',
    'elk.padding': '[top=8,left=8,bottom=8,right=8]',
    ...options.elk,
  };
}

/**
 * The state (null = ELK's root) an edge between two states belongs to, by ELK's own rule
 * (ElkGraphUtil.findBestEdgeContainment): the common parent of siblings and of a self-loop,
 * the outer state when one contains the other, else the lowest common ancestor.
 */
export function edgeContainer(source: string, target: string, byId: ReadonlyMap<string, GraphNode>): string | null {
  const chain = (id: string): string[] => {
    const out: string[] = [];
    for (let n = byId.get(id); n; n = n.parent === null ? undefined : byId.get(n.parent)) out.push(n.id);
    return out;
  };
  const up = chain(source);
  const down = chain(target);
  if (source === target) return byId.get(source)!.parent;
  if (down.includes(source)) return source;
  if (up.includes(target)) return target;
  const ancestors = new Set(up);
  return down.find((id) => ancestors.has(id)) ?? null;
}
