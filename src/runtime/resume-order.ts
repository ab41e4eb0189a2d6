/**
 * How a bulk recovery hands its sagas back to work: oldest first, and a batch at a time with
 * the event loop free in between. Oldest first, because a saga that has waited longest should
 * not wait behind thousands started after it; in batches, because making ten thousand sagas
 * act in one go would leave the coordinator deaf to requests (and to the acks of the appends
 * those sagas make) for as long as it takes.
 */
import type { IndexRecord } from '../journal/index-store.js';

/** Sagas made to act between two yields to the event loop. */
export const RESUME_BATCH = 256;

/** Oldest first: by creation time, then by id so that equal times keep one stable order. */
export function oldestFirst(a: Pick<IndexRecord, 'createdAt' | 'sagaId'>, b: Pick<IndexRecord, 'createdAt' | 'sagaId'>): number {
  return a.createdAt - b.createdAt || (a.sagaId < b.sagaId ? -1 : a.sagaId > b.sagaId ? 1 : 0);
}

/** Lets timers, I/O and requests waiting behind a long loop run. */
export function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Runs `each` over `items` in order, yielding to the event loop after every `batch` of them. */
export async function inBatches<T>(items: readonly T[], batch: number, each: (item: T) => void): Promise<void> {
  for (let i = 0; i < items.length; i++) {
    each(items[i]!);
    if ((i + 1) % batch === 0 && i + 1 < items.length) await yieldToLoop();
  }
}
