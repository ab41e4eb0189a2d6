/** Paging and argument checks shared by the `IndexStore` implementations, so both behave alike. */
import { InvalidArgumentError } from '../errors.js';
import type { IndexRecord } from './index-store.js';
import { assertSagaId } from './saga-id.js';

export const DEFAULT_PAGE_LIMIT = 500;

/** Selects one page from ids sorted ascending: those after `after`, at most `limit`. */
export function pageOf(sortedIds: readonly string[], options: { after?: string; limit?: number }): { ids: string[]; next: string | undefined } {
  const limit = options.limit ?? DEFAULT_PAGE_LIMIT;
  if (!Number.isSafeInteger(limit) || limit <= 0) {
    throw new InvalidArgumentError(`invalid page limit ${limit}: must be a positive integer`, { limit });
  }
  const start = options.after === undefined ? 0 : firstAfter(sortedIds, options.after);
  const ids = sortedIds.slice(start, start + limit);
  const next = start + limit < sortedIds.length ? ids[ids.length - 1] : undefined;
  return { ids, next };
}

function firstAfter(sorted: readonly string[], after: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid] as string) <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function checkRecord(record: IndexRecord): void {
  checkSagaId(record.sagaId);
}

export function checkSagaId(sagaId: string): void {
  assertSagaId(sagaId);
}
