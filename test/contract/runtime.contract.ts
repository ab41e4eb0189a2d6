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
import type { SagaBinding, StepFn } from '../../src/runtime/types.js';
import { orderBinding, orderMachine, type StepCall } from '../fixtures/order-saga.js';
import { crash } from '../helpers/lease.js';

/** Returns fresh store objects on namespace `ns`: two calls with one `ns` share their data. */
export type StoresFactory = (ns: string) => Promise<RuntimeStores>;

/**
 * How long a test waits for a condition (or a saga) before giving up. Generous, because the
 * machine may be loaded: a wait ends as soon as its condition holds, and tests assert what
 * happened, never how long it took.
 */
const WAIT_MS = 20_000;

/** The order binding with `shipOrder` held until `release` resolves (in this process only). */
function shipHeldUntil(release: Promise<void>, record: (c: StepCall) => void): SagaBinding {
  const binding = orderBinding(record);
  const ship = binding.steps.shipOrder!;
  const held: StepFn = async (input, ctx) => {
    await release;
    return ship(input, ctx);
  };
  return { ...binding, steps: { ...binding.steps, shipOrder: held } };
}

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

  const until = async (cond: () => boolean | Promise<boolean>, ms = WAIT_MS): Promise<void> => {
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
    const info = await rt.wait('o1', { timeoutMs: WAIT_MS });
    expect(info.status).toBe('completed');
    expect(okSteps(calls)).toEqual(['reserveStock', 'chargeCard', 'shipOrder', 'notifyCustomer']);
    expect(calls.map((c) => c.key)).toEqual(['o1:1:reserve', 'o1:2:charge', 'o1:3:ship', 'o1:4:notify']);
    expect(info.entryNo).toBe(5);
    expect((info.output as { outputs: Record<string, unknown> }).outputs.notify).toEqual({ step: 'notifyCustomer', order: 'o1' });
    const listed = await rt.list({ status: 'completed' });
    expect(listed.sagas.map((s) => s.id)).toEqual(['o1']);
    expect((await rt.list({ status: 'running' })).sagas).toEqual([]);
  });

  it('compensates top-down when a step fails terminally, undoing the failed step too', async () => {
    const { rt, calls } = await setup();
    await rt.start('order', { order: 'o2', fail: { shipOrder: 'terminal' } }, { id: 'o2' });
    const info = await rt.wait('o2', { timeoutMs: WAIT_MS });
    expect(info.status).toBe('compensated');
    expect(calls.map((c) => `${c.step}:${c.outcome}`)).toEqual([
      'reserveStock:ok', 'chargeCard:ok', 'shipOrder:error', 'cancelShipment:ok', 'refundCard:ok', 'releaseStock:ok',
    ]);
    expect((info.context as { error: { code: string; step: string } }).error).toMatchObject({ code: 'REFUSED', step: 'ship' });
  });

  it('retries a retryable failure with backoff under a new key per attempt', async () => {
    const { rt, calls } = await setup();
    await rt.start('order', { order: 'o3', fail: { chargeCard: 'retryable:2' } }, { id: 'o3' });
    expect((await rt.wait('o3', { timeoutMs: WAIT_MS })).status).toBe('completed');
    const charges = calls.filter((c) => c.step === 'chargeCard');
    expect(charges.map((c) => [c.attempt, c.outcome])).toEqual([[1, 'error'], [2, 'error'], [3, 'ok']]);
    expect(new Set(charges.map((c) => c.key)).size).toBe(3);
    const events = await rt.events('o3');
    expect(events.filter((e) => e.event?.type.startsWith('xstate.after.retry.charge')).length).toBe(2);
  });

  it('gives up after maxAttempts retryable failures and compensates', async () => {
    const { rt, calls } = await setup();
    await rt.start('order', { order: 'o4', fail: { chargeCard: 'retryable:9' } }, { id: 'o4' });
    expect((await rt.wait('o4', { timeoutMs: WAIT_MS })).status).toBe('compensated');
    expect(calls.filter((c) => c.step === 'chargeCard').length).toBe(3);
  });

  it('stops at the first failing undo, retries it, then blocks; saga.retry resumes', async () => {
    const { rt, calls } = await setup();
    await rt.start('order', { order: 'o5', fail: { shipOrder: 'terminal' }, failUndo: { refundCard: '3' } }, { id: 'o5' });
    const blocked = await rt.wait('o5', { timeoutMs: WAIT_MS });
    expect(blocked.status).toBe('blocked');
    // releaseStock must not run while refundCard (above it on the stack) has not been undone.
    expect(calls.some((c) => c.step === 'releaseStock')).toBe(false);
    expect(calls.filter((c) => c.step === 'refundCard').length).toBe(3);
    expect((await rt.list({ status: 'blocked' })).sagas.map((s) => s.id)).toEqual(['o5']);
    const r = await rt.send('o5', { type: 'saga.retry' });
    expect(r.accepted).toBe(true);
    expect((await rt.wait('o5', { timeoutMs: WAIT_MS })).status).toBe('compensated');
    expect(calls.filter((c) => c.outcome === 'ok').map((c) => c.step).slice(-2)).toEqual(['refundCard', 'releaseStock']);
  });

  it('cancel aborts the step in flight and undoes it even though its outcome is unknown', async () => {
    const { rt, calls } = await setup();
    await rt.start('order', { order: 'o6', delayMs: { chargeCard: 60_000 } }, { id: 'o6' });
    // Cancel while the charge is in flight: its start is journaled, its result never comes.
    await until(async () => (await rt.get('o6')).pending.some((p) => p.key === 'o6:2:charge'));
    const sent = await rt.send('o6', { type: 'saga.cancel' });
    expect(sent.accepted).toBe(true);
    const info = await rt.wait('o6', { timeoutMs: WAIT_MS });
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
    await rt.wait('same', { timeoutMs: WAIT_MS });
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
    // reserve is held (until close) so that the saga is still at entry 1 below.
    await rt.start('order', { order: 'e', delayMs: { reserveStock: 600_000 } }, { id: 'e' });
    await expect(rt.send('e', { type: 'xstate.done.actor.reserve', output: 1 })).rejects.toMatchObject({ code: 'INVALID_EVENT' });
    const r = await rt.send('e', { type: 'not.handled' });
    expect(r).toMatchObject({ accepted: false, entryNo: 1 });
    expect((await rt.events('e')).length).toBe(1);
  });

  it('the fold of the journal equals the live snapshot', async () => {
    const { rt, ns } = await setup();
    const stores = await storesFor(ns);
    await rt.start('order', { order: 'f', fail: { chargeCard: 'retryable:1', shipOrder: 'terminal' } }, { id: 'f' });
    const live = await rt.wait('f', { timeoutMs: WAIT_MS });
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
    // The first coordinator's ship never finishes; the restarted one's finishes at once, so
    // that the whole re-run is seen.
    const a = await coordinator(ns, 'c1', callsA, { machines: [shipHeldUntil(new Promise(() => undefined), (c) => callsA.push(c))] });
    await a.start('order', { order: 'r1' }, { id: 'r1' });
    await until(async () => (await a.get('r1')).pending.some((p) => p.key === 'r1:3:ship'));
    await crash(a, await storesFor(ns)); // a crash: no flush, lease not released (then lapsed)
    expect(callsA.map((c) => [c.step, c.key, c.attempt, c.outcome])).toEqual([
      ['reserveStock', 'r1:1:reserve', 1, 'ok'],
      ['chargeCard', 'r1:2:charge', 1, 'ok'],
    ]);

    const callsB: StepCall[] = [];
    const b = await coordinator(ns, 'c1', callsB);
    expect(await b.recover()).toMatchObject({ recovered: 1, failed: 0 });
    const done = await b.wait('r1', { timeoutMs: WAIT_MS });
    expect(done.status).toBe('completed');
    // The step in flight ran again as the same attempt, under the key of the entry that
    // spawned it; the steps whose results were journaled did not run again.
    // (Entry 4 is the restart's takeover marker: notify is spawned by entry 5.)
    expect(callsB.map((c) => [c.step, c.key, c.attempt, c.outcome])).toEqual([
      ['shipOrder', 'r1:3:ship', 1, 'ok'],
      ['notifyCustomer', 'r1:5:notify', 1, 'ok'],
    ]);
    expect(await resultEvents(ns, 'r1')).toEqual([
      'xstate.done.actor.reserve|r1:1:reserve',
      'xstate.done.actor.charge|r1:2:charge',
      'xstate.done.actor.ship|r1:3:ship',
      'xstate.done.actor.notify|r1:5:notify',
    ]);
  });

  it('a second coordinator takes over once the owner lease lapses; the old copy is fenced', async () => {
    const ns = freshNs();
    const callsA: StepCall[] = [];
    let releaseShipOnA!: () => void;
    const shipOnA = new Promise<void>((r) => (releaseShipOnA = r));
    const a = await coordinator(ns, 'a', callsA, { leaseTtlMs: 60_000, machines: [shipHeldUntil(shipOnA, (c) => callsA.push(c))] });
    await a.start('order', { order: 't1' }, { id: 't1' });
    await until(async () => (await a.get('t1')).pending.some((p) => p.key === 't1:3:ship'));
    // Coordinator a stalls: it stops renewing but its ship step is still running.
    await a.coordinatorLease.close(false);
    // b's clock is moved past a's lease instead of waiting for it to lapse, so that b's first
    // look comes before the expiry and its second after it, however slow the machine is.
    let skewMs = 0;
    const callsB: StepCall[] = [];
    const b = await coordinator(ns, 'b', callsB, { leaseTtlMs: 60_000, now: () => Date.now() + skewMs });
    expect(await b.recover()).toMatchObject({ recovered: 0, skippedLiveOwner: 1 });
    skewMs = 61_000;
    // b's own lease moves with its clock: it renews before it claims anything (a renewal that
    // finds its lease lapsed runs a recovery pass of its own, which may take t1 first).
    await b.coordinatorLease.renew();
    const second = await b.recover();
    expect(second.skippedLiveOwner).toBe(0);
    const done = await b.wait('t1', { timeoutMs: WAIT_MS });
    expect(done.status).toBe('completed');
    // a's ship finishes too (at-least-once), after b took over: its result is refused and a
    // stops its copy.
    releaseShipOnA();
    await until(() => callsA.some((c) => c.step === 'shipOrder' && c.outcome === 'ok'));
    await until(() => !a.loadedSagaIds().includes('t1'));
    expect(await resultEvents(ns, 't1')).toEqual([
      'xstate.done.actor.reserve|t1:1:reserve',
      'xstate.done.actor.charge|t1:2:charge',
      'xstate.done.actor.ship|t1:3:ship',
      'xstate.done.actor.notify|t1:5:notify',
    ]);
    expect(callsB.map((c) => [c.step, c.key, c.outcome])).toEqual([
      ['shipOrder', 't1:3:ship', 'ok'],
      ['notifyCustomer', 't1:5:notify', 'ok'],
    ]);
    expect((await b.events('t1')).map((e) => e.takeover)).toEqual([undefined, undefined, undefined, { owner: 'b', from: 'a', epoch: 2 }, undefined, undefined]);
    expect((await (await storesFor(ns)).index.get('t1'))?.record).toMatchObject({ owner: 'b', epoch: 2, status: 'completed' });
  });

  it('two coordinators recovering a dead owner take each saga exactly once', async () => {
    const ns = freshNs();
    const callsA: StepCall[] = [];
    const a = await coordinator(ns, 'dead', callsA, { leaseTtlMs: 200 });
    const ids = Array.from({ length: 20 }, (_, i) => `m${i}`);
    for (const id of ids) await a.start('order', { order: id, delayMs: { chargeCard: 600_000 } }, { id });
    await until(() => callsA.filter((c) => c.outcome === 'ok').length === 20);
    await a.close(); // releases its lease: others may take over at once
    const calls: StepCall[] = [];
    const [b, c] = await Promise.all([coordinator(ns, 'b', calls), coordinator(ns, 'c', calls)]);
    const [rb, rc] = await Promise.all([b.recover(), c.recover()]);
    // Each lists all 20 and takes some; every saga one did not take (another had taken it
    // first, or owns it now) is one the other took.
    const nothingElse = { listed: 20, repaired: 0, skippedLoaded: 0, skippedForeignMachine: 0, failed: 0 };
    expect(rb).toMatchObject(nothingElse);
    expect(rc).toMatchObject(nothingElse);
    expect(rb.recovered + rc.recovered).toBe(20);
    expect(rb.lostRace + rb.skippedLiveOwner).toBe(rc.recovered);
    expect(rc.lostRace + rc.skippedLiveOwner).toBe(rb.recovered);
    expect(b.loadedSagaIds().length).toBe(rb.recovered);
    expect(c.loadedSagaIds().length).toBe(rc.recovered);
    expect([...b.loadedSagaIds(), ...c.loadedSagaIds()].sort()).toEqual([...ids].sort());
    // Each charge is in flight once, under its original key (entry 2 spawned it).
    const pending = await Promise.all(ids.map(async (id) => (await (b.loadedSagaIds().includes(id) ? b : c).get(id)).pending));
    expect(pending.map((p) => p.map((x) => x.key))).toEqual(ids.map((id) => [`${id}:2:charge`]));
  });

  it('re-arms a backoff timer to its original deadline after a restart', async () => {
    // An hour's backoff: the coordinators' clocks are moved instead of waiting for it.
    const HOUR = 3_600_000;
    const slow = defineSaga({
      id: 'slow',
      retry: { initialDelayMs: HOUR, maxDelayMs: HOUR, jitter: 0, maxAttempts: 2 },
      steps: [{ name: 'flaky', run: 'flaky' }],
    });
    const calls: Array<{ key: string; attempt: number }> = [];
    const binding: SagaBinding = {
      id: 'slow', version: 1, machine: slow,
      steps: {
        flaky: async (_input, ctx) => {
          calls.push({ key: ctx.idempotencyKey, attempt: ctx.attempt });
          if (ctx.attempt === 1) throw new Error('transient');
          return 'ok';
        },
      },
    };
    const ns = freshNs();
    const runtime = async (skewMs: number): Promise<Runtime> => {
      const rt = await createRuntime({
        machines: [binding], stores: await storesFor(ns), owner: 'x', recoverOnStart: false, recoverIntervalMs: 0, now: () => Date.now() + skewMs,
      });
      runtimes.push(rt);
      return rt;
    };
    const firings = async (rt: Runtime) => (await rt.events('tm')).filter((e) => typeof e.event?.timerId === 'string');
    // Gives a timer armed too early every chance to have fired: one turn of the timers (one
    // armed with no delay fires before this one), then an input queued behind such a firing
    // in the saga's mailbox.
    const settle = async (rt: Runtime): Promise<void> => {
      await new Promise((r) => setTimeout(r, 0));
      expect(await rt.send('tm', { type: 'not.handled' })).toMatchObject({ accepted: false });
    };

    const a = await runtime(0);
    await a.start('slow', {}, { id: 'tm' });
    await until(async () => (await a.get('tm')).timers.length === 1);
    const armed = (await a.get('tm')).timers[0]!;
    const failure = (await a.events('tm')).find((e) => e.event?.type === 'xstate.error.actor.flaky')!;
    expect(armed).toEqual({ id: expect.stringContaining('retry.flaky'), dueAt: failure.at + HOUR });
    await settle(a);
    expect(await firings(a)).toEqual([]);
    await crash(a, await storesFor(ns));

    // Restarted before the deadline: the timer is re-armed to the deadline the journal gives,
    // not to one computed from the restart, and it has not fired.
    const b = await runtime(0);
    expect(await b.recover()).toMatchObject({ recovered: 1 });
    await settle(b);
    expect((await b.get('tm')).timers).toEqual([armed]);
    expect(await firings(b)).toEqual([]);
    await crash(b, await storesFor(ns));

    // Restarted past the deadline (its clock reads an hour and a minute later): the timer is
    // overdue and fires at once. A timer armed with its full delay again would not fire
    // within the test.
    const c = await runtime(HOUR + 60_000);
    expect(await c.recover()).toMatchObject({ recovered: 1 });
    expect((await c.wait('tm', { timeoutMs: WAIT_MS })).status).toBe('completed');
    const fired = await firings(c);
    expect(fired.map((e) => e.event?.timerId as string)).toEqual([armed.id]);
    expect(fired[0]!.at).toBeGreaterThanOrEqual(armed.dueAt);
    // The retry was spawned by the firing entry: attempt 2 under that entry's key.
    expect(calls).toEqual([
      { key: 'tm:1:flaky', attempt: 1 },
      { key: `tm:${fired[0]!.entryNo}:flaky`, attempt: 2 },
    ]);
  });
  });
}
