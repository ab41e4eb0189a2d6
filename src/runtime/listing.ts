/**
 * `runtime.list()`: sagas from the index, sorted by id and paged. Open and finished sagas are
 * listed from separate sets, so filtering by an open status stays fast however many sagas have
 * finished. A cursor is `<set>:<last id>`.
 */
import { isTerminalStatus, type IndexStore, type SagaStatus } from '../journal/index-store.js';
import { parseMachineRef } from './machine-ref.js';
import type { SagaSummary } from './types.js';

export interface ListOptions {
  readonly status?: SagaStatus | readonly SagaStatus[];
  readonly after?: string;
  readonly limit?: number;
}

/** `liveOf` gives the newest status of sagas driven here (the index may lag them). */
export async function listSagas(
  index: IndexStore,
  liveOf: (sagaId: string) => { status: SagaStatus; lastAt: number } | undefined,
  options: ListOptions,
): Promise<{ sagas: SagaSummary[]; next: string | undefined }> {
  const wanted = options.status === undefined ? undefined : new Set(Array.isArray(options.status) ? options.status : [options.status as SagaStatus]);
  const limit = Math.max(1, Math.min(options.limit ?? 100, 1000));
  const sets: Array<'o' | 'f'> = [];
  if (!wanted || [...wanted].some((s) => !isTerminalStatus(s))) sets.push('o');
  if (!wanted || [...wanted].some((s) => isTerminalStatus(s))) sets.push('f');
  const cursorSet = options.after?.slice(0, 1);
  let after = options.after?.slice(2);
  const sagas: SagaSummary[] = [];
  // A saga that finishes while this call reads the open set and then the finished one would
  // be in both: each is listed once (pages are not a snapshot, but one answer never repeats).
  const seen = new Set<string>();
  for (const set of sets) {
    if (cursorSet === 'f' && set === 'o') continue;
    if (cursorSet && cursorSet !== set) after = undefined;
    for (;;) {
      const page = set === 'o' ? await index.listOpen({ after, limit }) : await index.listFinished({ after, limit });
      // A crash in the middle of finishing a saga leaves both records (until recovery repairs
      // it): such a saga is listed once, as finished.
      const finished = set === 'o' ? await index.whichFinished(page.entries.map((e) => e.record.sagaId)) : undefined;
      for (const e of page.entries) {
        if (finished?.has(e.record.sagaId) || seen.has(e.record.sagaId)) continue;
        seen.add(e.record.sagaId);
        const live = liveOf(e.record.sagaId);
        const { id: machine, version } = parseMachineRef(e.record.machine);
        const s: SagaSummary = { id: e.record.sagaId, machine, version, status: live?.status ?? e.record.status, owner: e.record.owner, createdAt: e.record.createdAt, updatedAt: live?.lastAt ?? e.record.updatedAt };
        if (!wanted || wanted.has(s.status)) sagas.push(s);
        if (sagas.length === limit) return { sagas, next: `${set}:${s.id}` };
      }
      if (!page.next) break;
      after = page.next;
    }
    after = undefined;
  }
  return { sagas, next: undefined };
}
