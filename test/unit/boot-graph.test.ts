import { describe, expect, it } from 'vitest';
import { BootState } from '../../machines/boot.machine.js';
import { BootGraph, type DependencyStatus } from '../../src/boot/boot-graph.js';
import { BootGraphError, planBoot, type BootDependency } from '../../src/boot/graph.js';
import { ErrorCode, SagaError } from '../../src/errors.js';
import { until } from '../helpers/until.js';

const ok = (): void => undefined;
const fast = { initialDelayMs: 5, maxDelayMs: 20 };

/** A dependency whose check passes only while `up.value` is true. */
function switchable(name: string, dependsOn: string[] = [], up = { value: true }, extra: Partial<BootDependency> = {}): BootDependency {
  return {
    name,
    dependsOn,
    retry: fast,
    check: () => {
      if (!up.value) throw new Error(`${name} is down`);
    },
    ...extra,
  };
}


describe('planBoot', () => {
  it('orders dependencies into layers', () => {
    const plan = planBoot([
      { name: 'registry', dependsOn: ['names'], check: ok },
      { name: 'nats', check: ok },
      { name: 'names', check: ok },
      { name: 'jetstream', dependsOn: ['nats'], check: ok },
      { name: 'admission', dependsOn: ['jetstream', 'registry'], check: ok },
    ]);
    expect(plan.layers).toEqual([['nats', 'names'], ['registry', 'jetstream'], ['admission']]);
    expect([...plan.ancestors.get('admission')!].sort()).toEqual(['jetstream', 'names', 'nats', 'registry']);
  });

  it('refuses unknown dependencies, naming them', () => {
    const err = (() => {
      try {
        planBoot([{ name: 'a', dependsOn: ['b', 'c'], check: ok }, { name: 'b', check: ok }]);
      } catch (e) {
        return e as BootGraphError;
      }
      throw new Error('no error');
    })();
    expect(err).toBeInstanceOf(BootGraphError);
    expect(err.code).toBe(ErrorCode.BootGraphInvalid);
    expect(err.message).toContain('a → c');
    expect(err.details).toEqual({ unknown: ['a → c'] });
  });

  it('refuses a cycle, naming its path', () => {
    expect(() =>
      planBoot([
        { name: 'a', dependsOn: ['b'], check: ok },
        { name: 'b', dependsOn: ['c'], check: ok },
        { name: 'c', dependsOn: ['a'], check: ok },
        { name: 'd', check: ok },
      ]),
    ).toThrow(/cycle: a → b → c → a/);
    expect(() => planBoot([{ name: 'self', dependsOn: ['self'], check: ok }])).toThrow(/cycle: self → self/);
  });

  it('refuses bad and duplicate names', () => {
    expect(() => planBoot([{ name: 'Bad Name', check: ok }])).toThrow(BootGraphError);
    expect(() => planBoot([{ name: 'a', check: ok }, { name: 'a', check: ok }])).toThrow(/declared twice/);
  });
});

describe('BootGraph', () => {
  it('starts each dependency after its dependencies are ready and stops in reverse order', async () => {
    const events: string[] = [];
    const dep = (name: string, dependsOn: string[] = []): BootDependency => ({
      name,
      dependsOn,
      start: async () => {
        events.push(`start ${name}`);
        await new Promise((r) => setTimeout(r, 5));
      },
      check: () => void events.push(`check ${name}`),
      stop: async () => {
        events.push(`stop ${name}`);
        await new Promise((r) => setTimeout(r, 5));
      },
    });
    const graph = new BootGraph([dep('admission', ['jetstream', 'staging']), dep('nats'), dep('jetstream', ['nats']), dep('staging', ['jetstream'])]);
    await graph.start();
    const starts = events.filter((e) => e.startsWith('start')).map((e) => e.slice(6));
    expect(starts).toEqual(['nats', 'jetstream', 'staging', 'admission']);
    // Each start comes after the checks of everything it depends on.
    expect(events.indexOf('start jetstream')).toBeGreaterThan(events.indexOf('check nats'));
    expect(events.indexOf('start admission')).toBeGreaterThan(events.indexOf('check staging'));
    expect(graph.statuses().every((s) => s.state === BootState.Ready)).toBe(true);

    events.length = 0;
    await graph.stop();
    expect(events).toEqual(['stop admission', 'stop staging', 'stop jetstream', 'stop nats']);
    expect(graph.statuses().every((s) => s.state === BootState.Stopped)).toBe(true);
  });

  it('starts independent dependencies of one layer in parallel', async () => {
    let inFlight = 0;
    let most = 0;
    const slow = (name: string): BootDependency => ({
      name,
      start: async () => {
        most = Math.max(most, ++inFlight);
        await new Promise((r) => setTimeout(r, 30));
        inFlight--;
      },
      check: ok,
    });
    const graph = new BootGraph([slow('a'), slow('b'), slow('c')]);
    await graph.start();
    expect(most).toBe(3);
    await graph.stop();
  });

  it('retries a failing check with backoff until the dependency comes up', async () => {
    const up = { value: false };
    const graph = new BootGraph([switchable('registry', [], up), switchable('builder', ['registry'])]);
    const booted = graph.start();
    await until(() => graph.status('registry').failures >= 3);
    expect(graph.status('registry').state).not.toBe(BootState.Ready);
    expect(graph.status('registry').lastError).toBe('registry is down');
    expect(graph.status('builder').state).toBe(BootState.Pending);
    up.value = true;
    await booted;
    expect(graph.status('registry')).toMatchObject({ state: BootState.Ready, failures: 0 });
    await graph.stop();
  });

  it('a dependency lost and regained re-gates what waits on it', async () => {
    const up = { value: true };
    const graph = new BootGraph([switchable('registry', [], up, { healthIntervalMs: 10 })]);
    const seen: DependencyStatus[] = [];
    graph.onChange((s) => seen.push(s));
    await graph.start();
    await graph.waitFor('registry'); // ready: resolves at once

    up.value = false;
    // `lost` lasts only until the next check begins: wait for "not ready", which stays.
    await until(() => !graph.isReady('registry'));
    let released = false;
    const waiting = graph.waitFor('registry').then(() => (released = true));
    await until(() => graph.status('registry').failures >= 2);
    expect(released).toBe(false);
    expect(graph.isReady('registry')).toBe(false);

    up.value = true;
    await waiting;
    expect(graph.isReady('registry')).toBe(true);
    const states = seen.map((s) => s.state);
    expect(states).toContain(BootState.Lost);
    expect(states.lastIndexOf(BootState.Ready)).toBeGreaterThan(states.indexOf(BootState.Lost));
    await graph.stop();
  });

  it('reportUnavailable marks a ready dependency lost at once', async () => {
    const up = { value: true };
    const graph = new BootGraph([switchable('registry', [], up)]);
    await graph.start();
    up.value = false;
    graph.reportUnavailable('registry', 'push got ECONNREFUSED');
    expect(graph.isReady('registry')).toBe(false);
    expect(graph.status('registry')).toMatchObject({ state: BootState.Lost, lastError: 'push got ECONNREFUSED' });
    up.value = true;
    await graph.waitFor('registry');
    await graph.stop();
  });

  it('fails boot at once on a start error that retrying cannot fix', async () => {
    const missing = new SagaError('MISSING_BINARY', 'docker-registry not found: install it', { retryable: false });
    const graph = new BootGraph([{ name: 'registry', start: () => Promise.reject(missing), check: ok }]);
    await expect(graph.start()).rejects.toBe(missing);
    expect(graph.status('registry').state).toBe(BootState.Failed);
    await graph.stop();
  });

  it('bounds a stop hook by its timeout and stops the rest', async () => {
    const stopped: string[] = [];
    const graph = new BootGraph([
      { name: 'base', check: ok, stop: () => void stopped.push('base') },
      { name: 'stuck', dependsOn: ['base'], check: ok, stopTimeoutMs: 50, stop: () => new Promise<void>(() => undefined) },
    ]);
    await graph.start();
    await graph.stop();
    expect(stopped).toEqual(['base']);
    expect(graph.status('stuck')).toMatchObject({ state: BootState.Stopped, lastError: 'stop timed out after 50 ms' });
  });

  it('does not stop what never started, and stopping early rejects boot', async () => {
    const stopped: string[] = [];
    const graph = new BootGraph([
      { name: 'never', check: () => Promise.reject(new Error('down')), retry: fast, stop: () => void stopped.push('never') },
      { name: 'after', dependsOn: ['never'], check: ok, start: ok, stop: () => void stopped.push('after') },
    ]);
    const booted = graph.start();
    await until(() => graph.status('never').failures > 0);
    await graph.stop();
    await expect(booted).rejects.toMatchObject({ code: ErrorCode.Closed });
    expect(stopped).toEqual(['never']);
    await expect(graph.waitFor('after')).rejects.toMatchObject({ code: ErrorCode.Closed });
  });

  it('waitFor refuses unknown dependencies and honours its signal', async () => {
    const graph = new BootGraph([{ name: 'x', check: () => Promise.reject(new Error('no')), retry: fast }]);
    void graph.start();
    await expect(graph.waitFor('nope')).rejects.toMatchObject({ code: ErrorCode.UnknownDependency });
    const ac = new AbortController();
    const w = graph.waitFor('x', { signal: ac.signal });
    ac.abort(new Error('gave up'));
    await expect(w).rejects.toThrow('gave up');
    await graph.stop();
  });
});
