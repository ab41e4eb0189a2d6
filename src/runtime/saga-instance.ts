/**
 * One live saga: a serial mailbox in front of the persist-then-act loop.
 *
 * For each input: compute the transition purely; journal the input (optimistic append, the
 * saga's last seq as expectation); only then commit the snapshot and book and act on them —
 * start invocations the book holds that are not running, abort those it no longer holds, arm
 * and clear timers. Nothing happens for an input before it is durable, so a crash anywhere
 * leaves a journal whose fold recreates exactly the work still to do.
 */
import type { AnyEventObject, AnyMachineSnapshot } from 'xstate';
import {
  ClosedError,
  InvalidEventError,
  JournalConflictError,
  SagaError,
  SagaFencedError,
  serializeError,
} from '../errors.js';
import { encodeEventRecord } from '../journal/codec.js';
import { isTerminalStatus, type SagaStatus } from '../journal/index-store.js';
import type { Journal } from '../journal/journal.js';
import type { Logger } from '../log.js';
import { applyEntry, type Book, type PendingInvocation, type PendingTimer } from './book.js';
import type { FoldedSaga } from './fold.js';
import { crashPoint, crashPointsEnabled } from './crash-points.js';
import { Mailbox } from './mailbox.js';
import { pureTransitions, type PureTransitions, type TransitionResult } from './pure-transition.js';
import { statusOf } from './status.js';
import { infoOf } from './saga-info.js';
import type { SagaBinding, SagaInfo, SendResult, StepContext } from './types.js';

/** What an instance needs from the runtime that hosts it. */
export interface InstanceHost {
  readonly journal: Journal;
  /** Distinguishes this process's appends from any other writer's (see `msgIdFor`). */
  readonly incarnation: string;
  readonly logger: Logger;
  /** Aborted when the runtime closes: pending appends give up, steps are aborted. */
  readonly closing: AbortSignal;
  now(): number;
  /** Called after every journaled input, once the instance has acted on it. */
  committed(instance: SagaInstance, commit: Commit): void;
  /** Called once when the instance stops driving its saga. */
  stopped(instance: SagaInstance, reason: StopReason, cause?: unknown): void;
}

export interface Commit {
  readonly no: number;
  readonly at: number;
  readonly event: AnyEventObject;
  readonly previousStatus: SagaStatus;
  readonly status: SagaStatus;
}

export type StopReason = 'final' | 'fenced' | 'unloaded';

/**
 * A step in flight. Its AbortController is made only if the step reads `ctx.signal`: most
 * never do, and creating a signal costs about as much as a transition.
 */
interface RunningStep {
  readonly key: string;
  controller: AbortController | undefined;
  /** Set when aborted before the step asked for its signal. */
  aborted: (() => unknown) | undefined;
  finished: boolean;
}

function stepSignal(step: RunningStep): AbortSignal {
  if (!step.controller) {
    step.controller = new AbortController();
    if (step.aborted) step.controller.abort(step.aborted());
  }
  return step.controller.signal;
}

function abortStep(step: RunningStep, reason: () => unknown): void {
  if (step.aborted) return;
  step.aborted = reason;
  step.controller?.abort(reason());
}

interface ArmedTimer {
  readonly key: string;
  handle: NodeJS.Timeout;
}

/** setTimeout's limit (~24.8 days); longer timers are re-armed in hops. */
const MAX_TIMEOUT = 2 ** 31 - 1;

export class SagaInstance {
  readonly id: string;
  readonly binding: SagaBinding;
  snapshot: AnyMachineSnapshot;
  readonly book: Book;
  no: number;
  lastSeq: number;
  readonly firstSeq: number;
  lastAt: number;
  readonly createdAt: number;
  status: SagaStatus;
  /** Why the saga cannot progress, when a result was rejected by its machine. */
  problem: string | undefined;

  private readonly mailbox = new Mailbox();
  private readonly running = new Map<string, RunningStep>();
  private readonly armed = new Map<string, ArmedTimer>();
  private readonly stopController = new AbortController();
  private readonly appendSignal: AbortSignal;
  private stopReason: StopReason | undefined;
  private stopCause: unknown;
  private stopErr: SagaError | undefined;
  private logger: Logger | undefined;
  private readonly pure: PureTransitions;

  constructor(
    private readonly host: InstanceHost,
    folded: FoldedSaga,
  ) {
    this.id = folded.sagaId;
    this.binding = folded.binding;
    this.snapshot = folded.snapshot;
    this.book = folded.book;
    this.no = folded.no;
    this.lastSeq = folded.lastSeq;
    this.firstSeq = folded.firstSeq;
    this.lastAt = folded.lastAt;
    this.createdAt = folded.createdAt;
    this.status = statusOf(folded.snapshot);
    this.appendSignal = AbortSignal.any([host.closing, this.stopController.signal]);
    this.pure = pureTransitions(this.binding.machine);

  }

  /** Built on first use: a pino child per saga costs more than most transitions. */
  private get log(): Logger {
    return (this.logger ??= this.host.logger.child({ sagaId: this.id, machine: `${this.binding.id}@${this.binding.version}` }));
  }

  get isStopped(): boolean {
    return this.stopReason !== undefined;
  }

  /** Starts what the book holds: the pending invocations and timers of a fresh or folded saga. */
  resume(): void {
    if (!this.isStopped) this.act();
  }

  /** Delivers an external event. Events of type `xstate.*` belong to the host and are refused. */
  send(event: AnyEventObject): Promise<SendResult> {
    if (typeof event !== 'object' || event === null || typeof event.type !== 'string' || event.type === '') {
      return Promise.reject(new InvalidEventError('an event must be an object with a non-empty string "type"'));
    }
    if (event.type.startsWith('xstate.')) {
      return Promise.reject(new InvalidEventError(`event type "${event.type}" is reserved for the saga host`));
    }
    return this.mailbox.run(() => this.consume(event, false));
  }

  /** Stops driving the saga: aborts its steps and clears its timers. The journal is untouched. */
  stop(reason: StopReason, cause?: unknown): void {
    if (this.stopReason) return;
    this.stopReason = reason;
    this.stopCause = cause;
    if (reason !== 'final') this.stopController.abort(this.stopError);
    for (const step of this.running.values()) abortStep(step, () => this.stopError);
    this.running.clear();
    for (const t of this.armed.values()) clearTimeout(t.handle);
    this.armed.clear();
    this.host.stopped(this, reason, cause);
  }

  /** Why the instance stopped, as an error for callers (built on demand: most never ask). */
  private get stopError(): SagaError | undefined {
    if (!this.stopReason) return undefined;
    return (this.stopErr ??=
      this.stopReason === 'fenced'
        ? new SagaFencedError(this.id, this.stopCause)
        : new ClosedError(this.stopReason === 'final' ? `saga "${this.id}"` : `saga "${this.id}" (unloaded)`));
  }

  /** Resolves once every input queued so far is consumed. */
  idle(): Promise<void> {
    return this.mailbox.idle();
  }

  info(owner: string | undefined): SagaInfo {
    const info = infoOf({ sagaId: this.id, binding: this.binding, snapshot: this.snapshot, no: this.no, lastAt: this.lastAt, book: this.book }, owner);
    return this.problem ? { ...info, problem: this.problem } : info;
  }

  /**
   * The append's dedupe id. It names this process's incarnation as well as the entry number:
   * JetStream checks a msgId before the expected sequence, so with `<saga>:<no>` alone a rival
   * coordinator's entry `no` would be acknowledged to us as our own "duplicate" write.
   */
  private msgIdFor(no: number): string {
    return `${this.id}:${no}:${this.host.incarnation}`;
  }

  /** One input through the loop; `always` journals it even if it changes only the book. */
  private async consume(event: AnyEventObject, always: boolean): Promise<SendResult> {
    if (this.stopReason) throw this.stopError!;
    const at = this.host.now();
    let json: string;
    try {
      json = JSON.stringify(event);
    } catch (e) {
      throw new InvalidEventError(`event "${event.type}" is not JSON-serialisable: ${(e as Error).message}`);
    }
    // The machine sees exactly what a replay will see: the JSON form plus the stamped time.
    const input = JSON.parse(json) as AnyEventObject;
    input.at = at;
    let next: AnyMachineSnapshot;
    let actions: TransitionResult[1];
    try {
      [next, actions] = this.pure.next(this.snapshot, input);
    } catch (e) {
      throw new InvalidEventError(`saga "${this.id}" rejected event "${event.type}": ${(e as Error).message}`, { cause: e });
    }
    if (!always && next === this.snapshot && actions.length === 0) {
      return { accepted: false, seq: this.no, status: this.status, state: this.snapshot.value };
    }

    const no = this.no + 1;
    let seq: number;
    try {
      if (crashPointsEnabled) crashPoint('before-append', event.type);
      const pending = this.host.journal.append(this.id, encodeEventRecord(no, at, json), {
        expectedLastSeq: this.lastSeq,
        msgId: this.msgIdFor(no),
        signal: this.appendSignal,
      });
      // A microtask: after the client's own send microtask (queued inside publish), before any
      // ack can be read (setImmediate could run after the ack was handled and acted on).
      if (crashPointsEnabled) queueMicrotask(() => crashPoint('during-append', event.type));
      seq = (await pending).seq;
      if (crashPointsEnabled) crashPoint('after-append', event.type);
    } catch (e) {
      if (e instanceof JournalConflictError) {
        this.log.warn({ seq: no, err: e.message }, 'another coordinator appended to this saga; stopping this copy');
        this.stop('fenced', e);
        throw this.stopError!;
      }
      if (this.stopError) throw this.stopError;
      throw e;
    }

    const previousStatus = this.status;
    this.snapshot = next;
    this.no = no;
    this.lastSeq = seq;
    this.lastAt = at;
    const final = next.status === 'done';
    applyEntry(this.book, { sagaId: this.id, no, at, event: input, final }, actions);
    this.status = statusOf(next);
    this.act(actions);
    if (crashPointsEnabled) crashPoint('after-act', event.type);
    this.host.committed(this, { no, at, event: input, previousStatus, status: this.status });
    if (isTerminalStatus(this.status)) this.stop('final');
    return { accepted: true, seq: no, status: this.status, state: next.value };
  }

  /** Brings running steps and armed timers in line with the book; runs custom actions. */
  private act(actions?: TransitionResult[1]): void {
    if (actions) this.runCustomActions(actions);
    for (const [id, step] of this.running) {
      if (this.book.pending[id]?.key !== step.key) {
        if (!step.finished) abortStep(step, () => new ClosedError(`invocation "${id}" of saga "${this.id}" (state left)`));
        this.running.delete(id);
      }
    }
    for (const p of Object.values(this.book.pending)) {
      if (this.running.get(p.id)?.key !== p.key) this.startStep(p);
    }
    for (const [id, t] of this.armed) {
      if (this.book.timers[id]?.key !== t.key) {
        clearTimeout(t.handle);
        this.armed.delete(id);
      }
    }
    for (const t of Object.values(this.book.timers)) {
      if (this.armed.get(t.id)?.key !== t.key) this.arm(t);
    }
  }

  /**
   * Custom (non-`xstate.*`) actions run after the append and never in replay: at most once,
   * fit for telemetry only. Anything that matters must be an invoked step.
   */
  private runCustomActions(actions: TransitionResult[1]): void {
    for (const action of actions) {
      if (action.type.startsWith('xstate.') || typeof action.exec !== 'function') continue;
      try {
        action.exec(action.info, action.params);
      } catch (e) {
        this.log.warn({ action: action.type, err: (e as Error).message }, 'custom action failed');
      }
    }
  }

  private startStep(p: PendingInvocation): void {
    const step: RunningStep = { key: p.key, controller: undefined, aborted: undefined, finished: false };
    this.running.set(p.id, step);
    const impl = this.binding.steps[p.src];
    const log = (): Logger => this.log;
    const ctx: StepContext = {
      sagaId: this.id,
      invocationId: p.id,
      idempotencyKey: p.key,
      attempt: p.attempt,
      get signal() {
        return stepSignal(step);
      },
      get logger() {
        return log();
      },
    };
    let result: Promise<unknown>;
    try {
      if (!impl) throw new SagaError('UNKNOWN_STEP', `no step implementation named "${p.src}"`, { retryable: false });
      result = Promise.resolve(impl(p.input, ctx));
    } catch (e) {
      result = Promise.reject(e);
    }
    result.then(
      (output) => this.deliver(step, p, { type: `xstate.done.actor.${p.id}`, actorId: p.id, key: p.key, output }),
      (err: unknown) =>
        this.deliver(step, p, { type: `xstate.error.actor.${p.id}`, actorId: p.id, key: p.key, error: serializeError(err) }),
    );
  }

  /** Queues a step's result; it is journaled only if its key still matches the book. */
  private deliver(step: RunningStep, p: PendingInvocation, event: AnyEventObject): void {
    step.finished = true;
    if (step.aborted || this.stopReason) return;
    void this.mailbox
      .run(async () => {
        if (this.book.pending[p.id]?.key !== p.key) return; // late or duplicate result
        try {
          await this.consume(event, true);
        } catch (e) {
          if (!(e instanceof InvalidEventError) || !event.type.startsWith('xstate.done.')) throw e;
          // An output that is not JSON is the step's failure, not the machine's.
          await this.consume(
            { type: `xstate.error.actor.${p.id}`, actorId: p.id, key: p.key, error: serializeError(new SagaError('STEP_OUTPUT_INVALID', e.message)) },
            true,
          );
        }
      })
      .catch((e: unknown) => this.onDeliveryError(p, e));
  }

  private onDeliveryError(p: PendingInvocation, e: unknown): void {
    if (this.stopReason || e instanceof SagaFencedError || e instanceof ClosedError) return;
    if (e instanceof InvalidEventError) {
      // A poison result: the machine throws on it. Park the saga rather than loop; an operator
      // must fix the machine (a new version) and the step re-runs on the next recovery.
      this.problem = e.message;
      this.log.error({ invocation: p.id, key: p.key, err: e.message }, 'saga machine rejected a step result; saga parked');
      return;
    }
    this.log.error({ invocation: p.id, key: p.key, err: (e as Error).message }, 'could not journal a step result');
  }

  private arm(t: PendingTimer): void {
    const delay = Math.max(0, t.dueAt - this.host.now());
    const armed: ArmedTimer = {
      key: t.key,
      handle: setTimeout(() => this.fire(t, armed), Math.min(delay, MAX_TIMEOUT)),
    };
    this.armed.set(t.id, armed);
  }

  private fire(t: PendingTimer, armed: ArmedTimer): void {
    if (this.armed.get(t.id) !== armed) return;
    if (t.dueAt > this.host.now()) {
      // A long timer's intermediate hop, or setTimeout firing a millisecond early by
      // Date.now()'s rounding: a durable timer never fires before its deadline.
      this.arm(t);
      return;
    }
    void this.mailbox
      .run(async () => {
        if (this.book.timers[t.id]?.key !== t.key) return; // cancelled or re-armed meanwhile
        this.armed.delete(t.id);
        await this.consume({ ...t.event, timerId: t.id }, true);
      })
      .catch((e: unknown) => {
        if (this.stopReason || e instanceof SagaFencedError || e instanceof ClosedError) return;
        this.log.error({ timer: t.id, err: (e as Error).message }, 'could not journal a timer firing');
      });
  }
}
