/** A serial queue: one saga consumes one input at a time, in arrival order. */
export class Mailbox {
  private tail: Promise<unknown> = Promise.resolve();
  private queued = 0;

  run<T>(work: () => Promise<T>): Promise<T> {
    this.queued++;
    const result = this.tail.then(work).finally(() => this.queued--);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Whether an input is being consumed or waits to be (an append may be in flight). */
  get busy(): boolean {
    return this.queued > 0;
  }

  /** Resolves once everything queued so far has been consumed. */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}
