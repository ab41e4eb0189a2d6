/**
 * Replay for people (src/runtime/replay.ts): journals written by a real runtime on memory
 * stores, replayed entry by entry; replay compatibility of changed machines; saga bundles.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AnyStateMachine, AnyStateNode } from 'xstate';
import { buildMachine, BUILD_MACHINE_ID, BUILD_MACHINE_VERSION, type BuildInput } from '../../machines/build.machine.js';
import { isChildSrc } from '../../machines/kit/child-step.js';
import { postgresAddonMachine, POSTGRES_ADDON_MACHINE_ID, POSTGRES_ADDON_MACHINE_VERSION } from '../../machines/postgres-addon.machine.js';
import { defineSaga, type SagaConfig } from '../../machines/kit/index.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import type { JournalView } from '../../src/runtime/journal-view.js';
import {
  BUNDLE_FORMAT,
  checkReplay,
  diffContext,
  exportBundle,
  parseBundle,
  replayBundle,
  replaySaga,
  type ReplayEffect,
  type ReplayStep,
} from '../../src/runtime/replay.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { memoryStores } from '../../src/runtime/stores.js';
import type { SagaBinding, SagaDefinition, StepFn } from '../../src/runtime/types.js';
import { orderBinding, orderMachine } from '../fixtures/order-saga.js';

const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.close()));
});

/** Runs one saga to its end on a fresh runtime over memory stores; returns its journal. */
async function journalOf(binding: SagaBinding, input: unknown, id: string, others: readonly SagaBinding[] = []): Promise<JournalView[]> {
  const rt = await createRuntime({ machines: [binding, ...others], stores: memoryStores(), owner: 'c1', recoverOnStart: false, recoverIntervalMs: 0 });
  runtimes.push(rt);
  await rt.start(binding.id, input, { id });
  await rt.wait(id, { timeoutMs: 20_000 });
  return rt.events(id);
}

const order: SagaDefinition = { id: 'order', version: 1, machine: orderMachine };

const started = (steps: readonly ReplayStep[]): string[] =>
  steps.flatMap((s) => s.effects).flatMap((e) => (e.kind === 'step.started' ? [e.src] : []));

const effectsOfKind = <K extends ReplayEffect['kind']>(steps: readonly ReplayStep[], kind: K): Array<Extract<ReplayEffect, { kind: K }>> =>
  steps.flatMap((s) => s.effects).filter((e): e is Extract<ReplayEffect, { kind: K }> => e.kind === kind);

describe('replaySaga', () => {
  it('shows a completed saga: steps started in order, outputs appearing, status completed', async () => {
    const journal = await journalOf(orderBinding(), { order: 'r1' }, 'r1');
    const steps = replaySaga(order, journal, { sagaId: 'r1' });

    expect(steps.map((s) => s.no)).toEqual(journal.map((v) => v.entryNo));
    expect(steps[0]).toMatchObject({ no: 1, kind: 'init', event: { type: 'init', input: { order: 'r1' } }, state: { reserve: 'running' }, status: 'running' });
    expect(steps[0]!.contextDiff).toContainEqual({ path: 'input', op: 'add', after: { order: 'r1' } });
    expect(steps[0]!.effects).toEqual([{ kind: 'step.started', id: 'reserve', src: 'reserveStock', input: { order: 'r1' }, attempt: 1, key: 'r1:1:reserve' }]);

    expect(started(steps)).toEqual(['reserveStock', 'chargeCard', 'shipOrder', 'notifyCustomer']);
    const charge = steps[1]!;
    expect(charge.event).toMatchObject({ type: 'xstate.done.actor.reserve', payload: { output: { step: 'reserveStock', order: 'r1' } } });
    expect(charge.contextDiff).toContainEqual({ path: 'outputs.reserve', op: 'add', after: { step: 'reserveStock', order: 'r1' } });
    expect(charge.contextDiff).toContainEqual({ path: 'stack.1', op: 'add', after: { step: 'charge', input: { input: { order: 'r1' }, reservation: { step: 'reserveStock', order: 'r1' } } } });
    expect(charge.effects.map((e) => e.kind)).toEqual(['step.stopped', 'step.started']);
    expect(charge.effects[0]).toEqual({ kind: 'step.stopped', id: 'reserve', src: 'reserveStock', outcome: 'done', key: 'r1:1:reserve' });

    const last = steps.at(-1)!;
    expect(last).toMatchObject({ state: 'completed', status: 'completed' });
    expect(last.contextDiff.map((c) => c.path)).toEqual(['outputs.notify']);
    expect(effectsOfKind(steps, 'step.stopped').every((e) => e.outcome === 'done')).toBe(true);
  });

  it('shows compensation: the failed step, then undos started latest first, status compensated', async () => {
    const journal = await journalOf(orderBinding(), { order: 'r2', fail: { shipOrder: 'terminal' } }, 'r2');
    const steps = replaySaga(order, journal);

    expect(started(steps)).toEqual(['reserveStock', 'chargeCard', 'shipOrder', 'cancelShipment', 'refundCard', 'releaseStock']);
    const failed = steps.find((s) => s.event?.type === 'xstate.error.actor.ship')!;
    expect(failed.status).toBe('compensating');
    expect(failed.state).toEqual({ compensating: 'undo_ship' });
    expect(failed.effects[0]).toMatchObject({ kind: 'step.stopped', id: 'ship', outcome: 'error' });
    expect(failed.contextDiff.find((c) => c.path === 'error')).toMatchObject({ op: 'replace', before: null, after: { code: 'REFUSED', step: 'ship' } });
    // Undo inputs carry the step's input and output.
    expect(effectsOfKind(steps, 'step.started').find((e) => e.src === 'refundCard')).toMatchObject({
      id: 'undo.charge',
      input: { output: { step: 'chargeCard', order: 'r2' } },
    });
    // Each undo pops its entry off the compensation stack.
    const pops = steps.flatMap((s) => s.contextDiff).filter((c) => c.op === 'remove' && c.path.startsWith('stack.'));
    expect(pops.map((c) => (c.before as { step: string }).step)).toEqual(['ship', 'charge', 'reserve']);
    expect(steps.at(-1)).toMatchObject({ state: 'compensated', status: 'compensated' });
  });

  it('shows retries as timers armed and fired, with their delay', async () => {
    const journal = await journalOf(orderBinding(), { order: 'r3', fail: { chargeCard: 'retryable:1' } }, 'r3');
    const steps = replaySaga(order, journal);
    const armed = effectsOfKind(steps, 'timer.armed');
    expect(armed).toHaveLength(1);
    expect(armed[0]).toMatchObject({ id: expect.stringContaining('retry.charge'), event: expect.stringContaining('xstate.after.retry.charge') });
    expect(armed[0]!.delayMs).toBeGreaterThan(0);
    expect(armed[0]!.dueAt).toBe(steps.find((s) => s.effects.includes(armed[0]!))!.at + armed[0]!.delayMs);
    expect(effectsOfKind(steps, 'timer.fired').map((e) => e.id)).toEqual([armed[0]!.id]);
    expect(effectsOfKind(steps, 'step.started').filter((e) => e.src === 'chargeCard').map((e) => e.attempt)).toEqual([1, 2]);
    expect(steps.at(-1)!.status).toBe('completed');
  });

  it('stops at `to`', async () => {
    const journal = await journalOf(orderBinding(), { order: 'r4' }, 'r4');
    const steps = replaySaga(order, journal, { to: 2 });
    expect(steps.map((s) => s.no)).toEqual([1, 2]);
    expect(steps.at(-1)!.state).toEqual({ charge: 'running' });
    expect(replaySaga(order, journal, { to: 0 })).toEqual([]);
  });

  it('shows takeover and void records as entries without a transition', () => {
    const journal: JournalView[] = [
      { entryNo: 0, at: 1, streamSeq: 1, void: { owner: 'c9', epoch: 1, reason: 'the start never journaled its init entry' } },
      { entryNo: 1, at: 2, streamSeq: 2, init: { machine: 'order', version: 1, input: { order: 'r5' } } },
      { entryNo: 2, at: 3, streamSeq: 3, takeover: { owner: 'c2', epoch: 2, from: 'c1' } },
      { entryNo: 3, at: 4, streamSeq: 4, event: { type: 'xstate.done.actor.reserve', actorId: 'reserve', output: 'R' } },
    ];
    const steps = replaySaga(order, journal);
    expect(steps.map((s) => [s.no, s.kind])).toEqual([[0, 'void'], [1, 'init'], [2, 'takeover'], [3, 'event']]);
    expect(steps[0]).toMatchObject({ state: null, status: null, effects: [], contextDiff: [], note: expect.stringContaining('void') });
    expect(steps[2]).toMatchObject({ state: { reserve: 'running' }, status: 'running', effects: [], event: null, note: expect.stringContaining('c2') });
    expect(steps[3]!.state).toEqual({ charge: 'running' });
  });

  it('ends where the runtime ended: same state, status and context', async () => {
    const rt = await createRuntime({ machines: [orderBinding()], stores: memoryStores(), owner: 'c1', recoverOnStart: false, recoverIntervalMs: 0 });
    runtimes.push(rt);
    await rt.start('order', { order: 'r6', fail: { chargeCard: 'retryable:1', shipOrder: 'terminal' } }, { id: 'r6' });
    const info = await rt.wait('r6', { timeoutMs: 20_000 });
    const steps = replaySaga(order, await rt.events('r6'));
    expect(steps.at(-1)).toMatchObject({ no: info.entryNo, state: info.state, status: info.status });
    // Folding every diff onto {} rebuilds the final context.
    const ctx: Record<string, any> = {};
    for (const c of steps.flatMap((s) => s.contextDiff)) {
      const path = c.path.split('.');
      const leaf = path.pop()!;
      const parent = path.reduce((o, k) => o[k], ctx);
      if (c.op === 'remove') {
        if (Array.isArray(parent)) parent.splice(Number(leaf), 1);
        else delete parent[leaf];
      } else parent[leaf] = structuredClone(c.after);
    }
    expect(ctx).toEqual(info.context);
  });

  it('shows a step left in flight as aborted (a cancel), and its undo started', () => {
    const journal: JournalView[] = [
      { entryNo: 1, at: 10, streamSeq: 1, init: { machine: 'order', version: 1, input: { order: 'r7' } } },
      { entryNo: 2, at: 20, streamSeq: 2, event: { type: 'xstate.done.actor.reserve', actorId: 'reserve', output: 'R' } },
      { entryNo: 3, at: 30, streamSeq: 3, event: { type: 'saga.cancel' } },
    ];
    const steps = replaySaga(order, journal, { sagaId: 'r7' });
    expect(steps[2]).toMatchObject({ event: { type: 'saga.cancel', payload: {} }, state: { compensating: 'undo_charge' }, status: 'compensating' });
    expect(steps[2]!.effects).toEqual([
      { kind: 'step.stopped', id: 'charge', src: 'chargeCard', outcome: 'aborted', key: 'r7:2:charge' },
      { kind: 'step.started', id: 'undo.charge', src: 'refundCard', input: { input: { input: { order: 'r7' }, reservation: 'R' }, output: null }, attempt: 1, key: 'r7:3:undo.charge' },
    ]);
    expect(steps[2]!.contextDiff.map((c) => `${c.op} ${c.path}`)).toEqual(['replace error', 'replace cancelled']);
  });

  it('refuses a journal out of order or of another machine', () => {
    const init: JournalView = { entryNo: 1, at: 1, streamSeq: 1, init: { machine: 'order', version: 1, input: { order: 'x' } } };
    expect(() => replaySaga(order, [init, { entryNo: 3, at: 2, streamSeq: 2, event: { type: 'noise' } }])).toThrow(/expected 2/);
    expect(() => replaySaga({ ...order, id: 'other' }, [init])).toThrow(/machine "order", not "other"/);
  });
});

/** The order saga with its config changed; version 2. */
function orderV2(change: (config: SagaConfig) => SagaConfig): SagaDefinition {
  const base: SagaConfig = {
    id: 'order',
    retry: { initialDelayMs: 20, maxDelayMs: 100, maxAttempts: 3 },
    undoRetry: { initialDelayMs: 20, maxDelayMs: 100, maxAttempts: 3 },
    steps: [
      { name: 'reserve', run: 'reserveStock', undo: 'releaseStock' },
      { name: 'charge', run: 'chargeCard', undo: 'refundCard', input: ({ input, outputs }) => ({ input, reservation: outputs.reserve }) },
      { name: 'ship', run: 'shipOrder', undo: 'cancelShipment' },
      { name: 'notify', run: 'notifyCustomer' },
    ],
  };
  return { id: 'order', version: 2, machine: defineSaga(change(base)) };
}

describe('diffContext', () => {
  it('walks objects and arrays, quoting keys that would make a path ambiguous', () => {
    expect(diffContext({ a: { b: 1, c: [1, 2] }, gone: true }, { a: { b: 2, c: [1], 'x.y': null } })).toEqual([
      { path: 'a.b', op: 'replace', before: 1, after: 2 },
      { path: 'a.c.1', op: 'remove', before: 2 },
      { path: 'a["x.y"]', op: 'add', after: null },
      { path: 'gone', op: 'remove', before: true },
    ]);
    expect(diffContext({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toEqual([]);
    expect(diffContext({ a: null }, { a: { b: 1 } })).toEqual([{ path: 'a', op: 'replace', before: null, after: { b: 1 } }]);
  });
});

describe('checkReplay', () => {
  it('passes for the same machine, and for an identical new version', async () => {
    const journal = await journalOf(orderBinding(), { order: 'c1', fail: { shipOrder: 'terminal' } }, 'c1');
    expect(checkReplay({ original: order, candidate: order, journal })).toEqual({ ok: true, entries: journal.length });
    expect(checkReplay({ original: order, candidate: orderV2((c) => c), journal }).ok).toBe(true);
  });

  it('reports the first entry where a renamed step diverges', async () => {
    const journal = await journalOf(orderBinding(), { order: 'c2' }, 'c2');
    const renamed = orderV2((c) => ({ ...c, steps: c.steps.map((s) => (s.name === 'ship' ? { ...s, name: 'dispatch' } : s)) }));
    expect(checkReplay({ original: order, candidate: renamed, journal })).toEqual({
      ok: false,
      entry: 3,
      expected: { state: { ship: 'running' }, status: 'running' },
      actual: { state: { dispatch: 'running' }, status: 'running' },
    });
  });

  it('reports where a changed retry policy takes another path', async () => {
    const journal = await journalOf(orderBinding(), { order: 'c3', fail: { chargeCard: 'retryable:1' } }, 'c3');
    const noRetries = orderV2((c) => ({ ...c, retry: { ...c.retry, maxAttempts: 1 } }));
    const check = checkReplay({ original: order, candidate: noRetries, journal });
    expect(check).toMatchObject({
      ok: false,
      entry: 3,
      expected: { state: { charge: 'waiting' }, status: 'running' },
      actual: { status: 'compensating' },
    });
  });

  it('reports a candidate that throws on an entry', async () => {
    const journal = await journalOf(orderBinding(), { order: 'c4' }, 'c4');
    const throwing = orderV2((c) => ({
      ...c,
      steps: c.steps.map((s) => (s.name === 'ship' ? { ...s, input: () => { throw new Error('no input for ship'); } } : s)),
    }));
    const check = checkReplay({ original: order, candidate: throwing, journal });
    expect(check).toMatchObject({ ok: false, entry: 3, expected: { state: { ship: 'running' } }, actual: { error: expect.stringContaining('no input for ship') } });
  });
});

describe('saga bundles', () => {
  it('round-trips through JSON and replays offline on the version it names', async () => {
    const journal = await journalOf(orderBinding(), { order: 'b1' }, 'b1');
    const bundle = exportBundle({ id: 'b1', machine: 'order', version: 1 }, journal);
    expect(bundle).toMatchObject({ format: BUNDLE_FORMAT, version: 1, saga: { id: 'b1', machine: 'order', version: 1 } });
    const back = parseBundle(JSON.stringify(bundle));
    expect(back).toEqual(bundle);
    const steps = replayBundle(back, [orderV2((c) => c), order]);
    expect(steps).toEqual(replaySaga(order, journal, { sagaId: 'b1' }));
    expect(() => replayBundle({ ...back, saga: { ...back.saga, version: 7 } }, [order])).toThrow(/version|7/);
    expect(() => replayBundle(back, [])).toThrow(/order/);
  });

  it('refuses a corrupt bundle, naming the field', async () => {
    const journal = await journalOf(orderBinding(), { order: 'b2' }, 'b2');
    const good = JSON.parse(JSON.stringify(exportBundle({ id: 'b2', machine: 'order', version: 1 }, journal))) as Record<string, any>;
    const bad = (mutate: (b: Record<string, any>) => void): unknown => {
      const b = structuredClone(good);
      mutate(b);
      return b;
    };
    expect(() => parseBundle('{')).toThrow(/not valid JSON/);
    expect(() => parseBundle(bad((b) => (b.format = 'tarball')))).toThrow(/format/);
    expect(() => parseBundle(bad((b) => delete b.saga.id))).toThrow(/saga\.id/);
    expect(() => parseBundle(bad((b) => (b.journal[2].event.type = 7)))).toThrow(/journal\[2\]\.event\.type/);
    expect(() => parseBundle(bad((b) => (b.journal[3].entryNo = 9)))).toThrow(/journal\[3\]\.entryNo.*expected entry number 4/);
    expect(() => parseBundle(bad((b) => (b.journal[0].init.version = 2)))).toThrow(/journal\[0\]\.init.*order@2/);
    expect(() => parseBundle(bad((b) => (b.journal[1].takeover = { owner: 'x', epoch: 1, from: 'y' })))).toThrow(/journal\[1\].*exactly one/);
    expect(() => exportBundle({ id: 'b2', machine: 'order', version: 3 }, journal)).toThrow(/order@1/);
  });
});

/** The machine's forward steps (invocation id and implementation), in document order. */
function forwardSteps(machine: AnyStateMachine): Array<{ id: string; src: string }> {
  const out: Array<{ id: string; src: string }> = [];
  const walk = (node: AnyStateNode): void => {
    for (const inv of node.invoke) if (typeof inv.src === 'string') out.push({ id: inv.id, src: inv.src });
    Object.values(node.states).forEach(walk);
  };
  walk(machine.root);
  return out;
}

describe('replaying the build machine', () => {
  it("lists the build steps in the machine's order, both parallel branches included", async () => {
    const all = forwardSteps(buildMachine);
    const fakes = (srcs: readonly string[]): Record<string, StepFn> =>
      Object.fromEntries(srcs.filter((src) => !isChildSrc(src)).map((src) => [src, (_input, ctx) => ({ fake: src, key: ctx.idempotencyKey })]));
    const binding: SagaBinding = { id: BUILD_MACHINE_ID, version: BUILD_MACHINE_VERSION, machine: buildMachine, steps: fakes(all.map((s) => s.src)) };
    // The addons step runs the addon saga as a child (the host's own step): it needs that machine.
    const addon: SagaBinding = {
      id: POSTGRES_ADDON_MACHINE_ID,
      version: POSTGRES_ADDON_MACHINE_VERSION,
      machine: postgresAddonMachine,
      steps: fakes(forwardSteps(postgresAddonMachine).map((s) => s.src)),
    };
    const input: BuildInput = { app: 'hello', source: { name: 'hello.tar' } };
    const journal = await journalOf(binding, input, 'build-1', [addon]);

    const replay = replaySaga(binding, journal, { sagaId: 'build-1' });
    expect(replay.at(-1)).toMatchObject({ state: 'completed', status: 'completed' });
    const ran = started(replay);
    const forward = all.filter((s) => !s.id.startsWith('undo.'));
    // Every forward step once, none of the undos.
    expect([...ran].sort()).toEqual(forward.map((s) => s.src).sort());
    expect(ran.slice(0, 6)).toEqual(['allocateVersion', 'receiveSource', 'takeDeployLock', 'loadAppConfig', 'detectStack', 'runOnbuild']);
    expect(ran.slice(-5)).toEqual(['createVersion', 'startSandbox', 'setActiveVersion', 'stopOldSandboxes', 'finalizeBuild']);
    // Both branches of the parallel group, each in its own order, between onbuild and version.
    const prepare = ran.slice(6, -5);
    expect(prepare).toHaveLength(6);
    expect(prepare.filter((s) => s === 'buildImage' || s === 'pushImage')).toEqual(['buildImage', 'pushImage']);
    expect(prepare.filter((s) => !(s === 'buildImage' || s === 'pushImage'))).toEqual(['child:postgres-addon', 'readProcfile', 'prepareConfig', 'createConfigVersion']);
    // Steps that wait for the registry do so in a state of their own: each ready event is an entry.
    expect(replay.filter((s) => s.event?.type === 'boot.ready')).toHaveLength(3);
    // Outputs appear in the context as each step reports.
    const added = replay.flatMap((s) => s.contextDiff).filter((c) => c.op === 'add' && c.path.startsWith('outputs.'));
    expect(added.map((c) => c.path).sort()).toEqual(forward.map((s) => `outputs.${s.id}`).sort());
    expect(added.find((c) => c.path === 'outputs.allocate')?.after).toEqual({ fake: 'allocateVersion', key: 'build-1:1:allocate' });
    expect(effectsOfKind(replay, 'step.stopped').every((e) => e.outcome === 'done')).toBe(true);
  });
});
