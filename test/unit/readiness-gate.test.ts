/**
 * Sagas that wait for a boot dependency: `needs` in defineSaga + the runtime's readiness gate,
 * on memory stores with a real BootGraph as the readiness source.
 */
import { initialTransition, transition, type AnyEventObject } from 'xstate';
import { afterEach, describe, expect, it } from 'vitest';
import { awaitsTag, defineSaga } from '../../machines/kit/index.js';
import { BootGraph } from '../../src/boot/boot-graph.js';
import { DependencyUnavailableError } from '../../src/errors.js';
import { Runtime } from '../../src/runtime/runtime.js';
import { memoryStores, type RuntimeStores } from '../../src/runtime/stores.js';
import { pushBinding, pushMachine } from '../fixtures/push-saga.js';
import { until } from '../helpers/until.js';


const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const x of open.splice(0).reverse()) await x.close();
});

function registryGraph(up: { value: boolean }): BootGraph {
  const graph = new BootGraph([
    { name: 'registry', retry: { initialDelayMs: 5, maxDelayMs: 10 }, check: () => {
      if (!up.value) throw new Error('registry down');
    } },
  ]);
  open.push({ close: () => graph.stop() });
  return graph;
}

async function runtimeOn(stores: RuntimeStores, graph: BootGraph | undefined, binding = pushBinding(), owner = 'c1'): Promise<Runtime> {
  const rt = await new Runtime({ stores, machines: [binding], owner, readiness: graph, recoverIntervalMs: 0 }).open();
  open.push({ close: () => rt.close() });
  return rt;
}

const eventTypes = async (rt: Runtime, id: string): Promise<string[]> => (await rt.events(id)).map((e) => e.event?.type ?? (e.init ? 'init' : 'takeover'));

describe('needs (pure machine)', () => {
  it('waits in a tagged state before each attempt and goes on only for its own dependency', () => {
    let [s] = initialTransition(pushMachine, {});
    [s] = transition(pushMachine, s, { type: 'xstate.done.actor.prepare', output: 1 } as AnyEventObject);
    expect(s.value).toEqual({ push: 'await_registry' });
    expect(s.hasTag(awaitsTag('registry'))).toBe(true);
    const [same] = transition(pushMachine, s, { type: 'boot.ready', dependency: 'builder' });
    expect(same.value).toEqual({ push: 'await_registry' });
    const [next, actions] = transition(pushMachine, s, { type: 'boot.ready', dependency: 'registry' });
    expect(next.value).toEqual({ push: 'running' });
    expect(actions.some((a) => a.type === 'xstate.spawnChild')).toBe(true);
  });

  it('goes back to waiting on DEPENDENCY_UNAVAILABLE, counting the attempt', () => {
    let [s] = initialTransition(pushMachine, {});
    [s] = transition(pushMachine, s, { type: 'xstate.done.actor.prepare', output: 1 } as AnyEventObject);
    [s] = transition(pushMachine, s, { type: 'boot.ready', dependency: 'registry' });
    const error = new DependencyUnavailableError('registry', 'connection refused').toJSON();
    [s] = transition(pushMachine, s, { type: 'xstate.error.actor.push', error } as AnyEventObject);
    expect(s.value).toEqual({ push: 'await_registry' });
    expect((s.context as { attempts: Record<string, number> }).attempts.push).toBe(1);
  });

  it('refuses bad dependency names', () => {
    expect(() => defineSaga({ id: 'x', steps: [{ name: 'a', run: 'a', needs: ['Bad Name'] }] })).toThrow(/needed dependency/);
    expect(() => defineSaga({ id: 'x', steps: [{ name: 'a', run: 'a', needs: ['r', 'r'] }] })).toThrow(/twice/);
  });
});

describe('readiness gate', () => {
  it('delivers readiness at once when the dependency is ready, journaled as an input', async () => {
    const graph = registryGraph({ value: true });
    await graph.start();
    const rt = await runtimeOn(memoryStores(), graph);
    await rt.start('push', {}, { id: 'p1' });
    expect((await rt.wait('p1')).status).toBe('completed');
    const types = await eventTypes(rt, 'p1');
    expect(types).toEqual(['init', 'xstate.done.actor.prepare', 'boot.ready', 'xstate.done.actor.push', 'xstate.done.actor.activate']);
  });

  it('without a readiness source every dependency counts as ready', async () => {
    const rt = await runtimeOn(memoryStores(), undefined);
    await rt.start('push', {}, { id: 'p2' });
    expect((await rt.wait('p2')).status).toBe('completed');
  });

  it('parks a saga while the dependency is down and resumes it when it comes up', async () => {
    const up = { value: false };
    const graph = registryGraph(up);
    void graph.start();
    let pushes = 0;
    const rt = await runtimeOn(memoryStores(), graph, pushBinding({ push: () => ({ pushed: ++pushes }) }));
    await rt.start('push', {}, { id: 'p3' });
    await until(async () => JSON.stringify((await rt.get('p3')).state) === JSON.stringify({ push: 'await_registry' }));
    await new Promise((r) => setTimeout(r, 50));
    expect(pushes).toBe(0);
    expect((await rt.get('p3')).status).toBe('running');
    up.value = true;
    expect((await rt.wait('p3')).status).toBe('completed');
    expect(pushes).toBe(1);
    expect((await eventTypes(rt, 'p3')).filter((t) => t === 'boot.ready')).toHaveLength(1);
  });

  it('a step reporting the dependency unavailable marks it lost and waits instead of burning retries', async () => {
    const up = { value: true };
    const graph = registryGraph(up);
    await graph.start();
    let calls = 0;
    const push = (): unknown => {
      calls++;
      if (calls === 1) {
        up.value = false; // the registry went away between its last check and the push
        throw new DependencyUnavailableError('registry', 'ECONNREFUSED');
      }
      return { pushed: true };
    };
    const rt = await runtimeOn(memoryStores(), graph, pushBinding({ push }));
    await rt.start('push', {}, { id: 'p4' });
    await until(async () => (await eventTypes(rt, 'p4')).includes('xstate.error.actor.push'));
    await until(() => graph.status('registry').failures >= 2);
    expect(graph.isReady('registry')).toBe(false);
    expect(calls).toBe(1);
    up.value = true;
    expect((await rt.wait('p4')).status).toBe('completed');
    expect(calls).toBe(2);
    expect((await eventTypes(rt, 'p4')).filter((t) => t === 'boot.ready')).toHaveLength(2);
  });

  it('a saga recovered while waiting parks again and replays without asking the graph', async () => {
    const stores = memoryStores();
    const up = { value: false };
    const graph = registryGraph(up);
    void graph.start();
    const first = await runtimeOn({ ...stores, close: async () => undefined }, graph, pushBinding(), 'c1');
    await first.start('push', {}, { id: 'p5' });
    await until(async () => JSON.stringify((await first.get('p5')).state) === JSON.stringify({ push: 'await_registry' }));
    await first.close({ graceful: false });

    let pushes = 0;
    const second = await runtimeOn(stores, graph, pushBinding({ push: () => ({ n: ++pushes }) }), 'c1');
    await until(async () => second.loadedSagaIds().includes('p5'));
    await new Promise((r) => setTimeout(r, 30));
    expect(pushes).toBe(0);
    up.value = true;
    expect((await second.wait('p5')).status).toBe('completed');
    expect(pushes).toBe(1);
  });
});
