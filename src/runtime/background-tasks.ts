/**
 * Work the runtime starts and does not await where it starts it: checkpoint saves and
 * deletes, re-acquisitions, recovery passes, child releases. Each is tracked so that `close`
 * can wait for all of them, and so that a failure is logged once instead of surfacing as an
 * unhandled rejection.
 */
import { SagaError } from '../errors.js';
import type { Logger } from '../log.js';
import { isTransient } from '../nats/nats-errors.js';

export interface BackgroundTasksOptions {
  readonly logger: Logger;
  /** Once the runtime is closed, failures are expected (stores closing) and not logged. */
  closed(): boolean;
}

export class BackgroundTasks {
  private readonly running = new Set<Promise<unknown>>();

  constructor(private readonly opts: BackgroundTasksOptions) {}

  track(p: Promise<unknown>): void {
    const q = p.catch((e: unknown) => {
      if (this.opts.closed()) return;
      // A NATS outage fails recovery passes and re-acquisitions until it ends: worth a
      // warning (they are retried), not an error.
      const transient = (e instanceof SagaError && e.retryable) || isTransient(e);
      this.opts.logger[transient ? 'warn' : 'error']({ err: (e as Error).message }, 'background task failed');
    });
    this.running.add(q);
    void q.finally(() => this.running.delete(q));
  }

  /** Settles once every task tracked so far has. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }
}
