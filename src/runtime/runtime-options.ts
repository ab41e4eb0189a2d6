/** Options of the saga runtime (see `createRuntime` for the connection options on top). */
import type { Logger } from '../log.js';
import type { ReadinessSource } from './readiness-gate.js';
import type { RuntimeStores } from './stores.js';
import type { SagaBinding } from './types.js';

export interface RuntimeCoreOptions {
  readonly machines: readonly SagaBinding[];
  readonly stores: RuntimeStores;
  /** This coordinator's stable name (a restart under the same name resumes its sagas at once). */
  readonly owner?: string;
  readonly logger?: Logger;
  readonly now?: () => number;
  /** Store a checkpoint every N entries (0 = never). Default 50. */
  readonly checkpointEvery?: number;
  /**
   * Also checkpoint a saga once it has journaled nothing for this long (it waits on a step, a
   * timer or a readiness event), so that a recovery restores it instead of folding its journal
   * (0 = never). Default 250 ms (idle-checkpoints.ts).
   */
  readonly checkpointIdleMs?: number;
  /** How long the coordinator's lease lasts without renewal. Default 10 s. */
  readonly leaseTtlMs?: number;
  /** Run a recovery pass in the background once started (periodic passes run regardless). Default true. */
  readonly recoverOnStart?: boolean;
  /**
   * No recovery at all, not even periodic, until `beginRecovery()` is called: a coordinator
   * begins recovery only after its boot graph admits work.
   */
  readonly deferRecovery?: boolean;
  /** Period of background recovery passes (0 = none). Default 15 s. */
  readonly recoverIntervalMs?: number;
  /**
   * A recovery pass that has not ended after this long is abandoned and run again (it must
   * never freeze recovery). Default 60 s.
   */
  readonly recoveryPassTimeoutMs?: number;
  /** Sagas folded at once during recovery. Default 16. */
  readonly recoveryConcurrency?: number;
  /**
   * How long a bulk recovery makes sagas act before it lets requests in (ms). Default 50;
   * 0 yields after every saga.
   */
  readonly resumeSliceMs?: number;
  /** Called once the runtime has closed itself (e.g. its name was taken by another process). */
  readonly onFatal?: (error: Error) => void;
  /**
   * Readiness of boot dependencies, for sagas that wait for one (`needs` in defineSaga).
   * Without it every dependency counts as ready.
   */
  readonly readiness?: ReadinessSource;
  /** Called when a saga is resumed here from its journal (recovery, takeover): for metrics. */
  readonly onResumed?: (sagaId: string, machine: string) => void;
}
