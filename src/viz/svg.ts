/**
 * A laid-out chart as one standalone SVG document: no external fonts, images or stylesheets,
 * only internal `url(#…)` references to its own arrowhead. Every state is a `<g>` with
 * `data-state="<id>"` and classes naming its kind; every transition line a `<g>` with
 * `data-edge` / `data-source` / `data-target` / `data-event`, so a page highlights a saga's
 * configuration with classes and CSS alone. A state that runs (or undoes) a child saga carries
 * `jsg-child`, `data-child-step` and `data-child-machine` and a small badge, so a page can open the
 * child from it. All text is escaped (see svg-escape.ts).
 */
import { childStepMarks, type ChildStepMark } from './child-steps.js';
import type { EdgeKind, GraphEdge, GraphNode } from './graph-types.js';
import type { InitialMarker, LaidOutEdge, LaidOutGraph, LaidOutNode, Point } from './layout-types.js';
import { nodeText, PAD_X, PAD_Y } from './node-label.js';
import { escapeXml, idToken } from './svg-escape.js';
import { CHART_CSS } from './svg-style.js';

export interface SvgOptions {
  /** States to mark `jsg-active` (the current configuration) and `jsg-visited`. Unknown ids are ignored. */
  readonly highlight?: { readonly active: readonly string[]; readonly visited?: readonly string[] };
  /**
   * Prefix of the document's own ids (the arrowhead marker), unique per chart when several
   * are inlined in one page. Default `jsg-<machine id>`.
   */
  readonly idPrefix?: string;
  /** Embed the default stylesheet (default true); false when the page brings its own. */
  readonly style?: boolean;
}

/** Space between a state's border and the inner border of a final state. */
const FINAL_INSET = 3;
const RADIUS = 6;
/** The child-saga badge: a small square in the box's top right corner. */
const BADGE = 13;
const BADGE_INSET = 3;

export function renderSvg(laidOut: LaidOutGraph, options: SvgOptions = {}): string {
  const { graph, metrics } = laidOut;
  const prefix = idToken(options.idPrefix ?? `jsg-${graph.id}`);
  const arrow = `${prefix}-arrow`;
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const edgesById = new Map(graph.edges.map((e) => [e.id, e]));
  const active = new Set(options.highlight?.active ?? []);
  const visited = new Set(options.highlight?.visited ?? []);
  const children = childStepMarks(graph.nodes);
  const font = `font-size="${metrics.fontSize}"`;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="jsg-chart" data-machine="${escapeXml(graph.id)}" width="${laidOut.width}" height="${laidOut.height}" viewBox="0 0 ${laidOut.width} ${laidOut.height}" ${font}>`,
  );
  out.push(`<title>${escapeXml(graph.description ? `${graph.id}: ${graph.description}` : graph.id)}</title>`);
  out.push('<defs>');
  out.push(`<marker id="${arrow}" class="jsg-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker>`);
  if (options.style !== false) out.push(`<style>${CHART_CSS}</style>`);
  out.push('</defs>');

  // Parents before children (document order), so nested boxes paint over their container.
  for (const box of laidOut.nodes) {
    const node = byId.get(box.id)!;
    const parent = node.parent === null ? undefined : byId.get(node.parent);
    out.push(stateSvg(node, box, parent, { active: active.has(node.id), visited: visited.has(node.id), child: children.get(node.id) }, laidOut));
  }
  for (const marker of laidOut.initials) out.push(initialSvg(marker, arrow));
  // Transitions over every box: a line into a nested state must not vanish under its parent.
  for (const line of laidOut.edges) out.push(edgeSvg(line, edgesById.get(line.edge)!, arrow, active.has(line.source), metrics.lineHeight));
  out.push('</svg>');
  return out.join('\n');
}

interface StateMark {
  readonly active: boolean;
  readonly visited: boolean;
  readonly child: ChildStepMark | undefined;
}

function stateSvg(node: GraphNode, box: LaidOutNode, parent: GraphNode | undefined, mark: StateMark, laidOut: LaidOutGraph): string {
  const { metrics } = laidOut;
  const classes = ['jsg-state', `jsg-${node.type}`];
  if (node.parent === null) classes.push('jsg-root');
  if (parent?.type === 'parallel') classes.push('jsg-region');
  if (node.undoes) classes.push('jsg-undo');
  const { child } = mark;
  if (child) classes.push('jsg-child');
  if (mark.visited) classes.push('jsg-visited');
  if (mark.active) classes.push('jsg-active');
  const attrs = [
    `class="${classes.join(' ')}"`,
    `data-state="${escapeXml(node.id)}"`,
    `data-type="${node.type}"`,
    node.tags.length > 0 ? `data-tags="${escapeXml(node.tags.join(' '))}"` : '',
    node.undo ? `data-undo="${escapeXml(node.undo)}"` : '',
    node.undoes ? `data-undoes="${escapeXml(node.undoes)}"` : '',
    child ? `data-child-step="${escapeXml(child.step)}" data-child-machine="${escapeXml(child.machine)}"` : '',
  ].filter(Boolean);
  const parts = [`<g ${attrs.join(' ')}>`];
  const childLine = child ? `${child.undo ? 'compensates' : 'runs'} a child saga of ${child.machine}` : null;
  const tip = [node.id, node.description, childLine].filter((l) => l !== null).join('\n');
  parts.push(`<title>${escapeXml(tip)}</title>`);
  parts.push(`<rect x="${box.x}" y="${box.y}" width="${box.w}" height="${box.h}" rx="${RADIUS}" ry="${RADIUS}"/>`);
  if (node.type === 'final') {
    const i = FINAL_INSET;
    parts.push(`<rect class="jsg-inner" x="${box.x + i}" y="${box.y + i}" width="${Math.max(0, box.w - 2 * i)}" height="${Math.max(0, box.h - 2 * i)}" rx="${RADIUS - 1}" ry="${RADIUS - 1}"/>`);
  }
  const text = nodeText(node);
  // Leaves centre their text; containers put it in their header, left-aligned.
  const leaf = node.children.length === 0;
  const x = leaf ? box.x + box.w / 2 : box.x + PAD_X;
  const anchor = leaf ? 'middle' : 'start';
  const baseline = (row: number): number => round(box.y + PAD_Y + row * metrics.lineHeight + metrics.lineHeight * 0.75);
  parts.push(`<text class="jsg-title" x="${round(x)}" y="${baseline(0)}" text-anchor="${anchor}">${escapeXml(text.title)}</text>`);
  text.lines.forEach((line, k) => {
    parts.push(`<text class="jsg-line" x="${round(x)}" y="${baseline(k + 1)}" text-anchor="${anchor}">${escapeXml(line)}</text>`);
  });
  if (child) parts.push(childBadge(box, metrics.fontSize));
  parts.push('</g>');
  return parts.join('');
}

/** A small `↳` in the top right corner: this state runs another saga (as the list marks a child). */
function childBadge(box: LaidOutNode, fontSize: number): string {
  const x = box.x + box.w - BADGE - BADGE_INSET;
  const y = box.y + BADGE_INSET;
  const size = round(fontSize * 0.8);
  return (
    `<g class="jsg-child-badge"><rect x="${round(x)}" y="${round(y)}" width="${BADGE}" height="${BADGE}" rx="2" ry="2"/>` +
    `<text x="${round(x + BADGE / 2)}" y="${round(y + BADGE * 0.78)}" text-anchor="middle" font-size="${size}">↳</text></g>`
  );
}

function initialSvg(marker: InitialMarker, arrow: string): string {
  return (
    `<g class="jsg-initial" data-initial-for="${escapeXml(marker.parent)}" data-target="${escapeXml(marker.target)}">` +
    `<circle cx="${marker.dot.x}" cy="${marker.dot.y}" r="${marker.radius}"/>` +
    `<path d="${pathData(marker.points)}" marker-end="url(#${arrow})"/></g>`
  );
}

const KIND_CLASS: Record<EdgeKind, string> = {
  event: 'jsg-event',
  always: 'jsg-always',
  after: 'jsg-after',
  'invoke.done': 'jsg-invoke-done',
  'invoke.error': 'jsg-invoke-error',
  'invoke.snapshot': 'jsg-invoke-snapshot',
  'state.done': 'jsg-state-done',
  route: 'jsg-route',
};

function edgeSvg(line: LaidOutEdge, edge: GraphEdge, arrow: string, fromActive: boolean, lineHeight: number): string {
  const classes = ['jsg-edge', KIND_CLASS[edge.kind]];
  if (edge.internal) classes.push('jsg-internal');
  if (edge.self) classes.push('jsg-self');
  if (fromActive) classes.push('jsg-from-active');
  const attrs = [
    `class="${classes.join(' ')}"`,
    `data-edge="${escapeXml(line.edge)}"`,
    `data-source="${escapeXml(line.source)}"`,
    `data-target="${escapeXml(line.target)}"`,
    edge.event === null ? '' : `data-event="${escapeXml(edge.event)}"`,
    `data-kind="${edge.kind}"`,
  ].filter(Boolean);
  const parts = [`<g ${attrs.join(' ')}>`, `<title>${escapeXml(edge.label)}</title>`];
  parts.push(`<path d="${pathData(line.points)}" marker-end="url(#${arrow})"/>`);
  if (line.label) {
    const l = line.label;
    parts.push(`<rect x="${l.x}" y="${l.y}" width="${l.w}" height="${l.h}"/>`);
    parts.push(`<text x="${round(l.x + 2)}" y="${round(l.y + lineHeight * 0.75)}">${escapeXml(l.text)}</text>`);
  }
  parts.push('</g>');
  return parts.join('');
}

function pathData(points: readonly Point[]): string {
  return points.map((p, i) => `${i === 0 ? 'M' : 'L'}${p.x},${p.y}`).join(' ');
}

function round(v: number): number {
  return Math.round(v * 100) / 100;
}
