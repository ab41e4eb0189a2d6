/**
 * One live copy of a saga: a serial mailbox in front of the persist-then-act loop.
 *
 * For each input: compute the transition purely; journal the input (optimistic append, the
 * saga's last seq as expectation); only then — and only if this copy was not stopped while the
 * append was in flight — commit the snapshot and book and act on them: start invocations the
 * book holds that are not running, abort those it no longer holds, arm and clear timers.
 * Nothing happens for an input before it is durable, so a crash anywhere leaves a journal whose
 * fold recreates exactly the work still to do.
 */
import type { AnyEventObject, AnyMachineSnapshot } from 'xstate';
import {
  ClosedError,
  EntryTooLargeError,
  ErrorCode,
  InvalidEventError,
  JournalConflictError,
  JournalUnavailableError,
  SagaError,
  SagaFencedError,
  serializeError,
  type SerializedError,
} from '../errors.js';
import { encodeEventRecord } from '../journal/codec.js';
import { isTerminalStatus, type SagaStatus } from '../journal/index-store.js';
import type { Journal } from '../journal/journal.js';
import { msgIdOf } from '../journal/msg-id.js';
import type { Logger } from '../log.js';
import { applyEntry, type Book, type PendingInvocation, type PendingTimer } from './book.js';
import type { FoldedSaga } from './fold.js';
import { crashPoint, crashPointsEnabled } from './crash-points.js';
import { Mailbox } from './mailbox.js';
import { pureTransitions, type PureTransitions, type TransitionResult } from './pure-transition.js';
import { statusOf } from './status.js';
import { infoOf } from './saga-info.js';
import type { SagaBinding, SagaInfo, SendOptions, SendResult, StepContext } from './types.js';

/** What an instance needs from the runtime that hosts it. */
export interface InstanceHost {
  readonly journal: Journal;
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

/**
 * `final`: the saga finished. `fenced`: another copy writes to it. `unloaded`: handed back
 * (close, lease lapse). `parked`: this copy could not go on (see `problem`); recovery retries.
 */
export type StopReason = 'final' | 'fenced' | 'unloaded' | 'parked';

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
/** Delays before a timer whose firing could not be journaled (NATS away) fires again. */
const REFIRE_MS = [250, 500, 1_000, 2_000, 5_000, 10_000];
/** How much of an error's message is kept when the whole error is too large to journal. */
const ERROR_MESSAGE_KEEP = 2_000;

export class SagaInstance {
  readonly id: string;
  readonly binding: SagaBinding;
  /** Unique per loaded copy of the saga (see msg-id.ts). */
  readonly copy: string;
  snapshot: AnyMachineSnapshot;
  readonly book: Book;
  no: number;
  lastSeq: number;
  readonly firstSeq: number;
  lastAt: number;
  readonly createdAt: number;
  /** Where this saga was forked from, if it is a fork. */
  readonly forkedFrom: FoldedSaga['forkedFrom'];
  status: SagaStatus;
  /** Why this copy parked the saga. */
  problem: string | undefined;

  private readonly mailbox = new Mailbox();
  private readonly running = new Map<string, RunningStep>();
  private readonly armed = new Map<string, ArmedTimer>();
  private readonly refires = new Map<string, number>();
  /** Aborts this copy's queued appends when it stops; made at its first append (see appendSignal). */
  private stopController: AbortController | undefined;
  /** The append in flight (or the last one): settles once nothing of it is on the wire. */
  private appending: Promise<unknown> = Promise.resolve();
  private stopReason: StopReason | undefined;
  private stopCause: unknown;
  private stopErr: SagaError | undefined;
  private logger: Logger | undefined;
  private readonly pure: PureTransitions;

  constructor(
    private readonly host: InstanceHost,
    folded: FoldedSaga,
    copy: string,
  ) {
    this.id = folded.sagaId;
    this.binding = folded.binding;
    this.copy = copy;
    this.snapshot = folded.snapshot;
    this.book = folded.book;
    this.no = folded.no;
    this.lastSeq = folded.lastSeq;
    this.firstSeq = folded.firstSeq;
    this.lastAt = folded.lastAt;
    this.createdAt = folded.createdAt;
    this.forkedFrom = folded.forkedFrom;
    this.status = statusOf(folded.snapshot);
    this.pure = pureTransitions(this.binding.machine);
  }

  /**
   * What this copy's appends are dropped on, if still queued: its stop. Made at the first append,
   * not per copy: a bulk recovery makes thousands of copies that append nothing for a while.
   * Not AbortSignal.any([closing, stop]) either: it costs ~8 µs, and Node 20 keeps every
   * combined signal registered on the runtime's closing signal for the runtime's life. Closing
   * stops every copy first (LoadedSagas.unloadAll), so the stop signal alone covers it; a copy
   * is never made once closing began, but if one were, its appends would be dropped at once.
   */
  private get appendSignal(): AbortSignal {
    if (this.host.closing.aborted) return this.host.closing;
    if (!this.stopController) {
      this.stopController = new AbortController();
      if (this.stopReason && this.stopReason !== 'final') this.stopController.abort(this.stopError);
    }
    return this.stopController.signal;
  }

  /** Built on first use: a pino child per saga costs more than most transitions. */
  private get log(): Logger {
    return (this.logger ??= this.host.logger.child({ sagaId: this.id, machine: `${this.binding.id}@${this.binding.version}` }));
  }

  get isStopped(): boolean {
    return this.stopReason !== undefined;
  }

  /** Whether an input is being consumed (journaled) or waits for its turn. */
  get isBusy(): boolean {
    return this.mailbox.busy;
  }

  /** Starts what the book holds: the pending invocations and timers of a fresh or folded saga. */
  resume(): void {
    this.act();
  }

  /** Delivers an external event. Events of type `xstate.*` belong to the host and are refused. */
  send(event: AnyEventObject, options: SendOptions = {}): Promise<SendResult> {
    if (typeof event !== 'object' || event === null || typeof event.type !== 'string' || event.type === '') {
      return Promise.reject(new InvalidEventError('an event must be an object with a non-empty string "type"'));
    }
    if (event.type.startsWith('xstate.')) {
      return Promise.reject(new InvalidEventError(`event type "${event.type}" is reserved for the saga host`));
    }
    const { onlyIn } = options;
    return this.mailbox.run(() => {
      if (onlyIn && !this.stopReason && !onlyIn.includes(this.status)) {
        return Promise.resolve({ accepted: false, entryNo: this.no, status: this.status, state: this.snapshot.value });
      }
      return this.consume(event, false);
    });
  }

  /** Stops driving the saga: aborts its steps and clears its timers. The journal is untouched. */
  stop(reason: StopReason, cause?: unknown): void {
    if (this.stopReason) return;
    this.stopReason = reason;
    this.stopCause = cause;
    if (reason !== 'final') this.stopController?.abort(this.stopError);
    for (const step of this.running.values()) abortStep(step, () => this.stopError);
    this.running.clear();
    for (const t of this.armed.values()) clearTimeout(t.handle);
    this.armed.clear();
    this.host.stopped(this, reason, cause);
  }

  /** Parks the saga: stops this copy and says why; recovery tries it again. */
  park(problem: string, cause?: unknown): void {
    if (this.stopReason) return;
    this.problem = problem;
    this.log.error({ err: problem }, 'saga parked');
    this.stop('parked', cause);
  }

  /**
   * Resolves once no append of this copy is in flight. After `stop()` nothing new is sent, so
   * this is when the journal holds everything this copy will ever write.
   */
  settled(): Promise<void> {
    return this.appending.then(
      () => undefined,
      () => undefined,
    );
  }

  /** Why the instance stopped, as an error for callers (built on demand: most never ask). */
  private get stopError(): SagaError | undefined {
    if (!this.stopReason) return undefined;
    return (this.stopErr ??=
      this.stopReason === 'fenced'
        ? new SagaFencedError(this.id, this.stopCause)
        : new ClosedError(this.stopReason === 'final' ? `saga "${this.id}"` : `saga "${this.id}" (${this.stopReason})`));
  }

  /** Resolves once every input queued so far is consumed. */
  idle(): Promise<void> {
    return this.mailbox.idle();
  }

  info(owner: string | undefined): SagaInfo {
    const info = infoOf({ sagaId: this.id, binding: this.binding, snapshot: this.snapshot, no: this.no, lastAt: this.lastAt, book: this.book, forkedFrom: this.forkedFrom }, owner);
    return this.problem ? { ...info, status: 'parked', problem: this.problem } : info;
  }

  /** One input through the loop; `always` journals it even if it changes only the book. */
  private async consume(event: AnyEventObject, always: boolean): Promise<SendResult> {
    if (this.stopReason) throw this.stopError!;
    const at = this.host.now();
    let json: string;
    try {
      json = JSON.stringify(event);
    } catch (e) {
      throw new InvalidEventError(`event "${event.type}" is not JSON-serialisable: ${(e as Error).message}`, { details: { reason: 'json' } });
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
      return { accepted: false, entryNo: this.no, status: this.status, state: this.snapshot.value };
    }

    const no = this.no + 1;
    const data = encodeEventRecord(no, at, json);
    if (data.length > this.host.journal.maxEntryBytes) throw new EntryTooLargeError(this.id, data.length, this.host.journal.maxEntryBytes, `event "${event.type}"`);
    let seq: number;
    try {
      if (crashPointsEnabled) crashPoint('before-append', event.type);
      const pending = this.host.journal.append(this.id, data, {
        expectedLastSeq: this.lastSeq,
        msgId: msgIdOf(this.id, no, this.copy),
        signal: this.appendSignal,
      });
      this.appending = pending;
      if (crashPointsEnabled) {
        // Synchronously, before the client's flush microtask: not a byte was written.
        crashPoint('during-append-lost', event.type);
        // A microtask: after the client's own send microtask, before any ack can be read.
        queueMicrotask(() => crashPoint('during-append', event.type));
        // Registered before this function's own continuation, so it runs first: the ack
        // arrived, the saga never saw it.
        pending.then(() => crashPoint('during-append-landed', event.type), () => undefined);
      }
      seq = (await pending).seq;
      if (crashPointsEnabled) crashPoint('after-append', event.type);
    } catch (e) {
      if (e instanceof JournalConflictError) {
        this.log.warn({ seq: no, err: e.message }, 'another copy appended to this saga; stopping this copy');
        this.stop('fenced', e);
        throw this.stopError!;
      }
      if (this.stopError) throw this.stopError;
      throw e;
    }
    // Stopped while the append was in flight (fenced, lease lapsed, closed): the entry is
    // journaled, and whoever drives the saga next folds it — this copy must not act on it.
    if (this.stopReason) throw this.stopError!;

    const previousStatus = this.status;
    this.snapshot = next;
    this.no = no;
    this.lastSeq = seq;
    this.lastAt = at;
    const final = next.status === 'done';
    applyEntry(this.book, { sagaId: this.id, no, at, event: input, final }, actions);
    this.status = statusOf(next);
    this.runCustomActions(actions);
    this.act();
    if (crashPointsEnabled) crashPoint('after-act', event.type);
    this.host.committed(this, { no, at, event: input, previousStatus, status: this.status });
    if (isTerminalStatus(this.status)) this.stop('final');
    return { accepted: true, entryNo: no, status: this.status, state: next.value };
  }

  /** Brings running steps and armed timers in line with the book; a stopped copy does nothing. */
  private act(): void {
    if (this.stopReason) return;
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
      if (!impl) throw new SagaError(ErrorCode.UnknownStep, `no step implementation named "${p.src}"`, { retryable: false });
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
          const instead = this.stepFailureFor(p, event, e);
          if (!instead) throw e;
          await this.consume(instead, true);
        }
      })
      .catch((e: unknown) => this.onDeliveryError(p, e));
  }

  /**
   * A result that cannot be journaled as it is, but whose problem is the step's own: an output
   * that is not JSON or is larger than the journal takes becomes the step's (terminal) error,
   * which the machine handles like any other; an error too large to journal is cut down.
   */
  private stepFailureFor(p: PendingInvocation, event: AnyEventObject, e: unknown): AnyEventObject | undefined {
    if (this.stopReason) return undefined;
    const done = event.type.startsWith('xstate.done.');
    let error: SerializedError | undefined;
    if (done && e instanceof InvalidEventError && e.details?.reason === 'json') {
      error = serializeError(new SagaError(ErrorCode.StepOutputInvalid, `step "${p.src}" returned an output that is not JSON: ${e.message}`));
    } else if (done && e instanceof EntryTooLargeError) {
      error = serializeError(
        new SagaError(ErrorCode.StepOutputTooLarge, `step "${p.src}" returned an output of ${e.bytes} bytes; the journal takes at most ${e.maxBytes} (keep large data elsewhere and return a reference)`, {
          details: { bytes: e.bytes, maxBytes: e.maxBytes },
        }),
      );
    } else if (!done && e instanceof EntryTooLargeError) {
      const original = (event as { error?: SerializedError }).error;
      error = {
        name: original?.name ?? 'Error',
        code: original?.code ?? ErrorCode.StepFailed,
        message: `${(original?.message ?? '').slice(0, ERROR_MESSAGE_KEEP)} (error cut down from ${e.bytes} bytes)`,
        retryable: original?.retryable ?? false,
      };
    }
    return error && { type: `xstate.error.actor.${p.id}`, actorId: p.id, key: p.key, error };
  }

  private onDeliveryError(p: PendingInvocation, e: unknown): void {
    if (this.stopReason || e instanceof SagaFencedError || e instanceof ClosedError) return;
    // A result that cannot be journaled: park the saga visibly, rather than run on as if the
    // step were still in flight. Recovery re-runs the step (same key) and tries again.
    const what = e instanceof InvalidEventError ? 'the saga machine rejected the result' : 'the result could not be journaled';
    this.park(`step "${p.id}" (key ${p.key}): ${what}: ${(e as Error).message}`, e);
  }

  private arm(t: PendingTimer, notBeforeMs = 0): void {
    const delay = Math.max(notBeforeMs, t.dueAt - this.host.now());
    const armed: ArmedTimer = {
      key: t.key,
      handle: setTimeout(() => this.fire(t, armed), Math.min(delay, MAX_TIMEOUT)),
    };
    this.armed.set(t.id, armed);
  }

  private fire(t: PendingTimer, armed: ArmedTimer): void {
    if (this.armed.get(t.id) !== armed || this.stopReason) return;
    if (t.dueAt > this.host.now()) {
      // A long timer's intermediate hop, or setTimeout firing a millisecond early by
      // Date.now()'s rounding: a durable timer never fires before its deadline.
      this.arm(t);
      return;
    }
    void this.mailbox
      .run(async () => {
        if (this.book.timers[t.id]?.key !== t.key || this.armed.get(t.id) !== armed) return; // cancelled or re-armed meanwhile
        this.armed.delete(t.id);
        await this.consume({ ...t.event, timerId: t.id }, true);
        this.refires.delete(t.id);
      })
      .catch((e: unknown) => this.onFiringError(t, e));
  }

  /** A firing that was not journaled is not lost: the timer fires again, or the saga parks. */
  private onFiringError(t: PendingTimer, e: unknown): void {
    if (this.stopReason || e instanceof SagaFencedError || e instanceof ClosedError) return;
    if (e instanceof JournalUnavailableError) {
      const n = this.refires.get(t.id) ?? 0;
      this.refires.set(t.id, n + 1);
      const delay = REFIRE_MS[Math.min(n, REFIRE_MS.length - 1)]!;
      this.log.warn({ timer: t.id, err: e.message, retryInMs: delay }, 'could not journal a timer firing; it fires again');
      if (this.book.timers[t.id]?.key === t.key && !this.armed.has(t.id)) this.arm(t, delay);
      return;
    }
    this.park(`timer "${t.id}": its firing could not be journaled: ${(e as Error).message}`, e);
  }
}
