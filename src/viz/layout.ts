/**
 * Lays a machine graph out with ELK's layered algorithm (elkjs, bundled: no worker, no
 * network) and returns absolute coordinates for every box, edge line, label and initial
 * marker. ELK answers in nested coordinates (each node relative to its parent, each edge
 * relative to the container it reports); everything is shifted to the chart's origin here.
 */
import elkBundled from 'elkjs/lib/elk.bundled.js';
import type { ElkEdgeSection, ElkExtendedEdge, ElkNode, LayoutOptions } from 'elkjs/lib/elk-api.js';
import { SagaError } from '../errors.js';
import type { MachineGraph } from './graph-types.js';
import { ELK_ROOT, elkInput, markerElkId, MARKER_SIZE, stateElkId } from './elk-graph.js';
import type { InitialMarker, LaidOutEdge, LaidOutGraph, LaidOutNode, Point, TextMetrics } from './layout-types.js';
import { DEFAULT_METRICS } from './node-label.js';

export const LAYOUT_FAILED = 'LAYOUT_FAILED';

export interface LayoutOptionsInput {
  /** Flow direction of the layers (default DOWN). */
  readonly direction?: 'DOWN' | 'RIGHT';
  /** Font metrics to size boxes and labels with (default 12 px monospace). */
  readonly metrics?: Partial<TextMetrics>;
  /** Extra ELK layout options for the root, over the defaults (`elk.spacing.nodeNode`…). */
  readonly elk?: LayoutOptions;
}

// A CommonJS module flagged __esModule: Node hands over module.exports, bundlers its `default`;
// elkjs sets `default` on the constructor itself, so `.default` is the constructor either way.
const ELK = elkBundled.default;
let elk: InstanceType<typeof ELK> | undefined;

export async function layoutGraph(graph: MachineGraph, options: LayoutOptionsInput = {}): Promise<LaidOutGraph> {
  const metrics: TextMetrics = { ...DEFAULT_METRICS, ...options.metrics };
  const input = elkInput(graph, { metrics, direction: options.direction ?? 'DOWN', elk: options.elk });
  let out: ElkNode;
  try {
    elk ??= new ELK();
    out = await elk.layout(input.root);
  } catch (err) {
    throw new SagaError(LAYOUT_FAILED, `ELK could not lay out machine "${graph.id}": ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }

  const origin = new Map<string, Point>();
  const shapes = new Map<string, ElkNode>();
  const elkEdges = new Map<string, ElkExtendedEdge>();
  const walk = (node: ElkNode, at: Point): void => {
    origin.set(node.id, at);
    shapes.set(node.id, node);
    for (const e of node.edges ?? []) elkEdges.set(e.id, e);
    for (const child of node.children ?? []) walk(child, { x: at.x + (child.x ?? 0), y: at.y + (child.y ?? 0) });
  };
  walk(out, { x: 0, y: 0 });

  const depthOf = new Map<string, number>();
  const nodes: LaidOutNode[] = graph.nodes.map((n) => {
    const depth = n.parent === null ? 0 : depthOf.get(n.parent)! + 1;
    depthOf.set(n.id, depth);
    const at = origin.get(stateElkId(n.id))!;
    const shape = shapes.get(stateElkId(n.id))!;
    return { id: n.id, x: round(at.x), y: round(at.y), w: round(shape.width ?? 0), h: round(shape.height ?? 0), depth, headerHeight: input.headers.get(n.id)! };
  });

  const placed = (elkId: string): { edge: ElkExtendedEdge; offset: Point } => {
    const edge = elkEdges.get(elkId);
    if (!edge) throw new SagaError(LAYOUT_FAILED, `ELK returned no route for ${elkId} of machine "${graph.id}"`);
    const container = (edge as { container?: string }).container ?? ELK_ROOT;
    return { edge, offset: origin.get(container) ?? { x: 0, y: 0 } };
  };

  const edges: LaidOutEdge[] = input.legs.map((leg) => {
    const { edge, offset } = placed(leg.elkId);
    const l = edge.labels?.[0];
    const label = leg.label && l ? { text: leg.label, x: round(offset.x + (l.x ?? 0)), y: round(offset.y + (l.y ?? 0)), w: round(l.width ?? 0), h: round(l.height ?? 0) } : null;
    return { id: leg.id, edge: leg.edge, source: leg.source, target: leg.target, points: polyline(edge.sections ?? [], offset), label };
  });

  const initials: InitialMarker[] = input.initials.map((m) => {
    const at = origin.get(markerElkId(m.parent))!;
    const { edge, offset } = placed(m.elkId);
    const r = MARKER_SIZE / 2;
    return { parent: m.parent, target: m.target, dot: { x: round(at.x + r), y: round(at.y + r) }, radius: r, points: polyline(edge.sections ?? [], offset) };
  });

  return { graph, width: round(out.width ?? 0), height: round(out.height ?? 0), metrics, nodes, edges, initials };
}

/**
 * The sections of one edge as a single polyline. A simple edge has one section; should ELK
 * split one (hierarchy crossings can), the sections are chained by their links.
 */
function polyline(sections: readonly ElkEdgeSection[], offset: Point): Point[] {
  const byId = new Map(sections.map((s) => [s.id, s]));
  const first = sections.find((s) => !s.incomingSections?.length) ?? sections[0];
  const points: Point[] = [];
  const seen = new Set<string>();
  for (let s = first; s && !seen.has(s.id); s = s.outgoingSections?.[0] ? byId.get(s.outgoingSections[0]) : undefined) {
    seen.add(s.id);
    for (const p of [s.startPoint, ...(s.bendPoints ?? []), s.endPoint]) {
      const q = { x: round(offset.x + p.x), y: round(offset.y + p.y) };
      const last = points.at(-1);
      if (!last || last.x !== q.x || last.y !== q.y) points.push(q);
    }
  }
  return points;
}

/** Two decimals: stable JSON and SVG without float noise. */
function round(v: number): number {
  return Math.round(v * 100) / 100;
}
