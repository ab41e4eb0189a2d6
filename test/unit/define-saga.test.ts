/**
 * defineSaga, driven purely (test/helpers/saga-driver.ts): the forward path, compensation after
 * a terminal failure, status tags and invalid definitions. Retries, blocked undos and cancel are
 * in define-saga-retries.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { SagaEventType, SagaTag, defineSaga, type SagaConfig, type SagaOutput } from '../../machines/kit/index.js';
import { orderMachine } from '../fixtures/order-saga.js';
import { Driver, ORDER, OUT, refused, runUpTo, stopped, unavailable } from '../helpers/saga-driver.js';

describe('defineSaga: forward path', () => {
  it('runs reserve → charge → ship → notify, spawning each step with its input', () => {
    const d = new Driver(orderMachine, ORDER);
    expect(d.snapshot.value).toEqual({ reserve: 'running' });
    expect(d.status).toBe('running');
    expect(d.spawns()).toEqual([{ id: 'reserve', src: 'reserveStock', input: ORDER }]);

    d.done('reserve', OUT.reserve);
    expect(d.snapshot.value).toEqual({ charge: 'running' });
    expect(stopped(d.actions)).toEqual(['reserve']);
    // charge's input is built from the saga input and reserve's output
    expect(d.spawns()).toEqual([{ id: 'charge', src: 'chargeCard', input: { input: ORDER, reservation: OUT.reserve } }]);

    d.done('charge', OUT.charge);
    expect(d.spawns()).toEqual([{ id: 'ship', src: 'shipOrder', input: ORDER }]);
    d.done('ship', OUT.ship);
    expect(d.spawns()).toEqual([{ id: 'notify', src: 'notifyCustomer', input: ORDER }]);
    expect(d.status).toBe('running');

    d.done('notify', OUT.notify);
    expect(d.snapshot.status).toBe('done');
    expect(d.snapshot.value).toBe('completed');
    expect(d.spawns()).toEqual([]);
    expect(d.status).toBe('completed');
    expect(d.snapshot.output).toEqual({ outputs: OUT, error: null, warnings: [] } satisfies SagaOutput);
    expect(d.ctx.attempts).toEqual({});
  });

  it('pushes a step on the compensation stack when it starts, before any result', () => {
    const d = new Driver(orderMachine, ORDER);
    expect(d.ctx.stack).toEqual([{ step: 'reserve', input: ORDER }]);
    d.done('reserve', OUT.reserve);
    expect(d.ctx.stack).toEqual([
      { step: 'reserve', input: ORDER },
      { step: 'charge', input: { input: ORDER, reservation: OUT.reserve } },
    ]);
    d.done('charge', OUT.charge).done('ship', OUT.ship);
    // notify has no undo: never stacked
    expect(d.snapshot.value).toEqual({ notify: 'running' });
    expect(d.ctx.stack.map((e) => e.step)).toEqual(['reserve', 'charge', 'ship']);
  });

  it('ignores operator events and unknown events while running', () => {
    const d = runUpTo('charge');
    for (const type of [SagaEventType.Retry, SagaEventType.Skip, 'noise']) {
      const before = d.snapshot;
      d.send({ type });
      expect(d.snapshot).toBe(before);
      expect(d.actions).toEqual([]);
    }
  });
});

describe('defineSaga: terminal failure compensates top-down', () => {
  const cases = [
    { step: 'reserve', undos: ['releaseStock'] },
    { step: 'charge', undos: ['refundCard', 'releaseStock'] },
    { step: 'ship', undos: ['cancelShipment', 'refundCard', 'releaseStock'] },
    { step: 'notify', undos: ['cancelShipment', 'refundCard', 'releaseStock'] },
  ] as const;

  it.each(cases)('a terminal error in $step undoes $undos', ({ step, undos }) => {
    const d = runUpTo(step);
    d.fail(step, refused);
    expect(d.snapshot.value).toMatchObject({ compensating: expect.stringMatching(/^undo_/) });
    expect(d.status).toBe('compensating');
    expect(d.snapshot.hasTag(SagaTag.Compensating)).toBe(true);
    expect(stopped(d.actions)).toEqual([step]);
    expect(d.ctx.error).toEqual({ ...refused, step });

    const seen: string[] = [];
    for (const u of undos) {
      const [s] = d.spawns();
      seen.push(s!.src);
      expect(s!.src).toBe(u);
      expect(d.status).toBe('compensating');
      d.done(s!.id, null);
    }
    expect(seen).toEqual(undos);
    expect(d.spawns()).toEqual([]);
    expect(d.snapshot.status).toBe('done');
    expect(d.snapshot.value).toBe('compensated');
    expect(d.status).toBe('compensated');
    expect(d.ctx.stack).toEqual([]);
    expect((d.snapshot.output as SagaOutput).error).toEqual({ ...refused, step });
  });

  it('gives each undo the input its step started with and the output it produced (null if none)', () => {
    const d = runUpTo('ship').fail('ship', refused);
    expect(d.spawns()).toEqual([{ id: 'undo.ship', src: 'cancelShipment', input: { input: ORDER, output: null } }]);
    d.done('undo.ship', null);
    expect(d.spawns()).toEqual([
      { id: 'undo.charge', src: 'refundCard', input: { input: { input: ORDER, reservation: OUT.reserve }, output: OUT.charge } },
    ]);
    d.done('undo.charge', null);
    expect(d.spawns()).toEqual([{ id: 'undo.reserve', src: 'releaseStock', input: { input: ORDER, output: OUT.reserve } }]);
  });

  it('treats an error that is not a StepError as terminal STEP_FAILED', () => {
    const d = runUpTo('charge').fail('charge', 'boom');
    expect(d.ctx.error).toEqual({ step: 'charge', code: 'STEP_FAILED', message: 'boom', retryable: false });
    expect(d.spawns().map((s) => s.src)).toEqual(['refundCard']);
    const e = runUpTo('charge').fail('charge', { unexpected: true });
    expect(e.ctx.error).toMatchObject({ code: 'STEP_FAILED', message: 'step failed', retryable: false });
  });

  it('a saga with no undo at all ends compensated straight away', () => {
    const plain = defineSaga({ id: 'plain', steps: [{ name: 'a', run: 'runA' }, { name: 'b', run: 'runB' }] });
    const d = new Driver(plain, {}).done('a', 1).fail('b', refused);
    expect(d.snapshot.value).toBe('compensated');
    expect(d.status).toBe('compensated');
    expect(d.spawns()).toEqual([]);
  });
});

describe('defineSaga: status tags', () => {
  it('maps every phase to its status through the tag convention', () => {
    const seen = new Map<string, string>();
    const note = (d: Driver): void => void seen.set(JSON.stringify(d.snapshot.value), d.status);
    const d = runUpTo('ship');
    note(d);
    d.fail('ship', unavailable);
    note(d); // waiting
    d.fire().fail('ship', refused);
    note(d); // compensating.undo_ship
    d.fail('undo.ship', unavailable);
    note(d); // compensating.backoff
    d.fire().fail('undo.ship', unavailable).fire().fail('undo.ship', unavailable);
    note(d); // blocked
    d.send({ type: SagaEventType.Skip }).completeAll();
    note(d);
    expect(Object.fromEntries(seen)).toEqual({
      '{"ship":"running"}': 'running',
      '{"ship":"waiting"}': 'running',
      '{"compensating":"undo_ship"}': 'compensating',
      '{"compensating":"backoff"}': 'compensating',
      '"blocked"': 'blocked',
      '"compensated"': 'compensated',
    });
    // a final state without tags is completed; the other finals carry theirs
    const finals = Object.fromEntries(
      ['completed', 'compensated', 'cancelled', 'abandoned'].map((s) => [s, [...orderMachine.root.states[s]!.tags]]),
    );
    expect(finals).toEqual({ completed: [], compensated: [SagaTag.Compensated], cancelled: [SagaTag.Cancelled], abandoned: [SagaTag.Cancelled] });
  });
});

describe('defineSaga: invalid definitions', () => {
  const step = { name: 'a', run: 'runA' };
  const cases: Array<[string, SagaConfig, RegExp]> = [
    ['a bad saga id', { id: 'has.dot', steps: [step] }, /saga id "has\.dot" must match/],
    ['an empty saga id', { id: '', steps: [step] }, /saga id "" must match/],
    ['no steps', { id: 's', steps: [] }, /saga "s" needs at least one step/],
    ['a bad step name', { id: 's', steps: [{ name: 'a b', run: 'x' }] }, /step name "a b" must match/],
    ['a reserved step name', { id: 's', steps: [{ name: 'compensating', run: 'x' }] }, /step name "compensating" is reserved/],
    ['another reserved name', { id: 's', steps: [{ name: 'blocked', run: 'x' }] }, /"blocked" is reserved/],
    ['the abandoned state name', { id: 's', steps: [{ name: 'abandoned', run: 'x' }] }, /"abandoned" is reserved/],
    ['a duplicate step name', { id: 's', steps: [step, { name: 'a', run: 'other' }] }, /step name "a" is used twice/],
    ['a step without run', { id: 's', steps: [{ name: 'a', run: '' }] }, /step "a" has no run implementation name/],
    ['a zero timeout', { id: 's', steps: [{ ...step, timeoutMs: 0 }] }, /step "a": timeoutMs must be > 0/],
    ['maxAttempts 0', { id: 's', retry: { maxAttempts: 0 }, steps: [step] }, /maxAttempts must be an integer ≥ 1, got 0/],
    ['a step-level bad factor', { id: 's', steps: [{ ...step, retry: { factor: 0.5 } }] }, /factor must be ≥ 1, got 0\.5/],
    ['max below initial', { id: 's', undoRetry: { initialDelayMs: 10, maxDelayMs: 5 }, steps: [step] }, /0 ≤ initialDelayMs ≤ maxDelayMs/],
    ['jitter above 1', { id: 's', retry: { jitter: 2 }, steps: [step] }, /jitter must be within \[0, 1\], got 2/],
  ];

  it.each(cases)('refuses %s', (_what, config, message) => {
    expect(() => defineSaga(config)).toThrow(message);
  });

  it('accepts names with digits, _ and -, and compiles one state per step', () => {
    const m = defineSaga({ id: 'ok_1-x', steps: [{ name: 'step_1', run: 'r1', undo: 'u1' }, { name: 'step-2', run: 'r2' }] });
    expect(Object.keys(m.root.states).sort()).toEqual(['abandoned', 'blocked', 'cancelled', 'compensated', 'compensating', 'completed', 'step-2', 'step_1']);
    expect(Object.keys(m.root.states.compensating!.states).sort()).toEqual(['backoff', 'next', 'undo_step_1']);
  });
});
