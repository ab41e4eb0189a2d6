/**
 * A NATS outage under a live coordinator: with 50 sagas in flight the nats-server is SIGKILLed
 * and restarted a second later on the same port and store. Step results that came in during
 * the outage must be journaled once the server is back, and every saga must complete with a
 * whole journal: no entry lost, none doubled, each step run and its result journaled once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { orderBinding, type StepCall } from '../fixtures/order-saga.js';
import { until } from '../helpers/coordinator-proc.js';
import { doneActors, expectWellFormed, resultsOf, takeoversOf } from '../helpers/journal-checks.js';
import { startNatsServer, type NatsServerHandle } from '../helpers/nats-server.js';

const SAGAS = 50;
const STEPS = [['reserve', 'reserveStock'], ['charge', 'chargeCard'], ['ship', 'shipOrder'], ['notify', 'notifyCustomer']] as const;

let server: NatsServerHandle;
let rt: Runtime | undefined;

beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await rt?.close();
  await server?.stop();
});

describe('a coordinator across a nats-server crash', () => {
  it('completes every saga in flight, journaling each step result exactly once', async () => {
    // 0: server up, 1: killed, 2: restarted.
    let phase = 0;
    const calls: Array<StepCall & { phase: number }> = [];
    rt = await createRuntime({
      servers: server.url,
      namespace: 'outage',
      owner: 'survivor',
      machines: [orderBinding((c) => calls.push({ ...c, phase }))],
      recoverOnStart: false,
      recoverIntervalMs: 0,
    });
    let results = 0;
    rt.subscribe((n) => {
      if (n.event?.type.startsWith('xstate.done.actor.')) results++;
    });

    const ids = Array.from({ length: SAGAS }, (_, i) => `out${i}`);
    const delayMs = { reserveStock: 100, chargeCard: 100, shipOrder: 100, notifyCustomer: 100 };
    await Promise.all(ids.map((id) => rt!.start('order', { order: id, delayMs }, { id })));
    await until(() => results >= 60, 'a third of the step results to be journaled');

    phase = 1;
    await server.kill();
    const resultsAtKill = results;
    // The outage lasts a second: long enough for steps in flight to finish while it lasts.
    await new Promise((r) => setTimeout(r, 1000));
    await server.restart();
    phase = 2;

    const infos = await Promise.all(ids.map((id) => rt!.wait(id, { timeoutMs: 45_000 })));
    expect(infos.map((i) => i.status)).toEqual(ids.map(() => 'completed'));
    // The outage hit sagas mid-flight: results came in while the server was down and were
    // journaled only once it was back.
    expect(resultsAtKill).toBeLessThan(SAGAS * STEPS.length);
    expect(calls.filter((c) => c.phase === 1 && c.outcome === 'ok').length).toBeGreaterThan(0);
    expect(results).toBe(SAGAS * STEPS.length);

    for (const id of ids) {
      const journal = await rt.events(id);
      expectWellFormed(journal);
      expect(journal.length, id).toBe(1 + STEPS.length);
      expect(takeoversOf(journal), id).toEqual([]);
      expect(doneActors(journal), id).toEqual(STEPS.map(([actor]) => actor));
      // Entry n spawned the step whose result is entry n + 1.
      expect(resultsOf(journal), id).toEqual(STEPS.map(([actor], n) => `xstate.done.actor.${actor}|${id}:${n + 1}:${actor}`));
      // Each step ran once, under the key its result was journaled with.
      const mine = calls.filter((c) => c.sagaId === id);
      expect(mine.map((c) => [c.step, c.key, c.outcome]), id).toEqual(STEPS.map(([actor, step], n) => [step, `${id}:${n + 1}:${actor}`, 'ok']));
    }
    expect(rt.loadedSagaIds()).toEqual([]);
  });
});
