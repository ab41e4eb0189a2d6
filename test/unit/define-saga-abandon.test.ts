/**
 * `saga.abandon`, driven purely through `transition()`: from `blocked` only, into the final
 * state `abandoned` (status cancelled) with a note of what was left undone; ignored in every
 * other state, so journals written before the event existed replay exactly as they did — which
 * is what lets build@2 resume build@1 sagas.
 */
import { describe, expect, it } from 'vitest';
import { BUILD_MACHINE_ID, BUILD_MACHINE_RESUMES_FROM, BUILD_MACHINE_VERSION, buildMachine } from '../../machines/build.machine.js';
import { SagaEventType, SagaTag, type SagaContext, type SagaOutput } from '../../machines/kit/index.js';
import { serializeError, TerminalError } from '../../src/errors.js';
import type { SagaBinding } from '../../src/runtime/types.js';
import { MachineRegistry } from '../../src/runtime/registry.js';
import { BuildService } from '../../src/build/build-service.js';
import { orderMachine } from '../fixtures/order-saga.js';
import { delayed, Driver, ORDER, OUT, refused, runUpTo, stopped, unavailable } from '../helpers/saga-driver.js';

const delivered = serializeError(new TerminalError('card closed', { code: 'CARD_CLOSED' }));

/** ship fails terminally; its undo runs, then refundCard fails terminally: blocked on charge. */
function blockedOnCharge(): Driver {
  const d = runUpTo('ship').fail('ship', refused);
  expect(d.spawns().map((s) => s.src)).toEqual(['cancelShipment']);
  d.done('undo.ship', { cancelled: true });
  expect(d.spawns().map((s) => s.src)).toEqual(['refundCard']);
  d.fail('undo.charge', delivered);
  expect(d.status).toBe('blocked');
  return d;
}

describe('defineSaga: saga.abandon from blocked', () => {
  it('ends in the final state abandoned, status cancelled, running nothing more', () => {
    const d = blockedOnCharge().send({ type: SagaEventType.Abandon });
    expect(d.snapshot.value).toBe('abandoned');
    expect(d.snapshot.status).toBe('done');
    expect(d.snapshot.hasTag(SagaTag.Cancelled)).toBe(true);
    expect(d.status).toBe('cancelled');
    expect(d.spawns()).toEqual([]);
    expect(delayed(d.actions)).toEqual([]);
    expect(stopped(d.actions)).toEqual([]);
  });

  it('notes the undo given up (with its error) and the undos never run, top-down; the stack keeps their inputs', () => {
    const d = blockedOnCharge().send({ type: SagaEventType.Abandon });
    const ctx: SagaContext = d.ctx;
    expect(ctx.abandoned).toEqual({
      failedUndo: { step: 'charge', undo: 'refundCard', error: { ...delivered, step: 'charge' } },
      notRun: [{ step: 'reserve', undo: 'releaseStock' }],
    });
    expect(ctx.stack).toEqual([
      { step: 'reserve', input: ORDER },
      { step: 'charge', input: { input: ORDER, reservation: OUT.reserve } },
    ]);
    // The failure that started the compensation is kept.
    expect(ctx.error).toEqual({ ...refused, step: 'ship' });
    const output = d.snapshot.output as SagaOutput;
    expect(output.abandoned).toEqual(ctx.abandoned);
    expect(output.error).toEqual({ ...refused, step: 'ship' });
  });

  it('lists every undo below when blocked on the top one after its retries ran out', () => {
    const d = runUpTo('notify').fail('notify', refused);
    for (let i = 0; i < 3; i++) {
      d.fail('undo.ship', unavailable);
      if (i < 2) d.fire();
    }
    expect(d.status).toBe('blocked');
    d.send({ type: SagaEventType.Abandon });
    expect(d.ctx.abandoned).toEqual({
      failedUndo: { step: 'ship', undo: 'cancelShipment', error: { ...unavailable, step: 'ship' } },
      notRun: [
        { step: 'charge', undo: 'refundCard' },
        { step: 'reserve', undo: 'releaseStock' },
      ],
    });
  });

  it('is final: nothing moves it afterwards', () => {
    const d = blockedOnCharge().send({ type: SagaEventType.Abandon });
    const before = d.snapshot;
    for (const type of [SagaEventType.Retry, SagaEventType.Skip, SagaEventType.Abandon, SagaEventType.Cancel]) {
      d.send({ type });
      expect(d.snapshot.value).toBe(before.value);
      expect(d.actions).toEqual([]);
    }
  });
});

describe('defineSaga: saga.abandon anywhere else changes nothing (so it is never journaled there)', () => {
  const ignored = (d: Driver): void => {
    const before = d.snapshot;
    d.send({ type: SagaEventType.Abandon });
    expect(d.snapshot).toBe(before);
    expect(d.actions).toEqual([]);
  };

  it('while a step runs, waits to retry, or compensates (an undo running or backing off)', () => {
    ignored(runUpTo('charge'));
    ignored(runUpTo('charge').fail('charge', unavailable)); // waiting
    ignored(runUpTo('ship').fail('ship', refused)); // compensating.undo_ship
    ignored(runUpTo('ship').fail('ship', refused).fail('undo.ship', unavailable)); // compensating.backoff
    ignored(runUpTo('charge').send({ type: SagaEventType.Cancel })); // compensating after a cancel
  });

  it('in the final states', () => {
    const completed = new Driver(orderMachine, ORDER);
    completed.completeAll();
    expect(completed.status).toBe('completed');
    ignored(completed);
    const compensated = runUpTo('charge').fail('charge', refused);
    compensated.completeAll();
    expect(compensated.status).toBe('compensated');
    ignored(compensated);
    const cancelled = runUpTo('charge').send({ type: SagaEventType.Cancel });
    cancelled.completeAll();
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.snapshot.value).toBe('cancelled');
    ignored(cancelled);
    // and their output has no `abandoned` key: unchanged from before the event existed
    for (const d of [completed, compensated, cancelled]) expect(Object.keys(d.snapshot.output as object).sort()).toEqual(['error', 'outputs', 'warnings']);
  });
});

describe('the build machine takes saga.abandon, and resumes sagas journaled before it', () => {
  it('is version 3 (addons), with 2 registered beside it to finish the builds journaled on 1 and 2', () => {
    expect(BUILD_MACHINE_VERSION).toBe(3);
    expect(BUILD_MACHINE_RESUMES_FROM).toEqual([]);
    const service = new BuildService();
    expect(service.binding()).toMatchObject({ id: BUILD_MACHINE_ID, version: 3, resumesFrom: [] });
    expect(service.legacyBinding()).toMatchObject({ id: BUILD_MACHINE_ID, version: 2, resumesFrom: [1] });
    const stub = (b: SagaBinding): SagaBinding => ({ ...b, steps: Object.fromEntries(Object.keys(b.steps).map((k) => [k, () => null])) });
    // The registry's choice for a journal whose init names build@1, @2 and @3.
    const registry = new MachineRegistry(service.bindings().map(stub));
    expect(registry.forReplay('b1', BUILD_MACHINE_ID, 1).version).toBe(2);
    expect(registry.forReplay('b2', BUILD_MACHINE_ID, 2).version).toBe(2);
    expect(registry.forReplay('b3', BUILD_MACHINE_ID, 3).version).toBe(3);
    expect(registry.latest(BUILD_MACHINE_ID).version).toBe(3);
    expect(() => registry.forReplay('b4', BUILD_MACHINE_ID, 4)).toThrow(/build@4/);
  });

  it('has the abandoned state, final and tagged cancelled, reachable from blocked only', () => {
    const abandoned = buildMachine.root.states.abandoned!;
    expect(abandoned.type).toBe('final');
    expect([...abandoned.tags]).toEqual([SagaTag.Cancelled]);
    const from = Object.values(buildMachine.root.states).filter((s) => Object.keys(s.on).includes(SagaEventType.Abandon));
    expect(from.map((s) => s.key)).toEqual(['blocked']);
  });
});
