/**
 * A recovery pass as the runtime runs it: only while this process holds its coordinator name
 * (after a stall it may have been replaced, and must then claim nothing), ended by the
 * runtime's close or by the schedule abandoning it, followed by a sweep of child sagas whose
 * parents ended. A pass that recovered everything it found lets the low-water mark drop what
 * it kept for a previous life and for sagas handed back. runRecovery (recovery.ts) does the
 * claiming itself.
 */
import { ErrorCode, SagaError } from '../errors.js';
import type { IndexStore } from '../journal/index-store.js';
import type { Logger } from '../log.js';
import { linkedSignal } from '../util/linked-signal.js';
import type { Checkpoint } from './checkpoint.js';
import type { CoordinatorLease } from './coordinator-lease.js';
import type { LowWater } from './low-water.js';
import { runRecovery } from './recovery.js';
import type { SagaLoader } from './saga-loader.js';
import type { RecoveryReport } from './types.js';

export interface RecoveryPassHost {
  readonly index: IndexStore;
  readonly owner: string;
  readonly logger: Logger;
  readonly closing: AbortSignal;
  readonly concurrency: number;
  readonly lease: Pick<CoordinatorLease, 'holds'>;
  readonly loader: Pick<SagaLoader, 'acquire' | 'acquireMany'>;
  readonly lowWater: Pick<LowWater, 'recovered'>;
  now(): number;
  isLoaded(sagaId: string): boolean;
  hasMachine(machineId: string): boolean;
  /** Releases children whose parents have ended (see child-sagas.ts). */
  sweepChildren(): void;
  /** Every checkpoint in the store (see `RecoveryDeps.prefetchCheckpoints`). */
  allCheckpoints(): Promise<ReadonlyMap<string, Checkpoint>>;
}

/** `prefetch`: read the checkpoints while listing (a restart's first pass). */
export async function recoveryPass(host: RecoveryPassHost, abandon: AbortSignal, prefetch = false): Promise<RecoveryReport> {
  const started = host.now();
  const { signal, dispose } = linkedSignal(host.closing, abandon);
  try {
    if (!(await host.lease.holds())) throw new SagaError(ErrorCode.NotOwner, `coordinator "${host.owner}" does not hold its lease; no recovery`, { status: 503, retryable: true });
    const report = await runRecovery({
      index: host.index,
      logger: host.logger,
      concurrency: host.concurrency,
      // One page of up to 10k records is read with a single consumer pass (~0.1 s); small
      // pages would be read record by record.
      pageSize: 10_000,
      bulkMin: 32,
      signal,
      isLoaded: (id) => host.isLoaded(id),
      hasMachine: (id) => host.hasMachine(id),
      acquire: (entry, alive) => host.loader.acquire(entry, alive),
      acquireMany: (entries, alive, checkpoints) => host.loader.acquireMany(entries, alive, checkpoints),
      ...(prefetch ? { prefetchCheckpoints: () => host.allCheckpoints() } : {}),
    });
    host.sweepChildren();
    if (report.failed === 0 && report.abandoned === 0) host.lowWater.recovered();
    if (report.recovered || report.repaired || report.failed || report.abandoned) {
      host.logger.info({ ...report, ms: host.now() - started }, 'recovery pass');
    }
    return report;
  } finally {
    dispose();
  }
}
