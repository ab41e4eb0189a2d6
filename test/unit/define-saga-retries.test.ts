/**
 * defineSaga, driven purely (test/helpers/saga-driver.ts): retries with backoff, undos that keep
 * failing or fail terminally (the blocked state) and cancel.
 */
import { describe, expect, it } from 'vitest';
import { SagaEventType, SagaTag, backoffDelay, defineSaga, type SagaOutput } from '../../machines/kit/index.js';
import { SagaError, TerminalError, serializeError } from '../../src/errors.js';
import { orderMachine } from '../fixtures/order-saga.js';
import { Driver, ORDER, OUT, STEP_POLICY, UNDO_POLICY, cancelled, delayed, refused, runUpTo, stopped, unavailable } from '../helpers/saga-driver.js';

describe('defineSaga: retries', () => {
  it('schedules a delayed retry with the backoff delay, re-runs the step, and resets attempts on success', () => {
    const d = runUpTo('charge').fail('charge', unavailable);
    const failedAt = d.at;
    expect(d.snapshot.value).toEqual({ charge: 'waiting' });
    expect(d.status).toBe('running');
    expect(d.ctx.attempts).toEqual({ charge: 1 });
    expect(stopped(d.actions)).toEqual(['charge']);
    expect(d.spawns()).toEqual([]);
    const [timer] = delayed(d.actions);
    expect(timer!.delay).toBe(backoffDelay(STEP_POLICY, 1, `charge:1:${failedAt}`));
    expect(timer!.event.type).toMatch(/^xstate\.after\.retry\.charge\./);
    expect(timer!.id).toBe(timer!.event.type);

    d.fire();
    expect(d.snapshot.value).toEqual({ charge: 'running' });
    expect(d.spawns()).toEqual([{ id: 'charge', src: 'chargeCard', input: { input: ORDER, reservation: OUT.reserve } }]);
    // re-entering the step's running state must not stack the step twice
    expect(d.ctx.stack.map((e) => e.step)).toEqual(['reserve', 'charge']);

    d.fail('charge', unavailable);
    expect(d.ctx.attempts).toEqual({ charge: 2 });
    expect(delayed(d.actions)[0]!.delay).toBe(backoffDelay(STEP_POLICY, 2, `charge:2:${d.at}`));

    d.fire().done('charge', OUT.charge);
    expect(d.ctx.attempts).toEqual({});
    expect(d.snapshot.value).toEqual({ ship: 'running' });
  });

  it('the delay depends only on journaled data: the same run gives the same delays', () => {
    const delays = (): number[] => {
      const d = runUpTo('charge');
      const out: number[] = [];
      d.fail('charge', unavailable);
      out.push(delayed(d.actions)[0]!.delay);
      d.fire().fail('charge', unavailable);
      out.push(delayed(d.actions)[0]!.delay);
      return out;
    };
    expect(delays()).toEqual(delays());
  });

  it('gives up after maxAttempts (3) failed attempts and compensates, undoing the retried step too', () => {
    const d = runUpTo('charge');
    d.fail('charge', unavailable).fire();
    d.fail('charge', unavailable).fire();
    expect(d.snapshot.value).toEqual({ charge: 'running' });
    d.fail('charge', unavailable);
    expect(delayed(d.actions)).toEqual([]);
    expect(d.status).toBe('compensating');
    expect(d.ctx.error).toEqual({ ...unavailable, step: 'charge' });
    expect(d.completeAll()).toEqual(['refundCard', 'releaseStock']);
    expect(d.status).toBe('compensated');
  });

  it('a step-level retry policy overrides the saga one (maxAttempts 1: never retry)', () => {
    const m = defineSaga({
      id: 'once',
      retry: { maxAttempts: 5 },
      steps: [
        { name: 'a', run: 'runA', undo: 'undoA', retry: { maxAttempts: 1 } },
        { name: 'b', run: 'runB', retry: { initialDelayMs: 7, maxDelayMs: 7, jitter: 0 } },
      ],
    });
    const d = new Driver(m, {}).fail('a', unavailable);
    expect(d.status).toBe('compensating');
    expect(d.spawns().map((s) => s.src)).toEqual(['undoA']);

    const e = new Driver(m, {}).done('a', 1).fail('b', unavailable);
    expect(e.snapshot.value).toEqual({ b: 'waiting' });
    expect(delayed(e.actions)[0]!.delay).toBe(7);
  });

  it('a step timeout is a retryable STEP_TIMEOUT; a result in time cancels the timeout', () => {
    const m = defineSaga({
      id: 'timed',
      retry: { maxAttempts: 2, initialDelayMs: 10, maxDelayMs: 10, jitter: 0 },
      steps: [{ name: 'slow', run: 'runSlow', undo: 'undoSlow', timeoutMs: 5_000 }],
    });
    const d = new Driver(m, {});
    const [timeout] = delayed(d.actions);
    expect(timeout!.delay).toBe(5_000);
    expect(timeout!.event.type).toMatch(/^xstate\.after\.timeout\.slow\./);

    d.fire();
    expect(d.snapshot.value).toEqual({ slow: 'waiting' });
    expect(stopped(d.actions)).toEqual(['slow']);
    expect(delayed(d.actions).map((t) => t.delay)).toEqual([10]);

    d.fire();
    expect(d.spawns().map((s) => s.id)).toEqual(['slow']);
    const rearmed = delayed(d.actions)[0]!;
    d.fire(); // second timeout: attempts exhausted
    expect(d.ctx.error).toMatchObject({ step: 'slow', code: 'STEP_TIMEOUT', retryable: true, message: expect.stringContaining('5000 ms') });
    expect(d.spawns().map((s) => s.src)).toEqual(['undoSlow']);

    const ok = new Driver(m, {});
    const armed = delayed(ok.actions)[0]!;
    expect(armed.id).toBe(rearmed.id);
    ok.done('slow', 'fast enough');
    expect(cancelled(ok.actions)).toEqual([armed.id]);
    expect(ok.status).toBe('completed');
  });
});

describe('defineSaga: failing undos and the blocked state', () => {
  /** ship fails terminally; cancelShipment then fails `times` times. */
  function blockedOnShip(): Driver {
    const d = runUpTo('ship').fail('ship', refused);
    for (let i = 1; i <= 3; i++) {
      expect(d.spawns().map((s) => s.src)).toEqual(['cancelShipment']);
      d.fail('undo.ship', unavailable);
      expect(d.ctx.undoAttempts).toBe(i);
      if (i < 3) {
        expect(d.snapshot.value).toEqual({ compensating: 'backoff' });
        expect(d.status).toBe('compensating');
        // seeded by the stack depth (3: reserve, charge, ship), the attempt and the failure time
        expect(delayed(d.actions)[0]!.delay).toBe(backoffDelay(UNDO_POLICY, i, `undo:3:${i}:${d.at}`));
        d.fire();
        expect(d.snapshot.value).toEqual({ compensating: 'undo_ship' });
      }
    }
    return d;
  }

  it('blocks after undoRetry.maxAttempts failures of one undo, without running the undos below it', () => {
    const d = blockedOnShip();
    expect(d.snapshot.value).toBe('blocked');
    expect(d.status).toBe('blocked');
    expect(d.snapshot.hasTag(SagaTag.Blocked)).toBe(true);
    expect(d.snapshot.status).toBe('active');
    expect(d.spawns()).toEqual([]);
    expect(delayed(d.actions)).toEqual([]);
    expect(d.ctx.undoError).toEqual({ ...unavailable, step: 'ship' });
    expect(d.ctx.stack.map((e) => e.step)).toEqual(['reserve', 'charge', 'ship']);
    // cancel means nothing once compensating
    const before = d.snapshot;
    d.send({ type: SagaEventType.Cancel });
    expect(d.snapshot).toBe(before);
  });

  it('saga.retry tries the same undo again with fresh attempts, then goes on', () => {
    const d = blockedOnShip().send({ type: SagaEventType.Retry });
    expect(d.status).toBe('compensating');
    expect(d.ctx.undoAttempts).toBe(0);
    expect(d.spawns().map((s) => s.src)).toEqual(['cancelShipment']);
    // the fresh attempts allow two more failures before blocking again
    d.fail('undo.ship', unavailable);
    expect(d.snapshot.value).toEqual({ compensating: 'backoff' });
    d.fire();
    expect(d.completeAll()).toEqual(['cancelShipment', 'refundCard', 'releaseStock']);
    expect(d.status).toBe('compensated');
    expect(d.ctx.undoError).toBeNull();
  });

  it('saga.skip gives up the failing undo and undoes the rest', () => {
    const d = blockedOnShip().send({ type: SagaEventType.Skip });
    expect(d.status).toBe('compensating');
    expect(d.ctx.stack.map((e) => e.step)).toEqual(['reserve', 'charge']);
    expect(d.completeAll()).toEqual(['refundCard', 'releaseStock']);
    expect(d.status).toBe('compensated');
    expect(d.ctx.error).toEqual({ ...refused, step: 'ship' });
  });
});

describe('defineSaga: an undo that fails terminally', () => {
  // As the host journals them: a TerminalError, and a jetsaga error that is not retryable.
  const delivered = serializeError(new TerminalError('parcel already delivered', { code: 'ALREADY_DELIVERED' }));
  const notJson = serializeError(new SagaError('STEP_OUTPUT_INVALID', 'output is not JSON'));

  it.each([
    ['a TerminalError', delivered],
    ['any serialized error with retryable: false', notJson],
  ])('%s blocks the saga at once: no backoff, no further attempt, undoError recorded', (_what, error) => {
    expect(error.retryable).toBe(false);
    const d = runUpTo('ship').fail('ship', refused).fail('undo.ship', error);
    expect(d.snapshot.value).toBe('blocked');
    expect(d.status).toBe('blocked');
    expect(delayed(d.actions)).toEqual([]);
    expect(d.spawns()).toEqual([]);
    expect(d.ctx.undoAttempts).toBe(1);
    expect(d.ctx.undoError).toEqual({ ...error, step: 'ship' });
    // nothing below the failed undo has been undone, and the failure that started it is kept
    expect(d.ctx.stack.map((e) => e.step)).toEqual(['reserve', 'charge', 'ship']);
    expect(d.ctx.error).toEqual({ ...refused, step: 'ship' });
  });

  it('a terminal failure after retryable ones blocks without spending the remaining attempts', () => {
    const d = runUpTo('ship').fail('ship', refused).fail('undo.ship', unavailable);
    expect(d.snapshot.value).toEqual({ compensating: 'backoff' });
    d.fire().fail('undo.ship', delivered);
    expect(UNDO_POLICY.maxAttempts).toBe(3); // a third attempt was still allowed
    expect(d.snapshot.value).toBe('blocked');
    expect(delayed(d.actions)).toEqual([]);
    expect(d.ctx.undoAttempts).toBe(2);
    expect(d.ctx.undoError).toEqual({ ...delivered, step: 'ship' });
  });

  it('saga.retry runs the undo again with fresh attempts, and retryable failures back off as before', () => {
    const d = runUpTo('ship').fail('ship', refused).fail('undo.ship', delivered).send({ type: SagaEventType.Retry });
    expect(d.status).toBe('compensating');
    expect(d.ctx.undoAttempts).toBe(0);
    expect(d.spawns().map((s) => s.src)).toEqual(['cancelShipment']);
    d.fail('undo.ship', unavailable);
    expect(d.snapshot.value).toEqual({ compensating: 'backoff' });
    expect(delayed(d.actions)[0]!.delay).toBe(backoffDelay(UNDO_POLICY, 1, `undo:3:1:${d.at}`));
    d.fire();
    expect(d.completeAll()).toEqual(['cancelShipment', 'refundCard', 'releaseStock']);
    expect(d.status).toBe('compensated');
  });

  it('saga.skip gives the undo up and undoes the rest', () => {
    const d = runUpTo('ship').fail('ship', refused).fail('undo.ship', delivered).send({ type: SagaEventType.Skip });
    expect(d.ctx.undoError).toBeNull();
    expect(d.completeAll()).toEqual(['refundCard', 'releaseStock']);
    expect(d.status).toBe('compensated');
  });
});

describe('defineSaga: cancel', () => {
  it('cancel while a step runs: stops it, undoes it (outcome unknown) and everything below, ends cancelled', () => {
    const d = runUpTo('charge').send({ type: SagaEventType.Cancel });
    expect(d.status).toBe('compensating');
    expect(stopped(d.actions)).toEqual(['charge']);
    expect(d.ctx.cancelled).toBe(true);
    expect(d.ctx.error).toMatchObject({ code: 'CANCELLED', retryable: false });
    expect(d.spawns()).toEqual([
      { id: 'undo.charge', src: 'refundCard', input: { input: { input: ORDER, reservation: OUT.reserve }, output: null } },
    ]);
    expect(d.completeAll()).toEqual(['refundCard', 'releaseStock']);
    expect(d.snapshot.value).toBe('cancelled');
    expect(d.snapshot.status).toBe('done');
    expect(d.status).toBe('cancelled');
    expect(d.snapshot.hasTag(SagaTag.Cancelled)).toBe(true);
    expect((d.snapshot.output as SagaOutput).error).toMatchObject({ code: 'CANCELLED' });
  });

  it('cancel during a retry backoff clears the retry timer', () => {
    const d = runUpTo('ship').fail('ship', unavailable);
    const timer = delayed(d.actions)[0]!;
    d.send({ type: SagaEventType.Cancel });
    expect(cancelled(d.actions)).toEqual([timer.id]);
    expect(d.completeAll()).toEqual(['cancelShipment', 'refundCard', 'releaseStock']);
    expect(d.status).toBe('cancelled');
  });

  it('cancel in the first step undoes only that step; cancel after completion changes nothing', () => {
    const d = new Driver(orderMachine, ORDER).send({ type: SagaEventType.Cancel });
    expect(d.completeAll()).toEqual(['releaseStock']);
    expect(d.status).toBe('cancelled');

    const done = runUpTo('notify').done('notify', OUT.notify);
    const before = done.snapshot;
    done.send({ type: SagaEventType.Cancel });
    expect(done.snapshot).toBe(before);
    expect(done.status).toBe('completed');
  });

  it('cancel during compensation after a failure is ignored: it ends compensated', () => {
    const d = runUpTo('ship').fail('ship', refused);
    const before = d.snapshot;
    d.send({ type: SagaEventType.Cancel });
    expect(d.snapshot).toBe(before);
    expect(d.actions).toEqual([]);
    d.done('undo.ship', null);
    expect(d.completeAll()).toEqual(['refundCard', 'releaseStock']);
    expect(d.status).toBe('compensated');
    expect(d.ctx.cancelled).toBe(false);
  });
});

