/**
 * Idle checkpoints (idle-checkpoints.ts): a saga that journals nothing for a while is
 * checkpointed once, so that a recovery restores it instead of folding its journal; the
 * checkpoint goes when the saga finishes, whichever coordinator finishes it.
 */
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { decodeRecord, peekEntryNo } from '../../src/journal/codec.js';
import { createLogger } from '../../src/log.js';
import { loadCheckpoint } from '../../src/runtime/checkpoint.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import { IdleCheckpoints } from '../../src/runtime/idle-checkpoints.js';
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

function binding(log: string[], hold: boolean): SagaBinding {
  const steps: Record<string, StepFn> = {};
  for (const name of [...ORDER_STEPS, ...ORDER_UNDOS]) {
    steps[name] = (_input, ctx) => {
      log.push(`${name}@${ctx.idempotencyKey}`);
      if (hold && name === 'shipOrder') return new Promise((_r, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
      return { step: name };
    };
  }
  return { id: 'order', version: 1, machine: orderMachine, steps };
}

/** A logger keeping every record it writes. */
function capture(): { logger: ReturnType<typeof createLogger>; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ level: 'info', destination }), lines };
}

async function open(stores: RuntimeStores, machine: SagaBinding, checkpointIdleMs: number, logger?: ReturnType<typeof createLogger>): Promise<Runtime> {
  const rt = await createRuntime({ machines: [machine], stores, owner: 'c1', checkpointEvery: 0, checkpointIdleMs, recoverOnStart: false, recoverIntervalMs: 0, ...(logger ? { logger } : {}) });
  runtimes.push(rt);
  return rt;
}

describe('idle checkpoints', () => {
  it('checkpoints a saga once it has been idle long enough, once per entry, never after it moved on or was forgotten', () => {
    let t = 0;
    const saved: string[] = [];
    const idle = new IdleCheckpoints({ idleMs: 10, clock: () => t, save: (id, no) => saved.push(`${id}@${no}`) });
    idle.touched('a', 2);
    idle.touched('b', 3);
    t = 5;
    idle.touched('a', 3); // a moved on: its idle time starts again
    idle.touched('c', 1);
    idle.forget('c');
    t = 10;
    idle.sweep();
    expect(saved).toEqual(['b@3']);
    t = 15;
    idle.sweep();
    idle.sweep();
    expect(saved).toEqual(['b@3', 'a@3']);
  });

  it.each([
    ['one by one', 5],
    ['in bulk', 40],
  ])('a recovery restores waiting sagas from their idle checkpoints (%s), resumes them where they were and deletes the checkpoints when they finish', async (_how, n) => {
    const stores = memoryStores();
    const ids = Array.from({ length: n }, (_, i) => `idle${String(i).padStart(2, '0')}`);
    const before: string[] = [];
    const a = await open(stores, binding(before, true), 5);
    for (const id of ids) await a.start('order', { order: id }, { id });
    // every saga waits on its ship step: each gets a checkpoint at that entry
    await until(async () => (await stores.checkpoints.keys()).length === n);
    for (const id of ids) expect(await loadCheckpoint(stores.checkpoints, id)).toMatchObject({ no: 3, book: { pending: { ship: { key: `${id}:3:ship` } } } });
    await crash(a, stores);

    const log: string[] = [];
    const reads: Array<number | undefined> = [];
    const read = stores.journal.read.bind(stores.journal);
    stores.journal.read = (sagaId, options) => {
      reads.push(options?.fromSeq);
      return read(sagaId, options);
    };
    const { logger, lines } = capture();
    const b = await open(stores, binding(log, false), 0, logger);
    expect(await b.recover()).toMatchObject({ recovered: n, failed: 0 });
    if (n >= 32) expect(lines.find((l) => l.msg === 'bulk recovery')).toMatchObject({ sagas: n, fromCheckpoints: n, readAlone: 0 });
    // one by one: each saga read only after its checkpoint
    else expect(reads.length === n && reads.every((s) => s !== undefined && s > 1)).toBe(true);
    const done = await Promise.all(ids.map((id) => b.wait(id, { timeoutMs: 10_000 })));
    expect(done.map((i) => i.status)).toEqual(ids.map(() => 'completed'));
    // the ship step in flight ran again under its key, then the step after it: nothing else
    expect([...log].sort()).toEqual(ids.flatMap((id) => [`notifyCustomer@${id}:5:notify`, `shipOrder@${id}:3:ship`]).sort());
    await until(async () => (await stores.checkpoints.keys()).length === 0);
    // a checkpoint is not a journal entry: each journal is numbered without gaps or repeats (the marker included)
    const entries = (await read(ids[0]!)).map((e) => decodeRecord(e.data, e).no);
    expect(entries).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('leaves a saga waiting on its own append alone (a backlog, not a wait), and checkpoints it once it waits on a step', async () => {
    const stores = memoryStores();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const append = stores.journal.append.bind(stores.journal);
    stores.journal.append = async (sagaId, data, options) => {
      // The result of the second step: held until the test lets it land.
      if (peekEntryNo(data) === 3) await gate;
      return append(sagaId, data, options);
    };
    const sweeps = vi.spyOn(IdleCheckpoints.prototype, 'sweep');
    try {
      const a = await open(stores, binding([], true), 5);
      await a.start('order', { order: 'held' }, { id: 'held' });
      // Several sweeps pass while the append is held: the saga is busy, not idle.
      const seen = sweeps.mock.calls.length;
      await until(() => sweeps.mock.calls.length >= seen + 3);
      expect(await stores.checkpoints.keys()).toEqual([]);
      release();
      // Now it waits on its ship step, idle: one checkpoint, at that entry.
      await until(async () => (await stores.checkpoints.keys()).length === 1);
      expect(await loadCheckpoint(stores.checkpoints, 'held')).toMatchObject({ no: 3, book: { pending: { ship: { key: 'held:3:ship' } } } });
    } finally {
      release();
      sweeps.mockRestore();
    }
  });
});
