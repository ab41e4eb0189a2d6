/**
 * The visualizer server's pure parts: state node ids from state values (nested, parallel,
 * explicit ids, no graph at all), waiting times from a saga's history, timeline lines, the
 * token check and the page's asset URLs.
 */
import { createMachine } from 'xstate';
import { describe, expect, it } from 'vitest';
import type { ReplayStep } from '../../src/runtime/replay-saga.js';
import { activeIds, stateIndex, visitedIds, waitingOf } from '../../src/ui/server/state-ids.js';
import { timelineEntry } from '../../src/ui/server/timeline.js';
import { newToken, tokenMatches } from '../../src/ui/server/token.js';
import { machineGraph } from '../../src/viz/machine-graph.js';
import { gadgetMachine } from '../fixtures/viz-gadget.js';

describe('state ids', () => {
  const gadget = stateIndex(machineGraph(gadgetMachine));

  it('are the configuration, root first, each state before its children (parallel regions in order)', () => {
    expect(activeIds('idle', 'gadget', gadget)).toEqual(['gadget', 'gadget.idle']);
    expect(activeIds({ both: { left: 'l1', right: 'r2' } }, 'gadget', gadget)).toEqual([
      'gadget',
      'gadget.both',
      'gadget.both.left',
      'gadget.both.left.l1',
      'gadget.both.right',
      'gadget.both.right.r2',
    ]);
    expect(activeIds(null, 'gadget', gadget)).toEqual([]);
  });

  it('follow explicit state ids from the graph, and default ids without one', () => {
    const m = createMachine({ id: 'm', initial: 'a', states: { a: { id: 'custom', initial: 'x', states: { x: { tags: ['awaits:registry'] } } }, b: {} } });
    const index = stateIndex(machineGraph(m));
    // XState names a child by its path even under a state with an explicit id.
    expect(activeIds({ a: 'x' }, 'm', index)).toEqual(['m', 'custom', 'm.a.x']);
    expect(activeIds({ a: 'x' }, 'm', null)).toEqual(['m', 'm.a', 'm.a.x']);
    expect(visitedIds(['b', { a: 'x' }, 'b'], 'm', index)).toEqual(['m', 'm.b', 'custom', 'm.a.x']);
  });

  it('waiting: since the start of the trailing run of entries in the awaiting state', () => {
    const m = createMachine({ id: 'w', initial: 'wait', states: { wait: { tags: ['awaits:registry', 'other'] }, go: {} } });
    const index = stateIndex(machineGraph(m));
    const at = (t: number, value: string) => ({ at: t, active: new Set(activeIds(value, 'w', index)) });
    const active = activeIds('wait', 'w', index);
    expect(waitingOf(active, index, [at(1, 'wait'), at(2, 'go'), at(3, 'wait'), at(4, 'wait')], 99)).toEqual([{ dependency: 'registry', state: 'w.wait', since: 3 }]);
    expect(waitingOf(active, index, [], 99)).toEqual([{ dependency: 'registry', state: 'w.wait', since: 99 }]);
    expect(waitingOf(activeIds('go', 'w', index), index, [at(1, 'go')], 99)).toEqual([]);
    expect(waitingOf(active, null, [], 99)).toEqual([]);
  });
});

describe('timeline lines', () => {
  const step = (over: Partial<ReplayStep>): ReplayStep => ({ no: 2, at: 5, streamSeq: 9, kind: 'event', event: null, state: 'x', status: 'running', contextDiff: [], effects: [], ...over });

  it('say what each entry carries, briefly', () => {
    expect(timelineEntry(step({ no: 1, kind: 'init', event: { type: 'init', input: { app: 'shop' } } }))).toEqual({ no: 1, at: 5, type: 'init', summary: 'input {"app":"shop"}' });
    expect(timelineEntry(step({ event: { type: 'xstate.done.actor.push', payload: { output: { digest: 'sha256:ab' }, key: 'k' } } })).summary).toBe('push done: {"digest":"sha256:ab"}');
    expect(timelineEntry(step({ event: { type: 'xstate.error.actor.push', payload: { error: { code: 'REGISTRY_UNAVAILABLE', message: 'refused' } } } })).summary).toBe('push failed: REGISTRY_UNAVAILABLE: refused');
    expect(timelineEntry(step({ event: { type: 'boot.ready', payload: { dependency: 'registry' } } })).summary).toBe('registry ready');
    expect(timelineEntry(step({ event: { type: 'retry.push', payload: { timerId: 'retry.push' } } })).summary).toBe('timer retry.push');
    expect(timelineEntry(step({ event: { type: 'saga.cancel', payload: {} }, accepted: false })).summary).toBe('(ignored)');
    expect(timelineEntry(step({ kind: 'takeover', note: 'taken over by b from a (epoch 2)' }))).toMatchObject({ type: 'takeover', summary: 'taken over by b from a (epoch 2)' });
    const long = timelineEntry(step({ event: { type: 'big', payload: { text: 'x'.repeat(500) } } })).summary;
    expect(long.length).toBe(100);
    expect(long.endsWith('…')).toBe(true);
  });
});

describe('the token', () => {
  it('is 24 random bytes, compared whole', () => {
    const t = newToken();
    expect(t).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(newToken()).not.toBe(t);
    expect(tokenMatches(t, t)).toBe(true);
    expect(tokenMatches(t.slice(0, -1), t)).toBe(false);
    expect(tokenMatches(`${t}x`, t)).toBe(false);
    expect(tokenMatches(undefined, t)).toBe(false);
    expect(tokenMatches('', t)).toBe(false);
  });
});
