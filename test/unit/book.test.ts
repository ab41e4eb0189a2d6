/**
 * The book (what a saga has in flight), folded from the actions transitions return: synthetic
 * action lists first, then the order machine's real ones, then the host's rule for results
 * whose invocation is no longer the one the book holds.
 */
import { describe, expect, it } from 'vitest';
import { initialTransition, transition, type AnyEventObject } from 'xstate';
import { decodeRecord } from '../../src/journal/codec.js';
import { MemoryJournal } from '../../src/journal/memory-journal.js';
import type { AppendOptions, AppendResult } from '../../src/journal/journal.js';
import {
  applyEntry,
  cloneBook,
  emptyBook,
  invocationKey,
  isDoneEvent,
  resultActorId,
  type Book,
} from '../../src/runtime/book.js';
import { createRuntime } from '../../src/runtime/create-runtime.js';
import { memoryStores } from '../../src/runtime/stores.js';
import type { StepFn } from '../../src/runtime/types.js';
import { orderMachine } from '../fixtures/order-saga.js';

const SAGA = 'b1';

const spawn = (id: string, src: unknown = `${id}Impl`, input: unknown = { for: id }) => ({ type: 'xstate.spawnChild', params: { id, src, input } });
const stop = (id: string) => ({ type: 'xstate.stopChild', params: { id } });
const raise = (event: AnyEventObject, delay?: number, id?: string) => ({ type: 'xstate.raise', params: { event, delay, id } });
const cancel = (sendId: string) => ({ type: 'xstate.cancel', params: { sendId } });
const done = (id: string): AnyEventObject => ({ type: `xstate.done.actor.${id}`, output: 1 });
const failed = (id: string): AnyEventObject => ({ type: `xstate.error.actor.${id}`, error: { code: 'E', message: 'e', retryable: true } });

/** A book driven entry by entry; entry numbers and times advance like a journal's. */
function ledger() {
  const book = emptyBook();
  let no = 0;
  return {
    book,
    apply(event: AnyEventObject | undefined, actions: Array<{ type: string; params?: unknown }>, opts: { at?: number; final?: boolean } = {}) {
      no++;
      applyEntry(book, { sagaId: SAGA, no, at: opts.at ?? no * 100, event, final: opts.final ?? false }, actions);
      return no;
    },
  };
}

describe('book: helpers', () => {
  it('keys an invocation by saga, spawning entry and invocation id', () => {
    expect(invocationKey('s-1', 7, 'undo.charge')).toBe('s-1:7:undo.charge');
  });

  it('reads the invocation id of result events only', () => {
    expect(resultActorId({ type: 'xstate.done.actor.undo.ship' })).toBe('undo.ship');
    expect(resultActorId({ type: 'xstate.error.actor.charge' })).toBe('charge');
    expect(resultActorId({ type: 'xstate.after.retry.charge.order.charge.waiting' })).toBeUndefined();
    expect(resultActorId({ type: 'saga.cancel' })).toBeUndefined();
    expect(isDoneEvent(done('x'))).toBe(true);
    expect(isDoneEvent(failed('x'))).toBe(false);
  });

  it('clones deeply enough that the copy and the original evolve apart', () => {
    const l = ledger();
    l.apply(undefined, [spawn('a'), raise({ type: 't' }, 10, 't')]);
    const copy = cloneBook(l.book);
    l.apply(done('a'), [cancel('t')]);
    expect(Object.keys(copy.pending)).toEqual(['a']);
    expect(Object.keys(copy.timers)).toEqual(['t']);
    expect(copy.attempts).toEqual({ a: 1 });
    expect(l.book).toEqual(emptyBook());
  });
});

describe('book: invocations', () => {
  it('spawnChild adds a pending invocation keyed <sagaId>:<entryNo>:<id>, attempt 1', () => {
    const l = ledger();
    l.apply(undefined, []);
    const no = l.apply({ type: 'go' }, [spawn('charge', 'chargeCard', { amount: 5 })]);
    expect(no).toBe(2);
    expect(l.book.pending).toEqual({
      charge: { id: 'charge', src: 'chargeCard', input: { amount: 5 }, key: `${SAGA}:2:charge`, attempt: 1 },
    });
    expect(l.book.attempts).toEqual({ charge: 1 });
  });

  it('names inline (non-string) logic <inline>', () => {
    const l = ledger();
    l.apply(undefined, [spawn('x', { config: {} })]);
    expect(l.book.pending.x!.src).toBe('<inline>');
  });

  it('a done result removes the invocation and resets its attempts', () => {
    const l = ledger();
    l.apply(undefined, [spawn('a')]);
    l.apply(done('a'), []);
    expect(l.book.pending).toEqual({});
    expect(l.book.attempts).toEqual({});
  });

  it('an error result removes the invocation but keeps its attempts: the re-spawn is attempt 2 under a new key', () => {
    const l = ledger();
    l.apply(undefined, [spawn('a')]);
    l.apply(failed('a'), [raise({ type: 'retry.a' }, 50, 'retry.a')]);
    expect(l.book.pending).toEqual({});
    expect(l.book.attempts).toEqual({ a: 1 });
    const no = l.apply({ type: 'retry.a', timerId: 'retry.a' }, [spawn('a')]);
    expect(l.book.pending.a).toMatchObject({ attempt: 2, key: `${SAGA}:${no}:a` });
    l.apply(done('a'), []);
    l.apply({ type: 'again' }, [spawn('a')]);
    expect(l.book.pending.a!.attempt).toBe(1);
  });

  it('stopChild removes the invocation (a state left without a result); a ref-less stopChild is ignored', () => {
    const l = ledger();
    l.apply(undefined, [spawn('a'), spawn('b')]);
    l.apply({ type: 'saga.cancel' }, [stop('a'), { type: 'xstate.stopChild', params: undefined }, spawn('undo.a')]);
    expect(Object.keys(l.book.pending).sort()).toEqual(['b', 'undo.a']);
    // attempts are per invocation since its last success: a stop does not reset them
    expect(l.book.attempts).toEqual({ a: 1, b: 1, 'undo.a': 1 });
  });

  it('applies the event before the actions: a result followed by a re-spawn of the same id keeps the new one', () => {
    const l = ledger();
    l.apply(undefined, [spawn('a')]);
    const no = l.apply(failed('a'), [spawn('a')]);
    expect(l.book.pending.a).toMatchObject({ key: `${SAGA}:${no}:a`, attempt: 2 });
  });

  it('ignores custom and unknown actions', () => {
    const l = ledger();
    l.apply(undefined, [{ type: 'track' }, { type: 'xstate.assign', params: {} }, { type: 'xstate.log' }]);
    expect(l.book).toEqual(emptyBook());
  });
});

describe('book: timers', () => {
  it('a delayed raise arms a timer due at entry.at + delay, keyed by its entry', () => {
    const l = ledger();
    const no = l.apply(undefined, [raise({ type: 'xstate.after.t' }, 250, 'xstate.after.t')], { at: 10_000 });
    expect(l.book.timers).toEqual({
      'xstate.after.t': { id: 'xstate.after.t', event: { type: 'xstate.after.t' }, dueAt: 10_250, key: `${SAGA}:${no}:xstate.after.t` },
    });
  });

  it('uses the event type as the id when the raise has none; a raise without delay arms nothing', () => {
    const l = ledger();
    l.apply(undefined, [raise({ type: 'tick' }, 5), raise({ type: 'now' })], { at: 1 });
    expect(Object.keys(l.book.timers)).toEqual(['tick']);
    expect(l.book.timers.tick!.dueAt).toBe(6);
  });

  it('re-arming the same id replaces the deadline and key', () => {
    const l = ledger();
    l.apply(undefined, [raise({ type: 't' }, 100, 't')], { at: 0 });
    const no = l.apply({ type: 'x' }, [raise({ type: 't' }, 100, 't')], { at: 500 });
    expect(l.book.timers.t).toMatchObject({ dueAt: 600, key: `${SAGA}:${no}:t` });
  });

  it('cancel removes the timer by its send id; an unknown id is harmless', () => {
    const l = ledger();
    l.apply(undefined, [raise({ type: 't' }, 100, 't'), raise({ type: 'u' }, 100, 'u')]);
    l.apply({ type: 'x' }, [cancel('t'), cancel('nope')]);
    expect(Object.keys(l.book.timers)).toEqual(['u']);
  });

  it('the firing event (with its timerId) removes the timer it fired', () => {
    const l = ledger();
    l.apply(undefined, [raise({ type: 't' }, 100, 't'), raise({ type: 'u' }, 100, 'u')]);
    l.apply({ type: 't', timerId: 't' }, []);
    expect(Object.keys(l.book.timers)).toEqual(['u']);
  });
});

describe('book: final entry', () => {
  it('a final entry leaves nothing in flight', () => {
    const l = ledger();
    l.apply(undefined, [spawn('a'), raise({ type: 't' }, 100, 't')]);
    l.apply({ type: 'x' }, [spawn('b')], { final: true });
    expect(l.book).toEqual(emptyBook());
  });
});

describe('book: folded from the order machine', () => {
  /** Runs the machine and the book together, as the host and the fold both do. */
  function run() {
    const book: Book = emptyBook();
    let no = 1;
    let at = 1_000;
    let [snapshot, actions] = initialTransition(orderMachine, { order: 'x' });
    applyEntry(book, { sagaId: SAGA, no, at, event: undefined, final: false }, actions);
    const send = (event: AnyEventObject) => {
      no++;
      at += 1_000;
      const e = { ...event, at };
      [snapshot, actions] = transition(orderMachine, snapshot, e);
      applyEntry(book, { sagaId: SAGA, no, at, event: e, final: snapshot.status === 'done' }, actions);
      return { no, at, actions };
    };
    return { book, send, get snapshot() { return snapshot; } };
  }

  it('tracks spawns, retry timers, re-spawns and cancels across a real run', () => {
    const r = run();
    expect(r.book.pending).toEqual({ reserve: { id: 'reserve', src: 'reserveStock', input: { order: 'x' }, key: `${SAGA}:1:reserve`, attempt: 1 } });

    let e = r.send({ type: 'xstate.done.actor.reserve', output: 'R' });
    expect(Object.values(r.book.pending).map((p) => p.key)).toEqual([`${SAGA}:${e.no}:charge`]);

    e = r.send({ type: 'xstate.error.actor.charge', error: { code: 'U', message: 'u', retryable: true } });
    expect(r.book.pending).toEqual({});
    const [timer] = Object.values(r.book.timers);
    const delay = (e.actions.find((a) => a.type === 'xstate.raise')!.params as { delay: number }).delay;
    expect(timer!.dueAt).toBe(e.at + delay);
    expect(timer!.key).toBe(`${SAGA}:${e.no}:${timer!.id}`);

    e = r.send({ ...timer!.event, timerId: timer!.id });
    expect(r.book.timers).toEqual({});
    expect(r.book.pending.charge).toMatchObject({ attempt: 2, key: `${SAGA}:${e.no}:charge` });

    // cancel while charge runs: the machine stops it (stopChild) and starts its undo
    e = r.send({ type: 'saga.cancel' });
    expect(Object.keys(r.book.pending)).toEqual(['undo.charge']);
    expect(r.book.pending['undo.charge']).toMatchObject({ src: 'refundCard', key: `${SAGA}:${e.no}:undo.charge`, attempt: 1 });

    r.send({ type: 'xstate.done.actor.undo.charge', output: null });
    expect(Object.keys(r.book.pending)).toEqual(['undo.reserve']);
    r.send({ type: 'xstate.done.actor.undo.reserve', output: null });
    expect(r.snapshot.value).toBe('cancelled');
    expect(r.book).toEqual(emptyBook());
  });

  it('cancel during a retry backoff clears the timer through the machine’s cancel action', () => {
    const r = run();
    r.send({ type: 'xstate.done.actor.reserve', output: 'R' });
    r.send({ type: 'xstate.error.actor.charge', error: { code: 'U', message: 'u', retryable: true } });
    expect(Object.keys(r.book.timers)).toHaveLength(1);
    const e = r.send({ type: 'saga.cancel' });
    expect(e.actions.map((a) => a.type)).toContain('xstate.cancel');
    expect(r.book.timers).toEqual({});
  });
});

/**
 * The book does not look at a result's key: the journal only ever holds results whose key
 * matched the book when they were delivered. The host enforces that: a result for an
 * invocation the book no longer holds (the saga moved on while the result was queued) is
 * dropped, never journaled.
 */
describe('host: results that no longer match the book', () => {
  class GatedJournal extends MemoryJournal {
    gate: Promise<void> | undefined;
    override async append(sagaId: string, data: Uint8Array, options: AppendOptions): Promise<AppendResult> {
      if (this.gate) await this.gate;
      return super.append(sagaId, data, options);
    }
  }

  it('drops a step result that arrives while a cancel is being journaled', async () => {
    const journal = new GatedJournal();
    const undoInputs: unknown[] = [];
    let finishCharge!: (output: unknown) => void;
    let chargeStarted!: () => void;
    const started = new Promise<void>((r) => (chargeStarted = r));
    const ok: StepFn = () => 'ok';
    const rt = await createRuntime({
      machines: [{
        id: 'order', version: 1, machine: orderMachine,
        steps: {
          reserveStock: ok, shipOrder: ok, notifyCustomer: ok, releaseStock: ok, cancelShipment: ok,
          chargeCard: () => new Promise((resolve) => ((finishCharge = resolve), chargeStarted())),
          refundCard: (input: unknown) => (undoInputs.push(input), null),
        },
      }],
      stores: { ...memoryStores(), journal }, owner: 'gate', recoverOnStart: false, recoverIntervalMs: 0,
    });
    try {
      await rt.start('order', { order: 'g' }, { id: 'g' });
      await started;
      let open!: () => void;
      journal.gate = new Promise<void>((r) => (open = r));
      const cancelled = rt.send('g', { type: 'saga.cancel' }); // its append waits at the gate
      await new Promise((r) => setImmediate(r));
      finishCharge({ paid: true }); // delivered while charge is still in the book: queued behind the cancel
      await new Promise((r) => setImmediate(r));
      journal.gate = undefined;
      open();
      expect((await cancelled).accepted).toBe(true);
      expect((await rt.wait('g', { timeoutMs: 5_000 })).status).toBe('cancelled');

      const types = (await journal.read('g')).map((e) => {
        const r = decodeRecord(e.data, e);
        return 'event' in r ? r.event.type : 'init';
      });
      expect(types).toEqual([
        'init',
        'xstate.done.actor.reserve',
        'saga.cancel',
        'xstate.done.actor.undo.charge',
        'xstate.done.actor.undo.reserve',
      ]);
      // the undo ran with no output: the late charge result never reached the machine
      expect(undoInputs).toEqual([{ input: { input: { order: 'g' }, reservation: 'ok' }, output: null }]);
    } finally {
      await rt.close();
    }
  });
});
