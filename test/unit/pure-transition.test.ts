/**
 * Differential tests of the fast transition path (a reused inert scope, XState internals)
 * against XState's public pure functions, which are the reference: for every kind of machine
 * the runtime drives — the defineSaga machines of the fixtures, a kit saga using every kit
 * feature, the boot dependency machine and a hand-written machine with parallel regions,
 * nested states, guards, `assign`, static and computed `after` delays, delayed raises with
 * cancel, `always`, custom actions and invokes inside a parallel region — random runs of host
 * inputs must give the same snapshots and the same actions on both paths, step by step.
 *
 * The inputs are what the host delivers: step results in its shapes
 * (`{ type: 'xstate.done.actor.<id>', actorId, key, output }`, `xstate.error.actor.<id>` with
 * `error`), timer firings (`xstate.after.…` or a raised event, with `timerId`), client events,
 * and inputs the machine ignores (stale results and firings, unknown events), each stamped
 * with a growing `at`, which delay functions read.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assign, cancel, raise, setup, type AnyEventObject, type AnyMachineSnapshot, type AnyStateMachine } from 'xstate';
import { bootDependencyMachine } from '../../machines/boot.machine.js';
import { defineSaga, stepActor } from '../../machines/kit/index.js';
import { applyEntry, emptyBook } from '../../src/runtime/book.js';
import { persistSnapshot } from '../../src/runtime/checkpoint.js';
import { pureTransitions, type PureTransitions, type TransitionResult } from '../../src/runtime/pure-transition.js';
import { orderMachine } from '../fixtures/order-saga.js';
import { pushMachine } from '../fixtures/push-saga.js';
import { slowOrderMachine } from '../fixtures/slow-retry-saga.js';

type Action = TransitionResult[1][number];

// ---------------------------------------------------------------------------------------------
// The machines

interface HandContext {
  readonly limit: number;
  readonly count: number;
  readonly pings: number;
  readonly tries: number;
  readonly last: unknown;
  readonly log: readonly string[];
}

interface HandEvent {
  readonly type: string;
  readonly at?: number;
  readonly n?: number;
  readonly output?: unknown;
}

/**
 * Two parallel regions: a worker (guarded start, an invoke with a static timeout, a backoff
 * whose delay is computed from context and the event's `at`, a final state) and a monitor
 * (nested states, a delayed raise with an id that its exit cancels, an invoke with its own
 * timeout inside the nested region, `always`, an undelayed raise, its own final state). The
 * machine is done when both regions are.
 */
const handMachine = setup({
  types: {} as { context: HandContext; input: { limit?: number } | undefined; events: HandEvent; output: { count: number; log: readonly string[] } },
  actors: { fetch: stepActor(), audit: stepActor() },
  delays: {
    cool: ({ context, event }: { context: HandContext; event: HandEvent }) => 100 * (context.tries + 1) + ((event.at ?? 0) % 7),
  },
  guards: {
    underLimit: ({ context }: { context: HandContext }) => context.count < context.limit,
    big: ({ event }: { event: HandEvent }) => typeof event.n === 'number' && event.n > 5,
    loud: ({ context }: { context: HandContext }) => context.pings > 4,
  },
  actions: {
    // A custom action: the host runs it after the append, so the path must report it.
    report: (_args, _params: { what: string }) => undefined,
    bump: assign(({ context }: { context: HandContext }) => ({ count: context.count + 1 })),
    note: assign(({ context }: { context: HandContext }, params: { what: string }) => ({ log: [...context.log, params.what] })),
  },
}).createMachine({
  id: 'hand',
  type: 'parallel',
  context: ({ input }) => ({ limit: input?.limit ?? 2, count: 0, pings: 0, tries: 0, last: null, log: [] }),
  output: ({ context }) => ({ count: context.count, log: context.log }),
  states: {
    worker: {
      initial: 'idle',
      states: {
        idle: {
          tags: ['idle'],
          on: {
            GO: [
              { guard: 'underLimit', target: 'busy', actions: ['bump', { type: 'report', params: { what: 'go' } }] },
              { target: 'finished' },
            ],
          },
        },
        busy: {
          tags: ['busy'],
          invoke: {
            id: 'fetch',
            src: 'fetch',
            input: ({ context, event }: { context: HandContext; event: HandEvent }) => ({ n: context.count, at: event.at }),
            onDone: { target: 'idle', actions: assign(({ context, event }) => ({ last: event.output, tries: 0, log: [...context.log, 'fetched'] })) },
            onError: { target: 'cooling', actions: assign(({ context }) => ({ tries: context.tries + 1 })) },
          },
          after: { 500: { target: 'cooling', actions: { type: 'note', params: { what: 'timeout' } } } },
          on: { ABORT: 'idle' },
        },
        cooling: { after: { cool: 'idle' }, on: { GO: { guard: 'big', target: 'busy' } } },
        finished: { type: 'final' },
      },
    },
    monitor: {
      initial: 'watching',
      on: { OFF: '.off' },
      states: {
        watching: {
          initial: 'quiet',
          entry: raise({ type: 'TICK' }, { delay: 300, id: 'tick' }),
          exit: cancel('tick'),
          on: { MUTE: 'muted', TICK: { actions: { type: 'note', params: { what: 'tick' } } } },
          states: {
            quiet: { on: { PING: { target: 'noisy', actions: assign(({ context }) => ({ pings: context.pings + 1 })) } } },
            noisy: {
              tags: ['noisy'],
              always: { guard: 'loud', target: '#hand.monitor.off' },
              invoke: { id: 'audit', src: 'audit', input: ({ context }: { context: HandContext }) => ({ pings: context.pings }), onDone: 'quiet', onError: 'quiet' },
              after: { 200: 'quiet' },
            },
          },
        },
        muted: { tags: ['muted'], on: { UNMUTE: 'watching', PING: { actions: raise({ type: 'UNMUTE' }) } }, after: { 1000: 'watching' } },
        off: { type: 'final' },
      },
    },
  },
});

/** A kit saga with what the fixtures do not use: a step timeout, two needs, a step without undo. */
const kitMachine = defineSaga({
  id: 'kitAll',
  retry: { initialDelayMs: 50, maxDelayMs: 400, maxAttempts: 3 },
  undoRetry: { initialDelayMs: 30, maxDelayMs: 90, maxAttempts: 2 },
  steps: [
    { name: 'fetch', run: 'fetchIt', timeoutMs: 400 },
    { name: 'store', run: 'storeIt', undo: 'unstoreIt', needs: ['db', 'cache'], retry: { maxAttempts: 2 }, input: ({ outputs }) => ({ fetched: outputs.fetch }) },
    { name: 'announce', run: 'announceIt', undo: 'unannounceIt', timeoutMs: 250 },
  ],
});

// ---------------------------------------------------------------------------------------------
// What the host delivers

interface Subject {
  readonly name: string;
  readonly machine: AnyStateMachine;
  readonly inputs: readonly unknown[];
  /** Client and host events other than step results and timer firings, ignored ones included. */
  readonly events: readonly AnyEventObject[];
  readonly outputs: readonly unknown[];
  readonly errors: readonly unknown[];
  /** A run known to take the machine to a final state. */
  readonly finishing: Run;
}

const stepError = (code: string, retryable: boolean, details?: Record<string, unknown>) => ({ name: 'Error', code, message: code.toLowerCase(), retryable, ...(details ? { details } : {}) });
const SAGA_ERRORS = [
  stepError('REFUSED', false),
  stepError('UNAVAILABLE', true),
  stepError('DEPENDENCY_UNAVAILABLE', true, { dependency: 'registry' }),
  stepError('DEPENDENCY_UNAVAILABLE', true, { dependency: 'db' }),
  'a bare string',
];
const SAGA_OUTPUTS = [{ n: 1 }, { tracking: 'T1', items: [1, 2] }, null, 'text'];
const SAGA_EVENTS: AnyEventObject[] = [
  { type: 'saga.cancel' },
  { type: 'saga.retry' },
  { type: 'saga.skip' },
  { type: 'boot.ready', dependency: 'registry' },
  { type: 'boot.ready', dependency: 'db' },
  { type: 'boot.ready', dependency: 'cache' },
  { type: 'boot.ready', dependency: 'elsewhere' },
  { type: 'not.handled' },
];

const ev = (payload: number): Step => ({ kind: 'event', pick: 0, payload, gap: 10 });
const done = (payload: number): Step => ({ kind: 'done', pick: 0, payload, gap: 10 });

/**
 * Results for whatever is pending and every dependency ready, round after round. With nothing
 * pending, `done(7)` falls back to event 7, which no saga handles.
 */
const SAGA_FINISHING: Run = { input: 0, steps: Array.from({ length: 8 }, () => [done(7), ev(3), ev(4), ev(5)]).flat() };

const SUBJECTS: readonly Subject[] = [
  { name: 'order (defineSaga fixture)', machine: orderMachine, inputs: [{ order: 'o1' }, { order: 'o2', delayMs: { chargeCard: 5 } }], events: SAGA_EVENTS, outputs: SAGA_OUTPUTS, errors: SAGA_ERRORS, finishing: SAGA_FINISHING },
  { name: 'slowOrder (defineSaga fixture)', machine: slowOrderMachine, inputs: [{ order: 's1', failAttempts: { chargeCard: 1 } }], events: SAGA_EVENTS, outputs: SAGA_OUTPUTS, errors: SAGA_ERRORS, finishing: SAGA_FINISHING },
  { name: 'push (defineSaga fixture, needs registry)', machine: pushMachine, inputs: [{}, { image: 'x' }], events: SAGA_EVENTS, outputs: SAGA_OUTPUTS, errors: SAGA_ERRORS, finishing: SAGA_FINISHING },
  { name: 'kitAll (defineSaga: timeouts, two needs)', machine: kitMachine, inputs: [{ id: 'k' }], events: SAGA_EVENTS, outputs: SAGA_OUTPUTS, errors: SAGA_ERRORS, finishing: SAGA_FINISHING },
  {
    name: 'boot dependency machine',
    machine: bootDependencyMachine,
    inputs: [{ name: 'nats' }, { name: 'registry', healthIntervalMs: 300 }, { name: 'names', healthIntervalMs: 50, retry: { jitter: 0, initialDelayMs: 10 } }],
    events: [{ type: 'deps.ready' }, { type: 'health.failed', error: 'gone' }, { type: 'stop' }, { type: 'not.handled' }],
    outputs: [undefined, { ok: true }],
    errors: [{ message: 'refused', retryable: true }, { message: 'no binary', retryable: false }, 'a bare string'],
    // deps.ready, start and check succeed (unmonitored: ready at once), stop, stop hook done.
    finishing: { input: 0, steps: [ev(0), done(3), done(3), ev(2), done(3)] },
  },
  {
    name: 'hand-written parallel machine',
    machine: handMachine,
    inputs: [undefined, { limit: 0 }, { limit: 1 }, { limit: 3 }],
    events: [{ type: 'GO' }, { type: 'GO', n: 9 }, { type: 'ABORT' }, { type: 'PING' }, { type: 'PING' }, { type: 'MUTE' }, { type: 'UNMUTE' }, { type: 'TICK' }, { type: 'OFF' }, { type: 'not.handled' }],
    outputs: [{ page: 1 }, null],
    errors: ['timeout', { code: 'E' }],
    // limit 0: the first GO finishes the worker; OFF finishes the monitor.
    finishing: { input: 1, steps: [ev(0), ev(8)] },
  },
];

type Kind = 'done' | 'error' | 'timer' | 'event' | 'staleResult' | 'staleTimer';
interface Step {
  readonly kind: Kind;
  readonly pick: number;
  readonly payload: number;
  /** Milliseconds since the previous input. */
  readonly gap: number;
}

const stepArb: fc.Arbitrary<Step> = fc.record({
  kind: fc.constantFrom<Kind>('done', 'done', 'done', 'error', 'timer', 'timer', 'event', 'event', 'staleResult', 'staleTimer'),
  pick: fc.nat(),
  payload: fc.nat(),
  gap: fc.nat({ max: 2_000 }),
});

interface Run {
  readonly input: number;
  readonly steps: readonly Step[];
}

const runArb: fc.Arbitrary<Run> = fc.record({ input: fc.nat(), steps: fc.array(stepArb, { minLength: 1, maxLength: 60 }) });

const nth = <T>(xs: readonly T[], i: number): T => xs[i % xs.length]!;

/** The host's view of a run, folded from the reference path's actions as the runtime does. */
class HostModel {
  private readonly book = emptyBook();
  private no = 1;
  /** Invocation ids and timers seen at any time, for stale inputs. */
  private readonly spawned = new Map<string, string>();
  private readonly timers = new Map<string, AnyEventObject>();

  constructor(
    readonly subject: Subject,
    readonly at: number,
    initActions: readonly Action[],
  ) {
    this.record(undefined, initActions, false);
  }

  commit(event: AnyEventObject, actions: readonly Action[], final: boolean): void {
    this.no++;
    this.record(event, actions, final);
  }

  private record(event: AnyEventObject | undefined, actions: readonly Action[], final: boolean): void {
    applyEntry(this.book, { sagaId: 'p', no: this.no, at: (event?.at as number | undefined) ?? this.at, event, final }, actions);
    for (const p of Object.values(this.book.pending)) this.spawned.set(p.id, p.key);
    for (const t of Object.values(this.book.timers)) this.timers.set(t.id, t.event);
  }

  /** The input a step stands for; `at` is stamped by the caller. */
  inputFor(s: Step): AnyEventObject {
    const { subject } = this;
    const pending = Object.values(this.book.pending);
    const armed = Object.values(this.book.timers);
    const result = (id: string, key: string | undefined, ok: boolean): AnyEventObject =>
      ok
        ? { type: `xstate.done.actor.${id}`, actorId: id, key, output: nth(subject.outputs, s.payload) }
        : { type: `xstate.error.actor.${id}`, actorId: id, key, error: nth(subject.errors, s.payload) };
    switch (s.kind) {
      case 'done':
      case 'error':
        if (pending.length > 0) {
          const p = nth(pending, s.pick);
          return result(p.id, p.key, s.kind === 'done');
        }
        break;
      case 'timer':
        if (armed.length > 0) {
          const t = nth(armed, s.pick);
          return { ...t.event, timerId: t.id };
        }
        break;
      case 'staleResult': {
        const gone = [...this.spawned].filter(([id]) => !this.book.pending[id]);
        if (gone.length > 0) {
          const [id, key] = nth(gone, s.pick);
          return result(id, key, s.payload % 2 === 0);
        }
        break;
      }
      case 'staleTimer': {
        const gone = [...this.timers].filter(([id]) => !this.book.timers[id]);
        if (gone.length > 0) {
          const [id, event] = nth(gone, s.pick);
          return { ...event, timerId: id };
        }
        break;
      }
      case 'event':
        break;
    }
    return nth(subject.events, s.payload);
  }
}

// ---------------------------------------------------------------------------------------------
// What is compared

/** A value, or what it threw: both paths must throw alike too. */
function attempt(fn: () => unknown): unknown {
  try {
    return fn();
  } catch (e) {
    return { threw: (e as Error).message };
  }
}

/** Everything of a snapshot the runtime reads or persists (checkpoints use the persisted form). */
function snapshotView(machine: AnyStateMachine, s: AnyMachineSnapshot) {
  return {
    value: s.value,
    context: s.context,
    status: s.status,
    output: s.output,
    error: s.error,
    tags: [...s.tags].sort(),
    // An invoke whose src names no implementation (the boot machine's placeholders) leaves an
    // undefined child; persisting such a snapshot throws, on both paths.
    children: Object.entries(s.children as Record<string, { src?: unknown } | undefined>)
      .map(([id, child]) => [id, child === undefined ? null : typeof child.src === 'string' ? child.src : 'inline'])
      .sort(),
    persisted: attempt(() => machine.getPersistedSnapshot(s)),
  };
}

/** The parts of an action the host acts on; other built-ins and custom actions by type and params. */
function actionView(a: Action): Record<string, unknown> {
  const p = a.params as Record<string, unknown> | undefined;
  switch (a.type) {
    case 'xstate.spawnChild':
      return { type: a.type, id: p?.id, src: p?.src, input: p?.input, systemId: p?.systemId };
    case 'xstate.stopChild':
      // The params are the child's ActorRef (or its id).
      return { type: a.type, child: typeof p === 'string' ? p : p?.id };
    case 'xstate.raise':
      return { type: a.type, event: p?.event, delay: p?.delay, id: p?.id };
    case 'xstate.cancel':
      return { type: a.type, sendId: p?.sendId };
    default:
      return { type: a.type, params: p };
  }
}

const actionsView = (actions: readonly Action[]) => actions.map(actionView);

/** What a subject's runs reached, so that a generator that never gets anywhere is noticed. */
interface Reach {
  readonly actionTypes: Set<string>;
  readonly statuses: Set<string>;
  readonly ignored: { count: number };
  readonly restored: { count: number };
}

function expectAgreement(subject: Subject, fast: PureTransitions, ref: PureTransitions, run: Run, reach: Reach): void {
  const { machine } = subject;
  const input = nth(subject.inputs, run.input);
  const [f0, fa0] = fast.initial(input);
  const [r0, ra0] = ref.initial(input);
  expect(snapshotView(machine, f0), 'initial snapshot').toEqual(snapshotView(machine, r0));
  expect(actionsView(fa0), 'initial actions').toEqual(actionsView(ra0));

  let at = 1_700_000_000_000;
  const host = new HostModel(subject, at, ra0);
  let [f, r] = [f0, r0];
  run.steps.forEach((s, i) => {
    at += s.gap;
    const event = { ...host.inputFor(s), at };
    const where = `step ${i} (${event.type})`;
    const [f2, fa] = fast.next(f, event);
    const [r2, ra] = ref.next(r, event);
    expect(snapshotView(machine, f2), where).toEqual(snapshotView(machine, r2));
    expect(actionsView(fa), where).toEqual(actionsView(ra));
    // The runtime journals nothing for an input that returns the same snapshot and no actions.
    expect(f2 === f, where).toBe(r2 === r);
    // A snapshot made elsewhere (a restored checkpoint, the public path) goes through the fast
    // path just as well.
    const [x2, xa] = fast.next(r, event);
    expect(snapshotView(machine, x2), `${where}, from the reference snapshot`).toEqual(snapshotView(machine, r2));
    expect(actionsView(xa), `${where}, from the reference snapshot`).toEqual(actionsView(ra));
    // A checkpoint of the snapshot before the step (as the runtime makes one), restored on the
    // fast path, is the one the public path restores, and takes the step the same way (children
    // and their stops included). Not for a snapshot holding an undefined child (an invoke whose
    // src names no implementation, as the boot machine's placeholders): the runtime never runs one.
    if (Object.values(f.children as Record<string, unknown>).every((c) => c !== undefined)) {
      const persisted = JSON.parse(JSON.stringify(persistSnapshot(machine, f))) as unknown;
      const [fr, rr] = [fast.restore(persisted), ref.restore(persisted)];
      expect(snapshotView(machine, fr), `${where}, restored`).toEqual(snapshotView(machine, rr));
      expect(Object.keys(fr.children).sort(), `${where}, restored children`).toEqual(Object.keys(rr.children).sort());
      const [y2, ya] = fast.next(fr, event);
      expect(snapshotView(machine, y2), `${where}, from the restored snapshot`).toEqual(snapshotView(machine, r2));
      expect(actionsView(ya), `${where}, from the restored snapshot`).toEqual(actionsView(ra));
      reach.restored.count++;
    }

    for (const a of ra) reach.actionTypes.add(a.type);
    reach.statuses.add(r2.status);
    if (r2 === r) reach.ignored.count++;
    else host.commit(event, ra, r2.status === 'done');
    [f, r] = [f2, r2];
  });
}

describe('pure transitions', () => {
  it('uses the fast path for every machine here (none has an invoke with a systemId)', () => {
    for (const s of SUBJECTS) expect(pureTransitions(s.machine).fast, s.name).toBe(true);
    expect(pureTransitions(orderMachine, { fast: false }).fast).toBe(false);
  });

  describe.each(SUBJECTS.map((s) => [s.name, s] as const))('the fast path agrees with the public functions: %s', (_name, subject) => {
    const fast = pureTransitions(subject.machine);
    const ref = pureTransitions(subject.machine, { fast: false });
    const newReach = (): Reach => ({ actionTypes: new Set(), statuses: new Set(), ignored: { count: 0 }, restored: { count: 0 } });

    it('on a run to a final state', () => {
      const reach = newReach();
      expectAgreement(subject, fast, ref, subject.finishing, reach);
      expect([...reach.statuses]).toContain('done');
    });

    it('on random runs of host inputs (property)', () => {
      const reach = newReach();
      fc.assert(
        fc.property(runArb, (run) => expectAgreement(subject, fast, ref, run, reach)),
        { numRuns: 150 },
      );
      // The runs went somewhere: invocations started and stopped, timers armed and cancelled
      // and inputs ignored, each hundreds of times in 150 runs.
      for (const t of ['xstate.spawnChild', 'xstate.stopChild', 'xstate.raise', 'xstate.cancel']) expect([...reach.actionTypes], t).toContain(t);
      expect(reach.ignored.count).toBeGreaterThan(0);
      if (subject.name !== 'boot dependency machine') expect(reach.restored.count).toBeGreaterThan(0);
    });
  });
});
