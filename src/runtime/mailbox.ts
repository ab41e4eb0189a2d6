/** A serial queue: one saga consumes one input at a time, in arrival order. */
export class Mailbox {
  private tail: Promise<unknown> = Promise.resolve();
  private depth = 0;

  get size(): number {
    return this.depth;
  }

  run<T>(work: () => Promise<T>): Promise<T> {
    this.depth++;
    const result = this.tail.then(work);
    this.tail = result.then(
      () => this.depth--,
      () => this.depth--,
    );
    return result;
  }

  /** Resolves once everything queued so far has been consumed. */
  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }
}
