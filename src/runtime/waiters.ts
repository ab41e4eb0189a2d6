/** Callers waiting for sagas to reach a status, resolved as transitions are committed. */
import { SagaError, ErrorCode } from '../errors.js';
import type { SagaStatus } from '../journal/index-store.js';
import type { SagaInfo } from './types.js';

interface Waiter {
  readonly until: ReadonlySet<SagaStatus>;
  readonly resolve: (info: SagaInfo) => void;
  readonly reject: (e: unknown) => void;
}

export class Waiters {
  private readonly bySaga = new Map<string, Set<Waiter>>();

  has(sagaId: string): boolean {
    return this.bySaga.has(sagaId);
  }

  /**
   * Waits until `check` (called now and on every `notify`) yields an info whose status is in
   * `until`. `poll` re-checks periodically for sagas driven elsewhere, whose transitions this
   * process does not see.
   */
  wait(
    sagaId: string,
    until: ReadonlySet<SagaStatus>,
    check: () => Promise<SagaInfo>,
    opts: { timeoutMs?: number; signal?: AbortSignal; pollMs: number; local: () => boolean },
  ): Promise<SagaInfo> {
    return new Promise<SagaInfo>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let poller: NodeJS.Timeout | undefined = undefined;
      const done = (): void => {
        clearTimeout(timer);
        clearInterval(poller);
        opts.signal?.removeEventListener('abort', onAbort);
        const set = this.bySaga.get(sagaId);
        set?.delete(waiter);
        if (set?.size === 0) this.bySaga.delete(sagaId);
      };
      const waiter: Waiter = {
        until,
        resolve: (info) => {
          done();
          resolve(info);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      };
      const onAbort = (): void => waiter.reject(opts.signal?.reason ?? new SagaError(ErrorCode.Timeout, 'wait aborted'));
      const probe = (): void => {
        check().then(
          (info) => {
            if (until.has(info.status)) waiter.resolve(info);
          },
          // A store that is briefly away (a leader election, a reconnect) is read again at the
          // next poll; the wait's own timeout, its signal or the runtime's close still end it.
          (e: unknown) => {
            if (!(e instanceof SagaError && e.retryable)) waiter.reject(e);
          },
        );
      };
      let set = this.bySaga.get(sagaId);
      if (!set) this.bySaga.set(sagaId, (set = new Set()));
      set.add(waiter);
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener('abort', onAbort);
      if (opts.timeoutMs !== undefined) {
        timer = setTimeout(
          () => waiter.reject(new SagaError(ErrorCode.Timeout, `saga "${sagaId}" did not reach ${[...until].join('|')} within ${opts.timeoutMs} ms`, { status: 504, retryable: true })),
          opts.timeoutMs,
        );
      }
      // Transitions of a saga driven here arrive through notify(); one driven elsewhere (or
      // whose copy here was just fenced) is re-read from the stores.
      poller = setInterval(() => opts.local() || probe(), opts.pollMs);
      probe();
    });
  }

  notify(info: SagaInfo): void {
    const set = this.bySaga.get(info.id);
    if (!set) return;
    for (const w of [...set]) if (w.until.has(info.status)) w.resolve(info);
  }

  rejectAll(e: unknown): void {
    for (const set of [...this.bySaga.values()]) for (const w of [...set]) w.reject(e);
  }
}
