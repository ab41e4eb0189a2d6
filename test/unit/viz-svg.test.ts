/**
 * The chart as a standalone SVG: well-formed XML whatever the machine's names and descriptions
 * contain, one `data-state` element per state and one `data-edge` element per transition line,
 * no external references, and highlight classes for a saga's configuration.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { setup } from 'xstate';
import { buildMachine } from '../../machines/build.machine.js';
import { layoutGraph } from '../../src/viz/layout.js';
import { machineGraph } from '../../src/viz/machine-graph.js';
import type { LaidOutGraph } from '../../src/viz/layout-types.js';
import { renderSvg } from '../../src/viz/svg.js';
import { gadgetMachine } from '../fixtures/viz-gadget.js';
import { parseXml, type XmlElement } from '../helpers/xml-well-formed.js';

const HOSTILE = '</title><script>alert(1)</script> & "quoted" \'single\' \u0000\u0007 ]]> <!-- x';

/** A machine whose ids, events, guards, tags and descriptions all try to break out of the markup. */
const hostile = setup({ guards: { 'a<b&c': () => true } }).createMachine({
  id: 'evil"<m>',
  description: HOSTILE,
  initial: '<img src=x onerror=alert(1)>',
  states: {
    '<img src=x onerror=alert(1)>': {
      description: HOSTILE,
      tags: ['<tag>&'],
      on: { '"><script>': { target: 'end&amp;', guard: 'a<b&c' } },
    },
    'end&amp;': { type: 'final', description: HOSTILE },
  },
});

const stateEls = (els: XmlElement[]): XmlElement[] => els.filter((e) => e.name === 'g' && 'data-state' in e.attrs);
const classesOf = (el: XmlElement): string[] => (el.attrs.class ?? '').split(' ');

describe('renderSvg', () => {
  let build: LaidOutGraph;
  let gadget: LaidOutGraph;
  beforeAll(async () => {
    build = await layoutGraph(machineGraph(buildMachine));
    gadget = await layoutGraph(machineGraph(gadgetMachine));
  }, 120_000);

  it('is well-formed, standalone SVG with a data-state per state and a data-edge per line', () => {
    for (const laidOut of [build, gadget]) {
      const svg = renderSvg(laidOut);
      const els = parseXml(svg);
      expect(els[0]).toMatchObject({ name: 'svg', attrs: { xmlns: 'http://www.w3.org/2000/svg', 'data-machine': laidOut.graph.id } });
      expect(stateEls(els).map((e) => e.attrs['data-state'])).toEqual(laidOut.graph.nodes.map((n) => n.id));
      const lines = els.filter((e) => 'data-edge' in e.attrs);
      expect(lines.map((e) => [e.attrs['data-edge'], e.attrs['data-target']])).toEqual(laidOut.edges.map((e) => [e.edge, e.target]));
      for (const line of lines) {
        const edge = laidOut.graph.edges.find((e) => e.id === line.attrs['data-edge'])!;
        expect(line.attrs['data-source']).toBe(edge.source);
        expect(line.attrs['data-event']).toBe(edge.event ?? undefined);
      }
      // Nothing outside the document: no href, no @import, no url() but its own #fragments.
      expect(svg).not.toMatch(/href|@import|url\((?!#)/);
    }
  });

  it('draws state kinds with classes: final (double border), parallel regions, initial dots', () => {
    const els = parseXml(renderSvg(build));
    const state = (id: string): XmlElement => stateEls(els).find((e) => e.attrs['data-state'] === id)!;
    expect(classesOf(state('build.prepare'))).toContain('jsg-parallel');
    expect(classesOf(state('build.prepare.image'))).toContain('jsg-region');
    expect(classesOf(state('build.prepare.config'))).toContain('jsg-region');
    expect(classesOf(state('build.completed'))).toContain('jsg-final');
    expect(els.filter((e) => e.name === 'rect' && e.parent === state('build.completed'))).toHaveLength(2);
    expect(state('build.lock').attrs['data-undo']).toBe('build.compensating.undo_lock');
    expect(state('build.start.await_registry').attrs['data-tags']).toBe('awaits:registry');
    const initials = els.filter((e) => e.attrs.class === 'jsg-initial');
    expect(initials.map((e) => e.attrs['data-initial-for'])).toEqual(build.initials.map((m) => m.parent));
    // Every line and initial arrow ends in the document's own arrowhead.
    const arrow = els.find((e) => e.name === 'marker')!.attrs.id;
    expect(els.filter((e) => e.name === 'path' && e.attrs['marker-end']).every((e) => e.attrs['marker-end'] === `url(#${arrow})`)).toBe(true);
  });

  it('adds active and visited classes for a configuration, ignoring unknown ids', () => {
    const active = ['build', 'build.prepare', 'build.prepare.image', 'build.prepare.image.push', 'build.prepare.image.push.running'];
    const svg = renderSvg(build, { highlight: { active: [...active, 'no.such.state'], visited: ['build.allocate', 'build.lock'] } });
    const els = stateEls(parseXml(svg));
    expect(els.filter((e) => classesOf(e).includes('jsg-active')).map((e) => e.attrs['data-state'])).toEqual(active);
    expect(els.filter((e) => classesOf(e).includes('jsg-visited')).map((e) => e.attrs['data-state'])).toEqual(['build.allocate', 'build.lock']);
    const lines = parseXml(svg).filter((e) => classesOf(e).includes('jsg-from-active'));
    // Lines leaving an active state are the ones the saga can take next.
    expect(new Set(lines.map((e) => e.attrs['data-source']))).toEqual(new Set(['build.prepare', 'build.prepare.image.push', 'build.prepare.image.push.running']));
  });

  it('escapes hostile state names, events, guards, tags and descriptions', async () => {
    const laidOut = await layoutGraph(machineGraph(hostile));
    const svg = renderSvg(laidOut, { idPrefix: 'x"><script>' });
    const els = parseXml(svg);
    expect(els.some((e) => e.name === 'script' || e.name === 'img')).toBe(false);
    expect(svg).not.toContain('<script');
    expect(stateEls(els).map((e) => e.attrs['data-state'])).toEqual(laidOut.graph.nodes.map((n) => n.id));
    const titles = els.filter((e) => e.name === 'title').map((e) => e.text);
    // The description survives as text, with the characters XML cannot hold replaced.
    expect(titles).toContain(`evil"<m>.<img src=x onerror=alert(1)>\n${HOSTILE.replace('\u0000\u0007', '\uFFFD\uFFFD')}`);
    const edge = els.find((e) => 'data-edge' in e.attrs)!;
    expect(edge.attrs['data-event']).toBe('"><script>');
    expect(els.filter((e) => e.name === 'text').map((e) => e.text)).toContain('"><script> [a<b&c]');
    expect(els.find((e) => e.name === 'marker')!.attrs.id).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it('is checked by a parser that refuses broken markup', () => {
    for (const bad of ['<a><b></a></b>', '<a>x < y</a>', '<a t="<"/>', '<a>&nope;</a>', '<a t=x/>', '<a/><b/>', '<a>\u0000</a>', '<a x="1" x="2"/>', '<a>']) {
      expect(() => parseXml(bad), bad).toThrow();
    }
    expect(parseXml('<a t="&lt;&#39;"><b>&amp;</b></a>').map((e) => [e.name, e.attrs.t, e.text])).toEqual([['a', "<'", ''], ['b', undefined, '&']]);
  });

  it('draws each step with the actor it invokes and the actor its undo runs', () => {
    const svg = renderSvg(build);
    const lock = svg.slice(svg.indexOf('data-state="build.lock"'));
    const box = lock.slice(0, lock.indexOf('</g>'));
    expect(box).toContain('data-undo="build.compensating.undo_lock"');
    expect(box).toContain('⟲ releaseDeployLock');
  });

  it('marks the state that runs a child saga, and its undo, with the child\'s step and machine, a badge and a tooltip', () => {
    const els = parseXml(renderSvg(build));
    const children = stateEls(els).filter((e) => classesOf(e).includes('jsg-child'));
    expect(children.map((e) => [e.attrs['data-state'], e.attrs['data-child-step'], e.attrs['data-child-machine']])).toEqual([
      ['build.prepare.config.addons.running', 'addons', 'postgres-addon'],
      ['build.compensating.undo_addons', 'addons', 'postgres-addon'],
    ]);
    const inside = (g: XmlElement, name: string): XmlElement[] => els.filter((e) => e.name === name && e.parent === g);
    const [runs, undoes] = children as [XmlElement, XmlElement];
    expect(inside(runs, 'title')[0]!.text).toBe('build.prepare.config.addons.running\nruns a child saga of postgres-addon');
    expect(inside(undoes, 'title')[0]!.text).toMatch(/\ncompensates a child saga of postgres-addon$/);
    const badge = inside(runs, 'g').find((e) => e.attrs.class === 'jsg-child-badge')!;
    expect(inside(badge, 'text')[0]!.text).toBe('↳');
    // Inside the state's box.
    const box = inside(runs, 'rect')[0]!.attrs;
    const mark = inside(badge, 'rect')[0]!.attrs;
    expect(Number(mark.x) + Number(mark.width)).toBeLessThanOrEqual(Number(box.x) + Number(box.width));
    expect(Number(mark.y)).toBeGreaterThanOrEqual(Number(box.y));
    // A machine without child steps has none.
    expect(stateEls(parseXml(renderSvg(gadget))).some((e) => classesOf(e).includes('jsg-child'))).toBe(false);
  });

  it('leaves the stylesheet out on request', () => {
    expect(renderSvg(gadget)).toContain('<style>');
    const bare = renderSvg(gadget, { style: false });
    expect(bare).not.toContain('<style>');
    parseXml(bare);
  });
});
