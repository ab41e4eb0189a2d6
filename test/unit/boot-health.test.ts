import { describe, expect, it } from 'vitest';
import type { ReadinessRecord } from '../../src/boot/readiness-bus.js';
import { bootProblems } from '../../src/cli/boot-health.js';

const record = (coordinator: string, name: string, ready: boolean, lastError: string | null = null): ReadinessRecord => ({
  coordinator,
  name,
  ready,
  state: ready ? 'ready' : 'backoff',
  since: 0,
  at: 0,
  lastError,
  failures: ready ? 0 : 3,
  dependsOn: [],
  layer: 0,
});

describe('bootProblems', () => {
  it('finds none when every coordinator runs and every dependency is ready', () => {
    expect(bootProblems([record('a', 'nats', true), record('b', 'nats', true)], new Map([['a', true], ['b', true]]))).toEqual([]);
  });

  it('names each dependency that is not ready, with its error', () => {
    expect(bootProblems([record('a', 'nats', true), record('a', 'registry', false, 'ECONNREFUSED')], new Map([['a', true]]))).toEqual([
      'coordinator "a": registry is backoff (ECONNREFUSED)',
    ]);
  });

  it('names a stopped coordinator once, not each of its stale dependencies', () => {
    expect(bootProblems([record('a', 'nats', true), record('a', 'registry', false)], new Map([['a', false]]))).toEqual([
      'coordinator "a" is not running (its lease has lapsed or was released): its report is stale',
    ]);
  });

  it('does not count a missing lease against a coordinator whose dependencies are all ready', () => {
    expect(bootProblems([record('a', 'nats', true)], new Map([['a', null]]))).toEqual([]);
  });
});
