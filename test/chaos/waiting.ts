/** Small waiting helpers of the chaos harness (it waits on real time, never asserts on it). */

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** What `withTimeout` rejects with: no answer at all, as opposed to an error answered. */
export class TimedOut extends Error {
  override name = 'TimedOut';
  readonly code = 'REQUEST_TIMEOUT';
}

/** Rejects with `TimedOut` if `p` has not settled within `ms` (`p` runs on). */
export function withTimeout<T>(p: Promise<T>, ms: number, what = 'request'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimedOut(`${what} not answered within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Runs `fn` over `items`, at most `limit` at a time. */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
