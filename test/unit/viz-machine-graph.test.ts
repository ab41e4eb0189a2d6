/**
 * The chart data of a machine: every state and every transition of the build saga, checked
 * against an enumeration made another way (the machine's JSON `definition`, which XState
 * builds separately and which lacks `always`, plus the `always` entries of the raw config),
 * and every kind of transition on a small machine made to use them all.
 */
import { describe, expect, it } from 'vitest';
import type { AnyStateMachine } from 'xstate';
import { buildMachine } from '../../machines/build.machine.js';
import { machineGraph } from '../../src/viz/machine-graph.js';
import type { GraphEdge, MachineGraph } from '../../src/viz/graph-types.js';
import { gadgetMachine } from '../fixtures/viz-gadget.js';

interface DefState {
  id: string;
  key: string;
  type: string;
  tags: string[];
  initial?: { target: string[] };
  invoke: Array<{ id: string; src: string }>;
  transitions: Array<{ eventType: string; target?: string[]; guard?: unknown; delay?: unknown; reenter?: boolean }>;
  states: Record<string, DefState>;
}

interface ConfigState {
  always?: unknown;
  states?: Record<string, ConfigState>;
}

/** Every state of the definition in its JSON form (targets as `#id`), pre-order. */
function defStates(machine: AnyStateMachine): DefState[] {
  const out: DefState[] = [];
  const visit = (s: DefState): void => {
    out.push(s);
    for (const c of Object.values(s.states)) visit(c);
  };
  visit(JSON.parse(JSON.stringify(machine.definition)) as DefState);
  return out;
}

const guardName = (g: unknown): string | null => (g === undefined ? null : typeof g === 'string' ? g : (g as { type: string }).type);
const stripHash = (t: string): string => t.replace(/^#/, '');

/** `always` transitions from the raw config, targets resolved as XState does (`#id`, else a sibling). */
function configAlways(machine: AnyStateMachine): Array<{ source: string; targets: string[]; guard: string | null }> {
  const out: Array<{ source: string; targets: string[]; guard: string | null }> = [];
  const visit = (s: ConfigState, id: string, parent: string | null): void => {
    const list = s.always === undefined ? [] : Array.isArray(s.always) ? s.always : [s.always];
    for (const t of list as Array<{ target: string; guard?: unknown }>) {
      const target = t.target.startsWith('#') ? stripHash(t.target) : `${parent}.${t.target}`;
      out.push({ source: id, targets: [target], guard: guardName(t.guard) });
    }
    for (const [key, c] of Object.entries(s.states ?? {})) visit(c, `${id}.${key}`, id);
  };
  visit(machine.config as ConfigState, machine.id, null);
  return out;
}

const edgeKey = (e: { source: string; event: string | null; targets: readonly string[]; guard: string | null }): string =>
  `${e.source} | ${e.event ?? 'always'} | ${e.targets.join(',')} | ${e.guard ?? ''}`;
const graphKey = (e: GraphEdge): string => edgeKey({ source: e.source, event: e.event, targets: e.targets, guard: e.guard?.text ?? null });
const edgesFrom = (g: MachineGraph, source: string): GraphEdge[] => g.edges.filter((e) => e.source === source);

describe('machineGraph of the build saga', () => {
  const g = machineGraph(buildMachine);
  const defs = defStates(buildMachine);

  it('has every state node, with its type, parent, initial child, tags and invocations', () => {
    expect(g.id).toBe('build');
    expect(g.nodes.map((n) => n.id)).toEqual(defs.map((d) => d.id));
    for (const d of defs) {
      const n = g.nodes.find((x) => x.id === d.id)!;
      expect(n.key).toBe(d.key);
      expect(n.type).toBe(d.type);
      expect(n.tags).toEqual(d.tags);
      expect(n.invocations).toEqual(d.invoke.map((i) => ({ id: i.id, src: i.src })));
      expect(n.children).toEqual(Object.values(d.states).map((c) => c.id));
      for (const c of n.children) expect(g.nodes.find((x) => x.id === c)!.parent).toBe(n.id);
      expect(n.initial).toBe(d.type === 'compound' ? stripHash(d.initial!.target[0]!) : null);
    }
    expect(g.nodes[0]!.parent).toBeNull();
    expect(g.description).toMatch(/OCI image/);
  });

  it('has every transition of the definition, and the always transitions it leaves out', () => {
    const expected = [
      ...defs.flatMap((d) => d.transitions.map((t) => edgeKey({ source: d.id, event: t.eventType, targets: (t.target ?? []).map(stripHash), guard: guardName(t.guard) }))),
      ...configAlways(buildMachine).map((a) => edgeKey({ ...a, event: null })),
    ];
    expect(g.edges.map(graphKey).sort()).toEqual(expected.sort());
    expect(new Set(g.edges.map((e) => e.id)).size).toBe(g.edges.length);
  });

  it('draws compensation: next’s always edges, the backoff’s after edge, each undo’s done/error', () => {
    const next = edgesFrom(g, 'build.compensating.next');
    expect(next.every((e) => e.kind === 'always' && e.event === null)).toBe(true);
    expect(next.map((e) => e.label).slice(0, 3)).toEqual(['always [cancelledAndDone]', 'always [stackEmpty]', 'always [topIs(step: allocate)]']);
    expect(next.map((e) => e.targets[0])).toEqual([
      'build.cancelled',
      'build.compensated',
      ...g.undoLinks.map((l) => l.undoState),
    ]);
    expect(edgesFrom(g, 'build.compensating.backoff')).toMatchObject([{ kind: 'after', delay: 'retry.undo', label: 'after retry.undo', targets: ['build.compensating.next'] }]);
    expect(edgesFrom(g, 'build.compensating.undo_lock').map((e) => [e.kind, e.label, e.invocation, e.targets[0]])).toEqual([
      ['invoke.done', 'done: undo.lock', 'undo.lock', 'build.compensating.next'],
      ['invoke.error', 'error: undo.lock [canRetryUndo]', 'undo.lock', 'build.compensating.backoff'],
      ['invoke.error', 'error: undo.lock', 'undo.lock', 'build.blocked'],
    ]);
  });

  it('draws every step’s retry backoff as an after edge with its named delay', () => {
    const waiting = g.nodes.filter((n) => n.key === 'waiting');
    expect(waiting).toHaveLength(17);
    for (const w of waiting) {
      const step = w.parent!.split('.').at(-1)!;
      const [after, ...rest] = edgesFrom(g, w.id);
      expect(rest).toEqual([]);
      expect(after).toMatchObject({ kind: 'after', delay: `retry.${step}`, label: `after retry.${step}`, internal: false });
    }
  });

  it('draws the parallel prepare: regions image and config, each ending in a final done', () => {
    const prepare = g.nodes.find((n) => n.id === 'build.prepare')!;
    expect(prepare.type).toBe('parallel');
    expect(prepare.initial).toBeNull();
    expect(prepare.children).toEqual(['build.prepare.image', 'build.prepare.config']);
    for (const region of prepare.children) {
      const r = g.nodes.find((n) => n.id === region)!;
      expect(r.type).toBe('compound');
      expect(r.children.at(-1)).toBe(`${region}.done`);
      expect(g.nodes.find((n) => n.id === `${region}.done`)!.type).toBe('final');
    }
    expect(edgesFrom(g, 'build.prepare')).toMatchObject([{ kind: 'state.done', label: 'done', targets: ['build.version'] }]);
    expect(edgesFrom(g, 'build.prepare.image.push.running')[0]).toMatchObject({ kind: 'invoke.done', targets: ['build.prepare.image.done'] });
  });

  it('marks the states that wait for a boot dependency by their awaits: tag, each leaving on boot.ready', () => {
    const awaiting = g.nodes.filter((n) => n.tags.some((t) => t.startsWith('awaits:')));
    expect(awaiting.map((n) => [n.id, n.tags])).toEqual([
      ['build.prepare.image.image.await_registry', ['awaits:registry']],
      ['build.prepare.image.push.await_registry', ['awaits:registry']],
      ['build.start.await_registry', ['awaits:registry']],
    ]);
    for (const n of awaiting) {
      expect(edgesFrom(g, n.id)).toMatchObject([{ kind: 'event', event: 'boot.ready', label: 'boot.ready [readyFor(dependency: registry)]', guard: { text: 'readyFor', params: 'dependency: registry' } }]);
    }
  });

  it('relates each step with an undo to the state that undoes it', () => {
    // The steps with an undo, independently: the undo_* states of the definition.
    const undoStates = defs.filter((d) => d.id.startsWith('build.compensating.undo_'));
    expect(g.undoLinks.map((l) => l.undoState).sort()).toEqual(undoStates.map((d) => d.id).sort());
    expect(g.undoLinks.map((l) => l.step)).toEqual(['allocate', 'receive', 'lock', 'image', 'push', 'addons', 'configVersion', 'version', 'start', 'activate', 'stopOld']);
    for (const link of g.undoLinks) {
      const def = undoStates.find((d) => d.id === link.undoState)!;
      expect(def.invoke).toMatchObject([{ id: `undo.${link.step}`, src: link.undoSrc }]);
      expect(link.undoInvocation).toBe(`undo.${link.step}`);
      const stepState = g.nodes.find((n) => n.id === link.stepState)!;
      expect(stepState.key).toBe(link.step);
      expect(stepState.undo).toBe(link.undoState);
      expect(stepState.undoSrc).toBe(link.undoSrc);
      expect(g.nodes.find((n) => n.id === link.undoState)!.undoes).toBe(link.stepState);
      // The step state runs the step (from its `running` child).
      expect(g.nodes.find((n) => n.id === `${link.stepState}.running`)!.invocations[0]!.id).toBe(link.step);
    }
    expect(g.nodes.find((n) => n.id === 'build.appConfig')!.undo).toBeUndefined();
    expect(g.undoLinks.find((l) => l.step === 'image')!.stepState).toBe('build.prepare.image.image');
  });

  it('is plain JSON and the same on every call', () => {
    expect(JSON.parse(JSON.stringify(g))).toEqual(g);
    expect(JSON.stringify(machineGraph(buildMachine))).toBe(JSON.stringify(g));
  });
});

describe('machineGraph of every kind of transition', () => {
  const g = machineGraph(gadgetMachine);
  const byEvent = (source: string, event: string | null): GraphEdge => g.edges.find((e) => e.source === source && e.event === event)!;

  it('names events, guards and delays as a chart shows them', () => {
    expect(edgesFrom(g, 'gadget.idle').map((e) => e.label)).toEqual([
      'GO [and(ok, not(stateIn(#gadget.busy)))]',
      'PING',
      'RESET',
      'evt.*',
      'SPLIT',
      'after 30s',
      'after slow',
    ]);
    expect(byEvent('gadget', '*')).toMatchObject({ kind: 'event', targets: ['gadget.idle'] });
    expect(edgesFrom(g, 'gadget.busy').map((e) => [e.kind, e.label])).toEqual([
      ['invoke.done', 'done: w'],
      ['invoke.error', 'error: w [inline]'],
      ['always', 'always [big(n: 3)]'],
    ]);
    expect(edgesFrom(g, 'gadget.idle').filter((e) => e.kind === 'after').map((e) => e.delay)).toEqual([30000, 'slow']);
    expect(byEvent('gadget.both', 'xstate.done.state.gadget.both')).toMatchObject({ kind: 'state.done', label: 'done', targets: ['gadget.done'] });
  });

  it('marks targetless transitions internal, self transitions with their reenter flag, and keeps every target', () => {
    expect(byEvent('gadget.idle', 'PING')).toMatchObject({ targets: [], internal: true, self: false, reenter: false });
    expect(byEvent('gadget.idle', 'RESET')).toMatchObject({ targets: ['gadget.idle'], internal: false, self: true, reenter: true });
    expect(byEvent('gadget.idle', 'SPLIT').targets).toEqual(['gadget.both.left.l2', 'gadget.both.right.r2']);
  });

  it('describes history, final and tagged states, and has no undo links outside kit sagas', () => {
    expect(g.nodes.find((n) => n.id === 'gadget.both.right.hist')).toMatchObject({ type: 'history', history: 'deep' });
    expect(g.nodes.find((n) => n.id === 'gadget.done')).toMatchObject({ type: 'final', tags: ['finished'] });
    expect(g.nodes.find((n) => n.id === 'gadget.idle')!.description).toBe('waits for GO');
    expect(g.undoLinks).toEqual([]);
  });
});
