/**
 * The compensation plan of a kit saga at several points of a build, driven purely with
 * `transition()` as the host would: the undos that would run if it failed now (top of the
 * stack first, with the inputs they would receive), the one in flight or backing off while
 * compensating, the failed one with its error and the operator's choices when blocked.
 */
import { describe, expect, it } from 'vitest';
import { buildMachine } from '../../machines/build.machine.js';
import { defineSaga, SagaEventType } from '../../machines/kit/index.js';
import { compensationPlan, type CompensationPlan, type PlannedUndo } from '../../src/viz/compensation-plan.js';
import { machineGraph } from '../../src/viz/machine-graph.js';
import { Driver, refused, unavailable } from '../helpers/saga-driver.js';

const INPUT = { app: 'hello', source: { name: 'src-1' } };
const UNDOABLE = machineGraph(buildMachine).undoLinks.map((l) => l.step);

const planOf = (d: Driver, undone?: string[]): CompensationPlan =>
  compensationPlan({ value: d.snapshot.value, context: d.ctx }, { undoable: UNDOABLE, ...(undone ? { undone } : {}) });
const brief = (undos: readonly PlannedUndo[]): string[] => undos.map((u) => `${u.step}:${u.status}`);

/** A build held with lock, image and addons done and push waiting for the registry; procfile runs beside it. */
function buildAtPush(): Driver {
  const d = new Driver(buildMachine, INPUT);
  d.done('allocate', 7).done('receive', { dir: '/staging/1' }).done('lock', { holder: 'b1' });
  d.done('appConfig', { name: 'hello' }).done('stack', 'node').done('onbuild', { ran: 0 });
  d.send({ type: SagaEventType.Ready, dependency: 'registry' });
  d.done('addons', { outputs: { ready: { addons: [], unprovided: [] } } });
  d.done('image', { digest: 'sha256:img' });
  return d;
}

describe('compensationPlan of a build', () => {
  it('at the start: the allocation is stacked the moment it starts, so its undo would run', () => {
    const plan = planOf(new Driver(buildMachine, INPUT));
    expect(plan).toEqual({
      phase: 'running',
      cause: null,
      undos: [{ step: 'allocate', undo: 'undo.allocate', input: { input: { app: 'hello' }, output: null }, status: 'pending', attempts: 0, error: null }],
      actions: [],
    });
  });

  it('after lock and image: every started step with an undo, latest first, with the input its undo gets', () => {
    const d = buildAtPush();
    expect(d.snapshot.value).toMatchObject({ prepare: { image: { push: 'await_registry' } } });
    const plan = planOf(d);
    expect(plan.phase).toBe('running');
    expect(brief(plan.undos)).toEqual(['push:pending', 'addons:pending', 'image:pending', 'lock:pending', 'receive:pending', 'allocate:pending']);
    const byStep = Object.fromEntries(plan.undos.map((u) => [u.step, u]));
    expect(byStep.lock!.input).toEqual({ input: { app: 'hello', waitForLock: false }, output: { holder: 'b1' } });
    expect(byStep.image!.input).toMatchObject({ input: { app: 'hello', version: 7, staged: { dir: '/staging/1' } }, output: { digest: 'sha256:img' } });
    // Push has not reported: its undo still runs (its outcome is unknown), without an output.
    // Its input holds the image step's too (a push on a host without the image builds it again).
    expect(byStep.push!.input).toEqual({
      input: { app: 'hello', version: 7, staged: { dir: '/staging/1' }, source: { name: 'src-1' }, stack: 'node', config: { name: 'hello' }, compression: 'gzip', image: { digest: 'sha256:img' } },
      output: null,
    });
    expect(plan.actions).toEqual([]);
  });

  it('during compensation: the undo in flight, one backing off, and the ones already done', () => {
    const d = buildAtPush();
    d.fail('procfile', refused);
    let plan = planOf(d);
    expect(plan.phase).toBe('compensating');
    expect(plan.cause).toMatchObject({ step: 'procfile', code: 'REFUSED' });
    expect(brief(plan.undos)).toEqual(['push:running', 'addons:pending', 'image:pending', 'lock:pending', 'receive:pending', 'allocate:pending']);

    d.done('undo.push', null).done('undo.addons', null).fail('undo.image', unavailable);
    expect(d.snapshot.value).toEqual({ compensating: 'backoff' });
    plan = planOf(d, ['push', 'addons']);
    expect(brief(plan.undos)).toEqual(['push:done', 'addons:done', 'image:backoff', 'lock:pending', 'receive:pending', 'allocate:pending']);
    expect(plan.undos[2]).toMatchObject({ attempts: 1, error: { step: 'image', code: 'UNAVAILABLE', retryable: true } });

    // The retry runs with the last failure still on record.
    d.fire();
    expect(planOf(d, ['push', 'addons']).undos[2]).toMatchObject({ status: 'running', attempts: 1, error: { code: 'UNAVAILABLE' } });

    // Without the journal's word, done undos are inferred from the context: image finished (it
    // has an output) and is off the stack; push never reported, so it leaves no trace.
    d.done('undo.image', null);
    expect(brief(planOf(d).undos)).toEqual(['image:done', 'addons:done', 'lock:running', 'receive:pending', 'allocate:pending']);
  });

  it('blocked: the failed undo with its error, the rest still to run, and what an operator may do', () => {
    const d = buildAtPush();
    d.fail('procfile', refused).done('undo.push', null).done('undo.addons', null).done('undo.image', null).fail('undo.lock', refused);
    expect(d.snapshot.value).toBe('blocked');
    const plan = planOf(d, ['push', 'addons', 'image']);
    expect(plan.phase).toBe('blocked');
    expect(brief(plan.undos)).toEqual(['push:done', 'addons:done', 'image:done', 'lock:failed', 'receive:pending', 'allocate:pending']);
    expect(plan.undos[3]).toMatchObject({ undo: 'undo.lock', attempts: 1, error: { step: 'lock', code: 'REFUSED', message: 'no', retryable: false } });
    expect(plan.actions).toEqual(['retry', 'skip', 'abandon']);

    // An abandoned compensation (a kit with `saga.abandon`) leaves the rest of the stack unrun.
    const abandoned = compensationPlan({ value: 'abandoned', context: d.ctx }, { undone: ['push', 'addons', 'image'] });
    expect(brief(abandoned.undos)).toEqual(['push:done', 'addons:done', 'image:done', 'lock:failed', 'receive:abandoned', 'allocate:abandoned']);
    expect(abandoned.actions).toEqual([]);

    // Skipped: the operator fixed it by hand; the rest runs. Off the stack, a skipped undo looks
    // done; inferred ones come in the order they ran (latest completed step first).
    d.send({ type: SagaEventType.Skip });
    expect(brief(planOf(d).undos)).toEqual(['image:done', 'addons:done', 'lock:done', 'receive:running', 'allocate:pending']);
    d.completeAll();
    const done = planOf(d);
    expect(done.phase).toBe('compensated');
    expect(brief(done.undos)).toEqual(['image:done', 'addons:done', 'lock:done', 'receive:done', 'allocate:done']);
  });

  it('is plain JSON', () => {
    const d = buildAtPush();
    d.fail('procfile', refused);
    const plan = planOf(d);
    expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
  });
});

describe('compensationPlan of a saga whose first step has no undo', () => {
  const saga = defineSaga({
    id: 'plan',
    retry: { maxAttempts: 1 },
    steps: [
      { name: 'check', run: 'check' },
      { name: 'reserve', run: 'reserve', undo: 'release', input: ({ input }) => ({ sku: (input as { sku: string }).sku }) },
      { name: 'notify', run: 'notify' },
    ],
  });
  const plan = (d: Driver): CompensationPlan => compensationPlan({ value: d.snapshot.value, context: d.ctx }, { undoable: ['reserve'] });

  it('before any step with an undo: nothing to undo', () => {
    expect(plan(new Driver(saga, { sku: 'x' }))).toEqual({ phase: 'running', cause: null, undos: [], actions: [] });
  });

  it('completed: nothing runs any more', () => {
    const d = new Driver(saga, { sku: 'x' });
    d.completeAll();
    expect(d.status).toBe('completed');
    expect(plan(d)).toEqual({ phase: 'completed', cause: null, undos: [], actions: [] });
  });

  it('cancelled while a step runs: the cause is the cancel, the running step’s undo runs', () => {
    const d = new Driver(saga, { sku: 'x' });
    d.done('check', true).send({ type: SagaEventType.Cancel });
    const p = plan(d);
    expect(p.phase).toBe('compensating');
    expect(p.cause).toMatchObject({ code: 'CANCELLED' });
    expect(p.undos).toEqual([{ step: 'reserve', undo: 'undo.reserve', input: { input: { sku: 'x' }, output: null }, status: 'running', attempts: 0, error: null }]);
  });
});
