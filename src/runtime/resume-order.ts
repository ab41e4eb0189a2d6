/**
 * How a bulk recovery hands its sagas back to work: oldest first, in time slices with the
 * event loop free in between. Oldest first, because a saga that has waited longest should
 * not wait behind thousands started after it. In time slices rather than in batches of a
 * count: making a saga act costs microseconds (it starts its steps and arms its timers), but
 * every yield lets the sagas made to act before it run their transitions and appends, so a
 * yield every few hundred sagas stretched resuming ten thousand over seconds. A slice keeps
 * the coordinator answering requests (and the acks of those appends) within `sliceMs`, and
 * resumes every saga as soon as the CPU allows.
 */
import { performance } from 'node:perf_hooks';
import type { IndexRecord } from '../journal/index-store.js';

/** How long a bulk recovery makes sagas act before it lets the event loop in. */
export const RESUME_SLICE_MS = 500;

/** Oldest first: by creation time, then by id so that equal times keep one stable order. */
export function oldestFirst(a: Pick<IndexRecord, 'createdAt' | 'sagaId'>, b: Pick<IndexRecord, 'createdAt' | 'sagaId'>): number {
  return a.createdAt - b.createdAt || (a.sagaId < b.sagaId ? -1 : a.sagaId > b.sagaId ? 1 : 0);
}

/** Lets timers, I/O and requests waiting behind a long loop run. */
export function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Runs `each` over `items` in order, yielding to the event loop whenever `sliceMs` have passed
 * since the last yield (0: after every item).
 */
export async function inSlices<T>(items: readonly T[], sliceMs: number, each: (item: T) => void): Promise<void> {
  let since = performance.now();
  for (let i = 0; i < items.length; i++) {
    each(items[i]!);
    if (i + 1 < items.length && performance.now() - since >= sliceMs) {
      await yieldToLoop();
      since = performance.now();
    }
  }
}
