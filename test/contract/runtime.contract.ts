/**
 * The runtime contract: saga behaviour every store backend must give. Run over memory stores
 * (test/unit) and over a real nats-server (test/int).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { initialTransition, transition } from 'xstate';
import { defineSaga } from '../../machines/kit/index.js';
import { decodeRecord, isInitRecord } from '../../src/journal/codec.js';
import { createRuntime, type RuntimeOptions } from '../../src/runtime/create-runtime.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { RuntimeStores } from '../../src/runtime/stores.js';
import type { SagaBinding } from '../../src/runtime/types.js';
import { orderBinding, orderMachine, type StepCall } from '../fixtures/order-saga.js';

/** Returns fresh store objects on namespace `ns`: two calls with one `ns` share their data. */
export type StoresFactory = (ns: string) => Promise<RuntimeStores>;

export function describeRuntimeContract(name: string, storesFor: StoresFactory): void {
  const runtimes: Runtime[] = [];
  let nsCounter = 0;
  const freshNs = (): string => `t${process.pid}x${nsCounter++}`;

  afterEach(async () => {
    await Promise.all(runtimes.splice(0).map((r) => r.close()));
  });

  async function coordinator(ns: string, owner: string, calls: StepCall[], extra: Partial<RuntimeOptions> = {}): Promise<Runtime> {
    const rt = await createRuntime({
      machines: [orderBinding((c) => calls.push(c))],
      stores: await storesFor(ns),
      owner,
      recoverOnStart: false,
      recoverIntervalMs: 0,
      // Short: a restart under the same owner after a simulated crash waits the lease out.
      leaseTtlMs: 300,
      ...extra,
    });
    runtimes.push(rt);
    return rt;
  }

  async function setup(owner = 'c1') {
    const calls: StepCall[] = [];
    const ns = freshNs();
    const rt = await coordinator(ns, owner, calls);
    return { rt, calls, ns };
  }

  const okSteps = (calls: StepCall[]) => calls.filter((c) => c.outcome === 'ok').map((c) => c.step);

  const until = async (cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> => {
    const end = Date.now() + ms;
    while (!(await cond())) {
      if (Date.now() > end) throw new Error('condition not met');
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  async function resultEvents(ns: string, id: string): Promise<string[]> {
    const stores = await storesFor(ns);
    const entries = await stores.journal.read(id);
    return entries
      .map((e) => JSON.parse(new TextDecoder().decode(e.data)) as { event?: { type: string; key?: string } })
      .filter((r) => r.event?.key)
      .map((r) => `${r.event!.type}|${r.event!.key}`);
  }

  describe(`runtime contract: ${name}`, () => {
  it('runs a 4-step saga to completion, each step once with its idempotency key', async () => {
    const { rt, calls } = await setup();
    await rt.start('order', { order: 'o1' }, { id: 'o1' });
    const info = await rt.wait('o1', { timeoutMs: 5000 });
    expect(info.status).toBe('completed');
    expect(okSteps(calls)).toEqual(['reserveStock', 'chargeCard', 'shipOrder', 'notifyCustomer']);
    expect(calls.map((c) => c.key)).toEqual(['o1:1:reserve', 'o1:2:charge', 'o1:3:ship', 'o1:4:notify']);
    expect(info.seq).toBe(5);
    expect((info.output as { outputs: Record<string, unknown> }).outputs.notify).toEqual({ step: 'notifyCustomer', order: 'o1' });
    const listed = await rt.list({ status: 'completed' });
    expect(listed.sagas.map((s) => s.id)).toEqual(['o1']);
    expect((await rt.list({ status: 'running' })).sagas).toEqual([]);
  });

  it('compensates top-down when a step fails terminally, undoing the failed step too', async () => {
    const { rt, calls } = await setup();
    await rt.start('order', { order: 'o2', fail: { shipOrder: 'terminal' } }, { id: 'o2' });
    const info = await rt.wait('o2', { timeoutMs: 5000 });
    expect(info.status).toBe('compensated');
    expect(calls.map((c) => `${c.step}:${c.outcome}`)).toEqual([
      'reserveStock:ok', 'chargeCard:ok', 'shipOrder:error', 'cancelShipment:ok', 'refundCard:ok', 'releaseStock:ok',
    ]);
    expect((info.context as { error: { code: string; step: string } }).error).toMatchObject({ code: 'REFUSED', step: 'ship' });
  });

  it('retries a retryable failure with backoff under a new key per attempt', async () => {
    const { rt, calls } = await setup();
    await rt.start('order', { order: 'o3', fail: { chargeCard: 'retryable:2' } }, { id: 'o3' });
    expect((await rt.wait('o3', { timeoutMs: 5000 })).status).toBe('completed');
    const charges = calls.filter((c) => c.step === 'chargeCard');
    expect(charges.map((c) => [c.attempt, c.outcome])).toEqual([[1, 'error'], [2, 'error'], [3, 'ok']]);
    expect(new Set(charges.map((c) => c.key)).size).toBe(3);
    const events = await rt.events('o3');
    expect(events.filter((e) => e.event?.type.startsWith('xstate.after.retry.charge')).length).toBe(2);
  });

  it('gives up after maxAttempts retryable failures and compensates', async () => {
    const { rt, calls } = await setup();
    await rt.start('order', { order: 'o4', fail: { chargeCard: 'retryable:9' } }, { id: 'o4' });
    expect((await rt.wait('o4', { timeoutMs: 5000 })).status).toBe('compensated');
    expect(calls.filter((c) => c.step === 'chargeCard').length).toBe(3);
  });

  it('stops at the first failing undo, retries it, then blocks; saga.retry resumes', async () => {
    const { rt, calls } = await setup();
    await rt.start('order', { order: 'o5', fail: { shipOrder: 'terminal' }, failUndo: { refundCard: '3' } }, { id: 'o5' });
    const blocked = await rt.wait('o5', { timeoutMs: 5000 });
    expect(blocked.status).toBe('blocked');
    // releaseStock must not run while refundCard (above it on the stack) has not been undone.
    expect(calls.some((c) => c.step === 'releaseStock')).toBe(false);
    expect(calls.filter((c) => c.step === 'refundCard').length).toBe(3);
    expect((await rt.list({ status: 'blocked' })).sagas.map((s) => s.id)).toEqual(['o5']);
    const r = await rt.send('o5', { type: 'saga.retry' });
    expect(r.accepted).toBe(true);
    expect((await rt.wait('o5', { timeoutMs: 5000 })).status).toBe('compensated');
    expect(calls.filter((c) => c.outcome === 'ok').map((c) => c.step).slice(-2)).toEqual(['refundCard', 'releaseStock']);
  });

  it('cancel aborts the step in flight and undoes it even though its outcome is unknown', async () => {
    const { rt, calls } = await setup();
    await rt.start('order', { order: 'o6', delayMs: { chargeCard: 10_000 } }, { id: 'o6' });
    await waitFor(() => calls.some((c) => c.step === 'reserveStock'));
    await new Promise((r) => setTimeout(r, 20));
    const sent = await rt.send('o6', { type: 'saga.cancel' });
    expect(sent.accepted).toBe(true);
    const info = await rt.wait('o6', { timeoutMs: 5000 });
    expect(info.status).toBe('cancelled');
    expect(calls.filter((c) => c.step === 'chargeCard').map((c) => c.outcome)).toEqual(['aborted']);
    expect(calls.filter((c) => c.outcome === 'ok').map((c) => c.step)).toEqual(['reserveStock', 'refundCard', 'releaseStock']);
  });

  it('start is idempotent for the same id and input, and refuses another input under that id', async () => {
    const { rt, calls } = await setup();
    const a = await rt.start('order', { order: 'same' }, { id: 'same' });
    expect(a.created).toBe(true);
    // Keys in another order are the same input.
    const b = await rt.start('order', { order: 'same' }, { id: 'same' });
    expect(b).toMatchObject({ id: 'same', created: false });
    await expect(rt.start('order', { order: 'other' }, { id: 'same' })).rejects.toMatchObject({ code: 'SAGA_EXISTS', details: { reason: 'input' } });
    await rt.wait('same', { timeoutMs: 5000 });
    const again = await rt.start('order', { order: 'same' }, { id: 'same' });
    expect(again).toMatchObject({ status: 'completed', created: false });
    expect(calls.filter((c) => c.step === 'reserveStock').length).toBe(1);
    expect((await rt.events('same'))[0]!.init).toMatchObject({ input: { order: 'same' } });
  });

  it('gives clear errors for unknown sagas, machines, bad ids, reserved and unhandled events', async () => {
    const { rt } = await setup();
    await expect(rt.get('nope')).rejects.toMatchObject({ code: 'UNKNOWN_SAGA' });
    await expect(rt.send('nope', { type: 'x' })).rejects.toMatchObject({ code: 'UNKNOWN_SAGA' });
    await expect(rt.start('nope', {})).rejects.toMatchObject({ code: 'UNKNOWN_MACHINE' });
    // An id that cannot be a saga id is a bad argument on every call, not an unknown saga.
    for (const bad of ['has.dot', '', 'a b', 'x'.repeat(129)]) {
      await expect(rt.start('order', {}, { id: bad })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', status: 400 });
      await expect(rt.get(bad)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', status: 400 });
      await expect(rt.send(bad, { type: 'x' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', status: 400 });
      await expect(rt.events(bad)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', status: 400 });
    }
    await expect(rt.start('order', { n: 1n })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await rt.start('order', { order: 'e', delayMs: { reserveStock: 200 } }, { id: 'e' });
    await expect(rt.send('e', { type: 'xstate.done.actor.reserve', output: 1 })).rejects.toMatchObject({ code: 'INVALID_EVENT' });
    const r = await rt.send('e', { type: 'not.handled' });
    expect(r).toMatchObject({ accepted: false, seq: 1 });
    expect((await rt.events('e')).length).toBe(1);
  });

  it('the fold of the journal equals the live snapshot', async () => {
    const { rt, ns } = await setup();
    const stores = await storesFor(ns);
    await rt.start('order', { order: 'f', fail: { chargeCard: 'retryable:1', shipOrder: 'terminal' } }, { id: 'f' });
    const live = await rt.wait('f', { timeoutMs: 5000 });
    const entries = await stores.journal.read('f');
    const records = entries.map((e) => decodeRecord(e.data, e));
    const init = records[0]!;
    if (!isInitRecord(init)) throw new Error('no init');
    let [s] = initialTransition(orderMachine, init.init.input);
    for (const r of records.slice(1)) if ('event' in r) [s] = transition(orderMachine, s, { ...r.event, at: r.at } as never);
    expect(s.value).toEqual(live.state);
    expect(s.context).toEqual(live.context);
  });
  it('a restarted coordinator re-runs only the step in flight, with the same key', async () => {
    const ns = freshNs();
    const callsA: StepCall[] = [];
    const a = await coordinator(ns, 'c1', callsA);
    await a.start('order', { order: 'r1', delayMs: { shipOrder: 60_000 } }, { id: 'r1' });
    // Charge's result journaled (a step reports ok before its result is appended), ship in flight.
    await until(async () => (await a.get('r1')).pending[0]?.id === 'ship');
    await a.close({ graceful: false }); // a crash: no flush, lease not released
    const callsB: StepCall[] = [];
    const b = await coordinator(ns, 'c1', callsB);
    const report = await b.recover();
    expect(report.recovered).toBe(1);
    callsB.length = 0;
    // The ship step is re-run with the original key; its long delay is the original input,
    // so speed it along by sending nothing: just check the key, then cancel to finish.
    await until(() => b.loadedSagaIds().includes('r1'));
    const info = await b.get('r1');
    expect(info.pending).toEqual([{ id: 'ship', src: 'shipOrder', attempt: 1, key: 'r1:3:ship' }]);
    expect(callsA.filter((c) => c.outcome === 'ok').map((c) => c.step)).toEqual(['reserveStock', 'chargeCard']);
  });

  it('a second coordinator takes over once the owner lease lapses; the old copy is fenced', async () => {
    const ns = freshNs();
    const callsA: StepCall[] = [];
    const a = await coordinator(ns, 'a', callsA, { leaseTtlMs: 300 });
    await a.start('order', { order: 't1', delayMs: { shipOrder: 1500 } }, { id: 't1' });
    await until(() => callsA.filter((c) => c.outcome === 'ok').length === 2);
    // Coordinator a stalls: it stops renewing but its ship step is still running.
    await a.coordinatorLease.close(false);
    const callsB: StepCall[] = [];
    const b = await coordinator(ns, 'b', callsB, { leaseTtlMs: 300 });
    expect((await b.recover()).skippedLiveOwner).toBe(1);
    await new Promise((r) => setTimeout(r, 350));
    expect((await b.recover()).recovered).toBe(1);
    const done = await b.wait('t1', { timeoutMs: 10_000 });
    expect(done.status).toBe('completed');
    // a's ship finished too (at-least-once), but its result was never journaled.
    await until(() => callsA.some((c) => c.step === 'shipOrder' && c.outcome === 'ok'), 5000);
    await until(() => !a.loadedSagaIds().includes('t1'));
    const results = await resultEvents(ns, 't1');
    expect(new Set(results).size).toBe(results.length);
    expect(callsB.filter((c) => c.step === 'shipOrder').map((c) => c.key)).toEqual(['t1:3:ship']);
    expect((await (await storesFor(ns)).index.get('t1'))?.record).toMatchObject({ owner: 'b', epoch: 2, status: 'completed' });
  });

  it('two coordinators recovering a dead owner take each saga exactly once', async () => {
    const ns = freshNs();
    const callsA: StepCall[] = [];
    const a = await coordinator(ns, 'dead', callsA, { leaseTtlMs: 200 });
    const ids = Array.from({ length: 20 }, (_, i) => `m${i}`);
    for (const id of ids) await a.start('order', { order: id, delayMs: { chargeCard: 60_000 } }, { id });
    await until(() => callsA.filter((c) => c.outcome === 'ok').length === 20);
    await a.close(); // releases its lease: others may take over at once
    const calls: StepCall[] = [];
    const [b, c] = await Promise.all([coordinator(ns, 'b', calls), coordinator(ns, 'c', calls)]);
    const [rb, rc] = await Promise.all([b.recover(), c.recover()]);
    expect(rb.recovered + rc.recovered).toBe(20);
    expect(rb.lostRace + rc.lostRace + rb.skippedLiveOwner + rc.skippedLiveOwner).toBeLessThanOrEqual(20);
    expect(new Set([...b.loadedSagaIds(), ...c.loadedSagaIds()]).size).toBe(20);
    expect(b.loadedSagaIds().filter((id) => c.loadedSagaIds().includes(id))).toEqual([]);
    // Each charge is in flight once, under its original key (entry 2 spawned it).
    const pending = await Promise.all(ids.map(async (id) => (await (b.loadedSagaIds().includes(id) ? b : c).get(id)).pending));
    expect(pending.map((p) => p.map((x) => x.key))).toEqual(ids.map((id) => [`${id}:2:charge`]));
  });

  it('re-arms a backoff timer to its original deadline after a restart', async () => {
    const slow = defineSaga({
      id: 'slow',
      retry: { initialDelayMs: 2000, maxDelayMs: 2000, jitter: 0, maxAttempts: 2 },
      steps: [{ name: 'flaky', run: 'flaky' }],
    });
    let failures = 0;
    const binding: SagaBinding = {
      id: 'slow', version: 1, machine: slow,
      steps: { flaky: async () => { if (failures++ === 0) throw new Error('transient'); return 'ok'; } },
    };
    const ns = freshNs();
    const a = await createRuntime({ machines: [binding], stores: await storesFor(ns), owner: 'x', recoverOnStart: false, recoverIntervalMs: 0, leaseTtlMs: 300 });
    runtimes.push(a);
    await a.start('slow', {}, { id: 'tm' });
    await until(async () => (await a.get('tm')).timers.length === 1);
    const dueAt = (await a.get('tm')).timers[0]!.dueAt;
    await new Promise((r) => setTimeout(r, 1000));
    await a.close({ graceful: false });
    const b = await createRuntime({ machines: [binding], stores: await storesFor(ns), owner: 'x', recoverOnStart: false, recoverIntervalMs: 0, leaseTtlMs: 300 });
    runtimes.push(b);
    await b.recover();
    expect((await b.get('tm')).timers).toEqual([{ id: expect.stringContaining('retry.flaky'), dueAt }]);
    const done = await b.wait('tm', { timeoutMs: 10_000 });
    expect(done.status).toBe('completed');
    const firing = (await b.events('tm')).find((e) => e.event?.type.startsWith('xstate.after.'))!;
    // Fired at the deadline set before the restart, not 2 s after the restart.
    expect(firing.at).toBeGreaterThanOrEqual(dueAt);
    expect(firing.at).toBeLessThan(dueAt + 900);
  });
  });
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 5));
  }
}
