/**
 * Drives a kit-built saga purely, as the host does: XState's `initialTransition`/`transition`
 * and the actions they return, with no actor, no timer and no host. Shared by the defineSaga tests.
 */
import { expect } from 'vitest';
import { initialTransition, transition, type AnyEventObject, type AnyMachineSnapshot, type AnyStateMachine } from 'xstate';
import { DEFAULT_STEP_RETRY, DEFAULT_UNDO_RETRY, resolvePolicy, type SagaContext } from '../../machines/kit/index.js';
import { statusOf } from '../../src/runtime/status.js';
import { orderMachine } from '../fixtures/order-saga.js';

export type Actions = ReturnType<typeof transition>[1];
type Action = Actions[number];

export interface Spawn {
  readonly id: string;
  readonly src: string;
  readonly input: unknown;
}

export interface Delayed {
  readonly id: string;
  readonly delay: number;
  readonly event: AnyEventObject;
}

/** The fixture's policies, as defineSaga resolves them. */
export const STEP_POLICY = resolvePolicy(DEFAULT_STEP_RETRY, { initialDelayMs: 20, maxDelayMs: 100, maxAttempts: 3 });
export const UNDO_POLICY = resolvePolicy(DEFAULT_UNDO_RETRY, { initialDelayMs: 20, maxDelayMs: 100, maxAttempts: 3 });

export const ORDER = { order: 'o1' };
export const OUT = {
  reserve: { reservation: 'R1' },
  charge: { payment: 'P1' },
  ship: { tracking: 'T1' },
  notify: { sent: true },
} as const;

export const refused = { name: 'TerminalError', code: 'REFUSED', message: 'no', retryable: false };
export const unavailable = { name: 'RetryableError', code: 'UNAVAILABLE', message: 'later', retryable: true };

/** A saga driven by hand: every call is one host input, stamped with a growing `at`. */
export class Driver {
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

export function spawns(actions: Actions): Spawn[] {
  return actions
    .filter((a: Action) => a.type === 'xstate.spawnChild')
    .map((a: Action) => {
      const p = a.params as Spawn;
      return { id: p.id, src: p.src, input: p.input };
    });
}

export function delayed(actions: Actions): Delayed[] {
  return actions
    .filter((a: Action) => a.type === 'xstate.raise' && typeof (a.params as { delay?: unknown }).delay === 'number')
    .map((a: Action) => {
      const p = a.params as Delayed;
      return { id: p.id, delay: p.delay, event: p.event };
    });
}

export const stopped = (actions: Actions): string[] =>
  actions.filter((a: Action) => a.type === 'xstate.stopChild').map((a: Action) => (a.params as { id: string }).id);

export const cancelled = (actions: Actions): string[] =>
  actions.filter((a: Action) => a.type === 'xstate.cancel').map((a: Action) => (a.params as { sendId: string }).sendId);

/** Runs the order saga up to (not including) `step`'s result. */
export function runUpTo(step: 'reserve' | 'charge' | 'ship' | 'notify'): Driver {
  const d = new Driver(orderMachine, ORDER);
  for (const s of ['reserve', 'charge', 'ship', 'notify'] as const) {
    if (s === step) return d;
    d.done(s, OUT[s]);
  }
  return d;
}

