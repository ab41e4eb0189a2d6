/**
 * `runtime.list()`: sagas from the index, sorted by id and paged; the cursor is the last id
 * shown. Open and finished sagas are kept in separate sets (so that filtering by an open status
 * stays fast however many sagas have finished); a listing of both merges them by id. Ordering
 * by id across both is what keeps a saga that finishes while someone pages through the list
 * from showing twice (once open, once finished) or not at all: whichever set it is in, it
 * comes at its place by id, once. Filters (status, machine) apply while paging, so a page holds
 * up to `limit` matching sagas and its `next` is the last one it shows.
 */
import { isTerminalStatus, type IndexEntry, type IndexPage, type IndexStore, type SagaStatus } from '../journal/index-store.js';
import { parseMachineRef } from './machine-ref.js';
import type { SagaSummary } from './types.js';

export interface ListOptions {
  readonly status?: SagaStatus | readonly SagaStatus[];
  /** Only sagas of this machine id (any version), e.g. `build`. */
  readonly machine?: string;
  /** The `next` of the previous page: the last id it showed. */
  readonly after?: string;
  readonly limit?: number;
}

type Live = (sagaId: string) => { status: SagaStatus; lastAt: number } | undefined;

/**
 * Index records read per round while filtering by machine: the machine is in each record, not
 * in its key, so sagas of other machines are read and skipped; reading more than `limit` at a
 * time keeps a rare machine among many others from costing one round trip per `limit` records.
 */
const MACHINE_FILTER_PAGE = 500;

/** `liveOf` gives the newest status of sagas driven here (the index may lag them). */
export async function listSagas(index: IndexStore, liveOf: Live, options: ListOptions): Promise<{ sagas: SagaSummary[]; next: string | undefined }> {
  const wanted = options.status === undefined ? undefined : new Set(Array.isArray(options.status) ? options.status : [options.status as SagaStatus]);
  const limit = Math.max(1, Math.min(options.limit ?? 100, 1000));
  const open = !wanted || [...wanted].some((s) => !isTerminalStatus(s));
  const finished = !wanted || [...wanted].some((s) => isTerminalStatus(s));
  const { machine } = options;
  // A page may read past the last saga it shows: `next` is that saga, so the next page reads the rest again.
  const readLimit = machine === undefined ? limit : Math.max(limit, MACHINE_FILTER_PAGE);
  const sagas: SagaSummary[] = [];
  let after = options.after;
  for (;;) {
    const { entries, last, more } = await mergedPage(index, { open, finished }, after, readLimit);
    for (const e of entries) {
      if (machine !== undefined && parseMachineRef(e.record.machine).id !== machine) continue;
      const s = summaryOf(e, liveOf);
      if (wanted && !wanted.has(s.status)) continue;
      sagas.push(s);
      if (sagas.length === limit) return { sagas, next: s.id };
    }
    if (!more || last === undefined) return { sagas, next: undefined };
    after = last;
  }
}

/**
 * The next records after `after`, by id, from the sets wanted: only ids up to where every
 * full page reaches (beyond it a page may be missing ids), one record per id — the finished
 * one where a crash mid-finish left both.
 */
async function mergedPage(
  index: IndexStore,
  sets: { open: boolean; finished: boolean },
  after: string | undefined,
  limit: number,
): Promise<{ entries: IndexEntry[]; last: string | undefined; more: boolean }> {
  const none: IndexPage = { entries: [], next: undefined };
  // Open first, then finished: a saga that finishes in between is gone from the one read
  // first and in the one read second — read together, it could be in neither.
  const o = sets.open ? await index.listOpen({ after, limit }) : none;
  const f = sets.finished ? await index.listFinished({ after, limit }) : none;
  // A page's `next` is the last id of its range (its records may be fewer: gone meanwhile).
  const bounds = [o.next, f.next].filter((b): b is string => b !== undefined);
  const upTo = bounds.length > 0 ? bounds.reduce((a, b) => (a < b ? a : b)) : undefined;
  const byId = new Map<string, IndexEntry>();
  for (const e of o.entries) byId.set(e.record.sagaId, e);
  for (const e of f.entries) byId.set(e.record.sagaId, e);
  // Listing open sagas only: one whose finish died half-way is not open (recovery repairs it).
  if (!sets.finished && o.entries.length > 0) for (const id of await index.whichFinished(o.entries.map((e) => e.record.sagaId))) byId.delete(id);
  const ids = [...byId.keys()].filter((id) => upTo === undefined || id <= upTo).sort();
  return { entries: ids.map((id) => byId.get(id)!), last: ids.at(-1) ?? upTo, more: upTo !== undefined };
}

function summaryOf(e: IndexEntry, liveOf: Live): SagaSummary {
  const live = liveOf(e.record.sagaId);
  const { id: machine, version } = parseMachineRef(e.record.machine);
  return {
    id: e.record.sagaId,
    machine,
    version,
    status: live?.status ?? e.record.status,
    owner: e.record.owner,
    createdAt: e.record.createdAt,
    updatedAt: live?.lastAt ?? e.record.updatedAt,
    ...(e.record.parent === undefined ? {} : { parentId: e.record.parent }),
  };
}
