/**
 * ELK layout of machine charts: every box has a finite positive size and sits inside its
 * parent, every transition line starts on its source's border and ends on its target's (in
 * absolute coordinates, whichever state ELK filed the edge under), and the same graph always
 * gives the same layout.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { buildMachine } from '../../machines/build.machine.js';
import { layoutGraph } from '../../src/viz/layout.js';
import { machineGraph } from '../../src/viz/machine-graph.js';
import { nodeText, textBlock } from '../../src/viz/node-label.js';
import type { Box, LaidOutGraph, Point } from '../../src/viz/layout-types.js';
import { gadgetMachine } from '../fixtures/viz-gadget.js';

/** ELK rounds ports and bend points; two decimals here. */
const TOL = 1;

const finite = (...xs: number[]): boolean => xs.every((x) => Number.isFinite(x));

function inside(inner: Box, outer: Box): boolean {
  return inner.x >= outer.x - TOL && inner.y >= outer.y - TOL && inner.x + inner.w <= outer.x + outer.w + TOL && inner.y + inner.h <= outer.y + outer.h + TOL;
}

function onBorder(p: Point, b: Box): boolean {
  const within = p.x >= b.x - TOL && p.x <= b.x + b.w + TOL && p.y >= b.y - TOL && p.y <= b.y + b.h + TOL;
  const side = Math.abs(p.x - b.x) <= TOL || Math.abs(p.x - (b.x + b.w)) <= TOL || Math.abs(p.y - b.y) <= TOL || Math.abs(p.y - (b.y + b.h)) <= TOL;
  return within && side;
}

function checkGeometry(l: LaidOutGraph): void {
  const byId = new Map(l.nodes.map((n) => [n.id, n]));
  expect(l.nodes.map((n) => n.id)).toEqual(l.graph.nodes.map((n) => n.id));
  expect(finite(l.width, l.height) && l.width > 0 && l.height > 0).toBe(true);
  for (const n of l.nodes) {
    expect(finite(n.x, n.y, n.w, n.h), n.id).toBe(true);
    expect(n.w > 0 && n.h > 0, n.id).toBe(true);
    // Big enough for its own text (a container's title too, however small its children).
    const text = textBlock(nodeText(l.graph.nodes.find((g) => g.id === n.id)!), l.metrics);
    expect(n.w >= text.w - TOL && n.h >= text.h - TOL && n.headerHeight === text.h, n.id).toBe(true);
    const parent = l.graph.nodes.find((g) => g.id === n.id)!.parent;
    if (parent !== null) expect(inside(n, byId.get(parent)!), `${n.id} inside ${parent}`).toBe(true);
    expect(inside(n, { x: 0, y: 0, w: l.width, h: l.height }), n.id).toBe(true);
  }
  // One line per target of every transition (the source itself for a targetless one).
  expect(l.edges.map((e) => e.id)).toEqual(l.graph.edges.flatMap((e) => (e.targets.length ? e.targets : [e.source]).map((_, k) => `${e.id}>${k}`)));
  for (const e of l.edges) {
    expect(e.points.length, e.id).toBeGreaterThanOrEqual(2);
    expect(e.points.every((p) => finite(p.x, p.y)), e.id).toBe(true);
    expect(onBorder(e.points[0]!, byId.get(e.source)!), `${e.id} starts on ${e.source}`).toBe(true);
    expect(onBorder(e.points.at(-1)!, byId.get(e.target)!), `${e.id} ends on ${e.target}`).toBe(true);
    if (e.label) expect(finite(e.label.x, e.label.y, e.label.w, e.label.h) && e.label.w > 0, e.id).toBe(true);
  }
  // Every transition's label is placed once, on its first line.
  expect(l.edges.filter((e) => e.label).map((e) => e.edge)).toEqual(l.graph.edges.map((e) => e.id));
  for (const m of l.initials) {
    const parent = byId.get(m.parent)!;
    expect(inside({ x: m.dot.x - m.radius, y: m.dot.y - m.radius, w: 2 * m.radius, h: 2 * m.radius }, parent), m.parent).toBe(true);
    expect(onBorder(m.points.at(-1)!, byId.get(m.target)!), `initial of ${m.parent}`).toBe(true);
  }
  expect(l.initials.map((m) => m.parent)).toEqual(l.graph.nodes.filter((n) => n.initial).map((n) => n.id));
}

describe('layoutGraph', () => {
  let build: LaidOutGraph;
  let gadget: LaidOutGraph;
  beforeAll(async () => {
    build = await layoutGraph(machineGraph(buildMachine));
    gadget = await layoutGraph(machineGraph(gadgetMachine));
  }, 120_000);

  it('lays out the build saga: sizes, nesting, lines from border to border', () => {
    checkGeometry(build);
    // Containers are sized around their children and their own title.
    const prepare = build.nodes.find((n) => n.id === 'build.prepare')!;
    const image = build.nodes.find((n) => n.id === 'build.prepare.image')!;
    const config = build.nodes.find((n) => n.id === 'build.prepare.config')!;
    expect(inside(image, prepare) && inside(config, prepare)).toBe(true);
    // The regions do not overlap.
    const apart = image.x + image.w <= config.x + TOL || config.x + config.w <= image.x + TOL || image.y + image.h <= config.y + TOL || config.y + config.h <= image.y + TOL;
    expect(apart).toBe(true);
  });

  it('lays out self, targetless, multi-target and parent-to-child transitions', () => {
    checkGeometry(gadget);
    const lines = (edge: string): string[] => gadget.edges.filter((e) => e.edge === edge).map((e) => e.target);
    expect(lines('gadget.idle#4')).toEqual(['gadget.both.left.l2', 'gadget.both.right.r2']);
    expect(lines('gadget.idle#1')).toEqual(['gadget.idle']);
    expect(lines('gadget#0')).toEqual(['gadget.idle']);
  });

  it('sizes boxes from their text', () => {
    const box = (id: string) => build.nodes.find((n) => n.id === id)!;
    // `↻ restartOldSandboxes` is wider than `↻ stopSandbox`; a tag adds a line.
    expect(box('build.compensating.undo_stopOld').w).toBeGreaterThan(box('build.compensating.undo_start').w);
    expect(box('build.start.await_registry').h).toBeGreaterThan(box('build.start.waiting').h);
  });

  it('gives the same layout for the same graph, as plain JSON', async () => {
    const again = await layoutGraph(machineGraph(buildMachine));
    expect(JSON.stringify(again)).toBe(JSON.stringify(build));
    expect(JSON.parse(JSON.stringify(build))).toEqual(build);
  }, 120_000);

  it('lays out in another direction on request', async () => {
    const right = await layoutGraph(machineGraph(gadgetMachine), { direction: 'RIGHT' });
    checkGeometry(right);
    expect(JSON.stringify(right.nodes)).not.toBe(JSON.stringify(gadget.nodes));
  });
});
