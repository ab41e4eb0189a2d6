/**
 * Waiting primitives for retry loops that several signals may cut short (the caller's, the
 * owner's close, a reconnect). Plain listeners rather than `AbortSignal.any`, whose combined
 * signals stay registered on long-lived sources in Node 20.
 */

const MIN_MS = 25;
const MAX_MS = 1_000;

/** Capped exponential backoff with jitter: 25 ms doubling up to 1 s, each drawn from [½, 1]. */
export function backoffMs(attempt: number): number {
  const base = Math.min(MAX_MS, MIN_MS * 2 ** Math.min(attempt, 10));
  return base / 2 + Math.random() * (base / 2);
}

/** The first aborted signal, if any. */
export function firstAborted(signals: readonly (AbortSignal | undefined)[]): AbortSignal | undefined {
  for (const s of signals) if (s?.aborted) return s;
  return undefined;
}

/** Resolves after `ms`, or rejects with the reason of the first signal that aborts. */
export function sleep(ms: number, signals: readonly (AbortSignal | undefined)[]): Promise<void> {
  return abortable(new Promise<void>((resolve) => setTimeout(resolve, ms).unref()), signals);
}

/**
 * Settles as `p` does, or rejects with the reason of the first signal that aborts; `p` then
 * runs on unobserved.
 */
export function abortable<T>(p: Promise<T>, signals: readonly (AbortSignal | undefined)[]): Promise<T> {
  const already = firstAborted(signals);
  if (already) {
    p.catch(() => undefined);
    return Promise.reject(already.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const listeners: [AbortSignal, () => void][] = [];
    const detach = (): void => {
      for (const [s, fn] of listeners) s.removeEventListener('abort', fn);
    };
    for (const s of signals) {
      if (!s) continue;
      const fn = (): void => {
        detach();
        p.catch(() => undefined);
        reject(s.reason);
      };
      listeners.push([s, fn]);
      s.addEventListener('abort', fn, { once: true });
    }
    p.then(
      (v) => {
        detach();
        resolve(v);
      },
      (e: unknown) => {
        detach();
        reject(e);
      },
    );
  });
}
