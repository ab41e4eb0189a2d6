/**
 * Regression tests for recovery bugs found while testing bulk recovery and checkpoints; the
 * comments say how each one showed before its fix.
 */
import { describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import { crash } from '../helpers/lease.js';
import { loadCheckpoint } from '../../src/runtime/checkpoint.js';
import { memoryStores } from '../../src/runtime/stores.js';
import { until } from '../helpers/until.js';
import type { SagaBinding, StepFn } from '../../src/runtime/types.js';
import { ORDER_STEPS, ORDER_UNDOS, orderMachine } from '../fixtures/order-saga.js';

function binding(log: string[], holdShip: boolean): SagaBinding {
  const steps: Record<string, StepFn> = {};
  for (const n of [...ORDER_STEPS, ...ORDER_UNDOS]) {
    steps[n] = (_i, ctx) => {
      log.push(`${n}@${ctx.idempotencyKey}`);
      if (holdShip && n === 'shipOrder') return new Promise((_r, rej) => ctx.signal.addEventListener('abort', () => rej(ctx.signal.reason)));
      return { ok: n };
    };
  }
  return { id: 'order', version: 1, machine: orderMachine, steps };
}
const opts = { owner: 'c1', recoverOnStart: false, recoverIntervalMs: 0, checkpointEvery: 2 } as const;

describe('recovery regressions', () => {
  it('a graceful close publishes a low-water seq that is the first seq of the sagas it hands back', async () => {
    const stores = memoryStores();
    const log: string[] = [];
    // No checkpoints: a saga handed back with one is restored from it and leaves the mark alone.
    const a = await createRuntime({ ...opts, checkpointEvery: 0, checkpointIdleMs: 0, machines: [binding(log, true)], stores });
    // A saga that finished first: the low-water seq is past its entries, not at the journal's start.
    await a.start('order', { order: 'done' }, { id: 'done' });
    await until(() => log.some((l) => l.startsWith('shipOrder@done')));
    await a.send('done', { type: 'saga.cancel' });
    expect((await a.wait('done', { timeoutMs: 20_000 })).status).toBe('cancelled');
    await a.start('order', { order: 'x' }, { id: 'x' });
    await until(() => log.some((l) => l.startsWith('shipOrder@x')));
    await a.close(); // graceful: releases the lease, "the record stays, with its low-water seq"
    const rec = JSON.parse(new TextDecoder().decode((await stores.coordinators.get('c1'))!.value));
    const firstSeq = (await stores.journal.read('x'))[0]!.seq;
    expect(firstSeq).toBeGreaterThan((await stores.journal.read('done')).at(-1)!.seq);
    // Before the fix it was the last seq seen plus one: x's entries fell below it.
    expect(rec.lowWaterSeq).toBe(firstSeq);
  });

  it('a same-owner restart after a graceful close recovers 32+ checkpointed sagas without replaying finished steps', async () => {
    const stores = memoryStores();
    const log: string[] = [];
    const ids = Array.from({ length: 32 }, (_, i) => `s${i}`);
    const a = await createRuntime({ ...opts, machines: [binding(log, true)], stores });
    for (const id of ids) await a.start('order', { order: id }, { id });
    await until(() => log.filter((l) => l.startsWith('shipOrder')).length === ids.length);
    expect(await loadCheckpoint(stores.checkpoints, 's0')).toMatchObject({ no: 2 }); // entries: init, reserve, charge
    await a.close();
    log.length = 0;
    const b = await createRuntime({ ...opts, machines: [binding(log, false)], stores });
    await b.recover();
    const infos = await Promise.all(ids.map((id) => b.wait(id, { timeoutMs: 20_000 }).catch((e: Error) => e.message)));
    // Before the fix each saga was folded from its checkpoint alone (charge running), so
    // chargeCard re-ran with s<i>:2:charge, the first append hit the real last seq and the copy
    // was fenced; every later recovery pass did the same (fromSeq past the end): none finished.
    expect(log.filter((l) => l.startsWith('chargeCard'))).toEqual([]);
    expect(infos.map((i) => (typeof i === 'string' ? i : i.status))).toEqual(ids.map(() => 'completed'));
    await b.close();
  });

  it('a checkpoint without a snapshot is ignored (full replay), not restored as the initial state', async () => {
    const stores = memoryStores();
    const log: string[] = [];
    const a = await createRuntime({ ...opts, machines: [binding(log, true)], stores });
    await a.start('order', { order: 'y' }, { id: 'y' });
    await until(() => log.some((l) => l.startsWith('shipOrder')));
    await crash(a, stores);
    const { snapshot: _gone, ...cp } = (await loadCheckpoint(stores.checkpoints, 'y'))!;
    await stores.checkpoints.put('y', new TextEncoder().encode(JSON.stringify(cp)));
    const b = await createRuntime({ ...opts, machines: [binding([], false)], stores });
    await b.recover();
    // Before the fix: state {"reserve":"running"}, context.input undefined, nothing pending:
    // stuck forever.
    expect((await b.wait('y', { timeoutMs: 20_000 })).status).toBe('completed');
    await b.close();
  });
  it('a pass that lists a saga open while its final index write is in flight leaves it alone', async () => {
    const stores = memoryStores();
    // The first finish of the index waits until released: the saga has finished here, the
    // index still lists it open.
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let finishing = 0;
    const finish = stores.index.finish.bind(stores.index);
    stores.index.finish = async (record) => {
      if (finishing++ === 0) await released;
      return finish(record);
    };
    const log: string[] = [];
    const a = await createRuntime({ ...opts, machines: [binding(log, false)], stores });
    try {
      await a.start('order', { order: 'f' }, { id: 'f' });
      await until(() => log.some((l) => l.startsWith('notifyCustomer@f')) && !a.loadedSagaIds().includes('f'));
      expect((await stores.index.get('f'))?.record).toMatchObject({ status: 'running', epoch: 1 });
      // Before the fix the pass claimed it (epoch 2), folded it, found it finished and wrote
      // the final record itself: a fold and a claim for nothing, and the keeper's write then
      // raced the pass's.
      expect(await a.recover()).toMatchObject({ listed: 1, recovered: 0, repaired: 0, skippedLoaded: 1 });
      release();
      expect((await a.wait('f', { timeoutMs: 20_000 })).status).toBe('completed');
      expect((await stores.index.get('f'))?.record).toMatchObject({ status: 'completed', epoch: 1, owner: 'c1' });
    } finally {
      release();
      await a.close();
    }
  });
});
