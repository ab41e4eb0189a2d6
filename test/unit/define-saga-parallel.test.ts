/**
 * defineSaga's parallel groups and optional steps, driven purely with XState's `transition()`
 * as the host would: branches run side by side, the group goes on when every branch is done,
 * a failure anywhere stops the other branches and undoes every started step top-down, and an
 * optional step's last failure is a warning, not a rollback.
 */
import { describe, expect, it } from 'vitest';
import { defineSaga, stepsOf, SagaEventType, type SagaContext, type SagaOutput } from '../../machines/kit/index.js';
import { Driver, stopped } from '../helpers/saga-driver.js';

const refused = { name: 'TerminalError', code: 'REFUSED', message: 'no', retryable: false };

const build = defineSaga({
  id: 'pbuild',
  retry: { maxAttempts: 2, initialDelayMs: 10, jitter: 0 },
  undoRetry: { maxAttempts: 2, initialDelayMs: 10, jitter: 0 },
  steps: [
    { name: 'receive', run: 'receive', undo: 'unreceive' },
    {
      name: 'prepare',
      parallel: {
        image: [
          { name: 'build', run: 'build', undo: 'unbuild' },
          { name: 'push', run: 'push', undo: 'unpush', needs: ['registry'], input: ({ outputs }) => outputs.build },
        ],
        config: [{ name: 'procfile', run: 'procfile' }, { name: 'config', run: 'config', undo: 'unconfig' }],
      },
    },
    { name: 'activate', run: 'activate', undo: 'deactivate', input: ({ outputs }) => ({ push: outputs.push, config: outputs.config }) },
    { name: 'cleanup', run: 'cleanup', optional: true },
  ],
});

const srcs = (d: Driver): string[] => d.spawns().map((s) => s.src).sort();
const ctx = (d: Driver): SagaContext => d.snapshot.context as SagaContext;

describe('a parallel group', () => {
  it('starts its branches together and goes on once every branch is done', () => {
    const d = new Driver(build, { app: 'a' });
    expect(srcs(d)).toEqual(['receive']);
    d.done('receive', { dir: '/s' });
    // Both branches start at once: the image build and the Procfile.
    expect(srcs(d)).toEqual(['build', 'procfile']);
    expect(d.snapshot.value).toEqual({ prepare: { image: { build: 'running' }, config: { procfile: 'running' } } });
    d.done('build', { layer: 'sha256:1' });
    // The push waits for the registry, in a state tagged for the host; the other branch goes on.
    expect(d.snapshot.hasTag('awaits:registry')).toBe(true);
    d.done('procfile', { web: 'node s.js' });
    expect(srcs(d)).toEqual(['config']);
    d.done('config', { env: {} });
    expect(d.snapshot.value).toEqual({ prepare: { image: { push: 'await_registry' }, config: 'done' } });
    d.send({ type: SagaEventType.Ready, dependency: 'registry' });
    expect(srcs(d)).toEqual(['push']);
    expect(d.spawns()[0]!.input).toEqual({ layer: 'sha256:1' });
    d.done('push', { digest: 'sha256:m' });
    // Joined: the next step sees both branches' outputs.
    expect(d.spawns()).toEqual([{ id: 'activate', src: 'activate', input: { push: { digest: 'sha256:m' }, config: { env: {} } } }]);
    d.done('activate', {});
    d.done('cleanup', {});
    expect(d.status).toBe('completed');
    // A step is stacked when its state is entered (waiting for the registry included).
    expect(ctx(d).stack.map((e) => e.step)).toEqual(['receive', 'build', 'push', 'config', 'activate']);
  });

  it('a terminal failure in one branch stops the other branch’s step and undoes every started step, top-down', () => {
    const d = new Driver(build, {});
    d.done('receive', {});
    expect(srcs(d)).toEqual(['build', 'procfile']);
    d.done('procfile', {});
    expect(srcs(d)).toEqual(['config']);
    d.fail('build', refused);
    // The config step in flight in the other branch is stopped (its outcome unknown)...
    expect(stopped(d.actions).sort()).toEqual(['build', 'config']);
    expect(d.status).toBe('compensating');
    // ...and undone like every started step, latest first.
    expect(d.completeAll()).toEqual(['unconfig', 'unbuild', 'unreceive']);
    expect(d.status).toBe('compensated');
    expect((d.snapshot.output as SagaOutput).error).toMatchObject({ step: 'build', code: 'REFUSED' });
  });

  it('a retry in one branch does not stack its step twice while the other branch stacked its own', () => {
    const d = new Driver(build, {});
    d.done('receive', {});
    d.done('procfile', {});
    expect(ctx(d).stack.map((e) => e.step)).toEqual(['receive', 'build', 'config']);
    d.fail('build', { code: 'UNAVAILABLE', message: 'later', retryable: true });
    d.fire();
    expect(srcs(d)).toEqual(['build']);
    expect(ctx(d).stack.map((e) => e.step)).toEqual(['receive', 'build', 'config']);
  });

  it('cancel during a parallel group undoes both branches’ started steps once', () => {
    const d = new Driver(build, {});
    d.done('receive', {});
    d.send({ type: SagaEventType.Cancel });
    expect(d.status).toBe('compensating');
    expect(d.completeAll()).toEqual(['unbuild', 'unreceive']);
    expect(d.status).toBe('cancelled');
  });
});

describe('an optional step', () => {
  it('whose retries are spent records a warning and the saga completes', () => {
    const d = new Driver(build, {});
    d.done('receive', {});
    d.done('build', {});
    d.done('procfile', {});
    d.done('config', {});
    d.send({ type: SagaEventType.Ready, dependency: 'registry' });
    d.done('push', {});
    d.done('activate', {});
    d.fail('cleanup', { code: 'EBUSY', message: 'busy', retryable: true });
    d.fire();
    d.fail('cleanup', { code: 'EBUSY', message: 'still busy', retryable: true });
    expect(d.status).toBe('completed');
    expect((d.snapshot.output as SagaOutput).warnings).toEqual([{ step: 'cleanup', code: 'EBUSY', message: 'still busy', retryable: true }]);
    expect((d.snapshot.output as SagaOutput).error).toBeNull();
  });
});

describe('validation', () => {
  it('refuses duplicate names across branches, a one-branch group, and an optional step with an undo', () => {
    const step = (name: string) => ({ name, run: name });
    expect(() => defineSaga({ id: 'v', steps: [{ name: 'g', parallel: { a: [step('x')], b: [step('x')] } }] })).toThrow(/used twice/);
    expect(() => defineSaga({ id: 'v', steps: [{ name: 'g', parallel: { a: [step('x')] } }] })).toThrow(/two branches/);
    expect(() => defineSaga({ id: 'v', steps: [{ name: 'c', run: 'c', undo: 'u', optional: true }] })).toThrow(/optional/);
    expect(stepsOf({ steps: [step('a'), { name: 'g', parallel: { l: [step('b')], r: [step('c')] } }] }).map((s) => s.name)).toEqual(['a', 'b', 'c']);
  });
});
