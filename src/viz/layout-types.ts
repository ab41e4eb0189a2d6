/**
 * The JSON shape of a laid-out chart: the machine graph plus absolute coordinates (one
 * coordinate system, origin top-left, y down) for every state box, edge polyline and label,
 * so a page or the SVG renderer draws without knowing ELK's nesting.
 */
import type { MachineGraph } from './graph-types.js';

export interface Point {
  readonly x: number;
  readonly y: number;
}

export interface Box {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

/** Font metrics the sizes were estimated with; the renderer draws with the same. */
export interface TextMetrics {
  /** Font size in px (monospace). */
  readonly fontSize: number;
  /** Estimated advance of one character, px. */
  readonly charWidth: number;
  readonly lineHeight: number;
}

export interface LaidOutNode extends Box {
  readonly id: string;
  /** 0 for the machine's root state. */
  readonly depth: number;
  /** Height of the title block (key, invocations, tags) at the top of the box. */
  readonly headerHeight: number;
}

export interface LaidOutLabel extends Box {
  readonly text: string;
}

/** One drawn line of a transition: a multi-target transition has one per target. */
export interface LaidOutEdge {
  /** `<graph edge id>><n>`: n is the target's index. */
  readonly id: string;
  /** The graph edge (`GraphEdge.id`) this line draws. */
  readonly edge: string;
  readonly source: string;
  /** The target state; the source itself for a targetless (internal) transition. */
  readonly target: string;
  /** Start, bends, end (absolute); the end is on the target's border, where the arrowhead goes. */
  readonly points: readonly Point[];
  /** Only on the first line of a transition. */
  readonly label: LaidOutLabel | null;
}

/** The dot and arrow that mark a compound state's initial child. */
export interface InitialMarker {
  /** The compound state. */
  readonly parent: string;
  /** Its initial child. */
  readonly target: string;
  readonly dot: Point;
  readonly radius: number;
  readonly points: readonly Point[];
}

export interface LaidOutGraph {
  readonly graph: MachineGraph;
  readonly width: number;
  readonly height: number;
  readonly metrics: TextMetrics;
  /** Same order as `graph.nodes`. */
  readonly nodes: readonly LaidOutNode[];
  /** Graph edge order, then target order. */
  readonly edges: readonly LaidOutEdge[];
  readonly initials: readonly InitialMarker[];
}
