/**
 * One coordinator's boot dependencies as a small SVG: layers left to right (a dependency's
 * `layer`), arrows from what it depends on, coloured by readiness (ready, failing with an
 * error, or not yet ready), each box titled with its state, since when, and its error.
 */
import type { BootDependencyView } from '../api-types.js';
import { svg } from './dom.js';
import { dateTime } from './format.js';

const W = 150;
const H = 40;
const GAP_X = 56;
const GAP_Y = 14;
const MARGIN = 10;

export function bootGraph(deps: readonly BootDependencyView[], coordinator: string): SVGSVGElement {
  const byLayer = new Map<number, BootDependencyView[]>();
  for (const d of deps) byLayer.set(d.layer, [...(byLayer.get(d.layer) ?? []), d]);
  const layers = [...byLayer.keys()].sort((a, b) => a - b);
  const at = new Map<string, { x: number; y: number }>();
  layers.forEach((layer, col) => byLayer.get(layer)!.forEach((d, row) => at.set(d.name, { x: MARGIN + col * (W + GAP_X), y: MARGIN + row * (H + GAP_Y) })));
  const rows = Math.max(1, ...[...byLayer.values()].map((l) => l.length));
  const width = MARGIN * 2 + Math.max(1, layers.length) * (W + GAP_X) - GAP_X;
  const height = MARGIN * 2 + rows * (H + GAP_Y) - GAP_Y;
  const arrow = `boot-arrow-${coordinator.replace(/[^A-Za-z0-9_-]/g, '_')}`;

  const edges = deps.flatMap((d) =>
    d.dependsOn.flatMap((from) => {
      const a = at.get(from);
      const b = at.get(d.name);
      if (!a || !b) return [];
      const x1 = a.x + W;
      const y1 = a.y + H / 2;
      const x2 = b.x;
      const y2 = b.y + H / 2;
      const mid = (x1 + x2) / 2;
      return [svg('path', { class: 'boot-edge', 'data-from': from, 'data-to': d.name, d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`, 'marker-end': `url(#${arrow})` })];
    }),
  );
  const nodes = deps.map((d) => {
    const p = at.get(d.name)!;
    const kind = d.ready ? 'boot-ready' : d.error ? 'boot-error' : 'boot-waiting';
    const tip = [`${d.name}: ${d.state} since ${dateTime(d.since)}`, d.dependsOn.length ? `depends on ${d.dependsOn.join(', ')}` : '', d.error ?? ''].filter(Boolean).join('\n');
    return svg(
      'g',
      { class: `boot-dep ${kind}`, 'data-dependency': d.name, 'data-state': d.state, 'data-ready': String(d.ready) },
      svg('title', {}, tip),
      svg('rect', { x: p.x, y: p.y, width: W, height: H, rx: 6, ry: 6 }),
      svg('text', { class: 'boot-name', x: p.x + 8, y: p.y + 16 }, d.name),
      svg('text', { class: 'boot-state', x: p.x + 8, y: p.y + 32 }, d.state),
    );
  });
  return svg(
    'svg',
    { class: 'boot-graph', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': `Boot dependencies of ${coordinator}` },
    svg('defs', {}, svg('marker', { id: arrow, class: 'boot-arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto' }, svg('path', { d: 'M0,0 L10,5 L0,10 z' }))),
    ...edges,
    ...nodes,
  );
}
