/**
 * The visualizer's server with nested sagas (test/fixtures/nest-saga.ts: `tree` runs two `leaf`
 * children, then `finish`) on a real nats-server and an in-process Coordinator: a parent's
 * detail lists its children by step with their status, a child's names its parent and step,
 * list rows name a child's parent, the chart marks the states that run (and undo) a child, the
 * event stream follows the parent to its end, and a child's bundle opened offline still names
 * its parent. No browser.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportBundle } from '../../src/runtime/replay.js';
import { childSagaId } from '../../src/runtime/child-id.js';
import type { BundleOpened, MachineChart, SagaDetail, SagaList } from '../../src/ui/api-types.js';
import { startUiServer } from '../../src/ui/server/server.js';
import { leafMachine, nestBindings, NestControls, treeMachine, type TreeInput } from '../fixtures/nest-saga.js';
import { startUiLive, type UiLive } from '../helpers/ui-live.js';
import { until } from '../helpers/until.js';

const controls = new NestControls();
const TREE: TreeInput = { a: { tag: 'a' }, b: { tag: 'b' } };
const parent = `tree-${process.pid}`;
const first = childSagaId(parent, 'first');
const second = childSagaId(parent, 'second');

let live: UiLive;

beforeAll(async () => {
  live = await startUiLive({ namespace: `uin${process.pid}`, machines: nestBindings(controls), owner: 'ui-n' });
  // The second child holds in its work: the parent waits in its `second` step.
  controls.hold('b');
  await live.coordinator.runtime.start('tree', TREE, { id: parent });
  await until(async () => (await live.client.getSaga(second).catch(() => null))?.pending.some((p) => p.id === 'work') ?? false, 30_000, 'the second child at work');
}, 120_000);

afterAll(async () => {
  controls.open('b');
  await live?.close();
});

describe('a parent and its child sagas', () => {
  it("the parent's detail lists its children by step with their status; a child's names its parent and the step", async () => {
    const d = await live.ok<SagaDetail>(`/api/sagas/${parent}`);
    expect(d).toMatchObject({ id: parent, machine: 'tree', status: 'running', parent: null });
    expect(d.active).toContain('tree.second.running');
    expect(d.children).toEqual([
      // Done, held until its parent ends.
      { sagaId: first, step: 'first', machine: 'leaf', status: 'running' },
      { sagaId: second, step: 'second', machine: 'leaf', status: 'running' },
    ]);
    const child = await live.ok<SagaDetail>(`/api/sagas/${second}`);
    expect(child).toMatchObject({ id: second, machine: 'leaf', status: 'running', parent: { sagaId: parent, step: 'second' }, children: [] });
    expect(child.pending.map((p) => p.id)).toEqual(['work']);
    expect((await live.ok<SagaDetail>(`/api/sagas/${first}`)).parent).toEqual({ sagaId: parent, step: 'first' });
  });

  it("list rows name a child's parent, filtered by machine as any row", async () => {
    const { sagas } = await live.ok<SagaList>('/api/sagas');
    const parentOf = new Map(sagas.map((s) => [s.id, s.parentId]));
    expect([parentOf.get(parent), parentOf.get(first), parentOf.get(second)]).toEqual([null, parent, parent]);
    const leaves = await live.ok<SagaList>('/api/sagas?machine=leaf');
    expect(leaves.sagas.map((s) => [s.id, s.parentId]).sort()).toEqual([
      [first, parent],
      [second, parent],
    ].sort());
  });

  it('the chart marks the states that run a child saga and the undos that compensate one', async () => {
    const chart = await live.ok<MachineChart>('/api/machines/tree');
    const marks = [...chart.svg.matchAll(/data-state="([^"]+)"[^>]*data-child-step="([^"]+)" data-child-machine="([^"]+)"/g)].map((m) => m.slice(1));
    expect(marks).toEqual([
      ['tree.first.running', 'first', 'leaf'],
      ['tree.second.running', 'second', 'leaf'],
      ['tree.compensating.undo_first', 'first', 'leaf'],
      ['tree.compensating.undo_second', 'second', 'leaf'],
    ]);
    expect(chart.svg).toContain('runs a child saga of leaf');
    expect((await live.ok<MachineChart>('/api/machines/leaf')).svg).not.toContain('data-child-step');
  });

  it('the event stream follows the parent to its end, then to its children released', async () => {
    const stream = await live.openStream(`&saga=${parent}`);
    try {
      await stream.waitFor('the parent with its children', (e) => e.type === 'saga' && e.saga.id === parent && e.saga.children.length === 2);
      controls.open('b');
      await stream.waitFor('the parent completed', (e) => e.type === 'saga' && e.saga.id === parent && e.saga.status === 'completed');
      await stream.waitFor('the list with the children', (e) => e.type === 'sagas' && e.sagas.filter((s) => s.parentId === parent).length === 2);
      // Released after the parent's last entry: the parent's detail is sent again when they move.
      await stream.waitFor('the parent with its children released', (e) => e.type === 'saga' && e.saga.id === parent && e.saga.children.every((c) => c.status === 'completed'));
    } finally {
      await stream.close();
    }
    expect((await live.ok<SagaDetail>(`/api/sagas/${parent}`)).children.map((c) => [c.step, c.status])).toEqual([
      ['first', 'completed'],
      ['second', 'completed'],
    ]);
  });

  it("a child's bundle opened offline names its parent (its children are other journals: none listed)", async () => {
    const info = await live.client.getSaga(first);
    const bundle = exportBundle({ id: first, machine: info.machine, version: info.version }, (await live.client.sagaEvents(first)).events as never);
    const offline = await startUiServer({
      definitions: async () => [
        { id: 'leaf', version: 1, machine: leafMachine },
        { id: 'tree', version: 1, machine: treeMachine },
      ],
    });
    try {
      const r = await fetch(`http://127.0.0.1:${offline.port}/api/bundles`, { method: 'POST', body: JSON.stringify(bundle), headers: { 'X-Jetsaga-Token': offline.token } });
      expect(r.status).toBe(200);
      const opened = (await r.json()) as BundleOpened;
      expect(opened.saga).toMatchObject({ id: first, machine: 'leaf', parent: { sagaId: parent, step: 'first' }, children: [] });
    } finally {
      await offline.close();
    }
  });
});
