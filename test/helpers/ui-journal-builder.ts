/**
 * Writes a saga's journal by hand, for canned visualizer data: every input folded through the
 * machine's pure transitions and the runtime's own book (src/runtime/book.ts), so the journal
 * is exactly one a coordinator could have written — step results answer the invocations that
 * are pending, timers fire when armed, readiness arrives while a state awaits it.
 */
import type { AnyEventObject, AnyMachineSnapshot } from 'xstate';
import { AWAITS_TAG_PREFIX, SagaEventType } from '../../machines/kit/tags.js';
import { applyEntry, emptyBook, type Book, type PendingInvocation } from '../../src/runtime/book.js';
import type { JournalView } from '../../src/runtime/journal-view.js';
import { pureTransitions } from '../../src/runtime/pure-transition.js';
import type { SagaDefinition } from '../../src/runtime/types.js';

export class JournalBuilder {
  readonly journal: JournalView[] = [];
  private snapshot: AnyMachineSnapshot;
  private readonly book: Book = emptyBook();
  private at: number;

  constructor(
    readonly definition: SagaDefinition,
    readonly sagaId: string,
    input: unknown,
    options: { at: number; streamSeq?: number; forkedFrom?: { sagaId: string; entry: number; entries: number } },
  ) {
    this.at = options.at;
    const [snapshot, actions] = pureTransitions(definition.machine).initial(input);
    this.snapshot = snapshot as AnyMachineSnapshot;
    const init = { machine: definition.id, version: definition.version, input, owner: 'c1', ...(options.forkedFrom ? { forkedFrom: options.forkedFrom } : {}) };
    this.journal.push({ entryNo: 1, at: this.at, streamSeq: options.streamSeq ?? 1, init });
    applyEntry(this.book, { sagaId: this.sagaId, no: 1, at: this.at, event: undefined, final: false }, actions);
  }

  get state(): unknown {
    return this.snapshot.value;
  }

  get done(): boolean {
    return this.snapshot.status === 'done';
  }

  /** Appends one input, `dtMs` after the previous entry; throws if the machine ignores it. */
  send(event: AnyEventObject, dtMs = 2_000): this {
    this.at += dtMs;
    const stamped = { ...event, at: this.at };
    const [next, actions] = pureTransitions(this.definition.machine).next(this.snapshot, stamped);
    if (next === this.snapshot && actions.length === 0) throw new Error(`${this.sagaId}: the machine ignores ${event.type} in ${JSON.stringify(this.snapshot.value)}`);
    this.snapshot = next as AnyMachineSnapshot;
    const no = this.journal.length + 1;
    const last = this.journal.at(-1)!;
    this.journal.push({ entryNo: no, at: this.at, streamSeq: last.streamSeq + 1, event: event });
    applyEntry(this.book, { sagaId: this.sagaId, no, at: this.at, event: stamped, final: this.snapshot.status === 'done' }, actions);
    return this;
  }

  pending(): PendingInvocation[] {
    return Object.values(this.book.pending);
  }

  succeed(id: string, output: unknown = { ok: true }, dtMs?: number): this {
    this.expectPending(id);
    return this.send({ type: `xstate.done.actor.${id}`, actorId: id, output }, dtMs);
  }

  fail(id: string, error: { code: string; message: string; retryable: boolean }, dtMs?: number): this {
    this.expectPending(id);
    return this.send({ type: `xstate.error.actor.${id}`, actorId: id, error: { name: error.retryable ? 'RetryableError' : 'TerminalError', ...error } }, dtMs);
  }

  /** The dependency the current states await, if any. */
  awaiting(): string | null {
    const tag = [...this.snapshot.tags].find((t) => t.startsWith(AWAITS_TAG_PREFIX));
    return tag === undefined ? null : tag.slice(AWAITS_TAG_PREFIX.length);
  }

  ready(dependency: string, dtMs?: number): this {
    return this.send({ type: SagaEventType.Ready, dependency }, dtMs);
  }

  /** Fires the armed timer that is due first. */
  fire(dtMs?: number): this {
    const timer = Object.values(this.book.timers).sort((a, b) => a.dueAt - b.dueAt)[0];
    if (!timer) throw new Error(`${this.sagaId}: no timer is armed`);
    return this.send({ ...timer.event, timerId: timer.id }, dtMs);
  }

  /**
   * Answers whatever the saga waits for — readiness, the first pending step (with
   * `outputs(step)`), a timer — until `stop` holds or it ends.
   */
  run(stop: (b: JournalBuilder) => boolean = () => false, outputs: (step: string) => unknown = (s) => ({ step: s })): this {
    for (let guard = 0; guard < 500 && !this.done && !stop(this); guard++) {
      const dependency = this.awaiting();
      const pending = this.pending()[0];
      if (dependency !== null) this.ready(dependency);
      else if (pending) this.succeed(pending.id, outputs(pending.id));
      else if (Object.keys(this.book.timers).length > 0) this.fire();
      else throw new Error(`${this.sagaId}: stuck in ${JSON.stringify(this.snapshot.value)}`);
    }
    return this;
  }

  private expectPending(id: string): void {
    if (!this.book.pending[id]) throw new Error(`${this.sagaId}: ${id} is not pending (pending: ${Object.keys(this.book.pending).join(', ') || 'none'})`);
  }
}
