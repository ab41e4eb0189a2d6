/**
 * Nested sagas, purely: the child id is a function of the parent and the step; a nestable
 * machine run as a child waits in `succeeded` for its parent's release or compensation, and
 * run on its own completes as before; a parent undoes its children in reverse order; a child's
 * CHILD_BLOCKED undo blocks the parent with a pointer to the child; the registry refuses child
 * steps it cannot run. Then the same on a runtime over memory stores: a parent handed back
 * mid-child and resumed attaches to the child it started.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CHILD_UNDO_SRC, childSrc, defineSaga, HELD_STATE, SagaEventType, type SagaContext } from '../../machines/kit/index.js';
import { isValidSagaId } from '../../src/journal/saga-id.js';
import { childSagaId } from '../../src/runtime/child-id.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import { MachineRegistry } from '../../src/runtime/registry.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { memoryStores } from '../../src/runtime/stores.js';
import { leafMachine, nestBindings, NestControls, treeMachine, type TreeInput } from '../fixtures/nest-saga.js';
import { Driver } from '../helpers/saga-driver.js';
import { until } from '../helpers/until.js';

const TREE: TreeInput = { a: { tag: 'a' }, b: { tag: 'b' } };
const asChild = (input: unknown, sagaId = 'p1', step = 'first'): unknown => ({ $parent: { sagaId, step }, input });

describe('child saga ids', () => {
  it('are the same for the same parent and step, and differ otherwise', () => {
    expect(childSagaId('p1', 'first')).toBe(childSagaId('p1', 'first'));
    expect(childSagaId('p1', 'first')).not.toBe(childSagaId('p1', 'second'));
    expect(childSagaId('p1', 'first')).not.toBe(childSagaId('p2', 'first'));
    // Spelt alike, still apart.
    expect(childSagaId('a-b', 'c')).not.toBe(childSagaId('a', 'b-c'));
    expect(childSagaId('p1', 'first')).toMatch(/^p1-first-[0-9a-f]{10}$/);
  });

  it('are valid saga ids, also under the longest parent ids and for grandchildren', () => {
    const long = 'x'.repeat(128);
    const child = childSagaId(long, 's'.repeat(64));
    expect(child.length).toBeLessThanOrEqual(128);
    expect(isValidSagaId(child)).toBe(true);
    expect(childSagaId(long, 'a')).not.toBe(childSagaId(long, 'b'));
    expect(isValidSagaId(childSagaId(child, 'deeper'))).toBe(true);
  });
});

describe('a nestable machine', () => {
  it('run as a child: waits in succeeded (status running) with its output, then completes on saga.release', () => {
    const d = new Driver(leafMachine, asChild({ tag: 'a' }));
    expect(d.ctx.parent).toEqual({ sagaId: 'p1', step: 'first' });
    expect(d.ctx.input).toEqual({ tag: 'a' });
    d.done('work', { did: 'a' });
    expect(d.snapshot.value).toBe(HELD_STATE);
    expect(d.status).toBe('running');
    expect(d.snapshot.status).toBe('active');
    d.send({ type: SagaEventType.Release });
    expect(d.snapshot.value).toBe('completed');
    expect(d.status).toBe('completed');
    expect(d.snapshot.output).toMatchObject({ outputs: { work: { did: 'a' } }, error: null });
  });

  it('run as a child: saga.compensate in succeeded undoes its steps and ends compensated', () => {
    const d = new Driver(leafMachine, asChild({ tag: 'a' }));
    d.done('work', { did: 'a' }).send({ type: SagaEventType.Compensate });
    expect(d.status).toBe('compensating');
    expect(d.spawns()).toEqual([{ id: 'undo.work', src: 'unwork', input: { input: { tag: 'a' }, output: { did: 'a' } } }]);
    d.done('undo.work', null);
    expect(d.status).toBe('compensated');
    expect(d.ctx.error).toMatchObject({ code: 'PARENT_COMPENSATING' });
  });

  it('run as a child: saga.compensate while a step runs compensates it too', () => {
    const d = new Driver(leafMachine, asChild({ tag: 'a' }));
    d.send({ type: SagaEventType.Compensate });
    expect(d.status).toBe('compensating');
    d.done('undo.work', null);
    expect(d.status).toBe('compensated');
  });

  it('run on its own: completes as any saga, its context as it always was', () => {
    const d = new Driver(leafMachine, { tag: 'a' });
    d.done('work', { did: 'a' });
    expect(d.status).toBe('completed');
    expect('parent' in d.ctx).toBe(false);
  });

  it('other machines ignore a child envelope: their context is their input as given', () => {
    const plain = defineSaga({ id: 'plain', steps: [{ name: 'a', run: 'a' }] });
    const d = new Driver(plain, asChild({ tag: 'a' }));
    expect(d.ctx.input).toEqual(asChild({ tag: 'a' }));
    expect('parent' in d.ctx).toBe(false);
    expect(plain.root.states[HELD_STATE]).toBeUndefined();
  });
});

describe('a parent with child steps', () => {
  it('invokes the host child step with the machine, the step and the child input', () => {
    const d = new Driver(treeMachine, TREE);
    expect(d.spawns()).toEqual([{ id: 'first', src: childSrc('leaf'), input: { machine: 'leaf', step: 'first', input: { tag: 'a' } } }]);
    d.done('first', { sagaId: 'c1', outputs: {} });
    expect(d.spawns()).toEqual([{ id: 'second', src: childSrc('leaf'), input: { machine: 'leaf', step: 'second', input: { tag: 'b' } } }]);
  });

  it('undoes its children in reverse order when a later step fails', () => {
    const d = new Driver(treeMachine, { ...TREE, failFinish: true });
    d.done('first', { sagaId: 'c1' }).done('second', { sagaId: 'c2' });
    d.fail('finish', { code: 'REFUSED', message: 'no', retryable: false });
    const undos: unknown[] = [];
    for (let i = 0; i < 3 && d.spawns().length > 0; i++) {
      const [spawn] = d.spawns();
      undos.push({ src: spawn!.src, input: spawn!.input });
      d.done(spawn!.id, { sagaId: 'x', status: 'compensated' });
    }
    expect(undos).toEqual([
      { src: CHILD_UNDO_SRC, input: { machine: 'leaf', step: 'second', input: { tag: 'b' }, output: { sagaId: 'c2' } } },
      { src: CHILD_UNDO_SRC, input: { machine: 'leaf', step: 'first', input: { tag: 'a' }, output: { sagaId: 'c1' } } },
    ]);
    expect(d.status).toBe('compensated');
  });

  it('is blocked, pointing at the child, when the undo of a blocked child fails', () => {
    const d = new Driver(treeMachine, { ...TREE, failFinish: true });
    d.done('first', { sagaId: 'c1' }).done('second', { sagaId: 'c2' });
    d.fail('finish', { code: 'REFUSED', message: 'no', retryable: false });
    d.fail('undo.second', { code: 'CHILD_BLOCKED', message: 'child c2 is blocked', retryable: false, details: { child: 'c2', step: 'second' } });
    expect(d.status).toBe('blocked');
    expect((d.ctx as SagaContext).undoError).toMatchObject({ step: 'second', code: 'CHILD_BLOCKED', details: { child: 'c2' } });
    // Once the child is resolved, a retry of the parent undoes it again and goes on.
    d.send({ type: SagaEventType.Retry });
    expect(d.spawns().map((s) => s.src)).toEqual([CHILD_UNDO_SRC]);
  });

  it('refuses child steps without an undo of their own, or optional', () => {
    expect(() => defineSaga({ id: 'p', steps: [{ name: 'c', child: 'leaf', undo: 'x' }] })).toThrow(/undo is implicit/);
    expect(() => defineSaga({ id: 'p', steps: [{ name: 'c', child: 'leaf', optional: true }] })).toThrow(/cannot be optional/);
    expect(() => defineSaga({ id: 'p', steps: [{ name: 'c', child: 'leaf', run: 'r' }] })).toThrow(/both run and child/);
  });
});

describe('the registry', () => {
  const controls = new NestControls();
  it('runs child steps itself, but only of registered nestable machines', () => {
    expect(() => new MachineRegistry(nestBindings(controls))).not.toThrow();
    const [, tree] = nestBindings(controls);
    expect(() => new MachineRegistry([tree!])).toThrow(/child machine "leaf" is not registered here/);
    const flat = defineSaga({ id: 'leaf', steps: [{ name: 'work', run: 'work' }] });
    expect(() => new MachineRegistry([tree!, { id: 'leaf', version: 1, machine: flat, steps: { work: () => null } }])).toThrow(/is not nestable/);
  });
});

describe('on a runtime (memory stores)', () => {
  const runtimes: Runtime[] = [];
  afterEach(async () => {
    await Promise.all(runtimes.splice(0).map((r) => r.close()));
  });
  const open = async (stores: ReturnType<typeof memoryStores>, controls: NestControls): Promise<Runtime> => {
    const rt = await createRuntime({ stores, owner: 'unit', machines: nestBindings(controls), recoverOnStart: false, recoverIntervalMs: 0, checkpointIdleMs: 0 });
    runtimes.push(rt);
    return rt;
  };

  it('a parent resumed after its copy was handed back mid-child attaches to the child it started', async () => {
    const stores = memoryStores();
    const close = stores.close;
    // The stores outlive the first runtime, as NATS would.
    const shared = { ...stores, close: async () => undefined };
    const controls = new NestControls();
    controls.hold('a');
    const first = await open(shared, controls);
    await first.start('tree', TREE, { id: 'p1' });
    const childId = childSagaId('p1', 'first');
    await until(async () => (await first.get(childId).catch(() => undefined))?.status === 'running', 5_000, 'the child to start');
    await first.close();
    runtimes.splice(runtimes.indexOf(first), 1);
    expect(controls.of('work', 'a').map((c) => c.outcome)).toEqual(['aborted']);

    controls.open('a');
    const second = await open(shared, controls);
    await second.recover();
    const done = await second.wait('p1', { timeoutMs: 10_000 });
    expect(done.status).toBe('completed');
    // One child per step: the same id, whose work ran to completion once after the resume.
    const { sagas } = await second.list();
    expect(sagas.map((s) => s.id).sort()).toEqual(['p1', childSagaId('p1', 'first'), childSagaId('p1', 'second')].sort());
    expect(controls.of('work', 'a').map((c) => c.outcome)).toEqual(['aborted', 'ok']);
    await until(async () => (await second.get(childId)).status === 'completed', 5_000, 'the child to be released');
    expect((await second.get(childId)).parent).toEqual({ sagaId: 'p1', step: 'first' });
    await close?.();
  });

  it('a recovery pass releases a held child whose parent is gone, and keeps one whose parent lives', async () => {
    const controls = new NestControls();
    const rt = await open(memoryStores(), controls);
    // A child whose parent is gone (its release was lost with it): held until a recovery pass.
    await rt.start('leaf', asChild({ tag: 'g' }, 'ghost', 'x'), { id: 'orphan' });
    await until(async () => (await rt.get('orphan')).state === HELD_STATE, 5_000, 'the orphan to be held');
    // A child whose parent lives: its second child is held at work.
    controls.hold('b');
    await rt.start('tree', TREE, { id: 'p2' });
    await until(async () => (await rt.get(childSagaId('p2', 'first')).catch(() => undefined))?.state === HELD_STATE, 5_000, 'the first child to be held');

    await rt.recover();
    expect((await rt.wait('orphan', { timeoutMs: 5_000 })).status).toBe('completed');
    expect((await rt.get(childSagaId('p2', 'first'))).state).toBe(HELD_STATE);
    controls.open('b');
    expect((await rt.wait('p2', { timeoutMs: 5_000 })).status).toBe('completed');
    expect((await rt.wait(childSagaId('p2', 'first'), { timeoutMs: 5_000 })).status).toBe('completed');
  });

  it('a child that fails fails its step (CHILD_FAILED): the parent compensates, the child is not undone twice', async () => {
    const controls = new NestControls();
    const rt = await open(memoryStores(), controls);
    await rt.start('tree', { a: { tag: 'a' }, b: { tag: 'b', failWork: true } }, { id: 'p3' });
    const done = await rt.wait('p3', { timeoutMs: 5_000 });
    expect(done.status).toBe('compensated');
    expect((done.context as SagaContext).error).toMatchObject({ step: 'second', code: 'CHILD_FAILED', retryable: false, details: { child: childSagaId('p3', 'second'), status: 'compensated' } });
    // b's work never applied, so nothing of b is undone; a's is, once.
    expect(controls.of('unwork').map((c) => c.tag)).toEqual(['b', 'a']);
    expect((await rt.get(childSagaId('p3', 'first'))).status).toBe('compensated');
  });

  it('a parent cancelled mid-child compensates the running child', async () => {
    const controls = new NestControls();
    controls.hold('b');
    const rt = await open(memoryStores(), controls);
    await rt.start('tree', TREE, { id: 'p4' });
    const childB = childSagaId('p4', 'second');
    await until(async () => ((await rt.get(childB).catch(() => undefined))?.pending.length ?? 0) > 0, 5_000, "b's work to start");
    await rt.send('p4', { type: SagaEventType.Cancel });
    expect((await rt.wait('p4', { timeoutMs: 5_000 })).status).toBe('cancelled');
    expect(await rt.get(childB)).toMatchObject({ status: 'compensated', parent: { sagaId: 'p4', step: 'second' } });
    expect((await rt.get(childSagaId('p4', 'first'))).status).toBe('compensated');
    expect(controls.of('work', 'b').map((c) => c.outcome)).toEqual(['aborted']);
    expect(controls.of('unwork').map((c) => c.tag)).toEqual(['b', 'a']);
  });
});
