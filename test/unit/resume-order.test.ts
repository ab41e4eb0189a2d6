/**
 * How a bulk recovery hands sagas back to work (resume-order.ts, saga-loader.ts): every
 * claimed saga is folded and fenced first, then they act oldest first, in time slices, and
 * the coordinator answers requests between slices. Asserted by order of events, never time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import { inSlices, oldestFirst } from '../../src/runtime/resume-order.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { memoryStores, type RuntimeStores } from '../../src/runtime/stores.js';
import type { SagaBinding, StepFn } from '../../src/runtime/types.js';
import { ORDER_STEPS, ORDER_UNDOS, orderMachine } from '../fixtures/order-saga.js';
import { crash } from '../helpers/lease.js';
import { until } from '../helpers/until.js';

const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((r) => r.close()));
});

/** Order steps logging `<step>@<saga>`; with `hold`, shipOrder never returns. */
function binding(log: string[], hold: boolean): SagaBinding {
  const steps: Record<string, StepFn> = {};
  for (const name of [...ORDER_STEPS, ...ORDER_UNDOS]) {
    steps[name] = (_input, ctx) => {
      log.push(`${name}@${ctx.sagaId}`);
      if (hold && name === 'shipOrder') return new Promise((_r, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
      return { step: name };
    };
  }
  return { id: 'order', version: 1, machine: orderMachine, steps };
}

async function open(stores: RuntimeStores, machine: SagaBinding, now?: () => number, resumeSliceMs?: number): Promise<Runtime> {
  const rt = await createRuntime({
    machines: [machine],
    stores,
    owner: 'c1',
    checkpointEvery: 0,
    recoverOnStart: false,
    recoverIntervalMs: 0,
    ...(now ? { now } : {}),
    ...(resumeSliceMs !== undefined ? { resumeSliceMs } : {}),
  });
  runtimes.push(rt);
  return rt;
}

/** Starts `ids` in this order on a coordinator that then crashes with every ship step in flight. */
async function midFlight(stores: RuntimeStores, ids: readonly string[], now?: () => number): Promise<void> {
  const log: string[] = [];
  const a = await open(stores, binding(log, true), now);
  for (const id of ids) await a.start('order', { order: id }, { id });
  await until(() => log.filter((c) => c.startsWith('shipOrder@')).length === ids.length);
  await crash(a, stores);
}

describe('resume order', () => {
  it('oldest first, ties by saga id', () => {
    const recs = [
      { sagaId: 'b', createdAt: 2 },
      { sagaId: 'z', createdAt: 1 },
      { sagaId: 'a', createdAt: 2 },
    ];
    expect(recs.sort(oldestFirst).map((r) => r.sagaId)).toEqual(['z', 'a', 'b']);
  });

  it('lets the event loop in once a slice has passed, and not before', async () => {
    const seen: string[] = [];
    setImmediate(() => seen.push('loop'));
    // a zero slice has always passed: the loop runs after the first item
    await inSlices([0, 1, 2], 0, (i) => seen.push(String(i)));
    expect(seen).toEqual(['0', 'loop', '1', '2']);

    seen.length = 0;
    setImmediate(() => seen.push('loop'));
    // a slice that never passes: every item runs before the loop does
    await inSlices([0, 1, 2], Number.MAX_SAFE_INTEGER, (i) => seen.push(String(i)));
    seen.push('returned');
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual(['0', '1', '2', 'returned', 'loop']);
  });

  it('a recovering coordinator resumes the oldest sagas first, whatever their ids', async () => {
    const stores = memoryStores();
    // Created in the reverse order of their ids, at strictly increasing times.
    const ids = Array.from({ length: 40 }, (_, i) => `old${String(39 - i).padStart(2, '0')}`);
    let clock = Date.now();
    await midFlight(stores, ids, () => (clock += 1));

    const log: string[] = [];
    const b = await open(stores, binding(log, false), () => (clock += 1));
    expect(await b.recover()).toMatchObject({ listed: 40, recovered: 40, failed: 0 });
    // the ship steps in flight ran again in the order the sagas were created
    expect(log.filter((c) => c.startsWith('shipOrder@')).map((c) => c.slice('shipOrder@'.length))).toEqual(ids);
    const done = await Promise.all(ids.map((id) => b.wait(id, { timeoutMs: 10_000 })));
    expect(done.map((i) => i.status)).toEqual(ids.map(() => 'completed'));
  });

  it('answers requests while a big recovery is under way, and the first resumed sagas act before the last are resumed', async () => {
    const stores = memoryStores();
    const n = 300;
    const ids = Array.from({ length: n }, (_, i) => `big${String(i).padStart(4, '0')}`);
    await midFlight(stores, ids);

    const events: string[] = [];
    const log: string[] = [];
    const b = await open(stores, binding(log, false), undefined, 0);
    let asked = false;
    b.subscribe((notice) => {
      if (asked || !ids.includes(notice.sagaId)) return;
      // the first transition of a resumed saga: the recovery is under way
      asked = true;
      events.push(`first resumed saga acted: ${notice.sagaId}`);
      if (log.includes(`shipOrder@${ids[n - 1]}`)) events.push('the newest saga was resumed already');
      void b.start('order', { order: 'new' }, { id: 'fresh' }).then(() => events.push('start answered'));
      void b.get(ids[n - 1]!).then(() => events.push('get answered'));
    });
    void b.recover().then((report) => {
      events.push('recovered');
      expect(report).toMatchObject({ recovered: n, failed: 0 });
    });
    await until(() => events.includes('recovered') && events.includes('start answered') && events.includes('get answered'));

    expect(events[0]).toBe(`first resumed saga acted: ${ids[0]}`);
    expect(events).not.toContain('the newest saga was resumed already');
    expect(events.indexOf('start answered')).toBeLessThan(events.indexOf('recovered'));
    expect(events.indexOf('get answered')).toBeLessThan(events.indexOf('recovered'));
    // the oldest saga's ship step had re-run and been journaled before the newest saga's re-ran
    const ships = log.filter((c) => c.startsWith('shipOrder@'));
    expect(ships[0]).toBe(`shipOrder@${ids[0]}`);
    expect(ships.at(-1)).toBe(`shipOrder@${ids[n - 1]}`);
    const all = await Promise.all([...ids, 'fresh'].map((id) => b.wait(id, { timeoutMs: 20_000 })));
    expect(all.every((i) => i.status === 'completed')).toBe(true);
  });
});
