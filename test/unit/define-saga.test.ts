/**
 * defineSaga, driven purely: XState's `initialTransition`/`transition` and the actions they
 * return, with no actor, no timer and no host. The host does exactly this (and journals the
 * events), so what is asserted here is what a saga does in production.
 */
import { describe, expect, it } from 'vitest';
import { initialTransition, transition, type AnyEventObject, type AnyMachineSnapshot, type AnyStateMachine } from 'xstate';
import {
  backoffDelay,
  DEFAULT_STEP_RETRY,
  DEFAULT_UNDO_RETRY,
  defineSaga,
  resolvePolicy,
  SagaEventType,
  SagaTag,
  type SagaConfig,
  type SagaContext,
  type SagaOutput,
} from '../../machines/kit/index.js';
import { statusOf } from '../../src/runtime/status.js';
import { orderMachine } from '../fixtures/order-saga.js';

type Actions = ReturnType<typeof transition>[1];
type Action = Actions[number];

interface Spawn {
  readonly id: string;
  readonly src: string;
  readonly input: unknown;
}

interface Delayed {
  readonly id: string;
  readonly delay: number;
  readonly event: AnyEventObject;
}

/** The fixture's policies, as defineSaga resolves them. */
const STEP_POLICY = resolvePolicy(DEFAULT_STEP_RETRY, { initialDelayMs: 20, maxDelayMs: 100, maxAttempts: 3 });
const UNDO_POLICY = resolvePolicy(DEFAULT_UNDO_RETRY, { initialDelayMs: 20, maxDelayMs: 100, maxAttempts: 3 });

const ORDER = { order: 'o1' };
const OUT = {
  reserve: { reservation: 'R1' },
  charge: { payment: 'P1' },
  ship: { tracking: 'T1' },
  notify: { sent: true },
} as const;

const refused = { name: 'TerminalError', code: 'REFUSED', message: 'no', retryable: false };
const unavailable = { name: 'RetryableError', code: 'UNAVAILABLE', message: 'later', retryable: true };

/** A saga driven by hand: every call is one host input, stamped with a growing `at`. */
class Driver {
  snapshot: AnyMachineSnapshot;
  actions: Actions;
  at = 1_000;

  constructor(
    readonly machine: AnyStateMachine,
    input: unknown,
  ) {
    [this.snapshot, this.actions] = initialTransition(machine, input);
  }

  get ctx(): SagaContext {
    return this.snapshot.context as SagaContext;
  }

  get status(): string {
    return statusOf(this.snapshot);
  }

  send(event: AnyEventObject): this {
    this.at += 1_000;
    [this.snapshot, this.actions] = transition(this.machine, this.snapshot, { ...event, at: this.at });
    return this;
  }

  done(id: string, output: unknown): this {
    return this.send({ type: `xstate.done.actor.${id}`, output });
  }

  fail(id: string, error: unknown): this {
    return this.send({ type: `xstate.error.actor.${id}`, error });
  }

  /** Fires the one timer the last transition armed (a retry or undo backoff). */
  fire(): this {
    const timers = delayed(this.actions);
    expect(timers).toHaveLength(1);
    return this.send({ ...timers[0]!.event, timerId: timers[0]!.id });
  }

  spawns(): Spawn[] {
    return spawns(this.actions);
  }

  /** Completes each spawned invocation in turn until none is spawned; returns their srcs. */
  completeAll(outputs: (s: Spawn) => unknown = () => ({ ok: true })): string[] {
    const order: string[] = [];
    for (let guard = 0; guard < 20; guard++) {
      const next = this.spawns();
      if (next.length === 0) return order;
      expect(next).toHaveLength(1);
      order.push(next[0]!.src);
      this.done(next[0]!.id, outputs(next[0]!));
    }
    throw new Error('saga did not settle');
  }
}

function spawns(actions: Actions): Spawn[] {
  return actions
    .filter((a: Action) => a.type === 'xstate.spawnChild')
    .map((a: Action) => {
      const p = a.params as Spawn;
      return { id: p.id, src: p.src, input: p.input };
    });
}

function delayed(actions: Actions): Delayed[] {
  return actions
    .filter((a: Action) => a.type === 'xstate.raise' && typeof (a.params as { delay?: unknown }).delay === 'number')
    .map((a: Action) => {
      const p = a.params as Delayed;
      return { id: p.id, delay: p.delay, event: p.event };
    });
}

const stopped = (actions: Actions): string[] =>
  actions.filter((a: Action) => a.type === 'xstate.stopChild').map((a: Action) => (a.params as { id: string }).id);

const cancelled = (actions: Actions): string[] =>
  actions.filter((a: Action) => a.type === 'xstate.cancel').map((a: Action) => (a.params as { sendId: string }).sendId);

/** Runs the order saga up to (not including) `step`'s result. */
function runUpTo(step: 'reserve' | 'charge' | 'ship' | 'notify'): Driver {
  const d = new Driver(orderMachine, ORDER);
  for (const s of ['reserve', 'charge', 'ship', 'notify'] as const) {
    if (s === step) return d;
    d.done(s, OUT[s]);
  }
  return d;
}

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
    expect(d.snapshot.output).toEqual({ outputs: OUT, error: null } satisfies SagaOutput);
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
      ['completed', 'compensated', 'cancelled'].map((s) => [s, [...orderMachine.root.states[s]!.tags]]),
    );
    expect(finals).toEqual({ completed: [], compensated: [SagaTag.Compensated], cancelled: [SagaTag.Cancelled] });
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
    expect(Object.keys(m.root.states).sort()).toEqual(['blocked', 'cancelled', 'compensated', 'compensating', 'completed', 'step-2', 'step_1']);
    expect(Object.keys(m.root.states.compensating!.states).sort()).toEqual(['backoff', 'next', 'undo_step_1']);
  });
});
