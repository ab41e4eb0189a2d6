/** A serial queue: one saga consumes one input at a time, in arrival order. */
export class Mailbox {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Resolves once everything queued so far has been consumed. */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}
