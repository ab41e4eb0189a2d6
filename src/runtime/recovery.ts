/**
 * One recovery pass: page through the open sagas in the index and acquire each one this
 * coordinator may drive — its machine is registered here, it is not already loaded, and its
 * owner is this coordinator or one whose lease has lapsed. Acquiring re-checks the journal,
 * so a stale index record never resumes a saga twice or a finished one at all.
 */
import { performance } from 'node:perf_hooks';
import type { IndexEntry, IndexStore } from '../journal/index-store.js';
import type { Logger } from '../log.js';
import { forEachLimit } from '../util/for-each-limit.js';
import { parseMachineRef } from './machine-ref.js';
import type { Checkpoint } from './checkpoint.js';
import type { AcquireOutcome } from './saga-loader.js';
import type { RecoveryReport } from './types.js';

export interface RecoveryDeps {
  readonly index: IndexStore;
  readonly logger: Logger;
  readonly concurrency: number;
  readonly pageSize: number;
  /** From this many sagas to recover on, fold them with one journal scan. */
  readonly bulkMin: number;
  readonly signal: AbortSignal;
  isLoaded(sagaId: string): boolean;
  hasMachine(machineId: string): boolean;
  acquire(entry: IndexEntry, alive: Map<string, Promise<boolean>>): Promise<AcquireOutcome>;
  acquireMany(
    entries: readonly IndexEntry[],
    alive: Map<string, Promise<boolean>>,
    checkpoints?: Promise<ReadonlyMap<string, Checkpoint>>,
  ): Promise<Map<string, AcquireOutcome | Error>>;
  /**
   * Reads every checkpoint while the sagas are listed (a restart's pass, which usually finds
   * thousands to recover: the two reads then overlap). Absent: read for the sagas found.
   */
  prefetchCheckpoints?(): Promise<ReadonlyMap<string, Checkpoint>>;
}

export async function runRecovery(deps: RecoveryDeps): Promise<RecoveryReport> {
  const report = {
    listed: 0,
    recovered: 0,
    repaired: 0,
    skippedLoaded: 0,
    skippedForeignMachine: 0,
    skippedLiveOwner: 0,
    lostRace: 0,
    abandoned: 0,
    failed: 0,
  };
  const count = (id: string, outcome: AcquireOutcome | Error): void => {
    if (outcome instanceof Error) {
      report.failed++;
      deps.logger.error({ sagaId: id, err: outcome.message }, 'could not recover saga');
      return;
    }
    switch (outcome) {
      case 'loaded':
        report.recovered++;
        break;
      case 'repaired':
      case 'empty':
        report.repaired++;
        break;
      case 'liveOwner':
        report.skippedLiveOwner++;
        break;
      case 'lostRace':
        report.lostRace++;
        break;
      case 'alreadyLoaded':
        report.skippedLoaded++;
        break;
      case 'abandoned':
        report.abandoned++;
        break;
      default:
        break;
    }
  };
  // The whole candidate list first: many sagas are then folded with one journal scan.
  const todo: IndexEntry[] = [];
  const t0 = performance.now();
  const prefetched = deps.prefetchCheckpoints?.();
  prefetched?.catch(() => undefined);
  let after: string | undefined;
  do {
    if (deps.signal.aborted) return report;
    const page = await deps.index.listOpen({ after, limit: deps.pageSize });
    report.listed += page.entries.length;
    for (const entry of page.entries) {
      if (!deps.hasMachine(parseMachineRef(entry.record.machine).id)) report.skippedForeignMachine++;
      else if (deps.isLoaded(entry.record.sagaId)) report.skippedLoaded++;
      else todo.push(entry);
    }
    after = page.next;
  } while (after);
  deps.logger.debug({ listed: report.listed, candidates: todo.length, ms: Math.round(performance.now() - t0) }, 'open sagas listed for recovery');

  // One liveness look-up per owner per pass, however many of its sagas are listed.
  const alive = new Map<string, Promise<boolean>>();
  if (todo.length >= deps.bulkMin) {
    for (const [id, outcome] of await deps.acquireMany(todo, alive, prefetched)) count(id, outcome);
  } else {
    await forEachLimit(todo, deps.concurrency, async (entry) => {
      if (deps.signal.aborted) return;
      count(entry.record.sagaId, await deps.acquire(entry, alive).catch((e: unknown) => e as Error));
    });
  }
  return report;
}
