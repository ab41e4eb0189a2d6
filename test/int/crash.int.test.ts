/**
 * Crash tests: a real coordinator process (test/fixtures/crash-coordinator.ts) is SIGKILLed —
 * by the test, or by itself at a named crash point — and restarted under the same owner. The
 * journal must come out whole (no entry lost or doubled), steps whose results are journaled
 * must never run again, and a step whose result was not journaled must re-run with the same
 * idempotency key. The test process only reads the sagas (an observer runtime).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SLOW_RETRY_DELAY_MS } from '../fixtures/slow-retry-saga.js';
import type { JournalView } from '../../src/runtime/runtime.js';
import type { SagaInfo } from '../../src/runtime/types.js';
import { killAllCoordinators, scenario, until, type CallRecord } from '../helpers/coordinator-proc.js';
import { gate } from '../helpers/gate.js';
import { doneActors, expectWellFormed, resultsOf, takeoversOf } from '../helpers/journal-checks.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';

let server: NatsServerHandle;

beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await killAllCoordinators();
  await server?.stop();
});

const STEP_OF: Record<string, string> = { reserve: 'reserveStock', charge: 'chargeCard', ship: 'shipOrder', notify: 'notifyCustomer' };
const ORDER_STEPS = Object.values(STEP_OF);
const show = (calls: readonly CallRecord[]): string[] => calls.map((c) => `${c.step}:${c.outcome}`);
const started = (calls: readonly CallRecord[], step: string): CallRecord[] => calls.filter((c) => c.step === step && c.outcome === 'start');
const OWNER = 'crashy';
/**
 * A restart under the same owner waits out the dead process's lease (it might be alive and
 * merely stalled): keep it short.
 */
const LEASE_TTL_MS = 1_500;

describe('a coordinator killed with SIGKILL and restarted under the same owner', () => {
  it('re-runs only the step in flight, with the same idempotency key, and completes the saga', async (ctx) => {
    const { observer, coordinator } = await scenario(ctx, server.url);
    const id = 'mid-step';
    // The charge is held until the first coordinator is dead.
    const charge = gate(ctx);
    const first = await coordinator({ owner: OWNER, leaseTtlMs: LEASE_TTL_MS, start: [{ id, input: { order: id, holdUntil: { chargeCard: charge.path } } }] });
    await until(() => started(first.calls(), 'chargeCard').length > 0, 'chargeCard to start');
    expect((await first.kill()).signal).toBe('SIGKILL');
    charge.open();

    const before = first.calls();
    expect(show(before)).toEqual(['reserveStock:start', 'reserveStock:ok', 'chargeCard:start']);
    const inFlight = started(before, 'chargeCard')[0]!;
    expect(inFlight.key).toBe(`${id}:2:charge`);

    const second = await coordinator({ owner: OWNER, leaseTtlMs: LEASE_TTL_MS });
    const info = await observer.wait(id, { timeoutMs: 30_000 });
    expect(info.status).toBe('completed');

    const after = second.calls();
    expect(show(after)).toEqual([
      'chargeCard:start', 'chargeCard:ok', 'shipOrder:start', 'shipOrder:ok', 'notifyCustomer:start', 'notifyCustomer:ok',
    ]);
    // The interrupted attempt is re-run, not retried: same key, same attempt number.
    expect(started(after, 'chargeCard').map((c) => [c.key, c.attempt])).toEqual([[inFlight.key, 1]]);

    const journal = await observer.events(id);
    expectWellFormed(journal);
    expect(doneActors(journal)).toEqual(['reserve', 'charge', 'ship', 'notify']);
    // A restart under the same owner fences its previous incarnation with one marker before
    // acting (that process might have been stalled, not dead): a claim of its own saga.
    expect(takeoversOf(journal)).toMatchObject([{ owner: OWNER, from: OWNER, entryNo: 3 }]);
    expect(journal.length).toBe(6);
  });
});

describe('crash points around journaling a step result', () => {
  // Each point is reached when the result of `charge` comes in; the child kills itself there.
  // `during-append` splits in two, each forced: the append is lost before a byte of it left the
  // process, or it landed and its ack arrived but the saga never saw it.
  const points = ['before-append', 'during-append-lost', 'during-append-landed', 'after-append', 'after-act'] as const;

  it.concurrent.for(points)('%s: the restart completes the saga, journals nothing twice and re-runs no journaled step', async (point, ctx) => {
    const { observer, spawn, coordinator } = await scenario(ctx, server.url);
    const id = `cp-${point}`;
    const first = spawn({
      owner: OWNER,
      leaseTtlMs: LEASE_TTL_MS,
      crashAt: `${point}:xstate.done.actor.charge`,
      start: [{ id, input: { order: id, delayMs: { chargeCard: 100, shipOrder: 100 } } }],
    });
    expect((await first.exited).signal).toBe('SIGKILL');

    const atCrash = await observer.events(id);
    const pendingAtCrash = (await observer.get(id)).pending.map((p) => ({ src: p.src, key: p.key }));
    const doneAtCrash = doneActors(atCrash);
    const before = first.calls();
    expect(before.filter((c) => c.outcome === 'ok').map((c) => c.step)).toEqual(['reserveStock', 'chargeCard']);
    expectWellFormed(atCrash);
    switch (point) {
      case 'before-append':
        // Nothing of the charge result reached the journal.
        expect(doneAtCrash).toEqual(['reserve']);
        break;
      case 'during-append-lost':
        // Handed to the client, never written to the socket: the server never had it.
        expect(doneAtCrash).toEqual(['reserve']);
        break;
      case 'during-append-landed':
        // Stored and acknowledged, but the process died before it read the ack.
        expect(doneAtCrash).toEqual(['reserve', 'charge']);
        expect(started(before, 'shipOrder')).toEqual([]);
        break;
      case 'after-append':
        expect(doneAtCrash).toEqual(['reserve', 'charge']);
        // Killed before acting on it: the next step never started.
        expect(started(before, 'shipOrder')).toEqual([]);
        break;
      case 'after-act':
        expect(doneAtCrash).toEqual(['reserve', 'charge']);
        // Acted on: the next step had started when the process died.
        expect(started(before, 'shipOrder').map((c) => c.key)).toEqual([`${id}:3:ship`]);
        break;
    }
    expect(pendingAtCrash).toEqual(
      doneAtCrash.includes('charge') ? [{ src: 'shipOrder', key: `${id}:3:ship` }] : [{ src: 'chargeCard', key: `${id}:2:charge` }],
    );

    const second = await coordinator({ owner: OWNER, leaseTtlMs: LEASE_TTL_MS });
    expect((await observer.wait(id, { timeoutMs: 30_000 })).status).toBe('completed');
    const after = second.calls();
    const journal = await observer.events(id);
    expectWellFormed(journal);
    // init, four results and the restart's marker
    expect(journal.length).toBe(6);
    expect(doneActors(journal)).toEqual(['reserve', 'charge', 'ship', 'notify']);
    expect(takeoversOf(journal)).toMatchObject([{ owner: OWNER, from: OWNER, entryNo: doneAtCrash.length + 2 }]);

    // The restart runs exactly the steps not journaled as done, the first under the key the
    // journal holds for it; nothing journaled as done runs again.
    const notDone = ORDER_STEPS.filter((s) => !doneAtCrash.some((a) => STEP_OF[a] === s));
    expect(after.filter((c) => c.outcome !== 'start').map((c) => `${c.step}:${c.outcome}`)).toEqual(notDone.map((s) => `${s}:ok`));
    expect(started(after, pendingAtCrash[0]!.src).map((c) => c.key)).toEqual([pendingAtCrash[0]!.key]);
    // Every run of a step, in either process, used the key its journaled result carries.
    const keyOf = new Map(resultsOf(journal).map((r) => {
      const [type, key] = r.split('|') as [string, string];
      return [STEP_OF[type.slice('xstate.done.actor.'.length)]!, key];
    }));
    for (const c of [...before, ...after]) expect(c.key, `${c.step} in ${c.pid}`).toBe(keyOf.get(c.step));
  });
});

describe('crashes during compensation and backoff', () => {
  it('a crash during an undo step: the restart finishes compensating, re-running only that undo with its key', async (ctx) => {
    const { observer, coordinator } = await scenario(ctx, server.url);
    const id = 'comp';
    // The refund is held until the first coordinator is dead.
    const refund = gate(ctx);
    const input = { order: id, fail: { shipOrder: 'terminal' }, holdUntil: { refundCard: refund.path } };
    const first = await coordinator({ owner: OWNER, leaseTtlMs: LEASE_TTL_MS, start: [{ id, input }] });
    await until(() => started(first.calls(), 'refundCard').length > 0, 'refundCard to start');
    await first.kill();
    refund.open();

    const before = first.calls();
    expect(show(before)).toEqual([
      'reserveStock:start', 'reserveStock:ok', 'chargeCard:start', 'chargeCard:ok', 'shipOrder:start', 'shipOrder:error',
      'cancelShipment:start', 'cancelShipment:ok', 'refundCard:start',
    ]);

    const second = await coordinator({ owner: OWNER, leaseTtlMs: LEASE_TTL_MS });
    const info = await observer.wait(id, { timeoutMs: 30_000 });
    expect(info.status).toBe('compensated');
    expect((info.context as { error: { step: string; code: string } }).error).toMatchObject({ step: 'ship', code: 'REFUSED' });

    const after = second.calls();
    expect(show(after)).toEqual(['refundCard:start', 'refundCard:ok', 'releaseStock:start', 'releaseStock:ok']);
    expect(started(after, 'refundCard')[0]!.key).toBe(started(before, 'refundCard')[0]!.key);
    // Every step that started was undone exactly once (the one that failed included), and an
    // undo that ran twice ran under one key.
    const all = [...before, ...after];
    for (const undo of ['cancelShipment', 'refundCard', 'releaseStock']) {
      expect(all.filter((c) => c.step === undo && c.outcome === 'ok').length, undo).toBe(1);
      expect(new Set(started(all, undo).map((c) => c.key)).size, undo).toBe(1);
    }

    const journal = await observer.events(id);
    expectWellFormed(journal);
    expect(doneActors(journal)).toEqual(['reserve', 'charge', 'undo.ship', 'undo.charge', 'undo.reserve']);
    expect(resultsOf(journal).filter((r) => r.startsWith('xstate.error.'))).toEqual([`xstate.error.actor.ship|${id}:3:ship`]);
    expect(takeoversOf(journal)).toMatchObject([{ owner: OWNER, from: OWNER }]);
    expect(journal.length).toBe(8);
  });

  it('a crash while a retry timer is armed: the restart fires it at its original deadline, not before', async (ctx) => {
    const { observer, coordinator } = await scenario(ctx, server.url);
    const id = 'backoff';
    const input = { order: id, failAttempts: { chargeCard: 1 } };
    const noise = { op: 'send', sagaId: id, event: { type: 'not.handled' } } as const;
    const firingsOf = (journal: readonly JournalView[]): JournalView[] => journal.filter((e) => typeof e.event?.timerId === 'string');
    const first = await coordinator({ owner: OWNER, leaseTtlMs: LEASE_TTL_MS, start: [{ id, machine: 'slowOrder', input }] });
    let timers: ReadonlyArray<{ id: string; dueAt: number }> = [];
    await until(async () => (timers = (await observer.get(id)).timers).length === 1, 'the retry timer to be armed');
    // An input queued behind any firing that was due at once: it has been journaled by now.
    expect(await first.request(noise)).toMatchObject({ accepted: false });
    await first.kill();

    const armed = timers[0]!;
    expect(armed.id).toContain('retry.charge');
    const atCrash = await observer.events(id);
    const failure = atCrash.find((e) => e.event?.type === 'xstate.error.actor.charge')!;
    // The deadline is the failure's journaled time plus the policy's delay (an hour); it had
    // not fired.
    expect(armed.dueAt).toBe(failure.at + SLOW_RETRY_DELAY_MS);
    expect(firingsOf(atCrash)).toEqual([]);
    expect(show(first.calls())).toEqual(['reserveStock:start', 'reserveStock:ok', 'chargeCard:start', 'chargeCard:error']);

    // Restarted long before the deadline: the restarted coordinator holds the timer with the
    // deadline the journal gives (not one computed from the restart) and does not fire it.
    const second = await coordinator({ owner: OWNER, leaseTtlMs: LEASE_TTL_MS });
    await second.request({ op: 'recover' });
    expect(await second.request({ op: 'loaded' })).toEqual([id]);
    expect(await second.request(noise)).toMatchObject({ accepted: false });
    expect((await second.request<SagaInfo>({ op: 'get', sagaId: id })).timers).toEqual([armed]);
    expect(firingsOf(await observer.events(id))).toEqual([]);
    await second.kill();
    expect(second.calls()).toEqual([]);

    // Restarted past the deadline (its clock an hour and a minute ahead): the timer is overdue
    // and fires at once. One re-armed with its whole delay again would not fire in this test.
    const third = await coordinator({ owner: OWNER, leaseTtlMs: LEASE_TTL_MS, clockSkewMs: SLOW_RETRY_DELAY_MS + 60_000 });
    expect((await observer.wait(id, { timeoutMs: 30_000 })).status).toBe('completed');

    const journal = await observer.events(id);
    expectWellFormed(journal);
    const firings = firingsOf(journal);
    expect(firings.map((e) => e.event!.timerId)).toEqual([armed.id]);
    const firing = firings[0]!;
    // Right after the failure come the two restarts' takeover markers, then the firing.
    expect(journal.filter((e) => e.entryNo > failure.entryNo && e.entryNo < firing.entryNo).map((e) => e.takeover)).toMatchObject([
      { owner: OWNER, from: OWNER },
      { owner: OWNER, from: OWNER },
    ]);
    expect(firing.entryNo).toBe(failure.entryNo + 3);
    expect(firing.at).toBeGreaterThanOrEqual(armed.dueAt);
    // The retry was spawned by the firing entry: attempt 2, under that entry's key.
    const after = third.calls();
    expect(started(after, 'chargeCard').map((c) => [c.attempt, c.key])).toEqual([[2, `${id}:${firing.entryNo}:charge`]]);
    expect(after.filter((c) => c.outcome !== 'start').map((c) => `${c.step}:${c.outcome}`)).toEqual([
      'chargeCard:ok', 'shipOrder:ok', 'notifyCustomer:ok',
    ]);
    expect(doneActors(journal)).toEqual(['reserve', 'charge', 'ship', 'notify']);
    expect(takeoversOf(journal)).toHaveLength(2);
  });
});
