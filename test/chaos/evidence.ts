/**
 * Everything the invariants look at, gathered once chaos is over and the sagas have settled:
 * per saga its live info on the final coordinator, its journal, its raw index record and how
 * often `list()` showed it; every run record, every effect in the sink, the chaos log, the
 * notable lines of every coordinator's log, and what the clients were told.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { NatsConnection } from '@nats-io/transport-node';
import type { IndexEntry } from '../../src/journal/index-store.js';
import type { JournalView, Runtime } from '../../src/runtime/runtime.js';
import type { RuntimeStores } from '../../src/runtime/stores.js';
import type { SagaInfo } from '../../src/runtime/types.js';
import type { ChaosEvent } from './chaos-log.js';
import { readEffects, type EffectValue } from './effects.js';
import type { SettleResult } from './final-coordinator.js';
import type { Listing } from './lister.js';
import { readRuns, type RunRecord } from './run-log.js';
import type { Attempt, CancelRecord } from './traffic.js';
import { forEachLimit, withTimeout } from './waiting.js';

export interface SagaEvidence {
  readonly id: string;
  /** Some start of it returned without error. */
  readonly acked: boolean;
  readonly attempts: readonly Attempt[];
  readonly info?: SagaInfo;
  readonly infoError?: string;
  readonly journal?: readonly JournalView[];
  readonly journalError?: string;
  /** Its record as the index store holds it (open or finished), null if none. */
  readonly index: IndexEntry | null | undefined;
  /** How many times `runtime.list()` (all pages, every status) showed it. */
  readonly listed: number;
}

/** A notable line of a coordinator's log (warnings, errors, takeovers, removals). */
export interface LogNote {
  readonly file: string;
  readonly owner: string;
  readonly pid: number;
  readonly t: number;
  readonly level: number;
  readonly msg: string;
  readonly sagaId?: string;
  readonly err?: string;
}

export interface Evidence {
  readonly sagas: ReadonlyMap<string, SagaEvidence>;
  readonly listing: { readonly ids: readonly string[]; readonly error?: string };
  readonly runs: readonly RunRecord[];
  readonly effects: ReadonlyMap<string, EffectValue[]>;
  readonly chaos: readonly ChaosEvent[];
  readonly notes: readonly LogNote[];
  readonly settle: SettleResult;
  /** Every start attempt of every id, acknowledged or not. */
  readonly starts: ReadonlyMap<string, readonly Attempt[]>;
  readonly cancels: readonly CancelRecord[];
  /** Listings made while the chaos ran (lister.ts). */
  readonly listings: readonly Listing[];
}

/** Info-level messages worth keeping besides every warning and error. */
const NOTABLE_INFO = [
  'took over saga from a coordinator whose lease lapsed',
  'voided a start that never journaled its init entry, and removed its index record',
];

export interface GatherInput {
  readonly runtime: Runtime;
  readonly stores: RuntimeStores;
  readonly nc: NatsConnection;
  readonly namespace: string;
  /** The sagas to check: acknowledged ones and any the stores know. */
  readonly ids: ReadonlySet<string>;
  readonly starts: ReadonlyMap<string, Attempt[]>;
  readonly runFiles: readonly string[];
  readonly logFiles: ReadonlyArray<{ file: string; owner: string }>;
  readonly chaos: readonly ChaosEvent[];
  readonly settle: SettleResult;
  readonly cancels: readonly CancelRecord[];
  readonly listings: readonly Listing[];
}

export async function gatherEvidence(g: GatherInput): Promise<Evidence> {
  const listing = await listAll(g.runtime);
  const counts = new Map<string, number>();
  for (const id of listing.ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  const ids = new Set([...g.ids, ...listing.ids]);
  const sagas = new Map<string, SagaEvidence>();
  await forEachLimit([...ids].sort(), 16, async (id) => {
    const attempts = g.starts.get(id) ?? [];
    const [info, journal, index] = await Promise.allSettled([
      withTimeout(g.runtime.get(id), 10_000, `get(${id})`),
      withTimeout(g.runtime.events(id), 10_000, `events(${id})`),
      withTimeout(g.stores.index.get(id), 10_000, `index.get(${id})`),
    ]);
    sagas.set(id, {
      id,
      acked: attempts.some((a) => a.outcome === 'ok'),
      attempts,
      ...(info.status === 'fulfilled' ? { info: info.value } : { infoError: describe(info.reason) }),
      ...(journal.status === 'fulfilled' ? { journal: journal.value } : { journalError: describe(journal.reason) }),
      index: index.status === 'fulfilled' ? index.value : undefined,
      listed: counts.get(id) ?? 0,
    });
  });
  return {
    sagas,
    listing,
    runs: g.runFiles.flatMap((f) => readRuns(f)),
    effects: await readEffects(g.nc, g.namespace),
    chaos: g.chaos,
    notes: g.logFiles.flatMap(({ file, owner }) => readNotes(file, owner)),
    settle: g.settle,
    starts: g.starts,
    cancels: g.cancels,
    listings: g.listings,
  };
}

/** Every page of `list()` over every status; a listing that hangs is reported, not waited out. */
async function listAll(runtime: Runtime): Promise<{ ids: string[]; error?: string }> {
  const ids: string[] = [];
  try {
    await withTimeout(
      (async () => {
        let after: string | undefined;
        do {
          const page = await runtime.list({ after, limit: 100 });
          ids.push(...page.sagas.map((s) => s.id));
          after = page.next;
        } while (after);
      })(),
      30_000,
      'runtime.list() over all pages',
    );
    return { ids };
  } catch (e) {
    return { ids, error: describe(e) };
  }
}

function readNotes(file: string, owner: string): LogNote[] {
  if (!existsSync(file)) return [];
  const out: LogNote[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '') continue;
    let r: { level?: number; msg?: string; time?: number; pid?: number; sagaId?: string; err?: unknown };
    try {
      r = JSON.parse(line) as typeof r;
    } catch {
      continue;
    }
    const level = r.level ?? 0;
    const msg = r.msg ?? '';
    if (level < 40 && !NOTABLE_INFO.includes(msg)) continue;
    const err = typeof r.err === 'string' ? r.err : (r.err as { message?: string } | undefined)?.message;
    out.push({ file, owner, pid: r.pid ?? 0, t: r.time ?? 0, level, msg, ...(r.sagaId ? { sagaId: r.sagaId } : {}), ...(err ? { err } : {}) });
  }
  return out;
}

function describe(e: unknown): string {
  const err = e as { code?: string; message?: string };
  return err.code ? `${err.code}: ${err.message}` : String(err.message ?? e);
}
